package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type decisionRow struct {
	bun.BaseModel `bun:"table:decisions"`

	ID             string    `bun:"id,pk"`
	Point          string    `bun:"point"`
	MerchantID     string    `bun:"merchant_id"`
	PaymentID      string    `bun:"payment_id"`
	BundleRevision string    `bun:"bundle_revision"`
	BundleHash     string    `bun:"bundle_hash"`
	Input          string    `bun:"input"`
	Output         string    `bun:"output"`
	RulesFired     string    `bun:"rules_fired"`
	DurationMicros int64     `bun:"duration_us"`
	CreatedAt      time.Time `bun:"created_at"`
}

// SaveDecision implements paywire.DecisionStore.
func (db *DB) SaveDecision(ctx context.Context, d *paywire.DecisionRecord) error {
	const op = "store/DB.SaveDecision"
	row, err := toDecisionRow(d, db.now())
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: err.Error()}
	}
	_, err = db.bun.NewInsert().Model(row).Exec(ctx)
	return classify(op, err, "a decision with this id exists")
}

// SaveDecisions implements paywire.DecisionStore.
func (db *DB) SaveDecisions(ctx context.Context, ds []paywire.DecisionRecord) error {
	const op = "store/DB.SaveDecisions"
	if len(ds) == 0 {
		return nil
	}
	rows, err := decisionRows(ds, db.now())
	if err != nil {
		return classify(op, err, "")
	}
	_, err = db.bun.NewInsert().Model(&rows).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	return classify(op, err, "")
}

// insertDecisions writes records in one multi-row statement.
func insertDecisions(ctx context.Context, db bun.IDB, now time.Time, ds []paywire.DecisionRecord) error {
	rows, err := decisionRows(ds, now)
	if err != nil {
		return err
	}
	_, err = db.NewInsert().Model(&rows).Exec(ctx)
	return err
}

// decisionRows are the rows of ds (see toDecisionRow).
func decisionRows(ds []paywire.DecisionRecord, now time.Time) ([]*decisionRow, error) {
	rows := make([]*decisionRow, len(ds))
	for i := range ds {
		row, err := toDecisionRow(&ds[i], now)
		if err != nil {
			return nil, paywire.Errorf(paywire.EINVALID, "%s", err.Error())
		}
		rows[i] = row
	}
	return rows, nil
}

// toDecisionRow is d's row; it fills d's ID when empty and its CreatedAt
// (now, when empty).
func toDecisionRow(d *paywire.DecisionRecord, now time.Time) (*decisionRow, error) {
	for _, raw := range []json.RawMessage{d.Input, d.Output, d.RulesFired} {
		if !json.Valid(raw) {
			return nil, errors.New("decision input, output and rules must be JSON")
		}
	}
	if d.ID == "" {
		d.ID = paywire.NewID("dec_")
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now
	}
	d.CreatedAt = d.CreatedAt.UTC().Truncate(time.Microsecond)
	return &decisionRow{
		ID: d.ID, Point: d.Point, MerchantID: d.MerchantID, PaymentID: d.PaymentID,
		BundleRevision: d.BundleRevision, BundleHash: d.BundleHash,
		Input: string(d.Input), Output: string(d.Output), RulesFired: string(d.RulesFired),
		DurationMicros: d.Duration.Microseconds(), CreatedAt: d.CreatedAt,
	}, nil
}

// Decisions implements paywire.DecisionStore.
func (db *DB) Decisions(ctx context.Context, merchantID, paymentID string) ([]paywire.DecisionRecord, error) {
	var rows []decisionRow
	err := db.bun.NewSelect().Model(&rows).
		Where("merchant_id = ? AND payment_id = ?", merchantID, paymentID).
		Order("created_at", "id").Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.Decisions", err, "")
	}
	out := make([]paywire.DecisionRecord, len(rows))
	for i, r := range rows {
		out[i] = paywire.DecisionRecord{
			ID: r.ID, Point: r.Point, MerchantID: r.MerchantID, PaymentID: r.PaymentID,
			BundleRevision: r.BundleRevision, BundleHash: r.BundleHash,
			Input: json.RawMessage(r.Input), Output: json.RawMessage(r.Output), RulesFired: json.RawMessage(r.RulesFired),
			Duration: time.Duration(r.DurationMicros) * time.Microsecond, CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

// PendingOutbox implements paywire.OutboxStore.
func (db *DB) PendingOutbox(ctx context.Context, limit int) ([]paywire.OutboxMessage, error) {
	var rows []outboxRow
	err := db.bun.NewSelect().Model(&rows).Where("status = ?", paywire.OutboxPending).
		Order("id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.PendingOutbox", err, "")
	}
	return messages(rows), nil
}

type auditRow struct {
	bun.BaseModel `bun:"table:audit_log"`

	ID       int64     `bun:"id,pk,autoincrement"`
	At       time.Time `bun:"at"`
	Actor    string    `bun:"actor"`
	Action   string    `bun:"action"`
	Target   string    `bun:"target"`
	Details  string    `bun:"details"`
	PrevHash string    `bun:"prev_hash"`
	Hash     string    `bun:"hash"`
}

// Audit implements paywire.AuditLog. The entry is appended to the hash
// chain (see appendAudit) in a transaction of its own.
func (db *DB) Audit(ctx context.Context, e *paywire.AuditEntry) error {
	const op = "store/DB.Audit"
	err := db.inTx(ctx, func(tx bun.Tx) error { return appendAudit(ctx, tx, db.now(), e) })
	return classify(op, err, "")
}

// AuditEntries implements paywire.AuditLog.
func (db *DB) AuditEntries(ctx context.Context, before int64, limit int) ([]paywire.AuditEntry, error) {
	var rows []auditRow
	q := db.bun.NewSelect().Model(&rows).Order("id DESC").Limit(int64(limit))
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify("store/DB.AuditEntries", err, "")
	}
	return auditEntries(rows), nil
}

// auditEntries are the entries of audit rows.
func auditEntries(rows []auditRow) []paywire.AuditEntry {
	out := make([]paywire.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = paywire.AuditEntry{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Target: r.Target, Details: json.RawMessage(r.Details)}
	}
	return out
}
