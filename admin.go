package paywire

import (
	"context"
	"slices"
	"time"
)

// Role is what a back-office user may do. Every page and every action of
// the back office names the roles allowed to it, and the server checks
// them on every request.
type Role string

const (
	RoleAdmin       Role = "admin"        // everything, users and configuration included
	RoleRiskAnalyst Role = "risk_analyst" // reviews, lists, risk explanations, reports
	RoleCompliance  Role = "compliance"   // reads everything, the audit log included; approves
	RoleSupport     Role = "support"      // payments: look up, capture, cancel, refund, resend
	RoleViewer      Role = "viewer"       // reads payments and reports
)

// Roles lists every role, in the order they are documented.
var Roles = []Role{RoleAdmin, RoleRiskAnalyst, RoleCompliance, RoleSupport, RoleViewer}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// AdminUser is a back-office user.
type AdminUser struct {
	ID           string
	Username     string
	PasswordHash string   // PHC-formatted argon2id hash
	Roles        []string // Role values
	Disabled     bool
	// TOTPSecret is the base32 secret of the user's second factor (RFC
	// 6238); empty when the user has none.
	TOTPSecret string
	CreatedAt  time.Time
}

// Has reports whether the user holds one of roles.
func (u *AdminUser) Has(roles ...Role) bool {
	for _, r := range roles {
		if slices.Contains(u.Roles, string(r)) {
			return true
		}
	}
	return false
}

// ValidUsername reports whether name is a username: 1 to 64 of a-z, 0-9,
// '.', '-', '_'.
func ValidUsername(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CheckRoles returns EINVALID unless roles is a non-empty set of defined
// roles.
func CheckRoles(roles []string) error {
	if len(roles) == 0 {
		return Errorf(EINVALID, "a user needs at least one role")
	}
	for _, r := range roles {
		if !Role(r).Valid() {
			return Errorf(EINVALID, "unknown role %q (roles: admin, risk_analyst, compliance, support, viewer)", truncate(r, 32))
		}
	}
	return nil
}

// AdminStore keeps back-office users.
type AdminStore interface {
	// CreateAdminUser stores a user and fills ID and CreatedAt. Returns
	// ECONFLICT if the username is taken, EINVALID for a bad username or
	// role.
	CreateAdminUser(ctx context.Context, u *AdminUser) error

	// AdminUserByName returns the user with that username, or ENOTFOUND.
	AdminUserByName(ctx context.Context, username string) (*AdminUser, error)

	// AdminUsers returns every user, by username.
	AdminUsers(ctx context.Context) ([]*AdminUser, error)

	// SetAdminPassword replaces the user's password hash. Returns ENOTFOUND
	// for an unknown user.
	SetAdminPassword(ctx context.Context, username, passwordHash string) error

	// UpdateAdminUser replaces the user's roles, disabled flag and TOTP
	// secret, with an audit entry in the same transaction; disabling a
	// user ends their sessions. Returns ENOTFOUND for an unknown user.
	UpdateAdminUser(ctx context.Context, u *AdminUser, audit *AuditEntry) error
}

// AdminSession is a signed-in back-office user's session. The token the
// browser holds is never stored: IDHash is its SHA-256.
type AdminSession struct {
	IDHash string
	UserID string
	// CSRF is the token every form of the session carries.
	CSRF string
	// SecondFactorPending: the password was right, the TOTP code is still
	// to come; such a session opens no page but the code's.
	SecondFactorPending bool
	CreatedAt           time.Time
	LastSeenAt          time.Time
	ExpiresAt           time.Time // absolute end, whatever the activity
}

// AdminSessionStore keeps back-office sessions, shared by every node.
type AdminSessionStore interface {
	// CreateAdminSession stores a new session.
	CreateAdminSession(ctx context.Context, s *AdminSession) error
	// AdminSession returns the session with that hash and its user, or
	// ENOTFOUND.
	AdminSession(ctx context.Context, idHash string) (*AdminSession, *AdminUser, error)
	// TouchAdminSession records activity at at and, with secondFactorDone,
	// that the second factor was given.
	TouchAdminSession(ctx context.Context, idHash string, at time.Time, secondFactorDone bool) error
	// DeleteAdminSession ends a session; ending one that is gone is no
	// error.
	DeleteAdminSession(ctx context.Context, idHash string) error
	// DeleteExpiredAdminSessions removes sessions that ended before at and
	// returns how many.
	DeleteExpiredAdminSessions(ctx context.Context, at time.Time) (int, error)
}
