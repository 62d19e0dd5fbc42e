package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

const policyUsage = `Usage:
  paywire policy test [bundle]                                run the bundle's Rego unit tests
  paywire policy eval --point P --input F [--bundle B]        evaluate one decision and print it as JSON
  paywire policy build --out F [--bundle B]                   write the bundle as a .tar.gz

A bundle B is a directory or a .tar.gz; without one, the default bundle built
into this binary is used. P is availability, risk, routing or workflow; F is a
JSON file {"request": {...}, "features": {...}} as docs/policy-guide.md
describes, or - for standard input.
`

func runPolicy(ctx context.Context, args []string, stdout io.Writer, stdin io.Reader) error {
	if len(args) == 0 {
		return usageError{errors.New("say test, eval or build\n\n" + policyUsage)}
	}
	switch args[0] {
	case "test":
		return policyTest(ctx, args[1:], stdout)
	case "eval":
		return policyEval(ctx, args[1:], stdout, stdin)
	case "build":
		return policyBuild(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return nil
	}
	return usageError{fmt.Errorf("unknown policy command %q\n\n%s", args[0], policyUsage)}
}

// bundleFiles reads the bundle at path, or the built-in default bundle.
func bundleFiles(path string) (engine.Files, error) {
	if path == "" {
		return engine.BundleFiles(policies.FS, rules.FS)
	}
	return engine.ReadPath(path)
}

func compileBundle(ctx context.Context, path string) (*engine.Bundle, error) {
	files, err := bundleFiles(path)
	if err != nil {
		return nil, err
	}
	return engine.Compile(ctx, files)
}

func policyTest(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("paywire policy test", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "list every test, not only failures")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 1 {
		return usageError{errors.New("give at most one bundle")}
	}
	b, err := compileBundle(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	results, err := b.RunTests(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.Pass {
			failed++
			fmt.Fprintf(stdout, "FAIL %s.%s (%s:%d): %s\n", r.Package, r.Name, r.File, r.Line, r.Error)
		} else if *verbose {
			fmt.Fprintf(stdout, "PASS %s.%s\n", r.Package, r.Name)
		}
	}
	fmt.Fprintf(stdout, "bundle %s (%s): %d passed, %d failed\n", b.Revision, b.Hash[:12], len(results)-failed, failed)
	if len(results) == 0 {
		return errors.New("the bundle has no tests")
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d policy tests failed", failed, len(results))
	}
	return nil
}

// maxEvalInput bounds the input file of policy eval.
const maxEvalInput = 1 << 20

func policyEval(ctx context.Context, args []string, stdout io.Writer, stdin io.Reader) error {
	fs := flag.NewFlagSet("paywire policy eval", flag.ContinueOnError)
	point := fs.String("point", "", "availability, risk, routing or workflow")
	inputPath := fs.String("input", "", "JSON input file, or - for standard input")
	bundlePath := fs.String("bundle", "", "bundle directory or .tar.gz (default: the built-in bundle)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *inputPath == "" || *point == "" {
		return usageError{errors.New("--point and --input are required")}
	}
	var raw []byte
	var err error
	if *inputPath == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, maxEvalInput+1))
	} else {
		var f *os.File
		if f, err = os.Open(*inputPath); err == nil {
			raw, err = io.ReadAll(io.LimitReader(f, maxEvalInput+1))
			f.Close()
		}
	}
	if err != nil {
		return err
	}
	if len(raw) > maxEvalInput {
		return fmt.Errorf("the input is larger than %d bytes", maxEvalInput)
	}
	files, err := bundleFiles(*bundlePath)
	if err != nil {
		return err
	}
	e := engine.New(1)
	if _, err := e.Activate(ctx, files); err != nil {
		return err
	}
	var out any
	switch *point {
	case engine.PointAvailability:
		var in engine.AvailabilityInput
		if err = decodeStrict(raw, &in); err == nil {
			out, err = e.Availability(ctx, in)
		}
	case engine.PointRisk:
		var in engine.RiskInput
		if err = decodeStrict(raw, &in); err == nil {
			out, err = e.Risk(ctx, in)
		}
	case engine.PointRouting:
		var in engine.RouteInput
		if err = decodeStrict(raw, &in); err == nil {
			out, err = e.Route(ctx, in)
		}
	case engine.PointWorkflow:
		var in engine.WorkflowInput
		if err = decodeStrict(raw, &in); err == nil {
			out, err = e.Workflow(ctx, in)
		}
	default:
		return usageError{fmt.Errorf("--point %q is not availability, risk, routing or workflow", *point)}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// decodeStrict decodes JSON and refuses unknown attributes, so that a typo
// in an input file is reported instead of silently ignored.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("input: %v", err)
	}
	if dec.More() {
		return errors.New("input: more than one JSON value")
	}
	return nil
}

func policyBuild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("paywire policy build", flag.ContinueOnError)
	out := fs.String("out", "", "where to write the .tar.gz")
	bundlePath := fs.String("bundle", "", "bundle directory or .tar.gz (default: the built-in bundle)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	b, err := compileBundle(ctx, *bundlePath)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := b.Files.WriteTarball(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: revision %s, hash %s, %d files\n", *out, b.Revision, b.Hash, len(b.Files))
	return nil
}
