package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store/storetest"
)

// TestPolicyBacktestPages: a backtest started from a revision's page by a
// risk analyst, followed on its page (refreshing while it waits for a
// worker), then its report: how the risk decisions changed, what became of
// their payment, the payment to open; the list of backtests; refusals.
func TestPolicyBacktestPages(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := context.Background()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	// Four risk decisions of a payment that was refused since: 1,000.00 to
	// 4,000.00 EUR.
	storetest.SeedMerchant(t, e.db, "shop")
	p := storetest.SeedPayment(t, e.db, "shop", "order-1")
	p = storetest.Move(t, e.db, p, paywire.Move{To: paywire.StateRefused})
	eng := engine.New(1)
	if _, err := eng.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	eng.Recorder = engine.StoreRecorder{Store: e.db}
	for i := int64(1); i <= 4; i++ {
		if _, err := eng.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
			Amount: engine.Money{Minor: i * 100000, Currency: "EUR", Exponent: 2}, Method: "card",
			Card:     engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
			Customer: engine.Customer{ID: "c", Country: "DE", Language: "de"}, Time: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	// The candidate reviews from 3,000.00.
	files["rules/risk/data.yaml"] = append(bytes.Clone(files["rules/risk/data.yaml"]), `
  - id: candidate_amount
    group: amount
    when: request.amount.minor >= 300000 && request.amount.currency == "EUR"
    effect: {score: 60, reason: candidate_amount}
`...)
	var tarball bytes.Buffer
	if err := files.WriteTarball(&tarball); err != nil {
		t.Fatal(err)
	}
	if a := e.push("ann", tarball.Bytes(), "review from 3,000.00"); a.status != http.StatusSeeOther {
		t.Fatalf("push: %d %s", a.status, a.body)
	}

	wantStatus(t, "the revision page", e.users["carl"].do("GET", "/admin/policies/1", nil), http.StatusOK, `id="backtest-form"`)
	window := url.Values{"from": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}, "to": {time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")}}
	wantStatus(t, "support backtests", e.users["sue"].do("POST", "/admin/policies/1/backtest", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	wantStatus(t, "no CSRF token", e.users["ann"].do("POST", "/admin/policies/1/backtest", window), http.StatusForbidden)
	wantStatus(t, "a window that is not one", e.step("ann", "1", "backtest", url.Values{"from": {"last week"}, "to": window["to"]}), http.StatusBadRequest, "is not a time")
	wantStatus(t, "an unknown revision", e.step("ann", "7", "backtest", url.Values{"from": window["from"], "to": window["to"]}), http.StatusNotFound)

	a := e.step("ann", "1", "backtest", url.Values{"from": window["from"], "to": window["to"], "point": {"risk"}, "merchant": {""}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.loc, "/admin/policies/backtests/bt_") {
		t.Fatalf("start: %d %s %s", a.status, a.loc, a.body)
	}
	jobPage := a.loc
	wantStatus(t, "the queued backtest", e.users["ann"].do("GET", jobPage, nil), http.StatusOK,
		`<meta http-equiv="refresh" content="2">`, "queued", "0 of 4 decisions replayed")

	if _, err := (&bundles.BacktestWorker{Store: e.db, Bundles: e.db}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	done := e.users["carl"].do("GET", jobPage, nil)
	wantStatus(t, "the report", done, http.StatusOK, "4 of 4 decisions replayed (100%)", "risk: 2 of 4 decisions change",
		"<td>allow</td><td>review</td><td class=\"num\">2</td>", "<td>refused 2</td>", `href="/admin/payments/shop/`+p.ID+`"`)
	if strings.Contains(done.body, "http-equiv") {
		t.Error("a finished backtest's page still refreshes")
	}
	wantStatus(t, "the list", e.users["ada"].do("GET", "/admin/policies/backtests", nil), http.StatusOK, `href="`+jobPage+`"`, "4 / 4")
	wantStatus(t, "an unknown backtest", e.users["ann"].do("GET", "/admin/policies/backtests/bt_nope", nil), http.StatusNotFound)
	wantStatus(t, "not a backtest id", e.users["ann"].do("GET", "/admin/policies/backtests/x", nil), http.StatusNotFound)
	wantStatus(t, "the list for support", e.users["sue"].do("GET", "/admin/policies/backtests", nil), http.StatusForbidden)

	es, err := e.db.AuditEntries(ctx, 0, 1)
	if err != nil || es[0].Action != "policy_bundle.backtest" || es[0].Actor != "admin:ann" {
		t.Errorf("audit: %+v %v", es, err)
	}
}
