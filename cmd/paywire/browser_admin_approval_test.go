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
