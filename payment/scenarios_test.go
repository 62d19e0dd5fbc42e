package payment_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// luhn completes 15 digits with their Luhn check digit.
func luhn(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

// ipCountries is enrichment that knows the card of BIN 424242 as German
// credit and IP 198.51.100.9 as French.
type ipCountries struct{}

func (ipCountries) Card(bin string) (string, string) {
	if bin == "424242" {
		return "DE", "credit"
	}
	return "", ""
}

func (ipCountries) IPCountry(ip string) string {
	if ip == "198.51.100.9" {
		return "FR"
	}
	return ""
}

// TestRiskScenarios decides risk on histories made through the payment use
// cases themselves, so that the features come from the store and the
// inputs from the builder production uses, with the default bundle.
func TestRiskScenarios(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.s.Enrichment = ipCountries{}
	var mu sync.Mutex
	var last engine.RiskInput
	var decided engine.RiskDecision
	e.pin.risk = func(ctx context.Context, in engine.RiskInput) (engine.RiskDecision, error) {
		d, err := e.pin.Decider.Risk(ctx, in)
		mu.Lock()
		last, decided = in, d
		mu.Unlock()
		return d, err
	}
	n := 0
	pay := func(u paywire.EndUser, number string, amount int64) (engine.RiskInput, engine.RiskDecision) {
		t.Helper()
		n++
		req := startRequest("shop", fmt.Sprintf("sc-%d", n), amount)
		req.EndUser = u
		rd, err := e.s.Start(ctx, "shop", "", req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Submit(ctx, rd.PostFields[0].Value, card(number)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return last, decided
	}
	known := func(f *int64) int64 {
		t.Helper()
		if f == nil {
			t.Fatal("a feature is unknown")
		}
		return *f
	}
	customer := func(id, email, device, ip string) paywire.EndUser {
		return paywire.EndUser{ID: id, Email: email, Country: "DE", Language: "de", IP: ip, DeviceID: device}
	}

	// New customer: nothing known of them is held against them.
	in, d := pay(customer("new-1", "new-1@example.com", "dev-new", "192.0.2.10"), "4242424242424242", 4999)
	if d.Action != engine.RiskAllow || known(in.Features.CustomerCount7d) != 0 || known(in.Features.CustomerAgeDays) != 0 {
		t.Errorf("new customer: %+v, features %+v", d, in.Features)
	}
	if in.Request.Card.Country != "DE" || in.Request.Card.Type != "credit" || in.Request.Customer.IPCountry != "" {
		t.Errorf("enrichment: card %+v, IP country %q", in.Request.Card, in.Request.Customer.IPCountry)
	}
	// Without an e-mail or device, their features are unknown, not zero.
	in, _ = pay(paywire.EndUser{ID: "quiet-1", Country: "DE", Language: "de"}, "4242424242424242", 1000)
	if in.Features.EmailCount24h != nil || in.Features.DeviceAgeDays != nil || in.Features.IPCount1h != nil || in.Features.CustomerAgeDays == nil {
		t.Errorf("keys the payment lacks must be unknown: %+v", in.Features)
	}

	// Returning customer: three paid payments 40 days ago.
	loyal := customer("loyal-1", "loyal@example.com", "dev-loyal", "192.0.2.20")
	for range 3 {
		pay(loyal, "5555555555554444", 2500)
	}
	e.clock.Add(40 * 24 * time.Hour)
	in, d = pay(loyal, "5555555555554444", 2500)
	if d.Action != engine.RiskAllow || known(in.Features.CustomerSuccessful) != 3 || known(in.Features.CustomerAgeDays) != 40 || known(in.Features.CardAgeDays) != 40 {
		t.Errorf("returning customer: %+v, features %+v", d, in.Features)
	}

	// Traveller: the same customer from a French IP with a German card.
	traveller := loyal
	traveller.IP = "198.51.100.9"
	_, d = pay(traveller, "5555555555554444", 2500)
	if d.Action != engine.RiskAllow {
		t.Errorf("traveller: %+v", d)
	}
	in, d = pay(traveller, "4242424242424242", 2500)
	if d.Action != engine.RiskAllow || !slices.Contains(d.Reasons, "ip_country_mismatch") || in.Request.Customer.IPCountry != "FR" {
		t.Errorf("traveller with a German card in France: %+v", d)
	}

	// Account takeover: the known customer on a new device with a new e-mail.
	thief := customer("loyal-1", "changed@example.net", "dev-thief", "192.0.2.99")
	_, d = pay(thief, "5555555555554444", 2500)
	if !slices.Contains(d.Reasons, "account_email_changed") || !slices.Contains(d.Reasons, "new_device_known_customer") || d.Action == engine.RiskAllow {
		t.Errorf("account takeover: %+v", d)
	}

	// Card testing: many cards from one address within the hour.
	tester := customer("tester-1", "tester@example.com", "dev-tester", "203.0.113.5")
	for i := range 5 {
		pay(tester, luhn(fmt.Sprintf("411111111111%03d", i)), 100)
		e.clock.Add(3 * time.Minute)
	}
	in, d = pay(tester, luhn("411111111111999"), 100)
	if !slices.Contains(d.Reasons, "card_testing") || (d.Action != engine.RiskReview && d.Action != engine.RiskBlock) || known(in.Features.IPCards24h) != 5 {
		t.Errorf("card testing: %+v, IP cards %v", d, in.Features.IPCards24h)
	}
}
