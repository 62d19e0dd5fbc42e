package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paywire/paywire"
)

// The parse functions validate a policy's answer against its point's
// schema; any deviation is an error, and the caller fails closed.

// The keys of the policies' answers, as terms made once.
var (
	keyAction     = ast.StringTerm("action")
	keyActions    = ast.StringTerm("actions")
	keyArm        = ast.StringTerm("arm")
	keyExperiment = ast.StringTerm("experiment")
	keyMaxMinor   = ast.StringTerm("max_minor")
	keyMethod     = ast.StringTerm("method")
	keyMethods    = ast.StringTerm("methods")
	keyMinMinor   = ast.StringTerm("min_minor")
	keyNextState  = ast.StringTerm("next_state")
	keyProviders  = ast.StringTerm("providers")
	keyReason     = ast.StringTerm("reason")
	keyReasons    = ast.StringTerm("reasons")
	keyScore      = ast.StringTerm("score")
)

func field(o ast.Object, k *ast.Term) ast.Value {
	t := o.Get(k)
	if t == nil {
		return nil
	}
	return t.Value
}

func asObject(t *ast.Term, what string) (ast.Object, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	o, ok := t.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s must be an object, got %v", what, ast.ValueName(t.Value))
	}
	return o, nil
}

func asString(v ast.Value, what string, optional bool) (string, error) {
	if v == nil && optional {
		return "", nil
	}
	s, ok := v.(ast.String)
	if !ok {
		return "", fmt.Errorf("%s must be a string", what)
	}
	return string(s), nil
}

func asInt(v ast.Value, what string) (int64, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%s must be an integer", what)
	}
	i, ok := n.Int64()
	if !ok {
		return 0, fmt.Errorf("%s must be an integer, got %s", what, n)
	}
	return i, nil
}

func asStrings(v ast.Value, what string) ([]string, error) {
	if set, ok := v.(ast.Set); ok {
		v = set.Sorted()
	}
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("%s must be an array of strings", what)
	}
	out := make([]string, arr.Len())
	for i := range out {
		s, ok := arr.Elem(i).Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s must be an array of strings", what)
		}
		out[i] = string(s)
	}
	return out, nil
}

func parseAvailability(t *ast.Term, amount Money) ([]MethodOption, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return nil, err
	}
	arr, ok := field(o, keyMethods).(*ast.Array)
	if !ok {
		return nil, errors.New("decision.methods must be an array")
	}
	out := make([]MethodOption, 0, arr.Len())
	for i := 0; i < arr.Len(); i++ {
		mo, err := asObject(arr.Elem(i), "decision.methods[]")
		if err != nil {
			return nil, err
		}
		var m MethodOption
		if m.Method, err = asString(field(mo, keyMethod), "method", false); err != nil {
			return nil, err
		}
		if !paywire.Method(m.Method).Valid() {
			return nil, fmt.Errorf("unknown method %q", m.Method)
		}
		if slices.ContainsFunc(out, func(o MethodOption) bool { return o.Method == m.Method }) {
			return nil, fmt.Errorf("method %q is listed twice", m.Method)
		}
		if m.MinMinor, err = asInt(field(mo, keyMinMinor), "min_minor"); err != nil {
			return nil, err
		}
		if m.MaxMinor, err = asInt(field(mo, keyMaxMinor), "max_minor"); err != nil {
			return nil, err
		}
		if m.MinMinor < 0 || m.MinMinor > m.MaxMinor {
			return nil, fmt.Errorf("method %q: limits must satisfy 0 <= min_minor <= max_minor", m.Method)
		}
		out = append(out, m)
	}
	return out, nil
}

func parseRisk(t *ast.Term) (int, RiskAction, []string, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return 0, "", nil, err
	}
	score, err := asInt(field(o, keyScore), "score")
	if err != nil {
		return 0, "", nil, err
	}
	if score < 0 || score > 100 {
		return 0, "", nil, fmt.Errorf("score %d is outside 0-100", score)
	}
	a, err := asString(field(o, keyAction), "action", false)
	if err != nil {
		return 0, "", nil, err
	}
	action := RiskAction(a)
	switch action {
	case RiskAllow, RiskChallenge, RiskReview, RiskBlock:
	default:
		return 0, "", nil, fmt.Errorf("action %q is not allow, challenge, review or block", a)
	}
	reasons, err := asStrings(field(o, keyReasons), "reasons")
	if err != nil {
		return 0, "", nil, err
	}
	return int(score), action, reasons, nil
}

func parseRoute(t *ast.Term) ([]string, string, string, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return nil, "", "", err
	}
	exp, err := asString(field(o, keyExperiment), "experiment", true)
	if err != nil {
		return nil, "", "", err
	}
	arm, err := asString(field(o, keyArm), "arm", true)
	if err != nil {
		return nil, "", "", err
	}
	if exp != "" && field(o, keyProviders) == nil {
		// a rule chose an experiment: the engine assigns the arm
		return nil, exp, "", nil
	}
	providers, err := asStrings(field(o, keyProviders), "providers")
	if err != nil {
		return nil, "", "", err
	}
	for i, p := range providers {
		if p == "" || slices.Contains(providers[:i], p) {
			return nil, "", "", fmt.Errorf("providers must be distinct non-empty names")
		}
	}
	return providers, exp, arm, nil
}

func parseWorkflow(t *ast.Term, from paywire.State) (paywire.State, []string, string, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return "", nil, "", err
	}
	next, err := asString(field(o, keyNextState), "next_state", false)
	if err != nil {
		return "", nil, "", err
	}
	actions, err := asStrings(field(o, keyActions), "actions")
	if err != nil {
		return "", nil, "", err
	}
	for _, a := range actions {
		if !paywire.Action(a).Valid() {
			return "", nil, "", fmt.Errorf("unknown action %q", a)
		}
	}
	reason, err := asString(field(o, keyReason), "reason", true)
	if err != nil {
		return "", nil, "", err
	}
	if next != "" {
		if err := paywire.CheckTransition(from, paywire.State(next)); err != nil {
			return "", nil, "", fmt.Errorf("the policy asks for %s -> %s: %s", from, next, paywire.ErrorMessage(err))
		}
	}
	return paywire.State(next), actions, reason, nil
}
