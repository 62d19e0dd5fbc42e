package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type adminUserRow struct {
	bun.BaseModel `bun:"table:admin_users"`

	ID           string    `bun:"id,pk"`
	Username     string    `bun:"username"`
	PasswordHash string    `bun:"password_hash"`
	Roles        string    `bun:"roles"`
	Disabled     bool      `bun:"disabled"`
	TOTPSecret   string    `bun:"totp_secret"`
	CreatedAt    time.Time `bun:"created_at"`
}

func (r *adminUserRow) user() (*paywire.AdminUser, error) {
	u := &paywire.AdminUser{ID: r.ID, Username: r.Username, PasswordHash: r.PasswordHash, Disabled: r.Disabled,
		TOTPSecret: r.TOTPSecret, CreatedAt: r.CreatedAt.UTC()}
	return u, json.Unmarshal([]byte(r.Roles), &u.Roles)
}

// CreateAdminUser implements paywire.AdminStore.
func (db *DB) CreateAdminUser(ctx context.Context, u *paywire.AdminUser) error {
	const op = "store/DB.CreateAdminUser"
	switch {
	case !paywire.ValidUsername(u.Username):
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a username is 1 to 64 of a-z, 0-9, '.', '-' and '_'"}
	case u.PasswordHash == "":
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a password hash is required"}
	}
	if err := paywire.CheckRoles(u.Roles); err != nil {
		return classify(op, err, "")
	}
	if u.ID == "" {
		u.ID = paywire.NewID("adm_")
	}
	u.CreatedAt = db.now()
	roles, err := jsonText(u.Roles)
	if err != nil {
		return classify(op, err, "")
	}
	row := &adminUserRow{ID: u.ID, Username: u.Username, PasswordHash: u.PasswordHash, Roles: roles, Disabled: u.Disabled,
		TOTPSecret: u.TOTPSecret, CreatedAt: u.CreatedAt}
	_, err = db.bun.NewInsert().Model(row).Exec(ctx)
	return classify(op, err, "an admin user with this username exists")
}

// AdminUserByName implements paywire.AdminStore.
func (db *DB) AdminUserByName(ctx context.Context, username string) (*paywire.AdminUser, error) {
	const op = "store/DB.AdminUserByName"
	row := new(adminUserRow)
	if err := db.bun.NewSelect().Model(row).Where("username = ?", username).Scan(ctx); err != nil {
		return nil, notFound(op, err, "admin user not found")
	}
	u, err := row.user()
	return u, classify(op, err, "")
}

// AdminUsers implements paywire.AdminStore.
func (db *DB) AdminUsers(ctx context.Context) ([]*paywire.AdminUser, error) {
	const op = "store/DB.AdminUsers"
	var rows []adminUserRow
	if err := db.bun.NewSelect().Model(&rows).Order("username").Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]*paywire.AdminUser, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, classify(op, err, "")
		}
		out[i] = u
	}
	return out, nil
}

// SetAdminPassword implements paywire.AdminStore.
func (db *DB) SetAdminPassword(ctx context.Context, username, passwordHash string) error {
	const op = "store/DB.SetAdminPassword"
	if passwordHash == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a password hash is required"}
	}
	res, err := db.bun.NewUpdate().Model((*adminUserRow)(nil)).
		Set("password_hash = ?", passwordHash).Where("username = ?", username).Exec(ctx)
	return oneRow(op, res, err, "admin user not found")
}

// UpdateAdminUser implements paywire.AdminStore.
func (db *DB) UpdateAdminUser(ctx context.Context, u *paywire.AdminUser, audit *paywire.AuditEntry) error {
	const op = "store/DB.UpdateAdminUser"
	if err := paywire.CheckRoles(u.Roles); err != nil {
		return classify(op, err, "")
	}
	roles, err := jsonText(u.Roles)
	if err != nil {
		return classify(op, err, "")
	}
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*adminUserRow)(nil)).
			Set("roles = ?", roles).Set("disabled = ?", u.Disabled).Set("totp_secret = ?", u.TOTPSecret).
			Where("id = ?", u.ID).Exec(ctx)
		if err := oneRow(op, res, err, "admin user not found"); err != nil {
			return err
		}
		if u.Disabled {
			if _, err := tx.NewDelete().Model((*adminSessionRow)(nil)).Where("user_id = ?", u.ID).Exec(ctx); err != nil {
				return classify(op, err, "")
			}
		}
		if audit == nil {
			return nil
		}
		return appendAudit(ctx, tx, db.now(), audit)
	})
}

type adminSessionRow struct {
	bun.BaseModel `bun:"table:admin_sessions"`

	IDHash              string    `bun:"id_hash,pk"`
	UserID              string    `bun:"user_id"`
	CSRF                string    `bun:"csrf_token"`
	SecondFactorPending bool      `bun:"second_factor_pending"`
	CreatedAt           time.Time `bun:"created_at"`
	LastSeenAt          time.Time `bun:"last_seen_at"`
	ExpiresAt           time.Time `bun:"expires_at"`
}

// CreateAdminSession implements paywire.AdminSessionStore.
func (db *DB) CreateAdminSession(ctx context.Context, s *paywire.AdminSession) error {
	const op = "store/DB.CreateAdminSession"
	if s.IDHash == "" || s.UserID == "" || s.CSRF == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a session needs its hash, user and CSRF token"}
	}
	row := &adminSessionRow{IDHash: s.IDHash, UserID: s.UserID, CSRF: s.CSRF, SecondFactorPending: s.SecondFactorPending,
		CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt}
	_, err := db.bun.NewInsert().Model(row).Exec(ctx)
	return classify(op, err, "")
}

// AdminSession implements paywire.AdminSessionStore.
func (db *DB) AdminSession(ctx context.Context, idHash string) (*paywire.AdminSession, *paywire.AdminUser, error) {
	const op = "store/DB.AdminSession"
	row := new(adminSessionRow)
	if err := db.bun.NewSelect().Model(row).Where("id_hash = ?", idHash).Scan(ctx); err != nil {
		return nil, nil, notFound(op, err, "session not found")
	}
	urow := new(adminUserRow)
	if err := db.bun.NewSelect().Model(urow).Where("id = ?", row.UserID).Scan(ctx); err != nil {
		return nil, nil, notFound(op, err, "session not found")
	}
	u, err := urow.user()
	if err != nil {
		return nil, nil, classify(op, err, "")
	}
	return &paywire.AdminSession{IDHash: row.IDHash, UserID: row.UserID, CSRF: row.CSRF, SecondFactorPending: row.SecondFactorPending,
		CreatedAt: row.CreatedAt.UTC(), LastSeenAt: row.LastSeenAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, u, nil
}

// TouchAdminSession implements paywire.AdminSessionStore.
func (db *DB) TouchAdminSession(ctx context.Context, idHash string, at time.Time, secondFactorDone bool) error {
	const op = "store/DB.TouchAdminSession"
	q := db.bun.NewUpdate().Model((*adminSessionRow)(nil)).Set("last_seen_at = ?", at).Where("id_hash = ?", idHash)
	if secondFactorDone {
		q = q.Set("second_factor_pending = ?", false)
	}
	res, err := q.Exec(ctx)
	return oneRow(op, res, err, "session not found")
}

// DeleteAdminSession implements paywire.AdminSessionStore.
func (db *DB) DeleteAdminSession(ctx context.Context, idHash string) error {
	_, err := db.bun.NewDelete().Model((*adminSessionRow)(nil)).Where("id_hash = ?", idHash).Exec(ctx)
	return classify("store/DB.DeleteAdminSession", err, "")
}

// DeleteExpiredAdminSessions implements paywire.AdminSessionStore.
func (db *DB) DeleteExpiredAdminSessions(ctx context.Context, at time.Time) (int, error) {
	res, err := db.bun.NewDelete().Model((*adminSessionRow)(nil)).Where("expires_at < ?", at).Exec(ctx)
	if err != nil {
		return 0, classify("store/DB.DeleteExpiredAdminSessions", err, "")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// oneRow classifies the result of a statement that must change one row:
// none is ENOTFOUND with notFoundMsg.
func oneRow(op string, res sql.Result, err error, notFoundMsg string) error {
	if err != nil {
		return classify(op, err, "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(op, err, "")
	}
	if n == 0 {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: notFoundMsg}
	}
	return nil
}
