package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

const listUsage = `Usage:
  paywire list add --list L --type T --value V --reason R [--expires 720h]
                                      add V to list L (a list's first entry fixes its type)
  paywire list remove --list L --id ID
                                      remove entry ID from list L
  paywire list show [--list L]        the lists with their counts, or the entries of list L

Types: email, email_domain, card_fingerprint, ip (an address or a CIDR
prefix), bin, country, customer_id (merchant/customer), device_id.
Every command takes --db (or PAYWIRE_DB). Every change is written to the
audit log, and is in effect on every node within seconds: policies read
the lists with in_list (expr) and paywire.in_list (Rego).
`

func runList(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say add, remove or show\n\n" + listUsage)}
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, listUsage)
		return nil
	case "add", "remove", "show":
	default:
		return usageError{fmt.Errorf("unknown list command %q\n\n%s", sub, listUsage)}
	}
	fs := flag.NewFlagSet("paywire list "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	list := fs.String("list", "", "list name, lower_snake_case, e.g. blocked_emails")
	typ := fs.String("type", "", "entry type (add): email, email_domain, card_fingerprint, ip, bin, country, customer_id, device_id")
	value := fs.String("value", "", "the value to list (add)")
	reason := fs.String("reason", "", "why it is listed (add; required)")
	expires := fs.Duration("expires", 0, "how long the entry counts, e.g. 720h (add); 0: forever")
	id := fs.String("id", "", "entry id (remove)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case sub != "show" && *list == "":
		return usageError{errors.New("--list is required")}
	case sub == "add" && (*typ == "" || *value == "" || *reason == ""):
		return usageError{errors.New("--type, --value and --reason are required")}
	case sub == "add" && *expires < 0:
		return usageError{errors.New("--expires must be positive")}
	case sub == "remove" && *id == "":
		return usageError{errors.New("--id is required")}
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		e := &paywire.ListEntry{List: *list, Type: paywire.ListType(*typ), Value: *value, Reason: *reason, CreatedBy: cliActor}
		if *expires > 0 {
			e.ExpiresAt = st.Now().Add(*expires)
		}
		if err := st.AddListEntry(ctx, e); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "entry %s: %s %s added to %s\n", e.ID, e.Type, e.Value, e.List)
	case "remove":
		if err := st.RemoveListEntry(ctx, cliActor, *list, *id); err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "entry %s removed from %s\n", *id, *list)
	case "show":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if *list == "" {
			ls, err := st.Lists(ctx)
			if err != nil {
				return errorText(err)
			}
			fmt.Fprintln(tw, "LIST\tTYPE\tENTRIES")
			for _, l := range ls {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", l.List, l.Type, l.Entries)
			}
			return tw.Flush()
		}
		es, err := st.ListEntries(ctx, *list)
		if err != nil {
			return errorText(err)
		}
		now := st.Now()
		fmt.Fprintln(tw, "ID\tTYPE\tVALUE\tADDED\tBY\tEXPIRES\tREASON")
		for _, e := range es {
			exp := "never"
			if !e.ExpiresAt.IsZero() {
				exp = e.ExpiresAt.Format(time.RFC3339)
				if !e.Active(now) {
					exp += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Type, e.Value, e.CreatedAt.Format(time.RFC3339), e.CreatedBy, exp, e.Reason)
		}
		return tw.Flush()
	}
	return nil
}

// listRefresher keeps an engine's live lists in step with the database:
// every Every it reads the lists' version, and loads the entries in effect
// when it moved or when a loaded entry expired. On an error it keeps the
// lists it has.
type listRefresher struct {
	Store  paywire.ListStore
	Engine *engine.Engine
	Logger *slog.Logger
	Every  time.Duration
	Now    func() time.Time

	loaded  bool
	version int64
	expiry  time.Time // the earliest expiry of a loaded entry; zero: none
}

// refresh loads the lists when they changed.
func (r *listRefresher) refresh(ctx context.Context) error {
	v, err := r.Store.ListsVersion(ctx)
	if err != nil {
		return err
	}
	now := r.Now()
	if r.loaded && v == r.version && (r.expiry.IsZero() || now.Before(r.expiry)) {
		return nil
	}
	entries, err := r.Store.ActiveListEntries(ctx, now)
	if err != nil {
		return err
	}
	set := engine.NewListSet(entries, v, now)
	r.Engine.SetLists(set)
	r.loaded, r.version, r.expiry = true, v, time.Time{}
	for _, e := range entries {
		if !e.ExpiresAt.IsZero() && (r.expiry.IsZero() || e.ExpiresAt.Before(r.expiry)) {
			r.expiry = e.ExpiresAt
		}
	}
	r.Logger.Info("lists loaded", "entries", set.Len(), "version", v)
	return nil
}

// run refreshes until ctx ends.
func (r *listRefresher) run(ctx context.Context) {
	every(ctx, r.Every, r.refresh, func(err error) {
		r.Logger.Warn("lists not reloaded; the last lists loaded stay in effect", "error", err)
	})
}

// every calls fn every d until ctx ends, and failed with each error fn
// returns while ctx lasts.
func every(ctx context.Context, d time.Duration, fn func(context.Context) error, failed func(error)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				failed(err)
			}
		}
	}
}
