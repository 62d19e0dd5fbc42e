package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

const policyShadowUsage = `Usage:
  paywire policy shadow --revision N --as USER
                                  decide every live decision again with submitted or approved
                                  revision N, beside the active one, on every node, off the
                                  request's path; disagreements are recorded (risk_analyst,
                                  compliance or admin role)
  paywire policy shadow --stop --as USER
                                  stop the shadow
  paywire policy shadow status [--json] [--shadow ID] [--recent K]
                                  the running (or latest) shadow: counts by point and result,
                                  the K newest disagreements (default 20)
`

// policyShadow runs `paywire policy shadow ...` against the database.
func policyShadow(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	status := len(args) > 1 && args[1] == "status"
	rest := args[1:]
	if status {
		rest = args[2:]
	}
	fs := flag.NewFlagSet("paywire policy shadow", flag.ContinueOnError)
	fs.SetOutput(discard{})
	db := fs.String("db", envOr(getenv, "PAYWIRE_DB", ".paywire/paywire.db"), "database: a postgres:// URL or a SQLite file ($PAYWIRE_DB)")
	as := fs.String("as", "", "the back-office username you act as")
	revision := fs.Int64("revision", 0, "the revision to shadow")
	stop := fs.Bool("stop", false, "stop the running shadow")
	asJSON := fs.Bool("json", false, "status as JSON")
	shadow := fs.Int64("shadow", 0, "status of this shadow period (default: the running or latest one)")
	recent := fs.Int("recent", 20, "status: how many of the newest disagreements to list")
	verificationKey := fs.String("policy-verification-key", getenv("PAYWIRE_POLICY_VERIFICATION_KEY"), "file with the key nodes verify with: a revision that does not verify is refused ($PAYWIRE_POLICY_VERIFICATION_KEY)")
	alg := fs.String("policy-key-alg", envOr(getenv, "PAYWIRE_POLICY_KEY_ALG", "RS256"), "the keys' algorithm ($PAYWIRE_POLICY_KEY_ALG)")
	keyID := fs.String("policy-key-id", envOr(getenv, "PAYWIRE_POLICY_KEY_ID", "paywire"), "the keys' id ($PAYWIRE_POLICY_KEY_ID)")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, policyShadowUsage)
			printFlags(stdout, fs)
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case status && (*as != "" || *revision != 0 || *stop):
		return usageError{errors.New("status takes no --as, --revision or --stop")}
	case status && (*recent < 0 || *recent > 500):
		return usageError{errors.New("--recent is 0 to 500")}
	case !status && *as == "":
		return usageError{errors.New("--as USER is required: the back-office user you act as")}
	case !status && *stop && *revision != 0:
		return usageError{errors.New("--stop takes no --revision")}
	case !status && !*stop && *revision <= 0:
		return usageError{errors.New("--revision N is required (or --stop, or status)")}
	}
	svc := &bundles.Service{}
	if !status && !*stop {
		v, err := policyVerification(*verificationKey, *alg, *keyID)
		if err != nil {
			return fmt.Errorf("--policy-verification-key: %v", err)
		}
		svc.Verification = v
	}
	st, err := openMigrated(ctx, *db, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	svc.Store, svc.Users, svc.Shadows = st, st, st
	switch {
	case status:
		s, err := svc.ShadowStatus(ctx, *shadow, *recent)
		if err != nil {
			return errorText(err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(shadowStatusJSON(s))
		}
		return printShadowStatus(stdout, s)
	case *stop:
		sh, err := svc.StopShadow(ctx, *as)
		if err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "shadow %d of revision %d stopped; every node stops comparing within its --policy-poll\n", sh.ID, sh.Revision)
	default:
		sh, err := svc.StartShadow(ctx, *revision, *as)
		if err != nil {
			return errorText(err)
		}
		fmt.Fprintf(stdout, "revision %d shadows the active revision (shadow %d); every node compares within its --policy-poll; see paywire policy shadow status\n", sh.Revision, sh.ID)
	}
	return nil
}

// shadowJSON is the status as `policy shadow status --json` prints it, in
// the operator API's shapes.
type shadowJSON struct {
	Shadow        *api.OperatorShadow         `json:"shadow"`
	Active        int64                       `json:"active"`
	Counts        []paywire.ShadowPointCounts `json:"counts"`
	Disagreements []api.OperatorDisagreement  `json:"disagreements"`
}

func shadowStatusJSON(s bundles.ShadowStatus) shadowJSON {
	out := shadowJSON{Shadow: api.ShadowOf(s.Shadow), Active: s.Active, Counts: paywire.CountsByPoint(s.Counts, engine.Points),
		Disagreements: []api.OperatorDisagreement{}}
	for _, d := range s.Recent {
		out.Disagreements = append(out.Disagreements, api.DisagreementOf(d))
	}
	return out
}

func printShadowStatus(w io.Writer, s bundles.ShadowStatus) error {
	sh := s.Shadow
	if sh == nil {
		_, err := fmt.Fprintln(w, "no revision has shadowed the active one; start: paywire policy shadow --revision N --as USER")
		return err
	}
	if sh.Running() {
		fmt.Fprintf(w, "shadow %d: revision %d beside active revision %d, since %s (started by %s)\n", sh.ID, sh.Revision, s.Active, sh.StartedAt.Format(time.RFC3339), sh.StartedBy)
	} else {
		why := ""
		if sh.StopReason != "" {
			why = ": " + sh.StopReason
		}
		fmt.Fprintf(w, "shadow %d: revision %d, from %s (started by %s) to %s (stopped by %s%s); none runs now\n", sh.ID, sh.Revision,
			sh.StartedAt.Format(time.RFC3339), sh.StartedBy, sh.StoppedAt.Format(time.RFC3339), sh.StoppedBy, why)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPOINT\tAGREE\tDISAGREE\tERROR\tDROPPED\tDISAGREE %")
	for _, r := range paywire.CountsByPoint(s.Counts, engine.Points) {
		pct := "-"
		if n := r.Agree + r.Disagree; n > 0 {
			pct = fmt.Sprintf("%.2f", 100*float64(r.Disagree)/float64(n))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.Point, r.Agree, r.Disagree, r.Error, r.Dropped, pct)
	}
	if len(s.Counts) == 0 {
		fmt.Fprintln(tw, "(nothing compared yet)")
	}
	if len(s.Recent) > 0 {
		fmt.Fprintln(tw, "\nAT\tPOINT\tMERCHANT\tPAYMENT\tDECISION\tLIVE\tSHADOW")
		for _, d := range s.Recent {
			pay := d.PaymentID
			if pay == "" {
				pay = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (rev %s)\t%s (rev %s)\n", d.At.Format(time.RFC3339), d.Point, d.MerchantID, pay, d.DecisionID,
				d.LiveOutcome, d.LiveRevision, d.ShadowOutcome, d.ShadowRevision)
		}
	}
	return tw.Flush()
}
