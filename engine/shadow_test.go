package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

// shadowMem keeps what a Shadow writes.
type shadowMem struct {
	mu     sync.Mutex
	counts map[string]int64 // "shadow point result"
	rows   []paywire.ShadowDisagreement
	writes int
}

func (m *shadowMem) RecordShadow(_ context.Context, shadow int64, counts []paywire.ShadowCount, ds []paywire.ShadowDisagreement) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int64{}
	}
	for _, c := range counts {
		m.counts[fmt.Sprintf("%d %s %s", shadow, c.Point, c.Result)] += c.N
	}
	m.rows = append(m.rows, ds...)
	m.writes++
	return nil
}

// candidateFiles is minimalFiles with the rule big scoring score, as
// revision rev.
func candidateFiles(rev string, score int) Files {
	f := with(minimalFiles(), ".manifest", `{"revision": "`+rev+`", "roots": ["paywire", "rules"]}`)
	return with(f, "rules/risk/data.yaml", fmt.Sprintf(`rules:
  - id: big
    when: request.amount.minor >= 100000
    effect: {score: %d, reason: big}
`, score))
}

func runShadow(t *testing.T, s *Shadow) {
	t.Helper()
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Run(c) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestShadowDisagreesWhereTheCandidateDiffers: beside the active bundle
// (big amounts score 30: allow) a candidate whose rule big scores 90
// (block) disagrees on the big amounts and only on them; each disagreement
// names the recorded live decision, the payment, the merchant and both
// outcomes; the live decisions are the active bundle's; the small amounts
// count as agreements.
func TestShadowDisagreesWhereTheCandidateDiffers(t *testing.T) {
	e := newEngine(t, minimalFiles())
	decisions := &decisionMem{}
	e.Recorder = StoreRecorder{Store: decisions}
	mem := &shadowMem{}
	var observed sync.Map
	e.Shadow = NewShadow(64, 2)
	e.Shadow.Recorder = mem
	e.Shadow.Observe = func(point, result string) {
		n, _ := observed.LoadOrStore(point+" "+result, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	runShadow(t, e.Shadow)
	candidate, err := e.Load(ctx, candidateFiles("cand-7", 90))
	if err != nil {
		t.Fatal(err)
	}
	e.Shadow.SetCandidate(7, candidate)

	amounts := []int64{150000, 500, 200000, 900, 100000}
	var big []string
	for i, minor := range amounts {
		in := riskInput(minor, "411111")
		in.Request.PaymentID = fmt.Sprintf("pay_%d", i)
		d, err := e.Risk(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.BundleRevision != "test-1" || d.Action != RiskAllow {
			t.Fatalf("live decision of %d: revision %s, action %s; the active bundle allows", minor, d.BundleRevision, d.Action)
		}
		if minor >= 100000 {
			big = append(big, d.DecisionID)
		}
	}
	if err := e.Shadow.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(decisions.recs) != len(amounts) {
		t.Errorf("%d decisions recorded, want %d: the candidate records nothing", len(decisions.recs), len(amounts))
	}
	var got []string
	for _, r := range mem.rows {
		got = append(got, r.DecisionID)
		if r.Shadow != 7 || r.Point != PointRisk || r.MerchantID != "demo" || r.PaymentID == "" ||
			r.LiveRevision != "test-1" || r.LiveOutcome != "allow" || r.ShadowRevision != "cand-7" || r.ShadowOutcome != "block" || r.At.IsZero() {
			t.Errorf("disagreement %+v", r)
		}
	}
	slices.Sort(got)
	slices.Sort(big)
	if !slices.Equal(got, big) {
		t.Errorf("disagreements on decisions %v, want the big amounts' %v", got, big)
	}
	want := map[string]int64{"7 risk agree": 2, "7 risk disagree": 3}
	for k, n := range want {
		if mem.counts[k] != n {
			t.Errorf("count %q = %d, want %d (all: %v)", k, mem.counts[k], n, mem.counts)
		}
	}
	if n, ok := observed.Load("risk disagree"); !ok || n.(*atomic.Int64).Load() != 3 {
		t.Errorf("Observe saw %v disagreements, want 3", n)
	}

	// Stopped: nothing more is compared, and the features question is the
	// active bundle's alone again.
	e.Shadow.SetCandidate(0, nil)
	if _, err := e.Risk(ctx, riskInput(150000, "411111")); err != nil {
		t.Fatal(err)
	}
	if err := e.Shadow.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.rows) != 3 || mem.counts["7 risk disagree"] != 3 {
		t.Errorf("after the stop: %d rows, counts %v", len(mem.rows), mem.counts)
	}
	if id, b := e.Shadow.Candidate(); id != 0 || b != nil {
		t.Errorf("candidate after the stop: %d %v", id, b)
	}
}

// TestShadowDropsWhenFull: with nobody deciding, a queue of 2 takes two
// inputs and drops the rest, counted per point; the live decisions are
// unaffected and do not wait; once workers run, the queued two are
// compared and the drops written with them.
func TestShadowDropsWhenFull(t *testing.T) {
	e := newEngine(t, minimalFiles())
	mem := &shadowMem{}
	e.Shadow = NewShadow(2, 1)
	e.Shadow.Recorder = mem
	candidate, err := e.Load(ctx, candidateFiles("cand-3", 90))
	if err != nil {
		t.Fatal(err)
	}
	e.Shadow.SetCandidate(3, candidate)
	start := time.Now()
	for range 10 {
		d, err := e.Risk(ctx, riskInput(150000, "411111"))
		if err != nil || d.Action != RiskAllow {
			t.Fatalf("live decision: %v %v", d.Action, err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("10 live decisions took %s with a full queue", took)
	}
	if e.Shadow.Dropped() != 8 || e.Shadow.Queued() != 2 {
		t.Errorf("dropped %d, queued %d; want 8 and 2", e.Shadow.Dropped(), e.Shadow.Queued())
	}
	runShadow(t, e.Shadow)
	if err := e.Shadow.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"3 risk disagree": 2, "3 risk dropped": 8}
	for k, n := range want {
		if mem.counts[k] != n {
			t.Errorf("count %q = %d, want %d (all: %v)", k, mem.counts[k], n, mem.counts)
		}
	}
}

// TestShadowOfTheActiveBundleComparesNothing: a candidate with the active
// bundle's content (it was just activated) is not compared with itself.
func TestShadowOfTheActiveBundleComparesNothing(t *testing.T) {
	e := newEngine(t, minimalFiles())
	mem := &shadowMem{}
	e.Shadow = NewShadow(8, 1)
	e.Shadow.Recorder = mem
	runShadow(t, e.Shadow)
	e.Shadow.SetCandidate(1, e.Active())
	if _, err := e.Risk(ctx, riskInput(150000, "411111")); err != nil {
		t.Fatal(err)
	}
	if err := e.Shadow.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mem.counts) != 0 {
		t.Errorf("counts %v", mem.counts)
	}
}

// TestShadowReadsFeatures: while a candidate whose rules read features
// shadows, the engine says the point reads them, so that callers compute
// them for the candidate too.
func TestShadowReadsFeatures(t *testing.T) {
	e := newEngine(t, minimalFiles())
	if e.FeatureKeys(PointRisk) != 0 {
		t.Fatal("the minimal bundle's risk rules read no features")
	}
	e.Shadow = NewShadow(8, 1)
	candidate, err := e.Load(ctx, with(minimalFiles(), "rules/risk/data.yaml", `rules:
  - id: busy_card
    when: features.card_count_1h > 2
    effect: {score: 30, reason: busy_card}
`))
	if err != nil {
		t.Fatal(err)
	}
	e.Shadow.SetCandidate(1, candidate)
	if e.FeatureKeys(PointRisk) != FeatureCard {
		t.Errorf("the candidate reads the card's features, and keys %05b are asked for", e.FeatureKeys(PointRisk))
	}
	e.Shadow.SetCandidate(0, nil)
	if e.FeatureKeys(PointRisk) != 0 {
		t.Error("features asked for after the shadow stopped")
	}
}
