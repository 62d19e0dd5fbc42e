package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/paywire/paywire"
)

// TestBrowserWithdrawalApproval drives the four-eyes approval of a
// withdrawal in Chromium: an admin asks for two approvals on the demo
// merchant's page; an end user pays a deposit in the shop; the merchant
// pays a withdrawal back to that card through the JSON API, and it waits
// in the review queue; a risk analyst approves it (1 of 2, her button then
// disabled), and the admin's approval, a second person's, pays it out. The
// payment's page lists both approvals. No console errors.
func TestBrowserWithdrawalApproval(t *testing.T) {
	e := newBrowserEnv(t)
	console := e.console(t)
	e.adminUser(t, "root", "root-password-for-browser-tests", "admin")
	e.adminUser(t, "rita", "rita-password-for-browser-tests", "risk_analyst")

	e.signIn(t, "root", "root-password-for-browser-tests")
	e.run(t, "ask for two approvals",
		chromedp.Navigate(e.base+"/admin/merchants/demo"),
		chromedp.WaitVisible(chromedp.CSS(`#merchant-form`)),
		chromedp.SetValue(chromedp.CSS(`#merchant-form select[name=withdrawal_approvals]`), "2"),
		chromedp.Click(chromedp.CSS(`#merchant-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if m, err := e.main.DB.Merchant(context.Background(), "demo"); err != nil || m.WithdrawalApprovals != 2 {
		t.Fatalf("after saving: %+v, %v", m, err)
	}
	e.signOut(t)

	e.shop(t, "DE", "en", "card")
	e.payByCard(t, "4242424242424242", "")
	_, _, depositID := e.result(t)
	deposit := e.payment(t, depositID)
	if !deposit.State.Paid() {
		t.Fatalf("deposit %s", deposit.State)
	}

	body, _ := json.Marshal(map[string]any{
		"merchantReference": "payout-" + depositID, "kind": "WITHDRAWAL", "amount": "20.00", "currency": "EUR",
		"endUser": map[string]string{"id": deposit.EndUser.ID, "country": "DE"}, "paymentMethod": "card", "sourcePaymentId": depositID,
	})
	req, _ := http.NewRequest("POST", e.base+"/api/v1/backend-payments", strings.NewReader(string(body)))
	req.SetBasicAuth("demo", "demo-secret-for-browser-tests")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		PaymentID string `json:"paymentId"`
		State     string `json:"state"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated || created.State != "REVIEW" {
		t.Fatalf("withdrawal: %d %+v %v", res.StatusCode, created, err)
	}
	row := `#review-` + created.PaymentID

	e.signIn(t, "rita", "rita-password-for-browser-tests")
	e.run(t, "first approval",
		chromedp.Navigate(e.base+"/admin/reviews"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.SendKeys(chromedp.CSS(row+` form.decision input[name=reason]`), "payout matches the ledger"),
		chromedp.Click(chromedp.CSS(row+` form.decision button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if got := e.text(t, row+` td.approvals`); !strings.Contains(got, "1 of 2") || !strings.Contains(got, "admin:rita") {
		t.Errorf("approvals after the first: %q", got)
	}
	disabled := get(t, e, "approve button", chromedp.AttributeValue(chromedp.CSS(row+` form.decision button[value=approve]`), "disabled"))
	if !disabled.Exists {
		t.Error("the first approver can approve again")
	}
	e.shot(t, "admin-withdrawal-one-approval")
	if p := e.payment(t, created.PaymentID); p.State != paywire.StateReview {
		t.Fatalf("after one approval of two: %s", p.State)
	}
	e.signOut(t)

	e.signIn(t, "root", "root-password-for-browser-tests")
	e.run(t, "second approval",
		chromedp.Navigate(e.base+"/admin/reviews"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.SendKeys(chromedp.CSS(row+` form.decision input[name=reason]`), "second pair of eyes"),
		chromedp.Click(chromedp.CSS(row+` form.decision button[value=approve]`)),
		chromedp.WaitNotPresent(chromedp.CSS(row)))
	if p := e.payment(t, created.PaymentID); p.State != paywire.StateCompleted {
		t.Fatalf("after two approvals: %s", p.State)
	}
	e.run(t, "the payment's page",
		chromedp.Navigate(e.base+"/admin/payments/demo/"+created.PaymentID),
		chromedp.WaitVisible(chromedp.CSS(`#approvals`)))
	if got := e.text(t, "#approvals"); !strings.Contains(got, "admin:rita") || !strings.Contains(got, "admin:root") {
		t.Errorf("approvals on the payment's page: %q", got)
	}
	e.shot(t, "admin-withdrawal-approved")

	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestBrowserManualPayment: support creates a payment on the back office's
// form and gets its link; the end user opens the link, pays by card and
// sees the outcome on the hosted pages (a manual payment has no merchant
// page to return to); the link opened again shows the outcome, not a form.
func TestBrowserManualPayment(t *testing.T) {
	e := newBrowserEnv(t)
	console := e.console(t)
	e.adminUser(t, "sam", "sam-password-for-browser-tests", "support")
	e.signIn(t, "sam", "sam-password-for-browser-tests")
	e.run(t, "create a payment with a link",
		chromedp.Navigate(e.base+"/admin/payments"),
		chromedp.Click(chromedp.CSS(`#new-payment`)),
		chromedp.WaitVisible(chromedp.CSS(`#manual-form`)),
		chromedp.SetValue(chromedp.CSS(`#manual-form select[name=merchant]`), "demo"),
		chromedp.SendKeys(chromedp.CSS(`#manual-form input[name=amount]`), "19.90"),
		chromedp.SendKeys(chromedp.CSS(`#manual-form input[name=end_user_id]`), "customer-manual-1"),
		chromedp.SendKeys(chromedp.CSS(`#manual-form input[name=email]`), "manual-buyer@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#manual-form input[name=country]`), "DE"),
		chromedp.SendKeys(chromedp.CSS(`#manual-form input[name=language]`), "en"),
		chromedp.Click(chromedp.CSS(`#create-payment`)),
		chromedp.WaitVisible(chromedp.CSS(`#payment-link`)))
	link := get(t, e, "the link", chromedp.Value(chromedp.CSS(`#payment-link`)))
	e.shot(t, "admin-payment-link")
	if !strings.HasPrefix(link, e.base+"/pay/link/") {
		t.Fatalf("link %q", link)
	}
	e.signOut(t)

	e.run(t, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form.cancel button`)))
	// The method selection first, unless the pages went straight to the
	// card form.
	if get(t, e, "method selection", chromedp.Evaluate[bool](`document.querySelector("#card-number") === null`)) {
		e.run(t, "choose card", chromedp.Click(chromedp.CSS(`button[value=card], input[value=card]`)))
	}
	e.payByCard(t, "4242424242424242", "")
	e.run(t, "the outcome on the hosted pages", chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	ps, _, err := e.main.DB.SearchPayments(context.Background(), paywire.PaymentFilter{MerchantID: "demo", Search: "manual-buyer@example.com"}, "", 5)
	if err != nil || len(ps) != 1 {
		t.Fatalf("the manual payment: %v, %v", ps, err)
	}
	p := ps[0]
	if !p.State.Paid() && p.State != paywire.StateReview {
		t.Fatalf("after paying through the link: %s", p.State)
	}
	e.run(t, "the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if n := get(t, e, "card form", chromedp.Evaluate[int](`document.querySelectorAll("#card-number").length`)); n != 0 {
		t.Error("the link shows a card form after the payment")
	}
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
