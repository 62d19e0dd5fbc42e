package engine

import (
	"context"
	"slices"
	"testing"

	"github.com/paywire/paywire"
)

type decisionMem struct{ recs []paywire.DecisionRecord }

func (d *decisionMem) SaveDecision(_ context.Context, r *paywire.DecisionRecord) error {
	d.recs = append(d.recs, *r)
	return nil
}

func (d *decisionMem) SaveDecisions(_ context.Context, rs []paywire.DecisionRecord) error {
	d.recs = append(d.recs, rs...)
	return nil
}

func (d *decisionMem) Decisions(context.Context, string, string) ([]paywire.DecisionRecord, error) {
	return d.recs, nil
}

// TestExplainRisk: a recorded risk decision breaks down into each fired
// rule's score and reason, the attributes it read, and the features the
// decision knew (unknown ones absent).
func TestExplainRisk(t *testing.T) {
	e := newEngine(t, with(minimalFiles(), "rules/risk/data.yaml", `rules:
  - id: busy_card
    when: features.card_count_1h > 2 && !features.card_capped
    effect: {score: 30, reason: busy_card}
  - id: big
    when: request.amount.minor >= 100000
    effect: {score: 20, reason: big}
`))
	mem := &decisionMem{}
	e.Recorder = StoreRecorder{Store: mem}
	in := riskInput(150000, "424242")
	in.Features = Features{CardCount1h: Known(3), CardAgeDays: Known(0), CardCapped: KnownFlag(false)}
	if _, err := e.Risk(ctx, in); err != nil {
		t.Fatal(err)
	}
	x, err := ExplainRisk(mem.recs[0], e.Active())
	if err != nil {
		t.Fatal(err)
	}
	if x.Score != 50 || x.Action != "allow" || len(x.Rules) != 2 || x.BundleRevision != "test-1" {
		t.Fatalf("explanation %+v", x)
	}
	byID := map[string]RuleContribution{}
	for _, r := range x.Rules {
		byID[r.ID] = r
	}
	if r := byID["busy_card"]; r.Score != 30 || !slices.Equal(r.Reads, []string{"features.card_capped", "features.card_count_1h"}) {
		t.Errorf("busy_card: %+v", r)
	}
	if r := byID["big"]; r.Score != 20 || len(r.Reads) != 0 {
		t.Errorf("big: %+v", r)
	}
	if _, ok := x.Features["ip_count_1h"]; ok || x.Features["card_count_1h"] != 3 || len(x.Features) != 2 {
		t.Errorf("features %v; want the two known ones only", x.Features)
	}
	if capped, ok := x.Flags["card_capped"]; !ok || capped || len(x.Flags) != 1 {
		t.Errorf("flags %v; want card_capped false", x.Flags)
	}
	if _, err := ExplainRisk(paywire.DecisionRecord{Point: PointWorkflow}, nil); err == nil {
		t.Error("a workflow decision explained as risk")
	}
}
