package payment_test

import (
	"context"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store/storetest"
)

// paidCard stores a card deposit of end user u1 with shop, completed by
// acquirer-a with the provider reference a-1, for backend payments to
// reuse.
func paidCard(e *env) *paywire.Payment {
	e.t.Helper()
	p := storetest.SeedPayment(e.t, e.db, "shop", "source-1")
	p.Method, p.Provider = paywire.MethodCard, "acquirer-a"
	p = e.move(p, paywire.Move{To: paywire.StatePending})
	p.ProviderReference = "a-1"
	return e.move(p, paywire.Move{To: paywire.StateCompleted, Capture: p.Amount.Amount})
}

func backend(ref, source string) payment.CreateRequest {
	return payment.CreateRequest{MerchantReference: ref, Kind: paywire.KindDeposit, Amount: money(5000),
		EndUser: paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE"}, PaymentMethod: "card", SourcePaymentID: source}
}

// answers scripts a provider's backend payments: the n-th call gets the
// n-th reply (the last one repeats).
func answers(rs ...reply) func(context.Context, call) reply {
	n := 0
	return func(_ context.Context, c call) reply {
		if c.Op != "pay" && c.Op != "authorize" {
			return reply{}
		}
		r := rs[min(n, len(rs)-1)]
		n++
		return r
	}
}

var (
	sale     = reply{Result: adapters.Result{Status: adapters.Approved, Captured: true}}
	approved = reply{Result: adapters.Result{Status: adapters.Approved}}
	declined = reply{Result: adapters.Result{Status: adapters.Declined, Code: "do_not_honor"}}
	failed   = reply{Result: adapters.Result{Status: adapters.Failed, Code: "processing_error"}}
	notSent  = reply{Err: &paywire.Error{Code: paywire.EUNAVAILABLE, Message: "connection refused", Err: adapters.ErrNotSent}}
	unknown  = reply{Err: timeout()}
)

// TestCreateFollowsTheRoute: a backend payment goes to the provider that
// holds its source's stored credential, the only one that can pay on it:
// never to another routed provider, even after a definite "not done" (the
// other would not know the credential). Completion is the provider's word
// (an approval that moved the money, Captured), an approval alone
// authorizes; an unknown outcome (a timeout) leaves the payment pending,
// its attempt open for a status query.
func TestCreateFollowsTheRoute(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	if route[0] != "acquirer-a" {
		t.Fatalf("the route starts with %s; the source's credential is acquirer-a's", route[0])
	}
	tests := []struct {
		note          string
		first, second reply
		state         paywire.State
		provider      int // index in the route of the provider recorded, -1 for none
		secondCalls   int
	}{
		{"a sale by the first", sale, sale, paywire.StateCompleted, 0, 0},
		{"an authorization by the first", approved, sale, paywire.StateAuthorized, 0, 0},
		{"technical failure does not go elsewhere", failed, sale, paywire.StateFailed, -1, 0},
		{"a request not sent does not go elsewhere", notSent, sale, paywire.StateFailed, -1, 0},
		{"a decline is final", declined, sale, paywire.StateRefused, 0, 0},
		{"an unknown outcome stays open", unknown, sale, paywire.StatePending, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.note, func(t *testing.T) {
			t.Parallel()
			first, second := newFake(route[0]), newFake(route[1])
			first.setScript(answers(tt.first))
			second.setScript(answers(tt.second))
			e := newEnv(t, withProviders(first, second))
			src := paidCard(e)
			p, err := e.s.Create(ctx, "shop", "", backend("b-1", src.ID))
			if err != nil {
				t.Fatal(err)
			}
			fc, sc := len(first.callsOf("pay")), len(second.callsOf("pay"))
			if p.State != tt.state || sc != tt.secondCalls || fc != 1 {
				t.Fatalf("state %s, calls %d/%d; want %s, 1/%d", p.State, fc, sc, tt.state, tt.secondCalls)
			}
			if tt.provider >= 0 && p.Provider != route[tt.provider] {
				t.Errorf("provider %q; want %q", p.Provider, route[tt.provider])
			}
			if c := first.callsOf("pay")[0]; c.Reference != "a-1" || c.Amount != 5000 {
				t.Errorf("the provider was asked %+v; want the source's reference and the amount", c)
			}
			if want := map[paywire.State]int64{paywire.StateCompleted: 5000}[tt.state]; p.Captured != want {
				t.Errorf("captured %d of %d; want %d", p.Captured, p.Amount.Amount, want)
			}
			if p.Card != src.Card || p.Method != "card" || p.SourcePaymentID != src.ID {
				t.Errorf("method %q card %+v source %q; want the source's", p.Method, p.Card, p.SourcePaymentID)
			}
			evs := e.events(p)
			if evs[len(evs)-1].To != tt.state || int64(len(evs)) != p.Version {
				t.Errorf("history %+v", evs)
			}
			if got := e.get("shop", p.ID); got.State != p.State || got.Version != p.Version {
				t.Errorf("stored %s; returned %s", describe(got), describe(p))
			}
		})
	}
}

func TestCreateRefusesUnsuitableSources(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := paidCard(e)
	unpaid := storetest.SeedPayment(t, e.db, "shop", "unpaid")
	other := backend("b-2", src.ID)
	other.EndUser.ID = "u2"
	bank := backend("b-3", src.ID)
	bank.PaymentMethod = "bank_redirect"
	for _, c := range []struct {
		note string
		req  payment.CreateRequest
	}{
		{"no source", backend("b-1", "")},
		{"unknown source", backend("b-1", "pay_nothing")},
		{"unpaid source", backend("b-1", unpaid.ID)},
		{"another end user's source", other},
		{"another method", bank},
	} {
		if _, err := e.s.Create(ctx, "shop", "", c.req); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("%s: %v; want invalid", c.note, err)
		}
	}
	storetest.SeedMerchant(t, e.db, "other-shop")
	if _, err := e.s.Create(ctx, "other-shop", "", backend("b-4", src.ID)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("another merchant's source: %v", err)
	}
}

// TestCreateIsIdempotent: a backend payment retried with its key is the
// same payment, answered as the first request left it, and the provider
// is asked once.
func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	first := newFake(route[0])
	first.setScript(answers(sale))
	e := newEnv(t, withProviders(first, newFake(route[1])))
	src := paidCard(e)
	p, err := e.s.Create(ctx, "shop", "key-1", backend("b-1", src.ID))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.s.Create(ctx, "shop", "key-1", backend("b-1", src.ID))
	if err != nil || again.ID != p.ID || again.State != paywire.StateCompleted || again.Version != p.Version {
		t.Fatalf("retry: %s, %v; first %s", describe(again), err, describe(p))
	}
	if n := len(first.callsOf("pay")); n != 1 {
		t.Errorf("the provider was asked %d times", n)
	}
	if _, err := e.s.Create(ctx, "shop", "key-1", backend("b-2", src.ID)); paywire.ErrorCode(err) != paywire.EIDEMPOTENCY {
		t.Errorf("the key with another request: %v", err)
	}
}

// TestBackendPaymentStaysWithTheCredential: a source paid at the second
// routed provider makes its backend payments go there, not to the first
// (which does not hold the credential).
func TestBackendPaymentStaysWithTheCredential(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	first, second := newFake(route[0]), newFake(route[1])
	first.setScript(answers(sale))
	second.setScript(answers(sale))
	e := newEnv(t, withProviders(first, second))
	src := storetest.SeedPayment(t, e.db, "shop", "source-2")
	src.Method, src.Provider = paywire.MethodCard, route[1]
	src = e.move(src, paywire.Move{To: paywire.StatePending})
	src.ProviderReference = "b-1"
	src = e.move(src, paywire.Move{To: paywire.StateCompleted, Capture: src.Amount.Amount})
	p, err := e.s.Create(ctx, "shop", "", backend("b-2", src.ID))
	if err != nil || p.State != paywire.StateCompleted || p.Provider != route[1] {
		t.Fatalf("%+v, %v", p, err)
	}
	if len(first.callsOf("pay")) != 0 || len(second.callsOf("pay")) != 1 || second.callsOf("pay")[0].Reference != "b-1" {
		t.Errorf("pay calls %d/%d", len(first.callsOf("pay")), len(second.callsOf("pay")))
	}
}
