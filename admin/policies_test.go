package admin_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
)

// policyEnv is a back office with the policy pages and its users signed in.
type policyEnv struct {
	*env
	users map[string]*browser
}

func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	e := newEnv(t, map[string][]string{
		"ann":  {"risk_analyst"},
		"cora": {"risk_analyst", "compliance"},
		"carl": {"compliance"},
		"ada":  {"admin"},
		"sue":  {"support"},
	}, func(a *admin.App, db *store.DB) {
		a.PolicyPages = admin.PolicyPages{Policies: &bundles.Service{Store: db, Users: db}}
	})
	pe := &policyEnv{env: e, users: map[string]*browser{}}
	for _, n := range []string{"ann", "cora", "carl", "ada", "sue"} {
		b := e.browser()
		if a := b.signIn(n, "pw-"+n); a.status != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", n, a.status)
		}
		pe.users[n] = b
	}
	return pe
}

func defaultTarball(t *testing.T) []byte {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// push uploads archive as who, with the CSRF token of the list page.
func (e *policyEnv) push(who string, archive []byte, message string) answer {
	e.t.Helper()
	b := e.users[who]
	page := b.do("GET", "/admin/policies", nil)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("csrf", csrfOf(e.t, page.body))
	_ = w.WriteField("message", message)
	f, _ := w.CreateFormFile("bundle", "bundle.tar.gz")
	_, _ = f.Write(archive)
	_ = w.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/admin/policies/push", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := b.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, loc: res.Header.Get("Location"), body: string(raw), header: res.Header}
}

// step posts a life-cycle step of revision rev as who, from its page.
func (e *policyEnv) step(who, rev, step string, form url.Values) answer {
	e.t.Helper()
	b := e.users[who]
	page := b.do("GET", "/admin/policies/"+rev, nil)
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrfOf(e.t, page.body))
	return b.do("POST", "/admin/policies/"+rev+"/"+step, form)
}

func (e *policyEnv) state(rev int64) paywire.BundleState {
	e.t.Helper()
	b, err := e.db.Bundle(e.t.Context(), rev)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.State
}

func wantStatus(t *testing.T, what string, a answer, status int, contains ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d, want %d: %s", what, a.status, status, a.body)
	}
	for _, c := range contains {
		if !strings.Contains(a.body, c) {
			t.Errorf("%s: the page does not say %q: %s", what, c, a.body)
		}
	}
}

// TestPolicyPages: the life cycle through the back office, each step by
// the role that may take it, each refusal readable, and every step in the
// audit log under the user who took it.
func TestPolicyPages(t *testing.T) {
	e := newPolicyEnv(t)
	archive := defaultTarball(t)

	wantStatus(t, "a page for support", e.users["sue"].do("GET", "/admin/policies", nil), http.StatusForbidden)
	wantStatus(t, "an empty registry", e.users["carl"].do("GET", "/admin/policies", nil), http.StatusOK, "No revision is stored yet")
	if strings.Contains(e.users["carl"].do("GET", "/admin/policies", nil).body, `id="push-form"`) {
		t.Error("compliance is offered the push form")
	}

	wantStatus(t, "not a bundle", e.push("ann", []byte("not gzip"), "broken"), http.StatusBadRequest, "not a bundle")
	wantStatus(t, "push without a message", e.push("ann", archive, " "), http.StatusBadRequest, "message")
	a := e.push("ann", archive, "raise the review threshold")
	if a.status != http.StatusSeeOther || a.loc != "/admin/policies/1?done=push" {
		t.Fatalf("push: %d %s %s", a.status, a.loc, a.body)
	}
	wantStatus(t, "the draft", e.users["ann"].do("GET", "/admin/policies/1?done=push", nil), http.StatusOK, "Pushed as a draft", `id="submit-form"`, "rules/risk/data.yaml")

	// Only the author submits; the submission runs the tests.
	wantStatus(t, "submit by another analyst", e.step("cora", "1", "submit", nil), http.StatusForbidden, "only its author submits it")
	wantStatus(t, "submit by support", e.users["sue"].do("POST", "/admin/policies/1/submit", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	wantStatus(t, "submit without the CSRF token", e.users["ann"].do("POST", "/admin/policies/1/submit", url.Values{}), http.StatusForbidden)
	if a := e.step("ann", "1", "submit", nil); a.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	if s := e.state(1); s != paywire.BundleSubmitted {
		t.Fatalf("state after submit: %s", s)
	}

	// Four eyes: an author with the compliance role cannot approve their
	// own revision; the page says why and offers no button.
	if a := e.push("cora", archive, "same rules, cora's"); a.status != http.StatusSeeOther {
		t.Fatalf("push by cora: %d %s", a.status, a.body)
	}
	if a := e.step("cora", "2", "submit", nil); a.status != http.StatusSeeOther {
		t.Fatalf("submit by cora: %d %s", a.status, a.body)
	}
	own := e.users["cora"].do("GET", "/admin/policies/2", nil)
	wantStatus(t, "cora's own revision", own, http.StatusOK, "four eyes")
	if strings.Contains(own.body, `id="approve-form"`) {
		t.Error("the author is offered the approve button")
	}
	wantStatus(t, "approve by its author", e.step("cora", "2", "approve", nil), http.StatusForbidden, "cannot approve it")
	wantStatus(t, "approve without compliance", e.step("ann", "1", "approve", nil), http.StatusForbidden)
	if s := e.state(2); s != paywire.BundleSubmitted {
		t.Fatalf("state after the refused self-approval: %s", s)
	}

	if a := e.step("carl", "1", "approve", nil); a.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", a.status, a.body)
	}
	wantStatus(t, "activate by compliance", e.step("carl", "1", "activate", nil), http.StatusForbidden)
	if a := e.step("ada", "1", "activate", nil); a.status != http.StatusSeeOther {
		t.Fatalf("activate: %d %s", a.status, a.body)
	}
	list := e.users["carl"].do("GET", "/admin/policies", nil)
	wantStatus(t, "the registry", list, http.StatusOK, `id="active-revision"><a href="/admin/policies/1">1</a>`, "raise the review threshold", "activate")

	// Revision 2 (approved by carl) replaces 1; 1 comes back only by a
	// rollback, which needs its reason.
	if a := e.step("carl", "2", "approve", nil); a.status != http.StatusSeeOther {
		t.Fatalf("approve 2: %d %s", a.status, a.body)
	}
	if a := e.step("ada", "2", "activate", nil); a.status != http.StatusSeeOther {
		t.Fatalf("activate 2: %d %s", a.status, a.body)
	}
	if !strings.Contains(e.users["ada"].do("GET", "/admin/policies/1", nil).body, `id="rollback-form"`) {
		t.Error("no rollback form on the retired revision")
	}
	wantStatus(t, "rollback without a reason", e.step("ada", "1", "rollback", url.Values{"reason": {" "}}), http.StatusBadRequest, "reason")
	wantStatus(t, "activate the older revision", e.step("ada", "1", "activate", nil), http.StatusConflict)
	if a := e.step("ada", "1", "rollback", url.Values{"reason": {"revision 2 declines returning customers"}}); a.status != http.StatusSeeOther {
		t.Fatalf("rollback: %d %s", a.status, a.body)
	}
	if s := e.state(1); s != paywire.BundleActive {
		t.Fatalf("state after rollback: %s", s)
	}

	// Compliance sends a submitted revision back with its reason.
	if a := e.push("ann", archive, "a limit nobody signed off"); a.status != http.StatusSeeOther {
		t.Fatalf("push 3: %d %s", a.status, a.body)
	}
	if a := e.step("ann", "3", "submit", nil); a.status != http.StatusSeeOther {
		t.Fatalf("submit 3: %d %s", a.status, a.body)
	}
	wantStatus(t, "reject by an analyst", e.step("ann", "3", "reject", url.Values{"reason": {"x"}}), http.StatusForbidden)
	wantStatus(t, "reject without a reason", e.step("carl", "3", "reject", url.Values{"reason": {""}}), http.StatusBadRequest, "reason")
	if a := e.step("carl", "3", "reject", url.Values{"reason": {"needs a risk sign-off"}}); a.status != http.StatusSeeOther {
		t.Fatalf("reject: %d %s", a.status, a.body)
	}
	wantStatus(t, "the rejected revision", e.users["ann"].do("GET", "/admin/policies/3", nil), http.StatusOK, "by carl", "needs a risk sign-off")

	// The file view and the download are the stored revision.
	wantStatus(t, "a file", e.users["carl"].do("GET", "/admin/policies/1/files/rules/risk/data.yaml", nil), http.StatusOK, "rules:")
	wantStatus(t, "a missing file", e.users["carl"].do("GET", "/admin/policies/1/files/nope.rego", nil), http.StatusNotFound)
	wantStatus(t, "an unknown revision", e.users["carl"].do("GET", "/admin/policies/99", nil), http.StatusNotFound)
	dl := e.users["carl"].do("GET", "/admin/policies/1/bundle.tar.gz", nil)
	got, err := engine.ReadTarball(strings.NewReader(dl.body))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.db.Bundle(t.Context(), 1)
	if got.Hash() != stored.Hash {
		t.Errorf("the download's hash %s, stored %s", got.Hash(), stored.Hash)
	}

	// Every step, by whom.
	entries, err := e.db.AuditEntries(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for i := len(entries) - 1; i >= 0; i-- {
		if strings.HasPrefix(entries[i].Action, "policy_bundle.") {
			steps = append(steps, entries[i].Actor+" "+strings.TrimPrefix(entries[i].Action, "policy_bundle."))
		}
	}
	want := "admin:ann push,admin:ann submit,admin:cora push,admin:cora submit,admin:carl approve,admin:ada activate,admin:carl approve,admin:ada activate,admin:ada rollback,admin:ann push,admin:ann submit,admin:carl reject"
	if strings.Join(steps, ",") != want {
		t.Errorf("audited steps:\n %s\nwant\n %s", strings.Join(steps, ","), want)
	}
}
