package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

const policyRegistryUsage = `Usage:
  paywire policy push --bundle B --as USER --message M
                                  store bundle B (a directory or a .tar.gz) as a new draft revision
  paywire policy submit --revision N --as USER
                                  run revision N's tests and, when all pass, submit it (its author)
  paywire policy approve --revision N --as USER
                                  approve revision N (compliance role, not its author); signs it
                                  with --policy-signing-key when one is configured
  paywire policy reject --revision N --as USER --reason R
                                  send submitted revision N back (compliance role, not its author);
                                  it is final: a corrected bundle is pushed as a new revision
  paywire policy activate --revision N --as USER
                                  make approved revision N active on every node (admin role); only
                                  a revision newer than the active one
  paywire policy rollback --revision N --as USER --reason R
                                  make earlier revision N, active before, active again (admin role)
  paywire policy history          every revision (state, author, approver) and when each was active
` + policyDiffUsage + `
Every command takes --db (or PAYWIRE_DB); each step is written to the audit log
as admin:USER. USER is a back-office user (paywire admin-user) whose roles
are checked; like every CLI command, these trust whoever can reach the
database to say who they are: the back office is where users sign in.
`

// policyRegistry runs the bundle life-cycle commands against the database.
func policyRegistry(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	sub := args[0]
	fs := flag.NewFlagSet("paywire policy "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	as := fs.String("as", "", "the back-office username you act as")
	bundlePath := fs.String("bundle", "", "bundle directory or .tar.gz (push)")
	message := fs.String("message", "", "what changed and why (push)")
	revision := fs.Int64("revision", 0, "the revision")
	reason := fs.String("reason", "", "why (reject, rollback)")
	signingKey := fs.String("policy-signing-key", getenv("PAYWIRE_POLICY_SIGNING_KEY"), "file with the key approvals sign with ($PAYWIRE_POLICY_SIGNING_KEY)")
	verificationKey := fs.String("policy-verification-key", getenv("PAYWIRE_POLICY_VERIFICATION_KEY"), "file with the key nodes verify with: activate and rollback refuse what does not verify ($PAYWIRE_POLICY_VERIFICATION_KEY)")
	alg := fs.String("policy-key-alg", envOr(getenv, "PAYWIRE_POLICY_KEY_ALG", "RS256"), "the keys' algorithm ($PAYWIRE_POLICY_KEY_ALG)")
	keyID := fs.String("policy-key-id", envOr(getenv, "PAYWIRE_POLICY_KEY_ID", "paywire"), "the keys' id ($PAYWIRE_POLICY_KEY_ID)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, policyRegistryUsage)
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case sub != "history" && *as == "":
		return usageError{errors.New("--as USER is required: the back-office user you act as")}
	case sub == "push" && (*bundlePath == "" || *message == ""):
		return usageError{errors.New("--bundle and --message are required")}
	case sub != "history" && sub != "push" && *revision <= 0:
		return usageError{errors.New("--revision N is required")}
	case (sub == "rollback" || sub == "reject") && strings.TrimSpace(*reason) == "":
		return usageError{fmt.Errorf("--reason is required: a %s says why", sub)}
	}
	svc := &bundles.Service{}
	if sub == "approve" && *signingKey != "" {
		b, err := os.ReadFile(*signingKey)
		if err != nil {
			return fmt.Errorf("--policy-signing-key: %v", err)
		}
		svc.Signing = &bundles.SigningKey{Key: strings.TrimSpace(string(b)), Algorithm: *alg, KeyID: *keyID}
	}
	if sub == "activate" || sub == "rollback" {
		v, err := policyVerification(*verificationKey, *alg, *keyID)
		if err != nil {
			return fmt.Errorf("--policy-verification-key: %v", err)
		}
		svc.Verification = v
	}
	var files engine.Files
	if sub == "push" {
		var err error
		if files, err = engine.ReadPath(*bundlePath); err != nil {
			return err
		}
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	svc.Store, svc.Users = st, st
	switch sub {
	case "push":
		b, err := svc.Push(ctx, files, *as, *message)
		if err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "revision %d pushed as a draft (hash %s); next: paywire policy submit --revision %d --as %s\n", b.Revision, b.Hash, b.Revision, *as)
	case "submit":
		if err := svc.Submit(ctx, *revision, *as); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "revision %d submitted: its tests pass; it awaits approval by compliance\n", *revision)
	case "approve":
		if err := svc.Approve(ctx, *revision, *as); err != nil {
			return errorText(err)
		}
		signed := "unsigned (no signing key configured)"
		if svc.Signing != nil {
			signed = "signed with key " + svc.Signing.KeyID
		}
		fmt.Fprintf(stdout, "revision %d approved by %s, %s\n", *revision, *as, signed)
	case "reject":
		if err := svc.Reject(ctx, *revision, *as, *reason); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "revision %d rejected by %s; its author pushes a corrected bundle as a new revision\n", *revision, *as)
	case "activate":
		if err := svc.Activate(ctx, *revision, *as); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "revision %d is active; every node runs it within its --policy-poll\n", *revision)
	case "rollback":
		if err := svc.Rollback(ctx, *revision, *as, *reason); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "rolled back to revision %d; every node runs it within its --policy-poll\n", *revision)
	case "history":
		h, err := svc.History(ctx)
		if err != nil {
			return errorText(err)
		}
		return printHistory(stdout, h)
	}
	return nil
}

func printHistory(w io.Writer, h bundles.History) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	fmt.Fprintln(tw, "REVISION\tSTATE\tHASH\tAUTHOR\tCREATED\tAPPROVED BY\tAPPROVED\tSIGNED\tMESSAGE")
	for _, b := range h.Bundles {
		signed := "no"
		if len(b.Signature) > 0 {
			signed = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Revision, b.State, b.Hash[:12], b.Author, when(b.CreatedAt),
			or(b.ApprovedBy), when(b.ApprovedAt), signed, oneLineText(b.Message))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "ACTIVE FROM\tUNTIL\tREVISION\tHOW\tBY\tREASON")
	for _, a := range h.Activations {
		until := "now"
		if !a.Until.IsZero() {
			until = when(a.Until)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", when(a.From), until, a.Revision, a.Kind, a.By, or(oneLineText(a.Reason)))
	}
	if len(h.Activations) == 0 {
		fmt.Fprintln(tw, "(no revision was ever active: nodes run the built-in bundle)")
	}
	return tw.Flush()
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }
