package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// profileFiles is the default bundle with the given risk profiles.
func profileFiles(t *testing.T, profiles string) Files {
	t.Helper()
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	return with(files, profilesFile, profiles)
}

const assigned = `
default: standard
profiles:
  standard: {challenge: 30, review: 60, block: 80}
  strict: {challenge: 20, review: 45, block: 70}
  high_ticket: {challenge: 40, review: 70, block: 90, off: [amount]}
`

func TestRiskProfilesPerMerchant(t *testing.T) {
	e := newEngine(t, profileFiles(t, assigned))
	decide := func(profile string, minor int64) RiskDecision {
		t.Helper()
		in := riskInput(minor, "411111")
		in.Profile = profile
		in.Request.Card.ExpiryMonth, in.Request.Card.ExpiryYear = 12, 2030
		d, err := e.Risk(ctx, in)
		if err != nil || d.FailedClosed {
			t.Fatalf("%s: %+v, %v", profile, d, err)
		}
		return d
	}
	fired := func(d RiskDecision) []string {
		ids := []string{}
		for _, h := range d.RulesFired {
			ids = append(ids, h.ID)
		}
		return ids
	}

	// 25,000 EUR: high_amount (20) and very_high_amount (30) for a
	// merchant whose profile runs the amount rules.
	standard, strict, travel := decide("", 2500000), decide("strict", 2500000), decide("high_ticket", 2500000)
	if standard.Profile != "standard" || strict.Profile != "strict" || travel.Profile != "high_ticket" {
		t.Fatalf("profiles %q %q %q; want standard (the default), strict, high_ticket", standard.Profile, strict.Profile, travel.Profile)
	}
	if !slices.Contains(fired(standard), "high_amount") || !slices.Contains(fired(standard), "very_high_amount") {
		t.Fatalf("standard fired %v; want the amount rules", fired(standard))
	}
	if standard.Score != 50 || standard.Action != RiskChallenge {
		t.Errorf("standard: score %d %s; want 50 challenge", standard.Score, standard.Action)
	}
	if strict.Score != 50 || strict.Action != RiskReview {
		t.Errorf("strict: score %d %s; want 50 review (review from 45)", strict.Score, strict.Action)
	}
	for _, id := range fired(travel) {
		if e.Active().ruleGroup(PointRisk, id) == "amount" {
			t.Errorf("high_ticket fired %s, a rule of the group it switches off", id)
		}
	}
	if travel.Score != 0 || travel.Action != RiskAllow {
		t.Errorf("high_ticket: score %d %s (fired %v); want 0 allow", travel.Score, travel.Action, fired(travel))
	}

	// The same profile, twice more: the kept {hits, profile} input is
	// reused and decides alike.
	for range 2 {
		if d := decide("strict", 2500000); d.Action != RiskReview || d.Profile != "strict" {
			t.Errorf("strict again: %+v", d)
		}
	}

	// The record says which profile decided, and so does its explanation.
	mem := &decisionMem{}
	e.Recorder = StoreRecorder{Store: mem}
	decide("strict", 2500000)
	if x, err := ExplainRisk(mem.recs[0], e.Active()); err != nil || x.Profile != "strict" || x.Action != "review" {
		t.Errorf("explanation %+v, %v; want profile strict, review", x, err)
	}
	if names, def := e.Active().RiskProfiles(); !slices.Equal(names, []string{"high_ticket", "standard", "strict"}) || def != "standard" {
		t.Errorf("RiskProfiles() = %v, %q", names, def)
	}

	// A profile the bundle lacks (a bundle activated after the merchant
	// chose) fails closed: review, never the default's thresholds.
	in := riskInput(100, "411111")
	in.Profile = "gone"
	d, err := e.Risk(ctx, in)
	if err != nil || !d.FailedClosed || d.Action != RiskReview || d.Profile != "gone" || !strings.Contains(d.Error, `risk profile "gone" is not in the bundle`) {
		t.Errorf("unknown profile: %+v, %v; want failed closed to review", d, err)
	}
}

// A policy that reads the request as well as the profile gets the profile
// in the input it builds (not the kept one).
func TestRiskProfileWithRequestInput(t *testing.T) {
	files := with(with(profileFiles(t, assigned), "risk_test.rego", ""), "risk.rego", `package paywire.risk
decision := {"score": 0, "action": act, "reasons": [input.profile.name, input.request.merchant_id]}
act := "review" if input.profile.review < 60
else := "allow"
`)
	e := newEngine(t, files)
	in := riskInput(100, "411111")
	in.Request.MerchantID = "m_strict"
	in.Profile = "strict"
	d, err := e.Risk(ctx, in)
	if err != nil || d.Action != RiskReview || !slices.Equal(d.Reasons, []string{"strict", "m_strict"}) {
		t.Fatalf("%+v, %v; want review with reasons [strict m_strict]", d, err)
	}
}

func TestRiskProfilesRefused(t *testing.T) {
	tests := []struct{ note, data, want string }{
		{"default names nothing", "default: gone\nprofiles: {standard: {block: 80}}\n", `default must name a profile ("gone" does not)`},
		{"no profiles", "default: standard\nprofiles: {}\n", "profiles must be an object of at least one profile"},
		{"unknown group", "default: standard\nprofiles: {standard: {block: 80, off: [amounts]}}\n", `no risk rule has group "amounts"`},
		{"off not a list", "default: standard\nprofiles: {standard: {block: 80, off: amount}}\n", "off must be a list of rule groups"},
		{"setting an object", "default: standard\nprofiles: {standard: {block: {at: 80}}}\n", "a setting is a number, a string or a boolean"},
		{"name as a setting", "default: standard\nprofiles: {standard: {name: x}}\n", "name is not a setting"},
		{"bad profile name", "default: Standard\nprofiles: {Standard: {block: 80}}\n", "must be lower_snake_case"},
		{"merchants in the bundle", "default: standard\nprofiles: {standard: {block: 80}}\nmerchants: {m_1: standard}\n", `unknown key "merchants"`},
	}
	for _, tt := range tests {
		t.Run(tt.note, func(t *testing.T) {
			_, err := Compile(ctx, profileFiles(t, tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), profilesFile) {
				t.Fatalf("err = %v; want one naming %s and %q", err, profilesFile, tt.want)
			}
		})
	}
}

func TestRuleGroupMustBeSnakeCase(t *testing.T) {
	src := "rules:\n  - id: r\n    group: Amount\n    when: request.amount.minor > 0\n    effect: {score: 1, reason: r}\n"
	_, problems := compileRules(PointRisk, []byte(src), nil)
	if len(problems) != 1 || !strings.Contains(problems[0].Reason, "group must be lower_snake_case") {
		t.Fatalf("problems %v", problems)
	}
}

// Every risk rule of the default bundle has a group, so that a profile can
// switch any finding off.
func TestDefaultRiskRulesHaveGroups(t *testing.T) {
	e := newEngine(t, profileFiles(t, assigned))
	for _, r := range e.Active().points[PointRisk].rules {
		if r.group == "" {
			t.Errorf("risk rule %s has no group", r.id)
		}
	}
}
