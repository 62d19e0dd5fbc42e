package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

const sampleBody = `{"id":"evt_1","type":"captured","reference":"sbx_1","paymentId":"pay-1","amount":1234,"code":"","occurredAt":"2026-11-25T12:00:00Z"}`

func signed(key []byte, at time.Time, body string) http.Header {
	h := http.Header{}
	h.Set(sandbox.SignatureHeader, sandbox.Sign(key, at, []byte(body)))
	return h
}

func TestVerifyWebhook(t *testing.T) {
	a := sandbox.New(sandbox.Config{Name: "acquirer-t", WebhookSecret: secret})
	defer a.Close()
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	good := signed(secret, now.Add(-10*time.Second), sampleBody)

	evs, err := a.VerifyWebhook(good, []byte(sampleBody), now)
	if err != nil {
		t.Fatal(err)
	}
	want := adapters.WebhookEvent{ID: "evt_1", Type: "captured", Reference: "sbx_1", PaymentID: "pay-1", Amount: 1234,
		OccurredAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("events %+v, want %+v", evs, want)
	}

	rotated := http.Header{}
	ts := strings.Split(good.Get(sandbox.SignatureHeader), ",")
	rotated.Set(sandbox.SignatureHeader, ts[0]+",v1="+strings.Repeat("ab", 32)+","+ts[1])

	tests := []struct {
		name   string
		header http.Header
		body   string
		now    time.Time
		code   string
	}{
		{"another signature beside the right one", rotated, sampleBody, now, ""},
		{"tampered body", good, strings.Replace(sampleBody, "1234", "9999", 1), now, paywire.EUNAUTHORIZED},
		{"wrong secret", signed([]byte("other"), now, sampleBody), sampleBody, now, paywire.EUNAUTHORIZED},
		{"stale", signed(secret, now.Add(-6*time.Minute), sampleBody), sampleBody, now, paywire.EUNAUTHORIZED},
		{"from the future", signed(secret, now.Add(6*time.Minute), sampleBody), sampleBody, now, paywire.EUNAUTHORIZED},
		{"just within the tolerance", signed(secret, now.Add(-4*time.Minute), sampleBody), sampleBody, now, ""},
		{"no header", http.Header{}, sampleBody, now, paywire.EUNAUTHORIZED},
		{"malformed header", http.Header{sandbox.SignatureHeader: {"v1=abc"}}, sampleBody, now, paywire.EUNAUTHORIZED},
		{"not JSON", signed(secret, now, "{not json"), "{not json", now, paywire.EINVALID},
		{"two JSON values", signed(secret, now, sampleBody+"{}"), sampleBody + "{}", now, paywire.EINVALID},
		{"unknown type", signed(secret, now, strings.Replace(sampleBody, "captured", "teleported", 1)),
			strings.Replace(sampleBody, "captured", "teleported", 1), now, paywire.EINVALID},
		{"no occurredAt", signed(secret, now, `{"id":"e","type":"captured","reference":"r"}`),
			`{"id":"e","type":"captured","reference":"r"}`, now, paywire.EINVALID},
	}
	for _, tt := range tests {
		_, err := a.VerifyWebhook(tt.header, []byte(tt.body), tt.now)
		if got := paywire.ErrorCode(err); got != tt.code {
			t.Errorf("%s: %v, want code %q", tt.name, err, tt.code)
		}
	}

	unkeyed := sandbox.New(sandbox.Config{Name: "acquirer-u"})
	defer unkeyed.Close()
	if _, err := unkeyed.VerifyWebhook(signed(nil, now, sampleBody), []byte(sampleBody), now); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
		t.Fatalf("an instance without a secret accepted a webhook: %v", err)
	}
}

// TestWebhookFormat checks the body a receiver gets, field by field.
func TestWebhookFormat(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		res := e.authorize(t, "pay-f", "4242424242424242")
		if _, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: res.Reference}); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Chargeback(ctx, res.Reference, 0); err != nil {
			t.Fatal(err)
		}
		e.a.Wait()
		d := e.hooks.deliveries()
		if len(d) != 1 {
			t.Fatalf("%d deliveries", len(d))
		}
		if ct := d[0].header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		sig := d[0].header.Get("Sandbox-Signature")
		if !strings.HasPrefix(sig, "t=") || !strings.Contains(sig, ",v1=") {
			t.Errorf("signature header %q", sig)
		}
		var body map[string]any
		if err := json.Unmarshal(d[0].body, &body); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "type", "reference", "paymentId", "amount", "code", "occurredAt"} {
			if _, ok := body[k]; !ok {
				t.Errorf("body lacks %q: %s", k, d[0].body)
			}
		}
		if body["type"] != "chargeback" || body["amount"] != float64(1234) || body["paymentId"] != "pay-f" {
			t.Errorf("body %s", d[0].body)
		}
		if _, err := time.Parse(time.RFC3339, body["occurredAt"].(string)); err != nil {
			t.Error(err)
		}
		if err := e.a.Chargeback(ctx, res.Reference, 0); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("second chargeback: %v", err)
		}
	})
}

// chargebacks captures n payments and charges them back in order, each
// sending one webhook at once; it returns the payment ids in that order.
func chargebacks(t *testing.T, e *env, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := "pay-cb-" + string(rune('a'+i))
		res := e.authorize(t, id, "4242424242424242")
		if _, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: res.Reference}); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Chargeback(ctx, res.Reference, 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestDuplicateWebhooks(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.DuplicateWebhooks = true })
		chargebacks(t, e, 1)
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 2 || evs[0] != evs[1] {
			t.Fatalf("want the same event twice, got %+v", evs)
		}
	})
}

func TestReorderedWebhooks(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.ReorderWebhooks = true })
		ids := chargebacks(t, e, 3)
		e.a.Wait()
		evs := e.events(t)
		var got []string
		for _, ev := range evs {
			got = append(got, ev.PaymentID)
		}
		// The first two arrive in reverse; the third, without a successor, at Wait.
		want := []string{ids[1], ids[0], ids[2]}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("arrival order %v, want %v", got, want)
		}
	})
}

func TestWebhookRetries(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		e.hooks.mu.Lock()
		e.hooks.fail = 2
		e.hooks.mu.Unlock()
		chargebacks(t, e, 1)
		e.a.Wait()
		if evs := e.events(t); len(evs) != 1 {
			t.Fatalf("after two failures, %d events arrived", len(evs))
		}
		if !strings.Contains(e.logs.String(), "retrying") {
			t.Error("the retries were not logged")
		}
	})
}

// FuzzVerifyWebhook feeds arbitrary bodies, correctly signed, and arbitrary
// signature headers. Contract: a body is either refused as EINVALID or
// read into one event with a known type; a header other than a valid
// signature of the body is refused as EUNAUTHORIZED; nothing panics.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(sampleBody), "t=1,v1=00")
	f.Add([]byte(`{"id":"e","type":"refunded","reference":"r","amount":-1,"occurredAt":"2026-01-01T00:00:00Z"}`), "")
	f.Add([]byte(`[{"id":"e"}]`), "t=99999999999999,v1=zz")
	f.Add([]byte(`{"id":"e","type":"declined","reference":"r","occurredAt":"2026-01-01T00:00:00+01:00"} `), "v1=,t=")
	a := sandbox.New(sandbox.Config{Name: "acquirer-f", WebhookSecret: secret})
	defer a.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		evs, err := a.VerifyWebhook(signed(secret, now, string(body)), body, now)
		switch paywire.ErrorCode(err) {
		case "":
			if len(evs) != 1 || evs[0].ID == "" || evs[0].Reference == "" || evs[0].Amount < 0 {
				t.Fatalf("accepted %q as %+v", body, evs)
			}
			switch evs[0].Type {
			case adapters.EventAuthorized, adapters.EventCaptured, adapters.EventDeclined, adapters.EventFailed,
				adapters.EventRefunded, adapters.EventCancelled, adapters.EventChargeback:
			default:
				t.Fatalf("accepted type %q", evs[0].Type)
			}
		case paywire.EINVALID:
		default:
			t.Fatalf("signed body %q: %v", body, err)
		}
		if header == sandbox.Sign(secret, now, body) {
			return
		}
		h := http.Header{sandbox.SignatureHeader: {header}}
		_, err = a.VerifyWebhook(h, body, now)
		if code := paywire.ErrorCode(err); code != paywire.EUNAUTHORIZED && code != paywire.EINVALID {
			t.Fatalf("header %q: %v", header, err)
		}
	})
}
