// Package experiments is routing experiments' arithmetic and use cases:
// the statistics an admin reads an experiment's results by (approval
// rates with confidence intervals, the test of an arm against control, the
// sample size still needed) and the guardrail that stops a losing arm.
package experiments

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Proportion is how many of Trials succeeded (attempts approved, say).
type Proportion struct {
	Successes, Trials int64
}

// Rate is Successes / Trials; 0 without trials.
func (p Proportion) Rate() float64 {
	if p.Trials == 0 {
		return 0
	}
	return float64(p.Successes) / float64(p.Trials)
}

// z is the standard normal quantile at q.
func z(q float64) float64 { return distuv.UnitNormal.Quantile(q) }

// Wilson is the Wilson score interval of p at confidence (0.95 for 95 %):
// unlike the normal approximation it stays inside [0, 1] and is honest for
// small samples and rates near 0 or 1. Without trials it is [0, 1].
func Wilson(p Proportion, confidence float64) (lo, hi float64) {
	if p.Trials == 0 {
		return 0, 1
	}
	n, r := float64(p.Trials), p.Rate()
	k := z(1 - (1-confidence)/2)
	centre := (r + k*k/(2*n)) / (1 + k*k/n)
	half := k / (1 + k*k/n) * math.Sqrt(r*(1-r)/n+k*k/(4*n*n))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// Test compares an arm with control by the two-proportion z-test (pooled
// variance): Z is positive when the arm does better, P the two-sided
// p-value. With no trials on a side, or no variance at all, Z is 0 and P
// is 1: nothing can be said.
func Test(arm, control Proportion) (Z, P float64) {
	if arm.Trials == 0 || control.Trials == 0 {
		return 0, 1
	}
	n1, n2 := float64(arm.Trials), float64(control.Trials)
	pooled := float64(arm.Successes+control.Successes) / (n1 + n2)
	se := math.Sqrt(pooled * (1 - pooled) * (1/n1 + 1/n2))
	if se == 0 {
		return 0, 1
	}
	Z = (arm.Rate() - control.Rate()) / se
	return Z, math.Erfc(math.Abs(Z) / math.Sqrt2)
}

// SampleSize is the trials each arm needs for a two-sided test at level
// alpha to detect, with the given power, a change of delta (absolute: 0.02
// is two points) from the baseline rate: the usual normal-approximation
// formula for two proportions. 0 when delta is 0 or the rates leave [0, 1].
func SampleSize(baseline, delta, alpha, power float64) int64 {
	p1, p2 := baseline, baseline+delta
	if delta == 0 || p1 <= 0 || p1 >= 1 || p2 <= 0 || p2 >= 1 {
		return 0
	}
	mean := (p1 + p2) / 2
	a := z(1-alpha/2) * math.Sqrt(2*mean*(1-mean))
	b := z(power) * math.Sqrt(p1*(1-p1)+p2*(1-p2))
	return int64(math.Ceil((a + b) * (a + b) / (delta * delta)))
}
