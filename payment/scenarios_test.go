package payment_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
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
// inputs from the builder production uses, with the default bundle, on
// every database. The risk and availability inputs of each scenario's
// payment, with their decisions, are the golden files
// policies/cases/{risk,availability}/histories/data.yaml (see
// corpus_test.go): every database must build the same, and -update-corpus
// rewrites them from SQLite's.
func TestRiskScenarios(t *testing.T) {
	t.Parallel()
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		risk, availability := riskScenarios(t, newScenarioEnv(t, db))
		update := *updateCorpus && strings.HasSuffix(t.Name(), "/sqlite")
		if update && t.Failed() {
			t.Fatal("the case files are not rewritten: a scenario's expectation failed")
		}
		checkCorpus(t, engine.PointRisk, corpusHeader(engine.PointRisk, "action and reasons"), risk, update)
		checkCorpus(t, engine.PointAvailability, corpusHeader(engine.PointAvailability, "methods offered"), availability, update)
	})
}

// availabilityTap is a decider that keeps the last availability decision
// with its input.
type availabilityTap struct {
	payment.Decider
	mu      sync.Mutex
	last    engine.AvailabilityInput
	decided engine.AvailabilityDecision
}

func (a *availabilityTap) Availability(ctx context.Context, in engine.AvailabilityInput) (engine.AvailabilityDecision, error) {
	d, err := a.Decider.Availability(ctx, in)
	a.mu.Lock()
	a.last, a.decided = in, d
	a.mu.Unlock()
	return d, err
}

func (a *availabilityTap) lastDecision() (engine.AvailabilityInput, engine.AvailabilityDecision) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.decided
}

// newScenarioEnv is the hosted core on db, its providers answering by card
// as newHosted's do.
func newScenarioEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	var soft atomic.Value
	soft.Store("")
	route := routeOf(t)
	var ps []adapters.Provider
	for _, name := range []string{route[0], route[1], "sandbox-bank"} {
		f := newFake(name)
		f.setScript(byCard(name, &soft))
		ps = append(ps, f)
	}
	return newEnv(t, withDB(db), withProviders(ps...))
}

// riskScenarios pays the scenarios' histories and checks what the default
// bundle decides on each scenario's payment; it returns those payments'
// risk and availability inputs and decisions as corpus cases.
func riskScenarios(t *testing.T, e *env) (risk, availability []corpusCase) {
	e.s.Enrichment = ipCountries{}
	tap := &availabilityTap{Decider: e.s.Decider}
	e.s.Decider = tap
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
	// record keeps the risk decision of the scenario's last payment, and
	// the availability decision of its submission, as cases.
	record := func(scenario, note, id string, in engine.RiskInput, d engine.RiskDecision) {
		t.Helper()
		risk = append(risk, riskCase(t, scenario, note, id, in, d))
		ain, ad := tap.lastDecision()
		availability = append(availability, availabilityCase(t, scenario, note, ain, ad))
	}

	// New customer: nothing known of them is held against them.
	in, d := pay(customer("new-1", "new-1@example.com", "dev-new", "192.0.2.10"), "4242424242424242", 4999)
	if d.Action != engine.RiskAllow || known(in.Features.CustomerCount7d) != 0 || known(in.Features.CustomerAgeDays) != 0 {
		t.Errorf("new customer: %+v, features %+v", d, in.Features)
	}
	if in.Request.Card.Country != "DE" || in.Request.Card.Type != "credit" || in.Request.Customer.IPCountry != "" {
		t.Errorf("enrichment: card %+v, IP country %q", in.Request.Card, in.Request.Customer.IPCountry)
	}
	record("new customer", "the first payment of the database, customer, e-mail, device, IP and card never seen", "pay-new-customer", in, d)
	// Without an e-mail or device, their features are unknown, not zero.
	in, d = pay(paywire.EndUser{ID: "quiet-1", Country: "DE", Language: "de"}, "4242424242424242", 1000)
	if in.Features.EmailCount24h != nil || in.Features.DeviceAgeDays != nil || in.Features.IPCount1h != nil || in.Features.CustomerAgeDays == nil {
		t.Errorf("keys the payment lacks must be unknown: %+v", in.Features)
	}
	record("customer without e-mail, device or IP", "their attributes and features unknown, the card's (used once before) known", "pay-no-email-device", in, d)

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
	record("returning customer", "three paid payments with the same card, e-mail, device and IP 40 days ago", "pay-returning-customer", in, d)

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
	record("traveller", "the returning customer from a French IP, paying with a German card first used 40 days ago", "pay-traveller", in, d)

	// Account takeover: the known customer on a new device with a new e-mail.
	thief := customer("loyal-1", "changed@example.net", "dev-thief", "192.0.2.99")
	in, d = pay(thief, "5555555555554444", 2500)
	if !slices.Contains(d.Reasons, "account_email_changed") || !slices.Contains(d.Reasons, "new_device_known_customer") || d.Action == engine.RiskAllow {
		t.Errorf("account takeover: %+v", d)
	}
	record("account takeover", "the returning customer's id and card with a new e-mail, device and IP", "pay-account-takeover", in, d)

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
	record("card testing burst", "a sixth new card from one customer, e-mail, device and IP within 15 minutes, 1.00 EUR each", "pay-card-testing", in, d)
	return risk, availability
}
