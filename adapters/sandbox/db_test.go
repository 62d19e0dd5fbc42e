package sandbox_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/paywire/paywire/adapters/sandbox"
)

// postgresEnv names the environment variable with a PostgreSQL DSN; when
// it is set, every database test runs on PostgreSQL as well as SQLite.
const postgresEnv = "PAYWIRE_TEST_POSTGRES"

// opener returns a new database with the sandbox's tables, of one kind.
type opener func(t testing.TB) *bun.DB

// eachDB runs fn as a subtest on SQLite and, when PAYWIRE_TEST_POSTGRES is
// set, on PostgreSQL. A set DSN that cannot be used fails the test.
func eachDB(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite) })
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t testing.TB) *bun.DB { return openPostgres(t, dsn) })
	})
}

// openSQLite opens a new SQLite file as the store does: WAL, a busy
// timeout, and immediate transactions that serialise writers.
func openSQLite(t testing.TB) *bun.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sandbox.db")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	return migrated(t, bun.NewDB(sqldb, sqlitedialect.New()))
}

// openPostgres creates a schema of its own, dropped when the test ends,
// and opens the database with it as the search path.
func openPostgres(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "sbx_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s cannot be used: %v", postgresEnv, err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	sqldb, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	return migrated(t, bun.NewDB(sqldb, pgdialect.New()))
}

func migrated(t testing.TB, db *bun.DB) *bun.DB {
	t.Helper()
	t.Cleanup(func() { db.Close() })
	// Twice: every node runs it at start, on tables that may exist.
	for range 2 {
		if err := sandbox.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
	return db
}
