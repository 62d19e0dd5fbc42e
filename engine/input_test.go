package engine

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// planOf compiles files and returns the input plan of a point.
func planOf(t *testing.T, files Files, point string) *inputPlan {
	t.Helper()
	b, err := Compile(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	return b.points[point].plan
}

func TestInputPlan(t *testing.T) {
	base := minimalFiles()
	tests := []struct {
		note  string
		risk  string // the risk module
		all   bool
		parts map[string]partPlan
		kept  bool
	}{
		{
			note:  "hits alone",
			risk:  "package paywire.risk\ndecision := {\"score\": count(input.hits), \"action\": \"allow\", \"reasons\": []}\n",
			parts: map[string]partPlan{"hits": {all: true}},
			kept:  true,
		},
		{
			note: "attributes through an import, a helper rule and a function",
			risk: `package paywire.risk
import input.request as req
young if input.features.card_age_days < 1
big(x) if x > input.request.amount.minor
decision := {"score": 0, "action": "allow", "reasons": [req.kind]} if { young; big(3) }
`,
			parts: map[string]partPlan{
				"request":  {keys: []string{"amount", "kind"}},
				"features": {keys: []string{"card_age_days"}},
			},
		},
		{
			note:  "a part read as a whole",
			risk:  "package paywire.risk\ndecision := {\"score\": count(input.request), \"action\": \"allow\", \"reasons\": []}\n",
			parts: map[string]partPlan{"request": {all: true}},
		},
		{
			note:  "a part read by a computed key",
			risk:  "package paywire.risk\ndecision := {\"score\": 0, \"action\": \"allow\", \"reasons\": [k | some k, _ in input.features]}\n",
			parts: map[string]partPlan{"features": {all: true}},
		},
		{
			note: "the whole input",
			risk: "package paywire.risk\ndecision := {\"score\": count(input), \"action\": \"allow\", \"reasons\": []}\n",
			all:  true,
		},
		{
			note: "input by a computed key",
			risk: "package paywire.risk\np := \"request\"\ndecision := {\"score\": count(input[p]), \"action\": \"allow\", \"reasons\": []}\n",
			all:  true,
		},
		{
			note: "with replaces the input, its value is read",
			risk: `package paywire.risk
inner := input.request.kind
decision := {"score": 0, "action": "allow", "reasons": [x]} if x := inner with input as {"request": {"kind": input.features.ip_count_1h}}
`,
			parts: map[string]partPlan{
				"request":  {keys: []string{"kind"}},
				"features": {keys: []string{"ip_count_1h"}},
			},
		},
		{
			note:  "rules the entry point does not reach are not counted",
			risk:  "package paywire.risk\nunused := input.request.kind\ndecision := {\"score\": 0, \"action\": \"allow\", \"reasons\": []}\n",
			parts: map[string]partPlan{},
			kept:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.note, func(t *testing.T) {
			p := planOf(t, with(base, "risk.rego", tt.risk), PointRisk)
			if p.all != tt.all || p.kept != tt.kept {
				t.Errorf("all=%v kept=%v, want all=%v kept=%v", p.all, p.kept, tt.all, tt.kept)
			}
			if tt.all {
				return
			}
			got := map[string]partPlan{}
			for k, v := range p.parts {
				got[k] = *v
			}
			if !reflect.DeepEqual(got, tt.parts) {
				t.Errorf("parts = %+v, want %+v", got, tt.parts)
			}
		})
	}
}

// TestInputPlanDecidesAlike checks the analysis against the whole input:
// every case of the corpus gets the same decision from the default bundle
// when each decision's input holds only what its policies read as when it
// holds everything.
func TestInputPlanDecidesAlike(t *testing.T) {
	ctx := context.Background()
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	narrow, whole := New(1), New(1)
	if _, err := narrow.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	b, err := Compile(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.points {
		p.plan = &inputPlan{all: true}
	}
	whole.active.Store(b)

	narrowed := 0
	for _, p := range narrow.Active().points {
		if !p.plan.all {
			narrowed++
		}
	}
	if narrowed == 0 {
		t.Fatal("no point's input is narrowed: the comparison would compare nothing")
	}

	for _, point := range Points {
		// The point's decision cases, written and generated.
		var cases []decisionCase
		for _, c := range b.cases {
			if c.point == point {
				cases = append(cases, c)
			}
		}
		if len(cases) == 0 {
			t.Fatalf("%s: no decision cases", point)
		}
		for _, c := range cases {
			in, err := json.Marshal(c.input)
			if err != nil {
				t.Fatal(err)
			}
			decide := func(e *Engine) any {
				var d any
				var err error
				switch point {
				case PointAvailability:
					var x AvailabilityInput
					_ = json.Unmarshal(in, &x)
					var out AvailabilityDecision
					out, err = e.Availability(ctx, x)
					out.Meta = comparable(out.Meta)
					d = out
				case PointRisk:
					var x RiskInput
					_ = json.Unmarshal(in, &x)
					var out RiskDecision
					out, err = e.Risk(ctx, x)
					out.Meta = comparable(out.Meta)
					d = out
				case PointRouting:
					var x RouteInput
					_ = json.Unmarshal(in, &x)
					var out RouteDecision
					out, err = e.Route(ctx, x)
					out.Meta = comparable(out.Meta)
					d = out
				case PointWorkflow:
					var x WorkflowInput
					_ = json.Unmarshal(in, &x)
					var out WorkflowDecision
					out, err = e.Workflow(ctx, x)
					out.Meta = comparable(out.Meta)
					d = out
				}
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			if a, b := decide(narrow), decide(whole); !reflect.DeepEqual(a, b) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				t.Errorf("%s / %s:\n narrow input: %s\n whole input:  %s", point, c.note, ja, jb)
			}
		}
	}
}

// comparable drops what differs between two runs of the same decision.
func comparable(m Meta) Meta {
	m.DecisionID, m.Duration = "", 0
	return m
}

// TestPlanFollowsElseBranches: a rule an else branch depends on reads the
// input too, and the plan must keep what it reads.
func TestPlanFollowsElseBranches(t *testing.T) {
	b, err := Compile(ctx, with(minimalFiles(), "risk.rego", `package paywire.risk
decision := {"score": 100, "action": "block", "reasons": ["first"]} if {
	input.hits[0].effect.reason == "first"
} else := {"score": 0, "action": act, "reasons": []}

act := "review" if input.request.merchant_id == "careful"
else := "allow"
`))
	if err != nil {
		t.Fatal(err)
	}
	p := b.points[PointRisk].plan
	if p.kept || p.part("request") == nil || !slices.Contains(p.part("request").keys, "merchant_id") {
		t.Fatalf("plan %+v misses request.merchant_id read through an else branch", p)
	}
	e := newEngine(t, b.Files)
	in := riskInput(100, "424242")
	in.Request.MerchantID = "careful"
	if d, _ := e.Risk(ctx, in); d.Action != RiskReview {
		t.Errorf("decision %+v; want review for the careful merchant", d)
	}
}
