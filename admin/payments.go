package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// PaymentReader is what the payments list and detail read (store.DB).
type PaymentReader interface {
	// SearchPayments returns a page of the payments matching f, newest
	// first, after the cursor, and the next page's cursor ("" on the last
	// page). Returns EINVALID for a filter, limit or cursor it refuses.
	SearchPayments(ctx context.Context, f paywire.PaymentFilter, after paywire.PageCursor, limit int) ([]*paywire.Payment, paywire.PageCursor, error)
	// Payment returns the merchant's payment, or ENOTFOUND (another
	// merchant's payment included).
	Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error)
	// Events returns the payment's history in sequence order.
	Events(ctx context.Context, merchantID, paymentID string) ([]paywire.Event, error)
	// Attempts returns the payment's provider attempts in order.
	Attempts(ctx context.Context, merchantID, paymentID string) ([]paywire.Attempt, error)
	// Decisions returns the payment's decision records, oldest first.
	Decisions(ctx context.Context, merchantID, paymentID string) ([]paywire.DecisionRecord, error)
	// FollowUps returns the payment's follow-ups, oldest first.
	FollowUps(ctx context.Context, merchantID, paymentID string) ([]paywire.FollowUp, error)
	// OutboxOf returns the payment's notifications to the merchant,
	// oldest first.
	OutboxOf(ctx context.Context, merchantID, paymentID string) ([]paywire.OutboxMessage, error)
	// Approvals returns who approved the payment held for review, in
	// order.
	Approvals(ctx context.Context, merchantID, paymentID string) ([]paywire.Approval, error)
}

// PaymentPages are the dependencies of the payments list and a payment's
// detail; the area is mounted when Payments is set. Every role may read
// both.
type PaymentPages struct {
	// Payments reads payments for the list and the detail; the pages are
	// not mounted without it.
	Payments PaymentReader
	// ActiveBundle returns the active policy bundle, which tells what
	// each risk rule of a decision it made read; nil leaves that out.
	ActiveBundle func() *engine.Bundle
	// Explainer exports a payment's decisions (decisions.go); nil leaves
	// the export out.
	Explainer *bundles.Explainer
}

// paymentsPageSize is the list's default page; ?limit= asks for another,
// up to paywire.MaxSearchPage.
const paymentsPageSize = 50

// mountPayments adds the area's routes and navigation entries.
func (a *App) mountPayments(r chi.Router) {
	if a.PaymentPages.Payments == nil {
		return
	}
	a.section("/admin/payments", "Payments", anyRole...)
	r.Get("/payments", a.allow(a.paymentList, anyRole...))
	r.Get("/payments/{merchant}/{id}", a.allow(a.paymentDetail, anyRole...))
	a.mountDecisions(r)
}

// paymentFilterForm is the list's filter as the form holds it, kept as
// typed so that a refused filter comes back for correction.
type paymentFilterForm struct {
	Merchant, State, Method, Provider, From, To, Currency, Min, Max, Search string
	Limit                                                                   string
}

type paymentsView struct {
	// CanCreate offers the new payment page.
	CanCreate bool
	Form      paymentFilterForm
	States    []paywire.State
	Methods   []paywire.Method
	Rows      []paymentListRow
	Searched  bool // the filter was accepted and the search ran
	// Next is the next page's address, "" on the last page; First is the
	// first page's, "" on the first page.
	Next, First string
}

// paymentListRow is one payment of the list.
type paymentListRow struct {
	Href, ID, MerchantID, Reference, Kind, Amount, State, Method, Provider, Card, Email string
	// MerchantHref lists the merchant's payments.
	MerchantHref string
	RiskScore    string
	CreatedAt    time.Time
}

func (a *App) paymentList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := paymentsView{States: paywire.States, Methods: paywire.Methods, Form: paymentFilterForm{
		Merchant: strings.TrimSpace(q.Get("merchant")), State: q.Get("state"), Method: q.Get("method"),
		Provider: strings.TrimSpace(q.Get("provider")), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))), Min: strings.TrimSpace(q.Get("min")), Max: strings.TrimSpace(q.Get("max")),
		Search: strings.TrimSpace(q.Get("q")), Limit: strings.TrimSpace(q.Get("limit")),
	}}
	v.CanCreate = a.ActionPages.Manual != nil && currentOf(r.Context()).user.Has(actionRoles...)
	refuse := func(err error) {
		a.render(w, r, http.StatusBadRequest, "payments", page{Title: "Payments", Data: v, Problem: paywire.ErrorMessage(err)})
	}
	f, limit, err := v.Form.filter()
	if err != nil {
		refuse(err)
		return
	}
	after := paywire.PageCursor(q.Get("after"))
	ps, next, err := a.PaymentPages.Payments.SearchPayments(r.Context(), f, after, limit)
	if err != nil {
		if paywire.ErrorCode(err) == paywire.EINVALID {
			refuse(err)
			return
		}
		a.problem(w, r, err)
		return
	}
	v.Searched = true
	for _, p := range ps {
		v.Rows = append(v.Rows, paymentListRowOf(p))
	}
	if after != "" {
		v.First = "/admin/payments"
		if base := v.Form.query(); len(base) > 0 {
			v.First += "?" + base.Encode()
		}
	}
	if next != "" {
		nq := v.Form.query()
		nq.Set("after", string(next))
		v.Next = "/admin/payments?" + nq.Encode()
	}
	a.render(w, r, http.StatusOK, "payments", page{Title: "Payments", Data: v})
}

// filter turns the form into a search filter and page size. Returns
// EINVALID with a message for the person who filled it in.
func (f paymentFilterForm) filter() (paywire.PaymentFilter, int, error) {
	out := paywire.PaymentFilter{MerchantID: f.Merchant, Method: paywire.Method(f.Method), Provider: f.Provider, Currency: f.Currency, Search: f.Search}
	for _, s := range []struct{ name, v string }{{"merchant", f.Merchant}, {"provider", f.Provider}, {"search", f.Search}} {
		if !paywire.ValidText(s.v) {
			return out, 0, paywire.Errorf(paywire.EINVALID, "the %s holds characters that are not allowed", s.name)
		}
	}
	if f.State != "" {
		out.States = []paywire.State{paywire.State(f.State)}
	}
	var err error
	if out.CreatedFrom, err = paymentDay("from", f.From); err != nil {
		return out, 0, err
	}
	to, err := paymentDay("to", f.To)
	if err != nil {
		return out, 0, err
	}
	if !to.IsZero() {
		// The form's "to" day is included.
		out.CreatedTo = to.AddDate(0, 0, 1)
	}
	for _, b := range []struct {
		name, v string
		dst     *int64
	}{{"minimum amount", f.Min, &out.AmountMin}, {"maximum amount", f.Max, &out.AmountMax}} {
		if b.v == "" {
			continue
		}
		if f.Currency == "" {
			return out, 0, paywire.Errorf(paywire.EINVALID, "an amount range needs a currency: amounts of different currencies do not compare")
		}
		m, err := paywire.ParseMoney(b.v, f.Currency)
		if err != nil {
			return out, 0, paywire.Errorf(paywire.EINVALID, "%s: %s", b.name, paywire.ErrorMessage(err))
		}
		*b.dst = m.Amount
	}
	limit := paymentsPageSize
	if f.Limit != "" {
		n, err := strconv.Atoi(f.Limit)
		if err != nil || n < 1 || n > paywire.MaxSearchPage {
			return out, 0, paywire.Errorf(paywire.EINVALID, "a page lists 1 to %d payments", paywire.MaxSearchPage)
		}
		limit = n
	}
	return out, limit, out.Validate()
}

// paymentDay parses a date input's day (UTC); zero when empty.
func paymentDay(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil || t.Year() < 2000 || t.Year() > 9998 {
		return time.Time{}, paywire.Errorf(paywire.EINVALID, "the %q date must be a day like 2026-12-06", name)
	}
	return t, nil
}

// query is the form as the list's address carries it, empty fields left
// out.
func (f paymentFilterForm) query() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{
		{"merchant", f.Merchant}, {"state", f.State}, {"method", f.Method}, {"provider", f.Provider},
		{"from", f.From}, {"to", f.To}, {"currency", f.Currency}, {"min", f.Min}, {"max", f.Max},
		{"q", f.Search}, {"limit", f.Limit},
	} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

func paymentListRowOf(p *paywire.Payment) paymentListRow {
	row := paymentListRow{
		Href: paymentHref(p), ID: p.ID, MerchantID: p.MerchantID, Reference: p.MerchantReference, Kind: string(p.Kind),
		Amount: p.Amount.String(), State: string(p.State), Method: string(p.Method), Provider: p.Provider,
		Card: paymentCard(p.Card), Email: p.EndUser.Email, CreatedAt: p.CreatedAt,
		MerchantHref: "/admin/payments?" + url.Values{"merchant": {p.MerchantID}}.Encode(),
	}
	if p.RiskAction != "" {
		row.RiskScore = strconv.Itoa(p.RiskScore)
	}
	return row
}

// paymentHref is the address of a payment's detail page.
func paymentHref(p *paywire.Payment) string {
	return "/admin/payments/" + url.PathEscape(p.MerchantID) + "/" + url.PathEscape(p.ID)
}

// paymentCard shows what is kept of a card: brand and last four digits.
func paymentCard(c paywire.CardSummary) string {
	if c.Last4 == "" {
		return ""
	}
	return strings.TrimSpace(c.Brand + " •••• " + c.Last4)
}

type paymentDetailView struct {
	Payment  *paywire.Payment
	Href     string
	Amount   string
	Captured string
	Refunded string
	Charged  string
	Card     string
	Expiry   string
	Events   []paymentEventView
	// Approvals are the people who approved the payment in review.
	Approvals []paywire.Approval
	Decisions []paymentDecisionView
	// Risk is the latest risk decision broken down; RiskProblem says why
	// it could not be, when it could not.
	Risk        *engine.RiskExplanation
	RiskProblem string
	Attempts    []paymentAttemptView
	Outbox      []paymentOutboxView
	FollowUps   []paywire.FollowUp
	// Due counts the follow-ups still to be done.
	Due int
	// ExportHref is the address of the decisions' export; "" without one.
	ExportHref string
}

type paymentEventView struct {
	paywire.Event
	Moved string // the money the event moved; "" when none
}

type paymentAttemptView struct {
	paywire.Attempt
	Amount string
}

type paymentOutboxView struct {
	paywire.OutboxMessage
	Event string // the event's type and new state, from the payload
}

// paymentDecisionView is one decision record as a person reads it.
type paymentDecisionView struct {
	paywire.DecisionRecord
	Summary      string
	ShortHash    string // the bundle hash's first 12 digits
	FailedClosed string // why the policy's answer was not used; "" when it was
	Rules        []paymentRuleHit
	Input        string // indented JSON
	Output       string
}

type paymentRuleHit struct {
	ID, Effect string
}

func (a *App) paymentDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	reader := a.PaymentPages.Payments
	merchantID, id := chi.URLParam(r, "merchant"), chi.URLParam(r, "id")
	p, err := reader.Payment(ctx, merchantID, id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := paymentDetailView{Payment: p, Href: paymentHref(p), Amount: p.Amount.String(), Card: paymentCard(p.Card)}
	if a.PaymentPages.Explainer != nil {
		v.ExportHref = decisionsHref(p)
	}
	money := func(minor int64) string { return paywire.Money{Amount: minor, Currency: p.Amount.Currency}.String() }
	v.Captured, v.Refunded, v.Charged = money(p.Captured), money(p.Refunded), money(p.ChargedBack)
	if p.Card.ExpiryMonth != 0 {
		v.Expiry = strconv.Itoa(p.Card.ExpiryMonth) + "/" + strconv.Itoa(p.Card.ExpiryYear)
		if p.Card.ExpiryMonth < 10 {
			v.Expiry = "0" + v.Expiry
		}
	}

	events, err := reader.Events(ctx, merchantID, id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	for _, e := range events {
		ev := paymentEventView{Event: e}
		if e.Amount != 0 {
			ev.Moved = money(e.Amount)
		}
		v.Events = append(v.Events, ev)
	}
	if v.Approvals, err = reader.Approvals(ctx, merchantID, id); err != nil {
		a.problem(w, r, err)
		return
	}
	attempts, err := reader.Attempts(ctx, merchantID, id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	for _, at := range attempts {
		v.Attempts = append(v.Attempts, paymentAttemptView{Attempt: at, Amount: money(at.Amount)})
	}
	recs, err := reader.Decisions(ctx, merchantID, id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	var risk *paywire.DecisionRecord
	for i := range recs {
		v.Decisions = append(v.Decisions, paymentDecisionOf(recs[i]))
		if recs[i].Point == engine.PointRisk {
			risk = &recs[i]
		}
	}
	if risk != nil {
		var b *engine.Bundle
		if a.PaymentPages.ActiveBundle != nil {
			b = a.PaymentPages.ActiveBundle()
		}
		if x, err := engine.ExplainRisk(*risk, b); err != nil {
			a.Logger.WarnContext(ctx, "risk decision not explained", "decision", risk.ID, "error", err)
			v.RiskProblem = "The risk decision " + risk.ID + " could not be broken down; its record is below."
		} else {
			v.Risk = &x
		}
	}
	msgs, err := reader.OutboxOf(ctx, merchantID, id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	for _, m := range msgs {
		var n paywire.NotificationPayload
		_ = json.Unmarshal(m.Payload, &n) // a payload that is not one shows no event
		ov := paymentOutboxView{OutboxMessage: m, Event: n.NewState}
		if n.PreviousState != "" {
			ov.Event = n.PreviousState + " → " + n.NewState
		}
		v.Outbox = append(v.Outbox, ov)
	}
	if v.FollowUps, err = reader.FollowUps(ctx, merchantID, id); err != nil {
		a.problem(w, r, err)
		return
	}
	for _, f := range v.FollowUps {
		if f.Status == paywire.FollowUpPending {
			v.Due++
		}
	}
	a.render(w, r, http.StatusOK, "payment", page{Title: "Payment " + p.ID, Data: v, Notice: ActionNotice(r)})
}

// paymentDecisionOf summarises a decision record: what the point answered, the
// rules that fired and, for reading in full, its input and output.
func paymentDecisionOf(rec paywire.DecisionRecord) paymentDecisionView {
	d := paymentDecisionView{DecisionRecord: rec, Input: decisionJSON(rec.Input), Output: decisionJSON(rec.Output), ShortHash: rec.BundleHash}
	if len(d.ShortHash) > 12 {
		d.ShortHash = d.ShortHash[:12]
	}
	var out struct {
		Score        *int     `json:"score"`
		Action       string   `json:"action"`
		Reasons      []string `json:"reasons"`
		Profile      string   `json:"profile"`
		Providers    []string `json:"providers"`
		Experiment   string   `json:"experiment"`
		Arm          string   `json:"arm"`
		Demoted      []string `json:"demoted"`
		NextState    string   `json:"next_state"`
		Actions      []string `json:"actions"`
		Reason       string   `json:"reason"`
		Methods      []struct{ Method string }
		FailedClosed bool   `json:"failed_closed"`
		Error        string `json:"error"`
	}
	if err := json.Unmarshal(rec.Output, &out); err != nil {
		d.Summary = "(the output is not an object)"
	}
	var parts []string
	add := func(label, value string) {
		if value != "" {
			parts = append(parts, label+" "+value)
		}
	}
	switch rec.Point {
	case engine.PointRisk:
		if out.Score != nil {
			add("score", strconv.Itoa(*out.Score))
		}
		add("action", out.Action)
		add("reasons", strings.Join(out.Reasons, ", "))
		add("profile", out.Profile)
	case engine.PointRouting:
		if len(out.Providers) == 0 {
			parts = append(parts, "no provider")
		}
		add("providers", strings.Join(out.Providers, ", "))
		add("experiment", out.Experiment)
		add("arm", out.Arm)
		add("demoted, tried last", strings.Join(out.Demoted, ", "))
	case engine.PointWorkflow:
		if out.NextState == "" {
			parts = append(parts, "no transition")
		}
		add("next state", out.NextState)
		add("actions", strings.Join(out.Actions, ", "))
		add("reason", out.Reason)
	case engine.PointAvailability:
		var ms []string
		for _, m := range out.Methods {
			ms = append(ms, m.Method)
		}
		if len(ms) == 0 {
			parts = append(parts, "no method")
		}
		add("methods", strings.Join(ms, ", "))
	}
	if d.Summary == "" {
		d.Summary = strings.Join(parts, "; ")
	}
	if out.FailedClosed {
		d.FailedClosed = "failed closed"
		if out.Error != "" {
			d.FailedClosed += ": " + out.Error
		}
	}
	var hits []engine.RuleHit
	_ = json.Unmarshal(rec.RulesFired, &hits) // stored records are lists of hits; anything else shows none
	for _, h := range hits {
		effect := new(bytes.Buffer)
		if err := json.Compact(effect, h.Effect); err != nil {
			effect.Reset()
		}
		d.Rules = append(d.Rules, paymentRuleHit{ID: h.ID, Effect: effect.String()})
	}
	return d
}

// decisionJSON returns raw indented for reading; raw as it is when it is not
// JSON.
func decisionJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
