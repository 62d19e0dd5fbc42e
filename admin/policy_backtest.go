package admin

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// Backtests: started from a revision's page by anyone who sees the
// registry (risk analysts, compliance, administrators), followed on a page
// of their own that refreshes itself while a worker runs the job.

func (a *App) mountBacktests(r chi.Router) {
	r.Post("/policies/{rev}/backtest", a.allow(a.checked(a.startBacktest), policyViewers...))
	r.Get("/policies/backtests", a.allow(a.backtestsPage, policyViewers...))
	r.Get("/policies/backtests/{id}", a.allow(a.backtestPage, policyViewers...))
}

// backtestID is what a backtest's id looks like.
var backtestID = regexp.MustCompile(`^bt_[a-z0-9]{1,60}$`)

// formTime reads a form's time: what a datetime-local input sends
// (2026-11-20T10:00, taken as UTC), RFC 3339, or a date.
func formTime(name, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("Say when the window %s.", name)
	}
	return time.Time{}, fmt.Errorf("The window's %s, %q, is not a time (2026-11-20T10:00, UTC).", name, s)
}

// startBacktest queues a backtest of the revision and shows its page.
func (a *App) startBacktest(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	req := paywire.Backtest{Revision: rev, MerchantID: strings.TrimSpace(r.PostForm.Get("merchant"))}
	if p := r.PostForm.Get("point"); p != "" {
		req.Points = []string{p}
	}
	var err error
	if req.From, err = formTime("starts", r.PostForm.Get("from")); err == nil {
		req.To, err = formTime("ends", r.PostForm.Get("to"))
	}
	if err != nil {
		a.renderPolicy(w, r, http.StatusBadRequest, rev, "", err.Error(), "")
		return
	}
	b, err := a.Policies.StartBacktest(r.Context(), currentOf(r.Context()).user.Username, req)
	if err != nil {
		switch code := paywire.ErrorCode(err); code {
		case paywire.EINVALID, paywire.EFORBIDDEN, paywire.ENOTFOUND:
			a.renderPolicy(w, r, statusOf(code), rev, "", paywire.ErrorMessage(err), "")
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/admin/policies/backtests/"+b.ID, http.StatusSeeOther)
}

type backtestView struct {
	*paywire.Backtest
	Running bool // queued or running: the page refreshes itself
	Percent int
	Changed int64 // over every point
	Points  []backtestPointView
}

type backtestPointView struct {
	paywire.BacktestPoint
	Changes []backtestChangeView
}

type backtestChangeView struct {
	paywire.BacktestChange
	Outcomes []backtestOutcome // most frequent first
}

type backtestOutcome struct {
	State string
	Count int64
}

func viewBacktest(b *paywire.Backtest) backtestView {
	v := backtestView{Backtest: b, Running: b.State == paywire.BacktestQueued || b.State == paywire.BacktestRunning, Percent: 100}
	if b.Total > 0 {
		v.Percent = int(min(100, b.Done*100/b.Total))
	}
	for _, p := range b.Report.Points {
		pv := backtestPointView{BacktestPoint: p}
		v.Changed += p.Changed
		for _, c := range p.Changes {
			cv := backtestChangeView{BacktestChange: c}
			for s, n := range c.Outcomes {
				cv.Outcomes = append(cv.Outcomes, backtestOutcome{State: s, Count: n})
			}
			slices.SortFunc(cv.Outcomes, func(x, y backtestOutcome) int {
				if x.Count != y.Count {
					return int(y.Count - x.Count)
				}
				return strings.Compare(x.State, y.State)
			})
			pv.Changes = append(pv.Changes, cv)
		}
		v.Points = append(v.Points, pv)
	}
	return v
}

func (a *App) backtestPage(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if !backtestID.MatchString(id) {
		a.notFound(w, r)
		return
	}
	b, err := a.Policies.Backtest(r.Context(), id)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "policy_backtest", page{Title: fmt.Sprintf("Backtest of revision %d", b.Revision), Data: viewBacktest(b)})
}

type backtestsView struct {
	Backtests []backtestView
}

func (a *App) backtestsPage(w http.ResponseWriter, r *http.Request) {
	bs, err := a.Policies.Backtests(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	var v backtestsView
	for i := range bs {
		v.Backtests = append(v.Backtests, viewBacktest(&bs[i]))
	}
	a.render(w, r, http.StatusOK, "policy_backtests", page{Title: "Backtests", Data: v})
}
