package bundles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/aymanbagabas/go-udiff/lcs"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Change is how a file, a rule or a value differs between two bundles.
type Change string

// The changes.
const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Diff is what changes from one bundle to another: every file added,
// removed or changed (Rego files with a unified diff), the expr rules
// added, removed or changed, and the data values added, removed or
// changed. The JSON form is what `paywire policy diff --json` prints and
// the operator API answers.
type Diff struct {
	From Side `json:"from"`
	To   Side `json:"to"`
	// Files are the files that differ, by path.
	Files []FileChange `json:"files"`
	// Rules are the expr rules that differ, by decision point and then in
	// the order they run.
	Rules []RuleChange `json:"rules"`
	// Data are the data values that differ (the expr rules aside), by
	// path.
	Data []DataChange `json:"data"`
}

// Side names one of the two bundles compared.
type Side struct {
	// Revision is a stored revision; 0 for a bundle that is not stored.
	Revision int64 `json:"revision,omitempty"`
	// Bundle is where a bundle that is not stored was read from.
	Bundle string `json:"bundle,omitempty"`
	// Hash is the content hash of its files (without a signature).
	Hash string `json:"hash"`
}

// String names the side for people: "revision 3" or the bundle's path.
func (s Side) String() string {
	if s.Revision > 0 {
		return fmt.Sprintf("revision %d", s.Revision)
	}
	if s.Bundle != "" {
		return s.Bundle
	}
	return "the bundle"
}

// FileChange is one file that differs.
type FileChange struct {
	Path   string `json:"path"`
	Change Change `json:"change"`
	// Kind is rego, rules (a decision point's expr rules), data or
	// manifest.
	Kind string `json:"kind"`
	// Unified is a Rego file's unified diff (a/PATH to b/PATH, three lines
	// of context; /dev/null for a side without the file). Rules and data
	// files are compared by meaning instead (Rules, Data).
	Unified string `json:"unified,omitempty"`
}

// RuleChange is one expr rule that differs.
type RuleChange struct {
	Point  string `json:"point"`
	ID     string `json:"id"`
	Change Change `json:"change"`
	// Fields are what changed of a changed rule: when, effect, group,
	// description, position.
	Fields []string `json:"fields,omitempty"`
	// Old and New are the rule in each bundle; Old is absent for an added
	// rule, New for a removed one.
	Old *RuleVersion `json:"old,omitempty"`
	New *RuleVersion `json:"new,omitempty"`
}

// RuleVersion is an expr rule as one bundle has it.
type RuleVersion struct {
	// Position is the rule's place among its point's rules, from 1: rules
	// run in this order. It is named among a change's fields only when
	// the rule moved against the rules both bundles have, not when a rule
	// added or removed before it shifts it.
	Position    int             `json:"position"`
	When        string          `json:"when"`
	Effect      json.RawMessage `json:"effect"`
	Group       string          `json:"group,omitempty"`
	Description string          `json:"description,omitempty"`
}

// DataChange is one data value that differs. Path is how Rego refers to
// it (data.paywire.lists.blocked_bins["400666"]; .manifest.roots[2] for
// the manifest). An array element's index is its index in the bundle that
// has it, the new bundle's for a changed one. A value added or removed is
// one change, whatever it holds.
type DataChange struct {
	Path   string          `json:"path"`
	Change Change          `json:"change"`
	Old    json.RawMessage `json:"old,omitempty"`
	New    json.RawMessage `json:"new,omitempty"`
	// Unified is a unified diff of a changed text of several lines (a
	// BIN table's CSV).
	Unified string `json:"unified,omitempty"`
}

// Empty reports whether the two bundles hold the same.
func (d *Diff) Empty() bool { return len(d.Files) == 0 && len(d.Rules) == 0 && len(d.Data) == 0 }

// Compare returns what changes from the bundle old to the bundle new: by
// file, by expr rule and by data value. Signatures are left out, and so
// is the manifest's revision, which the registry stamps. A Rego file is
// compared as text, so a bundle whose policies do not compile is still
// compared; a data file that cannot be read is an error.
func Compare(old, new engine.Files) (*Diff, error) {
	old, new = unsigned(old), unsigned(new)
	oc, err := engine.ReadContents(old)
	if err != nil {
		return nil, fmt.Errorf("the old bundle: %v", err)
	}
	nc, err := engine.ReadContents(new)
	if err != nil {
		return nil, fmt.Errorf("the new bundle: %v", err)
	}
	d := &Diff{From: Side{Hash: old.Hash()}, To: Side{Hash: new.Hash()}, Files: []FileChange{}, Rules: []RuleChange{}, Data: []DataChange{}}
	om, nm := withoutRevision(oc.Manifest), withoutRevision(nc.Manifest)
	d.compareFiles(old, new, reflect.DeepEqual(om, nm))
	if err := d.compareRules(oc.Rules, nc.Rules); err != nil {
		return nil, err
	}
	if err := d.compareValues("data", oc.Data, nc.Data); err != nil {
		return nil, err
	}
	if err := d.compareValues(".manifest", om, nm); err != nil {
		return nil, err
	}
	return d, nil
}

func unsigned(files engine.Files) engine.Files {
	if _, ok := files[".signatures.json"]; !ok {
		return files
	}
	out := maps.Clone(files)
	delete(out, ".signatures.json")
	return out
}

func withoutRevision(m map[string]any) map[string]any {
	out := maps.Clone(m)
	delete(out, "revision")
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func fileKind(p string) string {
	switch {
	case p == ".manifest":
		return "manifest"
	case strings.HasSuffix(p, ".rego"):
		return "rego"
	case strings.HasPrefix(p, "rules/"):
		return "rules"
	}
	return "data"
}

// compareFiles lists the files that differ; the manifest only when more
// than its revision (or its layout, which the registry's stamp rewrites)
// differs: sameManifest says it does not.
func (d *Diff) compareFiles(old, new engine.Files, sameManifest bool) {
	paths := slices.Sorted(maps.Keys(old))
	for p := range new {
		if _, ok := old[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		o, inOld := old[p]
		n, inNew := new[p]
		fc := FileChange{Path: p, Kind: fileKind(p)}
		from, to := "a/"+p, "b/"+p
		switch {
		case !inOld:
			fc.Change, from = Added, "/dev/null"
		case !inNew:
			fc.Change, to = Removed, "/dev/null"
		case bytes.Equal(o, n), p == ".manifest" && sameManifest:
			continue
		default:
			fc.Change = Changed
		}
		if fc.Kind == "rego" {
			fc.Unified = unifiedText(from, to, o, n)
		}
		d.Files = append(d.Files, fc)
	}
}

// unifiedText is the unified diff of two texts; a text that is not UTF-8
// is not shown.
func unifiedText(from, to string, old, new []byte) string {
	if !utf8.Valid(old) || !utf8.Valid(new) {
		return fmt.Sprintf("--- %s\n+++ %s\n(not text: %d bytes, then %d)\n", from, to, len(old), len(new))
	}
	return udiff.Unified(from, to, string(old), string(new))
}

func (d *Diff) compareRules(old, new map[string][]engine.Rule) error {
	for _, point := range engine.Points {
		changes, err := compareRules(point, old[point], new[point])
		if err != nil {
			return err
		}
		d.Rules = append(d.Rules, changes...)
	}
	return nil
}

func compareRules(point string, old, new []engine.Rule) ([]RuleChange, error) {
	newAt := make(map[string]int, len(new))
	for i, r := range new {
		newAt[r.ID] = i
	}
	oldAt := make(map[string]int, len(old))
	for i, r := range old {
		oldAt[r.ID] = i
	}
	moved := movedRules(old, new, newAt, oldAt)
	version := func(r engine.Rule, i int) (*RuleVersion, error) {
		effect, err := json.Marshal(r.Effect)
		if err != nil {
			return nil, fmt.Errorf("rule %s.%s: effect: %v", point, r.ID, err)
		}
		return &RuleVersion{Position: i + 1, When: r.When, Effect: effect, Group: r.Group, Description: r.Description}, nil
	}
	// Changes are listed in the new order, a removed rule after the kept
	// rule it followed: place is a position in the new rules, a removed
	// rule's one half a place behind.
	type placed struct {
		change RuleChange
		place  float64
	}
	var out []placed
	anchor := -0.5
	for oi, r := range old {
		if ni, kept := newAt[r.ID]; kept {
			anchor = float64(ni) + 0.5
			continue
		}
		v, err := version(r, oi)
		if err != nil {
			return nil, err
		}
		out = append(out, placed{RuleChange{Point: point, ID: r.ID, Change: Removed, Old: v}, anchor})
	}
	for ni, r := range new {
		nv, err := version(r, ni)
		if err != nil {
			return nil, err
		}
		oi, ok := oldAt[r.ID]
		if !ok {
			out = append(out, placed{RuleChange{Point: point, ID: r.ID, Change: Added, New: nv}, float64(ni)})
			continue
		}
		ov, err := version(old[oi], oi)
		if err != nil {
			return nil, err
		}
		var fields []string
		if ov.When != nv.When {
			fields = append(fields, "when")
		}
		if !bytes.Equal(ov.Effect, nv.Effect) {
			fields = append(fields, "effect")
		}
		if ov.Group != nv.Group {
			fields = append(fields, "group")
		}
		if ov.Description != nv.Description {
			fields = append(fields, "description")
		}
		if moved[r.ID] {
			fields = append(fields, "position")
		}
		if len(fields) > 0 {
			out = append(out, placed{RuleChange{Point: point, ID: r.ID, Change: Changed, Fields: fields, Old: ov, New: nv}, float64(ni)})
		}
	}
	slices.SortStableFunc(out, func(a, b placed) int {
		switch {
		case a.place < b.place:
			return -1
		case a.place > b.place:
			return 1
		}
		return 0
	})
	changes := make([]RuleChange, len(out))
	for i, p := range out {
		changes[i] = p.change
	}
	return changes, nil
}

// movedRules returns the rules both bundles have whose order against the
// others changed: those outside a longest run of them in the same order.
func movedRules(old, new []engine.Rule, newAt, oldAt map[string]int) map[string]bool {
	var a, b []string
	for _, r := range old {
		if _, ok := newAt[r.ID]; ok {
			a = append(a, r.ID)
		}
	}
	for _, r := range new {
		if _, ok := oldAt[r.ID]; ok {
			b = append(b, r.ID)
		}
	}
	moved := map[string]bool{}
	for _, d := range lcs.DiffLines(a, b) {
		for _, id := range a[d.Start:d.End] {
			moved[id] = true
		}
	}
	return moved
}

// compareValues lists the values that differ between old and new at path:
// objects key by key, arrays element by element along their longest
// common run, anything else as a whole.
func (d *Diff) compareValues(path string, old, new any) error {
	ob, err := json.Marshal(old)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	nb, err := json.Marshal(new)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if bytes.Equal(ob, nb) {
		return nil
	}
	switch o := old.(type) {
	case map[string]any:
		n, ok := new.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(o))
		for k := range n {
			if _, ok := o[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			ov, inOld := o[k]
			nv, inNew := n[k]
			p := path + refKey(k)
			switch {
			case !inOld:
				err = d.addValue(p, Added, nil, nv)
			case !inNew:
				err = d.addValue(p, Removed, ov, nil)
			default:
				err = d.compareValues(p, ov, nv)
			}
			if err != nil {
				return err
			}
		}
		return nil
	case []any:
		n, ok := new.([]any)
		if !ok {
			break
		}
		return d.compareArrays(path, o, n)
	}
	return d.addValue(path, Changed, old, new)
}

func (d *Diff) compareArrays(path string, old, new []any) error {
	a, b := make([]string, len(old)), make([]string, len(new))
	for i, v := range old {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s[%d]: %v", path, i, err)
		}
		a[i] = string(j)
	}
	for i, v := range new {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s[%d]: %v", path, i, err)
		}
		b[i] = string(j)
	}
	for _, e := range lcs.DiffLines(a, b) {
		// A run replaced by another: element for element a change, the
		// rest removed or added.
		removed, added := e.End-e.Start, e.ReplEnd-e.ReplStart
		for i := 0; i < min(removed, added); i++ {
			if err := d.compareValues(fmt.Sprintf("%s[%d]", path, e.ReplStart+i), old[e.Start+i], new[e.ReplStart+i]); err != nil {
				return err
			}
		}
		for i := added; i < removed; i++ {
			if err := d.addValue(fmt.Sprintf("%s[%d]", path, e.Start+i), Removed, old[e.Start+i], nil); err != nil {
				return err
			}
		}
		for i := removed; i < added; i++ {
			if err := d.addValue(fmt.Sprintf("%s[%d]", path, e.ReplStart+i), Added, nil, new[e.ReplStart+i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Diff) addValue(path string, c Change, old, new any) error {
	dc := DataChange{Path: path, Change: c}
	var err error
	if c != Added {
		if dc.Old, err = json.Marshal(old); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	if c != Removed {
		if dc.New, err = json.Marshal(new); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	os, ok1 := old.(string)
	ns, ok2 := new.(string)
	if c == Changed && ok1 && ok2 && (strings.Contains(os, "\n") || strings.Contains(ns, "\n")) {
		dc.Unified = udiff.Unified("a/"+path, "b/"+path, os, ns)
	}
	d.Data = append(d.Data, dc)
	return nil
}

var refIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// refKey is how a Rego reference names key: .key, or ["key"] when key is
// not an identifier.
func refKey(k string) string {
	if refIdent.MatchString(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// Diff compares two stored revisions: what changes from revision from to
// revision to. For anyone who may read the registry. ENOTFOUND when
// either is not stored.
func (s *Service) Diff(ctx context.Context, from, to int64) (*Diff, error) {
	const op = "bundles/Service.Diff"
	old, err := s.storedFiles(ctx, op, from)
	if err != nil {
		return nil, err
	}
	new, err := s.storedFiles(ctx, op, to)
	if err != nil {
		return nil, err
	}
	d, err := Compare(old, new)
	if err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	d.From.Revision, d.To.Revision = from, to
	return d, nil
}

// DiffBundle compares stored revision from with files, a bundle not
// pushed yet, read from name: what pushing and activating it would change
// against that revision. EINVALID when files cannot be read.
func (s *Service) DiffBundle(ctx context.Context, from int64, files engine.Files, name string) (*Diff, error) {
	const op = "bundles/Service.DiffBundle"
	old, err := s.storedFiles(ctx, op, from)
	if err != nil {
		return nil, err
	}
	if _, err := engine.ReadContents(files); err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("%s: %v", name, err), Err: err}
	}
	d, err := Compare(old, files)
	if err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	d.From.Revision, d.To.Bundle = from, name
	return d, nil
}

func (s *Service) storedFiles(ctx context.Context, op string, rev int64) (engine.Files, error) {
	if rev <= 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("a revision is a positive whole number, not %d", rev)}
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return nil, err
	}
	files, _, err := Files(b)
	if err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	return files, nil
}
