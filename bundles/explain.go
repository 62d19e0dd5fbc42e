package bundles

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// ExportFormat names the document Explain returns and its version. A
// change that drops or changes a field takes a new version; fields may be
// added within one.
const ExportFormat = "paywire.decisions/v1"

// ExportAction is the audit action of an export.
const ExportAction = "payment.decisions_export"

// Payments finds payments (store.DB).
type Payments interface {
	// Payment returns the merchant's payment, or ENOTFOUND (another
	// merchant's payment included).
	Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error)
}

// Explainer answers for a payment's decisions: every decision the engine
// recorded for it, under which bundle revision and hash, what it was asked
// (without card data), which rules fired and what it answered, as one
// document for an auditor. It reads; the only row it writes is the audit
// entry of an export.
type Explainer struct {
	Payments Payments
	// Decisions reads the decision records (paywire.DecisionStore).
	Decisions interface {
		Decisions(ctx context.Context, merchantID, paymentID string) ([]paywire.DecisionRecord, error)
	}
	// Bundles is the registry the decisions' revisions are looked up in
	// (paywire.BundleStore).
	Bundles interface {
		Bundles(ctx context.Context) ([]paywire.PolicyBundle, error)
	}
	// Audit records each export (paywire.AuditLog).
	Audit interface {
		Audit(ctx context.Context, e *paywire.AuditEntry) error
	}
	// Running returns the bundle this node runs; when it made a risk
	// decision (same hash) the export says which attributes each rule
	// read. Nil leaves that out.
	Running func() *engine.Bundle
}

// DecisionExport is the document of a payment's decisions
// (ExportFormat).
type DecisionExport struct {
	Format string `json:"format"`
	// ExportedAt, ExportedBy and AuditID are the export's audit entry;
	// empty from Explain, which audits nothing.
	ExportedAt *time.Time `json:"exportedAt,omitempty"`
	ExportedBy string     `json:"exportedBy,omitempty"`
	AuditID    int64      `json:"auditId,omitempty"`

	Payment   ExportPayment    `json:"payment"`
	Decisions []ExportDecision `json:"decisions"`
	// Redactions counts the values left out as card data (see
	// ExportDecision.Redacted); 0 when the records held none, as they
	// should.
	Redactions int `json:"redactions"`
}

// ExportPayment is the payment the decisions were made for.
type ExportPayment struct {
	ID         string `json:"id"`
	MerchantID string `json:"merchantId"`
	Reference  string `json:"reference"`
	Kind       string `json:"kind"`
	// Amount is in minor units of Currency; Decimal writes it with the
	// currency's exponent.
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Decimal   string    `json:"decimal"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ExportDecision is one recorded decision.
type ExportDecision struct {
	ID    string    `json:"id"`
	Point string    `json:"point"`
	At    time.Time `json:"at"`
	// DurationMicros is how long the decision took.
	DurationMicros int64        `json:"durationMicros"`
	Bundle         ExportBundle `json:"bundle"`
	// Outcome summarises the output (engine.Outcome): the methods, the
	// risk action, the providers in order, or the next state and actions.
	Outcome    string          `json:"outcome"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output"`
	RulesFired []ExportRule    `json:"rulesFired"`
	// Redacted lists the JSON pointers (from the decision: /input/...)
	// of values left out as card data.
	Redacted []string `json:"redacted,omitempty"`
}

// ExportBundle is the bundle a decision was made under, and what the
// registry knows of it.
type ExportBundle struct {
	Revision string `json:"revision"`
	Hash     string `json:"hash"`
	// InRegistry: the registry holds this revision with this hash.
	InRegistry bool `json:"inRegistry"`
	// RegistryState is the revision's state there now.
	RegistryState string `json:"registryState,omitempty"`
	// Note says why a revision is not in the registry.
	Note string `json:"note,omitempty"`
}

// ExportRule is one rule that fired: its effect as recorded and, for a
// risk rule, what it added to the score.
type ExportRule struct {
	ID     string          `json:"id"`
	Effect json.RawMessage `json:"effect"`
	Score  *int            `json:"score,omitempty"`
	Reason string          `json:"reason,omitempty"`
	// Reads are the optional attributes (features, and request
	// attributes a payment may lack) a risk rule read; null when the
	// bundle that decided is not the one this node runs, which alone
	// tells.
	Reads []string `json:"reads"`
}

// Explain returns the payment's decisions, oldest first, as an export
// document, for anyone who may read the payment. Returns ENOTFOUND for an
// unknown payment (another merchant's included).
func (x *Explainer) Explain(ctx context.Context, merchantID, paymentID string) (*DecisionExport, error) {
	const op = "bundles/Explainer.Explain"
	p, err := x.Payments.Payment(ctx, merchantID, paymentID)
	if err != nil {
		return nil, err
	}
	recs, err := x.Decisions.Decisions(ctx, merchantID, paymentID)
	if err != nil {
		return nil, err
	}
	registry, err := x.Bundles.Bundles(ctx)
	if err != nil {
		return nil, err
	}
	byRevision := make(map[string]*paywire.PolicyBundle, len(registry))
	for i := range registry {
		byRevision[strconv.FormatInt(registry[i].Revision, 10)] = &registry[i]
	}
	var running *engine.Bundle
	if x.Running != nil {
		running = x.Running()
	}

	ref, refRedacted := redactCardNumbers(p.MerchantReference)
	doc := &DecisionExport{Format: ExportFormat, Decisions: []ExportDecision{}, Payment: ExportPayment{
		ID: p.ID, MerchantID: p.MerchantID, Reference: ref, Kind: string(p.Kind),
		Amount: p.Amount.Amount, Currency: p.Amount.Currency.Code, Decimal: p.Amount.Decimal(), State: string(p.State),
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}}
	if refRedacted {
		doc.Redactions++
	}
	for _, rec := range recs {
		d, err := exportDecision(rec, byRevision, running)
		if err != nil {
			return nil, &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
		}
		doc.Redactions += len(d.Redacted)
		doc.Decisions = append(doc.Decisions, d)
	}
	return doc, nil
}

// Export is Explain for who takes the document out of Paywire: a person
// ("admin:alice") or a channel ("operator:api", "operator:cli"). The export
// is audited (ExportAction, the payment, how many decisions) before it is
// returned, and is not returned when the audit entry cannot be written.
// Callers check that who may read the payment.
func (x *Explainer) Export(ctx context.Context, who paywire.Actor, merchantID, paymentID string) (*DecisionExport, error) {
	doc, err := x.Explain(ctx, merchantID, paymentID)
	if err != nil {
		return nil, err
	}
	details, err := json.Marshal(map[string]any{"merchantId": merchantID, "format": ExportFormat,
		"decisions": len(doc.Decisions), "redactions": doc.Redactions})
	if err != nil {
		return nil, err
	}
	e := &paywire.AuditEntry{Actor: string(who), Action: ExportAction, Target: paymentID, Details: details}
	if err := x.Audit.Audit(ctx, e); err != nil {
		return nil, err
	}
	at := e.At.UTC()
	doc.ExportedAt, doc.ExportedBy, doc.AuditID = &at, string(who), e.ID
	return doc, nil
}

// FileName is the name an export is saved under:
// paywire-decisions-<payment id>.json, the id kept to the characters ids
// are made of, so that it is safe in a header and on any file system.
func (d *DecisionExport) FileName() string {
	id := d.Payment.ID
	safe := make([]byte, 0, len(id))
	for i := 0; i < len(id) && len(safe) < 64; i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			safe = append(safe, c)
		}
	}
	return "paywire-decisions-" + string(safe) + ".json"
}

func exportDecision(rec paywire.DecisionRecord, registry map[string]*paywire.PolicyBundle, running *engine.Bundle) (ExportDecision, error) {
	d := ExportDecision{ID: rec.ID, Point: rec.Point, At: rec.CreatedAt.UTC(), DurationMicros: rec.Duration.Microseconds(),
		Bundle: ExportBundle{Revision: rec.BundleRevision, Hash: rec.BundleHash}, RulesFired: []ExportRule{}}
	switch b := registry[rec.BundleRevision]; {
	case b == nil:
		d.Bundle.Note = "not a revision of the registry (the bundle built into the binary, or one loaded from a file)"
	case b.Hash != rec.BundleHash:
		d.Bundle.Note = fmt.Sprintf("the registry's revision %d has hash %s: this decision was made by another bundle under the same revision", b.Revision, b.Hash)
	default:
		d.Bundle.InRegistry, d.Bundle.RegistryState = true, string(b.State)
	}
	if o, err := engine.Outcome(rec.Point, rec.Output); err == nil {
		d.Outcome = o
	}

	var err error
	var redacted []string
	if d.Input, redacted, err = redactCardData(rec.Input, "/input"); err != nil {
		return d, fmt.Errorf("decision %s: input: %v", rec.ID, err)
	}
	d.Redacted = append(d.Redacted, redacted...)
	if d.Output, redacted, err = redactCardData(rec.Output, "/output"); err != nil {
		return d, fmt.Errorf("decision %s: output: %v", rec.ID, err)
	}
	d.Redacted = append(d.Redacted, redacted...)
	fired, redacted, err := redactCardData(rec.RulesFired, "/rulesFired")
	if err != nil {
		return d, fmt.Errorf("decision %s: rules fired: %v", rec.ID, err)
	}
	d.Redacted = append(d.Redacted, redacted...)

	var hits []engine.RuleHit
	if err := json.Unmarshal(fired, &hits); err != nil {
		return d, fmt.Errorf("decision %s: rules fired: %v", rec.ID, err)
	}
	for _, h := range hits {
		d.RulesFired = append(d.RulesFired, ExportRule{ID: h.ID, Effect: h.Effect})
	}
	if rec.Point == engine.PointRisk {
		// Each risk rule's contribution to the score, as the risk
		// breakdown reads it; a record it cannot read keeps the effects.
		rec.RulesFired = fired
		if x, err := engine.ExplainRisk(rec, running); err == nil && len(x.Rules) == len(d.RulesFired) {
			for i, c := range x.Rules {
				score := c.Score
				d.RulesFired[i].Score, d.RulesFired[i].Reason, d.RulesFired[i].Reads = &score, c.Reason, c.Reads
			}
		}
	}
	return d, nil
}
