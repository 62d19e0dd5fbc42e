package store

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

func TestCanonicalNumber(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"0e5", "0"},
		{"1", "1"}, {"-1", "-1"}, {"10", "10"}, {"1.50", "1.5"}, {"1.0", "1"},
		{"1e2", "100"}, {"1E+2", "100"}, {"1.5e1", "15"}, {"15e-1", "1.5"}, {"12e-5", "0.00012"},
		{"-0.0001200", "-0.00012"}, {"123456789012345678901234567890", "123456789012345678901234567890"},
		{"1e-3", "0.001"},
	} {
		got, err := canonicalNumber(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("canonicalNumber(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"1e999", "1e-200", "1" + strings.Repeat("0", 100)} {
		if got, err := canonicalNumber(bad); err == nil {
			t.Errorf("canonicalNumber(%s) = %q; want an error", bad, got)
		}
	}
}

// TestCanonicalJSON: texts of one value have one canonical form, whatever
// their spacing, key order and escapes, the forms PostgreSQL's JSONB gives
// back included.
func TestCanonicalJSON(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"b": 1, "a": [true, false, null]}`, `{"a":[true,false,null],"b":1}`},
		{`{"aa": 1, "b": 2}`, `{"aa":1,"b":2}`}, // JSONB sorts the shorter key first
		{`{"s": "\u00e9\/\t\u0001\ud83d\ude00<>&"}`, "{\"s\":\"é/\\t\\u0001😀<>&\"}"},
		{`{"n": {"x": 1.10e1}}`, `{"n":{"x":11}}`},
		{` [ ] `, `[]`},
	} {
		got, err := canonicalJSON([]byte(tt.in), true)
		if err != nil || string(got) != tt.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		again, _ := canonicalJSON(got, true)
		if string(again) != string(got) {
			t.Errorf("canonical JSON of %s is not a fixed point: %s", got, again)
		}
	}
	if _, err := canonicalJSON([]byte(`{"a":1,"a":1}`), true); err == nil {
		t.Error("duplicate keys accepted")
	}
	if got, err := canonicalJSON([]byte(`{"b":1,"a":1,"b":2}`), false); err != nil || string(got) != `{"a":1,"b":1,"b":2}` {
		t.Errorf("lenient duplicates: %s, %v", got, err)
	}
	if got := canonicalStored(`not json`); string(got) != `"not json"` {
		t.Errorf("stored text that is not JSON hashes as %s", got)
	}
}

// TestAuditGenesis: rows written before the chain existed are the chain's
// genesis. Until the first append they are left as they are; the first
// append links to them all, so that a change to one of them is found from
// then on, at the first chained row.
func TestAuditGenesis(t *testing.T) {
	dbs := map[string]func(t *testing.T) *DB{"sqlite": func(t *testing.T) *DB {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "g.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}}
	if dsn := os.Getenv("PAYWIRE_TEST_POSTGRES"); dsn != "" {
		dbs["postgres"] = func(t *testing.T) *DB { return postgresSchema(t, dsn) }
	} else {
		t.Log("PAYWIRE_TEST_POSTGRES is not set; PostgreSQL is not tested")
	}
	for name, open := range dbs {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			t.Cleanup(func() { db.Close() })
			migrateBefore(t, db, 13)
			at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			for _, d := range []string{`{"b": 2, "a": 1}`, `{}`, `[1, 2]`} {
				if _, err := db.bun.ExecContext(ctx, "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, 'admin:old', 'merchant.create', 'shop', ?)", at, d); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			c, err := db.VerifyAudit(ctx)
			if err != nil || !c.OK() || c.PreChain != 3 || c.GenesisID != 3 || c.HeadHash != "" {
				t.Fatalf("before the first append: %+v, %v", c, err)
			}
			e := &paywire.AuditEntry{Actor: "system", Action: "audit.chain.start"}
			if err := db.Audit(ctx, e); err != nil {
				t.Fatal(err)
			}
			rs, err := db.AuditRecords(ctx, 0, 10)
			if err != nil || len(rs) != 4 || e.ID != 4 || rs[0].PrevHash == "" || rs[1].Hash != "" {
				t.Fatalf("after the first append: %+v, %v", rs, err)
			}
			c, err = db.VerifyAudit(ctx)
			if err != nil || !c.OK() || c.Checked != 4 || c.PreChain != 3 {
				t.Fatalf("verify: %+v, %v", c, err)
			}
			if _, err := db.bun.ExecContext(ctx, dropUpdateTrigger[db.dialect]); err != nil {
				t.Fatal(err)
			}
			if _, err := db.bun.ExecContext(ctx, "UPDATE audit_log SET actor = 'admin:mallory' WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
			c, err = db.VerifyAudit(ctx)
			if err != nil || c.FirstBad != 4 || !strings.Contains(c.Problem, "rows from before the chain") {
				t.Fatalf("a changed row from before the chain: %+v, %v", c, err)
			}
		})
	}
}

var dropUpdateTrigger = map[Dialect]string{
	Postgres: "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only, DROP CONSTRAINT audit_log_chained", // the check refuses old rows without a hash
	SQLite:   "DROP TRIGGER audit_log_no_update",
}

// migrateBefore applies the migrations numbered below version, as Migrate
// does.
func migrateBefore(t *testing.T, db *DB, version int) {
	t.Helper()
	ctx := context.Background()
	all, err := migrations(db.dialect)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ensureSchemaTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version >= version {
			break
		}
		err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.NewInsert().Model(&appliedRow{Version: m.Version, Name: m.Name, AppliedAt: db.now()}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatalf("migration %04d: %v", m.Version, err)
		}
	}
}

// postgresSchema opens the database of dsn in a new schema, dropped when
// the test ends (storetest.NewPostgres, which migrates, for this package).
func postgresSchema(t *testing.T, dsn string) *DB {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "pwtest_" + paywire.NewID("")[:16]
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := sql.Open("pgx", dsn); err == nil {
			c.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	return db
}
