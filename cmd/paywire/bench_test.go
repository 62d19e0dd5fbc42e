package main

import (
	"context"
	"encoding/json"
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
	m, base := simulateNode(t, "", func(m *Main) { m.DB.Bun().AddQueryHook(hook) })
	merchant := &traffic.Merchant{BaseURL: base, ID: "demo", Secret: simulateSecret}
	rd, err := merchant.StartJSON(context.Background(), message.GetRedirectDataRequest{MerchantReference: "bench-1", Kind: "DEPOSIT",
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

	// The decision record, the one row whose size the server chooses: the
	// script's has the features, output and rules of the server's, and is
	// linked to its payment as the server's is.
	ds, err := m.DB.Decisions(context.Background(), "demo", rd.PaymentID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("the start's decisions: %v, %v; want its availability decision", ds, err)
	}
	values := decisionValuesRE.FindStringSubmatch(string(script))
	if values == nil {
		t.Fatal("the script has no decisions INSERT with a payment id, input, output and rules")
	}
	placeholders := strings.NewReplacer(":amount", "1250", ":client_id", "0", ":merchant", "demo", ":c", "1", ":n", "1")
	shape := func(what, raw string) []string {
		var v struct {
			Request  map[string]any `json:"request"`
			Features map[string]any `json:"features"`
			Methods  []any          `json:"methods"`
		}
		var keys []string
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatalf("%s: %v: %s", what, err, raw)
		}
		if err := json.Unmarshal([]byte(raw), &top); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for k := range top {
			keys = append(keys, k)
		}
		for k := range v.Request {
			keys = append(keys, "request."+k)
		}
		for k := range v.Features {
			keys = append(keys, "features."+k)
		}
		slices.Sort(keys)
		return keys
	}
	if values[1] == "" {
		t.Error("the script's decision is not linked to its payment; the server's is")
	}
	for i, col := range []struct {
		name   string
		stored []byte
	}{{"input", ds[0].Input}, {"output", ds[0].Output}, {"rules_fired", ds[0].RulesFired}} {
		if col.name == "rules_fired" {
			continue // an array: only its size is compared, below
		}
		gotKeys := shape("the server's "+col.name, string(col.stored))
		wantKeys := shape("the script's "+col.name, placeholders.Replace(values[2+i]))
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("the decision's %s: the server writes %v, the script %v", col.name, gotKeys, wantKeys)
		}
	}
	var stored, scripted int
	for i, raw := range [][]byte{ds[0].Input, ds[0].Output, ds[0].RulesFired} {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		compact, _ := json.Marshal(v)
		stored += len(compact)
		if err := json.Unmarshal([]byte(placeholders.Replace(values[2+i])), &v); err != nil {
			t.Fatal(err)
		}
		compact, _ = json.Marshal(v)
		scripted += len(compact)
	}
	if stored < scripted*9/10 || stored > scripted*11/10 {
		t.Errorf("the decision record holds %d bytes of JSON, the script's %d", stored, scripted)
	}
}

// decisionValuesRE finds the script's decision: its payment id, input,
// output and rules fired.
var decisionValuesRE = regexp.MustCompile(`INSERT INTO "decisions" \([^)]*\) VALUES \('[^']*', 'availability', '[^']*', '([^']*)', '[^']*', '[^']*', '([^']*)', '([^']*)', '([^']*)'`)

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
