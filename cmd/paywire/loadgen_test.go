package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// loadPayments counts the demo merchant's payments whose reference starts
// with prefix, by state.
func loadPayments(t *testing.T, m *Main, prefix string) (int, map[string]int) {
	t.Helper()
	// Counted in the database: listings stop at a page.
	var rows []struct {
		State string `bun:"state"`
		N     int    `bun:"n"`
	}
	if err := m.DB.Bun().NewSelect().Table("payments").ColumnExpr("state, count(*) AS n").
		Where("merchant_id = 'demo' AND merchant_reference LIKE ?", prefix+"%").
		Group("state").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	n, states := 0, map[string]int{}
	for _, r := range rows {
		n += r.N
		states[strings.ToUpper(r.State)] += r.N
	}
	return n, states
}

// runLoadJSON runs `paywire loadgen --json` with args and decodes what it
// printed.
func runLoadJSON(t *testing.T, args []string, secret string) (int, loadJSON, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"loadgen", "--json"}, args...), &out, &errOut,
		envOf(map[string]string{"PAYWIRE_LOADGEN_SECRET": secret}))
	var res loadJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("exit %d, output %q (%s): %v", code, out.String(), errOut.String(), err)
	}
	return code, res, errOut.String()
}

// TestLoadgenCommand: `paywire loadgen` keeps a node busy for its period
// in each mode; every payment it started is in the database (the
// warm-up's and the measured part's), the counts add up, the percentiles
// are filled in and in order, and with --listen every start's
// notification arrives.
func TestLoadgenCommand(t *testing.T) {
	m, base := simulateNode(t, "")
	started := 0
	for _, mode := range []string{"json", "soap", "flow"} {
		t.Run(mode, func(t *testing.T) {
			duration := "1s"
			if mode == "flow" {
				duration = "2s" // a flow is several exchanges
			}
			args := []string{"--mode", mode, "--url", base, "--concurrency", "3", "--duration", duration, "--warmup", "300ms", "--customers", "20"}
			if mode == "json" {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			code, res, stderr := runLoadJSON(t, args, simulateSecret)
			t.Logf("%+v", res)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if res.Mode != mode || res.Concurrency != 3 || res.Seconds < 1 || res.Failed != 0 || len(res.Errors) != 0 || res.Stopped {
				t.Errorf("result %+v", res)
			}
			if res.Requests < 1 || res.Answered != res.Requests || res.Warmup < 1 {
				t.Errorf("%d requests, %d answered, %d in the warm-up", res.Requests, res.Answered, res.Warmup)
			}
			if res.RPS != float64(res.Answered)/res.Seconds {
				t.Errorf("rps %g for %d answered in %gs", res.RPS, res.Answered, res.Seconds)
			}
			l := res.Latency
			if l == nil || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Errorf("latency %+v", l)
			}
			// Every request started a payment of its own, each stored.
			n, states := loadPayments(t, m, "load-")
			if n-started != res.Warmup+res.Requests {
				t.Errorf("%d payments stored, want %d (warm-up %d + measured %d)", n-started, res.Warmup+res.Requests, res.Warmup, res.Requests)
			}
			started = n
			switch mode {
			case "json":
				if res.Notifications == nil || res.Notifications.During+res.Notifications.After != int64(res.Warmup+res.Requests) {
					t.Errorf("notifications %+v for %d payments started", res.Notifications, res.Warmup+res.Requests)
				}
			case "flow":
				counted := 0
				for _, k := range res.States {
					counted += k
				}
				submits := res.Steps["POST /pay/submit"]
				// Every flow went through the card form: no payment is
				// left created, or unread.
				if counted != res.Requests || res.States["CREATED"]+res.States["UNKNOWN"] != 0 || submits.Count < res.Requests || res.Captured == nil {
					t.Errorf("flow payments %v (stored: %v), steps %+v", res.States, states, res.Steps)
				}
			}
		})
	}
}

// TestLoadgenCountsErrors: requests that fail are counted by their code
// and shown, and the run says so and exits 1; none counts as answered.
func TestLoadgenCountsErrors(t *testing.T) {
	_, base := simulateNode(t, "")
	code, res, stderr := runLoadJSON(t, []string{"--url", base, "--concurrency", "2", "--duration", "1s", "--warmup", "0s"}, "pw_live_wrong")
	if code != 1 || !strings.Contains(stderr, "requests failed") {
		t.Errorf("exit %d, %q; want 1 and the failures named", code, stderr)
	}
	if res.Requests == 0 || res.Failed != res.Requests || res.Answered != 0 || res.RPS != 0 || res.Latency != nil ||
		res.Errors["unauthorized"]+res.Errors["too_many_requests"] != res.Requests || len(res.Problems) == 0 {
		t.Errorf("result %+v", res)
	}
	// And for people.
	var out, errOut bytes.Buffer
	run(context.Background(), []string{"loadgen", "--url", base, "--duration", "1s", "--warmup", "0s", "--concurrency", "1"}, &out, &errOut,
		envOf(map[string]string{"PAYWIRE_LOADGEN_SECRET": "pw_live_wrong"}))
	if !strings.Contains(out.String(), "ERRORS: ") || !strings.Contains(out.String(), "went wrong: ") {
		t.Errorf("the summary does not show the errors:\n%s", out.String())
	}
}

// Flags are checked before anything is sent, with a message naming the
// flag.
func TestLoadgenFlags(t *testing.T) {
	env := envOf(map[string]string{"PAYWIRE_LOADGEN_SECRET": "s"})
	for _, c := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"--mode", "xml"}, env, `--mode: "xml" is not json, soap or flow`},
		{[]string{"--concurrency", "0"}, env, "--concurrency: 0 is not from 1 to 1000"},
		{[]string{"--duration", "500ms"}, env, "--duration: 500ms is not from 1s to 1h"},
		{[]string{"--duration", "soon"}, env, `invalid value "soon" for flag -duration`},
		{[]string{"--warmup", "-1s"}, env, "--warmup"},
		{[]string{"--url", "localhost:8080"}, env, `--url: "localhost:8080" is not a base URL`},
		{[]string{"--merchant", ""}, env, "--merchant: give the merchant id"},
		{nil, envOf(nil), "no API secret: set PAYWIRE_LOADGEN_SECRET"},
		{[]string{"--return-url", "/back"}, env, "--return-url"},
		{[]string{"--notification-url", "ftp://x"}, env, "--notification-url"},
		{[]string{"--listen", "127.0.0.1:0", "--notification-url", "http://127.0.0.1/n"}, env, "--listen and --notification-url: give one of them"},
		{[]string{"--listen", "nowhere"}, env, `--listen: "nowhere" is not an address`},
		{[]string{"--customers", "0"}, env, "--customers: 0 is not from 1 to 1000000"},
		{[]string{"--countries", "DE,XX"}, env, `--countries: "XX" is not one of`},
		{[]string{"--scenarios", "card=1"}, env, "--scenarios: only with --mode flow"},
		{[]string{"--mode", "flow", "--scenarios", "teleport=1"}, env, `--scenarios: "teleport" is not a scenario`},
		{[]string{"--timeout", "10ms"}, env, "--timeout"},
		{[]string{"extra"}, env, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"loadgen"}, c.args...), &out, &errOut, c.env)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"loadgen", "-h"}, &out, &out, env); code != 0 || !strings.Contains(out.String(), "--concurrency") {
		t.Errorf("-h: exit %d, %s", code, out.String())
	}
}
