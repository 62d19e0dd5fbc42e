package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

var _ paywire.BacktestStore = (*DB)(nil)

type backtestRow struct {
	bun.BaseModel `bun:"table:policy_backtests"`

	ID           string    `bun:"id,pk"`
	Revision     int64     `bun:"revision"`
	CreatedBy    string    `bun:"created_by"`
	WindowFrom   time.Time `bun:"window_from"`
	WindowTo     time.Time `bun:"window_to"`
	Points       string    `bun:"points"`
	MerchantID   string    `bun:"merchant_id"`
	State        string    `bun:"state"`
	Total        int64     `bun:"total"`
	Done         int64     `bun:"done"`
	CursorAt     time.Time `bun:"cursor_at,nullzero"`
	CursorID     string    `bun:"cursor_id"`
	LeaseOwner   string    `bun:"lease_owner"`
	LeaseExpires time.Time `bun:"lease_expires,nullzero"`
	Report       string    `bun:"report"`
	Error        string    `bun:"error"`
	CreatedAt    time.Time `bun:"created_at"`
	StartedAt    time.Time `bun:"started_at,nullzero"`
	FinishedAt   time.Time `bun:"finished_at,nullzero"`
}

func (r *backtestRow) backtest() (paywire.Backtest, error) {
	b := paywire.Backtest{
		ID: r.ID, Revision: r.Revision, By: r.CreatedBy, From: r.WindowFrom.UTC(), To: r.WindowTo.UTC(),
		MerchantID: r.MerchantID, State: paywire.BacktestState(r.State), Total: r.Total, Done: r.Done,
		CursorAt: utcOrZero(r.CursorAt), CursorID: r.CursorID, LeaseOwner: r.LeaseOwner, LeaseExpires: utcOrZero(r.LeaseExpires),
		Error: r.Error, CreatedAt: r.CreatedAt.UTC(), StartedAt: utcOrZero(r.StartedAt), FinishedAt: utcOrZero(r.FinishedAt),
	}
	if r.Points != "" {
		b.Points = strings.Split(r.Points, ",")
	}
	if err := json.Unmarshal([]byte(r.Report), &b.Report); err != nil {
		return b, fmt.Errorf("backtest %s: report: %v", r.ID, err)
	}
	return b, nil
}

// maxBacktestError bounds the error kept on a failed job.
const maxBacktestError = 2000

// decisionWindow restricts q to b's decisions: its window, points and
// merchant.
func decisionWindow(q *bun.SelectQuery, b *paywire.Backtest) *bun.SelectQuery {
	q = q.Where("created_at >= ? AND created_at < ?", utc(b.From), utc(b.To))
	if len(b.Points) > 0 {
		q = q.Where("point IN (?)", bun.In(b.Points))
	}
	if b.MerchantID != "" {
		q = q.Where("merchant_id = ?", b.MerchantID)
	}
	return q
}

// CreateBacktest implements paywire.BacktestStore.
func (db *DB) CreateBacktest(ctx context.Context, b *paywire.Backtest, audit *paywire.AuditEntry) error {
	const op = "store/DB.CreateBacktest"
	switch {
	case b.By == "" || !auditText(b.By):
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest needs who starts it"}
	case b.From.IsZero() || b.To.IsZero() || !b.From.Before(b.To):
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest's window starts before it ends"}
	case !auditText(b.MerchantID) || strings.Contains(strings.Join(b.Points, ""), ","):
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest's points and merchant are names"}
	case audit == nil:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest needs its audit entry"}
	}
	now := db.now()
	row := &backtestRow{
		ID: paywire.NewID("bt_"), Revision: b.Revision, CreatedBy: b.By, WindowFrom: utc(b.From), WindowTo: utc(b.To),
		Points: strings.Join(b.Points, ","), MerchantID: b.MerchantID, State: string(paywire.BacktestQueued),
		Report: `{"points":[]}`, CreatedAt: now,
	}
	err := db.inTx(ctx, func(tx bun.Tx) error {
		n, err := tx.NewSelect().Table("policy_bundles").Where("revision = ?", b.Revision).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return paywire.Errorf(paywire.ENOTFOUND, "there is no policy bundle revision %d", b.Revision)
		}
		total, err := decisionWindow(tx.NewSelect().Table("decisions"), b).Count(ctx)
		if err != nil {
			return err
		}
		row.Total = int64(total)
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		audit.Target = "policy_backtest:" + row.ID
		if audit.Details == nil {
			d, err := json.Marshal(map[string]any{"revision": b.Revision, "from": row.WindowFrom, "to": row.WindowTo,
				"points": b.Points, "merchant": b.MerchantID, "total": row.Total})
			if err != nil {
				return err
			}
			audit.Details = d
		}
		return appendAudit(ctx, tx, now, audit)
	})
	if err != nil {
		return classify(op, err, "")
	}
	got, err := row.backtest()
	if err != nil {
		return classify(op, err, "")
	}
	*b = got
	return nil
}

// Backtest implements paywire.BacktestStore.
func (db *DB) Backtest(ctx context.Context, id string) (*paywire.Backtest, error) {
	const op = "store/DB.Backtest"
	row := new(backtestRow)
	if err := db.bun.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(op, err, fmt.Sprintf("there is no backtest %q", id))
	}
	b, err := row.backtest()
	if err != nil {
		return nil, classify(op, err, "")
	}
	return &b, nil
}

// Backtests implements paywire.BacktestStore.
func (db *DB) Backtests(ctx context.Context, limit int) ([]paywire.Backtest, error) {
	const op = "store/DB.Backtests"
	var rows []backtestRow
	if err := db.bun.NewSelect().Model(&rows).Order("created_at DESC", "id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.Backtest, len(rows))
	for i := range rows {
		b, err := rows[i].backtest()
		if err != nil {
			return nil, classify(op, err, "")
		}
		out[i] = b
	}
	return out, nil
}

// ClaimBacktest implements paywire.BacktestStore.
func (db *DB) ClaimBacktest(ctx context.Context, worker string, now time.Time, lease time.Duration) (*paywire.Backtest, error) {
	const op = "store/DB.ClaimBacktest"
	if worker == "" || lease <= 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a claim needs a worker and a lease"}
	}
	now = utc(now)
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []backtestRow
	err := db.inTx(ctx, func(tx bun.Tx) error {
		return tx.NewRaw(`UPDATE policy_backtests SET state = ?, lease_owner = ?, lease_expires = ?, started_at = COALESCE(started_at, ?)
			WHERE id IN (SELECT id FROM policy_backtests
				WHERE state = ? OR (state = ? AND (lease_expires IS NULL OR lease_expires < ?))
				ORDER BY created_at, id LIMIT 1`+lock+`)
			RETURNING *`,
			string(paywire.BacktestRunning), worker, now.Add(lease), now,
			string(paywire.BacktestQueued), string(paywire.BacktestRunning), now).Scan(ctx, &rows)
	})
	if err != nil {
		return nil, classify(op, err, "")
	}
	if len(rows) == 0 {
		return nil, nil
	}
	b, err := rows[0].backtest()
	if err != nil {
		return nil, classify(op, err, "")
	}
	return &b, nil
}

// BacktestDecisions implements paywire.BacktestStore. The cursor is a row
// value, which both databases compare in the order of the index on
// (created_at, id).
func (db *DB) BacktestDecisions(ctx context.Context, b *paywire.Backtest, limit int) ([]paywire.DecisionRecord, error) {
	var rows []decisionRow
	q := decisionWindow(db.bun.NewSelect().Model(&rows).
		Column("id", "point", "merchant_id", "payment_id", "bundle_revision", "input", "output", "created_at"), b)
	if !b.CursorAt.IsZero() {
		q = q.Where("(created_at, id) > (?, ?)", utc(b.CursorAt), b.CursorID)
	}
	if err := q.Order("created_at", "id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, classify("store/DB.BacktestDecisions", err, "")
	}
	out := make([]paywire.DecisionRecord, len(rows))
	for i, r := range rows {
		out[i] = paywire.DecisionRecord{
			ID: r.ID, Point: r.Point, MerchantID: r.MerchantID, PaymentID: r.PaymentID, BundleRevision: r.BundleRevision,
			Input: json.RawMessage(r.Input), Output: json.RawMessage(r.Output), CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

// AdvanceBacktest implements paywire.BacktestStore.
func (db *DB) AdvanceBacktest(ctx context.Context, b *paywire.Backtest, worker string, done int64, leaseUntil time.Time) error {
	const op = "store/DB.AdvanceBacktest"
	switch b.State {
	case paywire.BacktestRunning, paywire.BacktestDone, paywire.BacktestFailed:
	default:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("a running backtest does not become %q", b.State)}
	}
	if b.Done < done {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest's progress does not go back"}
	}
	report, err := json.Marshal(b.Report)
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "the report does not encode", Err: err}
	}
	msg := b.Error
	if len(msg) > maxBacktestError {
		msg = msg[:maxBacktestError]
	}
	now := db.now()
	q := db.bun.NewUpdate().Table("policy_backtests").
		Set("state = ?", string(b.State)).Set("done = ?", b.Done).Set("report = ?", string(report)).Set("error = ?", msg).
		Set("cursor_id = ?", b.CursorID).
		Where("id = ? AND lease_owner = ? AND state = ? AND done = ?", b.ID, worker, string(paywire.BacktestRunning), done)
	if b.CursorAt.IsZero() {
		q = q.Set("cursor_at = NULL")
	} else {
		q = q.Set("cursor_at = ?", utc(b.CursorAt))
	}
	if b.State == paywire.BacktestRunning {
		q = q.Set("lease_expires = ?", utc(leaseUntil))
	} else {
		q = q.Set("lease_expires = NULL").Set("lease_owner = ''").Set("finished_at = ?", now)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: fmt.Sprintf("backtest %s is no longer this worker's (its lease ran out and another took it over)", b.ID)}
	}
	if b.State != paywire.BacktestRunning {
		b.FinishedAt, b.LeaseOwner, b.LeaseExpires = now, "", time.Time{}
	} else {
		b.LeaseExpires = utc(leaseUntil)
	}
	return nil
}

// PaymentStates implements paywire.BacktestStore.
func (db *DB) PaymentStates(ctx context.Context, ids []string) (map[string]paywire.State, error) {
	out := make(map[string]paywire.State, len(ids))
	const chunk = 500
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		var rows []struct {
			ID    string `bun:"id"`
			State string `bun:"state"`
		}
		if err := db.bun.NewSelect().Table("payments").Column("id", "state").Where("id IN (?)", bun.In(ids[:n])).Scan(ctx, &rows); err != nil {
			return nil, classify("store/DB.PaymentStates", err, "")
		}
		for _, r := range rows {
			out[r.ID] = paywire.State(r.State)
		}
		ids = ids[n:]
	}
	return out, nil
}
