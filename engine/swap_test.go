package engine

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestSwapUnderLoad evaluates from several goroutines while another keeps
// activating two revisions in turn. Every decision must come whole from one
// revision: its score matches the revision it reports. Run with -race.
func TestSwapUnderLoad(t *testing.T) {
	one := minimalFiles()
	two := with(one, ".manifest", `{"revision": "test-2", "roots": ["paywire", "rules"]}`)
	two = with(two, "rules/risk/data.yaml", `rules:
  - id: big
    when: request.amount.minor >= 100000
    effect: {score: 50, reason: big}
`)
	e := newEngine(t, one)
	if _, err := e.Load(ctx, two); err != nil {
		t.Fatal(err)
	}
	wantScore := map[string]int{"test-1": 30, "test-2": 50}

	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			f := one
			if i%2 == 1 {
				f = two
			}
			if _, err := e.Activate(ctx, f); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}()
	var evals sync.WaitGroup
	seen := make([]map[string]int, 4)
	for g := range seen {
		seen[g] = map[string]int{}
		evals.Add(1)
		go func() {
			defer evals.Done()
			for range 500 {
				d, _ := e.Risk(ctx, riskInput(150000, "411111"))
				if d.FailedClosed || d.Score != wantScore[d.BundleRevision] {
					t.Errorf("torn decision: revision %s, score %d, %s", d.BundleRevision, d.Score, d.Error)
					return
				}
				seen[g][d.BundleRevision]++
			}
		}()
	}
	evals.Wait()
	stop.Store(true)
	wg.Wait()
	if swaps.Load() < 10 {
		t.Errorf("only %d swaps happened during the run", swaps.Load())
	}
	total := map[string]int{}
	for _, s := range seen {
		for k, v := range s {
			total[k] += v
		}
	}
	if total["test-1"] == 0 || total["test-2"] == 0 {
		t.Errorf("decisions did not see both revisions: %v", total)
	}
}
