package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRequestIDHeadersAndMetricsListener: every response carries a
// Request-Id and the security headers; a JSON error body carries the same
// id; the access log line carries it; /metrics is served on the metrics
// listener, not on the public one.
func TestRequestIDHeadersAndMetricsListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.PublicURL = "https://pay.example"
	var logs bytes.Buffer
	cfg.LogFormat = "json"
	m := NewMain(cfg, io.Discard, &syncWriter{w: &logs})
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-errc; m.Close() })
	base := "http://" + m.Addr()
	time.Sleep(50 * time.Millisecond)

	for _, path := range []string{"/healthz", "/readyz", "/nowhere", "/api/v1/payments/pay_x", "/pay?token=x", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Request-Id")
		if id == "" {
			t.Errorf("%s: no Request-Id", path)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "", "Strict-Transport-Security": "max-age"} {
			if got := resp.Header.Get(h); got == "" || !strings.Contains(got, want) {
				t.Errorf("%s: %s %q", path, h, got)
			}
		}
		if path == "/nowhere" {
			var e struct{ Error struct{ RequestID string } }
			if json.Unmarshal(body, &e) != nil || e.Error.RequestID != id {
				t.Errorf("%s: error body %s without request id %s", path, body, id)
			}
		}
		if path == "/metrics" && resp.StatusCode != http.StatusNotFound {
			t.Errorf("/metrics on the public listener: %d", resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", base+"/nowhere", nil)
	req.Header.Set("Request-Id", "merchant-req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Request-Id"); got != "merchant-req-42" {
		t.Errorf("a sane incoming id was replaced by %q", got)
	}

	resp, err = http.Get("http://" + m.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"paywire_build_info", "paywire_followup_backlog", "paywire_http_requests_total"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("metrics listener: no %s", name)
		}
	}
	time.Sleep(50 * time.Millisecond)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && !strings.Contains(line, `"request_id"`) {
			t.Errorf("request log line without request_id: %s", line)
		}
	}
	if !strings.Contains(logs.String(), `"request_id":"merchant-req-42"`) {
		t.Error("no log line carries the incoming request id")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
