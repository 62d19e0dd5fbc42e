package payment_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/payment"
)

func TestToken(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tok := payment.SignToken(key, "shop", "pay_abc", now.Add(15*time.Minute))
	if m, id, err := payment.VerifyToken(key, tok, now); err != nil || id != "pay_abc" || m != "shop" {
		t.Fatalf("verify: %q %q, %v", m, id, err)
	}
	// An expired link has its own code (it was EFORBIDDEN).
	if _, _, err := payment.VerifyToken(key, tok, now.Add(15*time.Minute)); paywire.ErrorCode(err) != paywire.EEXPIRED {
		t.Errorf("expired: %v", err)
	}
	tampered := strings.Replace(tok, "pay_abc", "pay_abd", 1)
	for _, bad := range []string{tampered, tok[:len(tok)-2], "", "no-dots", tok + "x", "a.b.c", "a.b.c.d"} {
		if _, _, err := payment.VerifyToken(key, bad, now); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
			t.Errorf("%q: %v; want unauthorized", bad, err)
		}
	}
	if _, _, err := payment.VerifyToken([]byte("another key"), tok, now); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
		t.Errorf("another key: %v", err)
	}
}

func TestCheckMerchantURL(t *testing.T) {
	t.Parallel()
	m := &paywire.Merchant{ReturnURLPrefixes: []string{"https://shop.example/pay/", "https://shop.example:8443/back", "http://localhost:8080/"}}
	dev := *m
	dev.AllowLocalhostHTTP = true
	portless := paywire.Merchant{ReturnURLPrefixes: []string{"http://127.0.0.1/"}, AllowLocalhostHTTP: true}
	portlessProd := paywire.Merchant{ReturnURLPrefixes: []string{"https://127.0.0.1/"}}
	tests := []struct {
		m   *paywire.Merchant
		url string
		ok  bool
	}{
		{m, "https://shop.example/pay/ok", true},
		{m, "https://SHOP.example/pay/ok?order=1", true},
		{m, "https://shop.example/payment", false},
		{m, "https://shop.example/", false},
		{m, "https://shop.example.evil.example/pay/ok", false},
		{m, "https://evil.example/https://shop.example/pay/", false},
		{m, "https://user:pw@shop.example/pay/ok", false},
		{m, "http://shop.example/pay/ok", false},
		{m, "https://shop.example:8443/back", true},
		{m, "https://shop.example:8443/back/ok", true},
		{m, "https://shop.example:8443/backdoor", false},
		{m, "https://shop.example:9443/back", false},
		{m, "http://localhost:8080/shop/ok", false},
		{&dev, "http://localhost:8080/shop/ok", true},
		{&dev, "http://localhost:9090/shop/ok", false},
		{&portless, "http://127.0.0.1:43117/shop/ok", true},
		{&portless, "http://127.0.0.2:43117/shop/ok", false},
		{&portlessProd, "http://127.0.0.1:43117/shop/ok", false},
		{&dev, "http://shop.example/pay/ok", false},
		{m, "/pay/ok", false},
		{m, "javascript:alert(1)", false},
		{m, "https://shop.example/pay/" + strings.Repeat("a", 2100), false},
		// Paths that resolve elsewhere are refused, however they are spelled.
		{m, "https://shop.example/pay/../admin", false},
		{m, "https://shop.example/pay/./ok", false},
		{m, "https://shop.example/pay/..", false},
		{m, "https://shop.example/pay/%2e%2e/admin", false},
		{m, "https://shop.example/pay/%2E%2E/admin", false},
		{m, "https://shop.example/pay/.%2e/admin", false},
		{m, "https://shop.example/pay/%2E/ok", false},
		{m, "https://shop.example/pay%2f..%2fadmin", false},
		{m, "https://shop.example/pay/..%2Fadmin", false},
		{m, "https://shop.example/pay/..%5cadmin", false},
		{m, `https://shop.example/pay/..\admin`, false},
		{m, "https://shop.example/pay//evil.example/x", false},
		{m, "https://shop.example//pay/ok", false},
		{m, "https://shop.example/pay/%00", false},
		{&dev, "http://localhost:8080/shop/../admin", false},
		// Dots inside a segment are ordinary names.
		{m, "https://shop.example/pay/..ok/v1.2/...", true},
		{m, "https://shop.example/pay/a%20b/ok", true},
		{m, "https://shop.example/pay/ok?next=../admin#/../x", true},
	}
	for _, tt := range tests {
		err := payment.CheckMerchantURL(tt.m, "url", tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("%.60s (localhost http %v): %v; want ok=%v", tt.url, tt.m.AllowLocalhostHTTP, err, tt.ok)
		}
		if err != nil && paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("%.60s: code %s", tt.url, paywire.ErrorCode(err))
		}
	}
}

func TestStartReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.s
	req := payment.StartRequest{MerchantReference: "o-1", Kind: paywire.KindDeposit, Amount: money(2500),
		EndUser: paywire.EndUser{ID: "u1", Country: "DE"},
		ReturnURLs: paywire.ReturnURLs{Success: "https://shop.example/s", Error: "https://shop.example/e",
			Cancel: "https://shop.example/c", Refused: "https://shop.example/r", Pending: "https://shop.example/p"}}
	first, err := s.Start(ctx, "shop", "ref:o-1", req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Start(ctx, "shop", "ref:o-1", req)
	if err != nil || !reflect.DeepEqual(first, again) {
		t.Fatalf("replay %+v, %v; first %+v", again, err, first)
	}
	// Another key for a taken reference fails, every time: the error
	// changed nothing, so it is not stored, and the retry runs again.
	for range 2 {
		if _, err := s.Start(ctx, "shop", "key:other", req); paywire.ErrorCode(err) != paywire.ECONFLICT {
			t.Errorf("reference taken: %v", err)
		}
	}
}

// TestIdempotentOutcomes: an error before anything changed releases the
// key; a provider's refusal is an outcome, stored and replayed (its code
// is EDECLINED now, it was EFORBIDDEN).
func TestIdempotentOutcomes(t *testing.T) {
	t.Parallel()
	prov := newFake("acquirer-a")
	prov.setScript(func(_ context.Context, c call) reply {
		if c.Op == "refund" {
			return reply{Result: adapters.Result{Status: adapters.Declined, Code: "insufficient_balance"}}
		}
		return reply{}
	})
	e := newEnv(t, withProviders(prov))
	s, db := e.s, e.db
	src := paidCard(e)

	// An error before anything changed does not consume the key: a
	// corrected retry with the same key runs.
	if _, err := s.Capture(ctx, "shop", "key:c", src.ID, ""); paywire.ErrorCode(err) != paywire.EILLEGALMOVE {
		t.Fatalf("capture of a completed payment: %v", err)
	}
	if _, err := s.Refund(ctx, "shop", "key:c", src.ID, "99.00"); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Fatalf("same key, another request after a refusal: %v", err)
	}

	// A provider's refusal is an outcome: stored, replayed without asking
	// the provider again, and the key is bound to its request.
	for range 2 {
		if _, err := s.Refund(ctx, "shop", "key:r", src.ID, "1.00"); paywire.ErrorCode(err) != paywire.EDECLINED {
			t.Fatalf("declined refund: %v", err)
		}
	}
	if n := len(prov.callsOf("refund")); n != 1 {
		t.Errorf("provider asked %d times; want once", n)
	}
	if _, err := s.Refund(ctx, "shop", "key:r", src.ID, "2.00"); paywire.ErrorCode(err) != paywire.EIDEMPOTENCY {
		t.Errorf("same key, other amount: %v", err)
	}
	if p, _ := db.Payment(ctx, "shop", src.ID); p.Refunded != 0 || p.Version != src.Version {
		t.Errorf("payment changed: %+v", p)
	}
	atts := e.attempts(src)
	if len(atts) != 1 || atts[0].Operation != paywire.OpRefund || atts[0].Status != paywire.AttemptDeclined || atts[0].Code != "insufficient_balance" {
		t.Errorf("attempts %+v; want the declined refund", atts)
	}
}

// TestRefundNeedsRecordedCaptures: what is refunded is what was recorded
// captured; a payment completed without a recorded capture has nothing to
// refund, and the provider is not asked.
func TestRefundNeedsRecordedCaptures(t *testing.T) {
	t.Parallel()
	prov := newFake("acquirer-a")
	e := newEnv(t, withProviders(prov))
	p := e.seed("shop", "o-1", 1000, "acquirer-a", paywire.StateAuthorized)
	p = e.move(p, paywire.Move{To: paywire.StateCompleted}) // nothing recorded captured
	if _, err := e.s.Refund(ctx, "shop", "", p.ID, "1.00"); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("refund without a recorded capture: %v", err)
	}
	if n := len(prov.callsOf("")); n != 0 {
		t.Errorf("the provider was asked %d times", n)
	}
	if _, err := e.s.Refund(ctx, "shop", "", p.ID, ""); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("refund without an amount: %v", err)
	}
}
