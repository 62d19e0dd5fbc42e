package payment_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/paywire/paywire/engine"
)

// The risk scenarios' inputs are golden files of the engine's decision
// corpus: policies/cases/<point>/histories/data.yaml holds, case for
// case, the input the builder made for a scenario's payment at the point
// and the default bundle's decision on it. The files are decision cases of
// the default bundle: the engine tests and `paywire policy test` decide
// them again; the scenario test fails when the builder's input no longer
// matches them, so the corpus cannot drift from what production builds.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite policies/cases/*/histories/data.yaml from the risk scenarios")

// corpusPath is the generated case file of a decision point.
func corpusPath(point string) string {
	return filepath.Join("..", "policies", "cases", point, "histories", "data.yaml")
}

// corpusHeader opens the generated case file of a decision point; want
// says what the cases' want holds.
func corpusHeader(point, want string) string {
	return fmt.Sprintf(`# %s cases built by the real input builder (payment/inputs.go) from
# payment histories made through the payment use cases, with the store's
# features (payment/scenarios_test.go, TestRiskScenarios). Generated: do not
# edit. Regenerate with
#
#   go test ./payment -run TestRiskScenarios -update-corpus
#
# Without the flag that test fails when the builder's input differs from
# this file. A note starts with its scenario's name. Payment ids, where an
# input has one, are fixed per scenario (the only value the test replaces);
# attributes and features the builder leaves unknown are absent here too.
# want: the default bundle's %s.
`, strings.ToUpper(point[:1])+point[1:], want)
}

// corpusCase is one case of a generated corpus file.
type corpusCase struct {
	Scenario string // the note's first part, which names the case in the file
	Note     string // what the history is, after the scenario's name
	Input    any    // the decision point's input, as the builder made it
	Want     map[string]any
}

// note is the case's note in the file.
func (c corpusCase) note() string { return c.Scenario + " — " + c.Note }

// scenarioOf is the scenario a note names.
func scenarioOf(note string) string {
	s, _, _ := strings.Cut(note, " — ")
	return s
}

// riskCase is the risk case of a scenario's payment: its input with the
// payment id replaced by id (the store makes a new one on every run) and
// the decision's action and reasons.
func riskCase(t *testing.T, scenario, note, id string, in engine.RiskInput, d engine.RiskDecision) corpusCase {
	t.Helper()
	if d.FailedClosed {
		t.Fatalf("%s: the risk decision failed closed: %s", scenario, d.Error)
	}
	in.Request.PaymentID = id
	return corpusCase{Scenario: scenario, Note: note, Input: in, Want: map[string]any{"action": d.Action, "reasons": d.Reasons}}
}

// availabilityCase is the availability case of a scenario's payment, as
// it was submitted: its input (which has no payment id) and the methods
// offered.
func availabilityCase(t *testing.T, scenario, note string, in engine.AvailabilityInput, d engine.AvailabilityDecision) corpusCase {
	t.Helper()
	if d.FailedClosed {
		t.Fatalf("%s: the availability decision failed closed: %s", scenario, d.Error)
	}
	return corpusCase{Scenario: scenario, Note: note, Input: in, Want: map[string]any{"methods": d.Methods}}
}

// checkCorpus compares the cases with the case file of the point, or
// rewrites the file with them when update is set; header opens the file.
func checkCorpus(t *testing.T, point, header string, cases []corpusCase, update bool) {
	t.Helper()
	path := corpusPath(point)
	seen := map[string]bool{}
	for _, c := range cases {
		if c.Scenario == "" || seen[c.Scenario] || strings.Contains(c.Scenario, " — ") {
			t.Fatalf("%q: every case needs a scenario name of its own", c.Scenario)
		}
		seen[c.Scenario] = true
	}
	generated, err := renderCorpus(header, cases)
	if err != nil {
		t.Fatal(err)
	}
	if update {
		if err := os.WriteFile(path, generated, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d cases to %s", len(cases), path)
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./payment -run TestRiskScenarios -update-corpus writes it)", err)
	}
	if bytes.Equal(raw, generated) {
		return
	}
	var stored []struct {
		Note  string         `yaml:"note"`
		Input map[string]any `yaml:"input"`
		Want  map[string]any `yaml:"want"`
	}
	if err := yaml.Unmarshal(raw, &stored); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// Cases are matched by their scenario.
	byScenario := map[string]int{}
	for i, c := range stored {
		byScenario[scenarioOf(c.Note)] = i
	}
	var diffs []string
	for _, c := range cases {
		i, ok := byScenario[c.Scenario]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing from the file", c.Scenario))
			continue
		}
		delete(byScenario, c.Scenario)
		var d []string
		diffValues("note", stored[i].Note, c.note(), &d)
		diffValues("input", jsonValue(t, stored[i].Input), jsonValue(t, c.Input), &d)
		diffValues("want", jsonValue(t, stored[i].Want), jsonValue(t, c.Want), &d)
		for _, x := range d {
			diffs = append(diffs, c.Scenario+": "+x)
		}
	}
	for s := range byScenario {
		diffs = append(diffs, fmt.Sprintf("%s: in the file, made by no scenario", s))
	}
	slices.Sort(diffs)
	if len(diffs) == 0 {
		diffs = []string{"the same cases, written differently (edited by hand?)"}
	}
	t.Errorf("%s is not what the input builder makes now (file / builder):\n  %s\n"+
		"If the change is intended, regenerate it with go test ./payment -run TestRiskScenarios -update-corpus and review the diff.",
		path, strings.Join(diffs, "\n  "))
}

// renderCorpus writes the cases as a YAML case list after the header:
// attributes in the order of their JSON form, one a line, so that a change
// to the builder reads as a line diff.
func renderCorpus(header string, cases []corpusCase) ([]byte, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range cases {
		in, err := nodeOf(c.Input)
		if err != nil {
			return nil, err
		}
		want, err := nodeOf(c.Want)
		if err != nil {
			return nil, err
		}
		flowLeaves(want)
		if n := field(field(in, "request"), "amount"); n != nil {
			flowLeaves(n)
		}
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("note"), scalar(c.note()), scalar("input"), in, scalar("want"), want,
		}})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(seq); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := []byte(header)
	for i, line := range strings.SplitAfter(buf.String(), "\n") {
		if i > 0 && strings.HasPrefix(line, "- note:") {
			out = append(out, '\n')
		}
		out = append(out, line...)
	}
	return out, nil
}

// nodeOf is v's JSON form as a YAML node, keys in their JSON order.
func nodeOf(v any) (*yaml.Node, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	n := doc.Content[0]
	plain(n)
	return n, nil
}

// plain drops the quotes JSON put on strings; the encoder quotes those
// that would otherwise read as another type.
func plain(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		n.Style = 0
	} else {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		plain(c)
	}
}

// flowLeaves writes on one line each part of n that holds no mapping but
// itself.
func flowLeaves(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		return
	}
	leaf := true
	for _, c := range n.Content {
		flowLeaves(c)
		if c.Kind == yaml.MappingNode || (c.Kind == yaml.SequenceNode && c.Style != yaml.FlowStyle) {
			leaf = false
		}
	}
	if leaf {
		n.Style = yaml.FlowStyle
	}
}

// field is the value of key in the mapping n, nil when there is none.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// jsonValue is v as JSON decodes it, so that values from YAML and from Go
// compare.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffValues lists where got (the builder's) differs from file, by path; a
// key one side lacks is <absent>, which is not 0: the feature is unknown.
func diffValues(path string, file, got any, out *[]string) {
	fm, okf := file.(map[string]any)
	gm, okg := got.(map[string]any)
	if okf && okg {
		keys := map[string]bool{}
		for k := range fm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			f, inFile := fm[k]
			g, inGot := gm[k]
			switch {
			case !inFile:
				*out = append(*out, fmt.Sprintf("%s.%s: <absent> / %s", path, k, show(g)))
			case !inGot:
				*out = append(*out, fmt.Sprintf("%s.%s: %s / <absent>", path, k, show(f)))
			default:
				diffValues(path+"."+k, f, g, out)
			}
		}
		return
	}
	if !reflect.DeepEqual(file, got) {
		*out = append(*out, fmt.Sprintf("%s: %s / %s", path, show(file), show(got)))
	}
}

// show is a value as JSON writes it, so that "" and null are seen.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
