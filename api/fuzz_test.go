package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paywire/paywire/api/soap"
)

// FuzzJSONStart sends arbitrary bodies to POST /api/v1/payments: every
// answer is a payment or a JSON error with a client status, never a server
// error.
func FuzzJSONStart(f *testing.F) {
	good, _ := json.Marshal(startBody("shop-a", "fuzz-1"))
	nul := bytes.Replace(good, []byte(`"user-1"`), []byte(`"user\u0000"`), 1)
	latin1 := bytes.Replace(good, []byte(`"user-1"`), []byte("\"caf\xe9\""), 1)
	for _, seed := range [][]byte{good, nul, latin1, []byte(`{}`), []byte(`[]`), []byte(`{"amount": 1}`), []byte(`{"kind":"DEPOSIT","amount":"1e9999"}`), nil} {
		f.Add(seed)
	}
	e := newEnv(f)
	handler := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/v1/payments", bytes.NewReader(body))
		req.SetBasicAuth("shop-a", secretA)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d, body not JSON: %q", rec.Code, rec.Body.String())
		}
		switch rec.Code {
		case http.StatusCreated:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if errCode(response{body: out}) == "" {
				t.Fatalf("%d without an error code: %v", rec.Code, out)
			}
		default:
			t.Fatalf("status %d for %q: %v", rec.Code, body, out)
		}
	})
}

// FuzzSOAPService sends arbitrary envelopes to the SOAP endpoint: every
// answer is a SOAP envelope, a response or a client fault.
func FuzzSOAPService(f *testing.F) {
	for _, seed := range []string{
		envelope(soap.V11, wsse("shop-a", secretA), redirectBody("shop-a", "fuzz-s")),
		envelope(soap.V12, soapAuth{}, `<getPaymentDetails xmlns="urn:paywire:payment:1"><paymentId>x</paymentId></getPaymentDetails>`),
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`,
		`not xml`,
		envelope(soap.V11, wsse("shop-a", secretA), strings.Replace(redirectBody("shop-a", "fuzz-n"), "user-1", "user&#0;", 1)),
		envelope(soap.V11, wsse("shop-a", secretA), strings.Replace(redirectBody("shop-a", "fuzz-u"), "user-1", "caf\xe9", 1)),
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f)
	handler := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/soap/PaymentService", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.SetBasicAuth("shop-a", secretA)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if _, err := soap.Decode(bytes.NewReader(rec.Body.Bytes()), 0); err != nil {
			t.Fatalf("%d, not an envelope: %v: %q", rec.Code, err, rec.Body.String())
		}
		if rec.Code != 200 && bytes.Contains(rec.Body.Bytes(), []byte("INTERNAL_ERROR")) {
			t.Fatalf("internal error for %q: %s", body, rec.Body.String())
		}
	})
}
