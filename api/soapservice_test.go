package api_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
	"github.com/paywire/paywire/api/wsdl"
	"github.com/paywire/paywire/api/wsdl/wsdltest"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes")

type soapResponse struct {
	status int
	ctype  string
	raw    []byte
	body   *soap.Request // the decoded response envelope
}

// fault returns the fault code of a fault response, "" otherwise.
func (r soapResponse) fault() string {
	m := regexp.MustCompile(`<pw:code>([A-Z_]+)</pw:code>`).FindSubmatch(r.raw)
	if m == nil {
		return ""
	}
	return string(m[1])
}

type soapAuth struct {
	wsse, basic bool
	user, pass  string
}

func wsse(user, pass string) soapAuth  { return soapAuth{wsse: true, user: user, pass: pass} }
func basic(user, pass string) soapAuth { return soapAuth{basic: true, user: user, pass: pass} }

// envelope wraps an operation's body element for the SOAP version.
func envelope(v soap.Version, auth soapAuth, body string) string {
	ns := soap.NamespaceSOAP11
	if v == soap.V12 {
		ns = soap.NamespaceSOAP12
	}
	header := ""
	if auth.wsse {
		header = `<s:Header><wsse:Security xmlns:wsse="` + soap.NamespaceWSSE + `"><wsse:UsernameToken><wsse:Username>` + auth.user +
			`</wsse:Username><wsse:Password Type="` + soap.PasswordText + `">` + auth.pass + `</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>`
	}
	return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="` + ns + `">` + header + `<s:Body>` + body + `</s:Body></s:Envelope>`
}

func (e *env) soap(t *testing.T, v soap.Version, action string, auth soapAuth, body string) soapResponse {
	t.Helper()
	return e.soapRaw(t, v, action, auth, []byte(envelope(v, auth, body)))
}

func (e *env) soapRaw(t *testing.T, v soap.Version, action string, auth soapAuth, raw []byte) soapResponse {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/soap/PaymentService", bytes.NewReader(raw))
	if v == soap.V12 {
		req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+action+`"`)
	} else {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", action)
	}
	if auth.basic {
		req.SetBasicAuth(auth.user, auth.pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := soapResponse{status: res.StatusCode, ctype: res.Header.Get("Content-Type")}
	out.raw, _ = io.ReadAll(res.Body)
	d, err := soap.Decode(bytes.NewReader(out.raw), 0)
	if err != nil {
		t.Fatalf("the response is not a SOAP envelope: %v\n%s", err, out.raw)
	}
	out.body = d
	return out
}

// valid checks a response's body element against the WSDL's schema.
func valid(t *testing.T, r soapResponse) {
	t.Helper()
	if r.fault() != "" {
		return
	}
	if err := wsdltest.Validate(t, wsdl.Schema(), r.body.Body); err != nil {
		t.Errorf("response does not match the schema: %v\n%s", err, r.body.Body)
	}
}

var (
	idPattern    = regexp.MustCompile(`pay_[a-z2-7]{26}`)
	timePattern  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	tokenPattern = regexp.MustCompile(`<value>[^<]*</value>`)
)

// golden compares an envelope, with ids, times and tokens normalised, with
// testdata/soap/golden/<name>.golden.
func golden(t *testing.T, name string, raw []byte) {
	t.Helper()
	norm := idPattern.ReplaceAll(raw, []byte("pay_ID"))
	norm = timePattern.ReplaceAll(norm, []byte("2026-01-01T00:00:00.000Z"))
	norm = tokenPattern.ReplaceAll(norm, []byte("<value>TOKEN</value>"))
	path := filepath.Join("testdata", "soap", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, norm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run SOAP -update)", err)
	}
	if !bytes.Equal(norm, want) {
		t.Errorf("%s differs from its golden file:\n got: %s\nwant: %s", name, norm, want)
	}
}

func redirectBody(merchant, reference string) string {
	base := "https://" + merchant + ".example/"
	return `<getRedirectData xmlns="urn:paywire:payment:1"><merchantReference>` + reference + `</merchantReference>` +
		`<kind>DEPOSIT</kind><amount>50.00</amount><currency>EUR</currency>` +
		`<endUser><id>user-1</id><email>user@example.com</email><country>DE</country><language>de</language><ip>192.0.2.7</ip></endUser>` +
		`<returnUrls><success>` + base + `ok</success><error>` + base + `error</error><cancel>` + base + `cancel</cancel>` +
		`<refused>` + base + `refused</refused><pending>` + base + `pending</pending></returnUrls></getRedirectData>`
}

func TestSOAPWSDL(t *testing.T) {
	e := newEnv(t)
	for path, want := range map[string][]byte{
		"/soap/PaymentService?wsdl":         wsdl.PaymentService("http://localhost:8080/soap/PaymentService"),
		"/soap/PaymentServiceListener?wsdl": wsdl.PaymentServiceListener(""),
	} {
		res, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/xml") || !bytes.Equal(got, want) {
			t.Errorf("%s: %d %s, %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(got))
		}
	}
}

// TestSOAPOperations calls every operation, over SOAP 1.1 with WS-Security
// and SOAP 1.2 with HTTP Basic, checks the answers against the schema and
// the golden envelopes.
func TestSOAPOperations(t *testing.T) {
	for _, v := range []soap.Version{soap.V11, soap.V12} {
		t.Run(v.String(), func(t *testing.T) {
			e := newEnv(t)
			auth := wsse("shop-a", secretA)
			if v == soap.V12 {
				auth = basic("shop-a", secretA)
			}
			call := func(op, body string) soapResponse {
				t.Helper()
				r := e.soap(t, v, message.PaymentActionPrefix+op, auth, body)
				if r.status != 200 || r.fault() != "" {
					t.Fatalf("%s: %d %s", op, r.status, r.raw)
				}
				if r.body.Name.Local != op+"Response" {
					t.Fatalf("%s answered %s", op, r.body.Name.Local)
				}
				valid(t, r)
				golden(t, op+"-"+strings.ReplaceAll(v.String(), " ", ""), r.raw)
				return r
			}

			r := call("getRedirectData", redirectBody("shop-a", "order-1"))
			var rd message.GetRedirectDataResponse
			if err := xml.Unmarshal(r.body.Body, &rd); err != nil || rd.HTTPMethod != "POST" || len(rd.PostFields.Field) != 1 {
				t.Fatalf("redirect %+v, %v", rd, err)
			}
			// The merchant reference makes getRedirectData idempotent.
			again := e.soap(t, v, message.PaymentActionPrefix+"getRedirectData", auth, redirectBody("shop-a", "order-1"))
			if !bytes.Equal(again.raw, r.raw) {
				t.Errorf("repeated getRedirectData answered differently:\n%s\n%s", again.raw, r.raw)
			}

			call("getPaymentDetails", `<getPaymentDetails xmlns="urn:paywire:payment:1"><merchantReference>order-1</merchantReference></getPaymentDetails>`)
			call("getAvailablePaymentMethods", `<getAvailablePaymentMethods xmlns="urn:paywire:payment:1"><kind>DEPOSIT</kind><amount>50.00</amount><currency>EUR</currency><country>DE</country></getAvailablePaymentMethods>`)
			call("cancelPayment", `<cancelPayment xmlns="urn:paywire:payment:1"><paymentId>`+rd.PaymentID+`</paymentId></cancelPayment>`)

			p := e.core.Authorized("shop-a", "order-2", "acquirer-a")
			call("capturePayment", `<capturePayment xmlns="urn:paywire:payment:1"><paymentId>`+p.ID+`</paymentId><amount>10.00</amount></capturePayment>`)
			call("refundPayment", `<refundPayment xmlns="urn:paywire:payment:1"><paymentId>`+p.ID+`</paymentId><amount>4.00</amount><refundReference>r-1</refundReference></refundPayment>`)
			// The refund reference makes the refund idempotent.
			e.soap(t, v, message.PaymentActionPrefix+"refundPayment", auth, `<refundPayment xmlns="urn:paywire:payment:1"><paymentId>`+p.ID+`</paymentId><amount>4.00</amount><refundReference>r-1</refundReference></refundPayment>`)
			if got, _ := e.db.Payment(ctx, "shop-a", p.ID); got.Refunded != 400 {
				t.Errorf("refunded %d after a repeated refund; want 400", got.Refunded)
			}
			call("createPayment", `<createPayment xmlns="urn:paywire:payment:1"><merchantReference>order-3</merchantReference><kind>DEPOSIT</kind><amount>50.00</amount><currency>EUR</currency><endUser><id>u1</id><country>DE</country></endUser><paymentMethod>card</paymentMethod><sourcePaymentId>`+p.ID+`</sourcePaymentId></createPayment>`)
		})
	}
}

func TestSOAPFaults(t *testing.T) {
	e := newEnv(t)
	good := wsse("shop-a", secretA)
	p := e.core.Authorized("shop-a", "f-1", "acquirer-a")
	deep := strings.Repeat("<x>", 200) + strings.Repeat("</x>", 200)
	for _, c := range []struct {
		note   string
		v      soap.Version
		action string
		auth   soapAuth
		raw    string // a whole request body; else body is wrapped
		body   string
		fault  string
		status int
	}{
		{note: "unknown operation", v: soap.V11, auth: good, body: `<transferAll xmlns="urn:paywire:payment:1"/>`, fault: "UNKNOWN_OPERATION", status: 500},
		{note: "operation in another namespace", v: soap.V11, auth: good, body: `<getPaymentDetails xmlns="urn:other"/>`, fault: "UNKNOWN_OPERATION", status: 500},
		{note: "malformed XML", v: soap.V11, auth: good, raw: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><oops`, fault: "MALFORMED_REQUEST", status: 500},
		{note: "not an envelope", v: soap.V11, auth: good, raw: `{"json": true}`, fault: "MALFORMED_REQUEST", status: 500},
		{note: "DOCTYPE", v: soap.V11, auth: good, raw: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, fault: "MALFORMED_REQUEST", status: 500},
		{note: "too deep", v: soap.V11, auth: good, body: `<getPaymentDetails xmlns="urn:paywire:payment:1">` + deep + `</getPaymentDetails>`, fault: "MALFORMED_REQUEST", status: 500},
		{note: "over a MiB", v: soap.V11, auth: good, body: `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + strings.Repeat("x", 2<<20) + `</paymentId></getPaymentDetails>`, fault: "REQUEST_TOO_LARGE", status: 500},
		{note: "no credentials", v: soap.V11, body: `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></getPaymentDetails>`, fault: "AUTHENTICATION_FAILED", status: 500},
		{note: "wrong password", v: soap.V11, auth: wsse("shop-a", "nope"), body: `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></getPaymentDetails>`, fault: "AUTHENTICATION_FAILED", status: 500},
		{note: "wrong Basic password, SOAP 1.2", v: soap.V12, auth: basic("shop-a", "nope"), body: `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></getPaymentDetails>`, fault: "AUTHENTICATION_FAILED", status: 400},
		{note: "action of another operation", v: soap.V11, action: message.PaymentActionPrefix + "refundPayment", auth: good, body: `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></getPaymentDetails>`, fault: "INVALID_REQUEST", status: 500},
		{note: "schema mismatch", v: soap.V11, auth: good, body: `<getAvailablePaymentMethods xmlns="urn:paywire:payment:1"><kind>DEPOSIT</kind><amount>lots</amount><currency>EUR</currency><country>DE</country></getAvailablePaymentMethods>`, fault: "INVALID_REQUEST", status: 500},
		{note: "return URL off the allowlist", v: soap.V12, auth: good, body: strings.Replace(redirectBody("shop-a", "f-2"), "https://shop-a.example/ok", "https://evil.example/ok", 1), fault: "INVALID_REQUEST", status: 400},
		{note: "illegal transition", v: soap.V11, auth: good, body: `<refundPayment xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId><amount>1.00</amount></refundPayment>`, fault: "ILLEGAL_STATE_TRANSITION", status: 500},
		{note: "unknown payment", v: soap.V11, auth: good, body: `<cancelPayment xmlns="urn:paywire:payment:1"><paymentId>pay_nothing</paymentId></cancelPayment>`, fault: "NOT_FOUND", status: 500},
	} {
		var r soapResponse
		if c.raw != "" {
			r = e.soapRaw(t, c.v, c.action, c.auth, []byte(c.raw))
		} else {
			r = e.soap(t, c.v, c.action, c.auth, c.body)
		}
		if r.fault() != c.fault || r.status != c.status {
			t.Errorf("%s: %d %s; want %d %s\n%.400s", c.note, r.status, r.fault(), c.status, c.fault, r.raw)
		}
		if bytes.Contains(r.raw, []byte("xml: ")) || bytes.Contains(r.raw, []byte("runtime")) {
			t.Errorf("%s: the fault leaks Go error text: %s", c.note, r.raw)
		}
	}
	if got, _ := e.db.Payment(ctx, "shop-a", p.ID); got.Version != p.Version {
		t.Errorf("a refused request changed the payment: version %d", got.Version)
	}
}

func TestSOAPActionForms(t *testing.T) {
	e := newEnv(t)
	body := `<getAvailablePaymentMethods xmlns="urn:paywire:payment:1"><kind>DEPOSIT</kind><amount>10.00</amount><currency>EUR</currency><country>DE</country></getAvailablePaymentMethods>`
	for _, action := range []string{`"urn:paywire:payment:1#getAvailablePaymentMethods"`, `urn:paywire:payment:1#getAvailablePaymentMethods`, `""`, `getAvailablePaymentMethods`} {
		r := e.soap(t, soap.V11, action, wsse("shop-a", secretA), body)
		if r.status != 200 || r.fault() != "" {
			t.Errorf("SOAPAction %s: %d %s", action, r.status, r.raw)
		}
	}
}

// TestSOAPTenantIsolation: every operation on another merchant's payment is
// NOT_FOUND and changes nothing.
func TestSOAPTenantIsolation(t *testing.T) {
	e := newEnv(t)
	p := e.core.Authorized("shop-a", "iso-s", "acquirer-a")
	b := wsse("shop-b", secretB)
	for _, body := range []string{
		`<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></getPaymentDetails>`,
		`<getPaymentDetails xmlns="urn:paywire:payment:1"><merchantReference>iso-s</merchantReference></getPaymentDetails>`,
		`<capturePayment xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></capturePayment>`,
		`<cancelPayment xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId></cancelPayment>`,
		`<refundPayment xmlns="urn:paywire:payment:1"><paymentId>` + p.ID + `</paymentId><amount>1.00</amount></refundPayment>`,
	} {
		if r := e.soap(t, soap.V11, "", b, body); r.fault() != "NOT_FOUND" {
			t.Errorf("shop-b: %s\n%.300s", r.fault(), r.raw)
		}
	}
	r := e.soap(t, soap.V11, "", b, `<createPayment xmlns="urn:paywire:payment:1"><merchantReference>iso-b</merchantReference><kind>DEPOSIT</kind><amount>50.00</amount><currency>EUR</currency><endUser><id>u1</id><country>DE</country></endUser><paymentMethod>card</paymentMethod><sourcePaymentId>`+p.ID+`</sourcePaymentId></createPayment>`)
	if r.fault() != "INVALID_REQUEST" {
		t.Errorf("shop-b reusing shop-a's payment: %s", r.raw)
	}
	if got, _ := e.db.Payment(ctx, "shop-a", p.ID); got.Version != p.Version || len(e.provider.calls) != 0 {
		t.Errorf("shop-a's payment changed: %+v; provider calls %v", got, e.provider.calls)
	}
}

// TestSOAPConcurrentGetRedirectData: 50 identical concurrent calls make one
// payment; each caller gets it or a clean in-progress fault.
func TestSOAPConcurrentGetRedirectData(t *testing.T) {
	e := newEnv(t)
	const n = 50
	var wg sync.WaitGroup
	results := make([]soapResponse, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.soap(t, soap.V11, "", wsse("shop-a", secretA), redirectBody("shop-a", "race-s"))
		}()
	}
	wg.Wait()
	stored, err := e.db.PaymentByReference(ctx, "shop-a", "race-s")
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]int{}
	for _, r := range results {
		switch f := r.fault(); f {
		case "":
			var rd message.GetRedirectDataResponse
			if err := xml.Unmarshal(r.body.Body, &rd); err != nil || rd.PaymentID != stored.ID {
				t.Errorf("answer %s, %v; want payment %s", rd.PaymentID, err, stored.ID)
			}
			answers["payment"]++
		case "REQUEST_IN_PROGRESS":
			answers[f]++
		default:
			t.Errorf("unexpected answer %s", r.raw)
		}
	}
	t.Logf("answers: %v", answers)
	if answers["payment"] == 0 {
		t.Error("no caller got the payment")
	}
	_ = paywire.ErrorCode
	_ = fmt.Sprint
}
