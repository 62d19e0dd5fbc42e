package bundles_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// testClock is the store's time, moved by the test so that decisions have
// an order of their own.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// riskInput is a card payment's risk input the default bundle scores 15
// (watched_bin).
func riskInput(p *paywire.Payment, at time.Time) engine.RiskInput {
	return engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: p.MerchantID, Kind: "deposit",
		Amount: engine.Money{Minor: 1000, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: at},
		Features: engine.Features{CardCount1h: engine.Known(1)}}
}

// The card numbers planted in a record, each Luhn-valid, and what must
// survive beside them.
const (
	plantedPAN     = "4111111111111111"
	plantedSpaced  = "5555 5555 5555 4444"
	plantedNumber  = 4012888888881881
	plantedCVV     = "737"
	notACardNumber = "4111111111111112" // 16 digits, fails Luhn
)

// TestExplain: the export lists a payment's decisions oldest first, each
// with its bundle revision and hash and whether the registry holds that
// revision (with that hash), its input, output, rules fired with their
// contribution to the risk score; another payment's decisions are not in
// it; a card number or CVV planted in a record is redacted wherever it is,
// and the export says where. Export audits who took it.
func TestExplain(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
		db.Now = clock.now
		s := setup(t, db)
		storetest.SeedMerchant(t, db, "shop")
		storetest.SeedMerchant(t, db, "other")
		p := storetest.SeedPayment(t, db, "shop", "order-1")
		elsewhere := storetest.SeedPayment(t, db, "other", "order-1")

		// First the built-in bundle decides, then revision 1 of the
		// registry, active.
		builtin := engine.New(1)
		if _, err := builtin.Activate(ctx, defaultFiles(t)); err != nil {
			t.Fatal(err)
		}
		builtin.Recorder = engine.StoreRecorder{Store: db}
		clock.add(time.Second)
		if _, err := builtin.Risk(ctx, riskInput(p, clock.now())); err != nil {
			t.Fatal(err)
		}
		if _, err := builtin.Risk(ctx, riskInput(elsewhere, clock.now())); err != nil {
			t.Fatal(err)
		}
		rev := through(t, s, "bob", true)
		_, files, err := s.Revision(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		registered := engine.New(1)
		b1, err := registered.Activate(ctx, files)
		if err != nil {
			t.Fatal(err)
		}
		registered.Recorder = engine.StoreRecorder{Store: db}
		clock.add(time.Second)
		if _, err := registered.Risk(ctx, riskInput(p, clock.now())); err != nil {
			t.Fatal(err)
		}
		// A record that breaks the rule: card data in its input, output
		// and rules, and a revision number the registry holds under
		// another hash.
		clock.add(time.Second)
		planted := &paywire.DecisionRecord{Point: engine.PointRouting, MerchantID: "shop", PaymentID: p.ID,
			BundleRevision: "1", BundleHash: strings.Repeat("ab", 32),
			Input: json.RawMessage(`{"request": {"note": "card ` + plantedPAN + ` exp 12/30", "typed": "` + plantedSpaced + `",` +
				` "number": 4012888888881881, "card": {"bin": "401288", "last4": "1881", "CVV": "` + plantedCVV + `"},` +
				` "order": "` + notACardNumber + `", "amount": 1000}}`),
			Output:     json.RawMessage(`{"providers": ["sandbox"], "debug": "pan=` + plantedPAN + `"}`),
			RulesFired: json.RawMessage(`[{"id": "prefer_sandbox", "effect": {"card_number": "` + plantedPAN + `"}}]`),
			Duration:   1500 * time.Microsecond}
		if err := db.SaveDecision(ctx, planted); err != nil {
			t.Fatal(err)
		}

		x := &bundles.Explainer{Payments: db, Decisions: db, Bundles: db, Audit: db, Running: registered.Active}
		doc, err := x.Explain(ctx, "shop", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Format != "paywire.decisions/v1" || doc.Payment.ID != p.ID || doc.Payment.MerchantID != "shop" || doc.Payment.Reference != "order-1" ||
			doc.Payment.Amount != 1000 || doc.Payment.Currency != "EUR" || doc.Payment.Decimal != "10.00" || doc.Payment.State != "created" {
			t.Errorf("the export's head: %+v", doc)
		}
		if doc.ExportedBy != "" || doc.AuditID != 0 {
			t.Errorf("Explain claims an export: %+v", doc)
		}
		if len(doc.Decisions) != 3 {
			t.Fatalf("%d decisions; want the payment's 3", len(doc.Decisions))
		}
		first, second, third := doc.Decisions[0], doc.Decisions[1], doc.Decisions[2]
		if !first.At.Before(second.At) || !second.At.Before(third.At) || third.ID != planted.ID {
			t.Errorf("not oldest first: %s %s %s", first.At, second.At, third.At)
		}
		if first.Bundle.Revision != "default-2026.11.25" || first.Bundle.Hash == "" || first.Bundle.InRegistry || first.Bundle.Note == "" {
			t.Errorf("the built-in bundle's decision: %+v", first.Bundle)
		}
		if second.Bundle.Revision != "1" || second.Bundle.Hash != b1.Hash || !second.Bundle.InRegistry || second.Bundle.RegistryState != "active" {
			t.Errorf("revision 1's decision: %+v", second.Bundle)
		}
		if third.Bundle.InRegistry || !strings.Contains(third.Bundle.Note, "another bundle under the same revision") {
			t.Errorf("a decision under revision 1's number but another hash: %+v", third.Bundle)
		}
		for i, d := range []bundles.ExportDecision{first, second} {
			if d.Point != "risk" || d.Outcome != "allow" || len(d.RulesFired) != 1 || d.RulesFired[0].ID != "watched_bin" ||
				d.RulesFired[0].Score == nil || *d.RulesFired[0].Score != 15 || d.RulesFired[0].Reason == "" {
				t.Errorf("risk decision %d: %+v", i, d)
			}
			var in engine.RiskInput
			if err := json.Unmarshal(d.Input, &in); err != nil || in.Request.PaymentID != p.ID || in.Request.Card.BIN != "401288" {
				t.Errorf("risk decision %d's input: %s, %v", i, d.Input, err)
			}
			if len(d.Redacted) != 0 {
				t.Errorf("risk decision %d: redacted %v from a clean record", i, d.Redacted)
			}
		}
		// The rule's reads only where the running bundle decided.
		if first.RulesFired[0].Reads != nil || second.RulesFired[0].Reads == nil {
			t.Errorf("reads: %v (built-in), %v (revision 1, running)", first.RulesFired[0].Reads, second.RulesFired[0].Reads)
		}
		if third.Outcome != "sandbox" || third.DurationMicros != 1500 || third.RulesFired[0].ID != "prefer_sandbox" {
			t.Errorf("the routing record: %+v", third)
		}

		// The planted card data, redacted wherever it was.
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{plantedPAN, plantedSpaced, "4012888888881881", `"737"`} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("the export holds %s: %s", leak, raw)
			}
		}
		wantRedacted := []string{"/input/request/note", "/input/request/typed", "/input/request/number", "/input/request/card/CVV",
			"/output/debug", "/rulesFired/0/effect/card_number"}
		for _, path := range wantRedacted {
			if !strings.Contains(strings.Join(third.Redacted, " ")+" ", path+" ") {
				t.Errorf("%s not listed as redacted: %v", path, third.Redacted)
			}
		}
		if len(third.Redacted) != len(wantRedacted) || doc.Redactions != len(wantRedacted) {
			t.Errorf("redacted %v (%d in all); want %d", third.Redacted, doc.Redactions, len(wantRedacted))
		}
		var in struct {
			Request struct {
				Note, Order string
				Card        struct{ BIN, Last4 string }
				Amount      int
			}
		}
		if err := json.Unmarshal(third.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.Request.Note != "card [redacted card number] exp 12/30" || in.Request.Order != notACardNumber ||
			in.Request.Card.BIN != "401288" || in.Request.Card.Last4 != "1881" || in.Request.Amount != 1000 {
			t.Errorf("what is not card data must stay: %s", third.Input)
		}
		stored, err := db.Decisions(ctx, "shop", p.ID)
		if err != nil || !strings.Contains(string(stored[2].Input), plantedPAN) {
			t.Errorf("the export changed the record: %v", err)
		}

		// Unknown payments, and another merchant's.
		for _, c := range [][2]string{{"shop", "pay_unknown"}, {"other", p.ID}, {"shop", elsewhere.ID}} {
			if _, err := x.Explain(ctx, c[0], c[1]); paywire.ErrorCode(err) != paywire.ENOTFOUND {
				t.Errorf("%s/%s: %v; want not found", c[0], c[1], err)
			}
		}

		// An export is audited, and the document names its audit entry.
		clock.add(time.Second)
		exported, err := x.Export(ctx, paywire.AdminActor("carl"), "shop", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := db.AuditEntries(ctx, 0, 1)
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit: %v %v", entries, err)
		}
		e := entries[0]
		var details map[string]any
		_ = json.Unmarshal(e.Details, &details)
		if e.Action != "payment.decisions_export" || e.Actor != "admin:carl" || e.Target != p.ID || details["merchantId"] != "shop" ||
			details["decisions"] != 3.0 || details["redactions"] != float64(len(wantRedacted)) {
			t.Errorf("audit entry: %+v %s", e, e.Details)
		}
		if exported.AuditID != e.ID || exported.ExportedBy != "admin:carl" || exported.ExportedAt == nil || !exported.ExportedAt.Equal(e.At) {
			t.Errorf("the export's audit: %d %s %v; entry %d at %s", exported.AuditID, exported.ExportedBy, exported.ExportedAt, e.ID, e.At)
		}
		if _, err := x.Export(ctx, paywire.OperatorActor("api"), "other", p.ID); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("another merchant's payment: %v", err)
		}
		if after, _ := db.AuditEntries(ctx, 0, 1); after[0].ID != e.ID {
			t.Errorf("a refused export was audited: %+v", after[0])
		}
	})
}
