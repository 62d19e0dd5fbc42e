package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

var build struct {
	once sync.Once
	bin  string
	err  error
}

// buildBinary compiles paywire once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "paywire-bin")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "paywire")
		cmd := exec.Command("go", "build", "-o", build.bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.bin != "" {
		os.RemoveAll(filepath.Dir(build.bin))
	}
	os.Exit(code)
}

// TestServeEndToEnd builds paywire, runs `paywire serve --demo` on a free
// port with a new SQLite database, checks the operational endpoints and stops
// it with SIGTERM.
func TestServeEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "paywire.db")

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "public", "--db", dbPath, "--demo", "--log-format", "json")
	cmd.Env = append(os.Environ(), "PAYWIRE_DEMO_SECRET=demo-secret-for-tests", "PAYWIRE_ADMIN_PASSWORD=admin-password-for-tests")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go io.Copy(io.Discard, stdout)

	// The address comes from the "paywire is serving" log line.
	addrc := make(chan string, 1)
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			select {
			case logs <- line:
			default:
			}
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "paywire is serving" {
				addrc <- rec["addr"].(string)
			}
		}
		close(logs)
	}()
	var base string
	select {
	case base = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatal("paywire did not report that it is serving within 30s")
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready"`) || !strings.Contains(body, "sqlite") {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `paywire_http_requests_total{code="200",method="GET",route="/healthz"} 1`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("paywire exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("paywire did not stop within 30s of SIGTERM")
	}
	var sawStop bool
	for line := range logs {
		if strings.Contains(line, `"msg":"stopped"`) {
			sawStop = true
		}
		if strings.Contains(line, "demo-secret-for-tests") || strings.Contains(line, "admin-password-for-tests") {
			t.Errorf("a secret reached the log: %s", line)
		}
	}
	if !sawStop {
		t.Error("no 'stopped' log line after SIGTERM")
	}
}

// TestServeRefusesBadDatabases checks that each database mistake ends with
// one clear line on stderr, a non-zero exit, and nothing half-applied.
func TestServeRefusesBadDatabases(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A database that a newer binary migrated.
	newer := filepath.Join(dir, "newer.db")
	if out, err := exec.Command(bin, "migrate", "up", "--db", newer).CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	sqldb, err := sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqldb.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2030-01-01 00:00:00+00:00')"); err != nil {
		t.Fatal(err)
	}
	countTables := func() int {
		var n int
		if err := sqldb.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tablesBefore := countTables()

	tests := []struct {
		name string
		db   string
		want string
	}{
		{"invalid URL", "postgres://user:pw@[::1:5432/db", "invalid PostgreSQL URL"},
		{"unsupported scheme", "mysql://localhost/db", "unsupported database URL scheme"},
		{"unreachable PostgreSQL", "postgres://postgres@127.0.0.1:1/db?connect_timeout=3", "cannot reach PostgreSQL"},
		{"unwritable SQLite path", filepath.Join(aFile, "sub", "paywire.db"), "cannot create the SQLite directory"},
		{"newer schema", newer, "newer Paywire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", tt.db)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); err == nil || code == 0 {
				t.Fatalf("exit code %d, want non-zero", code)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "paywire serve: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q, want one line saying %q", stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), ":pw@") {
				t.Errorf("the password was printed: %q", stderr.String())
			}
		})
	}
	if got := countTables(); got != tablesBefore {
		t.Errorf("the newer database was changed: %d objects, had %d", got, tablesBefore)
	}
	sqldb.Close()
}

func TestMigrateCommand(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "m.db")
	var out, errOut strings.Builder
	ctx := context.Background()
	env := func(string) string { return "" }

	if code := run(ctx, []string{"migrate", "status", "--db", dbPath}, &out, &errOut, env); code != 0 {
		t.Fatalf("status: %d %s", code, errOut.String())
	}
	files, _ := filepath.Glob("../../store/migrations/*.sql")
	versions := map[string]bool{}
	for _, f := range files {
		versions[filepath.Base(f)[:4]] = true
	}
	if !strings.Contains(out.String(), "init ") || !strings.Contains(out.String(), fmt.Sprintf("%d pending", len(versions))) {
		t.Errorf("status before:\n%s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"migrate", "up", "--db", dbPath}, &out, &errOut, env); code != 0 {
		t.Fatalf("up: %d %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "applied 0001_init") {
		t.Errorf("up:\n%s", out.String())
	}
	out.Reset()
	run(ctx, []string{"migrate", "up", "--db", dbPath}, &out, &errOut, env)
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("second up:\n%s", out.String())
	}
	out.Reset()
	run(ctx, []string{"migrate", "status", "--db", dbPath}, &out, &errOut, env)
	if strings.Contains(out.String(), "pending") {
		t.Errorf("status after:\n%s", out.String())
	}
	if code := run(ctx, []string{"migrate", "sideways"}, &out, &errOut, env); code != 2 {
		t.Errorf("unknown migrate subcommand: exit %d, want 2", code)
	}
	if code := run(ctx, []string{"frobnicate"}, &out, &errOut, env); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
