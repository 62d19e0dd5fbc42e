package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/soap"
)

// The node-soap interop test runs interop/client.js, a merchant's client
// built by node-soap from the WSDL the server serves, through every
// operation of PaymentService. It needs node on PATH and the client's
// packages installed (cd api/interop && npm ci). Without them it skips,
// unless PAYWIRE_TEST_INTEROP=1, which CI sets so that a missing toolchain
// fails the build instead of hiding the test.

// nodeSOAPRun is what interop/client.js prints: each operation's result as
// node-soap decoded it from the response, in the WSDL's shapes.
type nodeSOAPRun struct {
	SOAPVersion string
	Auth        string
	Wire        struct {
		ContentType string
		SOAPAction  string
		BasicAuth   bool
		Envelope    string
	}
	Methods struct {
		Methods struct {
			Method []struct{ Name, MinAmount, MaxAmount string }
		}
	}
	Redirect, RedirectAgain         nodeRedirect
	DetailsByID, DetailsByReference nodeDetails
	Cancel, Capture, Refund, Create struct{ Payment nodePayment }
	Fault, AuthFault                nodeFault
}

type nodeRedirect struct {
	PaymentID   string
	RedirectURL string
	HTTPMethod  string
	PostFields  struct {
		Field []struct{ Name, Value string }
	}
	ExpiresAt time.Time
}

type nodeDetails struct {
	Payment nodePayment
	Events  struct {
		Event []struct {
			SequenceNumber int64
			PreviousState  string
			NewState       string
			OccurredAt     time.Time
		}
	}
}

type nodePayment struct {
	PaymentID         string
	MerchantReference string
	Kind              string
	State             string
	Amount            string
	Currency          string
	CapturedAmount    string
	RefundedAmount    string
	PaymentMethod     string
	Provider          string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Version           int64
}

type nodeFault struct {
	Operation  string
	Code       string
	Message    string
	SOAPCode   string
	HTTPStatus int
}

// nodeSOAP returns the path of node, or skips (fails under
// PAYWIRE_TEST_INTEROP=1) when node or node-soap is missing.
func nodeSOAP(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join("interop", "node_modules", "soap", "package.json")); err != nil {
		missing = "node-soap is not installed: run npm ci in api/interop"
	}
	if missing == "" {
		return node
	}
	if os.Getenv("PAYWIRE_TEST_INTEROP") == "1" {
		t.Fatalf("PAYWIRE_TEST_INTEROP=1 but %s", missing)
	}
	t.Skipf("skipping the node-soap interop test: %s (set PAYWIRE_TEST_INTEROP=1 to make this a failure)", missing)
	return ""
}

// runNodeSOAP runs interop/client.js against e for the authorized payment.
func runNodeSOAP(t *testing.T, node string, e *env, authorizedID, version, auth string) nodeSOAPRun {
	t.Helper()
	cx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cx, node, filepath.Join("interop", "client.js"),
		"--wsdl="+e.srv.URL+"/soap/PaymentService?wsdl",
		"--endpoint="+e.srv.URL+"/soap/PaymentService",
		"--merchant=shop-a", "--secret="+secretA, "--authorized="+authorizedID,
		"--soap="+version, "--auth="+auth)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("interop/client.js: %v (context: %v)\n%s", err, cx.Err(), stderr.Bytes())
	}
	var run nodeSOAPRun
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		t.Fatalf("interop/client.js printed what the test cannot read: %v\n%s", err, stdout.Bytes())
	}
	return run
}

// TestSOAPInteropNodeSOAP: a node-soap client generated from the served
// WSDL can call every operation, over both SOAP versions and every way of
// authenticating, reads every answer, and gets fault codes it can branch on.
func TestSOAPInteropNodeSOAP(t *testing.T) {
	node := nodeSOAP(t)
	for _, c := range []struct {
		version soap.Version
		auth    string
	}{
		{soap.V11, "wsse"},
		{soap.V11, "wsse-full"},
		{soap.V12, "basic"},
		{soap.V12, "wsse"},
	} {
		arg := map[soap.Version]string{soap.V11: "1.1", soap.V12: "1.2"}[c.version]
		t.Run(strings.ReplaceAll(c.version.String(), " ", "")+"-"+c.auth, func(t *testing.T) {
			e := newEnv(t)
			p := e.core.Authorized("shop-a", "interop-auth", "acquirer-a")
			start := time.Now()
			run := runNodeSOAP(t, node, e, p.ID, arg, c.auth)

			checkWire(t, run, c.version, c.auth)

			if len(run.Methods.Methods.Method) == 0 {
				t.Error("getAvailablePaymentMethods: no methods")
			}
			for _, m := range run.Methods.Methods.Method {
				if m.Name == "" || m.MinAmount == "" || m.MaxAmount == "" {
					t.Errorf("getAvailablePaymentMethods: method %+v", m)
				}
			}

			rd := run.Redirect
			if rd.PaymentID == "" || rd.HTTPMethod != "POST" || rd.RedirectURL != "http://localhost:8080/pay" ||
				len(rd.PostFields.Field) != 1 || rd.PostFields.Field[0].Name != "token" || rd.PostFields.Field[0].Value == "" {
				t.Fatalf("getRedirectData: %+v", rd)
			}
			if !rd.ExpiresAt.After(start) {
				t.Errorf("getRedirectData: expiresAt %v is not after the call (node-soap could not read the dateTime?)", rd.ExpiresAt)
			}
			again := run.RedirectAgain
			if again.PaymentID != rd.PaymentID || len(again.PostFields.Field) != 1 || again.PostFields.Field[0] != rd.PostFields.Field[0] {
				t.Errorf("getRedirectData with the same merchantReference: %+v; want %+v", again, rd)
			}

			byID, byRef := run.DetailsByID, run.DetailsByReference
			if byID.Payment != byRef.Payment {
				t.Errorf("getPaymentDetails by id and by reference differ:\n%+v\n%+v", byID.Payment, byRef.Payment)
			}
			d := byID.Payment
			if d.PaymentID != rd.PaymentID || d.MerchantReference != "interop-redirect" || d.State != "CREATED" ||
				d.Kind != "DEPOSIT" || d.Amount != "50.00" || d.Currency != "EUR" || d.Version != 1 {
				t.Errorf("getPaymentDetails: %+v", d)
			}
			if d.CreatedAt.Before(start.Add(-time.Minute)) || d.CreatedAt.After(time.Now()) {
				t.Errorf("getPaymentDetails: createdAt %v (node-soap could not read the dateTime?)", d.CreatedAt)
			}
			if evs := byID.Events.Event; len(evs) != 1 || evs[0].SequenceNumber != 1 || evs[0].NewState != "CREATED" || !evs[0].OccurredAt.Equal(d.CreatedAt) {
				t.Errorf("getPaymentDetails: events %+v", byID.Events)
			}

			if c := run.Cancel.Payment; c.PaymentID != rd.PaymentID || c.State != "CANCELLED" || c.Version != 2 {
				t.Errorf("cancelPayment: %+v", c)
			}
			if c := run.Capture.Payment; c.PaymentID != p.ID || c.State != "COMPLETED" || c.Amount != "10.00" || c.CapturedAmount != "6.00" {
				t.Errorf("capturePayment: %+v", c)
			}
			if r := run.Refund.Payment; r.PaymentID != p.ID || r.State != "PARTIALLY_REFUNDED" || r.CapturedAmount != "6.00" || r.RefundedAmount != "2.00" {
				t.Errorf("refundPayment: %+v", r)
			}
			cr := run.Create.Payment
			if cr.PaymentID == "" || cr.MerchantReference != "interop-backend" || cr.PaymentMethod != "card" || cr.Amount != "50.00" {
				t.Errorf("createPayment: %+v", cr)
			}

			// Faults: SOAP 1.1 sends every fault with 500, SOAP 1.2 a
			// Sender fault with 400.
			soapCode, status := "soap:Client", 500
			if c.version == soap.V12 {
				soapCode, status = "soap:Sender", 400
			}
			for _, f := range []struct {
				got      nodeFault
				op, code string
			}{
				{run.Fault, "capturePayment", "ILLEGAL_STATE_TRANSITION"},
				{run.AuthFault, "getPaymentDetails", "AUTHENTICATION_FAILED"},
			} {
				if f.got.Operation != f.op || f.got.Code != f.code || f.got.Message == "" || f.got.SOAPCode != soapCode || f.got.HTTPStatus != status {
					t.Errorf("fault %+v; want %s from %s, %s, HTTP %d", f.got, f.code, f.op, soapCode, status)
				}
			}

			// What node-soap read is what the database holds.
			for _, want := range []struct {
				id, state        string
				captured, refund int64
			}{
				{rd.PaymentID, "CANCELLED", 0, 0},
				{p.ID, "PARTIALLY_REFUNDED", 600, 200},
				{cr.PaymentID, cr.State, 0, 0},
			} {
				got, err := e.db.Payment(ctx, "shop-a", want.id)
				if err != nil {
					t.Errorf("payment %s: %v", want.id, err)
					continue
				}
				if strings.ToUpper(string(got.State)) != want.state || got.Captured != want.captured || got.Refunded != want.refund {
					t.Errorf("payment %s in the database: %s, captured %d, refunded %d; want %s, %d, %d",
						want.id, got.State, got.Captured, got.Refunded, want.state, want.captured, want.refund)
				}
			}
			if got, err := e.db.PaymentByReference(ctx, "shop-a", "interop-backend"); err != nil || got.ID != cr.PaymentID || got.Method != "card" {
				t.Errorf("backend payment in the database: %+v, %v", got, err)
			}
			if got, err := e.db.PaymentByReference(ctx, "shop-a", "interop-redirect"); err != nil || got.State != paywire.StateCancelled {
				t.Errorf("redirect payment by reference: %+v, %v", got, err)
			}
			if calls := strings.Join(e.provider.calls, ", "); calls != "capture 6.00 EUR, refund 2.00 EUR" {
				t.Errorf("provider calls: %s", calls)
			}
		})
	}
}

// checkWire checks that the run really spoke the SOAP version and sent the
// credentials it was asked to: node-soap picks both from options that are
// easy to get wrong without an error.
func checkWire(t *testing.T, run nodeSOAPRun, v soap.Version, auth string) {
	t.Helper()
	w := run.Wire
	const action = "urn:paywire:payment:1#getAvailablePaymentMethods"
	switch v {
	case soap.V11:
		if !strings.HasPrefix(w.ContentType, "text/xml") || w.SOAPAction != `"`+action+`"` {
			t.Errorf("SOAP 1.1 request sent Content-Type %q, SOAPAction %q", w.ContentType, w.SOAPAction)
		}
	case soap.V12:
		if !strings.HasPrefix(w.ContentType, "application/soap+xml") || !strings.Contains(w.ContentType, `action="`+action+`"`) {
			t.Errorf("SOAP 1.2 request sent Content-Type %q", w.ContentType)
		}
	}
	if !strings.Contains(w.Envelope, `:Envelope xmlns:soap="`+v.Namespace()+`"`) {
		t.Errorf("the %s request is not in the %s envelope namespace:\n%s", v, v.Namespace(), w.Envelope)
	}
	token := strings.Contains(w.Envelope, "<wsse:UsernameToken")
	extras := strings.Contains(w.Envelope, "<wsu:Timestamp") && strings.Contains(w.Envelope, "<wsse:Nonce") &&
		strings.Contains(w.Envelope, "<wsu:Created") && strings.Contains(w.Envelope, `soap:mustUnderstand="1"`)
	if want := map[string][3]bool{"wsse": {false, true, false}, "wsse-full": {false, true, true}, "basic": {true, false, false}}[auth]; [3]bool{w.BasicAuth, token, extras} != want {
		t.Errorf("%s run sent HTTP Basic %v, a UsernameToken %v, Timestamp, Nonce, Created and mustUnderstand %v:\n%s",
			auth, w.BasicAuth, token, extras, w.Envelope)
	}
}
