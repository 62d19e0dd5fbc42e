// Package storetest runs tests against every database Paywire supports:
// SQLite always, and PostgreSQL when PAYWIRE_TEST_POSTGRES holds a DSN. Each
// database a test gets is new and migrated (a temporary SQLite file, or a
// PostgreSQL schema of its own that is dropped afterwards), so tests and
// parallel runs never see each other's rows.
//
// Contract holds the contract suite of package store; other packages use
// ForEachDatabase for their own tests on real databases.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// PostgresEnv names the environment variable holding the PostgreSQL DSN
// for tests, for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "PAYWIRE_TEST_POSTGRES"

// ForEachDatabase runs fn as a subtest on a new SQLite database and, when
// PAYWIRE_TEST_POSTGRES is set, on a new PostgreSQL schema. A set DSN that
// cannot be reached fails the test: it is never skipped.
func ForEachDatabase(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, NewSQLite(t)) })
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Logf("%s is not set; PostgreSQL is not tested", PostgresEnv)
		return
	}
	t.Run("postgres", func(t *testing.T) { fn(t, NewPostgres(t, dsn)) })
}

// NewSQLite returns a migrated database in a temporary file.
func NewSQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "paywire.db"))
}

// NewPostgres creates a schema of its own in the database named by dsn,
// returns a migrated store that works in it, and drops it when the test ends.
func NewPostgres(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	schema := "pwtest_" + paywire.NewID("")[:16]
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s cannot be used (%s is set, so this fails rather than skips): %v", PostgresEnv, PostgresEnv, err)
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
		t.Fatalf("%s must be a postgres:// URL: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return open(t, u.String())
}

func open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// SeedMerchant stores a merchant with the given id and returns it.
func SeedMerchant(t testing.TB, db *store.DB, id string) *paywire.Merchant {
	t.Helper()
	m := &paywire.Merchant{ID: id, Name: "Merchant " + id, ReturnURLPrefixes: []string{"https://" + id + ".example/"}}
	if err := db.CreateMerchant(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// SeedPayment stores a 10.00 EUR deposit of the merchant and returns it.
func SeedPayment(t testing.TB, db *store.DB, merchantID, reference string) *paywire.Payment {
	t.Helper()
	amt, err := paywire.NewMoney(1000, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	p := &paywire.Payment{
		MerchantID: merchantID, MerchantReference: reference, Kind: paywire.KindDeposit, Amount: amt,
		EndUser: paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE", IP: "192.0.2.1", Language: "de"},
	}
	if err := db.CreatePayment(context.Background(), p); err != nil {
		t.Fatal(fmt.Errorf("seeding payment: %w", err))
	}
	return p
}
