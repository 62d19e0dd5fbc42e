package experiments

import (
	"math"
	"testing"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// The figures below are published values, not this package's output:
// Newcombe (1998, Statistics in Medicine 17, table I) for the Wilson
// interval, R's prop.test (without continuity correction) for the test,
// and R's power.prop.test examples for the sample size.
func TestWilson(t *testing.T) {
	for _, c := range []struct {
		p      Proportion
		lo, hi float64
	}{
		{Proportion{81, 263}, 0.2553, 0.3662},
		{Proportion{15, 148}, 0.0624, 0.1605},
		{Proportion{0, 20}, 0, 0.1611},
		{Proportion{1, 29}, 0.0061, 0.1718},
	} {
		lo, hi := Wilson(c.p, 0.95)
		if !near(lo, c.lo, 0.00006) || !near(hi, c.hi, 0.00006) {
			t.Errorf("Wilson(%d/%d) = [%.4f, %.4f]; want [%.4f, %.4f]", c.p.Successes, c.p.Trials, lo, hi, c.lo, c.hi)
		}
	}
	if lo, hi := Wilson(Proportion{}, 0.95); lo != 0 || hi != 1 {
		t.Errorf("no trials: [%v, %v]", lo, hi)
	}
}

func TestTest(t *testing.T) {
	// prop.test(c(45, 30), c(100, 100), correct = FALSE): X-squared = 4.8,
	// p-value = 0.02846.
	z, p := Test(Proportion{45, 100}, Proportion{30, 100})
	if !near(z*z, 4.8, 1e-9) || !near(p, 0.02846, 0.000005) || z <= 0 {
		t.Errorf("45/100 vs 30/100: z %.4f p %.5f", z, p)
	}
	if z, _ := Test(Proportion{30, 100}, Proportion{45, 100}); z >= 0 {
		t.Errorf("a worse arm has z %v", z)
	}
	if z, p := Test(Proportion{0, 0}, Proportion{5, 10}); z != 0 || p != 1 {
		t.Errorf("no trials: %v %v", z, p)
	}
	if z, p := Test(Proportion{10, 10}, Proportion{5, 5}); z != 0 || p != 1 {
		t.Errorf("no variance: %v %v", z, p)
	}
}

func TestSampleSize(t *testing.T) {
	// power.prop.test(p1 = .50, p2 = .75, power = .90): n = 76.7;
	// power.prop.test(p1 = .5, p2 = .55, power = .8): n = 1564.7.
	for _, c := range []struct {
		base, delta, power float64
		want               int64
	}{{0.5, 0.25, 0.9, 77}, {0.5, 0.05, 0.8, 1565}, {0.55, -0.05, 0.8, 1565}} {
		if got := SampleSize(c.base, c.delta, 0.05, c.power); got != c.want {
			t.Errorf("SampleSize(%v, %v, power %v) = %d; want %d", c.base, c.delta, c.power, got, c.want)
		}
	}
	if SampleSize(0.5, 0, 0.05, 0.8) != 0 || SampleSize(0.99, 0.02, 0.05, 0.8) != 0 {
		t.Error("an impossible effect has a sample size")
	}
}
