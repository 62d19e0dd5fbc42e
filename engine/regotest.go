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

// TestResult is the outcome of one Rego unit test (a rule named test_*).
type TestResult struct {
	Package  string `json:"package"`
	Name     string `json:"name"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Pass     bool   `json:"pass"`
	Error    string `json:"error,omitempty"`
	Duration int64  `json:"duration_ns"`
}

// RunTests runs the bundle's Rego unit tests with OPA's test runner, as
// `opa test` would, against the bundle's data.
func (b *Bundle) RunTests(ctx context.Context) ([]TestResult, error) {
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
		tr := TestResult{Package: strings.TrimPrefix(r.Package, "data."), Name: r.Name, Pass: r.Pass(), Duration: int64(r.Duration)}
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
