package traffic

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/api/soap"
)

// The pages are read as a browser reads them: void inputs, attributes
// without values, entities, buttons, radio groups, links.
func TestReadPage(t *testing.T) {
	page := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Pay &amp; go</title>
<link rel="stylesheet" href="/pay/assets/portal.css"></head><body>
<form method="post" action="/pay/submit" class="details" novalidate>
<input type="hidden" name="token" value="tok&amp;1">
<input type="hidden" name="method" value="bank_redirect">
<fieldset><legend>Bank</legend>
<input type="radio" id="b1" name="bank" value="demo-sparkasse" required><label for="b1">Demo Sparkasse</label>
<input type="radio" id="b2" name="bank" value="demo-volksbank" checked required><label for="b2">Demo Volksbank</label>
</fieldset>
<input id="holder" name="card_holder" type="text" autocomplete="cc-name" spellcheck="false" required>
<button type="submit" class="button">Pay now</button>
</form>
<form method="post" action="/pay/cancel"><input type="hidden" name="token" value="tok&amp;1"><button type="submit">Cancel</button></form>
<form method="post" action="http://127.0.0.1:8080/sandbox/acquirer-a/challenge/sbx_1">
<input type="hidden" name="nonce" value="n1">
<button type="submit" name="decision" value="approve" class="primary">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p><a class="button" href="https://acs.example/x?y=1&amp;z=2" rel="noreferrer">Continue</a></p>
</body></html>`
	forms, links := readPage([]byte(page))
	if len(forms) != 3 || !slices.Equal(links, []string{"https://acs.example/x?y=1&z=2"}) {
		t.Fatalf("forms %+v, links %q", forms, links)
	}
	p := &Page{URL: &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/pay/method"}, Forms: forms, Links: links}
	f := p.Form("/pay/submit")
	if f == nil || f.Method != "POST" || f.Fields.Get("token") != "tok&1" || f.Fields.Get("bank") != "demo-volksbank" ||
		!slices.Equal(f.Options["bank"], []string{"demo-sparkasse", "demo-volksbank"}) || len(f.Buttons) != 0 {
		t.Fatalf("the details form: %+v", f)
	}
	if v := f.Values(url.Values{"bank": {"demo-sparkasse"}}); v.Get("bank") != "demo-sparkasse" || v.Get("method") != "bank_redirect" || f.Fields.Get("bank") != "demo-volksbank" {
		t.Errorf("filled in: %v (form %v)", v, f.Fields)
	}
	c := providerForm(p, "decision")
	if c == nil || !c.HasButton("decision", "deny") || c.HasButton("decision", "cancel") || c.Fields.Get("nonce") != "n1" {
		t.Errorf("the challenge form: %+v", c)
	}
	if p.Form("/pay/cancel") == nil || p.Form("/pay/status") != nil {
		t.Errorf("cancel and status forms")
	}
}

func TestRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/pay":                                  "/pay",
		"/pay/submit":                           "/pay/submit",
		"/sandbox/acquirer-b/challenge/sbx_123": "/sandbox/{provider}/challenge/{reference}",
		"/listeners/acquirer-b/return":          "/listeners/{provider}/return",
		"/api/v1/payments/pay_1":                "/api/v1/payments/{id}",
		"/api/v1/payments/pay_1/capture":        "/api/v1/payments/{id}/capture",
		"/pay/link/abc":                         "/pay/link/{token}",
	} {
		if got := route(path); got != want {
			t.Errorf("route(%q) = %q, want %q", path, got, want)
		}
	}
}

// A simulation's plan is the same for the same seed, its customers come
// back, and its amounts and cards are valid.
func TestPlan(t *testing.T) {
	s := &Simulation{Merchants: []*Merchant{{}}, Payments: 300, Seed: 4, Reference: "r-", ReturnURL: "http://127.0.0.1/sim"}
	a, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.plan()
	customers := map[string]int{}
	scenarios := map[string]int{}
	apis := map[string]int{}
	for i := range a {
		if a[i].Request.MerchantReference != b[i].Request.MerchantReference || a[i].User != b[i].User || a[i].Request.Amount != b[i].Request.Amount {
			t.Fatalf("order %d differs: %+v %+v", i, a[i], b[i])
		}
		customers[a[i].Request.EndUser.ID]++
		scenarios[a[i].Label]++
		apis[a[i].API]++
		if a[i].Request.ReturnURLs.Success != "http://127.0.0.1/sim/success" {
			t.Fatalf("return URL %q", a[i].Request.ReturnURLs.Success)
		}
		if amt := a[i].Request.Amount; !strings.Contains(amt, ".") || strings.HasPrefix(amt, "0.0") {
			t.Errorf("amount %q", amt)
		}
		if !luhn(a[i].User.Card.Number) {
			t.Errorf("card %s fails the Luhn check", a[i].User.Card.Number)
		}
	}
	if len(customers) > 100 || len(customers) < 60 {
		t.Errorf("%d customers for 300 payments; want about 100, each coming back", len(customers))
	}
	if len(scenarios) < 10 || scenarios["card"] < 120 || apis[APIJSON] != 150 || apis[APISOAP] != 150 {
		t.Errorf("scenarios %v, APIs %v", scenarios, apis)
	}
	if _, err := (&Simulation{}).plan(); err == nil {
		t.Error("a simulation without merchants planned")
	}
}

func luhn(n string) bool {
	sum := 0
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if (len(n)-1-i)%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestParseScenarios(t *testing.T) {
	m, err := ParseScenarios("card=60, card-3ds=10,bank=0")
	if err != nil || m["card"] != 60 || m["card-3ds"] != 10 || m["bank"] != 0 {
		t.Fatalf("%v, %v", m, err)
	}
	for in, want := range map[string]string{"card": "not scenario=weight", "card=x": "not a whole number", "card=-1": "not a whole number",
		"fly=1": `"fly" is not a scenario`, "card=0": "no scenario has a weight"} {
		if _, err := ParseScenarios(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestTimings(t *testing.T) {
	var tm Timings
	if tm.Percentile(0.5) != 0 {
		t.Error("empty")
	}
	for i := 100; i >= 1; i-- {
		tm.Add(time.Duration(i)*time.Millisecond, i%10 == 0)
	}
	if tm.Count != 100 || tm.Errors != 10 || tm.Percentile(0.5) != 50*time.Millisecond || tm.Percentile(0.95) != 95*time.Millisecond ||
		tm.Percentile(0.99) != 99*time.Millisecond || tm.Percentile(1) != 100*time.Millisecond {
		t.Errorf("%+v: p50 %v p95 %v p99 %v", tm, tm.Percentile(0.5), tm.Percentile(0.95), tm.Percentile(0.99))
	}
}

// Timings of several workers merge into one, whose percentiles (p99.9
// included) are those of all the durations.
func TestTimingsMerge(t *testing.T) {
	var a, b Timings
	for i := 1; i <= 1000; i++ {
		if i%2 == 0 {
			a.Add(time.Duration(i)*time.Microsecond, false)
		} else {
			b.Add(time.Duration(i)*time.Microsecond, i == 999)
		}
	}
	_ = a.Percentile(0.5) // sorted before the merge: the merge must sort again
	a.Merge(&b)
	if a.Count != 1000 || a.Errors != 1 || a.Percentile(0.5) != 500*time.Microsecond || a.Percentile(0.999) != 999*time.Microsecond ||
		a.Percentile(1) != 1000*time.Microsecond || b.Count != 500 {
		t.Errorf("merged: count %d errors %d p50 %v p99.9 %v max %v", a.Count, a.Errors, a.Percentile(0.5), a.Percentile(0.999), a.Percentile(1))
	}
}

// Failed requests are counted by what went wrong: the API's code, the
// SOAP fault's, no answer in time, no answer at all.
func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("starting the payment: %w", &APIError{Status: 429, Code: "rate_limited"}), "rate_limited"},
		{&APIError{Status: 502, Code: "http_502"}, "http_502"},
		{&soap.FaultError{Status: 500, Code: "unauthorized"}, "unauthorized"},
		{&soap.FaultError{Status: 503}, "http_503"},
		{&url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, "timeout"},
		{&url.Error{Op: "Post", URL: "http://x", Err: errors.New("connection refused")}, "connection"},
		{errors.New("the answer is not the JSON expected"), "other"},
	} {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
