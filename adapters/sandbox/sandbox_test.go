package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.yaml.in/yaml/v3"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
	"github.com/paywire/paywire/rules"
)

var ctx = context.Background()

var secret = []byte("sandbox-test-secret")

// env is a sandbox instance with its pages on a real listener, a webhook
// receiver and a shop to return to, on other listeners.
type env struct {
	a         *sandbox.Acquirer
	db        *bun.DB
	pages     *httptest.Server
	hooks     *receiver
	returnURL string
	logs      *syncBuffer
	now       func() time.Time // the instance's clock, which signs its webhooks
}

// newEnv starts an instance on db; several on one db are nodes of one
// provider.
func newEnv(t *testing.T, db *bun.DB, change func(*sandbox.Config)) *env {
	t.Helper()
	mux := http.NewServeMux()
	pages := httptest.NewServer(mux)
	hooks := newReceiver()
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "back at the shop")
	}))
	logs := &syncBuffer{}
	cfg := sandbox.Config{
		Name:          "acquirer-t",
		DB:            db,
		BaseURL:       pages.URL,
		WebhookURL:    hooks.srv.URL + "/listeners/acquirer-t/webhook",
		WebhookSecret: secret,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&cfg)
	}
	a := sandbox.New(cfg)
	mux.Handle(a.PathPrefix(), a.Handler())
	t.Cleanup(func() {
		a.Close()
		pages.Close()
		hooks.srv.Close()
		shop.Close()
	})
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &env{now: now, a: a, db: db, pages: pages, hooks: hooks, returnURL: shop.URL + "/return?payment=p", logs: logs}
}

// receiver is a webhook endpoint that keeps what it was sent and can be
// told to fail the first deliveries.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []delivery
	fail int
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver() *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.fail > 0 {
			rc.fail--
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		rc.got = append(rc.got, delivery{header: r.Header.Clone(), body: body})
	}))
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// events verifies every delivery with the instance and returns the events.
func (e *env) events(t *testing.T) []adapters.WebhookEvent {
	t.Helper()
	var out []adapters.WebhookEvent
	for _, d := range e.hooks.deliveries() {
		evs, err := e.a.VerifyWebhook(d.header, d.body, e.now())
		if err != nil {
			t.Fatalf("delivered webhook does not verify: %v\n%s", err, d.body)
		}
		out = append(out, evs...)
	}
	return out
}

// syncBuffer is a log sink that may be written and read concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func eur(minor int64) paywire.Money {
	m, err := paywire.NewMoney(minor, "EUR")
	if err != nil {
		panic(err)
	}
	return m
}

func card(number string) *paywire.Card {
	return &paywire.Card{Number: number, CVC: "123", Holder: "Test Holder", ExpiryMonth: 12, ExpiryYear: time.Now().Year() + 2}
}

func (e *env) authorize(t *testing.T, paymentID, number string) adapters.Result {
	t.Helper()
	res, err := e.a.Authorize(ctx, adapters.AuthorizeRequest{PaymentID: paymentID, Kind: paywire.KindDeposit,
		Amount: eur(1234), Method: "card", Card: card(number), ReturnURL: e.returnURL})
	if err != nil {
		t.Fatalf("authorize %s: %v", paymentID, err)
	}
	return res
}

func TestTestCards(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		tests := []struct {
			number   string
			status   adapters.Status
			code     string
			redirect bool
		}{
			{"4242424242424242", adapters.Approved, "", false},
			{"5555555555554444", adapters.Approved, "", false},
			{"4000000000000002", adapters.Declined, "do_not_honor", false},
			{"4000000000000366", adapters.Declined, "acquirer_declined", false},
			{"4000000000009995", adapters.Declined, "insufficient_funds", false},
			{"4000000000003220", adapters.Pending, "", true},
			{"4000000000000119", adapters.Failed, "processing_error", false},
			{"4000000000000077", adapters.Pending, "", false},
			{"4111111111111111", adapters.Approved, "", false}, // ordinary, approval rate 1
			{"4242424242424241", adapters.Declined, "invalid_card", false},
		}
		for _, tt := range tests {
			t.Run(tt.number, func(t *testing.T) {
				// The pending card stays pending long enough to be seen so.
				e := newEnv(t, open(t), func(c *sandbox.Config) { c.WebhookDelay = time.Hour })
				res := e.authorize(t, "pay-"+tt.number, tt.number)
				if res.Status != tt.status || res.Code != tt.code || (res.RedirectURL != "") != tt.redirect {
					t.Fatalf("got %+v, want %s %q redirect=%v", res, tt.status, tt.code, tt.redirect)
				}
				if res.Reference == "" {
					t.Fatal("no reference")
				}
				if tt.redirect {
					want := e.pages.URL + "/sandbox/acquirer-t/challenge/" + res.Reference
					if res.RedirectURL != want {
						t.Fatalf("redirect %q, want %q", res.RedirectURL, want)
					}
				}
				st, err := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference})
				if err != nil || st.Status != res.Status {
					t.Fatalf("status %+v, %v; want %s", st, err, res.Status)
				}
			})
		}
	})
}

func TestTestCardsAreLuhnValid(t *testing.T) {
	// What docs/sandbox.md promises: every test card passes a form's Luhn check.
	for _, n := range []string{"4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
		"4000000000003220", "4000000000000119", "4000000000000010", "4000000000000077"} {
		sum := 0
		for i := range len(n) {
			d := int(n[len(n)-1-i] - '0')
			if i%2 == 1 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		if sum%10 != 0 {
			t.Errorf("%s is not Luhn-valid", n)
		}
	}
}

func TestPendingThenWebhook(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.WebhookDelay = 50 * time.Millisecond })
		res := e.authorize(t, "pay-77", "4000000000000077")
		if res.Status != adapters.Pending || res.RedirectURL != "" {
			t.Fatalf("got %+v, want pending without a page", res)
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventAuthorized || evs[0].Reference != res.Reference ||
			evs[0].PaymentID != "pay-77" || evs[0].Amount != 1234 {
			t.Fatalf("webhooks %+v", evs)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status after the webhook %+v", st)
		}
	})
}

// TestTimeoutCard: the provider does the work and the answer never
// arrives. The payment is found by the key of the call that made it, and
// the key answers a retry with the approval.
func TestTimeoutCard(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		req := adapters.AuthorizeRequest{PaymentID: "pay-10", Kind: paywire.KindDeposit,
			Amount: eur(1000), Method: "card", Card: card("4000000000000010"), IdempotencyKey: "pay-10-attempt-1"}
		start := time.Now() // before the deadline is set, which counts from now
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := e.a.Authorize(c, req)
		if paywire.ErrorCode(err) != paywire.EUNAVAILABLE || !errors.Is(err, context.DeadlineExceeded) || !adapters.Unknown(err) {
			t.Fatalf("err %v, want EUNAVAILABLE from the deadline, an unknown outcome", err)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
			t.Fatalf("returned after %v", d)
		}

		st, err := e.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: req.IdempotencyKey, PaymentID: "pay-10"})
		if err != nil || st.Status != adapters.Approved || st.Captured || st.Reference == "" {
			t.Fatalf("status by key %+v, %v; want an authorization (not captured)", st, err)
		}
		// The retry with the key gets the answer that was lost, at once.
		begin := time.Now()
		again, err := e.a.Authorize(ctx, req)
		if err != nil || again.Status != adapters.Approved || again.Reference != st.Reference {
			t.Fatalf("retry %+v, %v; want the approval of %s", again, err, st.Reference)
		}
		if d := time.Since(begin); d > 2*time.Second {
			t.Fatalf("the retry hung for %v", d)
		}
		if res, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: st.Reference}); err != nil || res.Status != adapters.Approved {
			t.Fatalf("capture %+v, %v", res, err)
		}

		for name, sr := range map[string]adapters.StatusRequest{
			"unknown key":        {IdempotencyKey: "never-sent"},
			"another payment id": {IdempotencyKey: req.IdempotencyKey, PaymentID: "pay-11"},
			"unknown reference":  {Reference: "sbx_nope"},
		} {
			if _, err := e.a.Status(ctx, sr); paywire.ErrorCode(err) != paywire.ENOTFOUND || adapters.Unknown(err) {
				t.Errorf("%s: %v, want ENOTFOUND", name, err)
			}
		}
		if _, err := e.a.Status(ctx, adapters.StatusRequest{PaymentID: "pay-10"}); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("status by payment id alone: %v, want EINVALID", err)
		}
	})
}

// TestTimeoutCardPay: a payout on the timeout card's credential is made,
// and its answer lost.
func TestTimeoutCardPay(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		c, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if _, err := e.a.Authorize(c, adapters.AuthorizeRequest{PaymentID: "dep-10", Kind: paywire.KindDeposit,
			Amount: eur(1000), Method: "card", Card: card("4000000000000010"), IdempotencyKey: "dep-10-1"}); paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
			t.Fatalf("deposit: %v", err)
		}
		src, err := e.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: "dep-10-1"})
		if err != nil {
			t.Fatal(err)
		}
		c2, cancel2 := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel2()
		_, err = e.a.Pay(c2, adapters.Payment{PaymentID: "wd-10", Kind: paywire.KindWithdrawal, Amount: eur(700),
			Method: "card", SourceReference: src.Reference, IdempotencyKey: "wd-10-1"})
		if paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
			t.Fatalf("payout: %v, want EUNAVAILABLE", err)
		}
		st, err := e.a.Status(ctx, adapters.StatusRequest{IdempotencyKey: "wd-10-1", PaymentID: "wd-10"})
		if err != nil || st.Status != adapters.Approved || !st.Captured {
			t.Fatalf("status of the payout %+v, %v; want approved, money moved", st, err)
		}
		var buf bytes.Buffer
		if err := e.a.SettlementReport(ctx, &buf, time.Now()); err != nil {
			t.Fatal(err)
		}
		if want := st.Reference + ",wd-10,payout,7.00,EUR,"; !strings.Contains(buf.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, buf.String())
		}
	})
}

func TestLatency(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.Latency = 80 * time.Millisecond })
		start := time.Now()
		e.authorize(t, "pay-slow", "4242424242424242")
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("answered after %v, want at least the latency", d)
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if _, err := e.a.Status(c, adapters.StatusRequest{Reference: "whatever"}); paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
			t.Fatalf("err %v, want EUNAVAILABLE when the caller stops waiting", err)
		}
	})
}

func TestExpiredCard(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		c := card("4242424242424242")
		c.ExpiryYear = time.Now().Year() - 1
		res, err := e.a.Authorize(ctx, adapters.AuthorizeRequest{PaymentID: "pay-old", Kind: paywire.KindDeposit,
			Amount: eur(1000), Method: "card", Card: c})
		if err != nil || res.Status != adapters.Declined || res.Code != "expired_card" {
			t.Fatalf("got %+v, %v; want declined expired_card", res, err)
		}
	})
}

func TestApprovalRate(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		count := func(rate float64) int {
			e := newEnv(t, open(t), func(c *sandbox.Config) { c.ApprovalRate = rate })
			n := 0
			for i := range 200 {
				id := fmt.Sprintf("pay-%d", i)
				res := e.authorize(t, id, "4111111111111111")
				if res.Status == adapters.Approved {
					n++
				} else if res.Code != "acquirer_declined" || !res.Soft {
					t.Fatalf("declined with %q, soft %v; want a soft acquirer_declined", res.Code, res.Soft)
				}
				// The same payment id gets the same answer.
				if again := e.authorize(t, id, "4111111111111111"); again.Status != res.Status {
					t.Fatalf("%s: %s then %s", id, res.Status, again.Status)
				}
			}
			return n
		}
		if n := count(0); n != 200 {
			t.Errorf("default rate approved %d of 200, want all", n)
		}
		if n := count(0.5); n < 70 || n > 130 {
			t.Errorf("rate 0.5 approved %d of 200", n)
		}
		if n := count(-1); n != 0 {
			t.Errorf("negative rate approved %d of 200, want none", n)
		}
		// Test cards are not subject to the rate.
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.ApprovalRate = -1 })
		if res := e.authorize(t, "pay-x", "4242424242424242"); res.Status != adapters.Approved {
			t.Errorf("4242 with rate 0: %+v", res)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		req := adapters.AuthorizeRequest{PaymentID: "pay-1", Kind: paywire.KindDeposit, Amount: eur(10000),
			Method: "card", Card: card("4242424242424242"), IdempotencyKey: "pay-1-attempt-1"}
		first, err := e.a.Authorize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.a.Authorize(ctx, req)
		if err != nil || again != first {
			t.Fatalf("repeat %+v, %v; want %+v", again, err, first)
		}
		req.Amount = eur(20000)
		if _, err := e.a.Authorize(ctx, req); paywire.ErrorCode(err) != paywire.EIDEMPOTENCY {
			t.Fatalf("key reused for another amount: %v, want EIDEMPOTENCY", err)
		}

		op := adapters.Operation{PaymentID: "pay-1", ProviderReference: first.Reference, Amount: eur(6000), IdempotencyKey: "cap-1"}
		for range 3 {
			if res, err := e.a.Capture(ctx, op); err != nil || res.Status != adapters.Approved {
				t.Fatalf("capture %+v, %v", res, err)
			}
		}
		// Captured once: 40.00 of 100.00 are left.
		op.IdempotencyKey, op.Amount = "cap-2", eur(4001)
		if res, _ := e.a.Capture(ctx, op); res.Status != adapters.Declined {
			t.Fatalf("capture beyond what a single capture left: %+v", res)
		}
		op.IdempotencyKey, op.Amount = "cap-3", eur(4000)
		if res, _ := e.a.Capture(ctx, op); res.Status != adapters.Approved {
			t.Fatalf("capture of the rest: %+v", res)
		}
		refund := adapters.Operation{ProviderReference: first.Reference, Amount: eur(2500), IdempotencyKey: "ref-1"}
		for range 2 {
			if res, err := e.a.Refund(ctx, refund); err != nil || res.Status != adapters.Approved {
				t.Fatalf("refund %+v, %v", res, err)
			}
		}
		var buf bytes.Buffer
		if err := e.a.SettlementReport(ctx, &buf, time.Now()); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), ",refund,"); n != 1 {
			t.Fatalf("%d refunds booked, want 1:\n%s", n, buf.String())
		}
	})
}

func TestIdempotencyKeyInProgress(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		req := adapters.AuthorizeRequest{PaymentID: "pay-hang", Kind: paywire.KindDeposit, Amount: eur(1000),
			Method: "card", Card: card("4000000000000010"), IdempotencyKey: "k"}
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		done := make(chan error)
		go func() {
			_, err := e.a.Authorize(c, req)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		if _, err := e.a.Authorize(ctx, req); paywire.ErrorCode(err) != paywire.EINPROGRESS {
			t.Fatalf("second call while the first runs: %v, want EINPROGRESS", err)
		}
		if err := <-done; paywire.ErrorCode(err) != paywire.EUNAVAILABLE {
			t.Fatalf("first call: %v", err)
		}
		// The first call did its work before it failed: the key answers.
		if res, err := e.a.Authorize(ctx, req); err != nil || res.Status != adapters.Approved {
			t.Fatalf("retry: %+v, %v; want the approval the first call made", res, err)
		}

		// A call that ended in an error before doing anything left no
		// answer behind: the key may be used again, even for another request.
		bad := adapters.AuthorizeRequest{PaymentID: "pay-3ds", Kind: paywire.KindDeposit, Amount: eur(1000),
			Method: "card", Card: card("4000000000003220"), IdempotencyKey: "k2"}
		for range 2 {
			if _, err := e.a.Authorize(ctx, bad); paywire.ErrorCode(err) != paywire.EINVALID {
				t.Fatalf("challenge without a return URL: %v, want EINVALID", err)
			}
		}
		bad.ReturnURL = e.returnURL
		if res, err := e.a.Authorize(ctx, bad); err != nil || res.Status != adapters.Pending {
			t.Fatalf("the key after an error: %+v, %v", res, err)
		}
	})
}

func TestMoneyRules(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		auth := e.authorize(t, "pay-m", "4242424242424242") // 12.34 EUR
		ref := auth.Reference
		usd, _ := paywire.NewMoney(100, "USD")
		steps := []struct {
			name   string
			call   func(context.Context, adapters.Operation) (adapters.Result, error)
			op     adapters.Operation
			status adapters.Status
			code   string
			err    string
		}{
			{"refund before capture", e.a.Refund, adapters.Operation{ProviderReference: ref, Amount: eur(100)}, adapters.Declined, "invalid_state", ""},
			{"capture over the authorization", e.a.Capture, adapters.Operation{ProviderReference: ref, Amount: eur(1235)}, adapters.Declined, "amount_exceeds_authorized", ""},
			{"capture in another currency", e.a.Capture, adapters.Operation{ProviderReference: ref, Amount: usd}, "", "", paywire.EINVALID},
			{"capture of an unknown payment", e.a.Capture, adapters.Operation{ProviderReference: "sbx_nope", Amount: eur(1)}, "", "", paywire.ENOTFOUND},
			{"capture of another payment's reference", e.a.Capture, adapters.Operation{PaymentID: "pay-other", ProviderReference: ref, Amount: eur(1)}, "", "", paywire.ENOTFOUND},
			{"partial capture by payment id", e.a.Capture, adapters.Operation{PaymentID: "pay-m", Amount: eur(1000)}, adapters.Approved, "", ""},
			{"capture of the rest", e.a.Capture, adapters.Operation{ProviderReference: ref}, adapters.Approved, "", ""},
			{"capture of nothing left", e.a.Capture, adapters.Operation{ProviderReference: ref, Amount: eur(1)}, adapters.Declined, "amount_exceeds_authorized", ""},
			{"void of a captured payment", e.a.Void, adapters.Operation{ProviderReference: ref}, adapters.Declined, "invalid_state", ""},
			{"refund over the captures", e.a.Refund, adapters.Operation{ProviderReference: ref, Amount: eur(1235)}, adapters.Declined, "amount_exceeds_captured", ""},
			{"partial refund", e.a.Refund, adapters.Operation{ProviderReference: ref, Amount: eur(234)}, adapters.Approved, "", ""},
			{"refund of the rest", e.a.Refund, adapters.Operation{ProviderReference: ref}, adapters.Approved, "", ""},
			{"refund of nothing left", e.a.Refund, adapters.Operation{ProviderReference: ref, Amount: eur(1)}, adapters.Declined, "amount_exceeds_captured", ""},
		}
		for _, s := range steps {
			res, err := s.call(ctx, s.op)
			if s.err != "" {
				if paywire.ErrorCode(err) != s.err {
					t.Fatalf("%s: %+v, %v; want %s", s.name, res, err, s.err)
				}
				continue
			}
			if err != nil || res.Status != s.status || res.Code != s.code {
				t.Fatalf("%s: %+v, %v; want %s %q", s.name, res, err, s.status, s.code)
			}
		}

		other := e.authorize(t, "pay-v", "4242424242424242")
		if res, err := e.a.Void(ctx, adapters.Operation{ProviderReference: other.Reference}); err != nil || res.Status != adapters.Approved {
			t.Fatalf("void %+v, %v", res, err)
		}
		if res, _ := e.a.Capture(ctx, adapters.Operation{ProviderReference: other.Reference}); res.Code != "invalid_state" {
			t.Fatalf("capture after a void %+v", res)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: other.Reference}); st.Status != adapters.Cancelled {
			t.Fatalf("status after a void %+v, want cancelled", st)
		}
		if res, err := e.a.Void(ctx, adapters.Operation{ProviderReference: other.Reference}); err != nil || res.Status != adapters.Approved {
			t.Fatalf("second void %+v, %v", res, err)
		}
	})
}

// TestVoidReleasesTheRest: a void of a partly captured authorization
// gives up what is left of it; what was captured stands.
func TestVoidReleasesTheRest(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		ref := e.authorize(t, "pay-r", "4242424242424242").Reference // 12.34 EUR
		op := adapters.Operation{ProviderReference: ref}
		steps := []struct {
			name   string
			call   func(context.Context, adapters.Operation) (adapters.Result, error)
			amount int64
			status adapters.Status
			code   string
		}{
			{"partial capture", e.a.Capture, 1000, adapters.Approved, ""},
			{"void of the rest", e.a.Void, 0, adapters.Approved, ""},
			{"capture after the release", e.a.Capture, 1, adapters.Declined, "amount_exceeds_authorized"},
			{"void again", e.a.Void, 0, adapters.Approved, ""},
			{"refund of the capture", e.a.Refund, 1000, adapters.Approved, ""},
		}
		for _, s := range steps {
			op.Amount = paywire.Money{}
			if s.amount > 0 {
				op.Amount = eur(s.amount)
			}
			res, err := s.call(ctx, op)
			if err != nil || res.Status != s.status || res.Code != s.code {
				t.Fatalf("%s: %+v, %v; want %s %q", s.name, res, err, s.status, s.code)
			}
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: ref}); st.Status != adapters.Approved || st.Captured {
			t.Fatalf("status %+v, want the authorization approved", st)
		}
	})
}

func TestPay(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		paid := e.authorize(t, "dep-1", "4242424242424242")
		refused := e.authorize(t, "dep-2", "4000000000000002")
		tests := []struct {
			name   string
			source string
			status adapters.Status
			code   string
		}{
			{"on an authorized deposit", paid.Reference, adapters.Approved, ""},
			{"on a declined deposit", refused.Reference, adapters.Declined, "unknown_source"},
			{"on an unknown reference", "sbx_unknown", adapters.Declined, "unknown_source"},
			{"without a source", "", adapters.Declined, "unknown_source"},
		}
		for i, tt := range tests {
			res, err := e.a.Pay(ctx, adapters.Payment{PaymentID: fmt.Sprintf("wd-%d", i), Kind: paywire.KindWithdrawal,
				Amount: eur(500), Method: "card", SourceReference: tt.source, IdempotencyKey: fmt.Sprintf("wd-%d-pay-1", i)})
			if err != nil || res.Status != tt.status || res.Code != tt.code || res.Captured != (tt.status == adapters.Approved) {
				t.Errorf("%s: %+v, %v; want %s %q, captured when approved", tt.name, res, err, tt.status, tt.code)
			}
		}
		// A payout is not refundable.
		res, _ := e.a.Pay(ctx, adapters.Payment{PaymentID: "wd-x", Kind: paywire.KindWithdrawal, Amount: eur(500), SourceReference: paid.Reference})
		if r, _ := e.a.Refund(ctx, adapters.Operation{ProviderReference: res.Reference}); r.Status != adapters.Declined {
			t.Errorf("refund of a payout %+v", r)
		}
		// Another instance, even on the same database, does not know this one's references.
		other := newEnv(t, e.db, func(c *sandbox.Config) { c.Name = "acquirer-u" })
		if r, _ := other.a.Pay(ctx, adapters.Payment{PaymentID: "wd-y", Kind: paywire.KindWithdrawal, Amount: eur(500), SourceReference: paid.Reference}); r.Code != "unknown_source" {
			t.Errorf("pay on another instance's reference %+v", r)
		}
	})
}

func TestEwallet(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.WebhookDelay = 20 * time.Millisecond })
		res, err := e.a.Authorize(ctx, adapters.AuthorizeRequest{PaymentID: "pay-w", Kind: paywire.KindDeposit,
			Amount: eur(2500), Method: "ewallet", Wallet: "jane@example.com"})
		if err != nil || res.Status != adapters.Pending || res.RedirectURL != "" {
			t.Fatalf("got %+v, %v; want pending without a page", res, err)
		}
		e.a.Wait()
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Type != adapters.EventCaptured || evs[0].Amount != 2500 {
			t.Fatalf("webhooks %+v", evs)
		}
		if st, _ := e.a.Status(ctx, adapters.StatusRequest{Reference: res.Reference}); st.Status != adapters.Approved {
			t.Fatalf("status %+v", st)
		}
		// The money moved: it can be refunded, not captured again.
		if r, _ := e.a.Refund(ctx, adapters.Operation{ProviderReference: res.Reference, Amount: eur(500)}); r.Status != adapters.Approved {
			t.Fatalf("refund %+v", r)
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), nil)
		good := adapters.AuthorizeRequest{PaymentID: "p", Kind: paywire.KindDeposit, Amount: eur(100), Method: "card",
			Card: card("4242424242424242"), ReturnURL: "https://shop.example/back"}
		tests := map[string]func(*adapters.AuthorizeRequest){
			"no payment id":       func(r *adapters.AuthorizeRequest) { r.PaymentID = "" },
			"zero amount":         func(r *adapters.AuthorizeRequest) { r.Amount = eur(0) },
			"no currency":         func(r *adapters.AuthorizeRequest) { r.Amount = paywire.Money{Amount: 100} },
			"unknown method":      func(r *adapters.AuthorizeRequest) { r.Method = "cheque" },
			"card without a card": func(r *adapters.AuthorizeRequest) { r.Card = nil },
			"relative return URL": func(r *adapters.AuthorizeRequest) { r.ReturnURL = "/back" },
			"script return URL":   func(r *adapters.AuthorizeRequest) { r.ReturnURL = "javascript:alert(1)" },
			"bank without a bank": func(r *adapters.AuthorizeRequest) { r.Method, r.Card = "bank_redirect", nil },
			"bank without return": func(r *adapters.AuthorizeRequest) {
				r.Method, r.Bank, r.ReturnURL = "bank_redirect", "sandbox-bank", ""
			},
			"wallet without one": func(r *adapters.AuthorizeRequest) { r.Method = "ewallet" },
			"challenge, no return": func(r *adapters.AuthorizeRequest) {
				r.Card, r.ReturnURL = card("4000000000003220"), ""
			},
		}
		for name, change := range tests {
			req := good
			change(&req)
			if _, err := e.a.Authorize(ctx, req); paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%s: %v, want EINVALID", name, err)
			}
		}
	})
}

func TestNoCardNumberInLogs(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.ApprovalRate = 0.5 })
		numbers := []string{"4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
			"4000000000003220", "4000000000000119", "4000000000000077", "4111111111111111", "4242424242424241"}
		var seen strings.Builder
		for i, n := range numbers {
			res := e.authorize(t, fmt.Sprintf("pay-%d", i), n)
			fmt.Fprintf(&seen, "%+v\n", res)
			if res.RedirectURL != "" {
				page := get(t, res.RedirectURL)
				seen.WriteString(page.body)
			}
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		_, err := e.a.Authorize(c, adapters.AuthorizeRequest{PaymentID: "pay-t", Kind: paywire.KindDeposit, Amount: eur(1),
			Method: "card", Card: card("4000000000000010")})
		fmt.Fprintf(&seen, "%v\n", err)
		e.a.Wait()
		for _, d := range e.hooks.deliveries() {
			seen.Write(d.body)
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "4242") || !strings.Contains(logs, `"level":"INFO"`) {
			t.Fatalf("the logs say too little to be a useful check:\n%s", logs)
		}
		// What the provider keeps, every column of every row.
		var stored strings.Builder
		for _, table := range []string{"sandbox_payments", "sandbox_idempotency_keys", "sandbox_bookings"} {
			var rows []map[string]any
			if err := e.db.NewSelect().Table(table).Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&stored, "%v\n", rows)
		}
		if !strings.Contains(stored.String(), "4242") {
			t.Fatalf("the tables hold too little to be a useful check:\n%s", stored.String())
		}
		for _, n := range append(numbers, "4000000000000010") {
			if strings.Contains(logs, n) {
				t.Errorf("card number %s in the logs", n)
			}
			if strings.Contains(seen.String(), n) {
				t.Errorf("card number %s in results, pages or webhooks", n)
			}
			if strings.Contains(stored.String(), n) {
				t.Errorf("card number %s in the database", n)
			}
		}
	})
}

func TestDefaultsMatchRouting(t *testing.T) {
	data, err := rules.FS.ReadFile("routing/data.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rules []struct {
			Effect struct {
				Providers []string `yaml:"providers"`
			} `yaml:"effect"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	defaults, err := sandbox.Defaults(ctx, openSQLite(t), "http://127.0.0.1:8080/", secret)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*sandbox.Acquirer{}
	for _, a := range defaults {
		byName[a.Name()] = a
		defer a.Close()
	}
	for _, r := range doc.Rules {
		for _, p := range r.Effect.Providers {
			if byName[p] == nil {
				t.Errorf("routing names provider %q, which no default sandbox instance is", p)
			}
		}
	}
	if a := byName["acquirer-a"]; a == nil || a.PathPrefix() != "/sandbox/acquirer-a/" {
		t.Fatalf("acquirer-a missing or mounted elsewhere")
	}
	// acquirer-b answers after its latency.
	start := time.Now()
	if _, err := byName["acquirer-b"].Status(ctx, adapters.StatusRequest{Reference: "sbx_none"}); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Fatalf("status of an unknown reference: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("acquirer-b answered in %v", d)
	}
}

func TestNewRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "Acquirer", "a/b", "a b", "{x}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted the name %q", name)
				}
			}()
			sandbox.New(sandbox.Config{Name: name})
		}()
	}
}
