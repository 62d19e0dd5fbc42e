package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

var _ paywire.ShadowStore = (*DB)(nil)

type policyShadowRow struct {
	bun.BaseModel `bun:"table:policy_shadows"`

	ID         int64     `bun:"id,pk"`
	Revision   int64     `bun:"revision"`
	State      string    `bun:"state"`
	StartedBy  string    `bun:"started_by"`
	StartedAt  time.Time `bun:"started_at"`
	StoppedBy  string    `bun:"stopped_by"`
	StoppedAt  time.Time `bun:"stopped_at,nullzero"`
	StopReason string    `bun:"stop_reason"`
}

func (r *policyShadowRow) shadow() *paywire.PolicyShadow {
	return &paywire.PolicyShadow{ID: r.ID, Revision: r.Revision, StartedBy: r.StartedBy, StartedAt: r.StartedAt.UTC(),
		StoppedBy: r.StoppedBy, StoppedAt: utcOrZero(r.StoppedAt), StopReason: r.StopReason}
}

type shadowCountRow struct {
	bun.BaseModel `bun:"table:policy_shadow_counts"`

	ShadowID int64  `bun:"shadow_id,pk"`
	Point    string `bun:"point,pk"`
	Result   string `bun:"result,pk"`
	N        int64  `bun:"n"`
}

type shadowDisagreementRow struct {
	bun.BaseModel `bun:"table:policy_shadow_disagreements"`

	ID             int64     `bun:"id,pk,autoincrement"`
	ShadowID       int64     `bun:"shadow_id"`
	DecisionID     string    `bun:"decision_id"`
	PaymentID      string    `bun:"payment_id"`
	MerchantID     string    `bun:"merchant_id"`
	Point          string    `bun:"point"`
	LiveRevision   string    `bun:"live_revision"`
	LiveOutcome    string    `bun:"live_outcome"`
	ShadowRevision string    `bun:"shadow_revision"`
	ShadowOutcome  string    `bun:"shadow_outcome"`
	At             time.Time `bun:"at"`
}

// runningShadow reads the running shadow in tx or db; nil when none runs.
func runningShadow(ctx context.Context, q bun.IDB) (*policyShadowRow, error) {
	row := new(policyShadowRow)
	err := q.NewSelect().Model(row).Where("state = 'running'").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return row, nil
}

// StartShadow implements paywire.ShadowStore. The registry row is locked
// first, so that a start is serial with activations: the candidate is
// never the active revision.
func (db *DB) StartShadow(ctx context.Context, revision int64, by string, audit *paywire.AuditEntry) (*paywire.PolicyShadow, error) {
	const op = "store/DB.StartShadow"
	if by == "" {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a shadow needs who starts it"}
	}
	now := db.now()
	var out *paywire.PolicyShadow
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := lockRegistry(ctx, tx); err != nil {
			return err
		}
		var state string
		if err := tx.NewSelect().Table("policy_bundles").Column("state").Where("revision = ?", revision).Scan(ctx, &state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return paywire.Errorf(paywire.ENOTFOUND, "there is no policy bundle revision %d", revision)
			}
			return err
		}
		if state != string(paywire.BundleSubmitted) && state != string(paywire.BundleApproved) {
			return paywire.Errorf(paywire.ECONFLICT, "revision %d is %s: only a submitted or approved revision shadows the active one", revision, state)
		}
		running, err := runningShadow(ctx, tx)
		if err != nil {
			return err
		}
		if running != nil {
			return paywire.Errorf(paywire.ECONFLICT, "revision %d shadows already (since %s, started by %s): stop it first", running.Revision, running.StartedAt.UTC().Format(time.RFC3339), running.StartedBy)
		}
		var last int64
		if err := tx.NewSelect().Table("policy_shadows").ColumnExpr("COALESCE(MAX(id), 0)").Scan(ctx, &last); err != nil {
			return err
		}
		row := &policyShadowRow{ID: last + 1, Revision: revision, State: "running", StartedBy: by, StartedAt: now}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		out = row.shadow()
		return bundleAudit(ctx, tx, now, revision, audit)
	})
	if err != nil {
		return nil, classify(op, err, "another shadow started meanwhile: look at the status and try again")
	}
	return out, nil
}

// StopShadow implements paywire.ShadowStore.
func (db *DB) StopShadow(ctx context.Context, by string, audit *paywire.AuditEntry) (*paywire.PolicyShadow, error) {
	const op = "store/DB.StopShadow"
	if by == "" {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "stopping a shadow needs who stops it"}
	}
	now := db.now()
	var out *paywire.PolicyShadow
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := lockRegistry(ctx, tx); err != nil {
			return err
		}
		row, err := stopShadow(ctx, tx, now, by, "")
		if err != nil {
			return err
		}
		if row == nil {
			return paywire.Errorf(paywire.ECONFLICT, "no revision shadows the active one")
		}
		out = row.shadow()
		return bundleAudit(ctx, tx, now, row.Revision, audit)
	})
	if err != nil {
		return nil, classify(op, err, "")
	}
	return out, nil
}

// stopShadow stops the running shadow in tx, the registry locked; nil when
// none runs.
func stopShadow(ctx context.Context, tx bun.Tx, now time.Time, by, reason string) (*policyShadowRow, error) {
	row, err := runningShadow(ctx, tx)
	if err != nil || row == nil {
		return nil, err
	}
	_, err = tx.NewUpdate().Table("policy_shadows").Set("state = 'stopped'").Set("stopped_by = ?", by).Set("stopped_at = ?", now).
		Set("stop_reason = ?", reason).Where("id = ? AND state = 'running'", row.ID).Exec(ctx)
	if err != nil {
		return nil, err
	}
	row.State, row.StoppedBy, row.StoppedAt, row.StopReason = "stopped", by, now, reason
	return row, nil
}

// stopShadowOfActivated stops the shadow of revision, which by activates
// in tx (the registry locked): a revision does not shadow itself. The stop
// is audited as by's.
func stopShadowOfActivated(ctx context.Context, tx bun.Tx, now time.Time, revision int64, by string) error {
	row, err := runningShadow(ctx, tx)
	if err != nil || row == nil || row.Revision != revision {
		return err
	}
	const reason = "the revision was activated"
	if _, err := stopShadow(ctx, tx, now, by, reason); err != nil {
		return err
	}
	d, err := json.Marshal(map[string]any{"revision": revision, "shadow": row.ID, "reason": reason})
	if err != nil {
		return err
	}
	return bundleAudit(ctx, tx, now, revision, &paywire.AuditEntry{Actor: "admin:" + by, Action: "policy_bundle.shadow_stop", Details: d})
}

// RunningShadow implements paywire.ShadowStore.
func (db *DB) RunningShadow(ctx context.Context) (*paywire.PolicyShadow, error) {
	row, err := runningShadow(ctx, db.bun)
	if err != nil || row == nil {
		return nil, classify("store/DB.RunningShadow", err, "")
	}
	return row.shadow(), nil
}

// Shadows implements paywire.ShadowStore.
func (db *DB) Shadows(ctx context.Context, limit int) ([]paywire.PolicyShadow, error) {
	var rows []policyShadowRow
	if err := db.bun.NewSelect().Model(&rows).Order("id DESC").Limit(int64(max(limit, 1))).Scan(ctx); err != nil {
		return nil, classify("store/DB.Shadows", err, "")
	}
	out := make([]paywire.PolicyShadow, len(rows))
	for i := range rows {
		out[i] = *rows[i].shadow()
	}
	return out, nil
}

// maxShadowText bounds the texts of a disagreement (outcomes are a few
// words; a long provider list is cut).
const maxShadowText = 500

func cut(s string) string {
	if len(s) <= maxShadowText {
		return s
	}
	return strings.ToValidUTF8(s[:maxShadowText], "")
}

// RecordShadow implements paywire.ShadowStore. Counts are added by upsert,
// so that nodes writing at once all count.
func (db *DB) RecordShadow(ctx context.Context, shadow int64, counts []paywire.ShadowCount, ds []paywire.ShadowDisagreement) error {
	const op = "store/DB.RecordShadow"
	for _, c := range counts {
		switch c.Result {
		case paywire.ShadowAgree, paywire.ShadowDisagree, paywire.ShadowError, paywire.ShadowDropped:
		default:
			return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("%q is not a shadow result", c.Result)}
		}
	}
	rows := make([]shadowDisagreementRow, len(ds))
	for i, d := range ds {
		if !auditText(d.LiveOutcome) || !auditText(d.ShadowOutcome) {
			return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "outcomes are text"}
		}
		at := d.At
		if at.IsZero() {
			at = db.now()
		}
		rows[i] = shadowDisagreementRow{ShadowID: shadow, DecisionID: d.DecisionID, PaymentID: d.PaymentID, MerchantID: d.MerchantID,
			Point: d.Point, LiveRevision: d.LiveRevision, LiveOutcome: cut(d.LiveOutcome), ShadowRevision: d.ShadowRevision,
			ShadowOutcome: cut(d.ShadowOutcome), At: at.UTC().Truncate(time.Microsecond)}
	}
	err := db.inTx(ctx, func(tx bun.Tx) error {
		for _, c := range counts {
			if c.N == 0 {
				continue
			}
			_, err := tx.NewInsert().Model(&shadowCountRow{ShadowID: shadow, Point: c.Point, Result: c.Result, N: c.N}).
				On("CONFLICT (shadow_id, point, result) DO UPDATE").Set("n = ?TableAlias.n + EXCLUDED.n").Exec(ctx)
			if err != nil {
				return err
			}
		}
		if len(rows) > 0 {
			if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return classify(op, err, "")
}

// ShadowCounts implements paywire.ShadowStore.
func (db *DB) ShadowCounts(ctx context.Context, shadow int64) ([]paywire.ShadowCount, error) {
	var rows []shadowCountRow
	if err := db.bun.NewSelect().Model(&rows).Where("shadow_id = ?", shadow).Order("point", "result").Scan(ctx); err != nil {
		return nil, classify("store/DB.ShadowCounts", err, "")
	}
	out := make([]paywire.ShadowCount, len(rows))
	for i, r := range rows {
		out[i] = paywire.ShadowCount{Point: r.Point, Result: r.Result, N: r.N}
	}
	return out, nil
}

// ShadowDisagreements implements paywire.ShadowStore.
func (db *DB) ShadowDisagreements(ctx context.Context, f paywire.ShadowFilter) ([]paywire.ShadowDisagreement, error) {
	const op = "store/DB.ShadowDisagreements"
	if f.Shadow <= 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "say which shadow period"}
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var rows []shadowDisagreementRow
	q := db.bun.NewSelect().Model(&rows).Where("shadow_id = ?", f.Shadow).Order("id DESC").Limit(int64(limit))
	if f.Point != "" {
		q = q.Where("point = ?", f.Point)
	}
	if f.MerchantID != "" {
		q = q.Where("merchant_id = ?", f.MerchantID)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.ShadowDisagreement, len(rows))
	for i, r := range rows {
		out[i] = paywire.ShadowDisagreement{ID: r.ID, Shadow: r.ShadowID, DecisionID: r.DecisionID, PaymentID: r.PaymentID,
			MerchantID: r.MerchantID, Point: r.Point, LiveRevision: r.LiveRevision, LiveOutcome: r.LiveOutcome,
			ShadowRevision: r.ShadowRevision, ShadowOutcome: r.ShadowOutcome, At: r.At.UTC()}
	}
	return out, nil
}
