package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// Routing experiments are bundle data (data.paywire.experiments, reviewed,
// signed and activated with the bundle like any rule):
//
//	experiments:
//	  - name: acquirer-split
//	    salt: acquirer-split-2026      # a new salt reshuffles the arms
//	    sticky: customer               # customer or payment
//	    start: 2026-11-01T00:00:00Z
//	    end: 2027-02-01T00:00:00Z      # optional
//	    metric: approval_rate          # the default, and the only one today
//	    control: a
//	    arms:
//	      - {name: a, weight: 50, providers: [acquirer-a, acquirer-b]}
//	      - {name: b, weight: 50, providers: [acquirer-b, acquirer-a]}
//	    guardrail: {max_drop: 0.05, confidence: 0.95, min_attempts: 200}
//
// A routing rule chooses which payments take part: its effect names the
// experiment, {experiment: acquirer-split}, instead of giving providers.
// The engine then assigns the arm: the bucket (0-99) of the payment's
// sticky key under the salt, the same number the rules' bucket(salt, key)
// gives, falls in an arm by the arms' weights in their order (weights are
// whole percentages adding up to 100). The arm's providers are the route,
// and the decision, its record and the payment carry the experiment and
// the arm. Outside the experiment's period, or without a sticky key (a
// payment of an end user the merchant gave no id, in a customer-sticky
// experiment), the payment takes the control arm's route and is not part
// of the experiment: it is counted in no arm.

const experimentsFile = "paywire/experiments/data.yaml"

// Experiment is a routing experiment of a bundle.
type Experiment struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Salt        string `json:"salt"`
	// Sticky is what keeps a payment's arm: "customer" (the end user's id:
	// an end user stays in one arm) or "payment".
	Sticky string    `json:"sticky"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"` // zero: open-ended
	// Metric is what the arms are compared on: "approval_rate".
	Metric    string    `json:"metric"`
	Control   string    `json:"control"`
	Arms      []Arm     `json:"arms"`
	Guardrail Guardrail `json:"guardrail"`
}

// Arm is one arm of an experiment: its share of the traffic and its route.
type Arm struct {
	Name      string   `json:"name"`
	Weight    int      `json:"weight"`
	Providers []string `json:"providers"`
}

// Guardrail is when an arm is stopped for doing worse than control: its
// approval rate is below control's by more than MaxDrop (a fraction:
// 0.05 is five percentage points) with the one-sided confidence
// Confidence, once both have at least MinAttempts attempts.
type Guardrail struct {
	MaxDrop     float64 `json:"max_drop"`
	Confidence  float64 `json:"confidence"`
	MinAttempts int     `json:"min_attempts"`
}

// Guardrail defaults, for an experiment that leaves them out.
const (
	defaultMaxDrop     = 0.05
	defaultConfidence  = 0.95
	defaultMinAttempts = 200
)

// Running reports whether the experiment takes payments at t.
func (x *Experiment) Running(t time.Time) bool {
	return !t.Before(x.Start) && (x.End.IsZero() || t.Before(x.End))
}

// Assign returns the arm of the sticky key key: the arm whose share of the
// buckets 0-99 holds Bucket(salt, key).
func (x *Experiment) Assign(key string) *Arm {
	b := Bucket(x.Salt, key)
	for i := range x.Arms {
		if b < x.Arms[i].Weight {
			return &x.Arms[i]
		}
		b -= x.Arms[i].Weight
	}
	return &x.Arms[len(x.Arms)-1] // unreachable: the weights add up to 100
}

// ControlArm returns the control arm.
func (x *Experiment) ControlArm() *Arm {
	for i := range x.Arms {
		if x.Arms[i].Name == x.Control {
			return &x.Arms[i]
		}
	}
	return nil
}

// Experiments returns the bundle's experiments in their order.
func (b *Bundle) Experiments() []Experiment {
	out := make([]Experiment, len(b.experiments))
	for i, x := range b.experiments {
		out[i] = *x
	}
	return out
}

// experiment returns the bundle's experiment called name; nil: none.
func (b *Bundle) experiment(name string) *Experiment {
	for _, x := range b.experiments {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// routeExperiment turns a rule's choice of an experiment into the route of
// the payment's arm.
func (b *Bundle) routeExperiment(req *RouteRequest, name string) (providers []string, exp, arm string, err error) {
	x := b.experiment(name)
	if x == nil {
		return nil, "", "", fmt.Errorf("no experiment %q", name) // refused at load; kept for safety
	}
	key := req.Customer.ID
	if x.Sticky == "payment" {
		key = req.PaymentID
	}
	if key == "" || !x.Running(req.Time) {
		return slices.Clone(x.ControlArm().Providers), "", "", nil
	}
	a := x.Assign(key)
	return slices.Clone(a.Providers), x.Name, a.Name, nil
}

// readExperiments parses data.paywire.experiments, when the bundle has it.
func readExperiments(data map[string]any) ([]*Experiment, error) {
	pw, _ := data["paywire"].(map[string]any)
	raw, ok := pw["experiments"]
	if !ok {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return refuse(experimentsFile, 0, "data.paywire.experiments"+format, args...)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, bad(" must be an object with the list experiments")
	}
	for k := range doc {
		if k != "experiments" {
			return nil, bad(": unknown key %q (want experiments)", k)
		}
	}
	list, ok := doc["experiments"].([]any)
	if !ok {
		return nil, bad(".experiments must be a list")
	}
	var out []*Experiment
	for i, item := range list {
		spec, ok := item.(map[string]any)
		if !ok {
			return nil, bad(".experiments[%d] must be an object", i)
		}
		x, err := readExperiment(spec)
		if err != nil {
			name, _ := spec["name"].(string)
			return nil, bad(".experiments[%d] (%s): %v", i, name, err)
		}
		if slices.ContainsFunc(out, func(o *Experiment) bool { return o.Name == x.Name }) {
			return nil, bad(": experiment %q is defined twice", x.Name)
		}
		out = append(out, x)
	}
	return out, nil
}

var experimentKeys = []string{"name", "description", "salt", "sticky", "start", "end", "metric", "control", "arms", "guardrail"}

func readExperiment(spec map[string]any) (*Experiment, error) {
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		if !slices.Contains(experimentKeys, k) {
			return nil, fmt.Errorf("unknown key %q (want %s)", k, strings.Join(experimentKeys, ", "))
		}
	}
	str := func(k string) string { s, _ := spec[k].(string); return s }
	x := &Experiment{Name: str("name"), Description: str("description"), Salt: str("salt"), Sticky: str("sticky"),
		Metric: str("metric"), Control: str("control")}
	if !validName(x.Name) {
		return nil, fmt.Errorf("name must be 1-64 characters of a-z, 0-9, - and _")
	}
	if x.Salt == "" {
		return nil, fmt.Errorf("salt must be set (a new salt reshuffles the arms)")
	}
	switch x.Sticky {
	case "customer", "payment":
	default:
		return nil, fmt.Errorf("sticky must be customer or payment")
	}
	if x.Metric == "" {
		x.Metric = "approval_rate"
	}
	if x.Metric != "approval_rate" {
		return nil, fmt.Errorf("metric %q is not known (approval_rate is)", x.Metric)
	}
	var err error
	if x.Start, err = experimentTime(spec["start"]); err != nil || x.Start.IsZero() {
		return nil, fmt.Errorf("start must be a date or an RFC 3339 time")
	}
	if _, ok := spec["end"]; ok {
		if x.End, err = experimentTime(spec["end"]); err != nil || !x.End.After(x.Start) {
			return nil, fmt.Errorf("end must be a date or an RFC 3339 time after start")
		}
	}
	arms, ok := spec["arms"].([]any)
	if !ok || len(arms) < 2 {
		return nil, fmt.Errorf("arms must list at least two arms")
	}
	total := 0
	for j, a := range arms {
		am, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("arms[%d] must be an object {name, weight, providers}", j)
		}
		var arm Arm
		arm.Name, _ = am["name"].(string)
		if !validName(arm.Name) || slices.ContainsFunc(x.Arms, func(o Arm) bool { return o.Name == arm.Name }) {
			return nil, fmt.Errorf("arms[%d]: name must be a distinct name of a-z, 0-9, - and _", j)
		}
		f, ok := number(am["weight"])
		w := int(f)
		if !ok || float64(w) != f || w <= 0 || w > 100 {
			return nil, fmt.Errorf("arm %s: weight must be a whole percentage, 1-100", arm.Name)
		}
		arm.Weight = w
		total += w
		ps, _ := am["providers"].([]any)
		for _, p := range ps {
			s, _ := p.(string)
			if s == "" || slices.Contains(arm.Providers, s) {
				return nil, fmt.Errorf("arm %s: providers must be distinct non-empty names", arm.Name)
			}
			arm.Providers = append(arm.Providers, s)
		}
		if len(arm.Providers) == 0 {
			return nil, fmt.Errorf("arm %s: providers must list the route, at least one provider", arm.Name)
		}
		for k := range am {
			if k != "name" && k != "weight" && k != "providers" {
				return nil, fmt.Errorf("arm %s: unknown key %q (want name, weight, providers)", arm.Name, k)
			}
		}
		x.Arms = append(x.Arms, arm)
	}
	if total != 100 {
		return nil, fmt.Errorf("the arms' weights add up to %d, not 100", total)
	}
	if x.ControlArm() == nil {
		return nil, fmt.Errorf("control must name one of the arms")
	}
	x.Guardrail = Guardrail{MaxDrop: defaultMaxDrop, Confidence: defaultConfidence, MinAttempts: defaultMinAttempts}
	if g, ok := spec["guardrail"]; ok {
		gm, ok := g.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("guardrail must be an object {max_drop, confidence, min_attempts}")
		}
		for k, v := range gm {
			f, isNum := number(v)
			switch {
			case !isNum:
				return nil, fmt.Errorf("guardrail.%s must be a number", k)
			case k == "max_drop" && f >= 0 && f < 1:
				x.Guardrail.MaxDrop = f
			case k == "confidence" && f >= 0.5 && f < 1:
				x.Guardrail.Confidence = f
			case k == "min_attempts" && f >= 1 && f == float64(int(f)):
				x.Guardrail.MinAttempts = int(f)
			case k == "max_drop", k == "confidence", k == "min_attempts":
				return nil, fmt.Errorf("guardrail.%s is out of range (max_drop 0-1, confidence 0.5-1, min_attempts a whole number >= 1)", k)
			default:
				return nil, fmt.Errorf("guardrail: unknown key %q (want max_drop, confidence, min_attempts)", k)
			}
		}
	}
	return x, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// number reads a YAML or JSON number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// experimentTime reads a start or end: an RFC 3339 time or a date (UTC
// midnight).
func experimentTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		if d, err := time.Parse(time.DateOnly, t); err == nil {
			return d, nil
		}
		return time.Parse(time.RFC3339, t)
	}
	return time.Time{}, fmt.Errorf("not a time")
}

// checkExperimentRules refuses a routing rule that names an experiment the
// bundle does not define.
func checkExperimentRules(rules []compiledRule, xs []*Experiment) error {
	var problems []Problem
	for _, r := range rules {
		var e struct {
			Experiment string `json:"experiment"`
		}
		if json.Unmarshal(r.effect, &e) != nil || e.Experiment == "" {
			continue
		}
		if !slices.ContainsFunc(xs, func(x *Experiment) bool { return x.Name == e.Experiment }) {
			problems = append(problems, Problem{File: rulesFile(PointRouting),
				Reason: fmt.Sprintf("rule %q: no experiment %q in data.paywire.experiments (%s)", r.id, e.Experiment, experimentsFile)})
		}
	}
	if len(problems) > 0 {
		return &LoadError{Problems: problems}
	}
	return nil
}

// armKey names an arm of an experiment with its salt: a restarted
// experiment (a new salt) has no arm stopped.
func armKey(experiment, salt, arm string) string { return experiment + "\x00" + salt + "\x00" + arm }

// SetStoppedArms sets the experiment arms the guardrail stopped: from now
// on, a payment assigned to one of them takes its control arm's route, is
// counted as control's, and its decision names the stopped arm. A stop
// names the experiment's salt, so it ends with the experiment.
func (e *Engine) SetStoppedArms(stops []paywire.ArmStop) {
	m := make(map[string]bool, len(stops))
	for _, s := range stops {
		m[armKey(s.Experiment, s.Salt, s.Arm)] = true
	}
	e.stopped.Store(&m)
}
