package paywire

import (
	"context"
	"slices"
	"time"
)

// Merchant is a tenant: a business that starts payments for its end users.
// Everything a merchant can see or change is scoped by its ID.
type Merchant struct {
	ID   string
	Name string
	// Disabled merchants cannot authenticate.
	Disabled bool
	// NotificationURL receives state-change notifications; empty for none.
	NotificationURL string
	// NotificationFormat is "soap" (PaymentServiceListener) or "json".
	NotificationFormat string
	// ReturnURLPrefixes is the allowlist that redirect return URLs must
	// start with.
	ReturnURLPrefixes []string
	// AllowLocalhostHTTP admits http://localhost return URLs (demo and
	// development merchants only).
	AllowLocalhostHTTP bool
	// AutoCapture lets the workflow capture an authorization at once when
	// the payment's risk score is at most AutoCaptureMaxScore (0-100).
	AutoCapture         bool
	AutoCaptureMaxScore int
	// AuthorizationTTL is how long an authorization may wait for its
	// capture before it lapses and the reserved funds are released.
	AuthorizationTTL time.Duration
	// CaptureDelay is how long after the authorization an auto-capture
	// happens; 0 at once. It is shorter than the authorization expiry.
	CaptureDelay time.Duration
	// ReviewTTL is how long a payment waits in review before it expires;
	// 0, or longer than the authorization expiry: as long as the
	// authorization lasts (funds are not held longer for a review).
	ReviewTTL time.Duration
	// RiskProfile names the active bundle's risk profile that decides the
	// merchant's payments (thresholds, rule groups switched off); empty for
	// the bundle's default.
	RiskProfile string
	// DisabledMethods are the payment methods the merchant turned off: the
	// availability decision's answer never offers them.
	DisabledMethods []Method
	// WithdrawalApprovals is how many people must approve each of the
	// merchant's withdrawals before any provider pays it out: 0 (none), 1,
	// or 2 (four eyes: the second approver differs from the first).
	WithdrawalApprovals int
	// SigningSecret keys the signatures of result parameters on return
	// URLs and of notifications; generated when the merchant is created.
	SigningSecret string
	// PreviousSigningSecret, while a secret rotates, signs notifications
	// too (a second v1 value), so that merchants can switch at their pace.
	PreviousSigningSecret string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Validate checks a merchant before it is stored.
func (m *Merchant) Validate() error {
	switch {
	case m.ID == "" || len(m.ID) > 64:
		return Errorf(EINVALID, "merchant id must be 1 to 64 characters")
	case !idChars(m.ID):
		return Errorf(EINVALID, "merchant id may contain only a-z, 0-9, '-' and '_'")
	case m.Name == "":
		return Errorf(EINVALID, "merchant name is required")
	case m.NotificationFormat != "" && m.NotificationFormat != "soap" && m.NotificationFormat != "json":
		return Errorf(EINVALID, "notification format must be soap or json")
	case m.AutoCaptureMaxScore < 0 || m.AutoCaptureMaxScore > 100:
		return Errorf(EINVALID, "the auto-capture score limit must be 0 to 100")
	case m.AuthorizationTTL < 0 || m.AuthorizationTTL > 31*24*time.Hour:
		return Errorf(EINVALID, "the authorization expiry must be 0 to 31 days")
	case m.CaptureDelay < 0 || m.CaptureDelay >= m.AuthorizationExpiry():
		return Errorf(EINVALID, "the capture delay must be 0 or more and shorter than the authorization expiry")
	case m.ReviewTTL < 0 || m.ReviewTTL > 31*24*time.Hour:
		return Errorf(EINVALID, "the review expiry must be 0 to 31 days")
	case m.WithdrawalApprovals < 0 || m.WithdrawalApprovals > MaxWithdrawalApprovals:
		return Errorf(EINVALID, "withdrawal approvals must be 0, 1 or 2")
	case len(m.RiskProfile) > 64 || !idChars(m.RiskProfile):
		return Errorf(EINVALID, "a risk profile is a profile name: up to 64 of a-z, 0-9, '-' and '_'")
	}
	for i, x := range m.DisabledMethods {
		if !slices.Contains(Methods, x) || slices.Contains(m.DisabledMethods[:i], x) {
			return Errorf(EINVALID, "disabled methods must be distinct methods: card, bank_redirect, ewallet")
		}
	}
	return nil
}

// MaxWithdrawalApprovals is the most approvals a merchant may ask for.
const MaxWithdrawalApprovals = 2

// Offers reports whether the merchant has method turned on.
func (m *Merchant) Offers(method Method) bool { return !slices.Contains(m.DisabledMethods, method) }

func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DefaultAuthorizationTTL is how long authorizations last for a merchant
// that did not choose: card schemes hold most authorizations for 7 days.
const DefaultAuthorizationTTL = 7 * 24 * time.Hour

// AuthorizationExpiry returns how long the merchant's authorizations last.
func (m *Merchant) AuthorizationExpiry() time.Duration {
	if m.AuthorizationTTL <= 0 {
		return DefaultAuthorizationTTL
	}
	return m.AuthorizationTTL
}

// ReviewExpiry is how long a payment may wait in review: ReviewTTL, at
// most the authorization expiry.
func (m *Merchant) ReviewExpiry() time.Duration {
	if m.ReviewTTL <= 0 || m.ReviewTTL > m.AuthorizationExpiry() {
		return m.AuthorizationExpiry()
	}
	return m.ReviewTTL
}

// MerchantCredential is one API secret of a merchant, kept only as a hash.
// A merchant may hold several at once so that secrets can be rotated.
type MerchantCredential struct {
	ID         string
	MerchantID string
	// SecretHash is a keyed hash ($hmac-sha256$...) or, for credentials
	// issued before keyed hashes and not used since, an argon2id PHC
	// string; the secret itself is never stored.
	SecretHash string
	// Label says what the credential is for ("demo", "rotated from
	// cred_..."); never secret.
	Label     string
	CreatedAt time.Time
	// RevokedAt is zero while valid; a time in the future when a rotation
	// lets the credential overlap with its successor until then.
	RevokedAt time.Time
}

// MerchantStore keeps merchants and their credentials.
type MerchantStore interface {
	// CreateMerchant stores a new merchant. Returns ECONFLICT if the id is
	// taken, EINVALID if it fails Validate.
	CreateMerchant(ctx context.Context, m *Merchant) error

	// Merchant returns the merchant with the given id, or ENOTFOUND.
	Merchant(ctx context.Context, id string) (*Merchant, error)

	// AddMerchantCredential stores a credential for an existing merchant
	// and fills its ID and CreatedAt. Returns ENOTFOUND for an unknown
	// merchant.
	AddMerchantCredential(ctx context.Context, c *MerchantCredential) error

	// MerchantCredentials returns the merchant's credentials that are not
	// revoked yet (including those revoked at a future time), newest first.
	MerchantCredentials(ctx context.Context, merchantID string) ([]MerchantCredential, error)
	// RevokeMerchantCredential makes the merchant's credential id invalid
	// from at on (at or before now: at once). A credential revoked earlier
	// keeps its earlier time. Returns ENOTFOUND for an unknown or already
	// revoked credential, or another merchant's.
	RevokeMerchantCredential(ctx context.Context, merchantID, id string, at time.Time) error
	// ReplaceCredentialHash replaces the hash of credential id if it is
	// still old (compare-and-set), as when an argon2id hash is migrated to a
	// keyed one on first use. Returns ECONFLICT if the hash changed
	// meanwhile, ENOTFOUND for an unknown credential.
	ReplaceCredentialHash(ctx context.Context, id, old, new string) error
	// Merchants returns every merchant, by id.
	Merchants(ctx context.Context) ([]*Merchant, error)
}
