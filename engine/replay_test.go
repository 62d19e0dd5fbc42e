package engine

import (
	"fmt"
	"testing"
)

// TestReplay: a recorded risk decision decided again with the same bundle
// gives the same decision; with a candidate whose threshold moved it gives
// the candidate's; Outcome names both, and the replay records nothing.
func TestReplay(t *testing.T) {
	const big = `rules:
  - id: big
    when: request.amount.minor >= 100000
    effect: {score: %d, reason: big}
`
	e := newEngine(t, with(minimalFiles(), "rules/risk/data.yaml", fmt.Sprintf(big, 20)))
	mem := &decisionMem{}
	e.Recorder = StoreRecorder{Store: mem}
	in := riskInput(150000, "424242")
	in.Features = Features{CardCount1h: Known(3)}
	if _, err := e.Risk(ctx, in); err != nil {
		t.Fatal(err)
	}
	rec := mem.recs[0]
	was, err := Outcome(PointRisk, rec.Output)
	if err != nil {
		t.Fatal(err)
	}

	same, err := Replay(ctx, e.Active(), PointRisk, rec.Input, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Outcome(PointRisk, same); got != was || same.(RiskDecision).Score != 20 {
		t.Errorf("replayed with the recording bundle: %s (score %d), recorded %s", got, same.(RiskDecision).Score, was)
	}

	candidate, err := e.Load(ctx, with(minimalFiles(), "rules/risk/data.yaml", fmt.Sprintf(big, 90)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Replay(ctx, candidate, PointRisk, rec.Input, false)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := Outcome(PointRisk, d)
	if now == was || d.(RiskDecision).Score != 90 {
		t.Errorf("replayed with the candidate: %s (score %d), recorded %s", now, d.(RiskDecision).Score, was)
	}
	if len(mem.recs) != 1 {
		t.Errorf("replays recorded %d decisions", len(mem.recs)-1)
	}
	if e.Active() == candidate {
		t.Error("the candidate became active")
	}
	if _, err := Replay(ctx, candidate, PointRisk, []byte(`{"request": 7}`), false); err == nil {
		t.Error("an input of the wrong shape replayed")
	}
	if _, err := Replay(ctx, candidate, "pricing", rec.Input, false); err == nil {
		t.Error("an unknown point replayed")
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		point, decision, want string
	}{
		{PointAvailability, `{"methods":[{"method":"card"},{"method":"bank_transfer"}]}`, "card,bank_transfer"},
		{PointAvailability, `{"methods":[],"failed_closed":true}`, "none (failed closed)"},
		{PointRisk, `{"action":"review","score":60}`, "review"},
		{PointRouting, `{"providers":["sandbox","stripe"]}`, "sandbox>stripe"},
		{PointWorkflow, `{"next_state":"captured","actions":["notify"]}`, "captured notify"},
		{PointWorkflow, `{"next_state":"","actions":[]}`, "-"},
	} {
		got, err := Outcome(c.point, []byte(c.decision))
		if err != nil || got != c.want {
			t.Errorf("Outcome(%s, %s) = %q, %v; want %q", c.point, c.decision, got, err, c.want)
		}
	}
}
