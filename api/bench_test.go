package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/paywire/paywire/api/soap"
)

// The API's hot path: starting a payment (authentication, validation, the
// availability decision, the idempotency claim and result, the payment with
// its event and outbox row), in process, on SQLite. Figures:
// docs/performance.md.

func BenchmarkJSONStart(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Config.Handler
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		body, _ := json.Marshal(startBody("shop-a", "bench-"+strconv.Itoa(i)))
		req := httptest.NewRequest("POST", "/api/v1/payments", bytes.NewReader(body))
		req.SetBasicAuth("shop-a", secretA)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkSOAPGetRedirectData(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Config.Handler
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		body := envelope(soap.V11, wsse("shop-a", secretA), redirectBody("shop-a", "bench-s-"+strconv.Itoa(i)))
		req := httptest.NewRequest("POST", "/soap/PaymentService", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
