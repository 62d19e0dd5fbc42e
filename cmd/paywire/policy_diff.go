package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

const policyDiffUsage = `  paywire policy diff --from A (--to B | --bundle B) [--json]
                                  what changes from revision A to revision B, or to bundle B (a
                                  directory or a .tar.gz not pushed yet): the Rego files' unified
                                  diffs, then the expr rules and data values added, removed or changed
`

// policyDiff compares a stored revision with another or with a bundle on
// disk. It reads the registry; it needs no --as.
func policyDiff(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("paywire policy diff", flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	from := fs.Int64("from", 0, "the revision compared from")
	to := fs.Int64("to", 0, "the revision compared to")
	bundlePath := fs.String("bundle", "", "a bundle directory or .tar.gz compared to, instead of --to")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage:\n"+policyDiffUsage)
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case *from <= 0:
		return usageError{errors.New("--from N is required: the revision compared from")}
	case (*to > 0) == (*bundlePath != ""):
		return usageError{errors.New("say what --from is compared to: --to N (a revision) or --bundle B (a bundle not pushed), one of them")}
	case *to < 0:
		return usageError{errors.New("--to is a revision, a positive number")}
	}
	var files engine.Files
	if *bundlePath != "" {
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
	svc := &bundles.Service{Store: st, Users: st}
	var d *bundles.Diff
	if files != nil {
		d, err = svc.DiffBundle(ctx, *from, files, *bundlePath)
	} else {
		d, err = svc.Diff(ctx, *from, *to)
	}
	if err != nil {
		return errorText(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	return printDiff(stdout, d)
}

// printDiff writes a comparison for people: the files that differ, the
// Rego files' unified diffs, then the rule changes, then the data changes.
func printDiff(w io.Writer, d *bundles.Diff) error {
	ew := &errWriter{w: w}
	ew.printf("From %s to %s.\n", side(d.From), side(d.To))
	if d.Empty() {
		ew.printf("\nNo difference: the same policies, rules and data.\n")
		return ew.err
	}
	if len(d.Files) > 0 {
		ew.printf("\nFiles (%s):\n", counts(len(d.Files), func(i int) bundles.Change { return d.Files[i].Change }))
		for _, f := range d.Files {
			ew.printf("  %-8s %s\n", f.Change, f.Path)
		}
		for _, f := range d.Files {
			if f.Unified != "" {
				ew.printf("\n%s", f.Unified)
			}
		}
	}
	if len(d.Rules) > 0 {
		ew.printf("\nRules (%s):\n", counts(len(d.Rules), func(i int) bundles.Change { return d.Rules[i].Change }))
		for _, r := range d.Rules {
			name := r.Point + "." + r.ID
			switch r.Change {
			case bundles.Added:
				ew.printf("  + %s, added at position %d\n", name, r.New.Position)
				ew.printf("      when:   %s\n      effect: %s\n", r.New.When, r.New.Effect)
			case bundles.Removed:
				ew.printf("  - %s, removed from position %d\n", name, r.Old.Position)
				ew.printf("      when:   %s\n      effect: %s\n", r.Old.When, r.Old.Effect)
			default:
				ew.printf("  ~ %s, changed: %s\n", name, strings.Join(r.Fields, ", "))
				for _, f := range r.Fields {
					switch f {
					case "when":
						ew.printf("      when:   %s\n          ->  %s\n", r.Old.When, r.New.When)
					case "effect":
						ew.printf("      effect: %s\n          ->  %s\n", r.Old.Effect, r.New.Effect)
					case "group":
						ew.printf("      group:  %s -> %s\n", orNone(r.Old.Group), orNone(r.New.Group))
					case "description":
						ew.printf("      description: %s\n               ->  %s\n", orNone(oneLineText(r.Old.Description)), orNone(oneLineText(r.New.Description)))
					case "position":
						ew.printf("      position: %d -> %d (moved against the other rules)\n", r.Old.Position, r.New.Position)
					}
				}
			}
		}
	}
	if len(d.Data) > 0 {
		ew.printf("\nData (%s):\n", counts(len(d.Data), func(i int) bundles.Change { return d.Data[i].Change }))
		for _, c := range d.Data {
			switch {
			case c.Change == bundles.Added:
				ew.printf("  + %s: %s\n", c.Path, c.New)
			case c.Change == bundles.Removed:
				ew.printf("  - %s: %s\n", c.Path, c.Old)
			case c.Unified != "":
				ew.printf("  ~ %s:\n", c.Path)
				for _, line := range strings.SplitAfter(strings.TrimSuffix(c.Unified, "\n"), "\n") {
					ew.printf("      %s", line)
				}
				ew.printf("\n")
			default:
				ew.printf("  ~ %s: %s -> %s\n", c.Path, c.Old, c.New)
			}
		}
	}
	return ew.err
}

func side(s bundles.Side) string {
	return fmt.Sprintf("%s (hash %s)", s, s.Hash[:12])
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// counts says how many of n are added, removed and changed.
func counts(n int, change func(int) bundles.Change) string {
	by := map[bundles.Change]int{}
	for i := range n {
		by[change(i)]++
	}
	var ss []string
	for _, c := range []bundles.Change{bundles.Changed, bundles.Added, bundles.Removed} {
		if by[c] > 0 {
			ss = append(ss, fmt.Sprintf("%d %s", by[c], c))
		}
	}
	return strings.Join(ss, ", ")
}

// errWriter keeps the first write error, so that printing goes on
// unchecked and the error is returned once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
