// Package storetest runs tests against every database Paywire supports:
// SQLite always, and PostgreSQL when PAYWIRE_TEST_POSTGRES holds a DSN. Each
// database a test gets is new and migrated (a temporary SQLite file, or a
// PostgreSQL schema of its own that is dropped afterwards), so tests and
// parallel runs never see each other's rows.
//
// Contract holds the contract suite of package store; other packages use
// ForEachDatabase for their own tests on real databases, and SeedMerchant,
// SeedPayment, CreatePayment and Move to put payments in the state a test
// needs through the same write path as the payment use cases.
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

// SeedPaymentValue returns an unsaved 10.00 EUR deposit of the merchant,
// for CreatePayment or for a test that builds its own creation change.
func SeedPaymentValue(merchantID, reference string) *paywire.Payment {
	amt, _ := paywire.NewMoney(1000, "EUR") // a positive amount in a known currency
	return &paywire.Payment{MerchantID: merchantID, MerchantReference: reference, Kind: paywire.KindDeposit, Amount: amt}
}

// SeedPayment stores a 10.00 EUR deposit of the merchant for end user u1,
// as CreatePayment does, and returns it: created, at version 1.
func SeedPayment(t testing.TB, db *store.DB, merchantID, reference string) *paywire.Payment {
	t.Helper()
	p := SeedPaymentValue(merchantID, reference)
	p.EndUser = paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE", IP: "192.0.2.1", Language: "de"}
	return CreatePayment(t, db, p)
}

// CreatePayment stores the unsaved payment p as the payment use cases
// create one: paywire.Creation by the merchant, now, with the merchant's
// notification of the creation event. It fills p's ID, state, version and
// timestamps and returns p.
func CreatePayment(t testing.TB, db *store.DB, p *paywire.Payment) *paywire.Payment {
	t.Helper()
	// The store keeps times to the microsecond; so does the payment returned.
	c := paywire.Creation(p, paywire.ActorMerchant, time.Now().UTC().Truncate(time.Microsecond))
	c.Notification = paywire.Notification(c.Payment, c.Event)
	if err := db.CreatePayment(context.Background(), c); err != nil {
		t.Fatal(fmt.Errorf("seeding payment: %w", err))
	}
	return p
}

// Move makes the move m of p through the store's write path, as the
// payment use cases do: the change p.Moved computes, with the merchant's
// notification of its event, applied by compare-and-set. An m.At left zero
// is now and an m.Source left empty is the system. It returns the payment
// as stored; p itself is not changed. A move the domain or the store
// refuses fails the test.
//
// A chain of moves seeds a payment in any state, for example
//
//	p := storetest.SeedPayment(t, db, "shop", "order-1")
//	p = storetest.Move(t, db, p, paywire.Move{To: paywire.StateAuthorized})
//	p = storetest.Move(t, db, p, paywire.Move{To: paywire.StateCompleted, Capture: p.Amount.Amount})
func Move(t testing.TB, db *store.DB, p *paywire.Payment, m paywire.Move) *paywire.Payment {
	t.Helper()
	if m.At.IsZero() {
		m.At = time.Now().UTC().Truncate(time.Microsecond)
	}
	if m.Source == "" {
		m.Source = paywire.ActorSystem
	}
	c, err := p.Moved(m)
	if err != nil {
		t.Fatalf("moving payment %s from %s to %s: %v", p.ID, p.State, m.To, err)
	}
	c.Notification = paywire.Notification(c.Payment, c.Event)
	ctx := context.Background()
	if err := db.ApplyStateChange(ctx, c); err != nil {
		t.Fatalf("moving payment %s from %s to %s: %v", p.ID, p.State, m.To, err)
	}
	got, err := db.Payment(ctx, p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
