package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Migrations live in migrations/ as NNNN_name.sql, one text for both
// databases; NNNN_name.pg.sql and NNNN_name.sqlite.sql replace it for one
// dialect where the two cannot share a text.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Each migration runs in one transaction together with the row that records
// it, so a migration is either applied and recorded or neither. On
// PostgreSQL a transaction-scoped advisory lock makes nodes that start
// together apply each migration once; SQLite's immediate transactions do the
// same there.
const schemaTableColumns = `version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL`

// migrationLockKey is the PostgreSQL advisory lock key of the migrator
// ("paywire" in ASCII, read as a number).
const migrationLockKey = 0x70617977697265

type migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+?)(\.(pg|sqlite))?\.sql$`)

// migrations returns the migrations for a dialect in version order.
func migrations(d Dialect) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	suffix := map[Dialect]string{Postgres: "pg", SQLite: "sqlite"}[d]
	byVersion := map[int]migration{}
	overridden := map[int]bool{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql or NNNN_name.<pg|sqlite>.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if m[4] != "" && m[4] != suffix {
			continue
		}
		if overridden[v] {
			continue
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if prev, ok := byVersion[v]; ok && m[4] == "" && prev.Name != m[2] {
			return nil, fmt.Errorf("two migrations numbered %04d", v)
		}
		byVersion[v] = migration{Version: v, Name: m[2], SQL: string(body)}
		if m[4] != "" {
			overridden[v] = true
		}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b migration) int { return a.Version - b.Version })
	return out, nil
}

// MigrationStatus says whether one migration is applied.
type MigrationStatus struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time
	// Unknown marks a migration recorded in the database that this binary
	// does not have: the database was migrated by a newer Paywire.
	Unknown bool
}

type appliedRow struct {
	bun.BaseModel `bun:"table:schema_migrations"`
	Version       int       `bun:"version,pk"`
	Name          string    `bun:"name"`
	AppliedAt     time.Time `bun:"applied_at"`
}

// Migrate applies the migrations that the database lacks, each in its own
// transaction. It refuses, changing nothing, a database that records a
// migration this binary does not know (one migrated by a newer binary).
// It returns the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]MigrationStatus, error) {
	all, err := migrations(db.dialect)
	if err != nil {
		return nil, err
	}
	if err := db.ensureSchemaTable(ctx); err != nil {
		return nil, err
	}
	if err := db.refuseNewer(ctx, all); err != nil {
		return nil, err
	}
	var done []MigrationStatus
	for _, m := range all {
		applied := false
		err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := db.lockMigrations(ctx, tx); err != nil {
				return err
			}
			n, err := tx.NewSelect().Model((*appliedRow)(nil)).Where("version = ?", m.Version).Count(ctx)
			if err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			row := &appliedRow{Version: m.Version, Name: m.Name, AppliedAt: db.now()}
			if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("migration %04d_%s failed and was rolled back: %v", m.Version, m.Name, err)
		}
		if applied {
			done = append(done, MigrationStatus{Version: m.Version, Name: m.Name, Applied: true})
		}
	}
	return done, nil
}

func (db *DB) lockMigrations(ctx context.Context, tx bun.Tx) error {
	if db.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrationLockKey)
	return err
}

func (db *DB) ensureSchemaTable(ctx context.Context) error {
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations ("+schemaTableColumns+")")
		return err
	})
}

func (db *DB) refuseNewer(ctx context.Context, known []migration) error {
	st, err := db.status(ctx, known)
	if err != nil {
		return err
	}
	for _, s := range st {
		if s.Unknown {
			return fmt.Errorf("the database has migration %04d_%s, which this binary does not know: it was migrated by a newer Paywire; run that version or newer", s.Version, s.Name)
		}
	}
	return nil
}

// MigrationStatus lists every migration this binary knows, and any the
// database records that it does not know, in version order.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	all, err := migrations(db.dialect)
	if err != nil {
		return nil, err
	}
	return db.status(ctx, all)
}

func (db *DB) status(ctx context.Context, known []migration) ([]MigrationStatus, error) {
	var rows []appliedRow
	if err := db.bun.NewSelect().Model(&rows).Order("version").Scan(ctx); err != nil {
		if isMissingTable(err) {
			rows = nil
		} else {
			return nil, fmt.Errorf("reading schema_migrations: %v", err)
		}
	}
	applied := map[int]appliedRow{}
	for _, r := range rows {
		applied[r.Version] = r
	}
	var out []MigrationStatus
	for _, m := range known {
		s := MigrationStatus{Version: m.Version, Name: m.Name}
		if r, ok := applied[m.Version]; ok {
			s.Applied, s.AppliedAt = true, r.AppliedAt
			delete(applied, m.Version)
		}
		out = append(out, s)
	}
	for _, r := range rows {
		if _, ok := applied[r.Version]; ok {
			out = append(out, MigrationStatus{Version: r.Version, Name: r.Name, Applied: true, AppliedAt: r.AppliedAt, Unknown: true})
		}
	}
	slices.SortFunc(out, func(a, b MigrationStatus) int { return a.Version - b.Version })
	return out, nil
}

// CheckMigrations returns nil when every migration this binary knows is
// applied and the database records none it does not know; /readyz uses it.
func (db *DB) CheckMigrations(ctx context.Context) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, s := range st {
		switch {
		case s.Unknown:
			return fmt.Errorf("database has migration %04d_%s from a newer binary", s.Version, s.Name)
		case !s.Applied:
			return fmt.Errorf("migration %04d_%s is not applied", s.Version, s.Name)
		}
	}
	return nil
}

func isMissingTable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "does not exist")
}
