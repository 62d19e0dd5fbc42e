package experiments_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/experiments"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// tallies is a Tallier with fixed counts.
type tallies []paywire.ArmTally

func (t tallies) ExperimentTallies(context.Context, paywire.ExperimentRequest) ([]paywire.ArmTally, error) {
	return t, nil
}

// A breached arm is stopped once, audited once, whichever node checks
// again; the engine then routes its payments by control, and the decision
// says which arm they were assigned to.
func TestGuardStopsABreachedArm(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := engine.New(2)
		files, err := engine.BundleFiles(policies.FS, rules.FS)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Activate(ctx, files); err != nil {
			t.Fatal(err)
		}
		x := e.Active().Experiments()[0] // acquirer-split: a is control
		healthy := tallies{{Arm: "a", Decided: 1000, Approved: 800}, {Arm: "b", Decided: 1000, Approved: 790}}
		degraded := tallies{{Arm: "a", Decided: 1000, Approved: 800}, {Arm: "b", Decided: 1000, Approved: 650}}
		guard := func(tl experiments.Tallier) *experiments.Guard {
			return &experiments.Guard{Tallies: tl, Stops: db, Experiments: e.Active().Experiments, Now: time.Now, Logger: discard}
		}
		if stopped, err := guard(healthy).Check(ctx); err != nil || len(stopped) != 0 {
			t.Fatalf("healthy arms: stopped %v, %v", stopped, err)
		}
		for range 2 { // a second node's check changes nothing
			stopped, err := guard(degraded).Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(stopped); n > 1 {
				t.Fatalf("stopped %v", stopped)
			}
		}
		stops, err := db.ArmStops(ctx)
		if err != nil || len(stops) != 1 || stops[0].Arm != "b" || stops[0].Salt != x.Salt || !strings.Contains(stops[0].Reason, "65.0 % of 1000 against control's 80.0 % of 1000") {
			t.Fatalf("stops %+v, %v", stops, err)
		}
		entries, err := db.AuditEntries(ctx, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		audited := 0
		for _, a := range entries {
			if a.Action == "experiment.arm_stop" && a.Actor == "system" && a.Target == "experiment:acquirer-split/b" {
				audited++
			}
		}
		if audited != 1 {
			t.Errorf("%d audit entries for the stop, want 1", audited)
		}

		// A customer of arm b now takes control's route; one of a is as before.
		var inB, inA string
		for i := 0; inA == "" || inB == ""; i++ {
			id := "cust-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if x.Assign(id).Name == "b" {
				inB = id
			} else {
				inA = id
			}
		}
		route := func(customer string) engine.RouteDecision {
			d, err := e.Route(ctx, engine.RouteInput{Request: engine.RouteRequest{MerchantID: "m", Kind: "deposit", Method: "card",
				Amount: engine.Money{Minor: 500, Currency: "EUR", Exponent: 2}, Customer: engine.RouteCustomer{ID: customer},
				RiskAction: "allow", Time: time.Now()}})
			if err != nil || d.FailedClosed {
				t.Fatalf("route: %+v, %v", d, err)
			}
			return d
		}
		if d := route(inB); d.Arm != "b" || d.Providers[0] != "acquirer-b" {
			t.Fatalf("before the node reads the stop: %+v", d)
		}
		e.SetStoppedArms(stops)
		if d := route(inB); d.Arm != "a" || d.StoppedArm != "b" || strings.Join(d.Providers, ",") != "acquirer-a,acquirer-b" {
			t.Errorf("a customer of the stopped arm: %+v", d)
		}
		if d := route(inA); d.Arm != "a" || d.StoppedArm != "" {
			t.Errorf("a customer of control: %+v", d)
		}
		// A restarted experiment (a new salt) has no arm stopped.
		e.SetStoppedArms([]paywire.ArmStop{{Experiment: x.Name, Salt: "another-salt", Arm: "b"}})
		if d := route(inB); d.Arm != "b" {
			t.Errorf("a stop of another salt applied: %+v", d)
		}
	})
}

// The guardrail, checked every 100 decided payments a side as a periodic
// check would see them, over simulated experiments of up to 5,000
// payments a side: it stops an arm 15 points worse than control (65 %
// against 80 %) nearly always, and an arm as good as control almost never,
// though it peeks at every check. Seeded: the figures are the same every
// run, and docs/policy-guide.md quotes them.
func TestGuardrailFalseStopRate(t *testing.T) {
	g := engine.Guardrail{MaxDrop: 0.05, Confidence: 0.95, MinAttempts: 200}
	rng := rand.New(rand.NewPCG(15, 3))
	simulate := func(armRate, controlRate float64) (stopped bool, at int64) {
		var arm, control experiments.Proportion
		for n := 1; n <= 5000; n++ {
			arm.Trials++
			control.Trials++
			if rng.Float64() < armRate {
				arm.Successes++
			}
			if rng.Float64() < controlRate {
				control.Successes++
			}
			if n%100 == 0 && experiments.Breached(arm, control, g) {
				return true, int64(n)
			}
		}
		return false, 0
	}
	const runs = 400
	var falseStops, trips int
	var tripAt int64
	for range runs {
		if s, _ := simulate(0.80, 0.80); s {
			falseStops++
		}
		if s, at := simulate(0.65, 0.80); s {
			trips++
			tripAt += at
		}
	}
	t.Logf("healthy arm (80 %% vs 80 %%): stopped in %d of %d runs; degraded (65 %% vs 80 %%): stopped in %d of %d, after %d payments a side on average",
		falseStops, runs, trips, runs, tripAt/int64(max(trips, 1)))
	if falseStops > runs/100 {
		t.Errorf("a healthy arm was stopped in %d of %d runs; want at most 1 %%", falseStops, runs)
	}
	if trips < runs*99/100 {
		t.Errorf("a degraded arm was stopped in only %d of %d runs", trips, runs)
	}
}
