package engine

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

var ctx = context.Background()

// minimalFiles is a small valid bundle whose answers are easy to predict;
// the tests below break it in one place at a time.
func minimalFiles() Files {
	return Files{
		".manifest": []byte(`{"revision": "test-1", "roots": ["paywire", "rules"]}`),
		"availability.rego": []byte(`package paywire.availability
decision := {"methods": [{"method": "card", "min_minor": 100, "max_minor": 100000}]}
`),
		"risk.rego": []byte(`package paywire.risk
score := min([100, sum([h.effect.score | some h in input.hits])])
decision := {"score": score, "action": action, "reasons": [h.effect.reason | some h in input.hits]}
action := "block" if score >= 80
else := "allow"
`),
		"routing.rego": []byte(`package paywire.routing
decision := {"providers": input.hits[0].effect.providers}
`),
		"workflow.rego": []byte(`package paywire.workflow
decision := {"next_state": "pending", "actions": ["notify_merchant"], "reason": "submitted"} if input.request.event.type == "submitted"
`),
		"paywire/lists/data.yaml":      []byte("blocked_bins: [\"666666\"]\n"),
		"rules/availability/data.yaml": []byte("rules: []\n"),
		"rules/risk/data.yaml": []byte(`rules:
  - id: big
    description: big amount
    when: request.amount.minor >= 100000
    effect: {score: 30, reason: big}
  - id: blocked_bin
    when: in_list("blocked_bins", request.card.bin)
    effect: {score: 90, reason: blocked_bin}
`),
		"rules/routing/data.yaml": []byte(`rules:
  - id: everything
    when: "true"
    effect: {providers: [acquirer-a, acquirer-b]}
`),
		"rules/workflow/data.yaml": []byte("rules: []\n"),
	}
}

func with(f Files, path, content string) Files {
	g := maps.Clone(f)
	if content == "" {
		delete(g, path)
	} else {
		g[path] = []byte(content)
	}
	return g
}

func newEngine(t testing.TB, f Files) *Engine {
	t.Helper()
	e := New(4)
	if _, err := e.Activate(ctx, f); err != nil {
		t.Fatal(err)
	}
	return e
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func riskInput(minor int64, bin string) RiskInput {
	return RiskInput{Request: RiskRequest{
		PaymentID: "pay_1", MerchantID: "demo", Kind: "deposit",
		Amount: Money{Minor: minor, Currency: "EUR", Exponent: 2}, Method: "card",
		Card: Card{Brand: "visa", BIN: bin, Last4: "4242", Country: "DE"}, Time: now,
	}}
}

func TestDecisionsCarryTheirProvenance(t *testing.T) {
	e := newEngine(t, minimalFiles())
	d, err := e.Risk(ctx, riskInput(150000, "411111"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Score != 30 || d.Action != RiskAllow || len(d.Reasons) != 1 || d.Reasons[0] != "big" {
		t.Errorf("risk = %+v", d)
	}
	if !strings.HasPrefix(d.DecisionID, "dec_") || d.BundleRevision != "test-1" || d.BundleHash != minimalFiles().Hash() ||
		d.Duration <= 0 || d.FailedClosed {
		t.Errorf("meta = %+v", d.Meta)
	}
	if len(d.RulesFired) != 1 || d.RulesFired[0].ID != "big" || string(d.RulesFired[0].Effect) != `{"reason":"big","score":30}` {
		t.Errorf("rules fired = %+v", d.RulesFired)
	}
	d2, _ := e.Risk(ctx, riskInput(150000, "666666"))
	if d2.Action != RiskBlock || d2.Score != 100 || len(d2.RulesFired) != 2 {
		t.Errorf("blocked BIN: %+v", d2)
	}
	if d2.DecisionID == d.DecisionID {
		t.Error("two decisions share an id")
	}
}

// TestFailClosed breaks each point's policy at run time and checks the
// point's fail-closed answer.
func TestFailClosed(t *testing.T) {
	base := minimalFiles()
	cases := []struct {
		name  string
		files Files
		check func(t *testing.T, e *Engine)
	}{
		{"risk undefined", with(base, "risk.rego", "package paywire.risk\ndecision := 1 if false\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Risk(ctx, riskInput(100, "411111"))
			if d.Action != RiskReview || d.Score != 100 || d.Reasons[0] != "policy_error" || !d.FailedClosed || !strings.Contains(d.Error, "undefined") {
				t.Errorf("%+v", d)
			}
		}},
		{"risk malformed", with(base, "risk.rego", "package paywire.risk\ndecision := {\"score\": 12, \"action\": \"approve\", \"reasons\": []}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Risk(ctx, riskInput(100, "411111"))
			if d.Action != RiskReview || !strings.Contains(d.Error, `"approve"`) {
				t.Errorf("%+v", d)
			}
		}},
		{"risk score out of range", with(base, "risk.rego", "package paywire.risk\ndecision := {\"score\": 101, \"action\": \"allow\", \"reasons\": []}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Risk(ctx, riskInput(100, "411111"))
			if d.Action != RiskReview || !strings.Contains(d.Error, "outside 0-100") {
				t.Errorf("%+v", d)
			}
		}},
		{"risk erroring", with(base, "risk.rego", "package paywire.risk\ndecision := {\"score\": to_number(\"x\"), \"action\": \"allow\", \"reasons\": []}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Risk(ctx, riskInput(100, "411111"))
			if d.Action != RiskReview || !d.FailedClosed {
				t.Errorf("%+v", d)
			}
		}},
		{"routing undefined", with(base, "rules/routing/data.yaml", "rules: []\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Route(ctx, RouteInput{Request: RouteRequest{Time: now}})
			if len(d.Providers) != 0 || !d.FailedClosed {
				t.Errorf("%+v", d)
			}
		}},
		{"routing malformed", with(base, "routing.rego", "package paywire.routing\ndecision := {\"providers\": [\"a\", \"a\"]}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Route(ctx, RouteInput{Request: RouteRequest{Time: now}})
			if len(d.Providers) != 0 || !strings.Contains(d.Error, "distinct") {
				t.Errorf("%+v", d)
			}
		}},
		{"availability malformed", with(base, "availability.rego", "package paywire.availability\ndecision := {\"methods\": [{\"method\": \"card\", \"min_minor\": 5, \"max_minor\": 1}]}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Availability(ctx, AvailabilityInput{Request: AvailabilityRequest{Time: now}})
			if len(d.Methods) != 0 || !strings.Contains(d.Error, "min_minor") {
				t.Errorf("%+v", d)
			}
		}},
		{"availability unknown method", with(base, "availability.rego", "package paywire.availability\ndecision := {\"methods\": [{\"method\": \"cash\", \"min_minor\": 1, \"max_minor\": 5}]}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Availability(ctx, AvailabilityInput{Request: AvailabilityRequest{Time: now}})
			if len(d.Methods) != 0 || !d.FailedClosed {
				t.Errorf("%+v", d)
			}
		}},
		{"workflow undefined", base, func(t *testing.T, e *Engine) {
			d, _ := e.Workflow(ctx, WorkflowInput{Request: WorkflowRequest{State: "created", Event: WorkflowEvent{Type: "chargeback"}, Time: now}})
			if d.NextState != "" || !d.FailedClosed {
				t.Errorf("%+v", d)
			}
		}},
		{"workflow illegal move", with(base, "workflow.rego", "package paywire.workflow\ndecision := {\"next_state\": \"completed\", \"actions\": [], \"reason\": \"x\"}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Workflow(ctx, WorkflowInput{Request: WorkflowRequest{State: "refused", Event: WorkflowEvent{Type: "provider_captured"}, Time: now}})
			if d.NextState != "" || !strings.Contains(d.Error, "final") {
				t.Errorf("a policy moved a refused payment: %+v", d)
			}
		}},
		{"workflow unknown action", with(base, "workflow.rego", "package paywire.workflow\ndecision := {\"next_state\": \"pending\", \"actions\": [\"launch_rockets\"], \"reason\": \"x\"}\n"), func(t *testing.T, e *Engine) {
			d, _ := e.Workflow(ctx, WorkflowInput{Request: WorkflowRequest{State: "created", Time: now}})
			if d.NextState != "" || !strings.Contains(d.Error, "launch_rockets") {
				t.Errorf("%+v", d)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, newEngine(t, c.files)) })
	}

	t.Run("no active bundle", func(t *testing.T) {
		e := New(1)
		d, _ := e.Risk(ctx, riskInput(100, "411111"))
		r, _ := e.Route(ctx, RouteInput{})
		if d.Action != RiskReview || len(r.Providers) != 0 || !d.FailedClosed {
			t.Errorf("%+v %+v", d, r)
		}
	})
}

// TestRefusedBundles checks that broken bundles are refused at load with
// file, line and reason, and that the active bundle stays active.
func TestRefusedBundles(t *testing.T) {
	base := minimalFiles()
	cases := []struct {
		name  string
		files Files
		want  []string // each must appear in the error
	}{
		{"rego syntax error", with(base, "risk.rego", "package paywire.risk\n\ndecision := {\"score\": \n"), []string{"risk.rego:", "rego_parse_error"}},
		{"rego compile error", with(base, "risk.rego", "package paywire.risk\ndecision := undefined_thing\n"), []string{"risk.rego:2", "undefined_thing"}},
		{"missing entry point", with(base, "workflow.rego", "package paywire.workflow\nnext := 1\n"), []string{"data.paywire.workflow.decision is missing"}},
		{"expr does not compile", with(base, "rules/risk/data.yaml", "rules:\n  - id: ok\n    when: \"true\"\n    effect: {score: 1, reason: ok}\n  - id: typo\n    when: request.amount.minr > 5\n    effect: {score: 1, reason: x}\n"), []string{"rules/risk/data.yaml:5", `rule "typo"`, "minr"}},
		{"expr wrong type", with(base, "rules/risk/data.yaml", "rules:\n  - id: number\n    when: request.amount.minor + 1\n    effect: {score: 1, reason: x}\n"), []string{"rules/risk/data.yaml:2", "bool"}},
		{"expr uses now()", with(base, "rules/risk/data.yaml", "rules:\n  - id: clock\n    when: now().Year() > 2000\n    effect: {score: 1, reason: x}\n"), []string{`rule "clock"`}},
		{"risk effect without score", with(base, "rules/risk/data.yaml", "rules:\n  - id: noscore\n    when: \"true\"\n    effect: {reason: x}\n"), []string{"rules/risk/data.yaml:2", "score"}},
		{"routing effect without providers", with(base, "rules/routing/data.yaml", "rules:\n  - id: empty\n    when: \"true\"\n    effect: {}\n"), []string{"providers"}},
		{"duplicate rule id", with(base, "rules/risk/data.yaml", "rules:\n  - id: a\n    when: \"true\"\n    effect: {score: 1, reason: x}\n  - id: a\n    when: \"true\"\n    effect: {score: 1, reason: x}\n"), []string{"used twice", "data.yaml:5"}},
		{"overlapping roots", with(base, ".manifest", `{"revision": "x", "roots": ["paywire", "paywire/risk", "rules"]}`), []string{".manifest", "overlap"}},
		{"no manifest", with(base, ".manifest", ""), []string{".manifest", "missing"}},
		{"no revision", with(base, ".manifest", `{"roots": ["paywire", "rules"]}`), []string{"revision"}},
		{"missing rules file", with(base, "rules/workflow/data.yaml", ""), []string{"rules/workflow/data.yaml", "missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, base)
			before := e.Active()
			_, err := e.Activate(ctx, c.files)
			if err == nil {
				t.Fatal("the bundle was accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if e.Active() != before {
				t.Error("the active bundle changed")
			}
			if d, _ := e.Risk(ctx, riskInput(150000, "411111")); d.FailedClosed || d.Score != 30 {
				t.Errorf("the active bundle no longer answers: %+v", d)
			}
		})
	}
}

func TestCompiledBundlesAreCachedByHash(t *testing.T) {
	e := New(2)
	a, err := e.Load(ctx, minimalFiles())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Load(ctx, minimalFiles())
	if a != b {
		t.Error("the same content was compiled twice")
	}
	c, _ := e.Load(ctx, with(minimalFiles(), ".manifest", `{"revision": "test-2", "roots": ["paywire", "rules"]}`))
	if c == a || c.Hash == a.Hash {
		t.Error("different content shares a compiled bundle")
	}
}

type memRecorder struct{ recs []*Record }

func (m *memRecorder) Record(_ context.Context, r *Record) error {
	m.recs = append(m.recs, r)
	return nil
}

func TestRecorderGetsEveryDecision(t *testing.T) {
	e := newEngine(t, minimalFiles())
	rec := &memRecorder{}
	e.Recorder = rec
	d, _ := e.Risk(ctx, riskInput(150000, "411111"))
	e.Route(ctx, RouteInput{Request: RouteRequest{MerchantID: "demo", Time: now}, PaymentID: "pay_9"})
	if len(rec.recs) != 2 || rec.recs[0].Point != "risk" || rec.recs[0].Meta.DecisionID != d.DecisionID ||
		rec.recs[1].PaymentID != "pay_9" || rec.recs[1].MerchantID != "demo" {
		t.Fatalf("records %+v", rec.recs)
	}
	b, _ := json.Marshal(rec.recs[0].Input)
	if !strings.Contains(string(b), `"bin":"411111"`) || !strings.Contains(string(b), `"last4":"4242"`) {
		t.Errorf("recorded input %s", b)
	}
}

func TestBucketIsStable(t *testing.T) {
	// Fixed values: changing Bucket would move every end user to another arm.
	if got := Bucket("acquirer-split-2026", "cust-1"); got != Bucket("acquirer-split-2026", "cust-1") || got < 0 || got > 99 {
		t.Fatalf("bucket %d", got)
	}
	counts := make([]int, 2)
	for i := range 10000 {
		counts[Bucket("salt", paywire.NewID(""))/50]++
		_ = i
	}
	if counts[0] < 4700 || counts[1] < 4700 {
		t.Errorf("buckets are not evenly spread: %v", counts)
	}
}
