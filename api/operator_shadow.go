package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// The shadow of a candidate policy bundle, read through the operator API:
// which revision every node decides beside the active one, what they
// found, and each disagreement. Starting and stopping need a person whose
// roles are checked: the back office or `paywire policy shadow --as USER`.

// OperatorShadow is a shadow period.
type OperatorShadow struct {
	ID         int64      `json:"id"`
	Revision   int64      `json:"revision"`
	Running    bool       `json:"running"`
	StartedBy  string     `json:"startedBy"`
	StartedAt  time.Time  `json:"startedAt"`
	StoppedBy  string     `json:"stoppedBy,omitempty"`
	StoppedAt  *time.Time `json:"stoppedAt,omitempty"`
	StopReason string     `json:"stopReason,omitempty"`
}

// OperatorShadowCounts are a point's comparisons by result.
type OperatorShadowCounts = paywire.ShadowPointCounts

// OperatorDisagreement is a live decision the candidate decided otherwise.
type OperatorDisagreement struct {
	ID             int64     `json:"id"`
	Shadow         int64     `json:"shadow"`
	At             time.Time `json:"at"`
	Point          string    `json:"point"`
	MerchantID     string    `json:"merchantId"`
	PaymentID      string    `json:"paymentId,omitempty"`
	DecisionID     string    `json:"decisionId"`
	LiveRevision   string    `json:"liveRevision"`
	LiveOutcome    string    `json:"liveOutcome"`
	ShadowRevision string    `json:"shadowRevision"`
	ShadowOutcome  string    `json:"shadowOutcome"`
}

func (o *Operator) mountShadow(r chi.Router) {
	r.Get("/policy/shadow", o.json(o.withPolicies(o.shadowStatus)))
	r.Get("/policy/shadow/disagreements", o.json(o.withPolicies(o.shadowDisagreements)))
}

// ShadowOf is a shadow period as the operator API (and the CLI's --json)
// shows it; nil for none.
func ShadowOf(s *paywire.PolicyShadow) *OperatorShadow {
	if s == nil {
		return nil
	}
	return &OperatorShadow{ID: s.ID, Revision: s.Revision, Running: s.Running(), StartedBy: s.StartedBy, StartedAt: s.StartedAt.UTC(),
		StoppedBy: s.StoppedBy, StoppedAt: optionalTime(s.StoppedAt), StopReason: s.StopReason}
}

// int64Query reads a positive whole number from the query; 0 when absent.
func int64Query(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, paywire.Errorf(paywire.EINVALID, "%s is a positive whole number, not %q", name, s)
	}
	return n, nil
}

// shadowStatus answers the running (or latest, or asked-for) shadow
// period with its counts by point, and the periods before it.
func (o *Operator) shadowStatus(r *http.Request) (int, any, error) {
	id, err := int64Query(r, "shadow")
	if err != nil {
		return 0, nil, err
	}
	st, err := o.Policies.ShadowStatus(r.Context(), id, 0)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, operatorShadowStatus(st), nil
}

func operatorShadowStatus(st bundles.ShadowStatus) any {
	out := struct {
		Shadow  *OperatorShadow        `json:"shadow"`
		Active  int64                  `json:"active"`
		Counts  []OperatorShadowCounts `json:"counts"`
		Earlier []OperatorShadow       `json:"earlier"`
	}{Shadow: ShadowOf(st.Shadow), Active: st.Active, Counts: paywire.CountsByPoint(st.Counts, engine.Points), Earlier: []OperatorShadow{}}
	for i := range st.Earlier {
		out.Earlier = append(out.Earlier, *ShadowOf(&st.Earlier[i]))
	}
	return out
}

// shadowDisagreements answers a page of disagreements, newest first, and
// the cursor of the next page when there may be one.
func (o *Operator) shadowDisagreements(r *http.Request) (int, any, error) {
	f := paywire.ShadowFilter{Point: r.URL.Query().Get("point"), MerchantID: r.URL.Query().Get("merchantId"), Limit: 100}
	var err error
	if f.Shadow, err = int64Query(r, "shadow"); err != nil {
		return 0, nil, err
	}
	if f.Before, err = int64Query(r, "before"); err != nil {
		return 0, nil, err
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return 0, nil, paywire.Errorf(paywire.EINVALID, "limit is 1 to 500, not %q", s)
		}
		f.Limit = n
	}
	ds, err := o.Policies.Disagreements(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Disagreements []OperatorDisagreement `json:"disagreements"`
		Next          int64                  `json:"next,omitempty"`
	}{Disagreements: make([]OperatorDisagreement, 0, len(ds))}
	for _, d := range ds {
		out.Disagreements = append(out.Disagreements, DisagreementOf(d))
	}
	if len(ds) == f.Limit {
		out.Next = ds[len(ds)-1].ID
	}
	return http.StatusOK, out, nil
}

// DisagreementOf is a disagreement as the operator API (and the CLI's
// --json) shows it.
func DisagreementOf(d paywire.ShadowDisagreement) OperatorDisagreement {
	return OperatorDisagreement{ID: d.ID, Shadow: d.Shadow, At: d.At.UTC(), Point: d.Point,
		MerchantID: d.MerchantID, PaymentID: d.PaymentID, DecisionID: d.DecisionID, LiveRevision: d.LiveRevision,
		LiveOutcome: d.LiveOutcome, ShadowRevision: d.ShadowRevision, ShadowOutcome: d.ShadowOutcome}
}
