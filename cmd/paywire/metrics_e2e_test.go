package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetricsEndToEnd: a payment made over HTTP as a merchant and its end
// user make it, on a node serving the demo merchant and the sandbox
// providers, shows in the payment metrics scraped from the metrics
// listener: its state changes with its method and provider, the provider
// call by the provider's name, and the engine's decisions by point and by
// the active bundle's revision.
func TestMetricsEndToEnd(t *testing.T) {
	const secret = "demo-secret-for-metrics-tests"
	cfg := testConfig(t)
	cfg.Demo, cfg.DemoSecret, cfg.TokenKey = true, secret, testTokenKey
	var m *Main
	base, stop := startMain(t, cfg, func(mm *Main) { m = mm })
	t.Cleanup(func() { _ = stop() })
	client := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // the result page is the merchant's, on a port nobody listens on
	}}
	merchant := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("demo", secret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "metrics-e2e-1")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// The merchant starts a card payment; the end user pays on the hosted
	// pages with a card the sandbox approves.
	code, body := merchant(http.MethodPost, "/api/v1/payments", `{"merchantReference":"metrics-e2e-1","kind":"DEPOSIT",
		"amount":"25.00","currency":"EUR","endUser":{"id":"user-metrics","email":"metrics@example.com","country":"DE"},
		"returnUrls":{"success":"http://localhost/ok","error":"http://localhost/err","cancel":"http://localhost/cancel",
		"refused":"http://localhost/refused","pending":"http://localhost/pending"},"paymentMethod":"card"}`)
	var started struct {
		PaymentID   string `json:"paymentId"`
		RedirectURL string `json:"redirectUrl"`
		PostFields  []struct{ Name, Value string }
	}
	if code != http.StatusCreated || json.Unmarshal(body, &started) != nil || len(started.PostFields) == 0 {
		t.Fatalf("starting the payment: %d %s", code, body)
	}
	form := url.Values{"method": {"card"}, "card_number": {"4242424242424242"}, "card_expiry_month": {"12"},
		"card_expiry_year": {strconv.Itoa(time.Now().Year() + 2)}, "card_cvc": {"123"}, "card_holder": {"Metrics Test"}}
	for _, f := range started.PostFields {
		form.Set(f.Name, f.Value)
	}
	resp, err := client.PostForm(base+"/pay/submit", form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// The merchant learns the outcome: authorized, or already captured.
	var paid struct {
		State, PaymentMethod, Provider string
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		code, body = merchant(http.MethodGet, "/api/v1/payments/"+started.PaymentID, "")
		if code != http.StatusOK || json.Unmarshal(body, &paid) != nil {
			t.Fatalf("payment details: %d %s", code, body)
		}
		if paid.State == "AUTHORIZED" || paid.State == "COMPLETED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the payment is %s after 15s: %s", paid.State, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if paid.PaymentMethod != "card" || paid.Provider == "" {
		t.Fatalf("the paid payment's method %q, provider %q: %s", paid.PaymentMethod, paid.Provider, body)
	}

	samples := scrapeMetrics(t, "http://"+m.MetricsAddr()+"/metrics", "")
	// The transition the provider's approval made, by method and provider
	// (state labels are the states' lower-case names).
	if n := promSum(samples, "paywire_payment_transitions_total", map[string]string{"from": "none", "to": "created"}); n != 1 {
		t.Errorf("%v creations counted, want 1:\n%s", n, promGrep(samples, "paywire_payment_transitions_total"))
	}
	if n := promSum(samples, "paywire_payment_transitions_total", map[string]string{"from": "pending", "to": "authorized", "method": "card", "provider": paid.Provider}); n != 1 {
		t.Errorf("%v transitions pending to authorized with method card and provider %s, want 1:\n%s", n, paid.Provider, promGrep(samples, "paywire_payment_transitions_total"))
	}
	// The provider call, by the provider's name.
	if n := promSum(samples, "paywire_provider_call_duration_seconds_count", map[string]string{"provider": paid.Provider, "operation": "authorize", "outcome": "approved"}); n < 1 {
		t.Errorf("no approved authorize call of %s:\n%s", paid.Provider, promGrep(samples, "paywire_provider_call_duration_seconds_count"))
	}
	// The decisions, by point and the active bundle's revision.
	rev := m.Engine.Active().Revision
	if rev == "" {
		t.Fatal("the active bundle has no revision")
	}
	for _, point := range []string{"availability", "risk", "routing"} {
		if n := promSum(samples, "paywire_decision_duration_seconds_count", map[string]string{"point": point, "revision": rev, "outcome": "ok"}); n < 1 {
			t.Errorf("no ok %s decision under revision %s:\n%s", point, rev, promGrep(samples, "paywire_decision_duration_seconds_count"))
		}
	}
	// And the rest of what a dashboard reads.
	if n := promSum(samples, "paywire_build_info", nil); n != 1 {
		t.Errorf("paywire_build_info sums to %v, want 1", n)
	}
	if len(promFind(samples, "paywire_followup_backlog", nil)) != 1 {
		t.Errorf("no paywire_followup_backlog")
	}
	if n := promSum(samples, "paywire_http_requests_total", map[string]string{"route": "/api/v1/payments", "method": "POST", "code": "201"}); n != 1 {
		t.Errorf("the payment's start counted %v times:\n%s", n, promGrep(samples, "paywire_http_requests_total"))
	}
}

// TestMetricsToken: with PAYWIRE_METRICS_TOKEN, /metrics answers 401
// without the token or with a wrong one and 200 with it, on the metrics
// listener and, with --metrics-addr public, on the main listener. Without
// a token, /metrics with `public` is served to anyone: the token is the
// operator's choice, not enforced.
func TestMetricsToken(t *testing.T) {
	const token = "metrics-token-for-tests"
	tests := []struct {
		name        string
		metricsAddr string
		token       string
	}{
		{"own listener with token", "127.0.0.1:0", token},
		{"public with token", "public", token},
		{"own listener without token", "127.0.0.1:0", ""},
		{"public without token", "public", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *Main
			base, stop := startMain(t, metricsConfig(t, tt.metricsAddr, tt.token, false), func(mm *Main) { m = mm })
			t.Cleanup(func() { _ = stop() })
			metricsURL := "http://" + m.MetricsAddr() + "/metrics"
			if tt.metricsAddr == "public" {
				if m.MetricsAddr() != "" {
					t.Fatalf("public: a metrics listener on %s", m.MetricsAddr())
				}
				metricsURL = base + "/metrics"
			} else if code, _ := fetchAuth(t, base+"/metrics", ""); code != http.StatusNotFound {
				t.Errorf("/metrics on the main listener with a metrics listener of its own: %d, want 404", code)
			}
			if tt.token == "" {
				if code, body := fetchAuth(t, metricsURL, ""); code != http.StatusOK || !strings.Contains(body, "paywire_build_info") {
					t.Errorf("no token: %d %.200s", code, body)
				}
				return
			}
			for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + token + "x", "Basic " + token, token, "bearer " + token} {
				code, body := fetchAuth(t, metricsURL, auth)
				if code != http.StatusUnauthorized || strings.Contains(body, "paywire_build_info") {
					t.Errorf("Authorization %q: %d %.200s, want 401", auth, code, body)
				}
			}
			code, body := fetchAuth(t, metricsURL, "Bearer "+token)
			if code != http.StatusOK || !strings.Contains(body, "paywire_build_info") {
				t.Errorf("the right token: %d %.200s", code, body)
			}
			// The main listener's health endpoints need no token.
			if code, _ := fetchAuth(t, base+"/healthz", ""); code != http.StatusOK {
				t.Errorf("/healthz: %d", code)
			}
		})
	}
}

// TestPprof: --pprof serves /debug/pprof/ on the metrics listener, behind
// the metrics token when one is set; without --pprof it is not there; and
// --pprof with `public` is refused when the configuration is read.
func TestPprof(t *testing.T) {
	const token = "pprof-token-for-tests"
	for _, tt := range []struct {
		name  string
		pprof bool
		token string
	}{
		{"pprof without token", true, ""},
		{"pprof with token", true, token},
		{"no pprof", false, ""},
		{"no pprof with token", false, token},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m *Main
			base, stop := startMain(t, metricsConfig(t, "127.0.0.1:0", tt.token, tt.pprof), func(mm *Main) { m = mm })
			t.Cleanup(func() { _ = stop() })
			metrics := "http://" + m.MetricsAddr()
			auth := ""
			if tt.token != "" {
				auth = "Bearer " + tt.token
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
				code, body := fetchAuth(t, metrics+path, auth)
				switch {
				case !tt.pprof && code != http.StatusNotFound:
					t.Errorf("%s without --pprof: %d, want 404", path, code)
				case tt.pprof && code != http.StatusOK:
					t.Errorf("%s: %d %.200s, want 200", path, code, body)
				}
				if tt.pprof && tt.token != "" {
					for _, wrong := range []string{"", "Bearer wrong"} {
						if code, body := fetchAuth(t, metrics+path, wrong); code != http.StatusUnauthorized {
							t.Errorf("%s with Authorization %q: %d %.200s, want 401", path, wrong, code, body)
						}
					}
				}
				// Never on the main listener.
				if code, _ := fetchAuth(t, base+path, auth); code != http.StatusNotFound {
					t.Errorf("%s on the main listener: %d, want 404", path, code)
				}
			}
		})
	}

	t.Run("public refused", func(t *testing.T) {
		for _, args := range [][]string{{"--metrics-addr", "public", "--pprof"}, {"--pprof", "--metrics-addr", "public"}} {
			_, _, err := parseConfig("serve", args, envOf(nil))
			if err == nil || !strings.Contains(err.Error(), "--pprof") {
				t.Errorf("%q: %v, want an error naming --pprof", args, err)
			}
		}
		_, _, err := parseConfig("serve", nil, envOf(map[string]string{"PAYWIRE_METRICS_ADDR": "public", "PAYWIRE_PPROF": "true"}))
		if err == nil || !strings.Contains(err.Error(), "--pprof") {
			t.Errorf("from the environment: %v, want an error naming --pprof", err)
		}
		// `paywire serve` stops there: a usage error, exit 2, one line,
		// before it opens a database or a port. (Were it to serve, the
		// deadline stops it.)
		db := filepath.Join(t.TempDir(), "never.db")
		var stdout, stderr strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--metrics-addr", "public", "--pprof"},
			&stdout, &stderr, envOf(nil))
		if code != 2 || !strings.HasPrefix(stderr.String(), "paywire serve: ") || !strings.Contains(stderr.String(), "--pprof") ||
			strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("serve --metrics-addr public --pprof: exit %d, stderr %q", code, stderr.String())
		}
	})
}

// metricsConfig is testConfig with the metrics settings read as `paywire
// serve` reads them: the address and --pprof from flags, the token from
// the environment.
func metricsConfig(t *testing.T, metricsAddr, token string, pprof bool) Config {
	t.Helper()
	args := []string{"--addr", "127.0.0.1:0", "--metrics-addr", metricsAddr, "--db", filepath.Join(t.TempDir(), "p.db")}
	if pprof {
		args = append(args, "--pprof")
	}
	c, _, err := parseConfig("serve", args, envOf(map[string]string{"PAYWIRE_METRICS_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsToken != token || c.Pprof != pprof {
		t.Fatalf("PAYWIRE_METRICS_TOKEN %q, --pprof %v read as %q, %v", token, pprof, c.MetricsToken, c.Pprof)
	}
	return c
}

// fetchAuth GETs u with an Authorization header unless auth is empty.
func fetchAuth(t *testing.T, u, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s promSample) String() string {
	var l []string
	for k, v := range s.labels {
		l = append(l, k+"="+strconv.Quote(v))
	}
	return fmt.Sprintf("%s{%s} %v", s.name, strings.Join(l, ","), s.value)
}

// scrapeMetrics GETs a /metrics URL and parses its text format.
func scrapeMetrics(t *testing.T, u, token string) []promSample {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	code, body := fetchAuth(t, u, auth)
	if code != http.StatusOK {
		t.Fatalf("scraping %s: %d %.300s", u, code, body)
	}
	var out []promSample
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parsePromSample(line)
		if err != nil {
			t.Fatalf("scraping %s: %v in %q", u, err, line)
		}
		out = append(out, s)
	}
	return out
}

// parsePromSample parses `name{k="v",...} value [timestamp]`.
func parsePromSample(line string) (promSample, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("malformed label")
			}
			key := line[:eq]
			line = line[eq+2:]
			var v strings.Builder
			for {
				if line == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				c := line[0]
				line = line[1:]
				if c == '"' {
					break
				}
				if c == '\\' && line != "" {
					switch line[0] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(line[0])
					}
					line = line[1:]
					continue
				}
				v.WriteByte(c)
			}
			s.labels[key] = v.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// promFind returns the samples of a name whose labels include want.
func promFind(samples []promSample, name string, want map[string]string) []promSample {
	var out []promSample
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// promSum adds up the values of the samples promFind returns.
func promSum(samples []promSample, name string, want map[string]string) float64 {
	var n float64
	for _, s := range promFind(samples, name, want) {
		n += s.value
	}
	return n
}

// promGrep lists a name's samples, for failure messages.
func promGrep(samples []promSample, name string) string {
	var b strings.Builder
	for _, s := range promFind(samples, name, nil) {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}
