package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
)

const policyExplainUsage = `Usage:
  paywire policy explain --merchant M --payment P [--db D] [--out F]
                                  every decision made for payment P: bundle revision and hash (and
                                  whether the registry holds it), input without card data, rules
                                  fired, output; JSON (paywire.decisions/v1), to F or standard
                                  output; the export is written to the audit log as operator:cli
`

// policyExplain prints a payment's decisions as the export document the
// operator API and the back office give an auditor.
func policyExplain(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("paywire policy explain", flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	merchantID := fs.String("merchant", "", "the payment's merchant")
	paymentID := fs.String("payment", "", "the payment's id")
	out := fs.String("out", "", "write the export to this file (created with mode 0600) instead of standard output")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, policyExplainUsage)
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *merchantID == "" || *paymentID == "" {
		return usageError{errors.New("--merchant and --payment are required")}
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	running := registryBundle(ctx, st)
	x := &bundles.Explainer{Payments: st, Decisions: st, Bundles: st, Audit: st, Running: func() *engine.Bundle { return running }}
	doc, err := x.Export(ctx, paywire.Actor(cliActor), *merchantID, *paymentID)
	if err != nil {
		return errorText(err)
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	body = append(body, '\n')
	if *out == "" {
		_, err := stdout.Write(body)
		return err
	}
	if err := os.WriteFile(*out, body, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d decisions of payment %s (audit entry %d)\n", *out, len(doc.Decisions), doc.Payment.ID, doc.AuditID)
	return nil
}

// registryBundle compiles what nodes run: the active revision, or the
// built-in bundle while none is. It tells which attributes each risk rule
// read; nil (the export leaves that out) when it cannot be compiled.
func registryBundle(ctx context.Context, st *store.DB) *engine.Bundle {
	rev, err := st.ActiveBundleRevision(ctx)
	if err != nil {
		return nil
	}
	if rev == 0 {
		b, err := compileBundle(ctx, "", nil)
		if err != nil {
			return nil
		}
		return b
	}
	stored, err := st.Bundle(ctx, rev)
	if err != nil {
		return nil
	}
	b, err := bundles.Compile(ctx, stored, nil)
	if err != nil {
		return nil
	}
	return b
}
