package listeners_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
	"github.com/paywire/paywire/listeners"
	"github.com/paywire/paywire/payment"
)

// recorder is a payments double that verifies webhooks with the sandbox
// provider, as the payment use case does, and records what it would apply.
type recorder struct {
	provider *sandbox.Acquirer
	events   []adapters.WebhookEvent
	fail     error
	outcome  *payment.Outcome
}

func (r *recorder) HandleWebhook(_ context.Context, provider string, header http.Header, body []byte) error {
	if provider != r.provider.Name() {
		return paywire.Errorf(paywire.ENOTFOUND, "unknown provider")
	}
	evs, err := r.provider.VerifyWebhook(header, body, time.Now())
	if err != nil {
		return err
	}
	if r.fail != nil {
		return r.fail
	}
	for _, ev := range evs {
		if ev.Reference != "unknown" { // not ours: skipped, as the use case does
			r.events = append(r.events, ev)
		}
	}
	return nil
}

func (r *recorder) ConfirmReturn(_ context.Context, provider, attempt string) (*payment.Outcome, error) {
	if attempt != "att_1" || provider != "acquirer-a" {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "unknown payment attempt")
	}
	return r.outcome, nil
}

var secret = []byte("webhook secret for the listener tests")

func setup(t *testing.T) (*recorder, http.Handler) {
	t.Helper()
	a := sandbox.New(sandbox.Config{Name: "acquirer-a", BaseURL: "http://127.0.0.1", WebhookURL: "http://127.0.0.1/none", WebhookSecret: secret})
	t.Cleanup(a.Close)
	rec := &recorder{provider: a, outcome: &payment.Outcome{RedirectURL: "https://shop.example/ok?x=1", ToMerchant: true}}
	r := chi.NewRouter()
	(&listeners.Handler{Payments: rec}).Mount(r)
	return rec, r
}

func webhook(t *testing.T, h http.Handler, provider string, body []byte, signature string) int {
	t.Helper()
	req := httptest.NewRequest("POST", "/listeners/"+provider+"/webhook", bytes.NewReader(body))
	if signature != "" {
		req.Header.Set(sandbox.SignatureHeader, signature)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

func event(id, reference string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "type": "authorized", "reference": reference, "paymentId": "pay_1",
		"amount": 1000, "occurredAt": time.Now().UTC().Format(time.RFC3339)})
	return b
}

func TestWebhook(t *testing.T) {
	rec, h := setup(t)
	body := event("evt_1", "ref-1")
	if code := webhook(t, h, "acquirer-a", body, sandbox.Sign(secret, time.Now(), body)); code != 200 {
		t.Fatalf("signed webhook: %d", code)
	}
	if len(rec.events) != 1 || rec.events[0].ID != "evt_1" || rec.events[0].Reference != "ref-1" || rec.events[0].Type != adapters.EventAuthorized {
		t.Fatalf("applied %+v", rec.events)
	}
	tampered := bytes.Replace(body, []byte("ref-1"), []byte("ref-2"), 1)
	for _, c := range []struct {
		note, provider, sig string
		body                []byte
		want                int
	}{
		{"no signature", "acquirer-a", "", body, 401},
		{"tampered body", "acquirer-a", sandbox.Sign(secret, time.Now(), body), tampered, 401},
		{"another key", "acquirer-a", sandbox.Sign([]byte("other"), time.Now(), body), body, 401},
		{"stale", "acquirer-a", sandbox.Sign(secret, time.Now().Add(-time.Hour), body), body, 401},
		{"unknown provider", "acquirer-z", sandbox.Sign(secret, time.Now(), body), body, 404},
		{"not JSON", "acquirer-a", sandbox.Sign(secret, time.Now(), []byte("{")), []byte("{"), 400},
		{"too large", "acquirer-a", "", bytes.Repeat([]byte("x"), 300<<10), 413},
	} {
		if code := webhook(t, h, c.provider, c.body, c.sig); code != c.want {
			t.Errorf("%s: %d, want %d", c.note, code, c.want)
		}
	}
	if len(rec.events) != 1 {
		t.Errorf("refused webhooks were applied: %+v", rec.events)
	}
	// Not ours: acknowledged, so that the provider stops.
	unknown := event("evt_2", "unknown")
	if code := webhook(t, h, "acquirer-a", unknown, sandbox.Sign(secret, time.Now(), unknown)); code != 200 {
		t.Errorf("unknown reference: %d", code)
	}
	// A failure to apply asks for redelivery.
	rec.fail = errors.New("database down")
	again := event("evt_3", "ref-1")
	if code := webhook(t, h, "acquirer-a", again, sandbox.Sign(secret, time.Now(), again)); code != 503 {
		t.Errorf("failed apply: %d", code)
	}
}

func TestReturn(t *testing.T) {
	_, h := setup(t)
	for _, c := range []struct {
		method, path string
		want         int
		location     string
	}{
		{"GET", "/listeners/acquirer-a/return?attempt=att_1", 303, "https://shop.example/ok?x=1"},
		{"POST", "/listeners/acquirer-a/return?attempt=att_1", 303, "https://shop.example/ok?x=1"},
		{"GET", "/listeners/acquirer-a/return?attempt=att_2", 404, ""},
		{"GET", "/listeners/acquirer-b/return?attempt=att_1", 404, ""},
		{"GET", "/listeners/acquirer-a/return", 400, ""},
		// Parameters claiming an outcome are ignored: the provider is asked.
		{"GET", "/listeners/acquirer-a/return?attempt=att_1&status=approved", 303, "https://shop.example/ok?x=1"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.want || w.Header().Get("Location") != c.location {
			t.Errorf("%s %s: %d %q", c.method, c.path, w.Code, w.Header().Get("Location"))
		}
	}
}

// FuzzWebhook posts arbitrary bodies, signed and unsigned: the answer is
// 200, 400, 401 or 413, never a server error, and only signed bodies are
// applied.
func FuzzWebhook(f *testing.F) {
	f.Add(event("evt_f", "ref-f"), true)
	f.Add([]byte(`{"id":"x"}`), true)
	f.Add([]byte(`[]`), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		rec, h := setup(t)
		sig := ""
		if sign {
			sig = sandbox.Sign(secret, time.Now(), body)
		}
		code := webhook(t, h, "acquirer-a", body, sig)
		switch code {
		case 200, 400, 401, 413:
		default:
			t.Fatalf("status %d for %q", code, body)
		}
		if !sign && len(rec.events) > 0 {
			t.Fatal("an unsigned body was applied")
		}
	})
}
