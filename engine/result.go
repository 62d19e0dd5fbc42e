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

func field(o ast.Object, k string) ast.Value {
	t := o.Get(ast.InternedTerm(k))
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
	var ts []*ast.Term
	switch c := v.(type) {
	case *ast.Array:
		ts = make([]*ast.Term, 0, c.Len())
		c.Foreach(func(t *ast.Term) { ts = append(ts, t) })
	case ast.Set:
		sorted := c.Sorted()
		ts = make([]*ast.Term, 0, sorted.Len())
		sorted.Foreach(func(t *ast.Term) { ts = append(ts, t) })
	default:
		return nil, fmt.Errorf("%s must be an array of strings", what)
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		s, ok := t.Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s must be an array of strings", what)
		}
		out[i] = string(s)
	}
	return out, nil
}

var knownMethods = map[string]bool{"card": true, "bank_redirect": true, "ewallet": true}

func parseAvailability(t *ast.Term, amount Money) ([]MethodOption, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return nil, err
	}
	arr, ok := field(o, "methods").(*ast.Array)
	if !ok {
		return nil, errors.New("decision.methods must be an array")
	}
	out := make([]MethodOption, 0, arr.Len())
	seen := map[string]bool{}
	for i := 0; i < arr.Len(); i++ {
		mo, err := asObject(arr.Elem(i), "decision.methods[]")
		if err != nil {
			return nil, err
		}
		var m MethodOption
		if m.Method, err = asString(field(mo, "method"), "method", false); err != nil {
			return nil, err
		}
		if !knownMethods[m.Method] {
			return nil, fmt.Errorf("unknown method %q", m.Method)
		}
		if seen[m.Method] {
			return nil, fmt.Errorf("method %q is listed twice", m.Method)
		}
		seen[m.Method] = true
		if m.MinMinor, err = asInt(field(mo, "min_minor"), "min_minor"); err != nil {
			return nil, err
		}
		if m.MaxMinor, err = asInt(field(mo, "max_minor"), "max_minor"); err != nil {
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
	score, err := asInt(field(o, "score"), "score")
	if err != nil {
		return 0, "", nil, err
	}
	if score < 0 || score > 100 {
		return 0, "", nil, fmt.Errorf("score %d is outside 0-100", score)
	}
	a, err := asString(field(o, "action"), "action", false)
	if err != nil {
		return 0, "", nil, err
	}
	action := RiskAction(a)
	switch action {
	case RiskAllow, RiskChallenge, RiskReview, RiskBlock:
	default:
		return 0, "", nil, fmt.Errorf("action %q is not allow, challenge, review or block", a)
	}
	reasons, err := asStrings(field(o, "reasons"), "reasons")
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
	providers, err := asStrings(field(o, "providers"), "providers")
	if err != nil {
		return nil, "", "", err
	}
	for i, p := range providers {
		if p == "" || slices.Contains(providers[:i], p) {
			return nil, "", "", fmt.Errorf("providers must be distinct non-empty names")
		}
	}
	exp, err := asString(field(o, "experiment"), "experiment", true)
	if err != nil {
		return nil, "", "", err
	}
	arm, err := asString(field(o, "arm"), "arm", true)
	if err != nil {
		return nil, "", "", err
	}
	return providers, exp, arm, nil
}

func parseWorkflow(t *ast.Term, from paywire.State) (paywire.State, []string, string, error) {
	o, err := asObject(t, "decision")
	if err != nil {
		return "", nil, "", err
	}
	next, err := asString(field(o, "next_state"), "next_state", false)
	if err != nil {
		return "", nil, "", err
	}
	actions, err := asStrings(field(o, "actions"), "actions")
	if err != nil {
		return "", nil, "", err
	}
	for _, a := range actions {
		if !workflowActions[a] {
			return "", nil, "", fmt.Errorf("unknown action %q", a)
		}
	}
	reason, err := asString(field(o, "reason"), "reason", true)
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
