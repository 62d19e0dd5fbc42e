package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// ActionPages are the dependencies of the payment actions and the review
// queue; the area is mounted when ActionService, ActionKeys and
// ReviewAssignments are set.
type ActionPages struct {
	// ActionService carries out every action: the payment use cases are
	// the one way a payment changes. *payment.Service implements it.
	ActionService PaymentActions
	// ActionKeys tells a confirmation sent twice from one page from a new
	// one, so that the second neither acts nor is audited again (the
	// idempotency store; *store.DB).
	ActionKeys ActionKeys
	// ReviewAssignments keeps who took on a payment held for review
	// (*store.DB).
	ReviewAssignments ReviewAssignments
	// ActionOutbox, if set, lists every notification of a payment for
	// resending, delivered ones included (*store.DB); without it only
	// those that did not reach the merchant are offered.
	ActionOutbox ActionOutbox
	// RiskDecisions, if set, gives the review queue the reasons of each
	// payment's risk decision (*store.DB).
	RiskDecisions RiskDecisions
	// Manual, if set, creates manual payments with their links
	// (*payment.Service).
	Manual ManualPayments
}

// PaymentActions are the payment use cases the back office carries out.
type PaymentActions interface {
	Get(ctx context.Context, merchantID, id, reference string) (*payment.PaymentDetails, error)
	CaptureAs(ctx context.Context, by payment.Operator, merchantID, key, id, amount string) (*paywire.Payment, error)
	CancelAs(ctx context.Context, by payment.Operator, merchantID, key, id string) (*paywire.Payment, error)
	RefundAs(ctx context.Context, by payment.Operator, merchantID, key, id, amount string) (*paywire.Payment, error)
	Undelivered(ctx context.Context, merchantID string, limit int) ([]payment.Notification, error)
	Resend(ctx context.Context, merchantID, key string, id int64) error
	Review(ctx context.Context, merchantID, paymentID string, approve bool, who paywire.Actor, why string) (*paywire.Payment, error)
	ReviewQueue(ctx context.Context, merchantID string, limit int) ([]*paywire.Payment, error)
}

// ActionKeys reads the idempotency store.
type ActionKeys interface {
	// IdempotentResult returns ENOTFOUND for a key not used.
	IdempotentResult(ctx context.Context, merchantID, key string) (requestHash string, result []byte, err error)
}

// ReviewAssignments keeps the review queue's assignments.
type ReviewAssignments interface {
	// AssignReview returns who had the payment before, "" for nobody;
	// ENOTFOUND for a payment the merchant does not have.
	AssignReview(ctx context.Context, merchantID, paymentID, assignee string) (previous string, err error)
	ReviewAssignees(ctx context.Context, paymentIDs []string) (map[string]string, error)
	// ApprovalsOf returns the approvals given so far, by payment id.
	ApprovalsOf(ctx context.Context, paymentIDs []string) (map[string][]paywire.Approval, error)
}

// ActionOutbox lists a payment's notifications.
type ActionOutbox interface {
	// OutboxOf returns every notification of the merchant's payment,
	// oldest first.
	OutboxOf(ctx context.Context, merchantID, paymentID string) ([]paywire.OutboxMessage, error)
}

// RiskDecisions lists a payment's decision records.
type RiskDecisions interface {
	Decisions(ctx context.Context, merchantID, paymentID string) ([]paywire.DecisionRecord, error)
}

// Who may act on payments, see the review queue, and decide reviews.
var (
	actionRoles = []paywire.Role{paywire.RoleAdmin, paywire.RoleSupport}
	reviewRoles = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst, paywire.RoleCompliance}
	decideRoles = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst}
)

// reviewQueueLimit bounds the review queue page.
const reviewQueueLimit = 200

// mountActions adds the area's routes and navigation entries.
func (a *App) mountActions(r chi.Router) {
	d := a.ActionPages
	if d.ActionService == nil || d.ActionKeys == nil || d.ReviewAssignments == nil {
		return
	}
	if d.Manual != nil {
		r.Get("/payments/new", a.allow(a.manualForm, actionRoles...))
		r.Post("/payments/new", a.allow(a.checked(a.createManual), actionRoles...))
	}
	r.Get("/payments/{merchant}/{id}/actions/{action}", a.allow(a.confirmPage, actionRoles...))
	r.Post("/payments/{merchant}/{id}/actions/{action}", a.allow(a.checked(a.act), actionRoles...))
	a.section("/admin/reviews", "Reviews", reviewRoles...)
	r.Get("/reviews", a.allow(a.reviews, reviewRoles...))
	r.Post("/reviews/{merchant}/{id}/assign", a.allow(a.checked(a.assignReview), decideRoles...))
	r.Post("/reviews/{merchant}/{id}/decision", a.allow(a.checked(a.decideReview), decideRoles...))
}

// action is one thing the back office does to a payment.
type action struct {
	Name, Title, Button string
	Amount              bool // takes an amount, at most the maximum
	Danger              bool
}

var actions = map[string]action{
	"capture": {Name: "capture", Title: "Capture", Button: "Capture", Amount: true},
	"cancel":  {Name: "cancel", Title: "Cancel", Button: "Cancel the payment", Danger: true},
	"refund":  {Name: "refund", Title: "Refund", Button: "Refund", Amount: true, Danger: true},
	"resend":  {Name: "resend", Title: "Resend a notification", Button: "Resend"},
}

// done are the notices the payment page shows after an action, by the
// "done" query parameter the action redirects with.
var done = map[string]string{
	"capture": "Captured.",
	"cancel":  "Cancelled.",
	"refund":  "Refunded.",
	"resend":  "The notification will be sent again within moments.",
	"again":   "This confirmation was already carried out; nothing was done twice.",
}

// ActionNotice is the notice for the payment detail page after an action
// redirected to it ("" for none): the page passes it as page.Notice.
func ActionNotice(r *http.Request) string { return done[r.URL.Query().Get("done")] }

// confirmView is a confirmation page.
type confirmView struct {
	Action     action
	Payment    *paywire.Payment
	Detail     string // the payment's page
	What       string // what will happen, in words
	Max        string // the most the amount may be, in major units
	Amount     string
	Reason     string
	Key        string
	Messages   []payment.Notification // resend: what may be sent again
	Message    string                 // resend: the one chosen
	CanConfirm bool
}

func detailPath(merchantID, id string) string {
	return "/admin/payments/" + url.PathEscape(merchantID) + "/" + url.PathEscape(id)
}

// newKey is a confirmation's idempotency key: the page carries it, so the
// same confirmation sent twice acts once.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// actionKey is the key the use cases see: in the merchant's key space, and
// unlike any the merchant's API calls may choose.
func actionKey(key string) string { return "admin-" + key }

// validKey reports whether key is one newKey made.
func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	_, err := hex.DecodeString(key)
	return err == nil
}

// loadAction reads the request's payment and action; it answers the
// request itself when it returns false.
func (a *App) loadAction(w http.ResponseWriter, r *http.Request) (action, *paywire.Payment, bool) {
	act, ok := actions[chi.URLParam(r, "action")]
	if !ok {
		a.notFound(w, r)
		return act, nil, false
	}
	d, err := a.ActionService.Get(r.Context(), chi.URLParam(r, "merchant"), chi.URLParam(r, "id"), "")
	if err != nil {
		a.problem(w, r, err)
		return act, nil, false
	}
	return act, d.Payment, true
}

// describe fills in what the action will do to p, and whether it can.
func (a *App) describe(ctx context.Context, v *confirmView) error {
	p := v.Payment
	money := func(minor int64) string {
		return paywire.Money{Amount: minor, Currency: p.Amount.Currency}.Decimal()
	}
	cur := p.Amount.Currency.Code
	v.CanConfirm = true
	switch v.Action.Name {
	case "capture":
		left := p.Amount.Amount - p.Captured
		v.Max = money(left)
		if p.State != paywire.StateAuthorized || left <= 0 {
			v.What, v.CanConfirm = fmt.Sprintf("A payment in state %s cannot be captured.", p.State), false
			break
		}
		v.What = fmt.Sprintf("The provider %s is asked to capture the amount below, at most %s %s. A partial capture releases the rest of the authorization: it cannot be captured later.", p.Provider, v.Max, cur)
	case "refund":
		left := p.Captured - p.Refunded - p.ChargedBack
		v.Max = money(left)
		if (p.State != paywire.StateCompleted && p.State != paywire.StatePartiallyRefunded) || left <= 0 {
			v.What, v.CanConfirm = fmt.Sprintf("A payment in state %s cannot be refunded.", p.State), false
			break
		}
		v.What = fmt.Sprintf("The provider %s is asked to pay the amount below back to the end user, at most %s %s (captured %s, refunded %s so far). Refunds may repeat until everything captured is refunded.", p.Provider, v.Max, cur, money(p.Captured), money(p.Refunded))
	case "cancel":
		if !slices.Contains(p.State.Next(), paywire.StateCancelled) {
			v.What, v.CanConfirm = fmt.Sprintf("A payment in state %s cannot be cancelled.", p.State), false
			break
		}
		v.What = "The payment is cancelled. An authorization is voided at the provider, releasing the end user's funds; a payment not paid yet can no longer be paid."
	case "resend":
		if err := a.resendable(ctx, v); err != nil {
			return err
		}
		if len(v.Messages) == 0 {
			v.What, v.CanConfirm = "There is no notification of this payment to send again.", false
			break
		}
		if v.Message == "" {
			v.Message = fmt.Sprint(v.Messages[0].ID)
		}
		v.What = "The chosen notification is due again now: it is delivered within moments to the merchant's notification URL, signed as every notification, with retries."
	}
	return nil
}

// resendable lists the payment's notifications that may be sent again,
// newest first.
func (a *App) resendable(ctx context.Context, v *confirmView) error {
	p := v.Payment
	var ms []paywire.OutboxMessage
	var err error
	if a.ActionOutbox != nil {
		ms, err = a.ActionOutbox.OutboxOf(ctx, p.MerchantID, p.ID)
		slices.Reverse(ms)
	} else {
		ms, err = a.ActionService.Undelivered(ctx, p.MerchantID, 500)
	}
	if err != nil {
		return err
	}
	v.Messages = nil
	for _, m := range ms {
		if m.PaymentID == p.ID {
			v.Messages = append(v.Messages, m)
		}
	}
	return nil
}

func (a *App) confirmPage(w http.ResponseWriter, r *http.Request) {
	act, p, ok := a.loadAction(w, r)
	if !ok {
		return
	}
	v := confirmView{Action: act, Payment: p, Detail: detailPath(p.MerchantID, p.ID), Key: newKey()}
	if err := a.describe(r.Context(), &v); err != nil {
		a.problem(w, r, err)
		return
	}
	v.Amount = v.Max
	status := http.StatusOK
	if !v.CanConfirm {
		status = http.StatusConflict
	}
	a.render(w, r, status, "confirm", page{Title: act.Title + " " + p.ID, Data: v})
}

// refuse shows the confirmation page again, with what was entered and why
// it was not carried out.
func (a *App) refuse(w http.ResponseWriter, r *http.Request, status int, v confirmView, problem string) {
	if err := a.describe(r.Context(), &v); err != nil {
		a.problem(w, r, err)
		return
	}
	a.render(w, r, status, "confirm", page{Title: v.Action.Title + " " + v.Payment.ID, Data: v, Problem: problem})
}

// validReason reports whether a person's reason may be recorded.
func validReason(why string) bool {
	return why != "" && utf8.RuneCountInString(why) <= 500 && paywire.ValidText(why)
}

const reasonProblem = "Give a reason (1 to 500 characters): it is kept in the audit log with the action."

// act carries out a confirmed action and writes its one audit entry.
func (a *App) act(w http.ResponseWriter, r *http.Request) {
	act, p, ok := a.loadAction(w, r)
	if !ok {
		return
	}
	ctx, c := r.Context(), currentOf(r.Context())
	v := confirmView{Action: act, Payment: p, Detail: detailPath(p.MerchantID, p.ID),
		Key: r.PostForm.Get("key"), Reason: strings.TrimSpace(r.PostForm.Get("reason")),
		Amount: strings.TrimSpace(r.PostForm.Get("amount")), Message: r.PostForm.Get("message")}
	if !validKey(v.Key) {
		v.Key = newKey()
		a.refuse(w, r, http.StatusBadRequest, v, "The form is incomplete. Check it and confirm again.")
		return
	}
	if !validReason(v.Reason) {
		a.refuse(w, r, http.StatusBadRequest, v, reasonProblem)
		return
	}
	if act.Amount && v.Amount == "" {
		a.refuse(w, r, http.StatusBadRequest, v, "Give the amount.")
		return
	}
	key := actionKey(v.Key)
	// The same confirmation again (a double click, a reload): it acted,
	// or is acting, already.
	if _, _, err := a.ActionKeys.IdempotentResult(ctx, p.MerchantID, key); err == nil {
		http.Redirect(w, r, v.Detail+"?done=again", http.StatusSeeOther)
		return
	} else if paywire.ErrorCode(err) != paywire.ENOTFOUND {
		a.problem(w, r, err)
		return
	}

	// A payment's change is audited by the use case, in the change's
	// transaction, with the reason and the payment before and after; a
	// resend changes no payment and is audited here.
	by := payment.Operator{Actor: paywire.AdminActor(c.user.Username), Reason: v.Reason}
	var next *paywire.Payment
	var err error
	switch act.Name {
	case "capture":
		next, err = a.ActionService.CaptureAs(ctx, by, p.MerchantID, key, p.ID, v.Amount)
	case "refund":
		next, err = a.ActionService.RefundAs(ctx, by, p.MerchantID, key, p.ID, v.Amount)
	case "cancel":
		next, err = a.ActionService.CancelAs(ctx, by, p.MerchantID, key, p.ID)
	case "resend":
		var id int64
		if err := a.resendable(ctx, &v); err != nil {
			a.problem(w, r, err)
			return
		}
		_, serr := fmt.Sscan(v.Message, &id)
		if serr != nil || !slices.ContainsFunc(v.Messages, func(m paywire.OutboxMessage) bool { return m.ID == id }) {
			a.refuse(w, r, http.StatusBadRequest, v, "Choose one of this payment's notifications to send again.")
			return
		}
		if err = a.ActionService.Resend(ctx, p.MerchantID, key, id); err == nil {
			_ = a.audit(ctx, c.user, "payment.resend", p.ID, map[string]any{"merchantId": p.MerchantID, "reason": v.Reason,
				"key": v.Key, "notification": id})
		}
	}
	if err != nil {
		a.actionFailed(w, r, v, err)
		return
	}
	if next != nil && next.Version <= p.Version {
		// A stored outcome answered: the confirmation acted before.
		http.Redirect(w, r, v.Detail+"?done=again", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, v.Detail+"?done="+act.Name, http.StatusSeeOther)
}

// actionFailed shows why a use case refused an action; what it cannot
// describe is the problem page's.
func (a *App) actionFailed(w http.ResponseWriter, r *http.Request, v confirmView, err error) {
	status := 0
	switch paywire.ErrorCode(err) {
	case paywire.EINVALID:
		status = http.StatusBadRequest
	case paywire.EILLEGALMOVE, paywire.ECONFLICT, paywire.EIDEMPOTENCY, paywire.EINPROGRESS:
		status = http.StatusConflict
	case paywire.EDECLINED, paywire.EUNSUPPORTED:
		status = http.StatusUnprocessableEntity
	case paywire.EUNAVAILABLE:
		// The provider's answer is unknown: confirming again with the same
		// key asks it again under the same key, never twice.
		status = http.StatusBadGateway
	default:
		a.problem(w, r, err)
		return
	}
	a.refuse(w, r, status, v, paywire.ErrorMessage(err))
}

// reviewRow is a payment of the review queue.
type reviewRow struct {
	Payment  *paywire.Payment
	Amount   string
	Reasons  []string
	Age      string
	Assignee string
	Mine     bool
	// Approvals are the approvals given so far, of a withdrawal that needs
	// more than one; Needed is how many it needs (0: one, as any review).
	Approvals []paywire.Approval
	Needed    int
	// Approved says the user approved it already: another person must.
	Approved bool
}

type reviewsView struct {
	Rows      []reviewRow
	CanDecide bool
}

// reviewDone are the review queue's notices after a post redirected to it.
var reviewDone = map[string]string{
	"assigned": "The payment is assigned to you.",
	"approved": "Approved: the payment goes on as its workflow says.",
	"recorded": "Your approval is recorded: the withdrawal waits for a second person to approve it.",
	"declined": "Declined: the payment is refused, its authorization voided or its captured money refunded.",
}

func (a *App) reviews(w http.ResponseWriter, r *http.Request) {
	a.renderReviews(w, r, http.StatusOK, reviewDone[r.URL.Query().Get("done")], "")
}

func (a *App) renderReviews(w http.ResponseWriter, r *http.Request, status int, notice, problem string) {
	ctx, c := r.Context(), currentOf(r.Context())
	ps, err := a.ActionService.ReviewQueue(ctx, "", reviewQueueLimit)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	assignees, err := a.ReviewAssignments.ReviewAssignees(ctx, ids)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	approvals, err := a.ReviewAssignments.ApprovalsOf(ctx, ids)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	needed := map[string]int{} // by merchant
	for _, p := range ps {
		if _, ok := needed[p.MerchantID]; ok || p.Kind != paywire.KindWithdrawal || a.Merchants == nil {
			continue
		}
		m, err := a.Merchants.Merchant(ctx, p.MerchantID)
		if err != nil {
			a.problem(w, r, err)
			return
		}
		needed[p.MerchantID] = m.WithdrawalApprovals
	}
	now := a.Now()
	v := reviewsView{CanDecide: c.user.Has(decideRoles...)}
	for _, p := range ps {
		row := reviewRow{Payment: p, Amount: p.Amount.String(), Age: age(now.Sub(p.UpdatedAt)),
			Assignee: assignees[p.ID], Mine: assignees[p.ID] == c.user.Username, Approvals: approvals[p.ID]}
		if p.Kind == paywire.KindWithdrawal && needed[p.MerchantID] > 1 {
			row.Needed = needed[p.MerchantID]
		}
		for _, ap := range row.Approvals {
			row.Approved = row.Approved || ap.Approver == paywire.AdminActor(c.user.Username)
		}
		if a.RiskDecisions != nil {
			if row.Reasons, err = a.riskReasons(ctx, p); err != nil {
				a.problem(w, r, err)
				return
			}
		}
		v.Rows = append(v.Rows, row)
	}
	a.render(w, r, status, "reviews", page{Title: "Review queue", Data: v, Notice: notice, Problem: problem})
}

// riskReasons are the reasons of p's latest risk decision.
func (a *App) riskReasons(ctx context.Context, p *paywire.Payment) ([]string, error) {
	ds, err := a.RiskDecisions.Decisions(ctx, p.MerchantID, p.ID)
	if err != nil {
		return nil, err
	}
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].Point != "risk" {
			continue
		}
		var out struct {
			Reasons []string `json:"reasons"`
		}
		_ = json.Unmarshal(ds[i].Output, &out) // a malformed record shows no reasons
		return out.Reasons, nil
	}
	return nil, nil
}

// age is how long ago, in the largest whole unit.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// inReview returns the merchant's payment of the request if it is held for
// review; it answers the request itself otherwise.
func (a *App) inReview(w http.ResponseWriter, r *http.Request) (*paywire.Payment, bool) {
	d, err := a.ActionService.Get(r.Context(), chi.URLParam(r, "merchant"), chi.URLParam(r, "id"), "")
	if err != nil {
		a.problem(w, r, err)
		return nil, false
	}
	if d.Payment.State != paywire.StateReview {
		a.renderReviews(w, r, http.StatusConflict, "", fmt.Sprintf("Payment %s is %s: it is no longer held for review.", d.Payment.ID, d.Payment.State))
		return nil, false
	}
	return d.Payment, true
}

func (a *App) assignReview(w http.ResponseWriter, r *http.Request) {
	ctx, c := r.Context(), currentOf(r.Context())
	p, ok := a.inReview(w, r)
	if !ok {
		return
	}
	prev, err := a.ReviewAssignments.AssignReview(ctx, p.MerchantID, p.ID, c.user.Username)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	if prev != c.user.Username {
		_ = a.audit(ctx, c.user, "payment.review.assign", p.ID, map[string]any{"merchantId": p.MerchantID,
			"before": map[string]any{"assignee": prev}, "after": map[string]any{"assignee": c.user.Username}})
	}
	http.Redirect(w, r, "/admin/reviews?done=assigned", http.StatusSeeOther)
}

// decideReview approves or declines a payment held for review. The use
// case writes the one audit entry, naming the user and the reason, in the
// transaction of the change.
func (a *App) decideReview(w http.ResponseWriter, r *http.Request) {
	ctx, c := r.Context(), currentOf(r.Context())
	approve := r.PostForm.Get("decision") == "approve"
	if !approve && r.PostForm.Get("decision") != "decline" {
		a.renderReviews(w, r, http.StatusBadRequest, "", "Choose approve or decline.")
		return
	}
	why := strings.TrimSpace(r.PostForm.Get("reason"))
	if !validReason(why) {
		a.renderReviews(w, r, http.StatusBadRequest, "", reasonProblem)
		return
	}
	p, ok := a.inReview(w, r)
	if !ok {
		return
	}
	next, err := a.ActionService.Review(ctx, p.MerchantID, p.ID, approve, paywire.AdminActor(c.user.Username), why)
	if err != nil {
		var pe *paywire.Error
		if errors.As(err, &pe) && pe.Code != paywire.EINTERNAL {
			status := http.StatusConflict
			if pe.Code == paywire.EFORBIDDEN {
				status = http.StatusForbidden // an approver approving again
			}
			a.renderReviews(w, r, status, "", paywire.ErrorMessage(err))
			return
		}
		a.problem(w, r, err)
		return
	}
	done := "declined"
	switch {
	case approve && next.State == paywire.StateReview:
		done = "recorded" // more approvals are needed
	case approve:
		done = "approved"
	}
	a.Logger.InfoContext(ctx, "review decided", "payment_id", p.ID, "decision", done, "state", next.State)
	http.Redirect(w, r, "/admin/reviews?done="+done, http.StatusSeeOther)
}
