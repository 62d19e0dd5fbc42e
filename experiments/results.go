package experiments

import (
	"fmt"
	"math"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// The results of an experiment are read at a fixed confidence and power,
// the conventions an admin expects: a 95 % interval, a test at the 5 %
// level, and the sample that detects the chosen effect four times in five.
const (
	Confidence = 0.95
	Alpha      = 0.05
	Power      = 0.8
	// DefaultEffect is the change of approval rate (absolute) the sample
	// size is computed for when none is chosen: two points.
	DefaultEffect = 0.02
	// minExpected is the fewest approvals and the fewest refusals each
	// side needs before the normal approximation of the test is fair.
	minExpected = 10
)

// Results are an experiment's arms compared with its control.
type Results struct {
	Experiment engine.Experiment
	Request    paywire.ExperimentRequest
	Effect     float64 // the change the sample size is computed for
	Arms       []ArmResult
	// TooSmall says the sample is too small to say anything yet: an arm
	// or control has fewer decided payments than the guardrail's minimum,
	// or too few approvals or refusals for the test.
	TooSmall bool
	Notes    []string
}

// ArmResult is one arm's tally and what it says against control.
type ArmResult struct {
	paywire.ArmTally
	Control   bool
	Weight    int
	Providers []string
	// Rate is the approval rate of the decided payments, Low and High its
	// Wilson interval at Confidence; all 0 without decided payments.
	Rate, Low, High float64
	// LatencyP50 and LatencyP95 are the attempts' latencies in
	// milliseconds (nearest rank); -1 without any.
	LatencyP50, LatencyP95 int64
	// Against control (zero for control itself): the difference of the
	// rates, the z statistic and two-sided p-value of the two-proportion
	// test, and whether it is significant at Alpha.
	Difference, Z, P float64
	Significant      bool
	// Breached says the guardrail is breached: the arm does worse than
	// control by more than its MaxDrop at its confidence, with at least
	// MinAttempts decided payments on each side.
	Breached bool
	// Needed is the decided payments each side needs to detect Effect
	// from control's rate (0: unknown, control's rate is 0 or 1 or
	// unknown); StillNeeded how many more the smaller side needs.
	Needed, StillNeeded int64
}

// Compute compares the arms' tallies with control's. Tallies of arms the
// experiment does not define (renamed since) are left out and noted; arms
// that routed nothing have empty tallies. effect <= 0 means DefaultEffect.
func Compute(x engine.Experiment, req paywire.ExperimentRequest, tallies []paywire.ArmTally, effect float64) Results {
	if effect <= 0 || effect >= 1 {
		effect = DefaultEffect
	}
	res := Results{Experiment: x, Request: req, Effect: effect}
	byArm := map[string]paywire.ArmTally{}
	for _, t := range tallies {
		byArm[t.Arm] = t
	}
	for _, a := range x.Arms {
		t := byArm[a.Name]
		t.Arm = a.Name
		delete(byArm, a.Name)
		r := ArmResult{ArmTally: t, Control: a.Name == x.Control, Weight: a.Weight, Providers: a.Providers,
			LatencyP50: percentile(t.Latencies, 0.50), LatencyP95: percentile(t.Latencies, 0.95)}
		if t.Decided > 0 {
			p := Proportion{Successes: t.Approved, Trials: t.Decided}
			r.Rate = p.Rate()
			r.Low, r.High = Wilson(p, Confidence)
		}
		res.Arms = append(res.Arms, r)
	}
	for name, t := range byArm {
		res.Notes = append(res.Notes, fmt.Sprintf("%d payments are in arm %q, which the running bundle's experiment no longer defines; they are left out.", t.Routed, name))
	}
	control := res.control()
	if control == nil { // a defined experiment always has its control
		return res
	}
	cp := Proportion{Successes: control.Approved, Trials: control.Decided}
	g := x.Guardrail
	for i := range res.Arms {
		r := &res.Arms[i]
		if r.Control {
			continue
		}
		ap := Proportion{Successes: r.Approved, Trials: r.Decided}
		r.Difference = r.Rate - control.Rate
		r.Z, r.P = Test(ap, cp)
		r.Significant = r.P < Alpha && ap.Trials > 0 && cp.Trials > 0
		r.Breached = Breached(ap, cp, g)
		if control.Decided > 0 {
			r.Needed = SampleSize(control.Rate, -effect, Alpha, Power)
		}
		if r.Needed > 0 {
			r.StillNeeded = max(0, r.Needed-min(ap.Trials, cp.Trials))
		}
		switch {
		case ap.Trials < int64(g.MinAttempts) || cp.Trials < int64(g.MinAttempts):
			res.TooSmall = true
			res.Notes = append(res.Notes, fmt.Sprintf("Too few payments to say anything about arm %s yet: it has %d decided and control %d; the guardrail waits for %d on each side.",
				r.Arm, ap.Trials, cp.Trials, g.MinAttempts))
		case min(ap.Successes, ap.Trials-ap.Successes, cp.Successes, cp.Trials-cp.Successes) < minExpected:
			res.TooSmall = true
			res.Notes = append(res.Notes, fmt.Sprintf("Too few approvals or refusals in arm %s or control for the test to be fair (fewer than %d).", r.Arm, minExpected))
		}
	}
	return res
}

func (res *Results) control() *ArmResult {
	for i := range res.Arms {
		if res.Arms[i].Control {
			return &res.Arms[i]
		}
	}
	return nil
}

// Breached reports whether arm's rate is below control's by more than the
// guardrail's MaxDrop at its one-sided confidence, once both sides have
// MinAttempts trials: the test of control - arm > MaxDrop, with the
// unpooled standard error.
func Breached(arm, control Proportion, g engine.Guardrail) bool {
	if arm.Trials < int64(g.MinAttempts) || control.Trials < int64(g.MinAttempts) || arm.Trials == 0 || control.Trials == 0 {
		return false
	}
	pa, pc := arm.Rate(), control.Rate()
	se := math.Sqrt(pa*(1-pa)/float64(arm.Trials) + pc*(1-pc)/float64(control.Trials))
	drop := pc - pa
	if se == 0 {
		return drop > g.MaxDrop
	}
	return (drop-g.MaxDrop)/se > z(g.Confidence)
}

// percentile is the nearest-rank percentile q of sorted values
// (paywire.Percentile); -1 when there are none.
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return -1
	}
	return paywire.Percentile(sorted, q)
}
