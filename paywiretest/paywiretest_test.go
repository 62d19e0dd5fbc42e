package paywiretest_test

import (
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store/storetest"
)

// TestEnv: the core an Env wires works as serve wires it, on every
// database: a merchant starts a payment, the availability decision is
// recorded with it, and the Env's clock is the time of both.
func TestEnv(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	paywiretest.ForEachDatabase(t, func(t *testing.T, e *paywiretest.Env) {
		e.Merchant("shop", "secret-of-shop")
		amount, _ := paywire.NewMoney(5000, "EUR")
		rd, err := e.Payments.Start(t.Context(), "shop", "ref:order-1", payment.StartRequest{
			MerchantReference: "order-1", Kind: paywire.KindDeposit, Amount: amount,
			EndUser: paywire.EndUser{ID: "u1", Email: "u1@example.com", Country: "DE", Language: "de", IP: "192.0.2.1"},
			ReturnURLs: paywire.ReturnURLs{Success: "https://shop.example/ok", Error: "https://shop.example/error",
				Cancel: "https://shop.example/cancel", Refused: "https://shop.example/refused", Pending: "https://shop.example/pending"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rd.URL != "http://localhost:8080/pay" || !rd.ExpiresAt.After(at) || rd.ExpiresAt.After(at.Add(time.Hour)) {
			t.Errorf("redirect to %s until %v; want the default base URL, expiring soon after %v", rd.URL, rd.ExpiresAt, at)
		}
		p, err := e.DB.Payment(t.Context(), "shop", rd.PaymentID)
		if err != nil || !p.CreatedAt.Equal(at) {
			t.Fatalf("stored %+v, %v; want it created at %v", p, err, at)
		}
		// Start asks for the available methods before the payment exists;
		// the decision is stored with the payment, as the payment's.
		ds, err := e.DB.Decisions(t.Context(), "shop", rd.PaymentID)
		if err != nil || len(ds) != 1 || ds[0].Point != engine.PointAvailability {
			t.Errorf("decisions recorded: %+v, %v; want the availability decision", ds, err)
		}

		e.Clock.Add(time.Minute)
		a := e.Authorized("shop", "order-2", "acquirer-a")
		if a.State != paywire.StateAuthorized || a.Provider != "acquirer-a" || a.Method != paywire.MethodCard ||
			a.ProviderReference != "auth-1" || !a.UpdatedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("authorized payment %+v", a)
		}
		other := e.CreatePayment(storetest.SeedPaymentValue("shop", "order-3"))
		if other.Version != 1 || other.State != paywire.StateCreated {
			t.Errorf("created payment %+v", other)
		}
	}, paywiretest.FixedClock(at))
}

func TestClock(t *testing.T) {
	var c paywiretest.Clock
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Errorf("a new clock is %v off the wall clock", d)
	}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c.Set(at)
	c.Add(time.Hour)
	if got := c.Now(); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("stopped and moved: %v", got)
	}
	c.Run()
	if d := time.Since(c.Now()); d < 0 || d > time.Minute {
		t.Errorf("running again, the clock is %v off the wall clock", d)
	}
}
