package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing/fstest"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"go.yaml.in/yaml/v3"

	"github.com/paywire/paywire/enrich"
)

// Bundle is a compiled policy bundle: every point's Rego query prepared and
// every expr rule compiled, ready to evaluate from many goroutines. It is
// immutable once built.
type Bundle struct {
	Revision string
	Hash     string
	Roots    []string
	Files    Files

	compiler *ast.Compiler
	modules  map[string]*ast.Module
	data     map[string]any
	store    storage.Store
	// txn is a read transaction held for the bundle's life: the store is
	// never written after compilation, and one shared read transaction
	// spares every decision opening its own.
	txn      storage.Transaction
	points   map[string]*compiledPoint
	bins     *enrich.BINTable // data.paywire.bins; nil: no BIN is known
	lists    listLookup       // in_list: data.paywire.lists, then the live lists
	profiles *riskProfiles    // data.paywire.risk_profiles; nil: none
	// experiments are data.paywire.experiments, which routing rules name.
	experiments []*Experiment
	health      HealthPolicy   // data.paywire.provider_health, or the default
	cases       []decisionCase // data.cases, which RunTests decides
	// ownLists: the bundle's in_list reads no engine's live lists (it was
	// compiled on its own), so its cases can be decided by it directly.
	ownLists bool
}

// BIN returns what the bundle's BIN table (data.paywire.bins) says about a
// card's leading digits; false when no range holds them.
func (b *Bundle) BIN(bin string) (enrich.BINInfo, bool) { return b.bins.Lookup(bin) }

// readBINs parses the BIN table of data.paywire.bins.csv, when the bundle
// has one.
func readBINs(data map[string]any) (*enrich.BINTable, error) {
	pw, _ := data["paywire"].(map[string]any)
	bins, ok := pw["bins"].(map[string]any)
	if !ok {
		return nil, nil
	}
	text, ok := bins["csv"].(string)
	if !ok {
		return nil, refuse("paywire/bins/data.yaml", 0, "data.paywire.bins.csv must be the BIN table as CSV text")
	}
	t, err := enrich.ParseBINs([]byte(text))
	if err != nil {
		return nil, refuse("paywire/bins/data.yaml", 0, "data.paywire.bins.csv: %v", err)
	}
	return t, nil
}

type compiledPoint struct {
	query ast.Body // decisionVar = data.paywire.<point>.decision, compiled
	rules []compiledRule
	reads uint64 // the optional attributes any rule reads (optionalPaths bits)
	// featureKeys are the keys whose features a rule or a policy of the
	// point reads.
	featureKeys FeatureKeys
	plan        *inputPlan // what of the input the point's policies read
	hitArrays   hitArrays
}

// decisionVar is the variable the compiled queries bind the decision to.
var decisionVar = ast.Var("__decision")

type compiledRule struct {
	id      string
	group   string // the rule group a risk profile can switch off
	program *vm.Program
	reads   uint64          // the optional attributes the rule reads: unknown, it does not fire
	health  []healthRead    // the provider figures it reads: unknown, it does not fire
	hit     *ast.Term       // {"id": ..., "effect": ...}, built once
	effect  json.RawMessage // the effect as JSON, for decision records
}

// LoadError is a bundle refused at load: each problem with its file and
// line, where known.
type LoadError struct {
	Problems []Problem
}

// Problem is one reason a bundle was refused.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Reason
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason)
	}
	return p.File + ": " + p.Reason
}

func (e *LoadError) Error() string {
	ss := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		ss[i] = p.String()
	}
	return "bundle refused: " + strings.Join(ss, "; ")
}

func refuse(file string, line int, format string, args ...any) *LoadError {
	return &LoadError{Problems: []Problem{{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}}}
}

// entryPoint returns the Rego entry point of a decision point.
func entryPoint(point string) string { return "data.paywire." + point + ".decision" }

// rulesFile returns where a point's expr rules live in a bundle as paywire
// lays it out.
func rulesFile(point string) string { return "rules/" + point + "/data.yaml" }

// ruleSource returns the source of a point's expr rules and the file it is
// named by in messages. A bundle laid out as paywire builds it has the
// rules file, whose lines the messages then give (lines is true). A
// bundle built by `opa build` has its data files merged into /data.json:
// the rules are then the document data.rules.<point> that OPA's reader
// merged, as JSON, which parseRules reads as it reads YAML, so that the
// rules compile to the same programs and effects either way. src is nil
// when the bundle has no rules for the point.
func ruleSource(files Files, data map[string]any, point string) (file string, src []byte, lines bool) {
	if src, ok := files[rulesFile(point)]; ok {
		return rulesFile(point), src, true
	}
	rules, _ := data["rules"].(map[string]any)
	doc, ok := rules[point]
	if !ok {
		return rulesFile(point), nil, false
	}
	src, err := json.Marshal(doc)
	if err != nil { // data read from JSON or YAML always encodes
		src = []byte("{}")
	}
	return "data.json (data.rules." + point + ")", src, false
}

// Compile parses and compiles a bundle without checking a signature (the
// built-in bundle, tests; see CompileVerified). A bundle is refused, with
// every problem's file, line and reason, when its manifest is missing or
// has overlapping roots, a Rego module does not parse or compile, an entry
// point is missing, or an expr rule does not compile to a boolean or has a
// malformed effect.
func Compile(ctx context.Context, files Files) (*Bundle, error) {
	return CompileVerified(ctx, files, nil)
}

// CompileVerified is Compile that, with v, first requires the bundle's
// .signatures.json to be signed by v's key over every file of the bundle,
// as OPA signs bundles: a missing, foreign or broken signature, or a file
// changed, added or removed after signing, refuses the bundle.
func CompileVerified(ctx context.Context, files Files, v *Verification) (*Bundle, error) {
	b, err := compile(ctx, files, v, new(atomic.Pointer[ListSet]))
	if err != nil {
		return nil, err
	}
	b.ownLists = true
	return b, nil
}

// compile is CompileVerified for a bundle whose in_list also reads the
// live lists in live (an engine's).
func compile(ctx context.Context, files Files, v *Verification, live *atomic.Pointer[ListSet]) (*Bundle, error) {
	if _, ok := files[".manifest"]; !ok {
		return nil, refuse(".manifest", 0, "missing: a bundle needs a manifest with its revision and roots")
	}
	b, err := readBundle(files, v)
	if err != nil {
		return nil, err
	}
	if b.Manifest.Revision == "" {
		return nil, refuse(".manifest", 0, "the manifest has no revision")
	}
	if b.Manifest.Roots == nil || !slices.Contains(*b.Manifest.Roots, "paywire") || !slices.Contains(*b.Manifest.Roots, "rules") {
		return nil, refuse(".manifest", 0, `the manifest's roots must include "paywire" and "rules"`)
	}

	modules := make(map[string]*ast.Module, len(b.Modules))
	for _, m := range b.Modules {
		modules[m.Path] = m.Parsed
	}
	compiler := ast.NewCompiler().WithStrict(true).WithEnablePrintStatements(false)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, astErrors(compiler.Errors)
	}
	var problems []Problem
	for _, p := range Points {
		if len(compiler.GetRulesExact(ast.MustParseRef(entryPoint(p)))) == 0 {
			problems = append(problems, Problem{Reason: fmt.Sprintf("entry point %s is missing: package paywire.%s must define rule `decision`", entryPoint(p), p)})
		}
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}

	lists, err := readLists(b.Data)
	if err != nil {
		return nil, err
	}
	bins, err := readBINs(b.Data)
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObjectWithOpts(b.Data, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	out := &Bundle{
		bins:     bins,
		lists:    listLookup{bundle: lists, live: live},
		txn:      txn,
		Revision: b.Manifest.Revision,
		Hash:     files.Hash(),
		Roots:    *b.Manifest.Roots,
		Files:    files,
		compiler: compiler,
		modules:  modules,
		data:     b.Data,
		store:    store,
		points:   map[string]*compiledPoint{},
	}
	for _, p := range Points {
		q, err := compiler.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.VarTerm(string(decisionVar)), ast.MustParseTerm(entryPoint(p)))))
		if err != nil {
			return nil, refuse("", 0, "preparing %s: %v", entryPoint(p), err)
		}
		file, src, lines := ruleSource(files, b.Data, p)
		rules, perr := compileRulesWith(p, file, src, out.lists.has)
		for i := range perr {
			if !lines {
				perr[i].Line = 0 // a line of the JSON encoding would mislead
			}
		}
		problems = append(problems, perr...)
		cp := &compiledPoint{query: q, rules: rules, plan: planInput(compiler, ast.MustParseRef(entryPoint(p)))}
		for _, r := range rules {
			cp.reads |= r.reads
		}
		if fp := cp.plan.part("features"); fp != nil {
			cp.featureKeys = AllFeatureKeys
			if !fp.all {
				cp.featureKeys = 0
				for _, name := range fp.keys {
					cp.featureKeys |= featureKey(name)
				}
			}
		}
		for i, path := range optionalPaths[p] {
			if name, ok := strings.CutPrefix(path, "features."); ok && cp.reads&(1<<i) != 0 {
				cp.featureKeys |= featureKey(name)
			}
		}
		out.points[p] = cp
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}
	if out.profiles, err = readRiskProfiles(b.Data, out.points[PointRisk].rules); err != nil {
		return nil, err
	}
	if out.experiments, err = readExperiments(b.Data); err != nil {
		return nil, err
	}
	if err := checkExperimentRules(out.points[PointRouting].rules, out.experiments); err != nil {
		return nil, err
	}
	if out.health, err = readHealthPolicy(b.Data); err != nil {
		return nil, err
	}
	if out.cases, err = readCases(b.Data); err != nil {
		return nil, err
	}
	return out, nil
}

// readBundle reads files with OPA's bundle reader, verifying the signature
// when v is set.
func readBundle(files Files, v *Verification) (bundle.Bundle, error) {
	// The files go under a directory of their own: OPA's loader reads a
	// root-level ".signatures.json" as "signatures.json" otherwise.
	const root = "bundle"
	mfs := fstest.MapFS{}
	for p, b := range files {
		mfs[root+"/"+p] = &fstest.MapFile{Data: b}
	}
	r := bundle.NewCustomReader(bundle.NewFSLoaderWithRoot(mfs, root)).
		WithRegoVersion(ast.RegoV1).
		WithSizeLimitBytes(maxBundleBytes)
	if v == nil {
		r = r.WithSkipBundleVerification(true)
	} else {
		r = r.WithBundleVerificationConfig(v.config())
	}
	b, err := r.Read()
	if err != nil {
		if v != nil && isSignatureError(err) {
			return b, refuse(".signatures.json", 0, "signature not valid: %s", oneLine(err.Error()))
		}
		return b, readError(err)
	}
	return b, nil
}

// readError turns OPA's bundle reading error into problems with file and
// line: Rego parse errors carry their location.
func readError(err error) error {
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		return astErrors(astErrs)
	}
	msg := err.Error()
	if strings.Contains(msg, "manifest") {
		return refuse(".manifest", 0, "%s", msg)
	}
	return refuse("", 0, "%s", msg)
}

func astErrors(errs ast.Errors) error {
	le := &LoadError{}
	for _, e := range errs {
		p := Problem{Reason: e.Code + ": " + e.Message}
		if e.Location != nil {
			p.File, p.Line = strings.TrimPrefix(e.Location.File, "/"), e.Location.Row
		}
		le.Problems = append(le.Problems, p)
	}
	return le
}

// readLists gives expr's in_list access to data.paywire.lists: each list is
// an array of strings or an object whose keys are its members.
func readLists(data map[string]any) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	pw, _ := data["paywire"].(map[string]any)
	raw, _ := pw["lists"].(map[string]any)
	for name, v := range raw {
		set := map[string]bool{}
		switch l := v.(type) {
		case []any:
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return nil, refuse("", 0, "data.paywire.lists.%s: members must be strings", name)
				}
				set[s] = true
			}
		case map[string]any:
			for k := range l {
				set[k] = true
			}
		default:
			return nil, refuse("", 0, "data.paywire.lists.%s must be an array or an object", name)
		}
		out[name] = set
	}
	return out, nil
}

// ruleSpec is one expr rule as written in a rules file.
type ruleSpec struct {
	ID          string         `yaml:"id"`
	Group       string         `yaml:"group"`
	Description string         `yaml:"description"`
	When        string         `yaml:"when"`
	Effect      map[string]any `yaml:"effect"`
	line        int
}

var ruleID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// envs are the typed expr environments of the points.
var envs = map[string]any{
	PointAvailability: AvailabilityInput{},
	PointRisk:         RiskInput{},
	PointRouting:      RouteInput{},
	PointWorkflow:     WorkflowInput{},
}

// compileRules compiles a point's rules with in_list reading lists alone.
func compileRules(point string, src []byte, lists map[string]map[string]bool) ([]compiledRule, []Problem) {
	return compileRulesWith(point, rulesFile(point), src, func(name, value string) bool { return lists[name][value] })
}

// compileRulesWith compiles a point's rules, read from file, with inList as
// in_list.
func compileRulesWith(point, file string, src []byte, inList func(name, value string) bool) ([]compiledRule, []Problem) {
	if src == nil {
		return nil, []Problem{{File: file, Reason: "missing: every point needs a rules file (it may hold `rules: []`)"}}
	}
	specs, err := parseRules(src)
	if err != nil {
		return nil, []Problem{{File: file, Reason: err.Error()}}
	}
	opts := []expr.Option{
		expr.Env(envs[point]),
		expr.AsBool(),
		expr.Patch(flagPatch{}),
		expr.DisableBuiltin("now"),
		expr.Function("in_list", func(params ...any) (any, error) {
			return inList(params[0].(string), params[1].(string)), nil
		}, new(func(string, string) bool)),
		expr.Function("bucket", func(params ...any) (any, error) {
			return Bucket(params[0].(string), params[1].(string)), nil
		}, new(func(string, string) int)),
	}
	var problems []Problem
	seen := map[string]bool{}
	rules := make([]compiledRule, 0, len(specs))
	for _, s := range specs {
		bad := func(format string, args ...any) {
			problems = append(problems, Problem{File: file, Line: s.line, Reason: fmt.Sprintf("rule %q: ", s.ID) + fmt.Sprintf(format, args...)})
		}
		switch {
		case !ruleID.MatchString(s.ID):
			bad("id must be lower_snake_case, 1-64 characters")
			continue
		case seen[s.ID]:
			bad("id is used twice")
			continue
		case strings.TrimSpace(s.When) == "":
			bad("when is empty")
			continue
		case s.Group != "" && !ruleID.MatchString(s.Group):
			bad("group must be lower_snake_case, 1-64 characters")
			continue
		}
		seen[s.ID] = true
		prog, err := expr.Compile(s.When, opts...)
		if err != nil {
			bad("when: %s", oneLine(err.Error()))
			continue
		}
		reads, err := ruleReads(prog.Node(), optionalPaths[point])
		if err != nil {
			bad("when: %v", err)
			continue
		}
		var health []healthRead
		if point == PointRouting {
			if health, err = ruleHealthReads(prog.Node()); err != nil {
				bad("when: %v", err)
				continue
			}
		}
		if err := checkEffect(point, s.Effect); err != nil {
			bad("effect: %v", err)
			continue
		}
		effect, err := json.Marshal(s.Effect)
		if err != nil {
			bad("effect: %v", err)
			continue
		}
		ev, err := ast.InterfaceToValue(s.Effect)
		if err != nil {
			bad("effect: %v", err)
			continue
		}
		hit := ast.ObjectTerm(ast.Item(ast.StringTerm("id"), ast.StringTerm(s.ID)), ast.Item(ast.StringTerm("effect"), ast.NewTerm(ev)))
		rules = append(rules, compiledRule{id: s.ID, group: s.Group, program: prog, reads: reads, health: health, hit: hit, effect: effect})
	}
	return rules, problems
}

// parseRules reads a rules file, keeping each rule's line for messages.
func parseRules(src []byte) ([]ruleSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	var file struct {
		Rules []yaml.Node `yaml:"rules"`
	}
	if err := doc.Decode(&file); err != nil {
		return nil, fmt.Errorf("must hold `rules:`, a list of {id, description, when, effect}: %v", err)
	}
	specs := make([]ruleSpec, 0, len(file.Rules))
	for _, n := range file.Rules {
		var s ruleSpec
		if err := n.Decode(&s); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		s.line = n.Line
		if s.Effect == nil {
			s.Effect = map[string]any{}
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// checkEffect validates the effects whose shape the point relies on.
func checkEffect(point string, e map[string]any) error {
	switch point {
	case PointRisk:
		score, ok := e["score"].(int)
		if !ok || score < 0 || score > 100 {
			return errors.New("a risk effect needs score, an integer 0-100")
		}
		if r, ok := e["reason"].(string); !ok || r == "" {
			return errors.New("a risk effect needs reason, a non-empty string")
		}
	case PointRouting:
		if x, ok := e["experiment"]; ok {
			if name, ok := x.(string); !ok || name == "" {
				return errors.New("experiment must name an experiment of data.paywire.experiments")
			}
			if len(e) != 1 {
				return errors.New("an effect that names an experiment has nothing else: the experiment's arms give the providers")
			}
			return nil
		}
		ps, ok := e["providers"].([]any)
		if !ok || len(ps) == 0 {
			return errors.New("a routing effect needs providers, a non-empty list (or experiment, the name of an experiment)")
		}
		for _, p := range ps {
			if s, ok := p.(string); !ok || s == "" {
				return errors.New("providers must be non-empty strings")
			}
		}
		for k := range e {
			if k != "providers" {
				return fmt.Errorf("unknown key %q in a routing effect (want providers, or experiment alone)", k)
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.Join(strings.Fields(s), " ")
}

// Bucket returns a number from 0 to 99 derived from salt and key: the first
// eight bytes of SHA-256(salt ":" key) as a big-endian integer, modulo 100.
// It is stable across releases and machines, so an end user stays in one
// arm of an experiment.
func Bucket(salt, key string) int {
	sum := sha256.Sum256([]byte(salt + ":" + key))
	return int(binary.BigEndian.Uint64(sum[:8]) % 100)
}
