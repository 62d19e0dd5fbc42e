package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
	"github.com/paywire/paywire/traffic"
)

// benchStartSQL is the pgbench script scripts/bench.sh compares the JSON
// start with.
const benchStartSQL = "../../scripts/bench-start.sql"

// TestBenchScriptParses: bash reads scripts/bench.sh.
func TestBenchScriptParses(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "../../scripts/bench.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/bench.sh: %v\n%s", err, out)
	}
}

var insertRE = regexp.MustCompile(`(?i)INSERT INTO "?(\w+)"? \(([^)]*)\)`)

// insertColumns lists the tables a piece of SQL inserts into, in order,
// each with its columns. The identity columns of outbox and follow_ups
// are left out: PostgreSQL's statements name them with DEFAULT, SQLite's
// do not name them.
func insertColumns(sql string) []string {
	var out []string
	for _, m := range insertRE.FindAllStringSubmatch(sql, -1) {
		var cols []string
		for _, c := range strings.Split(strings.ReplaceAll(m[2], `"`, ""), ",") {
			if c = strings.TrimSpace(c); c != "id" || (m[1] != "outbox" && m[1] != "follow_ups") {
				cols = append(cols, c)
			}
		}
		out = append(out, m[1]+"("+strings.Join(cols, ",")+")")
	}
	return out
}

// insertHook records the INSERT statements bun sends.
type insertHook struct {
	mu      sync.Mutex
	inserts []string
}

func (h *insertHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *insertHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if strings.HasPrefix(e.Query, "INSERT") {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.inserts = append(h.inserts, e.Query)
	}
}

// TestBenchStartSQLIsTheStart: the pgbench script inserts into the tables
// a JSON start writes, in the same order, with the same columns; when the
// store's rows change, the comparison bench.sh makes would be off, and
// this fails.
func TestBenchStartSQLIsTheStart(t *testing.T) {
	script, err := os.ReadFile(benchStartSQL)
	if err != nil {
		t.Fatal(err)
	}
	want := insertColumns(string(script))
	if len(want) != 6 {
		t.Fatalf("the script inserts %d rows, want 6: %q", len(want), want)
	}
	hook := &insertHook{}
	_, base := simulateNode(t, "", func(m *Main) { m.DB.Bun().AddQueryHook(hook) })
	merchant := &traffic.Merchant{BaseURL: base, ID: "demo", Secret: simulateSecret}
	_, err = merchant.StartJSON(context.Background(), message.GetRedirectDataRequest{MerchantReference: "bench-1", Kind: "DEPOSIT",
		Amount: "12.50", Currency: "EUR", EndUser: message.EndUser{ID: "sim-customer-0001", Email: "sim-customer-0001@example.com",
			Country: "DE", Language: "de", IP: "198.51.100.11", DeviceID: "device-sim-customer-0001"},
		ReturnURLs: message.ReturnURLs{Success: "http://127.0.0.1/loadgen/success", Error: "http://127.0.0.1/loadgen/error",
			Cancel: "http://127.0.0.1/loadgen/cancel", Refused: "http://127.0.0.1/loadgen/refused", Pending: "http://127.0.0.1/loadgen/pending"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	got := insertColumns(strings.Join(hook.inserts, "\n"))
	hook.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("a JSON start inserts\n  %s\nthe pgbench script\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestBenchStartSQLRuns: pgbench runs the script on a schema of `paywire
// migrate up`, every transaction writing one row to each table. It runs
// when PAYWIRE_TEST_POSTGRES is set.
func TestBenchStartSQLRuns(t *testing.T) {
	dsn := os.Getenv(storetest.PostgresEnv)
	if dsn == "" {
		t.Skip("PAYWIRE_TEST_POSTGRES is not set; pgbench needs PostgreSQL")
	}
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		t.Fatalf("PAYWIRE_TEST_POSTGRES is set but pgbench is not installed (postgresql-contrib): %v", err)
	}
	sqlDB, schemaDSN := crashSchema(t, dsn)
	ctx := context.Background()
	db, err := store.Open(ctx, schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.SeedMerchant(t, db, "demo")
	// libpq names the schema in options, not search_path.
	u, err := url.Parse(schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-csearch_path="+q.Get("search_path"))
	q.Del("search_path")
	u.RawQuery = q.Encode()
	const clients, each = 2, 5
	out, err := exec.Command(pgbench, "-n", "-M", "simple", "-c", fmt.Sprint(clients), "-t", fmt.Sprint(each),
		"-D", "customers=50", "-D", "merchant=demo", "-D", "outbox_status=pending", "-f", benchStartSQL, u.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	for _, table := range []string{"payments", "decisions", "payment_events", "outbox", "follow_ups", "idempotency_keys"} {
		var n int
		if err := sqlDB.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != clients*each {
			t.Errorf("%s has %d rows after %d transactions\n%s", table, n, clients*each, out)
		}
	}
}
