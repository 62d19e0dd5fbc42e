package portal_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/portal"
)

var update = flag.Bool("update", false, "rewrite the golden pages")

// fakeCheckouts stands in for payment.Service: it knows one token, answers
// what a test sets and records what the pages asked.
type fakeCheckouts struct {
	mu sync.Mutex

	checkout *payment.Checkout
	openErr  error

	submitOut   *payment.Outcome
	submitErr   error
	cancelOut   *payment.Outcome
	cancelErr   error
	progressOut *payment.Outcome
	progressErr error

	calls     []string
	submitted []payment.Details
}

var _ portal.Checkouts = (*fakeCheckouts)(nil)

func (f *fakeCheckouts) record(call, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if f.checkout == nil || token != f.checkout.Token {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	}
	return nil
}

func (f *fakeCheckouts) OpenRedirect(ctx context.Context, token string) (*payment.Checkout, error) {
	if err := f.record("OpenRedirect", token); err != nil {
		return nil, err
	}
	if f.openErr != nil {
		return nil, f.openErr
	}
	co := *f.checkout
	return &co, nil
}

func (f *fakeCheckouts) Submit(ctx context.Context, token string, d payment.Details) (*payment.Outcome, error) {
	if err := f.record("Submit", token); err != nil {
		return nil, err
	}
	f.mu.Lock()
	if d.Card != nil {
		c := *d.Card
		d.Card = &c
	}
	f.submitted = append(f.submitted, d)
	f.mu.Unlock()
	return f.submitOut, f.submitErr
}

func (f *fakeCheckouts) CancelRedirect(ctx context.Context, token string) (*payment.Outcome, error) {
	if err := f.record("CancelRedirect", token); err != nil {
		return nil, err
	}
	return f.cancelOut, f.cancelErr
}

func (f *fakeCheckouts) Progress(ctx context.Context, token string) (*payment.Outcome, error) {
	if err := f.record("Progress", token); err != nil {
		return nil, err
	}
	return f.progressOut, f.progressErr
}

func (f *fakeCheckouts) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

const token = "shop-a.pay_1.1900000000.mac"

func newCheckout() *payment.Checkout {
	eur, err := paywire.LookupCurrency("EUR")
	if err != nil {
		panic(err)
	}
	return &payment.Checkout{
		Token: token, PaymentID: "pay_1", MerchantID: "shop-a", MerchantName: "Shop A",
		MerchantReference: "order-42", Kind: paywire.KindDeposit,
		Amount: paywire.Money{Amount: 123456, Currency: eur},
		Methods: []engine.MethodOption{
			{Method: "card", MinMinor: 100, MaxMinor: 500000},
			{Method: "bank_redirect", MinMinor: 1000, MaxMinor: 1000000},
			{Method: "ewallet"},
		},
		ExpiresAt:     time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		State:         paywire.StateCreated,
		ReturnOrigins: []string{"https://shop-a.example", "https://pay.shop-a.example:8443"},
	}
}

type env struct {
	srv  *httptest.Server
	f    *fakeCheckouts
	logs *syncBuffer
}

// syncBuffer collects the handler's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, co *payment.Checkout, configure ...func(*portal.Handler)) *env {
	t.Helper()
	f := &fakeCheckouts{checkout: co}
	logs := &syncBuffer{}
	h := &portal.Handler{Checkouts: f, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, c := range configure {
		c(h)
	}
	r := chi.NewRouter()
	h.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{srv: srv, f: f, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   string
}

// post sends a form as a browser would, without following redirects, and
// checks what every response of the pages must satisfy.
func (e *env) post(t *testing.T, path string, form url.Values, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(t, req)
}

func (e *env) do(t *testing.T, req *http.Request) response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: string(b)}
	checkEveryResponse(t, r)
	return r
}

// checkEveryResponse holds what no page may break: the security headers,
// no scripts, and labels and descriptions that point at real elements.
func checkEveryResponse(t *testing.T, r response) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q is too permissive", csp)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		return
	}
	low := strings.ToLower(r.body)
	for _, bad := range []string{"<script", "javascript:", " onclick", " onload", " style=", "http-equiv"} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(r.body, -1) {
		if ids[m[1]] {
			t.Errorf("id %q is used twice", m[1])
		}
		ids[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?: for| aria-describedby| aria-labelledby)="([^"]+)"`).FindAllStringSubmatch(r.body, -1) {
		for _, id := range strings.Fields(m[1]) {
			if !ids[id] {
				t.Errorf("%s refers to a missing id %q", m[0], id)
			}
		}
	}
	for _, m := range regexp.MustCompile(`<input id="([^"]+)"`).FindAllStringSubmatch(r.body, -1) {
		if !strings.Contains(r.body, `<label for="`+m[1]+`"`) {
			t.Errorf("input %q has no label", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(r.body, -1) {
		if !ids[m[1]] {
			t.Errorf("link to missing #%s", m[1])
		}
	}
	if !regexp.MustCompile(`<html lang="[a-z]{2}">`).MatchString(r.body) {
		t.Error("page has no <html lang>")
	}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page contains %q", w)
		}
	}
}

func checkStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, want, r.body)
	}
}

// golden compares a page with testdata/golden/name.html (-update rewrites).
func golden(t *testing.T, name, body string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".html")
	if *update {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./portal -update)", err)
	}
	if string(want) != body {
		t.Errorf("page differs from %s (run go test ./portal -update and review the diff):\n%s", path, body)
	}
}

func TestStartShowsMethodsInOrderWithLimits(t *testing.T) {
	e := newEnv(t, newCheckout())
	r := e.post(t, "/pay", form("token", token), "Accept-Language", "en-GB,en;q=0.9")
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body,
		`<html lang="en">`, "<h1>Choose a payment method</h1>",
		`action="/pay/method"`, `<input type="hidden" name="token" value="`+token+`">`,
		"Shop A", "order-42", "1,234.56\u00a0EUR",
		"From 1.00\u00a0EUR to 5,000.00\u00a0EUR", "From 10.00\u00a0EUR to 10,000.00\u00a0EUR",
		`action="/pay/cancel"`, "Cancel and return to the shop")
	card := strings.Index(r.body, `value="card"`)
	bank := strings.Index(r.body, `value="bank_redirect"`)
	wallet := strings.Index(r.body, `value="ewallet"`)
	if card < 0 || !(card < bank && bank < wallet) {
		t.Errorf("methods not in the offered order: card %d, bank %d, wallet %d", card, bank, wallet)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, o := range []string{"https://shop-a.example", "https://pay.shop-a.example:8443"} {
		if !strings.Contains(csp, " "+o) {
			t.Errorf("Content-Security-Policy %q does not admit %s", csp, o)
		}
	}
	if got := e.f.called(); !slices.Equal(got, []string{"OpenRedirect"}) {
		t.Errorf("calls %v", got)
	}
	golden(t, "methods-en", r.body)
}

func TestStartGoesStraightToTheOnlyForm(t *testing.T) {
	preselected := newCheckout()
	preselected.Preselected = "bank_redirect"
	single := newCheckout()
	single.Methods = single.Methods[2:]
	for _, tc := range []struct {
		name string
		co   *payment.Checkout
		want string
	}{
		{"preselected", preselected, `<input type="hidden" name="method" value="bank_redirect">`},
		{"single method", single, `<input type="hidden" name="method" value="ewallet">`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.co)
			r := e.post(t, "/pay", form("token", token))
			checkStatus(t, r, http.StatusOK)
			mustContain(t, r.body, tc.want, `action="/pay/submit"`)
			mustNotContain(t, r.body, `action="/pay/method"`, "Choose another payment method")
		})
	}
}

func TestMethodForms(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   []string
	}{
		{"card", []string{
			"<h1>Card details</h1>",
			`name="card_number" type="text" inputmode="numeric" autocomplete="cc-number"`,
			`name="card_expiry_month" type="text" inputmode="numeric" autocomplete="cc-exp-month"`,
			`name="card_expiry_year" type="text" inputmode="numeric" autocomplete="cc-exp-year"`,
			`name="card_cvc" type="text" inputmode="numeric" autocomplete="cc-csc"`,
			`name="card_holder" type="text" autocomplete="cc-name"`,
			"<legend>Expiry date</legend>", `<label for="card-number">Card number</label>`,
			"Pay 1,234.56\u00a0EUR",
		}},
		{"bank_redirect", []string{
			"<h1>Online bank transfer</h1>", "<legend>Your bank</legend>",
			`type="radio" id="bank-sandbox-bank" name="bank" value="sandbox-bank"`, "Sandbox Bank",
			"Demo Sparkasse", "Example Credit Union",
		}},
		{"ewallet", []string{
			"<h1>E-wallet</h1>",
			`name="wallet" type="email" inputmode="email" autocomplete="email"`,
		}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			e := newEnv(t, newCheckout())
			r := e.post(t, "/pay/method", form("token", token, "method", tc.method))
			checkStatus(t, r, http.StatusOK)
			mustContain(t, r.body, tc.want...)
			mustContain(t, r.body, `<input type="hidden" name="method" value="`+tc.method+`">`,
				"Choose another payment method", `action="/pay/cancel"`)
			golden(t, "form-"+tc.method+"-en", r.body)
		})
	}
}

func TestMethodNotOffered(t *testing.T) {
	co := newCheckout()
	co.Methods = co.Methods[:2]
	e := newEnv(t, co)
	for _, m := range []string{"ewallet", "", "<b>"} {
		r := e.post(t, "/pay/method", form("token", token, "method", m))
		checkStatus(t, r, http.StatusUnprocessableEntity)
		mustContain(t, r.body, "This payment method is not available", `action="/pay/method"`)
		mustNotContain(t, r.body, "<b>")
	}
}

const (
	typedNumber = "4111 1111 1111 1112"
	cardDigits  = "4111111111111112"
	typedCVC    = "8361"
)

func refusedCard() *payment.DetailsError {
	return &payment.DetailsError{Fields: []payment.FieldError{
		{Field: "card.cvc", Reason: "length"},
		{Field: "card.number", Reason: "luhn"},
		{Field: "card.expiry", Reason: "expired"},
	}}
}

func cardForm() url.Values {
	return form("token", token, "method", "card", "card_number", typedNumber,
		"card_expiry_month", "04", "card_expiry_year", "21", "card_cvc", typedCVC, "card_holder", "Erika Mustermann")
}

func TestSubmitRefusedCard(t *testing.T) {
	for _, tc := range []struct {
		name, lang, acceptLanguage string
		want                       []string
	}{
		{"English", "", "", []string{
			`<html lang="en">`, "<title>Error: Card details – Secure payment</title>", "There is a problem",
			"Check your card number: this is not a valid card number", "This card has expired",
			"The security code has 3 or 4 digits",
		}},
		{"German by merchant", "de-AT", "en", []string{
			`<html lang="de">`, "<title>Fehler: Kartendaten – Sichere Zahlung</title>", "Bitte prüfen Sie Ihre Eingaben",
			"Prüfen Sie Ihre Kartennummer: Dies ist keine gültige Kartennummer", "Diese Karte ist abgelaufen",
			"Die Prüfnummer hat 3 oder 4 Ziffern", "1.234,56\u00a0EUR bezahlen",
		}},
		{"German by browser", "", "fr;q=0.9, de;q=0.8, en;q=0.5", []string{
			`<html lang="de">`, "Diese Karte ist abgelaufen",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co := newCheckout()
			co.Language = tc.lang
			e := newEnv(t, co)
			e.f.submitErr = refusedCard()
			r := e.post(t, "/pay/submit", cardForm(), "Accept-Language", tc.acceptLanguage)
			checkStatus(t, r, http.StatusUnprocessableEntity)
			mustContain(t, r.body, tc.want...)
			mustContain(t, r.body,
				`aria-describedby="card-number-hint card-number-error" aria-invalid="true"`,
				`id="card-number-error"`, `id="card-expiry-error"`, `id="card-cvc-error"`,
				`name="card_expiry_year" type="text" inputmode="numeric" autocomplete="cc-exp-year" maxlength="4" value="21" spellcheck="false" autocapitalize="off" required aria-describedby="card-expiry-hint card-expiry-error" aria-invalid="true"`,
				`value="Erika Mustermann"`, `name="card_expiry_month" type="text" inputmode="numeric" autocomplete="cc-exp-month" maxlength="2" value="04"`)
			// The summary follows the form's order, whatever order the refusal had.
			number := strings.Index(r.body, `href="#card-number"`)
			expiry := strings.Index(r.body, `href="#card-expiry-month"`)
			cvc := strings.Index(r.body, `href="#card-cvc"`)
			if number < 0 || !(number < expiry && expiry < cvc) {
				t.Errorf("error summary out of order: %d %d %d", number, expiry, cvc)
			}
			mustNotContain(t, r.body, cardDigits, typedNumber, typedCVC, "4111")
			if strings.Contains(r.body, `aria-invalid="true"`) && strings.Count(r.body, `aria-invalid="true"`) != 4 {
				t.Errorf("%d invalid inputs, want 4 (number, month, year, cvc)", strings.Count(r.body, `aria-invalid="true"`))
			}
			if tc.name == "German by merchant" {
				golden(t, "card-refused-de", r.body)
			}
		})
	}
}

func TestSubmitBuildsDetails(t *testing.T) {
	for _, tc := range []struct {
		name string
		form url.Values
		want payment.Details
	}{
		{"card", cardForm(), payment.Details{Method: "card"}},
		{"bank", form("token", token, "method", "bank_redirect", "bank", "demo-sparkasse"),
			payment.Details{Method: "bank_redirect", Bank: "demo-sparkasse"}},
		{"wallet", form("token", token, "method", "ewallet", "wallet", " erika@example.com "),
			payment.Details{Method: "ewallet", Wallet: "erika@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newCheckout())
			e.f.submitOut = &payment.Outcome{PaymentID: "pay_1", State: paywire.StatePending}
			r := e.post(t, "/pay/submit", tc.form)
			checkStatus(t, r, http.StatusOK)
			if len(e.f.submitted) != 1 {
				t.Fatalf("submitted %d times", len(e.f.submitted))
			}
			got := e.f.submitted[0]
			if got.IP != "127.0.0.1" {
				t.Errorf("IP %q", got.IP)
			}
			if tc.name == "card" {
				c := got.Card
				if c == nil || c.Number != cardDigits || c.CVC != typedCVC || c.ExpiryMonth != 4 || c.ExpiryYear != 2021 || c.Holder != "Erika Mustermann" {
					t.Errorf("card %+v", c)
				}
				return
			}
			if got.Card != nil || got.Method != tc.want.Method || got.Bank != tc.want.Bank || got.Wallet != tc.want.Wallet {
				t.Errorf("details %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSubmitMalformedCardIsRefusedHere(t *testing.T) {
	e := newEnv(t, newCheckout())
	f := cardForm()
	f.Set("card_number", "4111-1111-abcd-1112")
	f.Set("card_expiry_month", "13")
	r := e.post(t, "/pay/submit", f)
	checkStatus(t, r, http.StatusUnprocessableEntity)
	mustContain(t, r.body, "Enter the card number using digits only; spaces are fine",
		"Enter the expiry date as month and year, for example 04 / 28", `value="Erika Mustermann"`, `value="13"`)
	mustNotContain(t, r.body, "abcd", typedCVC)
	if len(e.f.submitted) != 0 {
		t.Error("a malformed card reached Submit")
	}
}

func TestSubmitRefusedBankAndWallet(t *testing.T) {
	e := newEnv(t, newCheckout())
	e.f.submitErr = &payment.DetailsError{Fields: []payment.FieldError{{Field: "bank", Reason: "unknown"}}}
	r := e.post(t, "/pay/submit", form("token", token, "method", "bank_redirect", "bank", "no-such-bank"))
	checkStatus(t, r, http.StatusUnprocessableEntity)
	mustContain(t, r.body, "Choose a bank from the list", `href="#bank-sandbox-bank"`, `id="bank-error"`,
		`<fieldset class="field group field-invalid" aria-describedby="bank-hint bank-error">`)

	e.f.submitErr = &payment.DetailsError{Fields: []payment.FieldError{{Field: "wallet", Reason: "format"}}}
	r = e.post(t, "/pay/submit", form("token", token, "method", "ewallet", "wallet", "not-an-address"),
		"Accept-Language", "de")
	checkStatus(t, r, http.StatusUnprocessableEntity)
	mustContain(t, r.body, "Geben Sie eine E-Mail-Adresse im richtigen Format ein", `value="not-an-address"`,
		`aria-describedby="wallet-hint wallet-error" aria-invalid="true"`)
}

func TestSubmitMethodRefusedShowsSelection(t *testing.T) {
	for _, err := range []error{
		&payment.DetailsError{Fields: []payment.FieldError{{Field: "method", Reason: "unknown"}}},
		paywire.Errorf(paywire.EINVALID, "method not offered"),
	} {
		e := newEnv(t, newCheckout())
		e.f.submitErr = err
		r := e.post(t, "/pay/submit", form("token", token, "method", "ewallet", "wallet", "a@example.com"))
		checkStatus(t, r, http.StatusUnprocessableEntity)
		mustContain(t, r.body, "This payment method is not available", `action="/pay/method"`)
	}
}

func TestSubmitRedirects(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		provider  []string
		wantCode  int
		want      string
	}{
		{"merchant page", "https://shop-a.example/ok?paymentId=pay_1&sig=abc", nil, http.StatusSeeOther, "https://shop-a.example/ok?paymentId=pay_1&sig=abc"},
		{"merchant page on a port", "https://pay.shop-a.example:8443/ok", nil, http.StatusSeeOther, "https://pay.shop-a.example:8443/ok"},
		{"sandbox challenge path", "/sandbox/challenge/pay_1", nil, http.StatusSeeOther, "/sandbox/challenge/pay_1"},
		{"configured provider", "https://acs.provider.example/3ds?id=1", []string{"https://acs.provider.example"}, http.StatusSeeOther, "https://acs.provider.example/3ds?id=1"},
		{"unlisted provider", "https://bank.example/login?id=1", nil, http.StatusOK, `href="https://bank.example/login?id=1"`},
		{"not http", "javascript:alert(1)", nil, http.StatusInternalServerError, "Something went wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newCheckout(), func(h *portal.Handler) { h.ProviderOrigins = tc.provider })
			e.f.submitOut = &payment.Outcome{PaymentID: "pay_1", State: paywire.StatePending, RedirectURL: tc.url}
			r := e.post(t, "/pay/submit", form("token", token, "method", "bank_redirect", "bank", "sandbox-bank"))
			checkStatus(t, r, tc.wantCode)
			if tc.wantCode == http.StatusSeeOther {
				if got := r.header.Get("Location"); got != tc.want {
					t.Errorf("Location %q, want %q", got, tc.want)
				}
				return
			}
			mustContain(t, r.body, tc.want)
		})
	}
}

func TestRedirectToSelfOrigin(t *testing.T) {
	e := newEnv(t, newCheckout())
	self := e.srv.URL + "/sandbox/bank/pay_1"
	e.f.submitOut = &payment.Outcome{State: paywire.StatePending, RedirectURL: self}
	r := e.post(t, "/pay/submit", form("token", token, "method", "bank_redirect", "bank", "sandbox-bank"))
	checkStatus(t, r, http.StatusSeeOther)
	if r.header.Get("Location") != self {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
}

func TestProcessingPage(t *testing.T) {
	e := newEnv(t, newCheckout())
	e.f.submitOut = &payment.Outcome{PaymentID: "pay_1", State: paywire.StatePending}
	r := e.post(t, "/pay/submit", form("token", token, "method", "ewallet", "wallet", "erika@example.com"))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, "Your payment is being processed", `action="/pay/status"`, "Check again", `action="/pay/cancel"`)
	mustNotContain(t, r.body, "refresh", "?token=")
	golden(t, "processing-en", r.body)

	// Check again: still processing, then a page to go to.
	e.f.checkout.State = paywire.StatePending
	e.f.progressOut = &payment.Outcome{State: paywire.StateReview}
	r = e.post(t, "/pay/status", form("token", token))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, "Your payment is being checked", "Check again")

	e.f.progressOut = &payment.Outcome{State: paywire.StateCompleted, RedirectURL: "https://shop-a.example/success", ToMerchant: true}
	r = e.post(t, "/pay/status", form("token", token))
	checkStatus(t, r, http.StatusSeeOther)
	if r.header.Get("Location") != "https://shop-a.example/success" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}

	// A final state and no page to go to: the final word, nothing to press.
	e.f.progressOut = &payment.Outcome{State: paywire.StateRefused}
	r = e.post(t, "/pay/status", form("token", token))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, "Payment refused", "You can close this window now.")
	mustNotContain(t, r.body, "Check again", `action="/pay/cancel"`)
}

func TestStatusOfAnUnsubmittedPaymentShowsTheMethods(t *testing.T) {
	e := newEnv(t, newCheckout())
	r := e.post(t, "/pay/status", form("token", token))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, `action="/pay/method"`)
	if slices.Contains(e.f.called(), "Progress") {
		t.Error("asked for the progress of an unsubmitted payment")
	}
}

func TestUsedTokenShowsProgress(t *testing.T) {
	for _, path := range []string{"/pay", "/pay/method", "/pay/submit"} {
		t.Run(path, func(t *testing.T) {
			co := newCheckout()
			co.State = paywire.StatePending
			e := newEnv(t, co)
			e.f.progressOut = &payment.Outcome{State: paywire.StatePending}
			r := e.post(t, path, cardForm())
			checkStatus(t, r, http.StatusOK)
			mustContain(t, r.body, "Your payment is being processed")
			if len(e.f.submitted) != 0 {
				t.Error("a used token was submitted again")
			}
		})
	}
	// Submitted by another tab between opening and submitting.
	e := newEnv(t, newCheckout())
	e.f.submitErr = paywire.Errorf(paywire.ECONFLICT, "the payment was already submitted")
	e.f.progressOut = &payment.Outcome{State: paywire.StateAuthorized, RedirectURL: "https://shop-a.example/success"}
	r := e.post(t, "/pay/submit", cardForm())
	checkStatus(t, r, http.StatusSeeOther)
	if r.header.Get("Location") != "https://shop-a.example/success" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, newCheckout())
	e.f.cancelOut = &payment.Outcome{State: paywire.StateCancelled, RedirectURL: "https://shop-a.example/cancel?paymentId=pay_1", ToMerchant: true}
	r := e.post(t, "/pay/cancel", form("token", token))
	checkStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "https://shop-a.example/cancel?paymentId=pay_1" {
		t.Errorf("Location %q", got)
	}
	if got := e.f.called(); !slices.Equal(got, []string{"OpenRedirect", "CancelRedirect"}) {
		t.Errorf("calls %v", got)
	}

	// Without a Cancel page to go to, the page says so.
	e.f.cancelOut = &payment.Outcome{State: paywire.StateCancelled}
	r = e.post(t, "/pay/cancel", form("token", token))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, "Payment cancelled")

	// Too late to cancel: the progress instead.
	e.f.cancelErr = paywire.Errorf(paywire.EILLEGALMOVE, "completed is final")
	e.f.progressOut = &payment.Outcome{State: paywire.StateCompleted, RedirectURL: "https://shop-a.example/success"}
	r = e.post(t, "/pay/cancel", form("token", token))
	checkStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "https://shop-a.example/success" {
		t.Errorf("Location %q", got)
	}
}

func TestBadTokens(t *testing.T) {
	for _, tc := range []struct {
		name     string
		token    string
		openErr  error
		status   int
		want     string
		wantLang string
	}{
		{"missing", "", nil, http.StatusBadRequest, "This payment link is not valid", "en"},
		{"tampered", token + "x", nil, http.StatusBadRequest, "This payment link is not valid", "en"},
		{"too long", strings.Repeat("a", 600), nil, http.StatusBadRequest, "This payment link is not valid", "en"},
		{"unknown payment", token, paywire.Errorf(paywire.ENOTFOUND, "no such payment"), http.StatusBadRequest, "This payment link is not valid", "en"},
		{"expired", token, paywire.Errorf(paywire.EEXPIRED, "the payment link has expired"), http.StatusGone, "This payment link has expired", "en"},
		{"expired, German browser", token, paywire.Errorf(paywire.EEXPIRED, "the payment link has expired"), http.StatusGone, "Dieser Zahlungslink ist abgelaufen", "de"},
		{"unavailable", token, paywire.Errorf(paywire.EUNAVAILABLE, "database is down at 10.0.0.7"), http.StatusServiceUnavailable, "Payments are temporarily unavailable", "en"},
		{"internal", token, errors.New("pq: relation payments does not exist"), http.StatusInternalServerError, "Something went wrong", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newCheckout())
			e.f.openErr = tc.openErr
			expired := tc.status == http.StatusGone
			if expired {
				e.f.cancelErr = tc.openErr
			}
			accept := "en"
			if tc.wantLang == "de" {
				accept = "de-DE,de;q=0.9"
			}
			for _, path := range []string{"/pay", "/pay/method", "/pay/submit", "/pay/status", "/pay/cancel"} {
				r := e.post(t, path, form("token", tc.token, "method", "card"), "Accept-Language", accept)
				checkStatus(t, r, tc.status)
				mustContain(t, r.body, tc.want, `<html lang="`+tc.wantLang+`">`)
				mustNotContain(t, r.body, "10.0.0.7", "pq:", "relation", "forbidden", "unauthorized")
			}
			if slices.ContainsFunc(e.f.called(), func(c string) bool { return c != "OpenRedirect" && !(expired && c == "CancelRedirect") }) {
				t.Errorf("acted on a bad token: %v", e.f.called())
			}
			if tc.name == "tampered" {
				golden(t, "invalid-en", e.post(t, "/pay", form("token", tc.token)).body)
			}
		})
	}
}

// An expired link cannot pay, but still takes the end user back to the
// shop: its page offers Cancel, which the use case allows.
func TestExpiredLinkReturnsToTheShop(t *testing.T) {
	e := newEnv(t, newCheckout())
	e.f.openErr = paywire.Errorf(paywire.EEXPIRED, "the payment link has expired")
	r := e.post(t, "/pay", form("token", token))
	checkStatus(t, r, http.StatusGone)
	mustContain(t, r.body, `action="/pay/cancel"`, `<input type="hidden" name="token" value="`+token+`">`)
	mustNotContain(t, r.body, "Try again", "order-42")

	e.f.cancelOut = &payment.Outcome{State: paywire.StateCancelled, RedirectURL: "https://shop-a.example/cancel?x=1", ToMerchant: true}
	r = e.post(t, "/pay/cancel", form("token", token))
	checkStatus(t, r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "https://shop-a.example/cancel?x=1" {
		t.Errorf("Location %q", got)
	}

	// No page to go to: the expired page again.
	e.f.cancelOut = &payment.Outcome{State: paywire.StateCancelled}
	r = e.post(t, "/pay/cancel", form("token", token))
	checkStatus(t, r, http.StatusGone)

	// A tampered link gets no button.
	r = e.post(t, "/pay", form("token", "forged"))
	checkStatus(t, r, http.StatusBadRequest)
	mustNotContain(t, r.body, `action="/pay/cancel"`, "forged")
}

func TestFailuresAfterOpening(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   []string
	}{
		{"unavailable", paywire.Errorf(paywire.EUNAVAILABLE, "provider down"), http.StatusServiceUnavailable,
			[]string{"Payments are temporarily unavailable", "Try again", `action="/pay"`, `action="/pay/cancel"`}},
		{"internal", errors.New("boom at store.go:12"), http.StatusInternalServerError,
			[]string{"Something went wrong", "Try again", `action="/pay/cancel"`}},
		{"expired meanwhile", paywire.Errorf(paywire.EEXPIRED, "expired"), http.StatusGone,
			[]string{"This payment link has expired"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newCheckout())
			e.f.submitErr = tc.err
			r := e.post(t, "/pay/submit", cardForm())
			checkStatus(t, r, tc.status)
			mustContain(t, r.body, tc.want...)
			mustNotContain(t, r.body, "boom", "store.go", "provider down", cardDigits, typedCVC)
			if tc.status != http.StatusGone && !strings.Contains(e.logs.String(), "payment_id=pay_1") {
				t.Errorf("the failure was not logged with its payment: %s", e.logs.String())
			}
			mustNotContain(t, e.logs.String(), cardDigits, typedCVC, "4111")
		})
	}
}

func TestNoMethods(t *testing.T) {
	co := newCheckout()
	co.Methods = nil
	e := newEnv(t, co)
	r := e.post(t, "/pay", form("token", token))
	checkStatus(t, r, http.StatusServiceUnavailable)
	mustContain(t, r.body, "No payment method is available", `action="/pay/cancel"`)
}

func TestAcceptLanguage(t *testing.T) {
	for _, tc := range []struct {
		merchant, header, want string
	}{
		{"", "", "en"},
		{"", "de", "de"},
		{"", "de-CH", "de"},
		{"", "en;q=0.4, de;q=0.6", "de"},
		{"", "de;q=0.6, en;q=0.6", "de"},
		{"", "fr, de;q=0.1", "de"},
		{"", "de;q=0, en", "en"},
		{"", "de;q=0", "en"},
		{"", "fr, *;q=0.5", "en"},
		{"", "de;q=1.5, en;q=0.1", "en"},
		{"", "DE-at;Q=0.9", "de"},
		{"", "x-klingon, de;q=0.001", "de"},
		{"de", "en", "de"},
		{"en-US", "de", "en"},
		{"fr", "de", "de"},
		{"de_DE", "", "de"},
	} {
		co := newCheckout()
		co.Language = tc.merchant
		e := newEnv(t, co)
		r := e.post(t, "/pay", form("token", token), "Accept-Language", tc.header)
		if !strings.Contains(r.body, `<html lang="`+tc.want+`">`) {
			t.Errorf("language %q with Accept-Language %q: want %s", tc.merchant, tc.header, tc.want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, newCheckout())
	r := e.post(t, "/pay", form("token", token))
	if got := r.header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security %q over plain HTTP", got)
	}
	want := "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://shop-a.example https://pay.shop-a.example:8443; frame-ancestors 'none'; base-uri 'none'"
	if got := r.header.Get("Content-Security-Policy"); got != want {
		t.Errorf("Content-Security-Policy\n got %q\nwant %q", got, want)
	}

	// Over TLS, or behind a proxy that terminates it.
	for _, tc := range []struct {
		name string
		tls  bool
		srv  func(http.Handler) *httptest.Server
	}{
		{"TLS listener", false, httptest.NewTLSServer},
		{"Handler.TLS", true, httptest.NewServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCheckouts{checkout: newCheckout()}
			h := &portal.Handler{Checkouts: f, TLS: tc.tls}
			rt := chi.NewRouter()
			h.Mount(rt)
			srv := tc.srv(rt)
			defer srv.Close()
			res, err := srv.Client().PostForm(srv.URL+"/pay", form("token", token))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
				t.Errorf("Strict-Transport-Security %q", got)
			}
		})
	}

	// Return origins cannot smuggle directives into the policy.
	co := newCheckout()
	co.ReturnOrigins = []string{"https://ok.example", "https://evil.example; script-src *", "javascript:alert(1)", "https://a.example/path", "HTTPS://OK.EXAMPLE:443"}
	e = newEnv(t, co, func(h *portal.Handler) { h.ProviderOrigins = []string{"https://acs.example", "data:"} })
	r = e.post(t, "/pay", form("token", token))
	want = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://ok.example https://a.example https://acs.example; frame-ancestors 'none'; base-uri 'none'"
	if got := r.header.Get("Content-Security-Policy"); got != want {
		t.Errorf("Content-Security-Policy\n got %q\nwant %q", got, want)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	e := newEnv(t, newCheckout())
	big := form("token", token, "card_holder", strings.Repeat("x", 70<<10))
	r := e.post(t, "/pay/submit", big)
	checkStatus(t, r, http.StatusRequestEntityTooLarge)
	mustContain(t, r.body, "The form is too large")

	// A body that does not announce its length is cut off as it is read.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/pay/submit", io.MultiReader(strings.NewReader(big.Encode())))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "de")
	r = e.do(t, req)
	checkStatus(t, r, http.StatusRequestEntityTooLarge)
	mustContain(t, r.body, "Das Formular ist zu groß")
	if len(e.f.called()) != 0 {
		t.Errorf("an oversized form reached the use cases: %v", e.f.called())
	}
}

func TestOtherRequests(t *testing.T) {
	e := newEnv(t, newCheckout())
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{http.MethodGet, "/pay", http.StatusMethodNotAllowed, "This page opens from the shop"},
		{http.MethodGet, "/pay/submit?token=" + token, http.StatusMethodNotAllowed, "This page opens from the shop"},
		{http.MethodPost, "/pay/nothing", http.StatusNotFound, "Page not found"},
		{http.MethodGet, "/pay/assets/", http.StatusNotFound, "Page not found"},
		{http.MethodGet, "/pay/assets/app.js", http.StatusNotFound, "Page not found"},
		{http.MethodGet, "/pay/assets/..%2fportal.go", http.StatusNotFound, "Page not found"},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		r := e.do(t, req)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %s: %d, want %d with %q", tc.method, tc.path, r.status, tc.status, tc.want)
		}
	}
	if len(e.f.called()) != 0 {
		t.Errorf("calls %v", e.f.called())
	}
}

func TestStylesheet(t *testing.T) {
	e := newEnv(t, newCheckout())
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/pay/assets/portal.css", nil)
	r := e.do(t, req)
	checkStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(r.body, ":focus-visible") {
		t.Error("the stylesheet has no focus style")
	}
	if strings.Contains(r.body, "url(") || strings.Contains(r.body, "@import") {
		t.Error("the stylesheet loads other resources")
	}
}

// TestPagesLoadOnlyTheStylesheet: no page refers to any resource but the
// one embedded stylesheet, so the inventory in docs/portal.md is complete.
func TestPagesLoadOnlyTheStylesheet(t *testing.T) {
	e := newEnv(t, newCheckout())
	e.f.submitErr = refusedCard()
	bodies := []string{
		e.post(t, "/pay", form("token", token)).body,
		e.post(t, "/pay/method", form("token", token, "method", "card")).body,
		e.post(t, "/pay/method", form("token", token, "method", "bank_redirect")).body,
		e.post(t, "/pay/method", form("token", token, "method", "ewallet")).body,
		e.post(t, "/pay/submit", cardForm()).body,
		e.post(t, "/pay", form("token", "bad")).body,
	}
	src := regexp.MustCompile(`(?i)<(link|img|iframe|object|embed|audio|video|source)\b[^>]*>`)
	for _, b := range bodies {
		for _, m := range src.FindAllString(b, -1) {
			if m != `<link rel="stylesheet" href="/pay/assets/portal.css">` {
				t.Errorf("page loads %s", m)
			}
		}
	}
}

func TestWithdrawalWording(t *testing.T) {
	co := newCheckout()
	co.Kind = paywire.KindWithdrawal
	co.Preselected = "card"
	co.Language = "de"
	e := newEnv(t, co)
	r := e.post(t, "/pay", form("token", token))
	checkStatus(t, r, http.StatusOK)
	mustContain(t, r.body, "Auszahlung durch", "Auszahlung von 1.234,56\u00a0EUR anfordern")
}

// FuzzSubmitForm posts any body to /pay/submit while the use case refuses
// every field. The contract: an answer the pages define, never a script,
// and a card number typed into the number field never comes back.
func FuzzSubmitForm(f *testing.F) {
	f.Add(cardForm().Encode())
	f.Add("token=" + token + "&method=card&card_number=5555+5555+5555+4444&card_cvc=999&card_expiry_month=1&card_expiry_year=2040")
	f.Add("token=" + token + "&method=bank_redirect&bank=%3Cscript%3E")
	f.Add("token=" + token + "&method=ewallet&wallet=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
	f.Add("token=%00&method=card")
	f.Add("%zz")
	fake := &fakeCheckouts{checkout: newCheckout(), submitErr: &payment.DetailsError{Fields: []payment.FieldError{
		{Field: "card.number", Reason: "luhn"}, {Field: "card.cvc", Reason: "format"}, {Field: "card.expiry", Reason: "expired"},
		{Field: "card.holder", Reason: "format"}, {Field: "bank", Reason: "unknown"}, {Field: "wallet", Reason: "format"},
		{Field: "method", Reason: "unknown"}, {Field: "x", Reason: "y"},
	}}}
	h := &portal.Handler{Checkouts: fake, Logger: slog.New(slog.DiscardHandler)}
	rt := chi.NewRouter()
	h.Mount(rt)
	digitRun := regexp.MustCompile(`^[0-9 ]+$`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/pay/submit", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("status %d", w.Code)
		}
		page := w.Body.String()
		if strings.Contains(strings.ToLower(page), "<script") {
			t.Fatal("a script in the page")
		}
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		number := v.Get("card_number")
		digits := strings.ReplaceAll(number, " ", "")
		if digitRun.MatchString(number) && len(digits) >= 12 && !strings.Contains(token, digits) {
			if strings.Contains(page, digits) || strings.Contains(page, number) {
				// Typed elsewhere too, it may rightly be shown there.
				for k, vs := range v {
					if k != "card_number" && slices.ContainsFunc(vs, func(s string) bool { return strings.Contains(s, digits) || strings.Contains(s, number) }) {
						return
					}
				}
				t.Fatalf("card number %q shown again", number)
			}
		}
	})
}

// TestSubmitBadTextIsRefused: a NUL byte or invalid UTF-8 in any form field
// answers the bad-request page and never reaches Submit.
func TestSubmitBadTextIsRefused(t *testing.T) {
	e := newEnv(t, newCheckout())
	for _, holder := range []string{"Erika\x00Mustermann", "Erika M\xfcller", "Erika\x1b[31m"} {
		f := cardForm()
		f.Set("card_holder", holder)
		r := e.post(t, "/pay/submit", f)
		checkStatus(t, r, http.StatusBadRequest)
		checkEveryResponse(t, r)
	}
	if len(e.f.submitted) != 0 {
		t.Error("a form with bad text reached Submit")
	}
}
