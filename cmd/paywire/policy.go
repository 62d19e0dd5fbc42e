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

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
)

const policyUsage = `Usage:
  paywire policy test [-v] [--verification-key K] [bundle]    run the bundle's Rego unit tests and decide
                                                              its decision cases (cases/<point>/<set>/data.yaml)
  paywire policy eval --point P --input F [--bundle B] [--verification-key K]
                                                              evaluate one decision and print it as JSON
  paywire policy eval --payment ID --merchant M [--db D] [--bundle B]
                                                              explain a stored payment's risk decision (each
                                                              rule's score, the features it knew) and decide
                                                              it again, on the same input, with the bundle
  paywire policy build --out F [--bundle B] [--signing-key K] write the bundle as a .tar.gz, signed with K

A bundle B is a directory or a .tar.gz; without one, the default bundle built
into this binary is used. P is availability, risk, routing or workflow; F is a
JSON file {"request": {...}, "features": {...}} as docs/policy-guide.md
describes, or - for standard input.

Signing: --signing-key is a PEM private key file (RSA or EC) or, with
--signing-alg HS256, a file holding the shared secret; --signing-alg (default
RS256) and --key-id (default "paywire") name the algorithm and key. The
signature is OPA's .signatures.json over every file of the bundle.
--verification-key (a PEM public key file, or the shared secret file) makes
test and eval refuse a bundle not signed with it.
`

func runPolicy(ctx context.Context, args []string, stdout io.Writer, stdin io.Reader, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say which policy command\n\n" + policyUsage + "\n" + policyRegistryUsage + policyBacktestUsage + "\n" + policyShadowUsage + "\n" + policyExplainUsage)}
	}
	switch args[0] {
	case "test":
		return policyTest(ctx, args[1:], stdout)
	case "eval":
		return policyEval(ctx, args[1:], stdout, stdin, getenv)
	case "build":
		return policyBuild(ctx, args[1:], stdout)
	case "push", "submit", "approve", "reject", "activate", "rollback", "history": // policy_registry.go
		return policyRegistry(ctx, args, stdout, getenv)
	case "diff": // policy_diff.go
		return policyDiff(ctx, args[1:], stdout, getenv)
	case "explain": // policy_explain.go
		return policyExplain(ctx, args[1:], stdout, getenv)
	case "backtest": // policy_backtest.go
		return policyBacktest(ctx, args, stdout, getenv)
	case "shadow": // policy_shadow.go
		return policyShadow(ctx, args, stdout, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage+"\n"+policyRegistryUsage+policyBacktestUsage+"\n"+policyShadowUsage+"\n"+policyExplainUsage)
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

func compileBundle(ctx context.Context, path string, v *engine.Verification) (*engine.Bundle, error) {
	files, err := bundleFiles(path)
	if err != nil {
		return nil, err
	}
	return engine.CompileVerified(ctx, files, v)
}

// keyFlags are the flags naming a signing or verification key.
type keyFlags struct {
	file, alg, id *string
}

func addKeyFlags(fs *flag.FlagSet, name, usage string) keyFlags {
	return keyFlags{
		file: fs.String(name, "", usage),
		alg:  fs.String("signing-alg", "RS256", "signature algorithm: RS256, PS256, ES256, HS256, ..."),
		id:   fs.String("key-id", "paywire", "the key's id in the signature"),
	}
}

// key reads the key file; "" when no file was named.
func (k keyFlags) key() (string, error) {
	if *k.file == "" {
		return "", nil
	}
	b, err := os.ReadFile(*k.file)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

// verification returns the verification the flags ask for, or nil.
func (k keyFlags) verification() (*engine.Verification, error) {
	key, err := k.key()
	if err != nil || key == "" {
		return nil, err
	}
	return &engine.Verification{KeyID: *k.id, Key: key, Algorithm: *k.alg}, nil
}

func policyTest(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("paywire policy test", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "list every test, not only failures")
	keys := addKeyFlags(fs, "verification-key", "refuse a bundle not signed with this key (PEM public key or shared secret file)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 1 {
		return usageError{errors.New("give at most one bundle")}
	}
	v, err := keys.verification()
	if err != nil {
		return err
	}
	b, err := compileBundle(ctx, fs.Arg(0), v)
	if err != nil {
		return err
	}
	results, err := b.RunTests(ctx)
	if err != nil {
		return err
	}
	failed, cases := 0, 0
	for _, r := range results {
		if r.Kind == engine.TestCase {
			cases++
		}
		switch {
		case !r.Pass:
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n     %s\n", testName(r), r.Error)
		case *verbose:
			fmt.Fprintf(stdout, "PASS %s\n", testName(r))
		}
	}
	fmt.Fprintf(stdout, "bundle %s (%s): %d passed, %d failed (%d Rego tests, %d decision cases)\n",
		b.Revision, b.Hash[:12], len(results)-failed, failed, len(results)-cases, cases)
	if len(results) == 0 {
		return errors.New("the bundle has no tests")
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d policy tests failed", failed, len(results))
	}
	return nil
}

// testName names a test as the analyst finds it: a Rego test by its rule,
// a decision case by its file, line and note.
func testName(r engine.TestResult) string {
	where := r.File
	if r.Line > 0 {
		where = fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	if r.Kind == engine.TestCase {
		return fmt.Sprintf("case %s (%s): %s", r.Package, where, r.Name)
	}
	return fmt.Sprintf("rego %s.%s (%s)", r.Package, r.Name, where)
}

// maxEvalInput bounds the input file of policy eval.
const maxEvalInput = 1 << 20

func policyEval(ctx context.Context, args []string, stdout io.Writer, stdin io.Reader, getenv func(string) string) error {
	fs := flag.NewFlagSet("paywire policy eval", flag.ContinueOnError)
	point := fs.String("point", "", "availability, risk, routing or workflow")
	inputPath := fs.String("input", "", "JSON input file, or - for standard input")
	bundlePath := fs.String("bundle", "", "bundle directory or .tar.gz (default: the built-in bundle)")
	keys := addKeyFlags(fs, "verification-key", "refuse a bundle not signed with this key (PEM public key or shared secret file)")
	paymentID := fs.String("payment", "", "explain a stored payment's risk decision and decide it again with the bundle (instead of --input)")
	merchantID := fs.String("merchant", "", "the payment's merchant (with --payment)")
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database with --payment: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *paymentID != "" {
		if *merchantID == "" || *inputPath != "" {
			return usageError{errors.New("--payment needs --merchant, and no --input")}
		}
		return explainPayment(ctx, stdout, *db, *merchantID, *paymentID, *bundlePath, keys)
	}
	if *inputPath == "" || *point == "" {
		return usageError{errors.New("--point and --input are required (or --payment and --merchant)")}
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
	if e.Verification, err = keys.verification(); err != nil {
		return err
	}
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
	keys := addKeyFlags(fs, "signing-key", "sign the bundle with this key (PEM private key, or the shared secret file for HS256)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	b, err := compileBundle(ctx, *bundlePath, nil)
	if err != nil {
		return err
	}
	files, signed := b.Files, ""
	key, err := keys.key()
	if err != nil {
		return err
	}
	if key != "" {
		if files, err = engine.Sign(files, key, *keys.alg, *keys.id); err != nil {
			return fmt.Errorf("signing: %v", err)
		}
		signed = fmt.Sprintf(", signed (%s, key %s)", *keys.alg, *keys.id)
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: revision %s, hash %s, %d files%s\n", *out, b.Revision, files.Hash(), len(files), signed)
	return nil
}

// explainPayment prints the latest recorded risk decision of a payment,
// broken down, and the decision the bundle (the built-in one by default)
// makes on the same recorded input: what a candidate bundle would change.
func explainPayment(ctx context.Context, stdout io.Writer, dsn, merchantID, paymentID, bundlePath string, keys keyFlags) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckMigrations(ctx); err != nil {
		return fmt.Errorf("%v (run `paywire migrate up`)", err)
	}
	recs, err := st.Decisions(ctx, merchantID, paymentID)
	if err != nil {
		return errorText(err)
	}
	var rec *paywire.DecisionRecord
	for i := range recs {
		if recs[i].Point == engine.PointRisk {
			rec = &recs[i]
		}
	}
	if rec == nil {
		return fmt.Errorf("payment %s of %s has no recorded risk decision", paymentID, merchantID)
	}
	files, err := bundleFiles(bundlePath)
	if err != nil {
		return err
	}
	e := engine.New(1)
	if e.Verification, err = keys.verification(); err != nil {
		return err
	}
	b, err := e.Activate(ctx, files)
	if err != nil {
		return err
	}
	recorded, err := engine.ExplainRisk(*rec, b)
	if err != nil {
		return err
	}
	var in engine.RiskInput
	if err := json.Unmarshal(rec.Input, &in); err != nil {
		return fmt.Errorf("decision %s: input: %v", rec.ID, err)
	}
	again, err := e.Risk(ctx, in)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"paymentId": paymentID, "recorded": recorded, "now": again})
}
