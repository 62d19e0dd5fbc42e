package experiments

import (
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

var split = engine.Experiment{Name: "split", Control: "a", Metric: "approval_rate", Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	Arms:      []engine.Arm{{Name: "a", Weight: 50, Providers: []string{"p1"}}, {Name: "b", Weight: 50, Providers: []string{"p2"}}},
	Guardrail: engine.Guardrail{MaxDrop: 0.05, Confidence: 0.95, MinAttempts: 200}}

func tally(arm string, decided, approved int64) paywire.ArmTally {
	return paywire.ArmTally{Arm: arm, Routed: decided + 3, InFlight: 3, Decided: decided, Approved: approved}
}

func TestComputeAgainstControl(t *testing.T) {
	a := tally("a", 1000, 800)
	a.Latencies = []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	res := Compute(split, paywire.ExperimentRequest{}, []paywire.ArmTally{a, tally("b", 1000, 700)}, 0)
	ctl, b := res.Arms[0], res.Arms[1]
	if !ctl.Control || b.Control || res.TooSmall || len(res.Notes) != 0 || res.Effect != DefaultEffect {
		t.Fatalf("%+v", res)
	}
	// Control: 80 % with the Wilson interval; latencies by nearest rank.
	if ctl.Rate != 0.8 || !near(ctl.Low, 0.7741, 0.0001) || !near(ctl.High, 0.8236, 0.0001) || ctl.LatencyP50 != 50 || ctl.LatencyP95 != 100 {
		t.Errorf("control %+v", ctl)
	}
	// b: 70 % against 80 %: z = -5.16 (prop.test: X-squared = 26.67), p < 0.001, and ten points down breaks a five-point guardrail.
	if !near(b.Difference, -0.1, 1e-9) || !near(b.Z, -5.164, 0.001) || b.P > 0.001 || !b.Significant || !b.Breached || b.LatencyP50 != -1 {
		t.Errorf("arm b %+v", b)
	}
	// Detecting two points from 80 % at 5 % and power 0.8: by hand,
	// (1.95996·sqrt(2·0.79·0.21) + 0.84162·sqrt(0.8·0.2 + 0.78·0.22))² / 0.02²
	// = 1.61362² / 0.0004 = 6,509.4, so 6,510 per side, 5,510 more.
	if b.Needed != 6510 || b.StillNeeded != 5510 {
		t.Errorf("needed %d, still %d", b.Needed, b.StillNeeded)
	}
}

func TestComputeHealthyArmIsNotStopped(t *testing.T) {
	// 78.5 % against 80 %: within the guardrail's five points, not significant.
	res := Compute(split, paywire.ExperimentRequest{}, []paywire.ArmTally{tally("a", 1000, 800), tally("b", 1000, 785)}, 0.05)
	if b := res.Arms[1]; b.Breached || b.Significant || res.Effect != 0.05 {
		t.Errorf("%+v", b)
	}
}

func TestComputeSaysWhenTooSmall(t *testing.T) {
	// 30 of 50 against 45 of 50 is a big gap, but short of the minimum.
	res := Compute(split, paywire.ExperimentRequest{}, []paywire.ArmTally{tally("a", 50, 45), tally("b", 50, 30)}, 0)
	if !res.TooSmall || res.Arms[1].Breached || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "Too few payments") {
		t.Errorf("%+v", res)
	}
	// Enough payments, too few refusals for the test.
	res = Compute(split, paywire.ExperimentRequest{}, []paywire.ArmTally{tally("a", 500, 497), tally("b", 500, 499)}, 0)
	if !res.TooSmall || !strings.Contains(strings.Join(res.Notes, " "), "approvals or refusals") {
		t.Errorf("%+v", res)
	}
	// No tallies at all: every arm shown empty.
	res = Compute(split, paywire.ExperimentRequest{}, nil, 0)
	if len(res.Arms) != 2 || res.Arms[1].Rate != 0 || res.Arms[1].Needed != 0 || !res.TooSmall {
		t.Errorf("%+v", res)
	}
	// An arm the experiment no longer defines is noted and left out.
	res = Compute(split, paywire.ExperimentRequest{}, []paywire.ArmTally{tally("a", 10, 5), tally("c", 10, 5)}, 0)
	if len(res.Arms) != 2 || !strings.Contains(strings.Join(res.Notes, " "), `arm "c"`) {
		t.Errorf("%+v", res)
	}
}

func TestBreachedAtTheMargin(t *testing.T) {
	g := engine.Guardrail{MaxDrop: 0.05, Confidence: 0.95, MinAttempts: 100}
	// 10,000 a side, 80 % against 74 %: six points down, se 0.00594,
	// z = (0.06 - 0.05) / 0.00594 = 1.68 > 1.645: breached.
	if !Breached(Proportion{7400, 10000}, Proportion{8000, 10000}, g) {
		t.Error("six points down over 10,000 a side: not breached")
	}
	// 74.2 %: z = 0.008 / 0.00593 = 1.35, not breached, though significantly worse.
	if Breached(Proportion{7420, 10000}, Proportion{8000, 10000}, g) {
		t.Error("5.8 points down over 10,000 a side: breached")
	}
	if Breached(Proportion{0, 99}, Proportion{99, 99}, g) {
		t.Error("breached below the minimum")
	}
}
