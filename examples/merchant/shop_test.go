package merchant

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/payment"
)

func TestResultSignature(t *testing.T) {
	s := &Shop{SigningSecret: "whsec_test"}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sig := payment.ResultSignature("whsec_test", now, "pay_1", "order-1", "COMPLETED")
	if !s.validSignature("pay_1", "order-1", "COMPLETED", now, sig) {
		t.Fatal("Paywire's signature does not verify")
	}
	old := strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10)
	for _, c := range [][5]string{
		{"pay_1", "order-1", "REFUSED", now, sig},
		{"pay_2", "order-1", "COMPLETED", now, sig},
		{"pay_1", "order-1", "COMPLETED", old, payment.ResultSignature("whsec_test", old, "pay_1", "order-1", "COMPLETED")},
		{"pay_1", "order-1", "COMPLETED", now, ""},
	} {
		if s.validSignature(c[0], c[1], c[2], c[3], c[4]) {
			t.Errorf("accepted %v", c)
		}
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/success?paymentId=pay_1&state=COMPLETED&t="+now+"&signature=00", nil))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "Unverified") {
		t.Errorf("forged result: %d", w.Code)
	}
}

func TestListener(t *testing.T) {
	s := &Shop{}
	h := s.Handler()
	env := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><handlePaymentStateChangedEvent xmlns="urn:paywire:payment:1">` +
		`<eventId>evt_1</eventId><paymentId>pay_1</paymentId><merchantReference>order-1</merchantReference><previousState>PENDING</previousState>` +
		`<newState>AUTHORIZED</newState><amount>25.00</amount><currency>EUR</currency><sequenceNumber>3</sequenceNumber>` +
		`<occurredAt>2026-11-26T10:00:00.000Z</occurredAt></handlePaymentStateChangedEvent></s:Body></s:Envelope>`
	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/listener", strings.NewReader(env))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	h.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<acknowledged>true</acknowledged>") {
		t.Fatalf("listener: %d %s", w.Code, w.Body)
	}
	got := s.Notifications()
	if len(got) != 1 || got[0].Event.PaymentID != "pay_1" || got[0].Event.SequenceNumber != 3 || got[0].Event.NewState != "AUTHORIZED" {
		t.Fatalf("kept %+v", got)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/notifications", nil))
	if !strings.Contains(w.Body.String(), "pay_1") {
		t.Error("the notifications page does not list it")
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/listener", strings.NewReader("not xml")))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "Fault") {
		t.Errorf("garbage: %d %s", w.Code, w.Body)
	}
}
