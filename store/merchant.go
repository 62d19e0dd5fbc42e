package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type merchantRow struct {
	bun.BaseModel `bun:"table:merchants"`

	ID                 string    `bun:"id,pk"`
	Name               string    `bun:"name"`
	Disabled           bool      `bun:"disabled"`
	NotificationURL    string    `bun:"notification_url"`
	NotificationFormat string    `bun:"notification_format"`
	ReturnURLPrefixes  string    `bun:"return_url_prefixes"`
	AllowLocalhostHTTP bool      `bun:"allow_localhost_http"`
	SigningSecret      string    `bun:"signing_secret"`
	PreviousSecret     string    `bun:"previous_signing_secret"`
	AutoCapture        bool      `bun:"auto_capture"`
	AutoCaptureMax     int       `bun:"auto_capture_max_score"`
	AuthorizationTTL   int64     `bun:"authorization_ttl_seconds"`
	RiskProfile        string    `bun:"risk_profile"`
	CaptureDelay       int64     `bun:"capture_delay_seconds"`
	ReviewTTL          int64     `bun:"review_ttl_seconds"`
	DisabledMethods    string    `bun:"disabled_methods"`
	Approvals          int       `bun:"withdrawal_approvals"`
	CreatedAt          time.Time `bun:"created_at"`
	UpdatedAt          time.Time `bun:"updated_at"`
}

type credentialRow struct {
	bun.BaseModel `bun:"table:merchant_credentials"`

	ID         string    `bun:"id,pk"`
	MerchantID string    `bun:"merchant_id"`
	SecretHash string    `bun:"secret_hash"`
	Label      string    `bun:"label"`
	CreatedAt  time.Time `bun:"created_at"`
	RevokedAt  time.Time `bun:"revoked_at,nullzero"`
}

// CreateMerchant implements paywire.MerchantStore.
func (db *DB) CreateMerchant(ctx context.Context, m *paywire.Merchant) error {
	const op = "store/DB.CreateMerchant"
	if m.NotificationFormat == "" {
		m.NotificationFormat = "soap"
	}
	if err := m.Validate(); err != nil {
		return classify(op, err, "")
	}
	now := db.now()
	m.CreatedAt, m.UpdatedAt = now, now
	if m.SigningSecret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		m.SigningSecret = "whsec_" + hex.EncodeToString(b[:])
	}
	prefixes, err := jsonText(m.ReturnURLPrefixes)
	if err != nil {
		return classify(op, err, "")
	}
	disabled, err := jsonText(m.DisabledMethods)
	if err != nil {
		return classify(op, err, "")
	}
	row := &merchantRow{DisabledMethods: disabled, CaptureDelay: int64(m.CaptureDelay / time.Second), ReviewTTL: int64(m.ReviewTTL / time.Second),
		ID: m.ID, Name: m.Name, Disabled: m.Disabled, NotificationURL: m.NotificationURL,
		NotificationFormat: m.NotificationFormat, ReturnURLPrefixes: prefixes,
		AllowLocalhostHTTP: m.AllowLocalhostHTTP, SigningSecret: m.SigningSecret, PreviousSecret: m.PreviousSigningSecret,
		AutoCapture: m.AutoCapture, AutoCaptureMax: m.AutoCaptureMaxScore,
		AuthorizationTTL: int64(m.AuthorizationExpiry() / time.Second), RiskProfile: m.RiskProfile,
		Approvals: m.WithdrawalApprovals, CreatedAt: now, UpdatedAt: now,
	}
	_, err = db.bun.NewInsert().Model(row).Exec(ctx)
	return classify(op, err, "a merchant with this id exists")
}

// Merchant implements paywire.MerchantStore.
func (db *DB) Merchant(ctx context.Context, id string) (*paywire.Merchant, error) {
	const op = "store/DB.Merchant"
	row := new(merchantRow)
	if err := db.bun.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(op, err, "merchant not found")
	}
	m := &paywire.Merchant{
		ID: row.ID, Name: row.Name, Disabled: row.Disabled, NotificationURL: row.NotificationURL,
		NotificationFormat: row.NotificationFormat, AllowLocalhostHTTP: row.AllowLocalhostHTTP,
		SigningSecret: row.SigningSecret, PreviousSigningSecret: row.PreviousSecret,
		AutoCapture: row.AutoCapture, AutoCaptureMaxScore: row.AutoCaptureMax,
		AuthorizationTTL: time.Duration(row.AuthorizationTTL) * time.Second, RiskProfile: row.RiskProfile,
		CaptureDelay: time.Duration(row.CaptureDelay) * time.Second, ReviewTTL: time.Duration(row.ReviewTTL) * time.Second,
		WithdrawalApprovals: row.Approvals, CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC(),
	}
	if err := json.Unmarshal([]byte(row.ReturnURLPrefixes), &m.ReturnURLPrefixes); err != nil {
		return nil, classify(op, err, "")
	}
	if err := json.Unmarshal([]byte(row.DisabledMethods), &m.DisabledMethods); err != nil {
		return nil, classify(op, err, "")
	}
	return m, nil
}

// AddMerchantCredential implements paywire.MerchantStore.
func (db *DB) AddMerchantCredential(ctx context.Context, c *paywire.MerchantCredential) error {
	const op = "store/DB.AddMerchantCredential"
	if c.SecretHash == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a credential needs a secret hash"}
	}
	if c.ID == "" {
		c.ID = paywire.NewID("cred_")
	}
	c.CreatedAt = db.now()
	row := &credentialRow{ID: c.ID, MerchantID: c.MerchantID, SecretHash: c.SecretHash, Label: c.Label, CreatedAt: c.CreatedAt}
	_, err := db.bun.NewInsert().Model(row).Exec(ctx)
	if paywire.ErrorCode(classify(op, err, "")) == paywire.ENOTFOUND {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "merchant not found", Err: err}
	}
	return classify(op, err, "credential exists")
}

// MerchantCredentials implements paywire.MerchantStore.
func (db *DB) MerchantCredentials(ctx context.Context, merchantID string) ([]paywire.MerchantCredential, error) {
	var rows []credentialRow
	err := db.bun.NewSelect().Model(&rows).
		Where("merchant_id = ? AND (revoked_at IS NULL OR revoked_at > ?)", merchantID, db.now()).
		Order("created_at DESC", "id").Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.MerchantCredentials", err, "")
	}
	out := make([]paywire.MerchantCredential, len(rows))
	for i, r := range rows {
		out[i] = paywire.MerchantCredential{ID: r.ID, MerchantID: r.MerchantID, SecretHash: r.SecretHash, Label: r.Label, CreatedAt: r.CreatedAt.UTC()}
		if !r.RevokedAt.IsZero() {
			out[i].RevokedAt = r.RevokedAt.UTC()
		}
	}
	return out, nil
}

// RevokeMerchantCredential implements paywire.MerchantStore.
func (db *DB) RevokeMerchantCredential(ctx context.Context, merchantID, id string, at time.Time) error {
	const op = "store/DB.RevokeMerchantCredential"
	now := db.now()
	if at.Before(now) {
		at = now
	}
	at = at.UTC().Truncate(time.Microsecond)
	res, err := db.bun.NewUpdate().Model((*credentialRow)(nil)).Set("revoked_at = ?", at).
		Where("id = ? AND merchant_id = ? AND (revoked_at IS NULL OR revoked_at > ?)", id, merchantID, at).Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, err := res.RowsAffected(); err != nil {
		return classify(op, err, "")
	} else if n == 1 {
		return nil
	}
	// Revoked at an earlier time already: that time stands, unless it has
	// passed, which makes the credential unknown to its merchant's callers.
	n, err := db.bun.NewSelect().Model((*credentialRow)(nil)).
		Where("id = ? AND merchant_id = ? AND revoked_at > ?", id, merchantID, now).Count(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n == 1 {
		return nil
	}
	return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "no such credential, or revoked already"}
}

// ReplaceCredentialHash implements paywire.MerchantStore.
func (db *DB) ReplaceCredentialHash(ctx context.Context, id, old, new string) error {
	const op = "store/DB.ReplaceCredentialHash"
	if new == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a credential needs a secret hash"}
	}
	res, err := db.bun.NewUpdate().Model((*credentialRow)(nil)).Set("secret_hash = ?", new).
		Where("id = ? AND secret_hash = ?", id, old).Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, err := res.RowsAffected(); err != nil {
		return classify(op, err, "")
	} else if n == 1 {
		return nil
	}
	n, err := db.bun.NewSelect().Model((*credentialRow)(nil)).Where("id = ?", id).Count(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n == 0 {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "credential not found"}
	}
	return &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: "the credential's hash changed meanwhile"}
}

// Merchants implements paywire.MerchantStore.
func (db *DB) Merchants(ctx context.Context) ([]*paywire.Merchant, error) {
	var ids []string
	if err := db.bun.NewSelect().Model((*merchantRow)(nil)).Column("id").Order("id").Scan(ctx, &ids); err != nil {
		return nil, classify("store/DB.Merchants", err, "")
	}
	out := make([]*paywire.Merchant, 0, len(ids))
	for _, id := range ids {
		m, err := db.Merchant(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// jsonText encodes v for a JSON column; nil slices become [].
func jsonText[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}
