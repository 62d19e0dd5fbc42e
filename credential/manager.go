package credential

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// MaxOverlap is the longest a rotated secret may stay valid beside its
// successor.
const MaxOverlap = 30 * 24 * time.Hour

// Manager creates merchants and issues, rotates, revokes and lists their
// API credentials, writing an audit entry for each change. The CLI and the
// operator API both go through it. Secrets are returned once, when issued,
// and stored only as keyed hashes.
type Manager struct {
	Merchants paywire.MerchantStore
	Audit     paywire.AuditLog
	Keyed     *Keyed
	Now       func() time.Time // the store's clock; nil: time.Now
}

// Issued is a credential just made, with its secret (shown once).
type Issued struct {
	Credential paywire.MerchantCredential
	Secret     string
}

// CreateMerchant stores m and issues its first API secret. Returns
// ECONFLICT if the id is taken, EINVALID if m fails Validate.
func (mg *Manager) CreateMerchant(ctx context.Context, actor string, m *paywire.Merchant) (Issued, error) {
	if err := checkMerchantURLs(m); err != nil {
		return Issued{}, err
	}
	if err := mg.Merchants.CreateMerchant(ctx, m); err != nil {
		return Issued{}, err
	}
	if err := mg.audit(ctx, actor, "merchant.create", m.ID, map[string]any{
		"name": m.Name, "return_url_prefixes": m.ReturnURLPrefixes, "notification_url": m.NotificationURL,
		"notification_format": m.NotificationFormat}); err != nil {
		return Issued{}, err
	}
	return mg.Issue(ctx, actor, m.ID, "")
}

// Issue makes a new API secret for the merchant. Returns ENOTFOUND for an
// unknown merchant.
func (mg *Manager) Issue(ctx context.Context, actor, merchantID, label string) (Issued, error) {
	return mg.issue(ctx, actor, merchantID, label, NewAPISecret())
}

// IssueSecret stores secret, chosen by the caller (the demo merchant's
// PAYWIRE_DEMO_SECRET), as a credential of the merchant.
func (mg *Manager) IssueSecret(ctx context.Context, actor, merchantID, label, secret string) (Issued, error) {
	if secret == "" || len(secret) > 256 {
		return Issued{}, paywire.Errorf(paywire.EINVALID, "an API secret must be 1 to 256 bytes")
	}
	return mg.issue(ctx, actor, merchantID, label, secret)
}

func (mg *Manager) issue(ctx context.Context, actor, merchantID, label, secret string) (Issued, error) {
	if len(label) > 200 {
		return Issued{}, paywire.Errorf(paywire.EINVALID, "a credential label is at most 200 bytes")
	}
	if _, err := mg.Merchants.Merchant(ctx, merchantID); err != nil {
		return Issued{}, err
	}
	c := paywire.MerchantCredential{MerchantID: merchantID, SecretHash: mg.Keyed.Hash(secret), Label: label}
	if err := mg.Merchants.AddMerchantCredential(ctx, &c); err != nil {
		return Issued{}, err
	}
	if err := mg.audit(ctx, actor, "credential.issue", merchantID, map[string]any{"credential_id": c.ID, "label": label}); err != nil {
		return Issued{}, err
	}
	return Issued{Credential: c, Secret: secret}, nil
}

// Rotate issues a new secret in place of credential id, which stays valid
// for overlap (0 to MaxOverlap) and is revoked then. Returns ENOTFOUND for
// an unknown or revoked credential.
func (mg *Manager) Rotate(ctx context.Context, actor, merchantID, id string, overlap time.Duration) (Issued, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return Issued{}, paywire.Errorf(paywire.EINVALID, "the overlap must be 0 to %s", MaxOverlap)
	}
	old, err := mg.find(ctx, merchantID, id)
	if err != nil {
		return Issued{}, err
	}
	label := old.Label
	if label == "" {
		label = "rotated from " + id
	}
	issued, err := mg.Issue(ctx, actor, merchantID, label)
	if err != nil {
		return Issued{}, err
	}
	now := time.Now
	if mg.Now != nil {
		now = mg.Now
	}
	until := now().Add(overlap).UTC()
	if err := mg.Merchants.RevokeMerchantCredential(ctx, merchantID, id, until); err != nil {
		return Issued{}, err
	}
	return issued, mg.audit(ctx, actor, "credential.rotate", merchantID, map[string]any{
		"credential_id": id, "successor_id": issued.Credential.ID, "revoked_at": until.Format(time.RFC3339)})
}

// Revoke makes credential id invalid at once. Returns ENOTFOUND for an
// unknown or revoked credential.
func (mg *Manager) Revoke(ctx context.Context, actor, merchantID, id string) error {
	if err := mg.Merchants.RevokeMerchantCredential(ctx, merchantID, id, time.Time{}); err != nil {
		return err
	}
	return mg.audit(ctx, actor, "credential.revoke", merchantID, map[string]any{"credential_id": id})
}

// List returns the merchant's valid credentials (including those whose
// rotation overlap runs), newest first, without their hashes. Returns
// ENOTFOUND for an unknown merchant.
func (mg *Manager) List(ctx context.Context, merchantID string) ([]paywire.MerchantCredential, error) {
	if _, err := mg.Merchants.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	cs, err := mg.Merchants.MerchantCredentials(ctx, merchantID)
	for i := range cs {
		cs[i].SecretHash = ""
	}
	return cs, err
}

func (mg *Manager) find(ctx context.Context, merchantID, id string) (*paywire.MerchantCredential, error) {
	cs, err := mg.Merchants.MerchantCredentials(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ID == id {
			return &c, nil
		}
	}
	return nil, paywire.Errorf(paywire.ENOTFOUND, "the merchant has no valid credential %s", id)
}

func (mg *Manager) audit(ctx context.Context, actor, action, target string, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	return mg.Audit.Audit(ctx, &paywire.AuditEntry{Actor: actor, Action: action, Target: target, Details: b})
}

// checkMerchantURLs checks the URLs a new merchant names: absolute https
// URLs (http only on a loopback host), without query or fragment; return
// URL prefixes end with "/", so that a prefix cannot match a longer host or
// path segment.
func checkMerchantURLs(m *paywire.Merchant) error {
	if len(m.ReturnURLPrefixes) > 20 {
		return paywire.Errorf(paywire.EINVALID, "at most 20 return URL prefixes")
	}
	for _, p := range m.ReturnURLPrefixes {
		if err := checkURL(p); err != nil || !strings.HasSuffix(p, "/") {
			return paywire.Errorf(paywire.EINVALID, "return URL prefix %q is not an https URL ending with /", truncate(p))
		}
	}
	if m.NotificationURL != "" && checkURL(m.NotificationURL) != nil {
		return paywire.Errorf(paywire.EINVALID, "notification URL %q is not an https URL", truncate(m.NotificationURL))
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 512 || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "..") {
		return paywire.Errorf(paywire.EINVALID, "bad URL")
	}
	loopback := u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return paywire.Errorf(paywire.EINVALID, "bad URL")
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
