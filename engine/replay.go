package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Replay decides point again on a recorded input — a decision record's
// Input, or a decision case's — with bundle b, and returns the point's
// decision (AvailabilityDecision, RiskDecision, RouteDecision or
// WorkflowDecision). It records nothing and leaves every engine's active
// bundle alone: backtests, shadow evaluation and the decision cases use it.
// A bundle from Engine.Load reads that engine's live lists, as the active
// one does. An input that does not fit the point's schema is an error
// (attributes it does not have are refused when strict).
func Replay(ctx context.Context, b *Bundle, point string, input []byte, strict bool) (any, error) {
	if b == nil {
		return nil, fmt.Errorf("no bundle to decide with")
	}
	decode := func(v any) error {
		if strict {
			return strictJSON(input, v)
		}
		if err := json.Unmarshal(input, v); err != nil {
			return &inputError{err}
		}
		return nil
	}
	switch point {
	case PointAvailability:
		var in AvailabilityInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return availability(ctx, b, in), nil
	case PointRisk:
		var in RiskInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return risk(ctx, b, in), nil
	case PointRouting:
		var in RouteInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return route(ctx, b, in), nil
	case PointWorkflow:
		var in WorkflowInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return workflow(ctx, b, in), nil
	}
	return nil, fmt.Errorf("unknown decision point %q", point)
}

// Outcome is what a decision decided, in one comparable word or list, for
// counting how decisions change between bundles: the methods offered
// ("card,bank_transfer"), the risk action ("review"), the providers in
// order ("sandbox>stripe") or the workflow's next state and actions
// ("captured notify"; "-" for no transition). A decision that failed
// closed adds " (failed closed)". decision is a typed decision or its JSON
// (a decision record's Output).
func Outcome(point string, decision any) (string, error) {
	raw, ok := decision.(json.RawMessage)
	if !ok {
		if b, isBytes := decision.([]byte); isBytes {
			raw = b
		} else {
			var err error
			if raw, err = json.Marshal(decision); err != nil {
				return "", err
			}
		}
	}
	var d struct {
		Methods   []MethodOption `json:"methods"`
		Action    string         `json:"action"`
		Providers []string       `json:"providers"`
		NextState string         `json:"next_state"`
		Actions   []string       `json:"actions"`
		Failed    bool           `json:"failed_closed"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", fmt.Errorf("%s decision: %v", point, err)
	}
	var s string
	switch point {
	case PointAvailability:
		names := make([]string, len(d.Methods))
		for i, m := range d.Methods {
			names[i] = m.Method
		}
		s = strings.Join(names, ",")
		if s == "" {
			s = "none"
		}
	case PointRisk:
		s = d.Action
	case PointRouting:
		s = strings.Join(d.Providers, ">")
		if s == "" {
			s = "none"
		}
	case PointWorkflow:
		s = d.NextState
		if s == "" {
			s = "-"
		}
		if len(d.Actions) > 0 {
			s += " " + strings.Join(d.Actions, ",")
		}
	default:
		return "", fmt.Errorf("unknown decision point %q", point)
	}
	if d.Failed {
		s += " (failed closed)"
	}
	return s, nil
}
