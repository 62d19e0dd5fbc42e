package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// TestCrashRecovery is the operator's crash test: paywire serve on
// PostgreSQL with the sandbox providers takes payments from concurrent
// merchants and end users (approved, declined, soft-declined, timed out
// after the provider approved, pending until a webhook, abandoned), with
// captures and refunds retried under idempotency keys, while the process is
// killed with SIGKILL at random moments and restarted. Afterwards, with the
// follow-up worker given time, it checks that nothing is lost, doubled or
// left hanging: no payment created or pending, every authorization with its
// follow-up, at most one approval at the provider per payment, refunds at
// the provider equal to the refunds recorded, every event with its
// notification, every retried request answered with its first outcome.
//
// It runs when PAYWIRE_TEST_POSTGRES is set (CI sets it); the size comes
// from PAYWIRE_CRASH_PAYMENTS (default 40) and PAYWIRE_CRASH_KILLS (default
// 2); scripts/crash-test.sh runs a long version.
func TestCrashRecovery(t *testing.T) {
	dsn := os.Getenv("PAYWIRE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PAYWIRE_TEST_POSTGRES is not set; the crash test needs PostgreSQL")
	}
	bin := buildBinary(t)
	payments, kills := envInt(t, "PAYWIRE_CRASH_PAYMENTS", 40), envInt(t, "PAYWIRE_CRASH_KILLS", 2)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PAYWIRE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (PAYWIRE_CRASH_SEED), %d payments, %d kills", seed, payments, kills)
	rng := rand.New(rand.NewPCG(seed, 1))

	db, serverDSN := crashSchema(t, dsn)
	srv := &crashServer{t: t, bin: bin, dsn: serverDSN, logs: filepath.Join(t.TempDir(), "serve.log")}
	srv.start()
	t.Cleanup(srv.kill)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	stop := make(chan struct{})
	var killed atomic.Int32
	killRNG := rand.New(rand.NewPCG(seed, 2)) // the killer's own: rand.Rand is not safe for concurrent use
	go func() {                               // the operator's bad day
		for range kills {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1500+killRNG.IntN(2500)) * time.Millisecond):
			}
			srv.kill()
			killed.Add(1)
			srv.start()
		}
	}()

	cards := []string{"4242424242424242", "4242424242424242", "4242424242424242", "4000000000000010",
		"4000000000000077", "4000000000000002", "4000000000000366", ""}
	sem := make(chan struct{}, 8)
	for i := range payments {
		card := cards[rng.IntN(len(cards))]
		refund := rng.IntN(3) == 0
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			crashFlow(srv, i, card, refund, problem)
		}()
	}
	wg.Wait()
	close(stop)
	for killed.Load() < int32(kills) {
		time.Sleep(100 * time.Millisecond) // the killer finishes its kills
	}

	// Let the follow-ups finish what the kills left: status queries after
	// the provider timeout, recovery after --recover-after, expiry after
	// --redirect-ttl.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var hanging int
		if err := db.QueryRow(`SELECT count(*) FROM payments WHERE state IN ('created', 'pending')`).Scan(&hanging); err != nil {
			t.Fatal(err)
		}
		if hanging == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d payments still created or pending 3 minutes after the load", hanging)
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second) // follow-ups due now (auto-captures) run
	srv.stop()

	for _, p := range problems {
		t.Error(p)
	}
	checkCrashInvariants(t, db)
}

// crashFlow is one payment's life: started by the merchant (retried with
// its key until answered), submitted by the end user (unless card is ""),
// refunded in part when asked. Server restarts show as connection errors,
// which are retried as a client would.
func crashFlow(srv *crashServer, i int, card string, refund bool, problem func(string, ...any)) {
	key := fmt.Sprintf("start-%d", i)
	body := fmt.Sprintf(`{"merchantReference":"crash-%d","kind":"DEPOSIT","amount":"25.00","currency":"EUR",
		"endUser":{"id":"user-%d","email":"u%d@example.com","country":"DE"},
		"returnUrls":{"success":"http://localhost/ok","error":"http://localhost/err","cancel":"http://localhost/cancel",
		"refused":"http://localhost/refused","pending":"http://localhost/pending"},"paymentMethod":"card"}`, i, i, i)
	var first struct {
		PaymentID  string `json:"paymentId"`
		PostFields []struct {
			Name, Value string
		} `json:"postFields"`
	}
	status, answer := srv.retry(http.MethodPost, "/api/v1/payments", key, body)
	if status != http.StatusCreated && status != http.StatusOK {
		problem("payment %d: start answered %d %s", i, status, answer)
		return
	}
	_ = json.Unmarshal(answer, &first)
	// A retry with the same key gets the same payment, whatever happened
	// in between.
	if status, again := srv.retry(http.MethodPost, "/api/v1/payments", key, body); status >= 300 || !bytes.Equal(trimJSON(again), trimJSON(answer)) {
		problem("payment %d: the retried start answered %d %s, first %s", i, status, again, answer)
	}
	if card == "" || len(first.PostFields) == 0 {
		return // abandoned: expires with its link
	}
	form := url.Values{"token": {first.PostFields[0].Value}, "method": {"card"}, "card_number": {card},
		"card_expiry_month": {"12"}, "card_expiry_year": {strconv.Itoa(time.Now().Year() + 2)}, "card_cvc": {"123"},
		"card_holder": {"Crash Test"}}
	srv.post("/pay/submit", form) // may die with the server: the follow-ups finish it
	if !refund {
		return
	}
	// Wait for the payment to complete (auto-capture), then refund 5.00
	// under one key, retried until answered.
	for range 40 {
		time.Sleep(250 * time.Millisecond)
		status, b := srv.retry(http.MethodGet, "/api/v1/payments/"+first.PaymentID, "", "")
		if status == http.StatusOK && bytes.Contains(b, []byte(`"state":"COMPLETED"`)) {
			break
		}
	}
	rkey := fmt.Sprintf("refund-%d", i)
	status, firstRefund := srv.retry(http.MethodPost, "/api/v1/payments/"+first.PaymentID+"/refunds", rkey, `{"amount":"5.00"}`)
	if status == http.StatusConflict && bytes.Contains(firstRefund, []byte("illegal_transition")) {
		return // not completed: declined, expired or still on its way
	}
	again, second := srv.retry(http.MethodPost, "/api/v1/payments/"+first.PaymentID+"/refunds", rkey, `{"amount":"5.00"}`)
	if again != status || !bytes.Equal(trimJSON(second), trimJSON(firstRefund)) {
		problem("payment %d: the retried refund answered %d %s, first %d %s", i, again, second, status, firstRefund)
	}
}

func trimJSON(b []byte) []byte { return bytes.TrimSpace(b) }

// checkCrashInvariants checks the database after the crash test.
func checkCrashInvariants(t *testing.T, db *sql.DB) {
	t.Helper()
	count := func(what, query string) {
		t.Helper()
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%s: %d", what, n)
		}
	}
	count("payments left created or pending", `SELECT count(*) FROM payments WHERE state IN ('created', 'pending')`)
	count("authorizations without a follow-up to end them",
		`SELECT count(*) FROM payments p WHERE state = 'authorized' AND NOT EXISTS (
			SELECT 1 FROM follow_ups f WHERE f.payment_id = p.id AND f.status = 'pending'
			AND f.kind IN ('capture', 'authorization_expiry'))`)
	count("payments with more than one approved authorization",
		`SELECT count(*) FROM (SELECT payment_id FROM payment_attempts WHERE operation IN ('authorize', 'pay') AND status = 'approved'
			GROUP BY payment_id HAVING count(*) > 1) x`)
	count("payments authorized more than once at the provider",
		`SELECT count(*) FROM (SELECT payment_id FROM sandbox_payments WHERE state = 'authorized'
			GROUP BY payment_id HAVING count(*) > 1) x`)
	count("payments whose provider holds money the payment does not show",
		`SELECT count(*) FROM sandbox_payments s JOIN payments p ON p.id = s.payment_id
			WHERE s.state = 'authorized' AND p.state NOT IN ('authorized', 'completed', 'partially_refunded', 'refunded', 'charged_back')`)
	count("payments whose refunds at the provider differ from those recorded",
		`SELECT count(*) FROM payments p WHERE p.refunded <> COALESCE((SELECT sum(b.amount) FROM sandbox_bookings b
			WHERE b.payment_id = p.id AND b.type = 'refund'), 0)`)
	count("events without their notification",
		`SELECT count(*) FROM payment_events e WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id)`)
	count("histories with a gap",
		`SELECT count(*) FROM payments p WHERE p.version <> (SELECT count(*) FROM payment_events e WHERE e.payment_id = p.id)`)
	count("moves that do not follow the previous one",
		`SELECT count(*) FROM payment_events e JOIN payment_events prev ON prev.payment_id = e.payment_id AND prev.seq = e.seq - 1
			WHERE e.from_state <> prev.to_state`)
	count("follow-ups given up", `SELECT count(*) FROM follow_ups WHERE status = 'failed'`)
	var states string
	_ = db.QueryRow(`SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM (SELECT state, count(*) n FROM payments GROUP BY state) x`).Scan(&states)
	t.Logf("payments by state: %s", states)
}

// crashSchema makes a schema of its own for the test and returns a
// connection to it and the DSN the server uses.
func crashSchema(t *testing.T, dsn string) (*sql.DB, string) {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("pwcrash_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at PAYWIRE_TEST_POSTGRES cannot be used: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, u.String()
}

// crashServer runs paywire serve on a fixed address, so that clients
// reach it again after a restart.
type crashServer struct {
	t    *testing.T
	bin  string
	dsn  string
	logs string
	addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

const crashSecret = "crash-demo-secret"

func (s *crashServer) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.t.Fatal(err)
		}
		s.addr = ln.Addr().String()
		ln.Close()
	}
	logf, err := os.OpenFile(s.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "serve", "--addr", s.addr, "--db", s.dsn, "--demo", "--log-format", "json",
		"--redirect-ttl", "20s", "--provider-timeout", "2s", "--recover-after", "15s")
	cmd.Env = append(os.Environ(), "PAYWIRE_DEMO_SECRET="+crashSecret, "PAYWIRE_ADMIN_PASSWORD=crash-admin-password",
		"PAYWIRE_TOKEN_KEY="+strings.Repeat("ab", 32))
	cmd.Stdout, cmd.Stderr = io.Discard, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); logf.Close() }()
	for range 300 {
		if resp, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Errorf("paywire did not get ready after a start; log: %s", s.logs)
}

// kill ends the process with SIGKILL: nothing in memory survives.
func (s *crashServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *crashServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
}

var crashClient = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// retry sends a merchant API request until it is answered by a running
// server (not a lost connection, not 503, not in_progress), for at most a
// minute.
func (s *crashServer) retry(method, path, key, body string) (int, []byte) {
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+s.addr+path, strings.NewReader(body))
		req.SetBasicAuth("demo", crashSecret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := crashClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			retryable := resp.StatusCode == http.StatusServiceUnavailable ||
				(resp.StatusCode == http.StatusConflict && bytes.Contains(b, []byte("in_progress")))
			if !retryable || time.Now().After(deadline) {
				return resp.StatusCode, b
			}
		} else if time.Now().After(deadline) {
			return 0, []byte(err.Error())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// post sends an end user's form once; a lost connection is the end user's
// problem, as in life.
func (s *crashServer) post(path string, form url.Values) {
	resp, err := crashClient.PostForm("http://"+s.addr+path, form)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func envInt(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s: %q is not a number", name, v)
		}
		return n
	}
	return def
}
