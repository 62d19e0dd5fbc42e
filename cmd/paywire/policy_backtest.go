package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

const policyBacktestUsage = `  paywire policy backtest --revision N --from T --to T --as USER [--point P] [--merchant M] [--wait] [--json]
                                  replay the decisions recorded from T to T with revision N and count
                                  how they change (risk_analyst, compliance or admin role); a worker on
                                  any serve node runs it; --wait runs one here too and prints the report
  paywire policy backtest --id ID [--json]
                                  a backtest's progress and report
  paywire policy backtest --list  the latest backtests
`

// policyBacktest starts, shows or lists backtests.
func policyBacktest(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("paywire policy backtest", flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	as := fs.String("as", "", "the back-office username you act as")
	revision := fs.Int64("revision", 0, "the candidate revision")
	from := fs.String("from", "", "the window's start: RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01, UTC)")
	to := fs.String("to", "", "the window's end, excluded; a time after now is now")
	var points multiFlag
	fs.Var(&points, "point", "a decision point to replay (availability, risk, routing, workflow); repeat or separate by commas; all by default")
	merchant := fs.String("merchant", "", "only this merchant's decisions")
	wait := fs.Bool("wait", false, "wait for the report, running a worker in this process too")
	asJSON := fs.Bool("json", false, "print the backtest as JSON")
	id := fs.String("id", "", "show backtest ID")
	list := fs.Bool("list", false, "list the latest backtests")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage:\n"+policyBacktestUsage)
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var req paywire.Backtest
	if *id == "" && !*list {
		switch {
		case *as == "":
			return usageError{errors.New("--as USER is required: the back-office user you act as")}
		case *revision <= 0:
			return usageError{errors.New("--revision N is required: the candidate")}
		case *from == "" || *to == "":
			return usageError{errors.New("--from and --to are required: the window of decisions to replay")}
		}
		var err error
		if req.From, err = parseWhen(*from); err != nil {
			return usageError{fmt.Errorf("--from: %v", err)}
		}
		if req.To, err = parseWhen(*to); err != nil {
			return usageError{fmt.Errorf("--to: %v", err)}
		}
		req.Revision, req.MerchantID = *revision, *merchant
		for _, p := range points {
			req.Points = append(req.Points, strings.Split(p, ",")...)
		}
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &bundles.Service{Store: st, Users: st}
	switch {
	case *list:
		bs, err := svc.Backtests(ctx)
		if err != nil {
			return errorText(err)
		}
		if *asJSON {
			return printJSON(stdout, bs)
		}
		return printBacktests(stdout, bs)
	case *id != "":
		b, err := svc.Backtest(ctx, *id)
		if err != nil {
			return errorText(err)
		}
		if *asJSON {
			return printJSON(stdout, b)
		}
		printBacktest(stdout, b)
		return nil
	}
	b, err := svc.StartBacktest(ctx, *as, req)
	if err != nil {
		return errorText(err)
	}
	if !*wait {
		if *asJSON {
			return printJSON(stdout, b)
		}
		fmt.Fprintf(stdout, "backtest %s queued: %d decisions; a serve node's worker runs it\nfollow it: paywire policy backtest --id %s\n", b.ID, b.Total, b.ID)
		return nil
	}
	if b, err = waitBacktest(ctx, st, svc, b.ID); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, b)
	}
	printBacktest(stdout, b)
	if b.State == paywire.BacktestFailed {
		return fmt.Errorf("backtest %s failed: %s", b.ID, b.Error)
	}
	return nil
}

// waitBacktest runs a worker in this process beside those of the serve
// nodes (whichever claims the job runs it) until the job ends.
func waitBacktest(ctx context.Context, st interface {
	paywire.BacktestStore
	paywire.BundleStore
	paywire.ListStore
}, svc *bundles.Service, id string) (*paywire.Backtest, error) {
	e := engine.New(1)
	now := time.Now()
	v, err := st.ListsVersion(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := st.ActiveListEntries(ctx, now)
	if err != nil {
		return nil, err
	}
	e.SetLists(engine.NewListSet(entries, v, now))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w := &bundles.BacktestWorker{Store: st, Bundles: st, Engine: e, Logger: slog.New(slog.DiscardHandler), Poll: 200 * time.Millisecond}
	go func() { _ = w.Run(wctx) }()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		b, err := svc.Backtest(ctx, id)
		if err != nil {
			return nil, errorText(err)
		}
		if b.State == paywire.BacktestDone || b.State == paywire.BacktestFailed {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting; backtest %s goes on: paywire policy backtest --id %s", id, id)
		case <-t.C:
		}
	}
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor a date (2026-11-01)", s)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// multiFlag is a flag that may be repeated.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func backtestScope(b *paywire.Backtest) string {
	points, merchant := "all points", "all merchants"
	if len(b.Points) > 0 {
		points = strings.Join(b.Points, ", ")
	}
	if b.MerchantID != "" {
		merchant = "merchant " + b.MerchantID
	}
	return points + "; " + merchant
}

// printBacktest writes a backtest and its report as a person reads it.
func printBacktest(w io.Writer, b *paywire.Backtest) {
	fmt.Fprintf(w, "backtest %s of revision %d, by %s\n", b.ID, b.Revision, b.By)
	fmt.Fprintf(w, "window   %s to %s (%s)\n", b.From.Format(time.RFC3339), b.To.Format(time.RFC3339), backtestScope(b))
	fmt.Fprintf(w, "state    %s: %d of %d decisions replayed", b.State, b.Done, b.Total)
	if b.State == paywire.BacktestRunning && b.LeaseOwner != "" {
		fmt.Fprintf(w, " (worker %s)", b.LeaseOwner)
	}
	fmt.Fprintln(w)
	if b.Error != "" {
		fmt.Fprintf(w, "error    %s\n", b.Error)
	}
	for _, p := range b.Report.Points {
		fmt.Fprintf(w, "\n%s: %d decisions, %d changed", p.Point, p.Decisions, p.Changed)
		if p.Unreadable > 0 {
			fmt.Fprintf(w, ", %d could not be replayed", p.Unreadable)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range p.Changes {
			fmt.Fprintf(tw, "  %s -> %s:\t%d\t%s\n", c.From, c.To, c.Count, outcomesText(c.Outcomes))
		}
		tw.Flush()
		for _, c := range p.Changes {
			var ss []string
			for _, s := range c.Sample {
				if s.PaymentID != "" {
					ss = append(ss, s.MerchantID+"/"+s.PaymentID)
				} else {
					ss = append(ss, s.DecisionID)
				}
			}
			fmt.Fprintf(w, "  e.g. %s -> %s: %s\n", c.From, c.To, strings.Join(ss, " "))
		}
	}
}

// outcomesText lists the payments' states, most frequent first.
func outcomesText(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	ss := make([]string, len(keys))
	for i, k := range keys {
		ss[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "now: " + strings.Join(ss, ", ")
}

func printBacktests(w io.Writer, bs []paywire.Backtest) error {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no backtests yet: paywire policy backtest --revision N --from T --to T --as USER")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREVISION\tBY\tWINDOW\tSCOPE\tSTATE\tDONE\tCHANGED")
	for i := range bs {
		b := &bs[i]
		var changed int64
		for _, p := range b.Report.Points {
			changed += p.Changed
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s..%s\t%s\t%s\t%d/%d\t%d\n", b.ID, b.Revision, b.By,
			b.From.Format(time.RFC3339), b.To.Format(time.RFC3339), backtestScope(b), b.State, b.Done, b.Total, changed)
	}
	return tw.Flush()
}
