package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/traffic"
)

const simulateSecret = "demo-secret-for-simulate-tests"

// simulateNode serves the demo merchants (without the month of history)
// with the sandbox providers tuned by spec; before, if given, is run on
// the node before it serves (to add a query hook without a race).
func simulateNode(t *testing.T, spec string, before ...func(*Main)) (*Main, string) {
	t.Helper()
	args := []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", t.TempDir() + "/p.db",
		"--demo", "--demo-history=false"}
	if spec != "" {
		args = append(args, "--sandbox-acquirers", spec)
	}
	cfg, _, err := parseConfig("serve", args, envOf(map[string]string{"PAYWIRE_DEMO_SECRET": simulateSecret}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TokenKey = testTokenKey
	var m *Main
	base, stop := startMain(t, cfg, func(mm *Main) {
		m = mm
		for _, f := range before {
			f(mm) // before the node runs
		}
	})
	t.Cleanup(func() { _ = stop() })
	return m, base
}

// TestSimulateCommand: `paywire simulate` against a running node makes
// its payments through the JSON and SOAP starts and the hosted pages, and
// they end as their end users' cards say: paid, refused, failed,
// cancelled, left; the summary counts them as the database has them.
func TestSimulateCommand(t *testing.T) {
	m, base := simulateNode(t, "")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--payments", "40", "--rate", "40", "--url", base, "--seed", "3",
		"--settle", "15s", "--notification-url", base + "/shop/listener"},
		&out, &errOut, envOf(map[string]string{"PAYWIRE_SIMULATE_SECRET": simulateSecret}))
	t.Logf("%s", out.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"40 payments in", "; 0 flows went wrong", "started by: json=20 soap=20", "by provider:", "acquirer-a",
		"POST /pay/submit", "SOAP getRedirectData", "POST /api/v1/payments "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary has no %q", want)
		}
	}
	// What the database has is what the summary says.
	stored := map[string]int{}
	total := 0
	for _, st := range paywire.States {
		ps, err := m.DB.PaymentsInState(context.Background(), "demo", st, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if strings.HasPrefix(p.MerchantReference, "sim-") {
				stored[strings.ToUpper(string(st))]++
				total++
			}
		}
	}
	if total != 40 {
		t.Fatalf("%d simulated payments stored, want 40: %v", total, stored)
	}
	var states []string
	for st, n := range stored {
		states = append(states, fmt.Sprintf("%s=%d", st, n))
	}
	for _, s := range states {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the summary does not count %s: %v", s, stored)
		}
	}
	if stored["COMPLETED"] < 15 || stored["REFUSED"]+stored["FAILED"]+stored["CANCELLED"] == 0 {
		t.Errorf("final states %v: want most paid, some refused, failed or cancelled", stored)
	}
}

// Flags are checked before anything is sent, with a message naming the
// flag.
func TestSimulateFlags(t *testing.T) {
	env := envOf(map[string]string{"PAYWIRE_SIMULATE_SECRET": "s"})
	for _, c := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{nil, env, "--payments: 0 is not a number of payments from 1 to 100000"},
		{[]string{"--payments", "10", "--rate", "0"}, env, "--rate: 0 is not"},
		{[]string{"--payments", "10", "--rate", "fast"}, env, `invalid value "fast" for flag -rate`},
		{[]string{"--payments", "10", "--concurrency", "0"}, env, "--concurrency"},
		{[]string{"--payments", "10", "--url", "localhost:8080"}, env, `--url: "localhost:8080" is not a base URL`},
		{[]string{"--payments", "10"}, envOf(nil), "no API secret: set PAYWIRE_SIMULATE_SECRET"},
		{[]string{"--payments", "10", "--api", "xml"}, env, `--api: "xml" is not json, soap or both`},
		{[]string{"--payments", "10", "--return-url", "/back"}, env, "--return-url"},
		{[]string{"--payments", "10", "--notification-url", "ftp://x"}, env, "--notification-url"},
		{[]string{"--payments", "10", "--scenarios", "card=5,teleport=3"}, env, `--scenarios: "teleport" is not a scenario`},
		{[]string{"--payments", "10", "--scenarios", "card=0"}, env, "--scenarios: no scenario has a weight"},
		{[]string{"--payments", "10", "--countries", "DE,XX"}, env, `--countries: "XX" is not one of`},
		{[]string{"--payments", "10", "--settle", "1h"}, env, "--settle"},
		{[]string{"--payments", "10", "extra"}, env, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"simulate"}, c.args...), &out, &errOut, c.env)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"simulate", "-h"}, &out, &out, env); code != 0 || !strings.Contains(out.String(), "--payments") {
		t.Errorf("-h: exit %d, %s", code, out.String())
	}
	// The sandbox's tuning is checked by serve as its other flags.
	if _, _, err := parseConfig("serve", []string{"--sandbox-acquirers", "acquirer-b approval=2"}, envOf(nil)); err == nil ||
		!strings.Contains(err.Error(), "--sandbox-acquirers: clause 1") {
		t.Errorf("a bad --sandbox-acquirers: %v", err)
	}
	if c, _, err := parseConfig("serve", nil, envOf(map[string]string{"PAYWIRE_SANDBOX_ACQUIRERS": "acquirer-b errors=0.1"})); err != nil ||
		len(c.SandboxTunings) != 1 || *c.SandboxTunings[0].Base.ErrorRate != 0.1 {
		t.Errorf("PAYWIRE_SANDBOX_ACQUIRERS: %+v, %v", c.SandboxTunings, err)
	}
}

// TestGuardrailInSimulation: simulated customers pay EUR card deposits,
// which the default bundle's acquirer-split experiment splits between
// acquirer-a (control) and acquirer-b. With acquirer-b configured much
// worse (it declines most ordinary cards, for good), the node's guardrail
// check stops arm b; with acquirer-b as good as acquirer-a it stops
// nothing. The guardrail waits here for 25 payments a side instead of
// 200, to keep the test short; how often it stops a healthy arm over
// many experiments is measured in experiments/guard_test.go.
func TestGuardrailInSimulation(t *testing.T) {
	for _, c := range []struct {
		name, spec string
		stopped    bool
	}{
		{"degraded", "acquirer-b approval=0.3 declines=hard latency=20ms", true},
		{"healthy", "acquirer-b approval=1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			m, base := simulateNode(t, c.spec)
			files, err := engine.BundleFiles(policies.FS, rules.FS)
			if err != nil {
				t.Fatal(err)
			}
			const data = "paywire/experiments/data.yaml"
			y := string(files[data])
			if !strings.Contains(y, "min_attempts: 200") {
				t.Fatalf("%s has no min_attempts: 200", data)
			}
			files[data] = []byte(strings.Replace(y, "min_attempts: 200", "min_attempts: 25", 1))
			if _, err := m.Engine.Activate(ctx, files); err != nil {
				t.Fatal(err)
			}
			sim := traffic.Simulation{Payments: 90, Rate: 200, Concurrency: 8, Customers: 60, Seed: 11, API: traffic.APIJSON,
				ReturnURL: "http://127.0.0.1/simulate/", Reference: "guard-" + c.name + "-",
				Mix: traffic.Mix{Countries: []traffic.Country{{Code: "DE", Currency: "EUR", Language: "de", Weight: 1}},
					Scenarios: map[string]int{"card": 1}},
				Merchants: []*traffic.Merchant{{BaseURL: base, ID: "demo", Secret: simulateSecret}}}
			sum, err := sim.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			sum.Write(&out)
			t.Logf("%s", out.String())
			if sum.Failed > 0 {
				t.Fatalf("%d flows went wrong", sum.Failed)
			}
			now := time.Now()
			tallies, err := m.DB.ExperimentTallies(ctx, paywire.ExperimentRequest{Experiment: "acquirer-split", From: now.Add(-time.Hour), To: now.Add(time.Minute)})
			if err != nil || len(tallies) != 2 || tallies[0].Decided < 25 || tallies[1].Decided < 25 {
				t.Fatalf("tallies %+v, %v: want both arms with 25 decided payments", tallies, err)
			}
			t.Logf("tallies %+v", tallies)
			if err := m.guardrails.check(ctx); err != nil {
				t.Fatal(err)
			}
			stops, err := m.DB.ArmStops(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if stopped := len(stops) == 1 && stops[0].Arm == "b"; stopped != c.stopped || (!c.stopped && len(stops) > 0) {
				t.Fatalf("stops %+v; want arm b stopped: %v", stops, c.stopped)
			}
		})
	}
}

// TestDemoTraffic: the recent traffic of serve --demo goes through the
// node's API and pages for both demo merchants, with their own
// credentials, and its payments end as live ones do.
func TestDemoTraffic(t *testing.T) {
	m, _ := simulateNode(t, "")
	ctx := context.Background()
	if err := seedDemoTravel(ctx, m.DB); err != nil {
		t.Fatal(err)
	}
	sum, err := m.runDemoTraffic(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Payments != 12 || sum.Failed > 0 {
		t.Fatalf("%d payments, %d went wrong: %v", sum.Payments, sum.Failed, sum.Problems)
	}
	for _, merchant := range []string{"demo", demoTravelID} {
		n := 0
		for _, st := range paywire.States {
			ps, err := m.DB.PaymentsInState(ctx, merchant, st, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if strings.HasPrefix(p.MerchantReference, "demo-live-") {
					n++
				}
			}
		}
		if n == 0 {
			t.Errorf("no recent payment of %s", merchant)
		}
	}
}

// TestSimulationPreselectsWhatIsOffered: a simulated checkout passes its
// customer's method on only when Paywire offers it to that customer.
// France has no bank redirect, so the French customers who want one are
// left to the pages (which offer card), not refused at the start.
func TestSimulationPreselectsWhatIsOffered(t *testing.T) {
	_, base := simulateNode(t, "")
	sim := traffic.Simulation{Payments: 16, Rate: 200, Concurrency: 4, Customers: 8, Seed: 5, API: traffic.APIJSON,
		ReturnURL: "http://127.0.0.1/simulate/", Reference: "preselect-",
		Mix: traffic.Mix{Countries: []traffic.Country{{Code: "FR", Currency: "EUR", Language: "fr", Weight: 1}},
			Scenarios: map[string]int{"bank": 1}},
		Merchants: []*traffic.Merchant{{BaseURL: base, ID: "demo", Secret: simulateSecret}}}
	sum, err := sim.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Payments != 16 || sum.Failed > 0 {
		t.Fatalf("%d payments, %d went wrong: %v", sum.Payments, sum.Failed, sum.Problems)
	}
}
