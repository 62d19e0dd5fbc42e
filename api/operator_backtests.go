package api

import (
	"net/http"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// Backtests of candidate policy bundles, read through the operator API:
// their progress and reports. A backtest is started by a person whose
// roles are checked (the back office, `paywire policy backtest --as USER`),
// which the operator token does not identify.

func (o *Operator) mountBacktests(r chi.Router) {
	r.Get("/policy/backtests", o.json(o.withPolicies(o.listBacktests)))
	r.Get("/policy/backtests/{id}", o.json(o.withPolicies(o.getBacktest)))
}

// backtestID is what a backtest's id looks like; anything else is refused
// before the database is asked.
var backtestID = regexp.MustCompile(`^bt_[a-z0-9]{1,60}$`)

// listBacktests answers the latest backtests, newest first, with their
// reports so far.
func (o *Operator) listBacktests(r *http.Request) (int, any, error) {
	bs, err := o.Policies.Backtests(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if bs == nil {
		bs = []paywire.Backtest{}
	}
	return http.StatusOK, struct {
		Backtests []paywire.Backtest `json:"backtests"`
	}{bs}, nil
}

func (o *Operator) getBacktest(r *http.Request) (int, any, error) {
	id := chi.URLParam(r, "id")
	if !backtestID.MatchString(id) {
		return 0, nil, paywire.Errorf(paywire.EINVALID, "a backtest id is bt_ and letters and digits, not %q", id)
	}
	b, err := o.Policies.Backtest(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, b, nil
}
