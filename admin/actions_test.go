package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// acquirer approves every capture, void and refund, and remembers them.
type acquirer struct {
	mu    sync.Mutex
	calls []string
}

func (*acquirer) Name() string { return "acquirer-a" }

func (p *acquirer) record(op string, o adapters.Operation) (adapters.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, op+" "+o.Amount.String())
	return adapters.Result{Status: adapters.Approved, Reference: "ref-" + o.IdempotencyKey}, nil
}

func (p *acquirer) Capture(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("capture", o)
}

func (p *acquirer) Void(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("void", o)
}

func (p *acquirer) Refund(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	return p.record("refund", o)
}

func (p *acquirer) called() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.calls, ", ")
}

// actionEnv is the back office over the real payment core: payments,
// their outbox and the audit log in the core's database.
type actionEnv struct {
	*env
	core *paywiretest.Env
	prov *acquirer
}

func newActionEnv(t *testing.T) *actionEnv {
	t.Helper()
	prov := &acquirer{}
	core := paywiretest.New(t, paywiretest.Providers(prov))
	core.Merchant("shop-a", "")
	users := map[string][]string{"root": {"admin"}, "sam": {"support"}, "vera": {"viewer"}, "rita": {"risk_analyst"}, "cora": {"compliance"}}
	e := newEnv(t, users, func(a *admin.App, _ *store.DB) {
		a.Audit = core.DB
		a.ActionPages = admin.ActionPages{ActionService: core.Payments, ActionKeys: core.DB,
			ReviewAssignments: core.DB, ActionOutbox: core.DB, RiskDecisions: core.DB, Manual: core.Payments}
		a.Merchants = core.DB // the approvals a merchant's withdrawals need
		a.PaymentPages = admin.PaymentPages{Payments: core.DB}
	})
	return &actionEnv{env: e, core: core, prov: prov}
}

func (e *actionEnv) signedIn(name string) *browser {
	b := e.browser()
	if a := b.signIn(name, "pw-"+name); a.status != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d", name, a.status)
	}
	return b
}

func (e *actionEnv) payment(p *paywire.Payment) *paywire.Payment {
	e.t.Helper()
	got, err := e.core.DB.Payment(context.Background(), p.MerchantID, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// audit returns the newest n entries of the audit log.
func (e *actionEnv) audit(n int) []paywire.AuditEntry {
	e.t.Helper()
	es, err := e.core.DB.AuditEntries(context.Background(), 0, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

var keyField = regexp.MustCompile(`name="key" value="([0-9a-f]+)"`)

// confirmation opens an action's confirmation page and returns the form
// it carries, filled in as it comes.
func (b *browser) confirmation(p *paywire.Payment, action string) (answer, url.Values) {
	b.e.t.Helper()
	a := b.do("GET", actionPath(p, action), nil)
	if a.status != http.StatusOK {
		return a, nil
	}
	k := keyField.FindStringSubmatch(a.body)
	if k == nil {
		b.e.t.Fatalf("no key on the %s page: %s", action, a.body)
	}
	form := url.Values{"csrf": {csrfOf(b.e.t, a.body)}, "key": {k[1]}}
	if m := regexp.MustCompile(`name="amount" value="([^"]*)"`).FindStringSubmatch(a.body); m != nil {
		form.Set("amount", m[1])
	}
	if m := regexp.MustCompile(`name="message" value="(\d+)" checked`).FindStringSubmatch(a.body); m != nil {
		form.Set("message", m[1])
	}
	return a, form
}

func actionPath(p *paywire.Payment, action string) string {
	return "/admin/payments/" + p.MerchantID + "/" + p.ID + "/actions/" + action
}

func detailOf(p *paywire.Payment) string { return "/admin/payments/" + p.MerchantID + "/" + p.ID }

func details(t *testing.T, e paywire.AuditEntry) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(e.Details, &d); err != nil {
		t.Fatalf("details of %s: %v", e.Action, err)
	}
	return d
}

func TestCaptureAndRefund(t *testing.T) {
	e := newActionEnv(t)
	p := e.core.Authorized("shop-a", "order-1", "acquirer-a")
	sam := e.signedIn("sam")

	page, form := sam.confirmation(p, "capture")
	if page.status != 200 || form.Get("amount") != "10.00" || !strings.Contains(page.body, "releases the rest") {
		t.Fatalf("capture page: %d amount %q", page.status, form.Get("amount"))
	}
	// Without a reason nothing happens.
	form.Set("amount", "6.00")
	if a := sam.do("POST", actionPath(p, "capture"), form); a.status != http.StatusBadRequest || !strings.Contains(a.body, "Give a reason") {
		t.Fatalf("no reason: %d", a.status)
	}
	if got := e.payment(p); got.State != paywire.StateAuthorized || e.prov.called() != "" {
		t.Fatalf("a refused confirmation acted: %s, %s", got.State, e.prov.called())
	}
	// Above the authorization: refused by the use case, shown on the page.
	form.Set("reason", "merchant asked by phone, ticket 4711")
	form.Set("amount", "10.01")
	if a := sam.do("POST", actionPath(p, "capture"), form); a.status != http.StatusBadRequest || !strings.Contains(a.body, "exceeds") {
		t.Fatalf("above the authorization: %d", a.status)
	}

	// A partial capture; the same confirmation sent again acts once.
	form.Set("amount", "6.00")
	a := sam.do("POST", actionPath(p, "capture"), form)
	if a.status != http.StatusSeeOther || a.loc != detailOf(p)+"?done=capture" {
		t.Fatalf("capture: %d %s %s", a.status, a.loc, a.body)
	}
	if again := sam.do("POST", actionPath(p, "capture"), form); again.status != http.StatusSeeOther || again.loc != detailOf(p)+"?done=again" {
		t.Fatalf("the same confirmation again: %d %s", again.status, again.loc)
	}
	got := e.payment(p)
	if got.State != paywire.StateCompleted || got.Captured != 600 || e.prov.called() != "capture 6.00 EUR" {
		t.Fatalf("after a partial capture: %s captured %d, calls %s", got.State, got.Captured, e.prov.called())
	}
	es := e.audit(5)
	if es[0].Action != "payment.capture" || es[0].Actor != "admin:sam" || es[0].Target != p.ID || es[1].Action == "payment.capture" {
		t.Fatalf("audit: %+v", es[:2])
	}
	// The payment's history names who captured it.
	evs, err := e.core.DB.Events(t.Context(), p.MerchantID, p.ID)
	if err != nil || evs[len(evs)-1].Type != paywire.EventCaptureRequested || evs[len(evs)-1].Source != "admin:sam" {
		t.Errorf("the capture's event: %+v, %v", evs[len(evs)-1], err)
	}
	d := details(t, es[0])
	if d["amount"] != "6.00 EUR" || d["reason"] != "merchant asked by phone, ticket 4711" ||
		d["before"].(map[string]any)["state"] != "authorized" || d["after"].(map[string]any)["captured"] != "6.00 EUR" {
		t.Errorf("capture details: %v", d)
	}
	// The rest was released by the partial capture: it cannot be captured.
	if page, _ := sam.confirmation(p, "capture"); page.status != http.StatusConflict || strings.Contains(page.body, `id="confirm"`) {
		t.Errorf("capturing the rest: %d", page.status)
	}

	// A partial refund, then the rest.
	page, form = sam.confirmation(p, "refund")
	if page.status != 200 || form.Get("amount") != "6.00" {
		t.Fatalf("refund page: %d amount %q", page.status, form.Get("amount"))
	}
	form.Set("amount", "2.50")
	form.Set("reason", "one item returned")
	if a := sam.do("POST", actionPath(p, "refund"), form); a.status != http.StatusSeeOther {
		t.Fatalf("refund: %d %s", a.status, a.body)
	}
	if got := e.payment(p); got.State != paywire.StatePartiallyRefunded || got.Refunded != 250 {
		t.Fatalf("after a partial refund: %s refunded %d", got.State, got.Refunded)
	}
	if d := details(t, e.audit(1)[0]); d["amount"] != "2.50 EUR" || d["after"].(map[string]any)["state"] != "partially_refunded" {
		t.Errorf("refund details: %v", d)
	}
	_, form = sam.confirmation(p, "refund")
	if form.Get("amount") != "3.50" {
		t.Errorf("the refund left: %q", form.Get("amount"))
	}
	form.Set("reason", "the rest returned")
	if a := sam.do("POST", actionPath(p, "refund"), form); a.status != http.StatusSeeOther {
		t.Fatalf("second refund: %d %s", a.status, a.body)
	}
	if got := e.payment(p); got.State != paywire.StateRefunded || e.prov.called() != "capture 6.00 EUR, refund 2.50 EUR, refund 3.50 EUR" {
		t.Fatalf("after refunding everything: %s, calls %s", got.State, e.prov.called())
	}
}

func TestCancelResendAndRoles(t *testing.T) {
	e := newActionEnv(t)
	p := e.core.Authorized("shop-a", "order-2", "acquirer-a")

	// A viewer may neither open nor send a confirmation.
	vera := e.signedIn("vera")
	if a := vera.do("GET", actionPath(p, "cancel"), nil); a.status != http.StatusForbidden {
		t.Errorf("a viewer's confirmation page: %d", a.status)
	}
	home := vera.do("GET", "/admin/", nil)
	if a := vera.do("POST", actionPath(p, "cancel"), url.Values{"csrf": {csrfOf(t, home.body)}, "key": {strings.Repeat("ab", 16)}, "reason": {"x"}}); a.status != http.StatusForbidden {
		t.Errorf("a viewer's cancel: %d", a.status)
	}
	if got := e.payment(p); got.State != paywire.StateAuthorized || e.prov.called() != "" {
		t.Fatalf("a refused cancel acted: %s", got.State)
	}

	root := e.signedIn("root")
	if a := root.do("GET", actionPath(p, "explode"), nil); a.status != http.StatusNotFound {
		t.Errorf("an unknown action: %d", a.status)
	}
	_, form := root.confirmation(p, "cancel")
	if form.Has("amount") {
		t.Error("cancel asks for an amount")
	}
	form.Set("reason", "fraud reported by the merchant")
	if a := root.do("POST", actionPath(p, "cancel"), form); a.status != http.StatusSeeOther || a.loc != detailOf(p)+"?done=cancel" {
		t.Fatalf("cancel: %d %s %s", a.status, a.loc, a.body)
	}
	if got := e.payment(p); got.State != paywire.StateCancelled || e.prov.called() != "void 10.00 EUR" {
		t.Fatalf("after cancel: %s, calls %s", got.State, e.prov.called())
	}
	if es := e.audit(1); es[0].Action != "payment.cancel" || es[0].Actor != "admin:root" || details(t, es[0])["reason"] != "fraud reported by the merchant" {
		t.Errorf("cancel audit: %+v", es[0])
	}
	if page, _ := root.confirmation(p, "cancel"); page.status != http.StatusConflict {
		t.Errorf("cancelling a cancelled payment: %d", page.status)
	}

	// Resend: the latest notification, delivered already, is due again.
	ctx := context.Background()
	msgs, err := e.core.DB.OutboxOf(ctx, "shop-a", p.ID)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("outbox: %v %v", msgs, err)
	}
	latest := msgs[len(msgs)-1]
	claimed, err := e.core.DB.ClaimOutbox(ctx, "w1", time.Now(), time.Minute, 100)
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claim: %v", err)
	}
	for _, m := range claimed {
		if _, err := e.core.DB.DeliveredOutbox(ctx, []int64{m.ID}, "w1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sam := e.signedIn("sam")
	page, form := sam.confirmation(p, "resend")
	if page.status != 200 || form.Get("message") != jsonNumber(latest.ID) {
		t.Fatalf("resend page: %d, chosen %q, want %d", page.status, form.Get("message"), latest.ID)
	}
	form.Set("reason", "merchant lost it")
	if a := sam.do("POST", actionPath(p, "resend"), form); a.status != http.StatusSeeOther || a.loc != detailOf(p)+"?done=resend" {
		t.Fatalf("resend: %d %s %s", a.status, a.loc, a.body)
	}
	if again := sam.do("POST", actionPath(p, "resend"), form); again.loc != detailOf(p)+"?done=again" {
		t.Errorf("the same resend again: %d %s", again.status, again.loc)
	}
	after, _ := e.core.DB.OutboxOf(ctx, "shop-a", p.ID)
	if m := after[len(after)-1]; m.Status != paywire.OutboxPending {
		t.Errorf("after resend the notification is %s", m.Status)
	}
	es := e.audit(2)
	if es[0].Action != "payment.resend" || es[0].Actor != "admin:sam" || es[1].Action == "payment.resend" || details(t, es[0])["notification"] != float64(latest.ID) {
		t.Errorf("resend audit: %+v", es)
	}
	// Another payment's notification cannot be chosen.
	other := e.core.Authorized("shop-a", "order-3", "acquirer-a")
	_, form = sam.confirmation(p, "resend")
	otherMsgs, _ := e.core.DB.OutboxOf(ctx, "shop-a", other.ID)
	form.Set("message", jsonNumber(otherMsgs[0].ID))
	form.Set("reason", "trying")
	if a := sam.do("POST", actionPath(p, "resend"), form); a.status != http.StatusBadRequest {
		t.Errorf("another payment's notification: %d", a.status)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestReviewQueue(t *testing.T) {
	e := newActionEnv(t)
	held := func(ref string) *paywire.Payment {
		p := e.core.Authorized("shop-a", ref, "acquirer-a")
		return e.core.Move(p, paywire.Move{To: paywire.StateReview})
	}
	p1, p2 := held("rv-1"), held("rv-2")

	// Compliance sees the queue but decides nothing; a viewer does not see it.
	cora := e.signedIn("cora")
	q := cora.do("GET", "/admin/reviews", nil)
	if q.status != 200 || !strings.Contains(q.body, p1.ID) || strings.Contains(q.body, "Approve") {
		t.Fatalf("compliance's queue: %d", q.status)
	}
	if strings.Index(q.body, p1.ID) > strings.Index(q.body, p2.ID) {
		t.Error("the queue is not oldest first")
	}
	if a := cora.do("POST", "/admin/reviews/shop-a/"+p1.ID+"/decision", url.Values{"csrf": {csrfOf(t, q.body)}, "decision": {"approve"}, "reason": {"ok"}}); a.status != http.StatusForbidden {
		t.Errorf("compliance deciding: %d", a.status)
	}
	vera := e.signedIn("vera")
	if a := vera.do("GET", "/admin/reviews", nil); a.status != http.StatusForbidden {
		t.Errorf("a viewer's queue: %d", a.status)
	}

	rita := e.signedIn("rita")
	q = rita.do("GET", "/admin/reviews", nil)
	csrf := csrfOf(t, q.body)
	if !strings.Contains(q.body, `href="/admin/reviews"`) || !strings.Contains(q.body, "Assign to me") {
		t.Fatalf("risk analyst's queue: %s", q.body)
	}
	if a := rita.do("POST", "/admin/reviews/shop-a/"+p1.ID+"/assign", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", a.status, a.body)
	}
	q = rita.do("GET", "/admin/reviews?done=assigned", nil)
	row := q.body[strings.Index(q.body, `id="review-`+p1.ID):]
	if !strings.Contains(row[:strings.Index(row, "</tr>")], "rita") || !strings.Contains(q.body, "assigned to you") {
		t.Errorf("the assignment is not shown: %s", q.body)
	}
	if es := e.audit(1); es[0].Action != "payment.review.assign" || es[0].Actor != "admin:rita" ||
		details(t, es[0])["after"].(map[string]any)["assignee"] != "rita" {
		t.Errorf("assign audit: %+v", es[0])
	}

	// A decision needs a reason.
	if a := rita.do("POST", "/admin/reviews/shop-a/"+p1.ID+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}, "reason": {"  "}}); a.status != http.StatusBadRequest {
		t.Errorf("no reason: %d", a.status)
	}
	if got := e.payment(p1); got.State != paywire.StateReview {
		t.Fatalf("a decision without a reason acted: %s", got.State)
	}
	if a := rita.do("POST", "/admin/reviews/shop-a/"+p1.ID+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}, "reason": {"known customer"}}); a.status != http.StatusSeeOther || a.loc != "/admin/reviews?done=approved" {
		t.Fatalf("approve: %d %s %s", a.status, a.loc, a.body)
	}
	if got := e.payment(p1); got.State == paywire.StateReview {
		t.Fatal("approved, still in review")
	}
	es := e.audit(2)
	if es[0].Action != "payment.review.approve" || es[0].Actor != "admin:rita" || es[0].Target != p1.ID || es[1].Action == "payment.review.approve" ||
		details(t, es[0])["reason"] != "known customer" {
		t.Errorf("approve audit: %+v", es)
	}
	// Deciding again: the payment is no longer in review.
	if a := rita.do("POST", "/admin/reviews/shop-a/"+p1.ID+"/decision", url.Values{"csrf": {csrf}, "decision": {"decline"}, "reason": {"again"}}); a.status != http.StatusConflict {
		t.Errorf("a second decision: %d", a.status)
	}

	root := e.signedIn("root")
	if a := root.do("POST", "/admin/reviews/shop-a/"+p2.ID+"/decision", url.Values{"csrf": {csrfOf(t, root.do("GET", "/admin/reviews", nil).body)}, "decision": {"decline"}, "reason": {"stolen card pattern"}}); a.status != http.StatusSeeOther {
		t.Fatalf("decline: %d %s", a.status, a.body)
	}
	if got := e.payment(p2); got.State == paywire.StateReview || got.State == paywire.StateAuthorized || got.State == paywire.StateCompleted {
		t.Errorf("declined: %s", got.State)
	}
	if es := e.audit(1); es[0].Action != "payment.review.decline" || es[0].Actor != "admin:root" {
		t.Errorf("decline audit: %+v", es[0])
	}
	if q := root.do("GET", "/admin/reviews", nil); !strings.Contains(q.body, `id="empty-queue"`) {
		t.Error("the queue is not empty after both decisions")
	}
}

// TestWithdrawalApprovedByTwo: a withdrawal of a merchant that asks for
// two approvals shows "0 of 2" in the queue; the first analyst's approval
// is recorded and leaves it waiting, the same analyst cannot approve it
// again (403, the button disabled), and a second person's approval moves
// it on. Both approvals are audited.
func TestWithdrawalApprovedByTwo(t *testing.T) {
	e := newActionEnv(t)
	ctx := context.Background()
	e.core.AddMerchant(&paywire.Merchant{ID: "shop-w", Name: "Shop W", WithdrawalApprovals: 2}, "")
	p := storetest.SeedPaymentValue("shop-w", "wd-1")
	p.Kind = paywire.KindWithdrawal
	p.EndUser = paywire.EndUser{ID: "u1", Country: "DE"}
	p = e.core.Move(e.core.CreatePayment(p), paywire.Move{To: paywire.StateReview})

	rita := e.signedIn("rita")
	q := rita.do("GET", "/admin/reviews", nil)
	row := func(body string) string {
		r := body[strings.Index(body, `id="review-`+p.ID):]
		return r[:strings.Index(r, "</tr>")]
	}
	if !strings.Contains(row(q.body), "0 of 2") {
		t.Fatalf("the queue does not show the approvals needed: %s", row(q.body))
	}
	decide := func(b *browser, csrf string) answer {
		return b.do("POST", "/admin/reviews/shop-w/"+p.ID+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}, "reason": {"payout checked"}})
	}
	if a := decide(rita, csrfOf(t, q.body)); a.status != http.StatusSeeOther || a.loc != "/admin/reviews?done=recorded" {
		t.Fatalf("first approval: %d %s %s", a.status, a.loc, a.body)
	}
	if got := e.payment(p); got.State != paywire.StateReview {
		t.Fatalf("after one approval of two: %s", got.State)
	}
	q = rita.do("GET", "/admin/reviews?done=recorded", nil)
	if r := row(q.body); !strings.Contains(r, "1 of 2") || !strings.Contains(r, "admin:rita") || !strings.Contains(r, "disabled") ||
		!strings.Contains(q.body, "waits for a second person") {
		t.Errorf("after the first approval: %s", r)
	}
	if a := decide(rita, csrfOf(t, q.body)); a.status != http.StatusForbidden || !strings.Contains(a.body, "another person must approve") {
		t.Errorf("the same analyst again: %d %s", a.status, a.body)
	}
	root := e.signedIn("root")
	if a := decide(root, csrfOf(t, root.do("GET", "/admin/reviews", nil).body)); a.status != http.StatusSeeOther || a.loc != "/admin/reviews?done=approved" {
		t.Fatalf("second approval: %d %s %s", a.status, a.loc, a.body)
	}
	if got := e.payment(p); got.State == paywire.StateReview {
		t.Fatal("approved by two, still in review")
	}
	as, err := e.core.DB.Approvals(ctx, "shop-w", p.ID)
	if err != nil || len(as) != 2 || as[0].Approver != "admin:rita" || as[1].Approver != "admin:root" {
		t.Errorf("approvals %+v, %v", as, err)
	}
	var approvers []string // newest first
	for _, a := range e.audit(10) {
		if a.Action == "payment.review.approve" && a.Target == p.ID {
			approvers = append(approvers, a.Actor)
		}
	}
	if strings.Join(approvers, " ") != "admin:root admin:rita" {
		t.Errorf("approvals audited: %v", approvers)
	}
}

// TestManualPaymentPage: support creates a payment for an end user and
// gets its link; the payment's history names them; the same form sent
// again gives the same link; bad input comes back with a reason; a viewer
// may not create payments.
func TestManualPaymentPage(t *testing.T) {
	e := newActionEnv(t)
	ctx := context.Background()
	vera := e.signedIn("vera")
	if a := vera.do("GET", "/admin/payments/new", nil); a.status != http.StatusForbidden {
		t.Errorf("a viewer's new payment page: %d", a.status)
	}
	if a := vera.do("GET", "/admin/payments", nil); strings.Contains(a.body, `id="new-payment"`) {
		t.Error("a viewer is offered to create payments")
	}

	sam := e.signedIn("sam")
	if a := sam.do("GET", "/admin/payments", nil); !strings.Contains(a.body, `href="/admin/payments/new"`) {
		t.Error("support is not offered to create payments")
	}
	page := sam.do("GET", "/admin/payments/new?merchant=shop-a", nil)
	if page.status != 200 || !strings.Contains(page.body, `id="manual-form"`) {
		t.Fatalf("new payment page: %d %s", page.status, page.body)
	}
	form := url.Values{"csrf": {csrfOf(t, page.body)}, "key": {keyField.FindStringSubmatch(page.body)[1]},
		"merchant": {"shop-a"}, "reference": {"invoice-77"}, "kind": {"deposit"}, "amount": {"12.50"}, "currency": {"eur"},
		"end_user_id": {"customer-9"}, "email": {"c9@example.com"}, "country": {"de"}, "language": {"de"}, "method": {""}, "valid_hours": {"48"}}
	a := sam.do("POST", "/admin/payments/new", form)
	link := regexp.MustCompile(`id="payment-link" value="([^"]+)"`).FindStringSubmatch(a.body)
	if a.status != http.StatusCreated || link == nil || !strings.Contains(link[1], "/pay/link/") {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	p, err := e.core.DB.PaymentByReference(ctx, "shop-a", "invoice-77")
	if err != nil || p.Amount.String() != "12.50 EUR" || p.EndUser.Country != "DE" || p.State != paywire.StateCreated {
		t.Fatalf("stored %+v, %v", p, err)
	}
	if evs, _ := e.core.DB.Events(ctx, "shop-a", p.ID); evs[0].Source != "admin:sam" {
		t.Errorf("created by %q", evs[0].Source)
	}
	if es := e.audit(1); es[0].Action != "payment.create_manual" || es[0].Actor != "admin:sam" || es[0].Target != p.ID {
		t.Errorf("audit %+v", es[0])
	}
	again := sam.do("POST", "/admin/payments/new", form)
	if m := regexp.MustCompile(`id="payment-link" value="([^"]+)"`).FindStringSubmatch(again.body); m == nil || m[1] != link[1] {
		t.Errorf("the same form again: %d, a different link", again.status)
	}

	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("key", strings.Repeat("ab", 16))
	bad.Set("reference", "invoice-78")
	bad.Set("amount", "12,50")
	if a := sam.do("POST", "/admin/payments/new", bad); a.status != http.StatusBadRequest || !strings.Contains(a.body, "The amount must be a number") ||
		!strings.Contains(a.body, `value="invoice-78"`) {
		t.Errorf("a bad amount: %d %s", a.status, a.body)
	}
	bad.Set("amount", "12.50")
	bad.Set("valid_hours", "200")
	if a := sam.do("POST", "/admin/payments/new", bad); a.status != http.StatusBadRequest || !strings.Contains(a.body, "from 1 to 168") {
		t.Errorf("a link for too long: %d", a.status)
	}
	bad.Set("valid_hours", "1")
	bad.Set("reference", "invoice-77")
	if a := sam.do("POST", "/admin/payments/new", bad); a.status != http.StatusConflict || !strings.Contains(a.body, "already used") {
		t.Errorf("a reference taken: %d %s", a.status, a.body)
	}
	if _, err := e.core.DB.PaymentByReference(ctx, "shop-a", "invoice-78"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("a refused form created a payment: %v", err)
	}
}
