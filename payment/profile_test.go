package payment_test

import (
	"testing"

	"github.com/paywire/paywire"
)

// TestRiskProfileOfTheMerchant: the same payment of a new customer is
// decided under each merchant's risk profile, through the default bundle
// and the input builder production uses: the default profile challenges a
// large first payment, the strict one reviews it, a high-ticket merchant's
// profile switches the amount rules off and allows it, and a merchant
// naming a profile the bundle lacks has the decision fail closed to review.
func TestRiskProfileOfTheMerchant(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.merchant(paywire.Merchant{ID: "travel", RiskProfile: "high_ticket"})
	e.merchant(paywire.Merchant{ID: "gifts", RiskProfile: "strict"})
	e.merchant(paywire.Merchant{ID: "lost", RiskProfile: "retired_profile"})
	pay := func(merchant, ref string) *paywire.Payment {
		t.Helper()
		req := startRequest(merchant, ref, 500000) // 5,000.00 EUR, a new customer and card
		rd, err := e.s.Start(ctx, merchant, "", req)
		if err != nil {
			t.Fatal(err)
		}
		// A bank redirect: card is not offered for a first deposit this large.
		o, err := e.s.Submit(ctx, rd.PostFields[0].Value, bank())
		if err != nil {
			t.Fatal(err)
		}
		return e.get(merchant, o.PaymentID)
	}
	if p := pay("shop", "pr-1"); p.RiskAction != paywire.RiskChallenge || p.RiskScore != 45 {
		t.Errorf("default profile: %s score %d; want challenge with 45 (high_amount, new_customer_high_amount)", p.RiskAction, p.RiskScore)
	}
	if p := pay("gifts", "pr-4"); p.RiskAction != paywire.RiskReview || p.RiskScore != 45 {
		t.Errorf("strict profile: %s score %d; want review from 45", p.RiskAction, p.RiskScore)
	}
	if p := pay("travel", "pr-2"); p.RiskAction != paywire.RiskAllow || p.RiskScore != 0 {
		t.Errorf("high_ticket profile: %s score %d; want allow, the amount rules off", p.RiskAction, p.RiskScore)
	}
	if p := pay("lost", "pr-3"); p.RiskAction != paywire.RiskReview || p.RiskScore != 100 {
		t.Errorf("a profile the bundle lacks: %s score %d; want review with 100 (failed closed)", p.RiskAction, p.RiskScore)
	}
}
