package api

import (
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/engine"
)

// Operator serves the platform operator's JSON API under
// /api/v1/operator: creating merchants and managing their API credentials.
// It is authenticated apart from merchants, by a bearer token from
// configuration, and is off without one.
type Operator struct {
	Credentials *credential.Manager
	Merchants   paywire.MerchantStore
	// Reviews decides payments held for review; nil: review routes answer
	// 503.
	Reviews Reviewer
	// Decisions and ActiveBundle explain recorded risk decisions.
	Decisions    paywire.DecisionStore
	ActiveBundle func() *engine.Bundle
	// Lists keeps the block and allow lists; nil: the list routes answer 503.
	Lists paywire.ListStore
	// Policies reads the policy bundle registry; nil: its routes answer
	// 503.
	Policies *bundles.Service
	// Explainer exports a payment's decisions; nil: its route answers
	// 503.
	Explainer *bundles.Explainer
	// Token is the operator's bearer token; empty turns the API off.
	Token  string
	Logger *slog.Logger

	failures *credential.Failures
}

//go:embed operator-openapi.json
var operatorOpenAPI []byte

// Mount adds the operator API's routes to r, unless Token is empty. Its
// OpenAPI document needs no token.
func (o *Operator) Mount(r chi.Router) {
	if o.Token == "" {
		return
	}
	o.failures = credential.NewFailures(10, time.Minute)
	r.Route("/api/v1/operator", func(r chi.Router) {
		r.Get("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(operatorOpenAPI)
		})
		r.Group(func(r chi.Router) {
			r.Use(o.authenticate)
			r.Get("/merchants", o.json(o.listMerchants))
			r.Post("/merchants", o.json(o.createMerchant))
			r.Get("/merchants/{id}/credentials", o.json(o.listCredentials))
			r.Post("/merchants/{id}/credentials", o.json(o.issueCredential))
			r.Post("/merchants/{id}/credentials/{cred}/rotate", o.json(o.rotateCredential))
			r.Delete("/merchants/{id}/credentials/{cred}", o.json(o.revokeCredential))
			o.mountReviews(r)
			o.mountLists(r)
			o.mountPolicies(r)
			o.mountDecisions(r)
			o.mountBacktests(r)
			o.mountShadow(r) // operator_shadow.go
		})
	})
}

// authenticate compares the bearer token in constant time (of hashes, so
// that not even its length leaks) and limits failures per client address.
func (o *Operator) authenticate(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddress(r)
		if wait := o.failures.Blocked(addr); wait > 0 {
			err := tooMany(wait, "too many failed authentications from this address; retry in %s", seconds(wait))
			setRetryAfter(w, err)
			writeError(w, err)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !hmac.Equal(got[:], want[:]) || !ok {
			o.failures.Add(addr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="paywire operator"`)
			writeError(w, paywire.Errorf(paywire.EUNAUTHORIZED, "the operator token is missing or wrong"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

func (o *Operator) json(fn func(r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code, v, err := fn(r)
		if err != nil {
			switch paywire.ErrorCode(err) {
			case paywire.EINTERNAL, paywire.EUNAVAILABLE:
				o.logger().ErrorContext(r.Context(), "operator API request failed", "path", r.URL.Path, "error", err)
			}
			writeError(w, err)
			return
		}
		if v == nil {
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, v)
	}
}

func (o *Operator) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// The actor of audit entries the operator API writes.
const operatorActor = "operator:api"

// OperatorMerchant is a merchant as the operator API shows it.
type OperatorMerchant struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Disabled           bool     `json:"disabled"`
	ReturnURLPrefixes  []string `json:"returnUrlPrefixes"`
	NotificationURL    string   `json:"notificationUrl,omitempty"`
	NotificationFormat string   `json:"notificationFormat"`
	// RiskProfile names the active bundle's risk profile for the
	// merchant's payments; empty for the bundle's default.
	RiskProfile string `json:"riskProfile,omitempty"`
	// WithdrawalApprovals is how many people approve each withdrawal in
	// the back office before it is paid out: 0, 1 or 2.
	WithdrawalApprovals int `json:"withdrawalApprovals"`
}

// OperatorCredential is a credential as the operator API shows it: never
// its secret or hash.
type OperatorCredential struct {
	ID        string `json:"id"`
	Label     string `json:"label,omitempty"`
	CreatedAt string `json:"createdAt"`
	RevokedAt string `json:"revokedAt,omitempty"` // a future time while a rotation's overlap runs
}

// OperatorIssued is a new credential with its secret, shown once.
type OperatorIssued struct {
	Credential OperatorCredential `json:"credential"`
	Secret     string             `json:"secret"`
}

func toOperatorMerchant(m *paywire.Merchant) OperatorMerchant {
	p := m.ReturnURLPrefixes
	if p == nil {
		p = []string{}
	}
	return OperatorMerchant{ID: m.ID, Name: m.Name, Disabled: m.Disabled, ReturnURLPrefixes: p,
		NotificationURL: m.NotificationURL, NotificationFormat: m.NotificationFormat, RiskProfile: m.RiskProfile,
		WithdrawalApprovals: m.WithdrawalApprovals}
}

func toOperatorCredential(c paywire.MerchantCredential) OperatorCredential {
	out := OperatorCredential{ID: c.ID, Label: c.Label, CreatedAt: timeText(c.CreatedAt)}
	if !c.RevokedAt.IsZero() {
		out.RevokedAt = timeText(c.RevokedAt)
	}
	return out
}

func (o *Operator) listMerchants(r *http.Request) (int, any, error) {
	ms, err := o.Merchants.Merchants(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]OperatorMerchant, len(ms))
	for i, m := range ms {
		out[i] = toOperatorMerchant(m)
	}
	return http.StatusOK, map[string]any{"merchants": out}, nil
}

func (o *Operator) createMerchant(r *http.Request) (int, any, error) {
	var in OperatorMerchant
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	m := &paywire.Merchant{ID: in.ID, Name: in.Name, ReturnURLPrefixes: in.ReturnURLPrefixes,
		NotificationURL: in.NotificationURL, NotificationFormat: in.NotificationFormat, RiskProfile: in.RiskProfile,
		WithdrawalApprovals: in.WithdrawalApprovals}
	if err := o.checkRiskProfile(in.RiskProfile); err != nil {
		return 0, nil, err
	}
	issued, err := o.Credentials.CreateMerchant(r.Context(), operatorActor, m)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{
		"merchant": toOperatorMerchant(m), "signingSecret": m.SigningSecret,
		"credential": toOperatorCredential(issued.Credential), "secret": issued.Secret,
	}, nil
}

// checkRiskProfile refuses a risk profile the active bundle does not have:
// the merchant's risk decisions would fail closed.
func (o *Operator) checkRiskProfile(name string) error {
	if name == "" || o.ActiveBundle == nil || o.ActiveBundle() == nil {
		return nil
	}
	names, _ := o.ActiveBundle().RiskProfiles()
	if !slices.Contains(names, name) {
		return paywire.Errorf(paywire.EINVALID, "riskProfile: the active bundle has no risk profile %q (it has %s)", name, strings.Join(names, ", "))
	}
	return nil
}

func (o *Operator) listCredentials(r *http.Request) (int, any, error) {
	cs, err := o.Credentials.List(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]OperatorCredential, len(cs))
	for i, c := range cs {
		out[i] = toOperatorCredential(c)
	}
	return http.StatusOK, map[string]any{"credentials": out}, nil
}

func (o *Operator) issueCredential(r *http.Request) (int, any, error) {
	var in struct {
		Label string `json:"label"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	issued, err := o.Credentials.Issue(r.Context(), operatorActor, chi.URLParam(r, "id"), in.Label)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, OperatorIssued{toOperatorCredential(issued.Credential), issued.Secret}, nil
}

func (o *Operator) rotateCredential(r *http.Request) (int, any, error) {
	in := struct {
		Overlap string `json:"overlap"`
	}{Overlap: "24h"}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	overlap, err := time.ParseDuration(in.Overlap)
	if err != nil {
		return 0, nil, paywire.Errorf(paywire.EINVALID, "overlap is not a duration such as 24h")
	}
	issued, err := o.Credentials.Rotate(r.Context(), operatorActor, chi.URLParam(r, "id"), chi.URLParam(r, "cred"), overlap)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, OperatorIssued{toOperatorCredential(issued.Credential), issued.Secret}, nil
}

func (o *Operator) revokeCredential(r *http.Request) (int, any, error) {
	if err := o.Credentials.Revoke(r.Context(), operatorActor, chi.URLParam(r, "id"), chi.URLParam(r, "cred")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
