package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

// unknownRules fire on zero, on a difference and on a negation: each would
// fire on a zero value, none may fire on an unknown one.
const unknownRules = `rules:
  - id: new_card
    when: features.card_age_days == 0
    effect: {score: 10, reason: new_card}
  - id: not_busy
    when: features.card_count_1h != 5
    effect: {score: 10, reason: not_busy}
  - id: quiet_ip
    when: "!(features.ip_count_1h > 3)"
    effect: {score: 10, reason: quiet_ip}
  - id: foreign_card
    when: request.card.country != "DE"
    effect: {score: 10, reason: foreign_card}
  - id: bin_only
    when: request.card.bin == "424242"
    effect: {score: 10, reason: bin_only}
`

// TestUnknownIsNotZero: an expr rule that reads an attribute unknown for
// the payment does not fire; the same rule fires on a known zero.
func TestUnknownIsNotZero(t *testing.T) {
	e := newEngine(t, with(minimalFiles(), "rules/risk/data.yaml", unknownRules))
	fired := func(in RiskInput) []string {
		d, err := e.Risk(ctx, in)
		if err != nil || d.FailedClosed {
			t.Fatalf("%v %s", err, d.Error)
		}
		var ids []string
		for _, h := range d.RulesFired {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		return ids
	}
	unknown := riskInput(100, "424242")
	unknown.Request.Card.Country = ""
	if got := fired(unknown); !slices.Equal(got, []string{"bin_only"}) {
		t.Errorf("unknown features and card country: fired %v; want only bin_only", got)
	}
	known := riskInput(100, "424242")
	known.Request.Card.Country = "FR"
	known.Features = Features{CardAgeDays: Known(0), CardCount1h: Known(0), IPCount1h: Known(0)}
	if got := fired(known); !slices.Equal(got, []string{"bin_only", "foreign_card", "new_card", "not_busy", "quiet_ip"}) {
		t.Errorf("known zeros: fired %v", got)
	}
}

// TestUnknownIsAbsentInRego: Rego policies see unknown features and
// request attributes absent, and known zeros present.
func TestUnknownIsAbsentInRego(t *testing.T) {
	files := with(minimalFiles(), "risk.rego", `package paywire.risk
decision := {"score": 0, "action": "allow", "reasons": reasons}
reasons contains "card_age_known" if input.features.card_age_days == 0
reasons contains "ip_count_absent" if not input.features.ip_count_1h
reasons contains "card_country_absent" if not input.request.card.country
reasons contains "billing_absent" if not input.request.billing_country
`)
	e := newEngine(t, files)
	in := riskInput(100, "424242")
	in.Request.Card.Country = ""
	in.Features = Features{CardAgeDays: Known(0)}
	d, err := e.Risk(ctx, in)
	if err != nil || d.FailedClosed {
		t.Fatalf("%v %s", err, d.Error)
	}
	want := []string{"billing_absent", "card_age_known", "card_country_absent", "ip_count_absent"}
	if !slices.Equal(d.Reasons, want) {
		t.Errorf("reasons %v; want %v", d.Reasons, want)
	}
}

// TestRulesNameWhatTheyRead: a rule reading request or features by a
// computed key or through $env is refused, since what it reads could not
// be known.
func TestRulesNameWhatTheyRead(t *testing.T) {
	for _, when := range []string{`features["card_" + "count_1h"] > 1`, `$env.features.card_count_1h > 1`, `request[lower("CARD")].country == "US"`} {
		_, err := Compile(ctx, with(minimalFiles(), "rules/risk/data.yaml", "rules:\n  - id: sneaky\n    when: '"+when+"'\n    effect: {score: 10, reason: x}\n"))
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "sneaky") {
			t.Errorf("%s: %v; want the rule refused", when, err)
		}
	}
}

func TestRuleReads(t *testing.T) {
	paths := optionalPaths[PointRisk]
	bit := func(p string) uint64 { return 1 << slices.Index(paths, p) }
	for when, want := range map[string]uint64{
		`request.card.bin == "1"`:                                0,
		`request.card.country == "US"`:                           bit("request.card.country"),
		`request.card != nil`:                                    bit("request.card.country") | bit("request.card.type"),
		`features.card_count_1h > 1 && request.amount.minor > 0`: bit("features.card_count_1h"),
		`in_list("x", request.customer.ip_country)`:              bit("request.customer.ip_country"),
	} {
		rules, problems := compileRules(PointRisk, []byte("rules:\n  - id: r\n    when: '"+when+"'\n    effect: {score: 1, reason: r}\n"), nil)
		if len(problems) > 0 {
			t.Fatalf("%s: %v", when, problems)
		}
		if rules[0].reads != want {
			t.Errorf("%s: reads %b; want %b", when, rules[0].reads, want)
		}
	}
}

func TestFeaturesOf(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f := FeaturesOf(paywire.Features{
		Card:          paywire.KeyFeatures{Known: true, H1: paywire.Window{Attempted: 2}, H24: paywire.Window{Attempted: 3, Amount: 500, Declined: 1}, FirstSeen: at.Add(-49 * time.Hour)},
		Email:         paywire.KeyFeatures{Known: true},
		EmailCards24h: 4, IPCards24h: 9,
	}, at)
	switch {
	case f.CardCount1h == nil || *f.CardCount1h != 2, *f.CardCount24h != 3, *f.CardAmount24h != 500, *f.CardDeclines24h != 1, *f.CardAgeDays != 2:
		t.Errorf("card: %+v", f)
	case f.EmailAgeDays == nil || *f.EmailAgeDays != 0 || *f.EmailCount24h != 0 || *f.EmailCards24h != 4:
		t.Errorf("a known e-mail without history is new, not unknown: %+v", f)
	case f.IPCount1h != nil || f.IPCards24h != nil || f.CustomerAgeDays != nil || f.DeviceCount24h != nil:
		t.Errorf("unknown keys must stay nil: %+v", f)
	}
}

// TestFeatureKeys: a point reads the keys whose features a rule or a
// policy reads, and no others.
func TestFeatureKeys(t *testing.T) {
	e := newEngine(t, minimalFiles())
	for _, p := range Points {
		if k := e.FeatureKeys(p); k != 0 {
			t.Errorf("%s: the minimal bundle reads no features, got keys %b", p, k)
		}
	}
	e = newEngine(t, with(with(with(minimalFiles(), "rules/risk/data.yaml", unknownRules), "workflow.rego", `package paywire.workflow
decision := {"next_state": "pending", "actions": [], "reason": "x"} if input.features.card_count_1h > 1
`), "availability.rego", `package paywire.availability
decision := {"methods": []} if input.features.customer_age_days > 1 + count([k | input.features[k]])
`))
	for p, want := range map[string]FeatureKeys{
		PointRisk:         FeatureCard | FeatureIP, // unknownRules read card_ and ip_ features
		PointWorkflow:     FeatureCard,
		PointRouting:      0,
		PointAvailability: AllFeatureKeys, // a feature read by a computed name reads them all
	} {
		if got := e.FeatureKeys(p); got != want {
			t.Errorf("%s reads keys %05b, want %05b", p, got, want)
		}
	}
	e = newEngine(t, with(minimalFiles(), "availability.rego", `package paywire.availability
decision := {"methods": []} if input.features.customer_age_days > 1
`))
	if got := e.FeatureKeys(PointAvailability); got != FeatureCustomer {
		t.Errorf("availability reads keys %05b, want the customer's alone", got)
	}
}

// TestFeaturesOfEveryKey: each key's attributes come from the right window
// and field.
func TestFeaturesOfEveryKey(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	k := paywire.KeyFeatures{Known: true, FirstSeen: at.Add(-8*24*time.Hour - time.Minute),
		H1: paywire.Window{Attempted: 1}, D7: paywire.Window{Attempted: 3},
		H24: paywire.Window{Attempted: 2, Authorized: 4, Declined: 5, Blocked: 6, Amount: 7}, Capped: true}
	f := FeaturesOf(paywire.Features{Card: k, Email: k, IP: k, Customer: k, Device: k, EmailCards24h: 9, IPCards24h: 10, CustomerSuccessful: 11}, at)
	want := map[string]any{"count_1h": int64(1), "count_24h": int64(2), "count_7d": int64(3), "authorized_24h": int64(4), "declines_24h": int64(5),
		"blocked_24h": int64(6), "amount_24h": int64(7), "age_days": int64(8), "capped": true}
	seen := 0
	for _, a := range featureAttrs {
		v := a.get(&f)
		if v == nil {
			t.Errorf("%s unknown", a.name)
			continue
		}
		switch a.name {
		case "email_cards_24h", "ip_cards_24h", "customer_successful":
			if w := map[string]int64{"email_cards_24h": 9, "ip_cards_24h": 10, "customer_successful": 11}[a.name]; v != w {
				t.Errorf("%s = %v; want %d", a.name, v, w)
			}
			continue
		}
		_, suffix, _ := strings.Cut(a.name, "_")
		if v != want[suffix] {
			t.Errorf("%s = %v; want %v", a.name, v, want[suffix])
		}
		seen++
	}
	if seen != 5*len(want) {
		t.Errorf("%d per-key attributes; want %d", seen, 5*len(want))
	}
	// Not capped is known too: false, not absent.
	if f := FeaturesOf(paywire.Features{Card: paywire.KeyFeatures{Known: true}}, at); f.CardCapped == nil || *f.CardCapped || f.EmailCapped != nil {
		t.Errorf("card capped %v, e-mail capped %v; want false and unknown", f.CardCapped, f.EmailCapped)
	}
}
