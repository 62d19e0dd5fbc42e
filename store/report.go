package store

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

// reportRow is one group of a report as the database sums it.
type reportRow struct {
	Group          string `bun:"grp"`
	Experiment     string `bun:"experiment"`
	Arm            string `bun:"arm"`
	Currency       string `bun:"currency"`
	Payments       int64  `bun:"payments"`
	Approved       int64  `bun:"approved"`
	Amount         int64  `bun:"amount"`
	ApprovedAmount int64  `bun:"approved_amount"`
}

// PaymentReport counts and sums the payments created in [r.From, r.To) of
// one merchant (r.MerchantID) or of every merchant (""), per group of
// r.GroupBy and currency, ordered by group and currency (in byte order); see
// paywire.ReportRow for what is counted. Groups without payments have no
// row.
//
// The routing arm of a payment is that of its latest routing decision
// (decisions with point "routing", output fields "experiment" and "arm"),
// which a trigger of migration 0014 copies onto the payment
// (routing_experiment, routing_arm) when the decision is recorded: a
// payment routed again after a failure counts under the arm that routed it
// last. Payments are read by their creation time from an index that holds
// every column the report reads (migration 0014).
//
// Only the back office calls it. Returns EINVALID for an invalid request.
func (db *DB) PaymentReport(ctx context.Context, r paywire.ReportRequest) ([]paywire.ReportRow, error) {
	const op = "store/DB.PaymentReport"
	if err := r.Validate(); err != nil {
		return nil, classify(op, err, "")
	}
	paid := make([]string, len(paywire.PaidStates))
	for i, s := range paywire.PaidStates {
		paid[i] = "'" + string(s) + "'"
	}
	isPaid := "p.state IN (" + strings.Join(paid, ", ") + ")"
	experiment, arm := "''", "''"
	var group string
	switch r.GroupBy {
	case paywire.GroupByDay:
		group = "date(p.created_at)" // SQLite: the UTC day of the stored text
		if db.dialect == Postgres {
			group = "to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
		}
	case paywire.GroupByMethod:
		group = "p.method"
	case paywire.GroupByProvider:
		group = "p.provider"
	case paywire.GroupByArm:
		experiment, arm, group = "p.routing_experiment", "p.routing_arm", "''"
	}
	// PostgreSQL sums BIGINTs into NUMERIC: hence the CASTs.
	query := "SELECT " + group + " AS grp, " + experiment + " AS experiment, " + arm + " AS arm, p.currency AS currency," +
		" COUNT(*) AS payments," +
		" CAST(SUM(CASE WHEN " + isPaid + " THEN 1 ELSE 0 END) AS BIGINT) AS approved," +
		" CAST(SUM(p.amount) AS BIGINT) AS amount," +
		" CAST(SUM(CASE WHEN " + isPaid + " THEN p.amount ELSE 0 END) AS BIGINT) AS approved_amount" +
		" FROM payments p" +
		" WHERE p.created_at >= ? AND p.created_at < ?"
	args := []any{db.timeArg(r.From), db.timeArg(r.To)}
	if r.MerchantID != "" {
		query += " AND p.merchant_id = ?"
		args = append(args, r.MerchantID)
	}
	query += " GROUP BY 1, 2, 3, 4"
	var rows []reportRow
	var err error
	if db.dialect == Postgres {
		err = db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// The query reads a few hundred thousand index entries into a
			// few hundred groups: compiling it (JIT) costs more than it
			// saves, and the planner, which cannot tell how few days or
			// currencies there are, sorts every row instead of hashing
			// unless it may use the memory a hash of every row would take.
			if _, err := tx.ExecContext(ctx, "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"); err != nil {
				return err
			}
			return tx.NewRaw(query, args...).Scan(ctx, &rows)
		})
	} else {
		// Not in a transaction: SQLite's take the write lock at once.
		err = db.bun.NewRaw(query, args...).Scan(ctx, &rows)
	}
	if err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.ReportRow, len(rows))
	for i, row := range rows {
		out[i] = paywire.ReportRow{
			Group: row.Group, Experiment: row.Experiment, Arm: row.Arm, Currency: row.Currency,
			Payments: row.Payments, Approved: row.Approved, Amount: row.Amount, ApprovedAmount: row.ApprovedAmount,
		}
		if r.GroupBy == paywire.GroupByArm && row.Experiment != "" {
			out[i].Group = row.Experiment + "/" + row.Arm
		}
		out[i].Complete()
	}
	// Ordered here, in byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b paywire.ReportRow) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Experiment, b.Experiment),
			cmp.Compare(a.Arm, b.Arm), cmp.Compare(a.Currency, b.Currency))
	})
	return out, nil
}
