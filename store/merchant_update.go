package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paywire/paywire"
)

// UpdateMerchant stores the settings of m (name, disabled, notification URL
// and format, return URL prefixes, localhost, auto-capture and its score
// limit, authorization expiry, risk profile) if the merchant is still as
// m.UpdatedAt says it was read, and writes audit, if given, in the same
// transaction. The signing secrets and the creation time are not changed
// here (RotateSigningSecret changes the secrets). On success m.UpdatedAt is
// the new time of the row. Returns EINVALID if m fails Validate, ENOTFOUND
// for an unknown merchant, ECONFLICT if it was changed since m was read.
func (db *DB) UpdateMerchant(ctx context.Context, m *paywire.Merchant, audit *paywire.AuditEntry) error {
	const op = "store/DB.UpdateMerchant"
	if m.NotificationFormat == "" {
		m.NotificationFormat = "soap"
	}
	if err := m.Validate(); err != nil {
		return classify(op, err, "")
	}
	prefixes, err := jsonText(m.ReturnURLPrefixes)
	if err != nil {
		return classify(op, err, "")
	}
	disabled, err := jsonText(m.DisabledMethods)
	if err != nil {
		return classify(op, err, "")
	}
	now := db.now()
	var at time.Time
	err = db.inTx(ctx, func(tx bun.Tx) error {
		row, err := lockMerchant(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		if !row.UpdatedAt.Equal(utc(m.UpdatedAt)) {
			return paywire.Errorf(paywire.ECONFLICT, "merchant %s was changed by someone else since it was read: reload it and make the change again", m.ID)
		}
		at = nextUpdate(row.UpdatedAt, now)
		_, err = tx.NewUpdate().Model((*merchantRow)(nil)).
			Set("name = ?", m.Name).Set("disabled = ?", m.Disabled).
			Set("notification_url = ?", m.NotificationURL).Set("notification_format = ?", m.NotificationFormat).
			Set("return_url_prefixes = ?", prefixes).Set("allow_localhost_http = ?", m.AllowLocalhostHTTP).
			Set("auto_capture = ?", m.AutoCapture).Set("auto_capture_max_score = ?", m.AutoCaptureMaxScore).
			Set("authorization_ttl_seconds = ?", int64(m.AuthorizationExpiry()/time.Second)).
			Set("risk_profile = ?", m.RiskProfile).Set("disabled_methods = ?", disabled).
			Set("capture_delay_seconds = ?", int64(m.CaptureDelay/time.Second)).Set("review_ttl_seconds = ?", int64(m.ReviewTTL/time.Second)).
			Set("withdrawal_approvals = ?", m.WithdrawalApprovals).Set("updated_at = ?", at).
			Where("id = ?", m.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if audit == nil {
			return nil
		}
		return appendAudit(ctx, tx, now, audit)
	})
	if err != nil {
		return notFound(op, err, "merchant not found")
	}
	m.UpdatedAt = at
	return nil
}

// RotateSigningSecret gives merchant id a new signing secret and keeps the
// current one as its previous secret, which signs notifications beside the
// new one until the next rotation; audit, if given, is written in the same
// transaction (it should not hold either secret). Returns the merchant as
// stored after the rotation (with the new secret), or ENOTFOUND.
func (db *DB) RotateSigningSecret(ctx context.Context, id string, audit *paywire.AuditEntry) (*paywire.Merchant, error) {
	const op = "store/DB.RotateSigningSecret"
	now := db.now()
	secret := newSigningSecret()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		row, err := lockMerchant(ctx, tx, id)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*merchantRow)(nil)).
			Set("previous_signing_secret = ?", row.SigningSecret).Set("signing_secret = ?", secret).
			Set("updated_at = ?", nextUpdate(row.UpdatedAt, now)).
			Where("id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		if audit == nil {
			return nil
		}
		return appendAudit(ctx, tx, now, audit)
	})
	if err != nil {
		return nil, notFound(op, err, "merchant not found")
	}
	return db.Merchant(ctx, id)
}

// lockMerchant reads merchant id in tx, locked to the end of tx on
// PostgreSQL (SQLite runs one writing transaction at a time already), so
// that a check of the row and the update that follows it are one step.
func lockMerchant(ctx context.Context, tx bun.Tx, id string) (*merchantRow, error) {
	row := new(merchantRow)
	q := tx.NewSelect().Model(row).Where("id = ?", id)
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	row.UpdatedAt = utc(row.UpdatedAt)
	return row, nil
}

// nextUpdate is the updated_at a change sets: now, but always later than
// the time it replaces, so that a form read before the change is refused
// even when both fall in the same microsecond (or the clock went back).
func nextUpdate(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Microsecond)
}

func newSigningSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "whsec_" + hex.EncodeToString(b[:])
}
