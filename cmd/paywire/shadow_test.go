package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// probeAmount is what the candidate of these tests blocks and the
// built-in bundle does not.
const probeAmount = 12345

// writeShadowCandidate writes the built-in bundle with one rule more, which
// blocks payments of exactly probeAmount, as a .tar.gz.
func writeShadowCandidate(t *testing.T) string {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	files["rules/risk/data.yaml"] = append(bytes.Clone(files["rules/risk/data.yaml"]), []byte(fmt.Sprintf(`
  - id: shadow_probe
    group: amount
    description: A probe amount the candidate blocks
    when: request.amount.minor == %d
    effect: {score: 100, reason: shadow_probe}
`, probeAmount))...)
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "candidate.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func shadowRiskInput(i int, minor int64) engine.RiskInput {
	return engine.RiskInput{Request: engine.RiskRequest{
		PaymentID: fmt.Sprintf("pay_shadow_%d", i), MerchantID: "shadowshop", Kind: "deposit",
		Amount: engine.Money{Minor: minor, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", Country: "DE", ExpiryMonth: 12, ExpiryYear: 2030},
		Customer: engine.Customer{ID: "c1", Country: "DE", Language: "de"}, Time: time.Now().UTC(),
	}}
}

// shadowStatusOf runs `paywire policy shadow status --json`.
func (c policyCLI) shadowStatus() shadowJSON {
	c.t.Helper()
	var s shadowJSON
	if err := json.Unmarshal([]byte(c.must("policy", "shadow", "status", "--json", "--recent", "100")), &s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// waitShadow waits until a node reports shadowing revision rev (0: none).
func waitShadow(t *testing.T, base string, rev int64, start time.Time) time.Duration {
	t.Helper()
	for time.Since(start) < time.Minute {
		s := readyBundle(t, base).Shadow
		if (rev == 0 && s == nil) || (s != nil && s.Revision == rev && s.Error == "") {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s does not shadow revision %d a minute after the change: %+v", base, rev, readyBundle(t, base).Shadow)
	return 0
}

func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestShadowOnLiveTraffic: a running node follows the shadow setting
// through its refresher (started and stopped with the CLI, within 5 s on
// a quiet machine: the times are logged); while a candidate that differs
// on one rule shadows, every live decision is compared and exactly the
// decisions that rule changes are recorded as disagreements, with both
// outcomes; the live decisions are the active bundle's; /readyz, the
// metrics and `policy shadow status` say so; after the stop nothing more
// is compared. SQLite and, with PAYWIRE_TEST_POSTGRES, PostgreSQL.
func TestShadowOnLiveTraffic(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testShadowOnLiveTraffic(t, filepath.Join(t.TempDir(), "p.db")) })
	if dsn := os.Getenv("PAYWIRE_TEST_POSTGRES"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			_, schemaDSN := crashSchema(t, dsn)
			testShadowOnLiveTraffic(t, schemaDSN)
		})
	}
}

func testShadowOnLiveTraffic(t *testing.T, db string) {
	c := newPolicyCLI(t, db, nil)
	cand := pushedRevision.FindStringSubmatch(c.must("policy", "push", "--bundle", writeShadowCandidate(t), "--as", "ann", "--message", "block the probe amount"))[1]
	c.must("policy", "submit", "--revision", cand, "--as", "ann")

	cfg, _, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db, "--policy-poll", "200ms"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	var m *Main
	base, _ := startMain(t, cfg, func(mm *Main) { m = mm })
	if s := readyBundle(t, base).Shadow; s != nil {
		t.Fatalf("a shadow before any start: %+v", s)
	}

	if code, _, errOut := c.run("policy", "shadow", "--revision", cand); code != 2 || !strings.Contains(errOut, "--as USER is required") {
		t.Errorf("start without --as: %d %q", code, errOut)
	}
	if out := c.must("policy", "shadow", "--revision", cand, "--as", "bob"); !strings.Contains(out, "revision "+cand+" shadows the active revision (shadow 1)") {
		t.Errorf("start said %q", out)
	}
	t.Logf("the node shadows revision %s %s after the start", cand, waitShadow(t, base, 1, time.Now()))

	amounts := []int64{probeAmount, 1000, probeAmount, 2500, 700, probeAmount}
	var probes []string
	for i, minor := range amounts {
		d, err := m.Engine.Risk(context.Background(), shadowRiskInput(i, minor))
		if err != nil {
			t.Fatal(err)
		}
		if d.BundleRevision == cand || d.Action == engine.RiskBlock {
			t.Fatalf("live decision of %d: revision %s, action %s: the candidate decided live", minor, d.BundleRevision, d.Action)
		}
		if minor == probeAmount {
			probes = append(probes, d.DecisionID)
		}
	}
	if err := m.Engine.Shadow.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := c.shadowStatus()
	if s.Shadow == nil || !s.Shadow.Running || fmt.Sprint(s.Shadow.Revision) != cand || s.Shadow.StartedBy != "bob" {
		t.Fatalf("status: %+v", s.Shadow)
	}
	if len(s.Counts) != 1 || s.Counts[0] != (paywire.ShadowPointCounts{Point: "risk", Agree: 3, Disagree: 3}) {
		t.Errorf("counts %+v; want risk: 3 agree, 3 disagree", s.Counts)
	}
	var got []string
	for _, d := range s.Disagreements {
		got = append(got, d.DecisionID)
		if d.Point != "risk" || d.MerchantID != "shadowshop" || !strings.HasPrefix(d.PaymentID, "pay_shadow_") ||
			d.ShadowRevision != cand || d.ShadowOutcome != "block" || d.LiveOutcome == "block" || d.LiveRevision == cand {
			t.Errorf("disagreement %+v", d)
		}
	}
	slices.Sort(got)
	slices.Sort(probes)
	if !slices.Equal(got, probes) {
		t.Errorf("disagreements on %v; want exactly the probe decisions %v", got, probes)
	}
	text := c.must("policy", "shadow", "status")
	if !strings.Contains(text, "shadow 1: revision "+cand+" beside active revision 0") || !strings.Contains(text, "block (rev "+cand+")") {
		t.Errorf("status:\n%s", text)
	}
	mt := metricsText(t, m.MetricsAddr())
	for _, want := range []string{
		`paywire_policy_shadow_decisions_total{point="risk",result="disagree"} 3`,
		`paywire_policy_shadow_decisions_total{point="risk",result="agree"} 3`,
		`paywire_policy_shadow_dropped_total 0`,
		`paywire_policy_shadow_info{hash="`,
		`revision="` + cand + `"} 1`,
	} {
		if !strings.Contains(mt, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Stopped: the node stops comparing.
	if code, _, errOut := c.run("policy", "shadow", "--stop", "--as", "vic"); code != 1 || !strings.Contains(errOut, "not a back-office user") {
		t.Errorf("stop by nobody: %d %q", code, errOut)
	}
	c.must("policy", "shadow", "--stop", "--as", "carl")
	t.Logf("the node stops shadowing %s after the stop", waitShadow(t, base, 0, time.Now()))
	if _, err := m.Engine.Risk(context.Background(), shadowRiskInput(9, probeAmount)); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.Shadow.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := c.shadowStatus(); s.Shadow.Running || s.Shadow.StoppedBy != "carl" || len(s.Disagreements) != 3 || s.Counts[0].Disagree != 3 {
		t.Errorf("after the stop: %+v %+v", s.Shadow, s.Counts)
	}
	if !strings.Contains(metricsText(t, m.MetricsAddr()), `paywire_policy_shadow_info{hash="",revision="0"} 1`) {
		t.Error("the info gauge still names a revision")
	}
	audit := c.must("audit", "list")
	for _, want := range []string{`admin:bob\s+policy_bundle\.shadow_start\s+policy_bundle:` + cand, `admin:carl\s+policy_bundle\.shadow_stop\s+policy_bundle:` + cand} {
		if !regexp.MustCompile(want).MatchString(audit) {
			t.Errorf("the audit log lacks %s:\n%s", want, audit)
		}
	}
}

// TestShadowDropsWhatItCannotQueue: on a node whose shadow queue holds 2
// and whose workers have not started, live decisions beyond the queue are
// dropped, never waited for, and counted in the database and the metrics.
func TestShadowDropsWhatItCannotQueue(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	c := newPolicyCLI(t, db, nil)
	cand := pushedRevision.FindStringSubmatch(c.must("policy", "push", "--bundle", writeShadowCandidate(t), "--as", "ann", "--message", "m"))[1]
	c.must("policy", "submit", "--revision", cand, "--as", "ann")
	c.must("policy", "shadow", "--revision", cand, "--as", "ann")
	cfg, _, err := parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db, "--policy-shadow-queue", "2"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, io.Discard, io.Discard)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if s := m.bundles.Status().Shadow; s == nil || fmt.Sprint(s.Revision) != cand {
		t.Fatalf("the node did not pick the shadow up at start: %+v", s)
	}
	for i := range 7 {
		if _, err := m.Engine.Risk(context.Background(), shadowRiskInput(i, probeAmount)); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.bundles.Status().Shadow; s.Queued != 2 || s.Dropped != 5 {
		t.Errorf("queued %d, dropped %d; want 2 and 5", s.Queued, s.Dropped)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := m.runShadow(ctx)
	defer func() { cancel(); wait() }()
	if err := m.Engine.Shadow.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := c.shadowStatus(); len(s.Counts) != 1 || s.Counts[0] != (paywire.ShadowPointCounts{Point: "risk", Disagree: 2, Dropped: 5}) {
		t.Errorf("counts %+v; want risk: 2 disagree, 5 dropped", s.Counts)
	}
	var buf bytes.Buffer
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "paywire_policy_shadow_dropped_total" {
			fmt.Fprint(&buf, mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	if buf.String() != "5" {
		t.Errorf("paywire_policy_shadow_dropped_total = %q, want 5", buf.String())
	}
}
