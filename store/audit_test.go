package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestAuditChain: every writer of audit rows (an entry of its own, a list
// change, a payment change) appends to one chain, whose rows link and
// verify; details are kept as canonical JSON, which survives PostgreSQL's
// JSONB; what the chain cannot keep is refused.
func TestAuditChain(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c, err := db.VerifyAudit(ctx)
		if err != nil || !c.OK() || c.Checked != 0 {
			t.Fatalf("empty log: %+v, %v", c, err)
		}

		// Details written in a form JSONB does not keep: spaces, keys out
		// of order, escapes, exponents, trailing zeros, a number beyond
		// float64.
		e := &paywire.AuditEntry{Actor: "admin:alice", Action: "merchant.update", Target: "merchant:shop",
			Details: json.RawMessage(`{ "z": [1.50, 1e2, -0, 0.000120], "a": "caf\u00e9 \"x\"\n", "big": 123456789012345678901234567890, "n": null, "t": true }`)}
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want := `{"a":"café \"x\"\n","big":123456789012345678901234567890,"n":null,"t":true,"z":[1.5,100,0,0.00012]}`
		if string(e.Details) != want || e.ID == 0 || e.At.IsZero() {
			t.Fatalf("appended %d at %v with details %s; want %s", e.ID, e.At, e.Details, want)
		}
		if err := db.Audit(ctx, &paywire.AuditEntry{Actor: "system", Action: "config.change"}); err != nil {
			t.Fatal(err)
		}
		l := &paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "fraud@example.com", Reason: "chargebacks", CreatedBy: "admin:bob"}
		if err := db.AddListEntry(ctx, l); err != nil {
			t.Fatal(err)
		}
		storetest.SeedMerchant(t, db, "m-audit")
		p := storetest.SeedPayment(t, db, "m-audit", "order-1")
		ch, err := p.Moved(paywire.Move{To: paywire.StatePending, At: time.Now().UTC(), Source: paywire.ActorSystem})
		if err != nil {
			t.Fatal(err)
		}
		ch.Audit = &paywire.AuditEntry{Actor: "admin:carol", Action: "payment.review.approve", Target: p.ID, Details: json.RawMessage(`{"reason":"known customer"}`)}
		if err := db.ApplyStateChange(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if ch.Audit.ID == 0 {
			t.Error("the payment change's audit entry has no id")
		}

		rs, err := db.AuditRecords(ctx, 0, 100)
		if err != nil || len(rs) != 4 {
			t.Fatalf("records: %d, %v", len(rs), err)
		}
		for i := len(rs) - 1; i >= 0; i-- {
			r := rs[i]
			prev := ""
			if i < len(rs)-1 {
				prev = rs[i+1].Hash
			}
			if r.ID != int64(len(rs)-i) || r.PrevHash != prev || len(r.Hash) != 64 {
				t.Errorf("row %d: id %d prev %q hash %q; want id %d prev %q", len(rs)-i, r.ID, r.PrevHash, r.Hash, len(rs)-i, prev)
			}
		}
		// The hash is what the documentation of store/audit.go says, computed here independently.
		if got, want := rs[2].Hash, documentedHash(rs[2].PrevHash, rs[2].AuditEntry); got != want {
			t.Errorf("row 2's hash %s; documented encoding gives %s", got, want)
		}
		c, err = db.VerifyAudit(ctx)
		if err != nil || !c.OK() || c.Checked != 4 || c.HeadID != 4 || c.HeadHash != rs[0].Hash {
			t.Fatalf("verify: %+v, %v", c, err)
		}

		for _, bad := range []struct{ name, details string }{
			{"not JSON", `{"a":`},
			{"not an object", `[1,2]`},
			{"duplicate key", `{"a":1,"a":2}`},
			{"NUL", `{"a":"x\u0000y"}`},
			{"huge number", `{"a":1e999}`},
			{"trailing value", `{"a":1} {}`},
		} {
			err := db.Audit(ctx, &paywire.AuditEntry{Actor: "system", Action: "x", Details: json.RawMessage(bad.details)})
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%s: %v; want EINVALID", bad.name, err)
			}
		}
		if err := db.Audit(ctx, &paywire.AuditEntry{Actor: "", Action: "x"}); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("no actor: %v", err)
		}
		// A row written around the chain is refused by the database.
		if _, err := db.Bun().ExecContext(ctx, "INSERT INTO audit_log (id, at, actor, action, target, details) VALUES (100, ?, 'x', 'y', '', '{}')", time.Now().UTC()); err == nil {
			t.Error("a row without a hash was inserted")
		}
		// The head only moves forward.
		if _, err := db.Bun().ExecContext(ctx, "UPDATE audit_chain SET last_id = 1, last_hash = '' WHERE id = 1"); err == nil {
			t.Error("the chain's head was moved back")
		}
		if c, err := db.VerifyAudit(ctx); err != nil || !c.OK() || c.Checked != 4 {
			t.Fatalf("verify after refusals: %+v, %v", c, err)
		}
	})
}

// documentedHash is the hash of an entry as store/audit.go documents it,
// for entries whose details are already canonical and whose strings need
// no escapes.
func documentedHash(prev string, e paywire.AuditEntry) string {
	q := strconv.Quote
	s := fmt.Sprintf("[%s,%s,%d,%s,%s,%s,%s,%s]", q("paywire-audit-1"), q(prev), e.ID, q(e.At.UTC().Format(time.RFC3339Nano)),
		q(e.Actor), q(e.Action), q(e.Target), compact(e.Details))
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// compact sorts nothing: it expects canonical details (one level of string
// values, sorted keys), as the test writes them, and removes the spaces
// PostgreSQL adds.
func compact(raw json.RawMessage) string {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(m) // sorted keys, no spaces
	return string(b)
}

// tamper runs sql against audit_log with its append-only triggers out of
// the way, as a database superuser could.
func tamper(t *testing.T, db *store.DB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	var off, on []string
	if db.Dialect() == store.Postgres {
		off = []string{"ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"}
		on = []string{"ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"}
	} else {
		off = []string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"}
		on = []string{
			"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
			"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
		}
	}
	for _, s := range off {
		if _, err := db.Bun().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := db.Bun().ExecContext(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for _, s := range on {
		if _, err := db.Bun().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := db.Bun().ExecContext(ctx, "UPDATE audit_log SET actor = 'x' WHERE id = (SELECT MIN(id) FROM audit_log)"); err == nil {
		t.Fatal("the append-only trigger is not back")
	}
}

// TestAuditTamper: a row changed, rewritten with a new hash or removed
// behind the store's back is found, at that row.
func TestAuditTamper(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, db *store.DB, rows []store.AuditRecord)
		firstBad int64
		problem  string
	}{
		{"details changed", func(t *testing.T, db *store.DB, _ []store.AuditRecord) {
			tamper(t, db, `UPDATE audit_log SET details = '{"role":"owner"}' WHERE id = 3`)
		}, 3, "changed after it was written"},
		{"actor changed", func(t *testing.T, db *store.DB, _ []store.AuditRecord) {
			tamper(t, db, `UPDATE audit_log SET actor = 'admin:mallory' WHERE id = 2`)
		}, 2, "changed after it was written"},
		{"time changed", func(t *testing.T, db *store.DB, rows []store.AuditRecord) {
			tamper(t, db, `UPDATE audit_log SET at = ? WHERE id = 4`, rows[1].At.Add(-time.Hour))
		}, 4, "changed after it was written"},
		{"rewritten with a new hash", func(t *testing.T, db *store.DB, rows []store.AuditRecord) {
			e := rows[2].AuditEntry // row 3
			e.Actor = "admin:mallory"
			tamper(t, db, `UPDATE audit_log SET actor = ?, hash = ? WHERE id = 3`, e.Actor, documentedHash(rows[2].PrevHash, e))
		}, 4, "does not link to row 3"},
		{"row removed", func(t *testing.T, db *store.DB, _ []store.AuditRecord) {
			tamper(t, db, `DELETE FROM audit_log WHERE id = 3`)
		}, 3, "row 3 is missing"},
		{"first row removed", func(t *testing.T, db *store.DB, _ []store.AuditRecord) {
			tamper(t, db, `DELETE FROM audit_log WHERE id = 1`)
		}, 1, "row 1 is missing"},
		{"end removed", func(t *testing.T, db *store.DB, _ []store.AuditRecord) {
			tamper(t, db, `DELETE FROM audit_log WHERE id >= 4`)
		}, 4, "removed from the end"},
		{"last row rewritten with a new hash", func(t *testing.T, db *store.DB, rows []store.AuditRecord) {
			e := rows[0].AuditEntry // row 5
			e.Target = "merchant:other"
			tamper(t, db, `UPDATE audit_log SET target = ?, hash = ? WHERE id = 5`, e.Target, documentedHash(rows[0].PrevHash, e))
		}, 5, "not the one the chain's head records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				for i := 1; i <= 5; i++ {
					e := &paywire.AuditEntry{Actor: "admin:alice", Action: "merchant.update", Target: "merchant:shop",
						Details: json.RawMessage(fmt.Sprintf(`{"field":"name","after":"Shop %d"}`, i))}
					if err := db.Audit(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
				rows, err := db.AuditRecords(ctx, 0, 10)
				if err != nil || len(rows) != 5 {
					t.Fatalf("records: %d, %v", len(rows), err)
				}
				tt.tamper(t, db, rows)
				c, err := db.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.OK() || c.FirstBad != tt.firstBad || !strings.Contains(c.Problem, tt.problem) {
					t.Errorf("verify: first bad row %d (%q); want %d (%q)", c.FirstBad, c.Problem, tt.firstBad, tt.problem)
				}
				if c.Checked != int(tt.firstBad)-1 {
					t.Errorf("checked %d rows before the bad one; want %d", c.Checked, tt.firstBad-1)
				}
			})
		})
	}
}

// TestAuditConcurrentAppends: appends from many goroutines at once, through
// every kind of writer, form one chain: consecutive ids, each row linking
// to the one before, verified.
func TestAuditConcurrentAppends(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const workers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					var err error
					if i%3 == 2 {
						err = db.AddListEntry(ctx, &paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail,
							Value: fmt.Sprintf("u%d-%d@example.com", w, i), Reason: "test", CreatedBy: fmt.Sprintf("admin:w%d", w)})
					} else {
						err = db.Audit(ctx, &paywire.AuditEntry{Actor: fmt.Sprintf("admin:w%d", w), Action: "config.change",
							Details: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("append: %v", err)
		}
		rows, err := db.AuditRecords(ctx, 0, 1000)
		if err != nil || len(rows) != workers*each {
			t.Fatalf("records: %d, %v; want %d", len(rows), err, workers*each)
		}
		for i := 0; i < len(rows)-1; i++ {
			if rows[i].ID != rows[i+1].ID+1 || rows[i].PrevHash != rows[i+1].Hash {
				t.Fatalf("row %d does not follow row %d: the chain forked", rows[i].ID, rows[i+1].ID)
			}
		}
		c, err := db.VerifyAudit(ctx)
		if err != nil || !c.OK() || c.Checked != workers*each {
			t.Fatalf("verify: %+v, %v", c, err)
		}
	})
}
