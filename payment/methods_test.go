package payment_test

import (
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// TestMerchantTurnsMethodsOff: a method the merchant turned off is never
// offered (the availability decision's answer is filtered) and a payment
// with it is refused; another merchant still has it.
func TestMerchantTurnsMethodsOff(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.merchant(paywire.Merchant{ID: "nowallet", DisabledMethods: []paywire.Method{paywire.MethodEWallet}})
	offered := func(merchant string) map[string]bool {
		t.Helper()
		ms, err := e.s.AvailableMethods(ctx, merchant, payment.MethodsRequest{Kind: paywire.KindDeposit, Amount: money(2500), Country: "DE"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, m := range ms {
			out[m.Method] = true
		}
		return out
	}
	if all := offered("shop"); !all["ewallet"] || !all["card"] {
		t.Fatalf("the policies offer %v; the test needs card and e-wallet", all)
	}
	if got := offered("nowallet"); got["ewallet"] || !got["card"] {
		t.Errorf("a merchant without e-wallets is offered %v", got)
	}
	c, err := e.s.OpenRedirect(ctx, e.startFor(t, "nowallet", "nw-1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Methods {
		if m.Method == "ewallet" {
			t.Error("the hosted page offers an e-wallet the merchant turned off")
		}
	}
	_, err = e.s.Submit(ctx, e.startFor(t, "nowallet", "nw-2"), payment.Details{Method: paywire.MethodEWallet, Wallet: "u1@example.com"})
	if de, ok := err.(*payment.DetailsError); !ok || len(de.Fields) != 1 || de.Fields[0].Field != "method" {
		t.Errorf("an e-wallet payment for a merchant without them: %v", err)
	}
}
