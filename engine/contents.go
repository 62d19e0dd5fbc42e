package engine

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/util"
)

// Contents is what a bundle holds, read without compiling it: what a
// comparison of two bundles needs. Unlike Compile it checks no Rego and no
// expr: a policy that does not compile is still read as text.
type Contents struct {
	// Manifest is the .manifest as JSON values; nil without one.
	Manifest map[string]any
	// Data is the data document as OPA merges the data files (each one
	// at its directory's path, a root data.json at the root), numbers as
	// json.Number, less the expr rules of the decision points.
	Data map[string]any
	// Rules are each decision point's expr rules in the order they run;
	// a point whose bundle has no rules is absent.
	Rules map[string][]Rule
}

// Rule is one expr rule as a bundle writes it.
type Rule struct {
	ID          string
	Group       string
	Description string
	When        string
	Effect      map[string]any
}

// ReadContents reads the manifest, the data and the expr rules of files.
// It refuses a data file that is not JSON or YAML, two data files that
// give one path different values, and a rules document that is not a
// list of rules with distinct ids.
func ReadContents(files Files) (*Contents, error) {
	c := &Contents{Data: map[string]any{}, Rules: map[string][]Rule{}}
	if m, ok := files[".manifest"]; ok {
		if err := util.UnmarshalJSON(m, &c.Manifest); err != nil {
			return nil, fmt.Errorf(".manifest: %v", err)
		}
	}
	for _, p := range files.paths() {
		base := path.Base(p)
		if base != "data.json" && base != "data.yaml" && base != "data.yml" {
			continue
		}
		var v any
		var err error
		if base == "data.json" {
			err = util.UnmarshalJSON(files[p], &v)
		} else {
			err = util.Unmarshal(files[p], &v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if v == nil { // an empty YAML file
			continue
		}
		var key []string
		if dir := strings.Trim(path.Dir(p), "/."); dir != "" {
			key = strings.Split(dir, "/")
		}
		if err := insertData(c.Data, key, v); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
	}
	rules, _ := c.Data["rules"].(map[string]any)
	for _, point := range Points {
		doc, ok := rules[point]
		if !ok {
			continue
		}
		// Through JSON, as the engine reads rules that `opa build`
		// merged into data.json: the same rules either way.
		src, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", rulesFile(point), err)
		}
		specs, err := parseRules(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", rulesFile(point), err)
		}
		seen := map[string]bool{}
		rs := make([]Rule, 0, len(specs))
		for i, s := range specs {
			switch {
			case s.ID == "":
				return nil, fmt.Errorf("%s: rule %d has no id", rulesFile(point), i+1)
			case seen[s.ID]:
				return nil, fmt.Errorf("%s: rule id %q is used twice", rulesFile(point), s.ID)
			}
			seen[s.ID] = true
			rs = append(rs, Rule{ID: s.ID, Group: s.Group, Description: s.Description, When: s.When, Effect: s.Effect})
		}
		c.Rules[point] = rs
		delete(rules, point)
	}
	if rules != nil && len(rules) == 0 {
		delete(c.Data, "rules")
	}
	return c, nil
}

// insertData merges v into data at key, as OPA's bundle reader does:
// objects merge, and any other value meeting another is a conflict.
func insertData(data map[string]any, key []string, v any) error {
	if len(key) == 0 {
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("a data file at the bundle's root must hold an object")
		}
		return mergeObjects(data, obj, "data")
	}
	for i, k := range key[:len(key)-1] {
		next, ok := data[k]
		if !ok {
			m := map[string]any{}
			data[k] = m
			data = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("data.%s is already a value, not an object", strings.Join(key[:i+1], "."))
		}
		data = m
	}
	at := strings.Join(append([]string{"data"}, key[:len(key)-1]...), ".")
	return mergeObjects(data, map[string]any{key[len(key)-1]: v}, at)
}

func mergeObjects(dst, src map[string]any, at string) error {
	for k, v := range src {
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s.%s is given twice", at, k)
		}
		if err := mergeObjects(om, nm, at+"."+k); err != nil {
			return err
		}
	}
	return nil
}
