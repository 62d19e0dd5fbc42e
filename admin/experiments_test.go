package admin_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
)

// expA is exp-a of the report history: control and treatment; the
// history's arm "@arm" is one it does not define.
var expA = engine.Experiment{Name: "exp-a", Description: "which acquirer first", Salt: "s", Sticky: "customer",
	Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Metric: "approval_rate", Control: "control",
	Arms:      []engine.Arm{{Name: "control", Weight: 50, Providers: []string{"sandbox"}}, {Name: "treatment", Weight: 50, Providers: []string{"acme", "sandbox"}}},
	Guardrail: engine.Guardrail{MaxDrop: 0.05, Confidence: 0.95, MinAttempts: 200}}

var armRow = regexp.MustCompile(`(?s)<tr id="arm-[^"]*"[^>]*>(.*?)</tr>`)

func newExperimentEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, map[string][]string{"vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		a.ExperimentPages = admin.ExperimentPages{Tallies: db, Experiments: func() []engine.Experiment { return []engine.Experiment{expA} }}
	})
	seedReportHistory(t, e.db)
	return e
}

func TestExperimentPages(t *testing.T) {
	e := newExperimentEnv(t)
	b := e.browser()
	b.signIn("vera", "pw-vera") // every role may read the results
	list := b.do("GET", "/admin/experiments", nil)
	for _, want := range []string{`href="/admin/experiments/exp-a"`, `<span class="tag on">running</span>`, "acme → sandbox", "from 200 payments a side"} {
		if list.status != http.StatusOK || !strings.Contains(list.body, want) {
			t.Fatalf("experiments (%d) lack %q:\n%s", list.status, want, list.body)
		}
	}

	// The default period is the experiment's start to today (the test
	// clock: 2026-12-06): exp-a/control completed, exp-a/treatment refused.
	page := b.do("GET", "/admin/experiments/exp-a", nil)
	if page.status != http.StatusOK {
		t.Fatalf("results: %d %s", page.status, page.body)
	}
	rows := map[string][]string{}
	for _, row := range armRow.FindAllStringSubmatch(page.body, -1) {
		var cells []string
		for _, c := range tableCell.FindAllStringSubmatch(row[1], -1) {
			cells = append(cells, c[1])
		}
		if len(cells) > 0 {
			rows[cells[0]] = cells
		}
	}
	if len(rows) == 0 {
		t.Fatalf("no arm rows:\n%s", page.body)
	}
	control, treatment := rows["<strong>control</strong> (control) · 50 %"], rows["<strong>treatment</strong> · 50 %"]
	if len(control) != 12 || control[2] != "1" || control[3] != "1" || control[4] != "1" || !strings.HasPrefix(control[5], "100.0 %") {
		t.Errorf("control row %q", control)
	}
	if len(treatment) != 12 || treatment[4] != "0" || !strings.HasPrefix(treatment[5], "0.0 %") || !strings.HasPrefix(treatment[6], "-100.0 pts") {
		t.Errorf("treatment row %q", treatment)
	}
	for _, want := range []string{`name="from" value="2026-11-20"`, `name="to" value="2026-12-06"`, "Too few payments to say anything about arm treatment",
		`1 payments are in arm &#34;@arm&#34;`, `data-chart="arms"`, `<circle class="dot" cx="620"`, `<circle class="dot" cx="90"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the results page lacks %s", want)
		}
	}

	// The same as JSON and CSV, for the chosen period and effect.
	j := b.do("GET", "/admin/experiments/exp-a/results.json?from=2026-11-20&to=2026-12-06&effect=5", nil)
	var doc struct {
		Effect   float64 `json:"effect"`
		TooSmall bool    `json:"too_small"`
		Arms     []struct {
			Arm      string  `json:"arm"`
			Approved int64   `json:"approved"`
			Decided  int64   `json:"decided"`
			Rate     float64 `json:"approval_rate"`
			P50      *int64  `json:"latency_p50_ms"`
		} `json:"arms"`
	}
	if err := json.Unmarshal([]byte(j.body), &doc); err != nil || j.status != http.StatusOK {
		t.Fatalf("json %d: %v\n%s", j.status, err, j.body)
	}
	if doc.Effect != 0.05 || !doc.TooSmall || len(doc.Arms) != 2 || doc.Arms[0].Rate != 1 || doc.Arms[1].Decided != 1 || doc.Arms[1].Approved != 0 || doc.Arms[0].P50 != nil {
		t.Errorf("json %+v", doc)
	}
	c := b.do("GET", "/admin/experiments/exp-a/results.csv", nil)
	records, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil || len(records) != 3 || records[0][1] != "arm" || records[2][1] != "treatment" || records[2][4] != "acme sandbox" {
		t.Errorf("csv %v: %q", err, records)
	}

	// Bad input: a readable refusal.
	for path, status := range map[string]int{
		"/admin/experiments/nothing":                    http.StatusNotFound,
		"/admin/experiments/exp-a?effect=fifty":         http.StatusBadRequest,
		"/admin/experiments/exp-a?from=2026-12-07":      http.StatusBadRequest,
		"/admin/experiments/exp-a?from=2020-01-01":      http.StatusBadRequest, // more than 366 days
		"/admin/experiments/exp-a/results.csv?to=never": http.StatusBadRequest,
	} {
		if a := b.do("GET", path, nil); a.status != status {
			t.Errorf("%s: %d, want %d", path, a.status, status)
		}
	}
}

// An arm the guardrail stopped is shown stopped, with why, on the page
// and in the JSON.
func TestExperimentPageShowsAStoppedArm(t *testing.T) {
	e := newEnv(t, map[string][]string{"vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		a.ExperimentPages = admin.ExperimentPages{Tallies: db, Stops: db, Experiments: func() []engine.Experiment { return []engine.Experiment{expA} }}
	})
	seedReportHistory(t, e.db)
	stop := &paywire.ArmStop{Experiment: "exp-a", Salt: "s", Arm: "treatment", Reason: "approval rate 0.0 % of 1 against control's 100.0 % of 1"}
	if ok, err := e.db.StopArm(context.Background(), stop, &paywire.AuditEntry{Actor: "system", Action: "experiment.arm_stop"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// A stop of the same name under another salt is another experiment's.
	if ok, err := e.db.StopArm(context.Background(), &paywire.ArmStop{Experiment: "exp-a", Salt: "old", Arm: "control", Reason: "r"},
		&paywire.AuditEntry{Actor: "system", Action: "experiment.arm_stop"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	b := e.browser()
	b.signIn("vera", "pw-vera")
	page := b.do("GET", "/admin/experiments/exp-a", nil)
	if !strings.Contains(page.body, `id="stop-treatment"`) || !strings.Contains(page.body, "control&#39;s 100.0 % of 1") ||
		strings.Contains(page.body, `id="stop-control"`) || strings.Count(page.body, `class="bad stopped"`) != 1 {
		t.Errorf("the page does not show the one stop:\n%s", page.body)
	}
	j := b.do("GET", "/admin/experiments/exp-a/results.json", nil)
	if !strings.Contains(j.body, `"stop_reason": "approval rate 0.0 %`) || strings.Count(j.body, `"stopped_at"`) != 1 {
		t.Errorf("json:\n%s", j.body)
	}
}

// "Promote arm" is offered to policy authors only, posts the arm with the
// CSRF token, and shows the draft it made in the registry.
func TestPromoteArmFromTheExperimentPage(t *testing.T) {
	var got []string
	e := newEnv(t, map[string][]string{"vera": {"viewer"}, "rita": {"risk_analyst"}}, func(a *admin.App, db *store.DB) {
		a.ExperimentPages = admin.ExperimentPages{Tallies: db, Experiments: func() []engine.Experiment { return []engine.Experiment{expA} },
			Promote: func(_ context.Context, experiment, arm, who string) (*paywire.PolicyBundle, error) {
				got = append(got, experiment+"/"+arm+"/"+who)
				return &paywire.PolicyBundle{Revision: 7}, nil
			}}
	})
	vera := e.browser()
	vera.signIn("vera", "pw-vera")
	page := vera.do("GET", "/admin/experiments/exp-a", nil)
	if strings.Contains(page.body, `id="promote-form"`) {
		t.Error("a viewer is offered the promotion")
	}
	if a := vera.do("POST", "/admin/experiments/exp-a/promote", url.Values{"csrf": {csrfOf(t, page.body)}, "arm": {"treatment"}}); a.status != http.StatusForbidden {
		t.Errorf("a viewer's post: %d", a.status)
	}
	rita := e.browser()
	rita.signIn("rita", "pw-rita")
	page = rita.do("GET", "/admin/experiments/exp-a", nil)
	if !strings.Contains(page.body, `id="promote-form"`) {
		t.Fatal("an analyst is not offered the promotion")
	}
	if a := rita.do("POST", "/admin/experiments/exp-a/promote", url.Values{"arm": {"treatment"}}); a.status != http.StatusForbidden {
		t.Errorf("a post without the CSRF token: %d", a.status)
	}
	a := rita.do("POST", "/admin/experiments/exp-a/promote", url.Values{"csrf": {csrfOf(t, page.body)}, "arm": {"treatment"}})
	if a.status != http.StatusSeeOther || a.loc != "/admin/policies/7?done=push" || strings.Join(got, " ") != "exp-a/treatment/rita" {
		t.Errorf("promote: %d %s, calls %v", a.status, a.loc, got)
	}
}
