package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestStrictURL: a path or query that decodes to a NUL byte, a control
// character or invalid UTF-8 answers 400 before any handler runs.
func TestStrictURL(t *testing.T) {
	r := newRouter(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), nil, routerConfig{MaxBody: 1 << 10})
	reached := 0
	r.Get("/things/{id}", func(w http.ResponseWriter, r *http.Request) { reached++ })
	for target, want := range map[string]int{
		"/things/abc":          200,
		"/things/caf%C3%A9":    200,
		"/things/a?q=Z%C3%BCr": 200,
		"/things/abc%00def":    400,
		"/things/abc%1bdef":    400,
		"/things/caf%E9":       400,
		"/things/a?q=x%00":     400,
		"/things/a?q%FF=x":     400,
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != want {
			t.Errorf("%s: %d; want %d (%s)", target, rec.Code, want, rec.Body)
		}
	}
	if reached != 3 {
		t.Errorf("the handler ran %d times; want 3", reached)
	}
}

// TestAuthLimitConfigured: --auth-fail-per-address reaches the merchant
// API: with a limit of 2, the third wrong secret from one address is
// answered 429 with Retry-After.
func TestAuthLimitConfigured(t *testing.T) {
	cfg := testConfig(t)
	cfg.AuthFailPerAddr = 2
	base, stop := startMain(t, cfg, nil)
	defer stop()
	var codes []int
	for range 3 {
		req, _ := http.NewRequest("GET", base+"/api/v1/payment-methods?country=DE&currency=EUR&amount=1.00", nil)
		req.SetBasicAuth("nobody", "pw_live_wrong")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 401 || codes[1] != 401 || codes[2] != 429 {
		t.Errorf("statuses %v; want 401 401 429", codes)
	}
}
