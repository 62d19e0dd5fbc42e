package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one test of a bundle: a Rego unit test (a
// rule named test_*) or a decision case.
type TestResult struct {
	Kind string `json:"kind"` // TestRego or TestCase
	// Package is the Rego package of a unit test, or the case set of a
	// decision case (cases.<point>.<set>).
	Package string `json:"package"`
	Name    string `json:"name"` // the rule, or the case's note
	// File and Line locate the test; a case of a bundle built by `opa
	// build` is in data.json, at line 0 (unknown).
	File     string `json:"file"`
	Line     int    `json:"line"`
	Pass     bool   `json:"pass"`
	Error    string `json:"error,omitempty"` // for a case: what differed
	Duration int64  `json:"duration_ns"`
}

// The kinds of test.
const (
	TestRego = "rego" // a Rego unit test
	TestCase = "case" // a decision case (data.cases)
)

// RunTests runs the bundle's tests: its Rego unit tests with OPA's test
// runner, as `opa test` would, against the bundle's data, then its
// decision cases (data.cases), each decided by the bundle, expr rules and
// Rego together, and compared with the case's want. A failing test is a
// result with Pass false; the error is for tests that could not run.
func (b *Bundle) RunTests(ctx context.Context) ([]TestResult, error) {
	out, err := b.runRegoTests(ctx)
	if err != nil {
		return nil, err
	}
	cases, err := b.runCases(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, cases...), nil
}

// runRegoTests runs the bundle's Rego unit tests.
func (b *Bundle) runRegoTests(ctx context.Context) ([]TestResult, error) {
	store := inmem.NewFromObject(b.data)
	txn, err := store.NewTransaction(ctx, storage.TransactionParams{})
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	modules := make(map[string]*ast.Module, len(b.modules))
	for k, m := range b.modules {
		modules[k] = m.Copy()
	}
	ch, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		return nil, err
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Kind: TestRego, Package: strings.TrimPrefix(r.Package, "data."), Name: r.Name, Pass: r.Pass(), Duration: int64(r.Duration)}
		if r.Location != nil {
			tr.File, tr.Line = strings.TrimPrefix(r.Location.File, "/"), r.Location.Row
		}
		switch {
		case r.Error != nil:
			tr.Error = r.Error.Error()
		case r.Fail:
			tr.Error = "failed"
			if r.FailedAt != nil {
				tr.Error = fmt.Sprintf("failed at %v", r.FailedAt)
			}
		}
		out = append(out, tr)
	}
	return out, nil
}
