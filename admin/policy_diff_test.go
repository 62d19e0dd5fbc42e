package admin_test

import (
	"bytes"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// editedTarball is the default bundle with edits (file, old text, new
// text) as a .tar.gz.
func editedTarball(t *testing.T, edits ...[3]string) []byte {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		if !bytes.Contains(files[e[0]], []byte(e[1])) {
			t.Fatalf("%s has no %q", e[0], e[1])
		}
		files[e[0]] = bytes.Replace(files[e[0]], []byte(e[1]), []byte(e[2]), 1)
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPolicyDiffPage: a revision's page offers to compare it with another
// (the active one by default); the comparison shows the Rego file's
// unified diff with its lines added and removed marked by class, the rule
// changed with its old and new effect, the data values added and removed,
// for every role that views policies and nobody else, with nothing inline
// that the CSP refuses; a bad or unknown revision gets a readable page.
func TestPolicyDiffPage(t *testing.T) {
	e := newPolicyEnv(t)
	if a := e.push("ann", defaultTarball(t), "the default"); a.status != http.StatusSeeOther {
		t.Fatalf("push 1: %d %s", a.status, a.body)
	}
	for _, step := range []struct{ who, step string }{{"ann", "submit"}, {"carl", "approve"}, {"ada", "activate"}} {
		if a := e.step(step.who, "1", step.step, nil); a.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", step.step, a.status, a.body)
		}
	}
	edited := editedTarball(t,
		[3]string{"risk.rego", "package paywire.risk\n", "package paywire.risk\n\n# reviewed in December\n"},
		[3]string{"rules/risk/data.yaml", "{score: 100, reason: blocked_bin}", "{score: 95, reason: blocked_bin}"},
		[3]string{"paywire/lists/data.yaml", `"510999": true`, `"510998": true`},
	)
	if a := e.push("ann", edited, "a lower score"); a.status != http.StatusSeeOther {
		t.Fatalf("push 2: %d %s", a.status, a.body)
	}

	// The form on revision 2's page compares with the active revision.
	page := e.users["carl"].do("GET", "/admin/policies/2", nil)
	wantStatus(t, "revision 2", page, http.StatusOK, `id="compare-form"`, `action="/admin/policies/2/diff"`)
	if !regexp.MustCompile(`name="with"[^>]*value="1"`).MatchString(page.body) {
		t.Errorf("the compare form does not offer the active revision:\n%s", page.body)
	}
	if regexp.MustCompile(`name="with"[^>]*value="1"`).MatchString(e.users["carl"].do("GET", "/admin/policies/1", nil).body) {
		t.Error("the active revision's page offers to compare it with itself")
	}

	for _, who := range []string{"ann", "carl", "ada"} {
		a := e.users[who].do("GET", "/admin/policies/2/diff?with=1", nil)
		wantStatus(t, "the comparison for "+who, a, http.StatusOK, "From revision 1 to revision 2")
		body := html.UnescapeString(a.body)
		for _, want := range []string{
			`<span class="head">--- a/risk.rego</span><span class="head">+++ b/risk.rego</span>`,
			`<span class="add">+# reviewed in December</span>`,
			`<code class="name">risk.blocked_bin</code>`,
			`<dd class="del"><code>{"reason":"blocked_bin","score":100}</code></dd>`,
			`<dd class="add"><code>{"reason":"blocked_bin","score":95}</code></dd>`,
			`<dt>when</dt><dd><code>in_list("blocked_bins", request.card.bin)</code></dd>`, // unchanged, unmarked
			`<code>data.paywire.lists.blocked_bins["510998"]</code>`,
			`<code>data.paywire.lists.blocked_bins["510999"]</code>`,
			`href="/admin/policies/2/files/rules/risk/data.yaml"`,
			`href="/admin/policies/1/diff?with=2"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the comparison does not show %q", who, want)
			}
		}
		if strings.Contains(a.body, "style=") || strings.Contains(a.body, "<style") || regexp.MustCompile(`<script(?:\s|>)`).MatchString(a.body) {
			t.Error("the comparison has inline style or script")
		}
	}
	// The other way round, the removed line is marked removed.
	back := e.users["ann"].do("GET", "/admin/policies/1/diff?with=2", nil)
	wantStatus(t, "from 2 to 1", back, http.StatusOK, `<span class="del">-# reviewed in December</span>`)
	same := e.users["ann"].do("GET", "/admin/policies/2/diff?with=2", nil)
	wantStatus(t, "a revision with itself", same, http.StatusOK, `id="no-difference"`)

	wantStatus(t, "support", e.users["sue"].do("GET", "/admin/policies/2/diff?with=1", nil), http.StatusForbidden)
	wantStatus(t, "without with", e.users["ann"].do("GET", "/admin/policies/2/diff", nil), http.StatusBadRequest, "Say which revision to compare revision 2 with")
	wantStatus(t, "with a word", e.users["ann"].do("GET", "/admin/policies/2/diff?with=latest", nil), http.StatusBadRequest, "is not a revision number")
	wantStatus(t, "with an unknown revision", e.users["ann"].do("GET", "/admin/policies/2/diff?with=9", nil), http.StatusNotFound, "there is no policy bundle revision 9")
	wantStatus(t, "an unknown revision", e.users["ann"].do("GET", "/admin/policies/9/diff?with=1", nil), http.StatusNotFound)
}
