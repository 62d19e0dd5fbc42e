package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decision cases travel in a bundle as data under the root "cases": the
// data file cases/<point>/<set>/data.yaml (data.cases.<point>.<set>) is a
// list of
//
//	- note: what the case shows
//	  input: {request: {...}, features: {...}}   # the point's input
//	  want: {action: challenge, reasons: [...]}  # part of the decision
//
// Being data, the cases are signed with the bundle, carried by `opa build`
// into /data.json like every data file, and ignored by `opa test`; as
// files of another kind they would be dropped by OPA's tools or left out
// of the signature. RunTests decides every case with the bundle: the expr
// rules and the Rego policies together, which is what a Rego unit test
// cannot cover.

// casesRoot is the data root of a bundle's decision cases.
const casesRoot = "cases"

// decisionCase is one case of a bundle.
type decisionCase struct {
	point, set string
	index      int // in its set, from 0
	note       string
	input      map[string]any
	want       map[string]any
}

// name is the case's name in test results: its note, or its place.
func (c *decisionCase) name() string {
	if c.note != "" {
		return c.note
	}
	return fmt.Sprintf("case %d", c.index+1)
}

// readCases reads data.cases: an object of points, each an object of case
// sets, each a list of {note, input, want}. A malformed set, or one of a
// point that does not exist, refuses the bundle: a misspelt point would
// otherwise leave its cases silently untested.
func readCases(data map[string]any) ([]decisionCase, error) {
	raw, ok := data[casesRoot]
	if !ok {
		return nil, nil
	}
	points, ok := raw.(map[string]any)
	if !ok {
		return nil, refuse("", 0, "data.cases must be an object of decision points")
	}
	var out []decisionCase
	var problems []Problem
	bad := func(file, format string, args ...any) {
		problems = append(problems, Problem{File: file, Reason: fmt.Sprintf(format, args...)})
	}
	for _, point := range sortedKeys(points) {
		if !slices.Contains(Points, point) {
			bad("", "data.cases.%s: %q is not a decision point (%s)", point, point, strings.Join(Points, ", "))
			continue
		}
		sets, ok := points[point].(map[string]any)
		if !ok {
			bad("", "data.cases.%s must be an object of case sets: put cases in cases/%s/<set>/data.yaml", point, point)
			continue
		}
		for _, set := range sortedKeys(sets) {
			file := caseFile(point, set)
			list, ok := sets[set].([]any)
			if !ok {
				bad(file, "data.cases.%s.%s must be a list of {note, input, want}", point, set)
				continue
			}
			for i, x := range list {
				c, ok := x.(map[string]any)
				if !ok {
					bad(file, "case %d: must be {note, input, want}", i+1)
					continue
				}
				dc := decisionCase{point: point, set: set, index: i}
				dc.note, _ = c["note"].(string)
				dc.input, _ = c["input"].(map[string]any)
				dc.want, _ = c["want"].(map[string]any)
				for k := range c {
					if k != "note" && k != "input" && k != "want" {
						bad(file, "case %d (%s): unknown attribute %q; a case has note, input and want", i+1, dc.name(), k)
					}
				}
				if dc.input == nil || len(dc.want) == 0 {
					bad(file, "case %d (%s): needs input and want, both objects, want not empty", i+1, dc.name())
					continue
				}
				out = append(out, dc)
			}
		}
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}
	return out, nil
}

// caseFile is where a case set lives in a bundle as paywire lays it out.
func caseFile(point, set string) string {
	return casesRoot + "/" + point + "/" + set + "/data.yaml"
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// runCases decides every case of the bundle and compares the decision
// with the case's want.
func (b *Bundle) runCases(ctx context.Context) ([]TestResult, error) {
	if len(b.cases) == 0 {
		return nil, nil
	}
	cb := b
	if !b.ownLists {
		// The bundle's expr rules read its engine's live lists: cases are
		// decided on the bundle alone, by a copy that reads none.
		var err error
		if cb, err = compile(ctx, b.Files, nil, new(atomic.Pointer[ListSet])); err != nil {
			return nil, err
		}
	}
	e := &Engine{}
	e.active.Store(cb)
	lines := map[string][]int{} // item lines of the case files
	out := make([]TestResult, 0, len(b.cases))
	for i := range b.cases {
		c := &b.cases[i]
		r := TestResult{Kind: TestCase, Package: casesRoot + "." + c.point + "." + c.set, Name: c.name(), File: "data.json"}
		file := caseFile(c.point, c.set)
		if src, ok := b.Files[file]; ok {
			r.File = file
			if _, done := lines[file]; !done {
				lines[file] = itemLines(src)
			}
			if l := lines[file]; c.index < len(l) {
				r.Line = l[c.index]
			}
		}
		start := time.Now()
		problem, err := e.decideCase(ctx, c)
		if err != nil {
			return nil, err
		}
		r.Duration = int64(time.Since(start))
		r.Pass, r.Error = problem == "", problem
		out = append(out, r)
	}
	return out, nil
}

// decideCase decides a case and returns what differs from its want ("":
// nothing).
func (e *Engine) decideCase(ctx context.Context, c *decisionCase) (string, error) {
	raw, err := json.Marshal(c.input)
	if err != nil {
		return "input: " + err.Error(), nil
	}
	out, err := Replay(ctx, e.active.Load(), c.point, raw, true)
	var schema *inputError
	if errors.As(err, &schema) {
		return schema.Error(), nil
	}
	if err != nil {
		return "", err
	}
	got, err := jsonObject(out)
	if err != nil {
		return "", err
	}
	want, err := jsonObject(c.want)
	if err != nil {
		return "want: " + err.Error(), nil
	}
	if got["failed_closed"] == true && want["fail_closed"] != true {
		return fmt.Sprintf("the decision failed closed: %v", got["error"]), nil
	}
	var diffs []string
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		if k == "fail_closed" {
			g, ok = got["failed_closed"] == true, true
		}
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s is not part of a %s decision (want %s)", k, c.point, show(want[k])))
			continue
		}
		if !reflect.DeepEqual(g, want[k]) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", k, show(g), show(want[k])))
		}
	}
	if len(diffs) == 0 {
		return "", nil
	}
	fired := []string{}
	if rs, ok := got["rules_fired"].([]any); ok {
		for _, r := range rs {
			if m, ok := r.(map[string]any); ok {
				fired = append(fired, fmt.Sprint(m["id"]))
			}
		}
	}
	return strings.Join(diffs, "; ") + "; rules fired: [" + strings.Join(fired, " ") + "]", nil
}

// inputError is a case input that does not fit its point's schema.
type inputError struct{ err error }

func (e *inputError) Error() string { return "input does not fit the schema: " + e.err.Error() }

// strictJSON decodes a case's input, refusing attributes the point's input
// does not have: a misspelt attribute in a case is reported, not ignored.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &inputError{err}
	}
	return nil
}

// jsonObject is v as JSON decodes it, so that a decision and a case's
// want (from YAML or JSON data) compare value for value.
func jsonObject(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// show is a value as JSON writes it, so that "" and null are told apart.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// itemLines returns the line of each item of a YAML file that is a list;
// nil for any other file.
func itemLines(src []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil
	}
	items := doc.Content[0].Content
	out := make([]int, len(items))
	for i, n := range items {
		out[i] = n.Line
	}
	return out
}
