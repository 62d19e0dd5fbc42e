package notify

import (
	"flag"
	"math"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/api/soap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stored is an outbox payload as the store writes it: states upper case,
// occurredAt in RFC 3339 with as many fraction digits as needed.
const stored = `{"eventId":"evt_7m2k","paymentId":"pay_3x9q","merchantReference":"order-42","previousState":"COMPLETED","newState":"PARTIALLY_REFUNDED","amount":"25.50","currency":"EUR","sequenceNumber":5,"occurredAt":"2026-11-25T13:04:05.123456+01:00"}`

// The bodies merchants receive, as the integration docs show them.
func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		format, file, contentType, action string
	}{
		{FormatSOAP, "handlePaymentStateChangedEvent.xml", "text/xml; charset=utf-8", `"urn:paywire:listener:1#handlePaymentStateChangedEvent"`},
		{"", "handlePaymentStateChangedEvent.xml", "text/xml; charset=utf-8", `"urn:paywire:listener:1#handlePaymentStateChangedEvent"`},
		{FormatJSON, "webhook.json", "application/json", ""},
	} {
		req, err := render(tc.format, []byte(stored))
		if err != nil {
			t.Fatal(err)
		}
		if req.contentType != tc.contentType || req.soapAction != tc.action {
			t.Errorf("%q: content type %q, action %q", tc.format, req.contentType, req.soapAction)
		}
		golden := filepath.Join("testdata", tc.file)
		if *update && tc.format != "" {
			if err := os.WriteFile(golden, append(req.body, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(req.body) + "\n"; got != string(want) {
			t.Errorf("%q:\n got %s\nwant %s(run go test -update to accept)", tc.format, got, want)
		}
	}
	// Rows written before states were stored in upper case.
	req, err := render(FormatJSON, []byte(strings.ReplaceAll(strings.ReplaceAll(stored, "PARTIALLY_REFUNDED", "partially_refunded"), `"COMPLETED"`, `"completed"`)))
	if err != nil || !strings.Contains(string(req.body), `"previousState":"COMPLETED","newState":"PARTIALLY_REFUNDED"`) {
		t.Errorf("lower-case states: %s, %v", req.body, err)
	}
	for _, bad := range []string{`not json`, `{"occurredAt":"yesterday"}`} {
		if _, err := render(FormatJSON, []byte(bad)); err == nil {
			t.Errorf("render accepted the payload %s", bad)
		}
	}
	if _, err := render("xml-rpc", []byte(stored)); err == nil {
		t.Error("render accepted an unknown format")
	}
}

func TestJudge(t *testing.T) {
	envelope := func(ns, body string) string {
		return `<?xml version="1.0"?><s:Envelope xmlns:s="` + ns + `"><s:Header/><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	const ack = `<r:handlePaymentStateChangedEventResponse xmlns:r="urn:paywire:payment:1"><r:acknowledged>%s</r:acknowledged></r:handlePaymentStateChangedEventResponse>`
	for _, tc := range []struct {
		name   string
		format string
		status int
		body   string
		want   string // the failure, "" for delivered
	}{
		{"acknowledged", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, strings.Replace(ack, "%s", "true", 1)), ""},
		{"acknowledged 1", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, strings.Replace(ack, "%s", " 1 ", 1)), ""},
		{"acknowledged absent", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, `<handlePaymentStateChangedEventResponse xmlns="urn:paywire:payment:1"/>`), ""},
		{"empty 200", FormatSOAP, 200, "", ""},
		{"204", FormatSOAP, 204, "", ""},
		{"not XML", FormatSOAP, 200, "OK", ""},
		{"another element", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, `<done/>`), ""},
		{"acknowledged false", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, strings.Replace(ack, "%s", "false", 1)), "not_acknowledged: the listener answered acknowledged=false"},
		{"acknowledged 0", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, strings.Replace(ack, "%s", "0", 1)), "not_acknowledged: the listener answered acknowledged=false"},
		{"acknowledged nonsense", FormatSOAP, 200, envelope(soap.NamespaceSOAP11, strings.Replace(ack, "%s", "maybe", 1)), "not_acknowledged: the listener answered acknowledged=false"},
		{"SOAP 1.1 fault", FormatSOAP, 500, envelope(soap.NamespaceSOAP11, `<s:Fault><faultcode>s:Server</faultcode><faultstring>busy</faultstring><detail><pw:fault xmlns:pw="urn:paywire:payment:1"><pw:code>LOCKED</pw:code><pw:message>try later</pw:message></pw:fault></detail></s:Fault>`), "fault: HTTP 500, SOAP Fault: s:Server busy LOCKED try later"},
		{"SOAP 1.2 fault", FormatSOAP, 200, envelope(soap.NamespaceSOAP12, `<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="en">down</s:Text></s:Reason></s:Fault>`), "fault: SOAP Fault: s:Receiver down"},
		{"fault without detail", FormatSOAP, 500, envelope(soap.NamespaceSOAP11, `<s:Fault/>`), "fault: HTTP 500, SOAP Fault: no detail"},
		{"500 without a fault", FormatSOAP, 500, "<html>\n  <b>Internal\tError</b></html>", "status: HTTP 500 Internal Server Error: <html> <b>Internal Error</b></html>"},
		{"redirect", FormatSOAP, 301, "", "status: HTTP 301 Moved Permanently (redirects are not followed)"},
		{"JSON 200", FormatJSON, 200, `{"ok":false}`, ""},
		{"JSON with a SOAP fault", FormatJSON, 200, envelope(soap.NamespaceSOAP11, `<s:Fault/>`), ""},
		{"JSON 400", FormatJSON, 400, "bad\x00signature", "status: HTTP 400 Bad Request: bad?signature"},
		{"JSON 307", FormatJSON, 307, "", "status: HTTP 307 Temporary Redirect (redirects are not followed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if f := judge(tc.format, tc.status, []byte(tc.body)); f != nil {
				got = f.Error()
			}
			if got != tc.want {
				t.Errorf("judge = %q, want %q", got, tc.want)
			}
		})
	}
}

// A merchant's answer cannot crash the worker, and what it says ends up in
// a bounded, printable error.
func FuzzJudge(f *testing.F) {
	f.Add(200, []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>`))
	f.Add(200, []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><handlePaymentStateChangedEventResponse><acknowledged>false</acknowledged></handlePaymentStateChangedEventResponse></s:Body></s:Envelope>`))
	f.Add(503, []byte("\xff\xfe<"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if len(body) > maxResponse {
			body = body[:maxResponse]
		}
		for _, format := range []string{FormatSOAP, FormatJSON} {
			fl := judge(format, status, body)
			if fl == nil {
				if status/100 != 2 {
					t.Fatalf("status %d counted as delivered", status)
				}
				continue
			}
			if len(fl.detail) > 600 {
				t.Fatalf("detail of %d bytes", len(fl.detail))
			}
			if strings.ContainsAny(fl.detail, "\n\r\x00") {
				t.Fatalf("detail is not one printable line: %q", fl.detail)
			}
		}
	})
}

func TestBackoff(t *testing.T) {
	w := &Worker{Rand: mathrand.NewPCG(1, 2)}
	w.setup()
	for attempts := 1; attempts <= 40; attempts++ {
		ceiling := min(DefaultBackoffBase*time.Duration(math.Pow(2, float64(min(attempts-1, 20)))), DefaultBackoffCap)
		var longest time.Duration
		for range 200 {
			d := w.backoff(attempts)
			if d < time.Second || d > ceiling {
				t.Fatalf("attempt %d: backoff %s outside [1s, %s]", attempts, d, ceiling)
			}
			longest = max(longest, d)
		}
		// Full jitter spreads retries over the whole window.
		if longest < ceiling*3/4 {
			t.Errorf("attempt %d: the longest of 200 waits is %s, for a window of %s", attempts, longest, ceiling)
		}
	}
	// The same source gives the same schedule, so tests can rely on it.
	a, b := &Worker{Rand: mathrand.NewPCG(3, 4)}, &Worker{Rand: mathrand.NewPCG(3, 4)}
	a.setup()
	b.setup()
	for i := 1; i < 10; i++ {
		if x, y := a.backoff(i), b.backoff(i); x != y {
			t.Fatalf("attempt %d: %s and %s from the same source", i, x, y)
		}
	}
}
