package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/credential"
)

func testConfig(t *testing.T) Config {
	c, _, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "p.db")}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startMain opens a Main, lets the test mount extra routes, and runs it.
func startMain(t *testing.T, cfg Config, mount func(m *Main)) (base string, stop func() error) {
	t.Helper()
	m := NewMain(cfg, io.Discard, io.Discard)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mount != nil {
		mount(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); m.Close() })
	return "http://" + m.Addr(), func() error { cancel(); return <-errc }
}

// TestGracefulShutdown checks that a request in flight when the node is
// told to stop still gets its full answer.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	base, stop := startMain(t, testConfig(t), func(m *Main) {
		m.Router.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			time.Sleep(500 * time.Millisecond)
			io.WriteString(w, "finished")
		})
	})
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{string(b), err}
	}()
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	r := <-res
	if r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request got %q, %v", r.body, r.err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

func TestBodyLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBodyBytes = 4096
	base, _ := startMain(t, cfg, func(m *Main) {
		m.Router.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			io.WriteString(w, strings.Repeat("x", int(n)%10))
		})
	})
	post := func(body io.Reader, chunked bool) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/echo", body)
		if chunked {
			req.ContentLength = -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(strings.NewReader(strings.Repeat("a", 4096)), false); code != 200 {
		t.Errorf("body at the limit: %d", code)
	}
	if code := post(strings.NewReader(strings.Repeat("a", 4097)), false); code != http.StatusRequestEntityTooLarge {
		t.Errorf("announced body over the limit: %d", code)
	}
	if code := post(io.LimitReader(zeros{}, 1<<20), true); code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %d", code)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestSeedDemoIsIdempotent runs the demo seeding as three restarts would.
func TestSeedDemoIsIdempotent(t *testing.T) {
	cfg := testConfig(t)
	cfg.Demo = true
	ctx := context.Background()
	db, err := openDB(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)

	var first bytes.Buffer
	if err := seedDemo(ctx, db, cfg, &first, log); err != nil {
		t.Fatal(err)
	}
	if strings.Count(first.String(), "shown once") != 2 {
		t.Fatalf("first start printed %q, want the secret and the password", first.String())
	}
	secret := strings.TrimSpace(first.String()[strings.Index(first.String(), "it): ")+5 : strings.Index(first.String(), "\n")])

	var second bytes.Buffer
	if err := seedDemo(ctx, db, cfg, &second, log); err != nil {
		t.Fatal(err)
	}
	if second.Len() != 0 {
		t.Errorf("restart printed %q; secrets are shown once", second.String())
	}
	creds, _ := db.MerchantCredentials(ctx, "demo")
	if len(creds) != 1 {
		t.Fatalf("%d credentials after restart, want 1", len(creds))
	}
	if !secretMatches(credentialManager(db, nil), creds[0], secret) {
		t.Error("the printed secret does not match the stored hash")
	}

	// Choosing the secrets later replaces the merchant secret and sets
	// the admin password, once.
	cfg.DemoSecret, cfg.AdminPassword = "chosen-demo-secret", "chosen-admin-password"
	for range 2 {
		var out bytes.Buffer
		if err := seedDemo(ctx, db, cfg, &out, log); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 {
			t.Errorf("chosen secrets were printed: %q", out.String())
		}
	}
	creds, _ = db.MerchantCredentials(ctx, "demo")
	if len(creds) != 1 || !secretMatches(credentialManager(db, nil), creds[0], "chosen-demo-secret") {
		t.Errorf("%d credentials, want the chosen one only", len(creds))
	}
	admin, err := db.AdminUserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := credential.Verify(admin.PasswordHash, "chosen-admin-password"); !ok {
		t.Error("PAYWIRE_ADMIN_PASSWORD was not applied")
	}
	m, err := db.Merchant(ctx, "demo")
	if err != nil || !m.AllowLocalhostHTTP || len(m.ReturnURLPrefixes) == 0 {
		t.Errorf("demo merchant %+v, %v", m, err)
	}
}
