package bundles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Files of the paywire layout that promoting an arm edits.
const (
	routingRulesFile = "rules/routing/data.yaml"
	experimentsFile  = "paywire/experiments/data.yaml"
	routingCases     = "cases/routing/"
)

// Promote pushes, as a draft of who, base with the arm of the experiment
// made the route: every routing rule that put payments in the experiment
// routes them by the arm's providers instead, the experiment's definition
// is removed, and the routing cases the experiment's rules decided expect
// the arm's route, outside any experiment. The draft goes through review,
// approval and activation like any revision; until then the experiment
// runs on. base is a bundle in paywire's layout (rules/ and paywire/ as
// files), such as the running one.
func (s *Service) Promote(ctx context.Context, base engine.Files, experiment, arm, who string) (*paywire.PolicyBundle, error) {
	const op = "bundles/Service.Promote"
	invalid := func(format string, args ...any) error {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf(format, args...)}
	}
	unsigned := engine.Files{}
	for p, b := range base {
		if p != ".signatures.json" {
			unsigned[p] = b
		}
	}
	compiled, err := engine.Compile(ctx, unsigned)
	if err != nil {
		return nil, invalid("the bundle to promote from does not load: %v", err)
	}
	var x *engine.Experiment
	for _, e := range compiled.Experiments() {
		if e.Name == experiment {
			x = &e
		}
	}
	if x == nil {
		return nil, &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: fmt.Sprintf("the bundle defines no experiment %q", experiment)}
	}
	i := slices.IndexFunc(x.Arms, func(a engine.Arm) bool { return a.Name == arm })
	if i < 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: fmt.Sprintf("experiment %s has no arm %q", experiment, arm)}
	}
	providers := x.Arms[i].Providers
	if unsigned[routingRulesFile] == nil || unsigned[experimentsFile] == nil {
		return nil, invalid("promoting an arm edits %s and %s: the bundle has its data merged (opa build); promote from the bundle's source instead", routingRulesFile, experimentsFile)
	}

	files := engine.Files{}
	for p, b := range unsigned {
		files[p] = b
	}
	rules, err := editYAML(unsigned[routingRulesFile], func(doc *yaml.Node) (bool, error) {
		return promoteRules(doc, experiment, arm, providers)
	})
	if err != nil {
		return nil, invalid("%s: %v", routingRulesFile, err)
	}
	if rules == nil {
		return nil, invalid("no routing rule puts payments in experiment %s", experiment)
	}
	files[routingRulesFile] = rules
	if files[experimentsFile], err = editYAML(unsigned[experimentsFile], func(doc *yaml.Node) (bool, error) {
		return removeExperiment(doc, experiment), nil
	}); err != nil || files[experimentsFile] == nil {
		return nil, invalid("%s: cannot remove experiment %s (%v)", experimentsFile, experiment, err)
	}
	for p, src := range unsigned {
		if !strings.HasPrefix(p, routingCases) || path.Ext(p) != ".yaml" {
			continue
		}
		edited, err := editYAML(src, func(doc *yaml.Node) (bool, error) {
			return promoteCases(ctx, compiled, doc, experiment, providers)
		})
		if err != nil {
			return nil, invalid("%s: %v", p, err)
		}
		if edited != nil {
			files[p] = edited
		}
	}
	return s.Push(ctx, files, who, fmt.Sprintf("Promote arm %s of experiment %s: its route (%s) for every payment the experiment took; the experiment ends",
		arm, experiment, strings.Join(providers, " > ")))
}

// editYAML parses src, lets edit change it and returns the new text; nil
// when edit changed nothing. Comments are kept.
func editYAML(src []byte, edit func(doc *yaml.Node) (bool, error)) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("not a YAML document")
	}
	changed, err := edit(doc.Content[0])
	if err != nil || !changed {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// value returns the value node of key in mapping m; nil when absent.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func providerList(providers []string) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, p := range providers {
		seq.Content = append(seq.Content, scalar(p))
	}
	return seq
}

// promoteRules turns every rule whose effect is {experiment: name} into
// one routing by providers.
func promoteRules(doc *yaml.Node, name, arm string, providers []string) (bool, error) {
	rules := value(doc, "rules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return false, fmt.Errorf("no list of rules")
	}
	changed := false
	for _, r := range rules.Content {
		effect := value(r, "effect")
		if exp := value(effect, "experiment"); exp == nil || exp.Value != name {
			continue
		}
		*effect = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle,
			Content: []*yaml.Node{scalar("providers"), providerList(providers)}}
		note := fmt.Sprintf("arm %s of experiment %s, promoted", arm, name)
		if d := value(r, "description"); d != nil {
			d.Value = strings.TrimSpace(d.Value) + " (" + note + ")"
			d.Style = yaml.DoubleQuotedStyle
		} else {
			r.Content = append(r.Content, scalar("description"), scalar(note))
		}
		changed = true
	}
	return changed, nil
}

// removeExperiment drops the experiment called name from the list.
func removeExperiment(doc *yaml.Node, name string) bool {
	list := value(doc, "experiments")
	if list == nil || list.Kind != yaml.SequenceNode {
		return false
	}
	n := len(list.Content)
	list.Content = slices.DeleteFunc(list.Content, func(x *yaml.Node) bool {
		v := value(x, "name")
		return v != nil && v.Value == name
	})
	if len(list.Content) == 0 {
		list.Style = yaml.FlowStyle // experiments: []
	}
	return len(list.Content) != n
}

// promoteCases makes the cases that the experiment decided in the base
// bundle (their route came from a rule naming it) expect the promoted
// route, in no experiment.
func promoteCases(ctx context.Context, base *engine.Bundle, doc *yaml.Node, name string, providers []string) (bool, error) {
	if doc.Kind != yaml.SequenceNode {
		return false, nil
	}
	changed := false
	for _, c := range doc.Content {
		in, want := value(c, "input"), value(c, "want")
		if in == nil || want == nil {
			continue
		}
		var input any
		if err := in.Decode(&input); err != nil {
			return false, err
		}
		raw, err := json.Marshal(input)
		if err != nil {
			return false, err
		}
		out, err := engine.Replay(ctx, base, engine.PointRouting, raw, false)
		if err != nil {
			continue // a case that does not decide stays as it is: the tests say so
		}
		d, ok := out.(engine.RouteDecision)
		if !ok || len(d.Providers) == 0 || len(d.RulesFired) == 0 {
			continue
		}
		var first struct {
			Experiment string `json:"experiment"`
		}
		if json.Unmarshal(d.RulesFired[0].Effect, &first) != nil || first.Experiment != name {
			continue
		}
		if p := value(want, "providers"); p != nil {
			*p = *providerList(providers)
		} else {
			want.Content = append(want.Content, scalar("providers"), providerList(providers))
		}
		for _, k := range []string{"experiment", "arm"} {
			if v := value(want, k); v != nil {
				*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.DoubleQuotedStyle}
			}
		}
		changed = true
	}
	return changed, nil
}
