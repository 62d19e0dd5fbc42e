package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

// ExperimentTallies counts the payments of each arm of r.Experiment created
// in [r.From, r.To), of one merchant or of all; see paywire.ArmTally for
// what is counted. Arms are ordered by name; an arm that routed nothing
// has no tally. The payments are found by their routing_experiment
// (migration 0023's index); with r.Latencies, the attempts' latencies are
// read from the attempts of those payments.
//
// Returns EINVALID for an invalid request.
func (db *DB) ExperimentTallies(ctx context.Context, r paywire.ExperimentRequest) ([]paywire.ArmTally, error) {
	const op = "store/DB.ExperimentTallies"
	if err := r.Validate(); err != nil {
		return nil, classify(op, err, "")
	}
	quoted := func(states []paywire.State) string {
		q := make([]string, len(states))
		for i, s := range states {
			q[i] = "'" + string(s) + "'"
		}
		return "(" + strings.Join(q, ", ") + ")"
	}
	paid := quoted(paywire.PaidStates)
	inFlight := quoted([]paywire.State{paywire.StateCreated, paywire.StatePending, paywire.StateReview})
	where := " WHERE p.routing_experiment = ? AND p.created_at >= ? AND p.created_at < ?"
	args := []any{r.Experiment, db.timeArg(r.From), db.timeArg(r.To)}
	if r.MerchantID != "" {
		where += " AND p.merchant_id = ?"
		args = append(args, r.MerchantID)
	}
	var rows []struct {
		Arm         string `bun:"arm"`
		Routed      int64  `bun:"routed"`
		InFlight    int64  `bun:"in_flight"`
		Approved    int64  `bun:"approved"`
		Refunded    int64  `bun:"refunded"`
		ChargedBack int64  `bun:"charged_back"`
	}
	count := func(cond string) string { return "CAST(SUM(CASE WHEN " + cond + " THEN 1 ELSE 0 END) AS BIGINT)" }
	query := "SELECT p.routing_arm AS arm, COUNT(*) AS routed," +
		" " + count("p.state IN "+inFlight) + " AS in_flight," +
		" " + count("p.state IN "+paid) + " AS approved," +
		" " + count("p.state IN "+paid+" AND p.refunded > 0") + " AS refunded," +
		" " + count("p.state IN "+paid+" AND p.charged_back > 0") + " AS charged_back" +
		" FROM payments p" + where + " GROUP BY p.routing_arm"
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &rows); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.ArmTally, len(rows))
	byArm := map[string]*paywire.ArmTally{}
	for i, row := range rows {
		out[i] = paywire.ArmTally{Arm: row.Arm, Routed: row.Routed, InFlight: row.InFlight, Decided: row.Routed - row.InFlight,
			Approved: row.Approved, Refunded: row.Refunded, ChargedBack: row.ChargedBack}
		byArm[row.Arm] = &out[i]
	}

	if !r.Latencies {
		slices.SortFunc(out, func(a, b paywire.ArmTally) int { return strings.Compare(a.Arm, b.Arm) })
		return out, nil
	}
	var attempts []struct {
		Arm       string    `bun:"arm"`
		CreatedAt time.Time `bun:"created_at"`
		UpdatedAt time.Time `bun:"updated_at"`
	}
	query = "SELECT p.routing_arm AS arm, a.created_at, a.updated_at FROM payments p" +
		" JOIN payment_attempts a ON a.payment_id = p.id" + where +
		" AND a.operation IN ('" + string(paywire.OpAuthorize) + "', '" + string(paywire.OpPay) + "')" +
		" AND a.status IN ('" + string(paywire.AttemptApproved) + "', '" + string(paywire.AttemptDeclined) + "')"
	if err := db.bun.NewRaw(query, args...).Scan(ctx, &attempts); err != nil {
		return nil, classify(op, err, "")
	}
	for _, a := range attempts {
		if t := byArm[a.Arm]; t != nil {
			t.Latencies = append(t.Latencies, max(0, a.UpdatedAt.Sub(a.CreatedAt).Milliseconds()))
		}
	}
	for i := range out {
		slices.Sort(out[i].Latencies)
	}
	slices.SortFunc(out, func(a, b paywire.ArmTally) int { return strings.Compare(a.Arm, b.Arm) })
	return out, nil
}

type armStopRow struct {
	bun.BaseModel `bun:"table:experiment_arm_stops"`
	Experiment    string    `bun:"experiment,pk"`
	Salt          string    `bun:"salt,pk"`
	Arm           string    `bun:"arm,pk"`
	StoppedAt     time.Time `bun:"stopped_at"`
	Reason        string    `bun:"reason"`
}

// StopArm records that s's arm is stopped, with its audit entry, in one
// transaction; false, and nothing written, when it was stopped already.
func (db *DB) StopArm(ctx context.Context, s *paywire.ArmStop, audit *paywire.AuditEntry) (bool, error) {
	const op = "store/DB.StopArm"
	switch {
	case s.Experiment == "" || s.Salt == "" || s.Arm == "" || !auditText(s.Reason) || !auditText(s.Experiment+s.Salt+s.Arm):
		return false, paywire.Errorf(paywire.EINVALID, "a stopped arm needs its experiment, salt, arm and reason")
	case audit == nil:
		return false, paywire.Errorf(paywire.EINVALID, "stopping an arm needs its audit entry")
	}
	now := utc(db.now())
	s.StoppedAt = now
	row := &armStopRow{Experiment: s.Experiment, Salt: s.Salt, Arm: s.Arm, StoppedAt: now, Reason: s.Reason}
	stopped := false
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		stopped = true
		return appendAudit(ctx, tx, now, audit)
	})
	if err != nil {
		return false, classify(op, err, "")
	}
	return stopped, nil
}

// ArmStops returns every stopped arm, oldest first.
func (db *DB) ArmStops(ctx context.Context) ([]paywire.ArmStop, error) {
	var rows []armStopRow
	if err := db.bun.NewSelect().Model(&rows).Order("stopped_at", "experiment", "arm").Scan(ctx); err != nil {
		return nil, classify("store/DB.ArmStops", err, "")
	}
	out := make([]paywire.ArmStop, len(rows))
	for i, r := range rows {
		out[i] = paywire.ArmStop{Experiment: r.Experiment, Salt: r.Salt, Arm: r.Arm, StoppedAt: r.StoppedAt.UTC(), Reason: r.Reason}
	}
	return out, nil
}
