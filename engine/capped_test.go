package engine

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/paywire/paywire"
)

// capped is the features of a key with paywire.FeatureCap payments read
// in the last hour (more exist): every window holds them all.
func capped() paywire.KeyFeatures {
	w := paywire.Window{Attempted: paywire.FeatureCap, Authorized: 40, Amount: 50000, Capped: true}
	return paywire.KeyFeatures{Known: true, H1: w, H24: w, D7: w, Capped: true, FirstSeen: now.Add(-2 * 60 * 60 * 1e9)}
}

// TestCappedReachesPolicies: a capped key's K_capped reaches an expr rule
// (true, false, or unknown when the key is) and a Rego policy, which can
// treat the key's lower bounds as it sees fit.
func TestCappedReachesPolicies(t *testing.T) {
	e := newEngine(t, with(with(minimalFiles(), "rules/risk/data.yaml", `rules:
  - id: capped_card
    when: features.card_capped
    effect: {score: 10, reason: capped_card}
  - id: declines_or_capped
    when: features.card_declines_24h >= 3 || features.card_capped
    effect: {score: 20, reason: card_declines}
`), "risk.rego", `package paywire.risk
score := min([100, sum([h.effect.score | some h in input.hits]) + capped_ip])
capped_ip := 50 if input.features.ip_capped
else := 0
decision := {"score": score, "action": action, "reasons": [h.effect.reason | some h in input.hits]}
action := "block" if score >= 80
else := "allow"
`))
	tests := []struct {
		name      string
		f         paywire.Features
		wantScore int
	}{
		{"card and IP capped", paywire.Features{Card: capped(), IP: capped()}, 10 + 20 + 50},
		{"card capped", paywire.Features{Card: capped(), IP: paywire.KeyFeatures{Known: true}}, 10 + 20},
		{"not capped", paywire.Features{Card: paywire.KeyFeatures{Known: true, H24: paywire.Window{Attempted: 3, Declined: 3}}}, 20},
		{"card unknown", paywire.Features{}, 0},
	}
	for _, tt := range tests {
		in := riskInput(1000, "411111")
		in.Features = FeaturesOf(tt.f, now)
		d, err := e.Risk(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Score != tt.wantScore || d.FailedClosed {
			t.Errorf("%s: %+v; want score %d", tt.name, d, tt.wantScore)
		}
	}
}

// TestShippedThresholdsBelowCap: every count a shipped rule compares with
// a number is compared with one well under paywire.FeatureCap, so that a
// count below the threshold is exact and a capped count (the cap) is
// over it. A rule with a threshold near the cap needs a larger cap.
func TestShippedThresholdsBelowCap(t *testing.T) {
	compared := regexp.MustCompile(`features\.(\w+)\s*(?:>=|>|==|<=|<)\s*(\d+)`)
	seen := 0
	for _, file := range []string{"../rules/risk/data.yaml", "../rules/availability/data.yaml", "../rules/routing/data.yaml", "../rules/workflow/data.yaml"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range compared.FindAllStringSubmatch(string(raw), -1) {
			if regexp.MustCompile(`_age_days$|_amount_24h$`).MatchString(m[1]) {
				continue // not a count: never capped
			}
			n, _ := strconv.Atoi(m[2])
			if 2*n > paywire.FeatureCap {
				t.Errorf("%s: features.%s against %d: more than half the cap %d", file, m[1], n, paywire.FeatureCap)
			}
			seen++
		}
	}
	if seen < 10 {
		t.Errorf("%d thresholds found; the pattern misses the shipped rules", seen)
	}
}
