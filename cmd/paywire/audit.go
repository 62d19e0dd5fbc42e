package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire/store"
)

const auditUsage = `Usage:
  paywire audit verify [--head ID:HASH] [--db DSN]
                                      recompute the audit log's hash chain; exit 1 if it is broken
                                      or does not pass through a head kept earlier
  paywire audit list [--limit N] [--db DSN]
                                      the newest entries with their hashes

Every admin action and configuration change is an audit entry: who, when,
what, on what, and the details (before and after). Each entry stores the
hash of the one before it, so that an entry changed or removed behind
Paywire's back breaks the chain at that entry. Keep the head hash that
verify prints somewhere the database's administrators cannot write, and
give it to --head later: a chain rewritten from a changed entry on
verifies by itself, but no longer passes through that head.
`

func runAudit(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{errors.New("say verify or list\n\n" + auditUsage)}
	}
	sub := args[0]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	case "verify", "list":
	default:
		return usageError{fmt.Errorf("unknown audit command %q\n\n%s", sub, auditUsage)}
	}
	fs := flag.NewFlagSet("paywire audit "+sub, flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	limit := fs.Int("limit", 20, "how many entries (list)")
	kept := fs.String("head", "", "ID:HASH of a head printed by an earlier verify, which the chain must still pass through (verify)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *limit < 1 || *limit > 10000 {
		return usageError{errors.New("--limit must be 1 to 10000")}
	}
	var keptID int64
	var keptHash string
	if *kept != "" {
		id, h, _ := strings.Cut(*kept, ":")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 1 || len(h) != 64 {
			return usageError{errors.New("--head must be ID:HASH, as verify prints them (row 42, hash 5d0c...: 42:5d0c...)")}
		}
		keptID, keptHash = n, strings.ToLower(h)
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "list" {
		return auditList(ctx, st, *limit, stdout)
	}
	c, err := st.VerifyAudit(ctx)
	if err != nil {
		return errorText(err)
	}
	if !c.OK() {
		fmt.Fprintf(stdout, "audit log BROKEN at row %d: %s\n", c.FirstBad, c.Problem)
		fmt.Fprintf(stdout, "%d rows before it check out\n", c.Checked)
		return fmt.Errorf("the audit log's hash chain is broken at row %d", c.FirstBad)
	}
	if keptID > 0 {
		// The chain verified, so each row's stored hash is its computed one.
		rs, err := st.AuditRecords(ctx, keptID+1, 1)
		if err != nil {
			return errorText(err)
		}
		if len(rs) == 0 || rs[0].ID != keptID || rs[0].Hash != keptHash {
			fmt.Fprintf(stdout, "audit log REWRITTEN: the chain verifies by itself but does not pass through row %d with hash %s\n", keptID, keptHash)
			return fmt.Errorf("the audit log does not pass through the head kept, row %d", keptID)
		}
	}
	fmt.Fprintf(stdout, "audit log OK: %d rows checked\n", c.Checked)
	if keptID > 0 {
		fmt.Fprintf(stdout, "it passes through the head kept, row %d\n", keptID)
	}
	if c.PreChain > 0 {
		if c.HeadHash == "" {
			fmt.Fprintf(stdout, "%d rows are from before the chain began; the next entry seals them into it\n", c.PreChain)
		} else {
			fmt.Fprintf(stdout, "%d of them are from before the chain began, sealed into it by row %d\n", c.PreChain, c.GenesisID+1)
		}
	}
	if c.HeadHash != "" {
		fmt.Fprintf(stdout, "head: row %d, hash %s\n", c.HeadID, c.HeadHash)
	}
	return nil
}

func auditList(ctx context.Context, st *store.DB, limit int, stdout io.Writer) error {
	rs, err := st.AuditRecords(ctx, 0, limit)
	if err != nil {
		return errorText(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tACTION\tTARGET\tHASH\tDETAILS")
	for _, r := range rs {
		h := "(before the chain)"
		if r.Hash != "" {
			h = r.Hash[:16]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.At.Format(time.RFC3339), r.Actor, r.Action, r.Target, h, r.Details)
	}
	return tw.Flush()
}
