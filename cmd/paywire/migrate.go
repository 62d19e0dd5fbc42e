package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire/store"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "status") {
		return usageError{errors.New("say `migrate up` or `migrate status`")}
	}
	sub := args[0]
	cfg, fs, err := parseConfig("migrate", args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		printFlags(stdout, fs)
		return err
	}
	if err != nil {
		return usageError{err}
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "up" {
		applied, err := db.Migrate(ctx)
		for _, a := range applied {
			fmt.Fprintf(stdout, "applied %04d_%s\n", a.Version, a.Name)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "the schema is up to date")
		}
		return nil
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS")
	pending := 0
	for _, s := range st {
		status := "pending"
		switch {
		case s.Unknown:
			status = "applied " + s.AppliedAt.Format(time.RFC3339) + " (unknown to this binary: migrated by a newer Paywire)"
		case s.Applied:
			status = "applied " + s.AppliedAt.Format(time.RFC3339)
		default:
			pending++
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", s.Version, s.Name, status)
	}
	tw.Flush()
	if pending > 0 {
		fmt.Fprintf(stdout, "%d pending; run `paywire migrate up`\n", pending)
	}
	return nil
}

// openMigrated opens the database a command names with --db and checks
// that it is migrated; the caller closes it.
func openMigrated(ctx context.Context, db string, getenv func(string) string) (*store.DB, error) {
	cfg, _, err := parseConfig("migrate", []string{"--db", db}, getenv) // its --db
	if err != nil {
		return nil, usageError{err}
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := st.CheckMigrations(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("%v (run `paywire migrate up`)", err)
	}
	return st, nil
}
