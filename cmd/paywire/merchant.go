package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store"
)

const merchantUsage = `Usage:
  paywire merchant create --id ID --name NAME [--return-url-prefix P]... [--notification-url U] [--notification-format soap|json]
                          [--risk-profile NAME]
                                      create a merchant and its first API secret (shown once)
  paywire merchant list               list merchants
  paywire merchant credentials --id ID
                                      list a merchant's valid credentials (never their secrets)
  paywire merchant issue --id ID [--label L]
                                      issue another API secret (shown once)
  paywire merchant rotate --id ID --credential C [--overlap 24h]
                                      issue a successor of credential C; C stays valid for the overlap
  paywire merchant revoke --id ID --credential C
                                      revoke credential C at once

Every command takes --db (or PAYWIRE_DB) and reads PAYWIRE_TOKEN_KEY, which
must be the key the nodes use: API secrets are stored as hashes keyed with
it. Every change is written to the audit log.
`

// cliActor is the actor of audit entries written by the merchant command.
const cliActor = "operator:cli"

// apiSecretKey is the key of the keyed hashes of merchant API secrets,
// derived from PAYWIRE_TOKEN_KEY so that every node (and this command) has
// it; without one, a public development key.
func apiSecretKey(tokenKey []byte) []byte {
	if tokenKey == nil {
		return credential.DevelopmentKey
	}
	return derive(tokenKey, "merchant API secrets")
}

// credentialManager returns the credential manager over db.
func credentialManager(db *store.DB, tokenKey []byte) *credential.Manager {
	k, err := credential.NewKeyed(apiSecretKey(tokenKey))
	if err != nil {
		panic(err) // both keys are 32 bytes or more
	}
	return &credential.Manager{Merchants: db, Audit: db, Keyed: k, Now: db.Now}
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func runMerchant(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say create, list, credentials, issue, rotate or revoke\n\n" + merchantUsage)}
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, merchantUsage)
		return nil
	case "create", "list", "credentials", "issue", "rotate", "revoke":
	default:
		return usageError{fmt.Errorf("unknown merchant command %q\n\n%s", sub, merchantUsage)}
	}
	fs := flag.NewFlagSet("paywire merchant "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	id := fs.String("id", "", "merchant id")
	name := fs.String("name", "", "merchant name (create)")
	var prefixes stringList
	fs.Var(&prefixes, "return-url-prefix", "an allowed return URL prefix, https and ending with /; repeat for more (create)")
	notifyURL := fs.String("notification-url", "", "where state-change notifications go (create)")
	notifyFormat := fs.String("notification-format", "soap", "soap or json (create)")
	riskProfile := fs.String("risk-profile", "", "the bundle's risk profile for the merchant's payments; empty for the default (create)")
	approvals := fs.Int("withdrawal-approvals", 0, "how many people approve each withdrawal before it is paid out: 0, 1 or 2 (create)")
	label := fs.String("label", "", "what the credential is for (issue)")
	cred := fs.String("credential", "", "credential id (rotate, revoke)")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long the rotated credential stays valid (rotate)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if sub != "list" && *id == "" {
		return usageError{errors.New("--id is required")}
	}
	if (sub == "rotate" || sub == "revoke") && *cred == "" {
		return usageError{errors.New("--credential is required")}
	}
	cfg, _, err := parseConfig("merchant", []string{"--db", *db}, getenv)
	if err != nil {
		return usageError{err}
	}
	if cfg.TokenKey == nil && sub != "list" && sub != "credentials" {
		fmt.Fprintln(stderr, "warning: PAYWIRE_TOKEN_KEY is not set; secrets are hashed with the public development key, as a node without the key does")
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckMigrations(ctx); err != nil {
		return fmt.Errorf("%v (run `paywire migrate up`)", err)
	}
	mg := credentialManager(st, cfg.TokenKey)
	switch sub {
	case "create":
		m := &paywire.Merchant{ID: *id, Name: *name, ReturnURLPrefixes: prefixes, NotificationURL: *notifyURL, NotificationFormat: *notifyFormat,
			RiskProfile: *riskProfile, WithdrawalApprovals: *approvals}
		issued, err := mg.CreateMerchant(ctx, cliActor, m)
		if err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "merchant %s created\nsigning secret (verifies notifications and result signatures): %s\n", m.ID, m.SigningSecret)
		printIssued(stdout, issued)
	case "list":
		ms, err := st.Merchants(ctx)
		if err != nil {
			return errorText(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tRISK PROFILE\tNOTIFICATIONS\tRETURN URL PREFIXES")
		for _, m := range ms {
			profile := m.RiskProfile
			if profile == "" {
				profile = "(default)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\n", m.ID, m.Name, profile, m.NotificationFormat, m.NotificationURL, strings.Join(m.ReturnURLPrefixes, " "))
		}
		tw.Flush()
	case "credentials":
		cs, err := mg.List(ctx, *id)
		if err != nil {
			return errorText(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tVALID UNTIL\tLABEL")
		for _, c := range cs {
			until := "revoked"
			if c.RevokedAt.IsZero() {
				until = "-"
			} else {
				until = c.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.CreatedAt.Format(time.RFC3339), until, c.Label)
		}
		tw.Flush()
	case "issue":
		issued, err := mg.Issue(ctx, cliActor, *id, *label)
		if err != nil {
			return errorText(err)
		}
		printIssued(stdout, issued)
	case "rotate":
		issued, err := mg.Rotate(ctx, cliActor, *id, *cred, *overlap)
		if err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "credential %s stays valid until %s\n", *cred, st.Now().Add(*overlap).UTC().Format(time.RFC3339))
		printIssued(stdout, issued)
	case "revoke":
		if err := mg.Revoke(ctx, cliActor, *id, *cred); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "credential %s revoked\n", *cred)
	}
	return nil
}

func printIssued(w io.Writer, i credential.Issued) {
	fmt.Fprintf(w, "credential %s\nAPI secret (shown once; use it with the merchant id in HTTP Basic or WS-Security): %s\n", i.Credential.ID, i.Secret)
}

// errorText keeps a paywire error's safe message for the command line.
func errorText(err error) error {
	var e *paywire.Error
	if errors.As(err, &e) && e.Code != paywire.EINTERNAL {
		return errors.New(e.Message)
	}
	return err
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
