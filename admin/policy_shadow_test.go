package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/store"
)

// TestPolicyShadowPages: the start form on a submitted revision's page
// (for a risk analyst, compliance or an admin, not for support or on a
// draft), the shadow page with the counts by point and the disagreements
// linked to their payments, filtered and paged, the stop form; every form
// needs its CSRF token, and start and stop are audited as the user.
func TestPolicyShadowPages(t *testing.T) {
	e := newEnv(t, map[string][]string{
		"ann":  {"risk_analyst"},
		"carl": {"compliance"},
		"sue":  {"support"},
	}, func(a *admin.App, db *store.DB) {
		a.PolicyPages = admin.PolicyPages{Policies: &bundles.Service{Store: db, Users: db, Shadows: db}}
	})
	pe := &policyEnv{env: e, users: map[string]*browser{}}
	for _, n := range []string{"ann", "carl", "sue"} {
		b := e.browser()
		if a := b.signIn(n, "pw-"+n); a.status != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", n, a.status)
		}
		pe.users[n] = b
	}
	archive := defaultTarball(t)
	if a := pe.push("ann", archive, "candidate"); a.status != http.StatusSeeOther {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	draft := pe.users["ann"].do("GET", "/admin/policies/1", nil)
	if strings.Contains(draft.body, `id="shadow-form"`) {
		t.Error("a draft is offered the shadow form")
	}
	if a := pe.step("ann", "1", "submit", nil); a.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	wantStatus(t, "the shadow page before any", pe.users["carl"].do("GET", "/admin/policies/shadow", nil), http.StatusOK, `id="no-shadow"`)
	wantStatus(t, "the shadow page for support", pe.users["sue"].do("GET", "/admin/policies/shadow", nil), http.StatusForbidden)
	wantStatus(t, "the submitted revision", pe.users["carl"].do("GET", "/admin/policies/1", nil), http.StatusOK, `id="shadow-form"`)
	wantStatus(t, "start by support", pe.users["sue"].do("POST", "/admin/policies/1/shadow", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	wantStatus(t, "start without the CSRF token", pe.users["carl"].do("POST", "/admin/policies/1/shadow", url.Values{}), http.StatusForbidden)
	if run, _ := e.db.RunningShadow(t.Context()); run != nil {
		t.Fatalf("a refused start started %+v", run)
	}
	if a := pe.step("carl", "1", "shadow", nil); a.status != http.StatusSeeOther || a.loc != "/admin/policies/shadow?done=start" {
		t.Fatalf("start: %d %s %s", a.status, a.loc, a.body)
	}
	wantStatus(t, "a second start", pe.step("ann", "1", "shadow", nil), http.StatusConflict, "stop it first")
	wantStatus(t, "the shadowing revision", pe.users["ann"].do("GET", "/admin/policies/1", nil), http.StatusOK, `id="shadowing"`)

	// What the nodes found.
	var rows []paywire.ShadowDisagreement
	for i := range 60 {
		rows = append(rows, paywire.ShadowDisagreement{DecisionID: fmt.Sprintf("dec_%02d", i), PaymentID: fmt.Sprintf("pay_%02d", i), MerchantID: "shop",
			Point: "risk", LiveRevision: "builtin", LiveOutcome: "allow", ShadowRevision: "1", ShadowOutcome: "review", At: time.Now()})
	}
	rows[0].Point, rows[0].PaymentID, rows[0].LiveOutcome, rows[0].ShadowOutcome = "availability", "", "card", "card,bank_transfer"
	if err := e.db.RecordShadow(t.Context(), 1, []paywire.ShadowCount{{Point: "risk", Result: "agree", N: 59}, {Point: "risk", Result: "disagree", N: 59},
		{Point: "availability", Result: "disagree", N: 1}, {Point: "risk", Result: "dropped", N: 4}}, rows); err != nil {
		t.Fatal(err)
	}
	page := pe.users["ann"].do("GET", "/admin/policies/shadow?done=start", nil)
	wantStatus(t, "the shadow page", page, http.StatusOK, "Shadow started", `id="shadow-revision"><a href="/admin/policies/1">revision 1</a>`,
		"<td>risk</td><td class=\"num\">59</td><td class=\"num\">59</td><td class=\"num\">50.00 %</td><td class=\"num\">0</td><td class=\"num\">4</td>",
		`<a href="/admin/payments/shop/pay_59">pay_59</a>`, `id="next-page"`, `id="stop-form"`)
	if strings.Contains(page.body, "pay_09") {
		t.Error("the first page lists more than the newest 50")
	}
	older := pe.users["ann"].do("GET", "/admin/policies/shadow?shadow=1&before="+"11", nil)
	wantStatus(t, "the older page", older, http.StatusOK, "pay_09", "card,bank_transfer")
	filtered := pe.users["ann"].do("GET", "/admin/policies/shadow?point=availability", nil)
	if !strings.Contains(filtered.body, "card,bank_transfer") || strings.Contains(filtered.body, "pay_59") {
		t.Errorf("the availability filter: %s", filtered.body)
	}
	wantStatus(t, "an unknown point", pe.users["ann"].do("GET", "/admin/policies/shadow?point=pricing", nil), http.StatusBadRequest, "not a decision point")
	wantStatus(t, "a bad cursor", pe.users["ann"].do("GET", "/admin/policies/shadow?before=x", nil), http.StatusBadRequest)

	// Stop.
	wantStatus(t, "stop by support", pe.users["sue"].do("POST", "/admin/policies/shadow/stop", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	wantStatus(t, "stop without the CSRF token", pe.users["ann"].do("POST", "/admin/policies/shadow/stop", url.Values{}), http.StatusForbidden)
	stop := pe.users["ann"].do("POST", "/admin/policies/shadow/stop", url.Values{"csrf": {csrfOf(t, page.body)}})
	if stop.status != http.StatusSeeOther || stop.loc != "/admin/policies/shadow?done=stop" {
		t.Fatalf("stop: %d %s %s", stop.status, stop.loc, stop.body)
	}
	after := pe.users["ann"].do("GET", "/admin/policies/shadow?done=stop", nil)
	wantStatus(t, "after the stop", after, http.StatusOK, "Shadow stopped", `id="shadow-stopped">by ann`)
	if strings.Contains(after.body, `id="stop-form"`) {
		t.Error("a stopped shadow offers the stop form")
	}
	wantStatus(t, "stop again", pe.users["ann"].do("POST", "/admin/policies/shadow/stop", url.Values{"csrf": {csrfOf(t, after.body)}}), http.StatusConflict, "no revision shadows")

	entries, err := e.db.AuditEntries(t.Context(), 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if strings.HasPrefix(en.Action, "policy_bundle.shadow_") {
			got = append(got, en.Actor+" "+en.Action)
		}
	}
	if fmt.Sprint(got) != "[admin:ann policy_bundle.shadow_stop admin:carl policy_bundle.shadow_start]" {
		t.Errorf("audit: %v", got)
	}
}
