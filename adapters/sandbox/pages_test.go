package sandbox_test

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden pages in testdata")

// noRedirects is a browser that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, u string) response {
	t.Helper()
	resp, err := noRedirects.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func post(t *testing.T, u string, form url.Values) response {
	t.Helper()
	resp, err := noRedirects.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var nonceField = regexp.MustCompile(`name="nonce" value="([0-9a-f]+)"`)

func nonce(t *testing.T, page string) string {
	t.Helper()
	m := nonceField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no nonce in the page:\n%s", page)
	}
	return m[1]
}

// checkPage asserts what every sandbox page must be: strict security
// headers, and no script or inline style for them to forbid.
func checkPage(t *testing.T, r response, returnOrigin string) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	formAction := "form-action 'self'"
	if returnOrigin != "" {
		formAction += " " + returnOrigin
	}
	if !strings.Contains(csp, formAction+";") {
		t.Errorf("CSP %q lacks %q", csp, formAction)
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers %v", r.header)
	}
	for _, bad := range []string{"<script", "style=", "<style", "javascript:"} {
		if strings.Contains(strings.ToLower(r.body), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

func origin(u string) string {
	p, _ := url.Parse(u)
	return p.Scheme + "://" + p.Host
}

func TestChallengeApprove(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		res := e.authorize(t, "pay-3ds", "4000000000003220")
		page := get(t, res.RedirectURL)
		if page.status != http.StatusOK || !strings.Contains(page.body, "12.34 EUR") || !strings.Contains(page.body, "Visa ending 3220") {
			t.Fatalf("challenge page %d:\n%s", page.status, page.body)
		}
		checkPage(t, page, origin(e.returnURL))
		golden(t, "challenge.html", page.body, e, res.Reference)

		// A post without the page's nonce is refused and changes nothing.
		forged := post(t, res.RedirectURL, url.Values{"decision": {"approve"}, "nonce": {strings.Repeat("0", 24)}})
		if forged.status != http.StatusForbidden {
			t.Fatalf("forged post: %d", forged.status)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Pending || st.RedirectURL != res.RedirectURL {
			t.Fatalf("status after a forged post %+v", st)
		}

		n := nonce(t, page.body)
		done := post(t, res.RedirectURL, url.Values{"decision": {"approve"}, "nonce": {n}})
		if done.status != http.StatusSeeOther || done.header.Get("Location") != e.returnURL {
			t.Fatalf("approve: %d to %q, want 303 to %q", done.status, done.header.Get("Location"), e.returnURL)
		}
		checkPage(t, done, origin(e.returnURL))
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status after approval %+v", st)
		}
		// A second click sends the browser back again and nothing else.
		if again := post(t, res.RedirectURL, url.Values{"decision": {"deny"}, "nonce": {n}}); again.status != http.StatusSeeOther {
			t.Fatalf("second post: %d", again.status)
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventAuthorized || evs[0].Reference != res.Reference || evs[0].PaymentID != "pay-3ds" || evs[0].Amount != 1234 {
			t.Fatalf("webhooks %+v", evs)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status after a second post %+v", st)
		}
		// The page now tells the outcome and links back.
		after := get(t, res.RedirectURL)
		if after.status != http.StatusOK || !strings.Contains(after.body, "Payment approved") || strings.Contains(after.body, "nonce") {
			t.Fatalf("page after the decision:\n%s", after.body)
		}
	})
}

func TestChallengeDeny(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		res := e.authorize(t, "pay-3ds-no", "4000000000003220")
		n := nonce(t, get(t, res.RedirectURL).body)
		if bad := post(t, res.RedirectURL, url.Values{"decision": {"maybe"}, "nonce": {n}}); bad.status != http.StatusBadRequest {
			t.Fatalf("unknown answer: %d", bad.status)
		}
		done := post(t, res.RedirectURL, url.Values{"decision": {"deny"}, "nonce": {n}})
		if done.status != http.StatusSeeOther || done.header.Get("Location") != e.returnURL {
			t.Fatalf("deny: %d to %q", done.status, done.header.Get("Location"))
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventDeclined || evs[0].Code != "authentication_failed" {
			t.Fatalf("webhooks %+v", evs)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Declined || st.Code != "authentication_failed" {
			t.Fatalf("status %+v", st)
		}
	})
}

func TestChallengeCancelledByTheShop(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		res := e.authorize(t, "pay-3ds-void", "4000000000003220")
		n := nonce(t, get(t, res.RedirectURL).body)
		if r, err := e.a.Void(ctx, adapters.Operation{ProviderReference: res.Reference}); err != nil || r.Status != adapters.Approved {
			t.Fatalf("void %+v, %v", r, err)
		}
		late := post(t, res.RedirectURL, url.Values{"decision": {"approve"}, "nonce": {n}})
		if late.status != http.StatusConflict || !strings.Contains(late.body, "cancelled by the shop") {
			t.Fatalf("approval after a void: %d\n%s", late.status, late.body)
		}
		e.a.Wait()
		if d := e.hooks.deliveries(); len(d) != 0 {
			t.Fatalf("%d webhooks after a void", len(d))
		}
	})
}

func bankRequest(e *env, id string) adapters.AuthorizeRequest {
	return adapters.AuthorizeRequest{PaymentID: id, Kind: paywire.KindDeposit, Amount: eur(4999),
		Method: "bank_redirect", Bank: "demo-sparkasse", ReturnURL: e.returnURL}
}

func TestBankLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		res, err := e.a.Authorize(ctx, bankRequest(e, "pay-bank"))
		if err != nil || res.Status != adapters.Pending || res.RedirectURL != e.pages.URL+"/sandbox/acquirer-t/bank/"+res.Reference {
			t.Fatalf("got %+v, %v", res, err)
		}
		page := get(t, res.RedirectURL)
		for _, want := range []string{"Demo Sparkasse", "49.99 EUR", "Log in and pay", "Cancel", `type="password"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("bank page lacks %q", want)
			}
		}
		checkPage(t, page, origin(e.returnURL))
		golden(t, "bank.html", page.body, e, res.Reference)

		n := nonce(t, page.body)
		empty := post(t, res.RedirectURL, url.Values{"action": {"pay"}, "username": {"jane"}, "nonce": {n}})
		if empty.status != http.StatusUnprocessableEntity || !strings.Contains(empty.body, "Enter your username and password") ||
			!strings.Contains(empty.body, `value="jane"`) {
			t.Fatalf("login without a password: %d\n%s", empty.status, empty.body)
		}
		done := post(t, res.RedirectURL, url.Values{"action": {"pay"}, "username": {"jane"}, "password": {"x"}, "nonce": {n}})
		if done.status != http.StatusSeeOther || done.header.Get("Location") != e.returnURL {
			t.Fatalf("pay: %d to %q", done.status, done.header.Get("Location"))
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventCaptured || evs[0].Amount != 4999 || evs[0].PaymentID != "pay-bank" {
			t.Fatalf("webhooks %+v", evs)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status %+v", st)
		}
		// The bank moved the money: a refund works, a repeat deposit on it too.
		if r, _ := e.a.Refund(ctx, adapters.Operation{ProviderReference: res.Reference, Amount: eur(999)}); r.Status != adapters.Approved {
			t.Fatalf("refund %+v", r)
		}
		if r, _ := e.a.Pay(ctx, adapters.Payment{PaymentID: "pay-again", Kind: paywire.KindDeposit, Amount: eur(100), SourceReference: res.Reference}); r.Status != adapters.Approved {
			t.Fatalf("repeat deposit %+v", r)
		}
	})
}

// TestCancelButtons: the end user gives up on the provider's page, on
// either page: the payment is cancelled, not declined, and a cancelled
// webhook says so.
func TestCancelButtons(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		challenge := e.authorize(t, "pay-3ds-cancel", "4000000000003220")
		bank, err := e.a.Authorize(ctx, bankRequest(e, "pay-bank-cancel"))
		if err != nil {
			t.Fatal(err)
		}
		pages := []struct {
			res  adapters.Result
			form url.Values
		}{
			{challenge, url.Values{"decision": {"cancel"}}},
			{bank, url.Values{"action": {"cancel"}}},
		}
		for _, p := range pages {
			page := get(t, p.res.RedirectURL)
			if !strings.Contains(page.body, ">Cancel</button>") {
				t.Fatalf("no Cancel button on\n%s", page.body)
			}
			p.form.Set("nonce", nonce(t, page.body))
			done := post(t, p.res.RedirectURL, p.form)
			if done.status != http.StatusSeeOther || done.header.Get("Location") != e.returnURL {
				t.Fatalf("cancel: %d to %q", done.status, done.header.Get("Location"))
			}
			st, err := e.a.Status(ctx, adapters.StatusRequest{Reference: p.res.Reference})
			if err != nil || st.Status != adapters.Cancelled || st.Code != "cancelled_by_user" {
				t.Fatalf("status %+v, %v; want cancelled", st, err)
			}
			if after := get(t, p.res.RedirectURL); !strings.Contains(after.body, "You cancelled this payment") {
				t.Fatalf("page after the cancel:\n%s", after.body)
			}
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 2 {
			t.Fatalf("webhooks %+v, want two", evs)
		}
		for i, ev := range evs {
			if ev.Type != adapters.EventCancelled || ev.Code != "cancelled_by_user" || ev.Reference != pages[i].res.Reference || ev.Amount != 0 {
				t.Errorf("webhook %+v, want cancelled for %s", ev, pages[i].res.Reference)
			}
		}
	})
}

// TestThreeDS: when risk asks for 3-D Secure, a card that would be
// approved goes to the challenge page; one that is declined stays so.
func TestThreeDS(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.ApprovalRate = 0.5 })
		req := func(id, number string) adapters.AuthorizeRequest {
			return adapters.AuthorizeRequest{PaymentID: id, Kind: paywire.KindDeposit, Amount: eur(1234), Method: "card",
				Card: card(number), ReturnURL: e.returnURL, ThreeDS: true}
		}
		// Which ordinary payment ids the rate approves, asked without 3-D Secure.
		var approvedID, declinedID string
		for i := 0; approvedID == "" || declinedID == ""; i++ {
			id := fmt.Sprintf("pay-rate-%d", i)
			if e.authorize(t, id, "4111111111111111").Status == adapters.Approved {
				approvedID = id
			} else {
				declinedID = id
			}
		}
		tests := []struct {
			id, number string
			status     adapters.Status
			code       string
		}{
			{"pay-4242", "4242424242424242", adapters.Pending, ""},
			{approvedID, "4111111111111111", adapters.Pending, ""},
			{declinedID, "4111111111111111", adapters.Declined, "acquirer_declined"},
			{"pay-0002", "4000000000000002", adapters.Declined, "do_not_honor"},
			{"pay-0119", "4000000000000119", adapters.Failed, "processing_error"},
			{"pay-3220", "4000000000003220", adapters.Pending, ""},
		}
		for _, tt := range tests {
			res, err := e.a.Authorize(ctx, req(tt.id, tt.number))
			if err != nil || res.Status != tt.status || res.Code != tt.code {
				t.Fatalf("%s: %+v, %v; want %s %q", tt.number, res, err, tt.status, tt.code)
			}
			if (res.Status == adapters.Pending) != strings.Contains(res.RedirectURL, "/challenge/") {
				t.Fatalf("%s: redirect %q", tt.number, res.RedirectURL)
			}
		}
		res, _ := e.a.Authorize(ctx, req("pay-4242-again", "4242424242424242"))
		page := get(t, res.RedirectURL)
		if !strings.Contains(page.body, "Visa ending 4242") {
			t.Fatalf("challenge page:\n%s", page.body)
		}
		post(t, res.RedirectURL, url.Values{"decision": {"approve"}, "nonce": {nonce(t, page.body)}})
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved || st.Captured {
			t.Fatalf("status after the challenge %+v", st)
		}
		r := req("pay-no-return", "4242424242424242")
		r.ReturnURL = ""
		if _, err := e.a.Authorize(ctx, r); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Fatalf("3-D Secure without a return URL: %v", err)
		}
	})
}

func TestUnknownPages(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		challenge := e.authorize(t, "pay-c", "4000000000003220")
		for _, path := range []string{
			"/sandbox/acquirer-t/challenge/sbx_0000",
			"/sandbox/acquirer-t/bank/" + challenge.Reference, // a challenge is not a bank login
			"/sandbox/acquirer-t/elsewhere",
			"/sandbox/acquirer-t/",
		} {
			r := get(t, e.pages.URL+path)
			if r.status != http.StatusNotFound || !strings.Contains(r.body, "<h1>") {
				t.Errorf("%s: %d\n%s", path, r.status, r.body)
			}
			checkPage(t, r, "")
		}
		if r := post(t, e.pages.URL+"/sandbox/acquirer-t/challenge/sbx_0000", url.Values{"decision": {"approve"}}); r.status != http.StatusNotFound {
			t.Errorf("post to an unknown reference: %d", r.status)
		}
		r := get(t, e.pages.URL+"/sandbox/acquirer-t/assets/sandbox.css")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || !strings.Contains(r.body, ".panel") {
			t.Errorf("stylesheet: %d %q", r.status, r.header.Get("Content-Type"))
		}
		req, _ := http.NewRequest(http.MethodDelete, challenge.RedirectURL, nil)
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE: %d", resp.StatusCode)
		}
	})
}

// golden compares a page with testdata/<name>, with what changes from run
// to run (listener ports, reference, nonce) replaced by placeholders.
func golden(t *testing.T, name, page string, e *env, reference string) {
	t.Helper()
	page = strings.ReplaceAll(page, reference, "REFERENCE")
	page = nonceField.ReplaceAllString(page, `name="nonce" value="NONCE"`)
	page = strings.ReplaceAll(page, e.pages.URL, "BASEURL")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if page != string(want) {
		t.Errorf("%s changed (run with -update if on purpose):\n%s", name, page)
	}
}
