package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

func healthInput(health map[string]ProviderHealth) RouteInput {
	return RouteInput{PaymentID: "pay_1", ProviderHealth: health, Request: RouteRequest{MerchantID: "m", PaymentID: "pay_1", Kind: "deposit",
		Method: "card", Amount: Money{Minor: 100, Currency: "EUR", Exponent: 2}, Customer: RouteCustomer{ID: "c1"}, RiskAction: "allow", Time: now}}
}

func rate(f float64) *float64 { return &f }

// A demoted provider goes after the healthy ones of whatever route the
// policy gives, and the decision names it; a route of demoted providers
// alone keeps them all.
func TestDemotedProviderRoutedLast(t *testing.T) {
	e := newEngine(t, with(minimalFiles(), "rules/routing/data.yaml", `rules:
  - id: three
    when: request.method == "card"
    effect: {providers: [acquirer-a, acquirer-b, acquirer-c]}
`))
	for _, c := range []struct {
		health  map[string]ProviderHealth
		route   string
		demoted string
	}{
		{nil, "acquirer-a,acquirer-b,acquirer-c", ""},
		{map[string]ProviderHealth{"acquirer-a": {State: HealthHealthy, Calls: 40}}, "acquirer-a,acquirer-b,acquirer-c", ""},
		{map[string]ProviderHealth{"acquirer-a": {State: HealthDemoted}}, "acquirer-b,acquirer-c,acquirer-a", "acquirer-a"},
		{map[string]ProviderHealth{"acquirer-a": {State: HealthDemoted}, "acquirer-b": {State: HealthDemoted}}, "acquirer-c,acquirer-a,acquirer-b", "acquirer-a,acquirer-b"},
		{map[string]ProviderHealth{"acquirer-a": {State: HealthDemoted}, "acquirer-b": {State: HealthDemoted}, "acquirer-c": {State: HealthDemoted}},
			"acquirer-a,acquirer-b,acquirer-c", "acquirer-a,acquirer-b,acquirer-c"},
		{map[string]ProviderHealth{"elsewhere": {State: HealthDemoted}}, "acquirer-a,acquirer-b,acquirer-c", ""},
	} {
		d, err := e.Route(ctx, healthInput(c.health))
		if err != nil || d.FailedClosed {
			t.Fatalf("%v: %+v, %v", c.health, d, err)
		}
		if got := strings.Join(d.Providers, ","); got != c.route {
			t.Errorf("%v: route %s, want %s", c.health, got, c.route)
		}
		if got := strings.Join(d.Demoted, ","); got != c.demoted {
			t.Errorf("%v: demoted %q, want %q", c.health, got, c.demoted)
		}
	}
}

// A stopped arm's payments take control's route, demoted providers last.
func TestDemotionAppliesToAStoppedArmsRoute(t *testing.T) {
	e := newEngine(t, experimentFiles(t, threeArms, threeArmsRules))
	x := e.Active().Experiments()[0]
	e.stopped.Store(&map[string]bool{armKey(x.Name, x.Salt, "alt"): true, armKey(x.Name, x.Salt, "solo"): true})
	for i := range 50 {
		in := healthInput(map[string]ProviderHealth{"p1": {State: HealthDemoted}})
		in.PaymentID = "pay_" + string(rune('a'+i))
		in.Request.PaymentID = in.PaymentID
		d, err := e.Route(ctx, in)
		if err != nil || d.Arm != "base" || strings.Join(d.Providers, ",") != "p2,p1" || strings.Join(d.Demoted, ",") != "p1" {
			t.Fatalf("%+v, %v", d, err)
		}
	}
}

// Rules read a provider's figures by its name; a rule that reads a figure
// unknown for the payment (too few calls, or a provider absent) does not
// fire; Rego reads the same figures, absent when unknown.
func TestRulesReadProviderHealth(t *testing.T) {
	files := with(minimalFiles(), "rules/routing/data.yaml", `rules:
  - id: a_failing
    when: provider_health["acquirer-a"].error_rate >= 0.3
    effect: {providers: [acquirer-b, acquirer-a]}
  - id: a_demoted
    when: provider_health["acquirer-a"].state == "demoted"
    effect: {providers: [acquirer-c]}
  - id: everything
    when: "true"
    effect: {providers: [acquirer-a, acquirer-b]}
`)
	files = with(files, "routing.rego", `package paywire.routing
decision := {"providers": input.hits[0].effect.providers, "slow": slow}
slow := input.provider_health["acquirer-b"].latency_p95_ms > 1000
default slow := "unknown"
`)
	e := newEngine(t, files)
	for _, c := range []struct {
		name   string
		health map[string]ProviderHealth
		first  string
		slow   any
	}{
		{"nothing known", nil, "everything", "unknown"},
		{"a failing", map[string]ProviderHealth{"acquirer-a": {State: HealthHealthy, Calls: 40, Errors: 20, ErrorRate: rate(0.5)}}, "a_failing", "unknown"},
		{"a healthy", map[string]ProviderHealth{"acquirer-a": {State: HealthHealthy, Calls: 40, ErrorRate: rate(0)}}, "everything", "unknown"},
		{"a's rate unknown", map[string]ProviderHealth{"acquirer-a": {State: HealthHealthy, Calls: 3, Errors: 3}}, "everything", "unknown"},
		{"a demoted, rate unknown", map[string]ProviderHealth{"acquirer-a": {State: HealthDemoted, Calls: 3}}, "a_demoted", "unknown"},
		{"b slow", map[string]ProviderHealth{"acquirer-b": {State: HealthHealthy, Calls: 40, LatencyP95: new(int64(2500))}}, "everything", true},
	} {
		d, err := e.Route(ctx, healthInput(c.health))
		if err != nil || d.FailedClosed {
			t.Fatalf("%s: %+v, %v", c.name, d, err)
		}
		if len(d.RulesFired) == 0 || d.RulesFired[0].ID != c.first {
			t.Errorf("%s: rules fired %+v, want %s first", c.name, d.RulesFired, c.first)
		}
	}
	// What Rego saw: input.provider_health with the known figures only.
	b := e.Active()
	for _, c := range []struct {
		health map[string]ProviderHealth
		want   string
	}{
		{nil, `"unknown"`},
		{map[string]ProviderHealth{"acquirer-b": {State: HealthHealthy, Calls: 3}}, `"unknown"`},
		{map[string]ProviderHealth{"acquirer-b": {State: HealthHealthy, Calls: 40, LatencyP95: new(int64(2500))}}, `true`},
		{map[string]ProviderHealth{"acquirer-b": {State: HealthHealthy, Calls: 40, LatencyP95: new(int64(200))}}, `false`},
	} {
		in := healthInput(c.health)
		res, run := decide(ctx, b, PointRouting, any(in), "", func(uint64) uint64 { return 0 }, func(plan *inputPlan, hits *ast.Array, prof *riskProfile) ast.Value {
			top := regoParts(plan, routeAttrs, &in.Request, &in.Features, hits, prof)
			if plan.part("provider_health") != nil {
				top["provider_health"] = healthObject(in.ProviderHealth)
			}
			return ast.LazyObject(top)
		})
		if run.err != nil {
			t.Fatal(run.err)
		}
		if got := res.Get(ast.StringTerm("slow")).String(); got != c.want {
			t.Errorf("%v: slow %s, want %s", c.health, got, c.want)
		}
	}
}

// A rule must name the provider whose figures it reads.
func TestRulesReadingProviderHealthByComputedKeyRefused(t *testing.T) {
	for _, when := range []string{
		`provider_health[request.customer.id].error_rate > 0.1`,
		`len(provider_health) > 0`,
		`any(values(provider_health), {.error_rate > 0.5})`,
	} {
		_, err := Compile(ctx, with(minimalFiles(), "rules/routing/data.yaml", "rules:\n  - id: r\n    when: '"+when+"'\n    effect: {providers: [p]}\n"))
		if err == nil || !strings.Contains(err.Error(), "provider_health") {
			t.Errorf("%s: %v", when, err)
		}
	}
}

// The bundle's provider health policy: the default bundle's, the default
// for a bundle without one, and malformed ones refused.
func TestHealthPolicy(t *testing.T) {
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[healthFile]; !ok {
		t.Fatalf("the default bundle has no %s", healthFile)
	}
	if got := newEngine(t, files).Active().HealthPolicy(); got != DefaultHealthPolicy {
		t.Errorf("the default bundle's: %+v, want %+v", got, DefaultHealthPolicy)
	}
	if got := newEngine(t, minimalFiles()).Active().HealthPolicy(); got != DefaultHealthPolicy {
		t.Errorf("without one: %+v", got)
	}
	got := newEngine(t, with(minimalFiles(), healthFile, "window: 5m\nmin_calls: 10\nmax_calls: 200\ndemote_error_rate: 0.3\nrestore_error_rate: 0.1\ndemotion: false\n")).Active().HealthPolicy()
	if want := (HealthPolicy{Window: 5 * time.Minute, MinCalls: 10, MaxCalls: 200, DemoteErrorRate: 0.3, RestoreErrorRate: 0.1}); got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"window: 10s\n",
		"window: 15\n",
		"min_calls: 0\n",
		"min_calls: 300\nmax_calls: 200\n",
		"demote_error_rate: 1.5\n",
		"demote_error_rate: 0.2\nrestore_error_rate: 0.2\n",
		"demote_error_rate: 0\nrestore_error_rate: 0\n",
		"demotion: yes please\n",
		"threshold: 0.5\n",
	} {
		if _, err := Compile(ctx, with(minimalFiles(), healthFile, bad)); err == nil || !strings.Contains(err.Error(), "provider_health") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
