package payment_test

import (
	"context"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var ctx = context.Background()

// payer answers backend payments from a script and counts its calls.
type payer struct {
	name    string
	answers []adapters.Status
	calls   int
}

func (p *payer) Name() string { return p.name }

func (p *payer) Pay(_ context.Context, pm adapters.Payment) (adapters.Result, error) {
	st := p.answers[min(p.calls, len(p.answers)-1)]
	p.calls++
	return adapters.Result{Status: st, Reference: p.name + "/" + pm.IdempotencyKey, Code: string(st)}, nil
}

func newService(t *testing.T, providers ...adapters.Provider) (*payment.Service, *store.DB) {
	t.Helper()
	db := storetest.NewSQLite(t)
	storetest.SeedMerchant(t, db, "shop")
	e := engine.New(1)
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	return &payment.Service{Payments: db, Merchants: db, Idempotency: db, Engine: e,
		Providers: adapters.NewRegistry(providers...), PortalURL: "http://localhost", TokenKey: []byte("k")}, db
}

// paidCard stores a card deposit of the end user u1, completed by
// acquirer-a, to reuse.
func paidCard(t *testing.T, db *store.DB) *paywire.Payment {
	t.Helper()
	p := storetest.SeedPayment(t, db, "shop", "source-1")
	for _, c := range []paywire.StateChange{
		{To: paywire.StatePending, Method: "card", Provider: "acquirer-a"},
		{To: paywire.StateCompleted, ProviderReference: "a-1", CaptureAmount: 1000},
	} {
		c.PaymentID, c.MerchantID, c.Version, c.Source = p.ID, "shop", p.Version, "system"
		var err error
		if p, _, err = db.ApplyStateChange(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func backend(ref, source string) payment.CreateRequest {
	amt, _ := paywire.NewMoney(5000, "EUR")
	return payment.CreateRequest{MerchantReference: ref, Kind: paywire.KindDeposit, Amount: amt,
		EndUser: paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE"}, PaymentMethod: "card", SourcePaymentID: source}
}

// routeOf returns the providers the engine routes the request to.
func routeOf(t *testing.T, s *payment.Service) []string {
	t.Helper()
	d, err := s.Engine.Route(ctx, engine.RouteInput{Request: engine.RouteRequest{MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 5000, Currency: "EUR", Exponent: 2}, Method: "card",
		Customer: engine.RouteCustomer{ID: "u1", Country: "DE"}}})
	if err != nil || len(d.Providers) < 2 {
		t.Fatalf("route %v, %v", d.Providers, err)
	}
	return d.Providers
}

func TestCreateFollowsTheRoute(t *testing.T) {
	tests := []struct {
		note        string
		first       []adapters.Status
		second      []adapters.Status
		state       paywire.State
		provider    int // index in the route of the provider recorded, -1 for none
		secondCalls int
	}{
		{"approved by the first", []adapters.Status{adapters.Approved}, []adapters.Status{adapters.Approved}, paywire.StateCompleted, 0, 0},
		{"technical failure falls back", []adapters.Status{adapters.Failed}, []adapters.Status{adapters.Approved}, paywire.StateCompleted, 1, 1},
		{"a decline is final", []adapters.Status{adapters.Declined}, []adapters.Status{adapters.Approved}, paywire.StateRefused, 0, 0},
		{"every provider fails", []adapters.Status{adapters.Failed}, []adapters.Status{adapters.Failed}, paywire.StateFailed, -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.note, func(t *testing.T) {
			probe, _ := newService(t)
			route := routeOf(t, probe)
			first, second := &payer{name: route[0], answers: tt.first}, &payer{name: route[1], answers: tt.second}
			s, db := newService(t, first, second)
			src := paidCard(t, db)
			p, err := s.Create(ctx, "shop", "", backend("b-1", src.ID))
			if err != nil {
				t.Fatal(err)
			}
			if p.State != tt.state || second.calls != tt.secondCalls || first.calls != 1 {
				t.Fatalf("state %s, calls %d/%d; want %s, 1/%d", p.State, first.calls, second.calls, tt.state, tt.secondCalls)
			}
			if tt.provider >= 0 && p.Provider != route[tt.provider] {
				t.Errorf("provider %q; want %q", p.Provider, route[tt.provider])
			}
			if p.State == paywire.StateCompleted && p.Captured != p.Amount.Amount {
				t.Errorf("captured %d of %d", p.Captured, p.Amount.Amount)
			}
			if p.Card != src.Card || p.Method != "card" {
				t.Errorf("method %q card %+v; want the source's", p.Method, p.Card)
			}
			evs, err := db.Events(ctx, "shop", p.ID)
			if err != nil || evs[len(evs)-1].To != tt.state {
				t.Errorf("history %+v, %v", evs, err)
			}
		})
	}
}

func TestCreateRefusesUnsuitableSources(t *testing.T) {
	s, db := newService(t)
	src := paidCard(t, db)
	unpaid := storetest.SeedPayment(t, db, "shop", "unpaid")
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
		if _, err := s.Create(ctx, "shop", "", c.req); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("%s: %v; want invalid", c.note, err)
		}
	}
	storetest.SeedMerchant(t, db, "other-shop")
	if _, err := s.Create(ctx, "other-shop", "", backend("b-4", src.ID)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("another merchant's source: %v", err)
	}
}
