package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paywire/paywire/bundles"
)

// The comparison of two revisions: what changes from revision ?with=N to
// the revision of the path, for anyone who may view the registry. It
// reads; it changes nothing.

type policyDiffView struct {
	From, To bundles.Side
	Empty    bool
	Files    []diffFile
	Rules    []diffRule
	Data     []diffValue
}

// diffFile is a file that differs: Rev is the revision whose copy the
// page links to (the new one, the old one for a removed file).
type diffFile struct {
	Path   string
	Change bundles.Change
	Kind   string
	Rev    int64
	Lines  []diffLine // a Rego file's unified diff
}

// diffLine is a line of a unified diff with its class in the stylesheet:
// add, del, hunk (@@), head (---, +++) or ctx.
type diffLine struct {
	Class, Text string
}

type diffRule struct {
	Name     string // point.id
	Change   bundles.Change
	Fields   string
	Old, New *diffRuleSide
}

type diffRuleSide struct {
	Position                         int
	When, Effect, Group, Description string
	// Mark is the class of the fields that changed (Changed): del
	// before, add after.
	Mark    string
	Changed map[string]bool
}

type diffValue struct {
	Path     string
	Change   bundles.Change
	Old, New string
	Lines    []diffLine // a text of several lines, changed
}

// maxShownValue bounds a value shown in a cell; `paywire policy diff`
// and the operator API give it whole.
const maxShownValue = 4000

func (a *App) policyDiff(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("with"))
	with, err := strconv.ParseInt(q, 10, 64)
	if err != nil || with <= 0 {
		msg := fmt.Sprintf("Say which revision to compare revision %d with: a revision number.", rev)
		if q != "" {
			msg = fmt.Sprintf("%q is not a revision number: compare revision %d with a revision, such as 1.", q, rev)
		}
		a.render(w, r, http.StatusBadRequest, "problem", page{Title: "Not accepted", Problem: msg})
		return
	}
	d, err := a.Policies.Diff(r.Context(), with, rev)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := policyDiffView{From: d.From, To: d.To, Empty: d.Empty()}
	for _, f := range d.Files {
		df := diffFile{Path: f.Path, Change: f.Change, Kind: f.Kind, Rev: rev, Lines: unifiedLines(f.Unified)}
		if f.Change == bundles.Removed {
			df.Rev = with
		}
		v.Files = append(v.Files, df)
	}
	for _, c := range d.Rules {
		changed := map[string]bool{}
		for _, f := range c.Fields {
			changed[f] = true
		}
		v.Rules = append(v.Rules, diffRule{Name: c.Point + "." + c.ID, Change: c.Change, Fields: strings.Join(c.Fields, ", "),
			Old: ruleSide(c.Old, "del", changed), New: ruleSide(c.New, "add", changed)})
	}
	for _, c := range d.Data {
		v.Data = append(v.Data, diffValue{Path: c.Path, Change: c.Change, Old: shown(c.Old), New: shown(c.New), Lines: unifiedLines(c.Unified)})
	}
	a.render(w, r, http.StatusOK, "policy_diff", page{Title: fmt.Sprintf("From revision %d to revision %d", with, rev), Data: v})
}

func ruleSide(v *bundles.RuleVersion, mark string, changed map[string]bool) *diffRuleSide {
	if v == nil {
		return nil
	}
	return &diffRuleSide{Position: v.Position, When: v.When, Effect: string(v.Effect), Group: v.Group, Description: v.Description,
		Mark: mark, Changed: changed}
}

func shown(raw []byte) string {
	if len(raw) > maxShownValue {
		n := maxShownValue
		for n > 0 && !utf8.RuneStart(raw[n]) {
			n--
		}
		return fmt.Sprintf("%s… (%d bytes in all)", raw[:n], len(raw))
	}
	return string(raw)
}

// unifiedLines splits a unified diff into its lines, each with its class.
func unifiedLines(u string) []diffLine {
	if u == "" {
		return nil
	}
	var out []diffLine
	for i, l := range strings.Split(strings.TrimSuffix(u, "\n"), "\n") {
		class := "ctx"
		switch {
		case i < 2 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")):
			class = "head"
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		}
		out = append(out, diffLine{Class: class, Text: l})
	}
	return out
}
