package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// experimentFiles is the default bundle with the given experiments data
// and, when routing is not "", those routing rules.
func experimentFiles(t *testing.T, experiments, routing string) Files {
	t.Helper()
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	files = with(files, experimentsFile, experiments)
	if routing != "" {
		files = with(files, rulesFile(PointRouting), routing)
	}
	return files
}

const threeArms = `
experiments:
  - name: three-way
    salt: s1
    sticky: payment
    start: 2026-01-01
    control: base
    arms:
      - {name: base, weight: 20, providers: [p1, p2]}
      - {name: alt, weight: 30, providers: [p2, p1]}
      - {name: solo, weight: 50, providers: [p3]}
`

const threeArmsRules = `
rules:
  - id: all_cards
    when: request.method == "card"
    effect: {experiment: three-way}
`

func routeOf(t *testing.T, e *Engine, paymentID, customerID string, at time.Time) RouteDecision {
	t.Helper()
	d, err := e.Route(ctx, RouteInput{PaymentID: paymentID, Request: RouteRequest{MerchantID: "m", PaymentID: paymentID, Kind: "deposit",
		Method: "card", Amount: Money{Minor: 100, Currency: "EUR", Exponent: 2}, Customer: RouteCustomer{ID: customerID},
		RiskAction: "allow", Time: at}})
	if err != nil || d.FailedClosed {
		t.Fatalf("route: %+v, %v", d, err)
	}
	return d
}

// The arm is the bucket's share by weight, in the arms' order: the
// payment's route is its arm's providers, and the decision names both.
func TestExperimentAssignsByWeight(t *testing.T) {
	e := newEngine(t, experimentFiles(t, threeArms, threeArmsRules))
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	want := map[string][]string{"base": {"p1", "p2"}, "alt": {"p2", "p1"}, "solo": {"p3"}}
	counts := map[string]int{}
	const n = 100_000
	for i := range n {
		id := fmt.Sprintf("pay-%d", i)
		d := routeOf(t, e, id, "", at) // sticky by payment: no customer needed
		b := Bucket("s1", id)
		arm := map[bool]string{true: "base", false: map[bool]string{true: "alt", false: "solo"}[b < 50]}[b < 20]
		if d.Experiment != "three-way" || d.Arm != arm || strings.Join(d.Providers, ",") != strings.Join(want[arm], ",") {
			t.Fatalf("payment %s (bucket %d): %+v; want arm %s", id, b, d, arm)
		}
		counts[d.Arm]++
	}
	// Within 4 standard deviations of each arm's expected share.
	for arm, share := range map[string]float64{"base": 0.2, "alt": 0.3, "solo": 0.5} {
		sd := math.Sqrt(n * share * (1 - share))
		if diff := math.Abs(float64(counts[arm]) - n*share); diff > 4*sd {
			t.Errorf("arm %s took %d of %d; want %.0f ± %.0f", arm, counts[arm], n, n*share, 4*sd)
		}
	}
}

// The assignment is a pure function of salt and key: the same on every
// node and after every restart (a second engine, compiled anew, agrees),
// and fixed across releases (known buckets).
func TestExperimentAssignmentIsStable(t *testing.T) {
	files := experimentFiles(t, threeArms, threeArmsRules)
	e1, e2 := newEngine(t, files), newEngine(t, files)
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		id := fmt.Sprintf("p%d", i)
		if a, b := routeOf(t, e1, id, "", at), routeOf(t, e2, id, "", at); a.Arm != b.Arm {
			t.Fatalf("%s: arm %s on one engine, %s on another", id, a.Arm, b.Arm)
		}
	}
	// The default bundle's cases pin cust-1 to bucket 29 and cust-2 to 58.
	if Bucket("acquirer-split-2026", "cust-1") != 29 || Bucket("acquirer-split-2026", "cust-2") != 58 {
		t.Fatal("the bucket function changed: every running experiment would reshuffle")
	}
}

// Outside its period, or without a sticky key, a payment takes the control
// arm's route and is in no arm.
func TestExperimentOutsideItsPeriod(t *testing.T) {
	x := strings.Replace(threeArms, "sticky: payment", "sticky: customer", 1)
	x = strings.Replace(x, "start: 2026-01-01", "start: 2026-01-01\n    end: 2026-02-01T12:00:00Z", 1)
	e := newEngine(t, experimentFiles(t, x, threeArmsRules))
	in := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		customer string
		at       time.Time
	}{
		{"before", "c1", time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"at the end", "c1", time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)},
		{"no customer id", "", in},
	} {
		d := routeOf(t, e, "pay-1", c.customer, c.at)
		if d.Experiment != "" || d.Arm != "" || strings.Join(d.Providers, ",") != "p1,p2" {
			t.Errorf("%s: %+v; want control's route in no arm", c.name, d)
		}
	}
	if d := routeOf(t, e, "pay-1", "c1", in); d.Experiment != "three-way" || d.Arm == "" {
		t.Errorf("during the period: %+v; want an arm", d)
	}
}

// A malformed experiment, or a rule naming one that is not defined, is
// refused when the bundle loads, with the reason.
func TestExperimentRefusedAtLoad(t *testing.T) {
	for _, c := range []struct{ name, experiments, rules, want string }{
		{"weights", strings.Replace(threeArms, "weight: 50", "weight: 40", 1), threeArmsRules, "add up to 90, not 100"},
		{"control", strings.Replace(threeArms, "control: base", "control: other", 1), threeArmsRules, "control must name one of the arms"},
		{"sticky", strings.Replace(threeArms, "sticky: payment", "sticky: device", 1), threeArmsRules, "sticky must be customer or payment"},
		{"no providers", strings.Replace(threeArms, "providers: [p3]", "providers: []", 1), threeArmsRules, "arm solo: providers must list the route"},
		{"duplicate provider", strings.Replace(threeArms, "[p3]", "[p3, p3]", 1), threeArmsRules, "providers must be distinct"},
		{"start", strings.Replace(threeArms, "start: 2026-01-01", "start: soon", 1), threeArmsRules, "start must be a date"},
		{"end before start", strings.Replace(threeArms, "start: 2026-01-01", "start: 2026-01-01\n    end: 2025-01-01", 1), threeArmsRules, "end must be"},
		{"metric", strings.Replace(threeArms, "sticky: payment", "sticky: payment\n    metric: revenue", 1), threeArmsRules, `metric "revenue" is not known`},
		{"guardrail", strings.Replace(threeArms, "sticky: payment", "sticky: payment\n    guardrail: {max_drop: 2}", 1), threeArmsRules, "guardrail.max_drop is out of range"},
		{"one arm", "experiments:\n  - {name: x, salt: s, sticky: payment, start: 2026-01-01, control: a, arms: [{name: a, weight: 100, providers: [p]}]}\n", threeArmsRules, "at least two arms"},
		{"unknown key", strings.Replace(threeArms, "sticky: payment", "sticky: payment\n    owner: me", 1), threeArmsRules, `unknown key "owner"`},
		{"unknown experiment", threeArms, strings.Replace(threeArmsRules, "three-way}", "four-way}", 1), `rule "all_cards": no experiment "four-way"`},
		{"effect mixes", threeArms, strings.Replace(threeArmsRules, "{experiment: three-way}", "{experiment: three-way, providers: [p1]}", 1), "has nothing else"},
	} {
		_, err := Compile(ctx, experimentFiles(t, c.experiments, c.rules))
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a load error saying %q", c.name, err, c.want)
		}
	}
}

// The experiments a bundle defines are readable, guardrail defaults filled
// in, for the results and the guardrail.
func TestBundleExperiments(t *testing.T) {
	b, err := Compile(ctx, experimentFiles(t, threeArms, threeArmsRules))
	if err != nil {
		t.Fatal(err)
	}
	xs := b.Experiments()
	if len(xs) != 1 || xs[0].Name != "three-way" || xs[0].Metric != "approval_rate" || xs[0].ControlArm().Name != "base" ||
		xs[0].Guardrail != (Guardrail{MaxDrop: 0.05, Confidence: 0.95, MinAttempts: 200}) || !xs[0].Start.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", xs)
	}
}
