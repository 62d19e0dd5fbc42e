package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/experiments"
)

// ExperimentTallier counts the payments of an experiment's arms. store.DB
// implements it.
type ExperimentTallier interface {
	// ExperimentTallies returns the tallies of r's experiment, by arm.
	// Returns EINVALID for an invalid request.
	ExperimentTallies(ctx context.Context, r paywire.ExperimentRequest) ([]paywire.ArmTally, error)
}

// ExperimentPages are the routing experiments' pages: the experiments the
// running bundle defines and each one's results against control, as a
// page, JSON and CSV. The area is mounted when both are set; every role
// may read it.
type ExperimentPages struct {
	Tallies ExperimentTallier
	// Experiments returns the running bundle's experiments.
	Experiments func() []engine.Experiment
	// Stops are the arms the guardrails stopped; nil shows none.
	Stops paywire.ArmStopStore
	// Promote pushes a draft revision of the running bundle in which the
	// experiment's arm is the route (bundles.Service.Promote); nil offers
	// no promotion.
	Promote func(ctx context.Context, experiment, arm, who string) (*paywire.PolicyBundle, error)
}

func (a *App) mountExperiments(r chi.Router) {
	if a.Tallies == nil || a.Experiments == nil {
		return
	}
	a.section("/admin/experiments", "Experiments", anyRole...)
	r.Get("/experiments", a.allow(a.experimentsPage, anyRole...))
	r.Get("/experiments/{name}", a.allow(a.experimentPage, anyRole...))
	r.Get("/experiments/{name}/results.json", a.allow(a.experimentJSON, anyRole...))
	r.Get("/experiments/{name}/results.csv", a.allow(a.experimentCSV, anyRole...))
	if a.Promote != nil {
		r.Post("/experiments/{name}/promote", a.allow(a.checked(a.promoteArm), policyAuthors...))
	}
}

// promoteArm makes a draft revision with the posted arm as the route, and
// shows it in the registry, where it goes through review and approval.
func (a *App) promoteArm(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	b, err := a.Promote(r.Context(), chi.URLParam(r, "name"), r.PostFormValue("arm"), c.user.Username)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/policies/%d?done=push", b.Revision), http.StatusSeeOther)
}

// experimentLine is an experiment in the list.
type experimentLine struct {
	engine.Experiment
	Status string // running, not started, ended
}

func experimentStatus(x *engine.Experiment, now time.Time) string {
	switch {
	case x.Running(now):
		return "running"
	case now.Before(x.Start):
		return "not started"
	}
	return "ended"
}

func (a *App) experimentsPage(w http.ResponseWriter, r *http.Request) {
	var lines []experimentLine
	for _, x := range a.Experiments() {
		lines = append(lines, experimentLine{Experiment: x, Status: experimentStatus(&x, a.Now())})
	}
	a.render(w, r, http.StatusOK, "experiments", page{Title: "Experiments", Data: lines})
}

// experimentForm is the results' form as asked (or defaulted).
type experimentForm struct {
	From, To, Merchant, Effect string
}

// experiment finds the running bundle's experiment of the URL and reads
// the query: from and to are UTC days, both included (by default the
// experiment's start to today, or its end); merchant a merchant id ("" for
// all); effect the change in percentage points the sample size is for.
func (a *App) experimentRequest(r *http.Request) (*engine.Experiment, experimentForm, paywire.ExperimentRequest, float64, error) {
	name := chi.URLParam(r, "name")
	var x *engine.Experiment
	for _, e := range a.Experiments() {
		if e.Name == name {
			x = &e
			break
		}
	}
	q := r.URL.Query()
	f := experimentForm{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Merchant: strings.TrimSpace(q.Get("merchant")), Effect: strings.TrimSpace(q.Get("effect"))}
	if x == nil {
		return nil, f, paywire.ExperimentRequest{}, 0, paywire.Errorf(paywire.ENOTFOUND, "the running policy bundle defines no experiment %q", reportClip(name, 64))
	}
	last := a.Now().UTC().Truncate(24 * time.Hour)
	if !x.End.IsZero() && x.End.Before(last) {
		last = x.End.UTC().Truncate(24 * time.Hour)
	}
	to, err := parseDay("end", f.To, last)
	if err != nil {
		return x, f, paywire.ExperimentRequest{}, 0, err
	}
	from, err := parseDay("start", f.From, x.Start.UTC().Truncate(24*time.Hour))
	if err != nil {
		return x, f, paywire.ExperimentRequest{}, 0, err
	}
	f.From, f.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	effect := experiments.DefaultEffect
	if f.Effect != "" {
		pts, err := strconv.ParseFloat(f.Effect, 64)
		if err != nil || pts <= 0 || pts >= 50 {
			return x, f, paywire.ExperimentRequest{}, 0, paywire.Errorf(paywire.EINVALID, "the effect is a change of the approval rate in percentage points, more than 0 and less than 50, not %q", reportClip(f.Effect, 16))
		}
		effect = pts / 100
	}
	f.Effect = strconv.FormatFloat(effect*100, 'f', -1, 64)
	req := paywire.ExperimentRequest{Experiment: x.Name, From: from, To: to.AddDate(0, 0, 1), MerchantID: f.Merchant, Latencies: true}
	if from.After(to) {
		return x, f, req, 0, paywire.Errorf(paywire.EINVALID, "the start date %s is after the end date %s", f.From, f.To)
	}
	return x, f, req, effect, req.Validate()
}

// experimentView is the results page's data.
type experimentView struct {
	Status string
	Form   experimentForm
	// JSON and CSV are the exports' URLs, with the form's parameters.
	JSON, CSV string
	experiments.Results
	Chart rateChart
	// Stopped are the experiment's arms its guardrail stopped, by arm.
	Stopped map[string]*paywire.ArmStop
	// CanPromote offers "Promote arm" (policy authors, when promotion is
	// wired).
	CanPromote bool
}

// rateChart draws each arm's approval rate with its interval.
type rateChart struct {
	Width, Height, Left, Right int
	Rows                       []rateRow
	Ticks                      []rateTick
}

type rateRow struct {
	Label                 string
	Y, Low, High, At      float64
	Title                 string
	Control, Breached, On bool
}

type rateTick struct {
	At    float64
	Label string
}

func drawRates(res experiments.Results) rateChart {
	c := rateChart{Width: 640, Left: 90, Right: 620}
	c.Height = 40 + 36*len(res.Arms)
	x := func(rate float64) float64 { return float64(c.Left) + rate*float64(c.Right-c.Left) }
	for i := 0; i <= 10; i += 2 {
		c.Ticks = append(c.Ticks, rateTick{At: x(float64(i) / 10), Label: strconv.Itoa(i*10) + " %"})
	}
	for i, arm := range res.Arms {
		row := rateRow{Label: arm.Arm, Y: float64(24 + 36*i), Control: arm.Control, Breached: arm.Breached, On: arm.Decided > 0}
		row.Low, row.High, row.At = x(arm.Low), x(arm.High), x(arm.Rate)
		row.Title = fmt.Sprintf("%s: %s (95 %% interval %s to %s), %d decided", arm.Arm, percent(arm.Rate), percent(arm.Low), percent(arm.High), arm.Decided)
		c.Rows = append(c.Rows, row)
	}
	return c
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + " %" }

// results reads the experiment's results, or answers the problem.
func (a *App) results(w http.ResponseWriter, r *http.Request) (*experimentView, bool) {
	x, form, req, effect, err := a.experimentRequest(r)
	if err != nil {
		a.problem(w, r, err)
		return nil, false
	}
	tallies, err := a.Tallies.ExperimentTallies(r.Context(), req)
	if err != nil {
		a.problem(w, r, err)
		return nil, false
	}
	q := url.Values{"from": {form.From}, "to": {form.To}, "effect": {form.Effect}}
	if form.Merchant != "" {
		q.Set("merchant", form.Merchant)
	}
	base := "/admin/experiments/" + url.PathEscape(x.Name) + "/results"
	v := &experimentView{Status: experimentStatus(x, a.Now()), Form: form, JSON: base + ".json?" + q.Encode(), CSV: base + ".csv?" + q.Encode(),
		Results: experiments.Compute(*x, req, tallies, effect)}
	v.Chart = drawRates(v.Results)
	v.CanPromote = a.Promote != nil && currentOf(r.Context()).user.Has(policyAuthors...)
	if a.Stops != nil {
		stops, err := a.Stops.ArmStops(r.Context())
		if err != nil {
			a.problem(w, r, err)
			return nil, false
		}
		v.Stopped = map[string]*paywire.ArmStop{}
		for _, s := range stops {
			if s.Experiment == x.Name && s.Salt == x.Salt {
				v.Stopped[s.Arm] = &s
			}
		}
	}
	return v, true
}

func (a *App) experimentPage(w http.ResponseWriter, r *http.Request) {
	v, ok := a.results(w, r)
	if !ok {
		return
	}
	a.render(w, r, http.StatusOK, "experiment", page{Title: "Experiment " + v.Experiment.Name, Data: v})
}

// experimentResult is an arm's result in the JSON export: rates as
// fractions, latencies in milliseconds (null when unknown).
type experimentResult struct {
	Arm         string   `json:"arm"`
	Control     bool     `json:"control"`
	Weight      int      `json:"weight"`
	Providers   []string `json:"providers"`
	Routed      int64    `json:"routed"`
	Decided     int64    `json:"decided"`
	Approved    int64    `json:"approved"`
	InFlight    int64    `json:"in_flight"`
	Refunded    int64    `json:"refunded"`
	ChargedBack int64    `json:"charged_back"`
	Rate        float64  `json:"approval_rate"`
	Low         float64  `json:"approval_rate_low"`
	High        float64  `json:"approval_rate_high"`
	P50         *int64   `json:"latency_p50_ms"`
	P95         *int64   `json:"latency_p95_ms"`
	// Difference, Z and P are against control: null for control itself.
	Difference  *float64 `json:"difference"`
	Z           *float64 `json:"z"`
	P           *float64 `json:"p_value"`
	Significant bool     `json:"significant"`
	Breached    bool     `json:"guardrail_breached"`
	Needed      int64    `json:"sample_needed"`
	StillNeeded int64    `json:"sample_still_needed"`
	// StoppedAt and StopReason are set when the guardrail stopped the arm.
	StoppedAt  *time.Time `json:"stopped_at,omitempty"`
	StopReason string     `json:"stop_reason,omitempty"`
}

func exportResults(res experiments.Results, stopped map[string]*paywire.ArmStop) []experimentResult {
	out := make([]experimentResult, len(res.Arms))
	known := func(ms int64) *int64 {
		if ms < 0 {
			return nil
		}
		return &ms
	}
	for i, r := range res.Arms {
		out[i] = experimentResult{Arm: r.Arm, Control: r.Control, Weight: r.Weight, Providers: r.Providers,
			Routed: r.Routed, Decided: r.Decided, Approved: r.Approved, InFlight: r.InFlight, Refunded: r.Refunded, ChargedBack: r.ChargedBack,
			Rate: r.Rate, Low: r.Low, High: r.High, P50: known(r.LatencyP50), P95: known(r.LatencyP95),
			Significant: r.Significant, Breached: r.Breached, Needed: r.Needed, StillNeeded: r.StillNeeded}
		if !r.Control {
			out[i].Difference, out[i].Z, out[i].P = &r.Difference, &r.Z, &r.P
		}
		if s, ok := stopped[r.Arm]; ok {
			out[i].StoppedAt, out[i].StopReason = &s.StoppedAt, s.Reason
		}
	}
	return out
}

func (a *App) experimentJSON(w http.ResponseWriter, r *http.Request) {
	v, ok := a.results(w, r)
	if !ok {
		return
	}
	notes := v.Notes
	if notes == nil {
		notes = []string{}
	}
	body, err := json.MarshalIndent(map[string]any{
		"experiment": v.Experiment, "status": v.Status,
		"from": v.Form.From, "to": v.Form.To, "merchant_id": v.Form.Merchant,
		"confidence": experiments.Confidence, "alpha": experiments.Alpha, "power": experiments.Power, "effect": v.Effect,
		"too_small": v.TooSmall, "notes": notes, "arms": exportResults(v.Results, v.Stopped),
	}, "", "  ")
	if err != nil {
		a.problem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

func (a *App) experimentCSV(w http.ResponseWriter, r *http.Request) {
	v, ok := a.results(w, r)
	if !ok {
		return
	}
	records := [][]string{{"experiment", "arm", "control", "weight", "providers", "routed", "decided", "approved", "in_flight", "refunded", "charged_back",
		"approval_rate", "approval_rate_low", "approval_rate_high", "latency_p50_ms", "latency_p95_ms",
		"difference", "z", "p_value", "significant", "guardrail_breached", "sample_needed", "sample_still_needed", "stopped_at"}}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }
	ms := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	for _, e := range exportResults(v.Results, v.Stopped) {
		records = append(records, []string{spreadsheetSafe(v.Experiment.Name), spreadsheetSafe(e.Arm), strconv.FormatBool(e.Control), strconv.Itoa(e.Weight),
			spreadsheetSafe(strings.Join(e.Providers, " ")), strconv.FormatInt(e.Routed, 10), strconv.FormatInt(e.Decided, 10), strconv.FormatInt(e.Approved, 10),
			strconv.FormatInt(e.InFlight, 10), strconv.FormatInt(e.Refunded, 10), strconv.FormatInt(e.ChargedBack, 10),
			num(e.Rate), num(e.Low), num(e.High), ms(e.P50), ms(e.P95), optNum(e.Difference), optNum(e.Z), optNum(e.P),
			strconv.FormatBool(e.Significant), strconv.FormatBool(e.Breached), strconv.FormatInt(e.Needed, 10), strconv.FormatInt(e.StillNeeded, 10), stoppedAt(e.StoppedAt)})
	}
	name := fmt.Sprintf("paywire-experiment-%s-%s-%s.csv", v.Experiment.Name, v.Form.From, v.Form.To)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	_ = cw.WriteAll(records)
}

func optNum(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', 6, 64)
}

func stoppedAt(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
