package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

// TestRestart: an instance started after another stopped, on the same
// database, captures and refunds what the first authorized, serves its
// pages and answers its idempotency keys.
func TestRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		db := open(t)
		first := newEnv(t, db, nil)
		req := adapters.AuthorizeRequest{PaymentID: "pay-1", Kind: paywire.KindDeposit, Amount: eur(1234),
			Method: "card", Card: card("4242424242424242"), IdempotencyKey: "pay-1-attempt-1"}
		auth, err := first.a.Authorize(ctx, req)
		if err != nil || auth.Status != adapters.Approved {
			t.Fatalf("authorize %+v, %v", auth, err)
		}
		challenge := first.authorize(t, "pay-2", "4000000000003220")
		first.a.Close()

		second := newEnv(t, db, nil)
		if again, err := second.a.Authorize(ctx, req); err != nil || again != auth {
			t.Fatalf("the key after a restart: %+v, %v; want %+v", again, err, auth)
		}
		op := adapters.Operation{PaymentID: "pay-1", ProviderReference: auth.Reference, Amount: eur(1000), IdempotencyKey: "cap-1"}
		if res, err := second.a.Capture(ctx, op); err != nil || res.Status != adapters.Approved || !res.Captured {
			t.Fatalf("capture after a restart %+v, %v", res, err)
		}
		op.Amount, op.IdempotencyKey = eur(400), "ref-1"
		if res, err := second.a.Refund(ctx, op); err != nil || res.Status != adapters.Approved {
			t.Fatalf("refund after a restart %+v, %v", res, err)
		}
		if st, err := second.a.Status(ctx, adapters.StatusRequest{Reference: auth.Reference}); err != nil || st.Status != adapters.Approved {
			t.Fatalf("status after a restart %+v, %v", st, err)
		}

		// The challenge page of a payment made before the restart.
		u := strings.Replace(challenge.RedirectURL, first.pages.URL, second.pages.URL, 1)
		page := get(t, u)
		if page.status != http.StatusOK || !strings.Contains(page.body, "Visa ending 3220") {
			t.Fatalf("challenge page after a restart: %d\n%s", page.status, page.body)
		}
		if done := post(t, u, url.Values{"decision": {"approve"}, "nonce": {nonce(t, page.body)}}); done.status != http.StatusSeeOther {
			t.Fatalf("approve after a restart: %d", done.status)
		}

		var buf bytes.Buffer
		if err := second.a.SettlementReport(ctx, &buf, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{",pay-1,capture,10.00,EUR,", ",pay-1,refund,4.00,EUR,"} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, buf.String())
			}
		}
	})
}

// TestTwoNodes: two instances of one provider on one database are one
// provider: each sees the other's payments and idempotency keys.
func TestTwoNodes(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		db := open(t)
		a, b := newEnv(t, db, nil), newEnv(t, db, nil)
		req := adapters.AuthorizeRequest{PaymentID: "pay-1", Kind: paywire.KindDeposit, Amount: eur(5000),
			Method: "card", Card: card("4242424242424242"), IdempotencyKey: "k1"}
		first, err := a.a.Authorize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := b.a.Authorize(ctx, req); err != nil || again != first {
			t.Fatalf("the key on the other node: %+v, %v; want %+v", again, err, first)
		}
		other := req
		other.Amount = eur(5001)
		if _, err := b.a.Authorize(ctx, other); paywire.ErrorCode(err) != paywire.EIDEMPOTENCY {
			t.Fatalf("the key for another request on the other node: %v", err)
		}
		if res, err := b.a.Capture(ctx, adapters.Operation{ProviderReference: first.Reference, Amount: eur(2000)}); err != nil || res.Status != adapters.Approved {
			t.Fatalf("capture on the other node %+v, %v", res, err)
		}
		if res, _ := a.a.Capture(ctx, adapters.Operation{ProviderReference: first.Reference, Amount: eur(3001)}); res.Code != "amount_exceeds_authorized" {
			t.Fatalf("capture beyond what the other node left %+v", res)
		}

		// A key whose first call still runs on one node is in progress on the other.
		hang := adapters.AuthorizeRequest{PaymentID: "pay-2", Kind: paywire.KindDeposit, Amount: eur(1000),
			Method: "card", Card: card("4000000000000010"), IdempotencyKey: "k2"}
		c, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		defer cancel()
		done := make(chan error)
		go func() {
			_, err := a.a.Authorize(c, hang)
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		if _, err := b.a.Authorize(ctx, hang); paywire.ErrorCode(err) != paywire.EINPROGRESS {
			t.Fatalf("the running key on the other node: %v, want EINPROGRESS", err)
		}
		if err := <-done; paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
			t.Fatalf("the hanging call: %v", err)
		}
		if res, err := b.a.Authorize(ctx, hang); err != nil || res.Status != adapters.Approved {
			t.Fatalf("the key once the first call ended: %+v, %v", res, err)
		}

		// A page of one node's payment, decided on the other node.
		ch := a.authorize(t, "pay-3", "4000000000003220")
		u := strings.Replace(ch.RedirectURL, a.pages.URL, b.pages.URL, 1)
		page := get(t, u)
		post(t, u, url.Values{"decision": {"approve"}, "nonce": {nonce(t, page.body)}})
		if st, _ := a.a.Status(ctx, adapters.StatusRequest{Reference: ch.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status on the first node after the other decided %+v", st)
		}
	})
}

// TestConcurrentNodes: calls racing on two nodes never move more money
// than the payment holds, and one key makes one payment.
func TestConcurrentNodes(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		db := open(t)
		nodes := []*env{newEnv(t, db, nil), newEnv(t, db, nil)}
		auth := nodes[0].authorize(t, "pay-c", "4242424242424242") // 12.34 EUR
		var mu sync.Mutex
		approved := 0
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				res, err := nodes[i%2].a.Capture(ctx, adapters.Operation{ProviderReference: auth.Reference, Amount: eur(100)})
				if err != nil {
					t.Errorf("capture: %v", err)
					return
				}
				if res.Status == adapters.Approved {
					mu.Lock()
					approved++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if approved != 12 {
			t.Fatalf("%d captures of 1.00 approved on 12.34, want 12", approved)
		}

		req := adapters.AuthorizeRequest{PaymentID: "pay-k", Kind: paywire.KindDeposit, Amount: eur(1000),
			Method: "card", Card: card("4242424242424242"), IdempotencyKey: "same-key"}
		refs := map[string]bool{}
		for i := range 12 {
			wg.Go(func() {
				res, err := nodes[i%2].a.Authorize(ctx, req)
				if paywire.ErrorCode(err) == paywire.EINPROGRESS {
					return
				}
				if err != nil {
					t.Errorf("authorize: %v", err)
					return
				}
				mu.Lock()
				refs[res.Reference] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		var count int
		if err := db.NewSelect().Table("sandbox_payments").ColumnExpr("count(*)").Where("payment_id = ?", "pay-k").Scan(ctx, &count); err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 || count != 1 {
			t.Fatalf("one key made %d payments, answered with %d references", count, len(refs))
		}
	})
}

// TestDelayedOutcomes: an outcome the provider tells later happens at its
// time, whoever reads the payment then, with no timer needed.
func TestDelayedOutcomes(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		db := open(t)
		start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		clk := &clock{now: start}
		// An hour's delay: the timers do not fire during the test.
		delay := func(c *sandbox.Config) { c.Now, c.WebhookDelay = clk.Now, time.Hour }
		a, b := newEnv(t, db, delay), newEnv(t, db, delay)

		card77 := a.authorize(t, "pay-77", "4000000000000077")
		wallet, err := a.a.Authorize(ctx, adapters.AuthorizeRequest{PaymentID: "pay-w", Kind: paywire.KindDeposit,
			Amount: eur(2500), Method: "ewallet", Wallet: "jane@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{card77.Reference, wallet.Reference} {
			if st, _ := b.a.Status(ctx, adapters.StatusRequest{Reference: ref}); st.Status != adapters.Pending {
				t.Fatalf("status before the outcome's time %+v", st)
			}
		}

		clk.Set(start.Add(time.Hour))
		if st, _ := b.a.Status(ctx, adapters.StatusRequest{Reference: card77.Reference}); st.Status != adapters.Approved || st.Captured {
			t.Fatalf("card status at the outcome's time %+v, want authorized", st)
		}
		if st, _ := b.a.Status(ctx, adapters.StatusRequest{Reference: wallet.Reference}); st.Status != adapters.Approved || !st.Captured {
			t.Fatalf("e-wallet status at the outcome's time %+v, want captured", st)
		}
		// The node that read them told the outcomes.
		b.a.Wait()
		evs := b.events(t)
		if len(evs) != 2 || evs[0].Type != adapters.EventAuthorized || evs[0].Amount != 1234 ||
			evs[1].Type != adapters.EventCaptured || evs[1].Amount != 2500 || !evs[1].OccurredAt.Equal(start.Add(time.Hour)) {
			t.Fatalf("webhooks %+v", evs)
		}

		// A payment on the delayed card's credential is delayed alike.
		clk.Set(start.Add(2 * time.Hour))
		pay, err := a.a.Pay(ctx, adapters.Payment{PaymentID: "dep-again", Kind: paywire.KindDeposit, Amount: eur(800),
			Method: "card", SourceReference: card77.Reference, IdempotencyKey: "dep-again-1"})
		if err != nil || pay.Status != adapters.Pending || pay.RedirectURL != "" {
			t.Fatalf("pay on the delayed card %+v, %v; want pending", pay, err)
		}
		clk.Set(start.Add(3 * time.Hour))
		st, err := b.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: "dep-again-1"})
		if err != nil || st.Status != adapters.Approved || !st.Captured || st.Reference != pay.Reference {
			t.Fatalf("status of the delayed payment %+v, %v", st, err)
		}

		var buf bytes.Buffer
		if err := a.a.SettlementReport(ctx, &buf, start); err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{
			"reference,paymentId,type,amount,currency,bookedAt",
			wallet.Reference + ",pay-w,capture,25.00,EUR,2026-11-25T10:00:00Z",
			pay.Reference + ",dep-again,capture,8.00,EUR,2026-11-25T12:00:00Z",
		}, "\n") + "\n"
		if buf.String() != want {
			t.Fatalf("report:\n%s\nwant:\n%s", buf.String(), want)
		}
	})
}

// TestOutcomeTimer: the node that took a delayed payment brings its
// outcome in on time and sends the webhook once, though another node read
// it first.
func TestOutcomeTimer(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		db := open(t)
		a := newEnv(t, db, func(c *sandbox.Config) { c.WebhookDelay = 100 * time.Millisecond })
		res, err := a.a.Pay(ctx, adapters.Payment{PaymentID: "wd-1", Kind: paywire.KindWithdrawal, Amount: eur(100),
			SourceReference: a.authorize(t, "dep-77", "4000000000000077").Reference})
		if err != nil || res.Code != "unknown_source" {
			t.Fatalf("pay on a pending source %+v, %v; want unknown_source", res, err)
		}
		a.a.Wait()
		evs := a.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventAuthorized {
			t.Fatalf("webhooks %+v", evs)
		}
		// No timer left behind: Wait returns at once now.
		begin := time.Now()
		a.a.Wait()
		if d := time.Since(begin); d > 50*time.Millisecond {
			t.Fatalf("Wait took %v", d)
		}
	})
}

// TestProviderReversals: chargebacks and refunds started at the provider
// take any part of what is left, each told with its own amount.
func TestProviderReversals(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		ref := e.authorize(t, "pay-cb", "4242424242424242").Reference // 12.34 EUR
		if err := e.a.Chargeback(ctx, ref, 0); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Fatalf("chargeback before a capture: %v", err)
		}
		if _, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: ref}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name   string
			call   func(context.Context, string, int64) error
			ref    string
			amount int64
			code   string
		}{
			{"partial chargeback", e.a.Chargeback, ref, 200, ""},
			{"refund at the provider", e.a.RefundFromProvider, ref, 300, ""},
			{"negative", e.a.Chargeback, ref, -1, paywire.EINVALID},
			{"more than is left", e.a.RefundFromProvider, ref, 735, paywire.EINVALID},
			{"unknown payment", e.a.Chargeback, "sbx_nope", 1, paywire.ENOTFOUND},
			{"chargeback of the rest", e.a.Chargeback, ref, 0, ""},
			{"nothing left", e.a.Chargeback, ref, 0, paywire.EINVALID},
		}
		for _, s := range steps {
			if err := s.call(ctx, s.ref, s.amount); paywire.ErrorCode(err) != s.code {
				t.Fatalf("%s: %v, want %q", s.name, err, s.code)
			}
		}
		if res, _ := e.a.Refund(ctx, adapters.Operation{ProviderReference: ref, Amount: eur(1)}); res.Code != "amount_exceeds_captured" {
			t.Fatalf("refund after everything was taken back %+v", res)
		}
		e.a.Wait()
		var got []string
		for _, ev := range e.events(t) {
			got = append(got, fmt.Sprintf("%s %d", ev.Type, ev.Amount))
		}
		if want := "chargeback 200,refunded 300,chargeback 734"; strings.Join(got, ",") != want {
			t.Fatalf("webhooks %v, want %s", got, want)
		}
		var buf bytes.Buffer
		if err := e.a.SettlementReport(ctx, &buf, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{",chargeback,2.00,", ",refund,3.00,", ",chargeback,7.34,"} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, buf.String())
			}
		}
	})
}

// TestNoDatabase: without a database an instance still verifies webhooks,
// and says it cannot do the rest.
func TestNoDatabase(t *testing.T) {
	a := sandbox.New(sandbox.Config{Name: "acquirer-n", WebhookSecret: secret})
	defer a.Close()
	if _, err := a.Status(ctx, adapters.StatusRequest{Reference: "sbx_1"}); paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
		t.Fatalf("status without a database: %v", err)
	}
	now := time.Now()
	if _, err := a.VerifyWebhook(signed(secret, now, sampleBody), []byte(sampleBody), now); err != nil {
		t.Fatal(err)
	}
}
