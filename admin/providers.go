package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/health"
)

// ProviderPages are the providers' health page: each provider's figures
// with each method over the health window, whether it is demoted and
// since when, and the history of demotions and restorations. The area is
// mounted when both are set; every role may read it.
type ProviderPages struct {
	// ProviderHealth has the states every node shares and their history.
	ProviderHealth paywire.HealthStore
	// HealthSnapshot returns this node's last health check.
	HealthSnapshot func() *health.Snapshot
}

func (a *App) mountProviders(r chi.Router) {
	if a.ProviderHealth == nil || a.HealthSnapshot == nil {
		return
	}
	a.section("/admin/providers", "Providers", anyRole...)
	r.Get("/providers", a.allow(a.providersPage, anyRole...))
}

// providerLine is a provider with a method on the page.
type providerLine struct {
	paywire.HealthFigures
	State  paywire.HealthState
	Since  time.Time // zero: healthy, never demoted
	Reason string
}

// providerTransition is an entry of the history.
type providerTransition struct {
	At               time.Time
	Demoted          bool
	Provider, Method string
	Reason           string
}

type providersView struct {
	Snapshot *health.Snapshot
	Lines    []providerLine
	History  []providerTransition
}

func (a *App) providersPage(w http.ResponseWriter, r *http.Request) {
	snap := a.HealthSnapshot()
	states, err := a.ProviderHealth.ProviderStates(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	entries, err := a.ProviderHealth.ProviderTransitions(r.Context(), 100)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	byPair := map[[2]string]*providerLine{}
	var lines []*providerLine
	line := func(provider string, method paywire.Method) *providerLine {
		k := [2]string{provider, string(method)}
		if byPair[k] == nil {
			byPair[k] = &providerLine{HealthFigures: paywire.HealthFigures{Provider: provider, Method: method}, State: paywire.HealthHealthy}
			lines = append(lines, byPair[k])
		}
		return byPair[k]
	}
	for _, f := range snap.Figures {
		line(f.Provider, f.Method).HealthFigures = f
	}
	for _, s := range states {
		l := line(s.Provider, s.Method)
		l.State, l.Since, l.Reason = s.State, s.Since, s.Reason
	}
	slices.SortFunc(lines, func(x, y *providerLine) int {
		if c := strings.Compare(x.Provider, y.Provider); c != 0 {
			return c
		}
		return strings.Compare(string(x.Method), string(y.Method))
	})
	v := providersView{Snapshot: snap}
	for _, l := range lines {
		v.Lines = append(v.Lines, *l)
	}
	for _, e := range entries {
		var d struct {
			Provider string `json:"provider"`
			Method   string `json:"method"`
			Reason   string `json:"reason"`
		}
		_ = json.Unmarshal(e.Details, &d) // written by health.Monitor; a field missing shows empty
		v.History = append(v.History, providerTransition{At: e.At, Demoted: e.Action == paywire.AuditProviderDemote,
			Provider: d.Provider, Method: d.Method, Reason: d.Reason})
	}
	a.render(w, r, http.StatusOK, "providers", page{Title: "Providers", Data: v})
}
