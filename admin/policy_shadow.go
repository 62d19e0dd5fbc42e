package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
)

// The shadow of a candidate bundle in the back office: which revision
// every node decides beside the active one, the counts by point and
// result, and the disagreements, each linked to its payment; the start
// form on a revision's page and the stop form here. bundles.Service
// checks the roles again.

// policyShadowers start and stop a shadow.
var policyShadowers = []paywire.Role{paywire.RoleRiskAnalyst, paywire.RoleCompliance, paywire.RoleAdmin}

// shadowPage is the number of disagreements a page lists.
const shadowPage = 50

func (a *App) mountPolicyShadow(r chi.Router) {
	if a.Policies.Shadows == nil {
		return
	}
	r.Get("/policies/shadow", a.allow(a.shadowPage, policyViewers...))
	r.Post("/policies/shadow/stop", a.allow(a.checked(a.stopShadow), policyShadowers...))
	r.Post("/policies/{rev}/shadow", a.allow(a.checked(a.startShadow), policyShadowers...))
}

// policyShadowInfo is what a revision's page shows of the shadow.
type policyShadowInfo struct {
	CanStart bool  // this user may make the revision the candidate
	Running  int64 // the revision shadowing now; 0: none
	This     bool  // it is this revision
}

// shadowOf says what the revision page of b offers u about the shadow.
func (a *App) shadowOf(ctx context.Context, b *paywire.PolicyBundle, u *paywire.AdminUser) policyShadowInfo {
	var info policyShadowInfo
	if a.Policies.Shadows == nil {
		return info
	}
	if run, err := a.Policies.Shadows.RunningShadow(ctx); err == nil && run != nil {
		info.Running, info.This = run.Revision, run.Revision == b.Revision
	}
	info.CanStart = info.Running == 0 && (b.State == paywire.BundleSubmitted || b.State == paywire.BundleApproved) && u.Has(policyShadowers...)
	return info
}

type shadowPointRow struct {
	paywire.ShadowPointCounts
	Rate string // disagreements per compared decision, in percent
}

type shadowView struct {
	Status  bundles.ShadowStatus
	Points  []shadowPointRow
	Rows    []paywire.ShadowDisagreement
	Point   string // the filters
	Merch   string
	Next    string // the next page's query
	CanStop bool

	AllPoints []string // the point filter's choices
}

var shadowNotices = map[string]string{
	"start": "Shadow started. Every node decides live traffic again with this revision within its poll period; the counts grow as payments come.",
	"stop":  "Shadow stopped. Every node stops comparing within its poll period; the results stay here.",
}

func (a *App) shadowPage(w http.ResponseWriter, r *http.Request) {
	a.renderShadow(w, r, http.StatusOK, shadowNotices[r.URL.Query().Get("done")], "")
}

func (a *App) renderShadow(w http.ResponseWriter, r *http.Request, status int, notice, problem string) {
	q := r.URL.Query()
	var id, before int64
	for name, to := range map[string]*int64{"shadow": &id, "before": &before} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				a.render(w, r, http.StatusBadRequest, "problem", page{Title: "Not accepted", Problem: fmt.Sprintf("%s is a positive whole number.", name)})
				return
			}
			*to = n
		}
	}
	st, err := a.Policies.ShadowStatus(r.Context(), id, 0)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := shadowView{Status: st, Point: q.Get("point"), Merch: strings.TrimSpace(q.Get("merchant")),
		AllPoints: []string{"availability", "risk", "routing", "workflow"}}
	v.CanStop = st.Shadow != nil && st.Shadow.Running() && currentOf(r.Context()).user.Has(policyShadowers...)
	for _, c := range paywire.CountsByPoint(st.Counts, v.AllPoints) {
		row := shadowPointRow{ShadowPointCounts: c}
		if n := row.Agree + row.Disagree; n > 0 {
			row.Rate = fmt.Sprintf("%.2f %%", 100*float64(row.Disagree)/float64(n))
		}
		v.Points = append(v.Points, row)
	}
	if st.Shadow != nil {
		v.Rows, err = a.Policies.Disagreements(r.Context(), paywire.ShadowFilter{Shadow: st.Shadow.ID, Point: v.Point, MerchantID: v.Merch, Before: before, Limit: shadowPage})
		if err != nil {
			if paywire.ErrorCode(err) == paywire.EINVALID {
				a.render(w, r, http.StatusBadRequest, "problem", page{Title: "Not accepted", Problem: paywire.ErrorMessage(err)})
				return
			}
			a.problem(w, r, err)
			return
		}
		if len(v.Rows) == shadowPage {
			next := url.Values{"shadow": {strconv.FormatInt(st.Shadow.ID, 10)}, "before": {strconv.FormatInt(v.Rows[len(v.Rows)-1].ID, 10)}}
			if v.Point != "" {
				next.Set("point", v.Point)
			}
			if v.Merch != "" {
				next.Set("merchant", v.Merch)
			}
			v.Next = next.Encode()
		}
	}
	a.render(w, r, status, "policy_shadow", page{Title: "Policy shadow", Data: v, Notice: notice, Problem: problem})
}

// startShadow makes the revision of the path the candidate.
func (a *App) startShadow(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	if _, err := a.Policies.StartShadow(r.Context(), rev, currentOf(r.Context()).user.Username); err != nil {
		switch code := paywire.ErrorCode(err); code {
		case paywire.EINVALID, paywire.EFORBIDDEN, paywire.ECONFLICT:
			a.renderPolicy(w, r, statusOf(code), rev, "", paywire.ErrorMessage(err), "")
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/admin/policies/shadow?done=start", http.StatusSeeOther)
}

// stopShadow stops the running shadow.
func (a *App) stopShadow(w http.ResponseWriter, r *http.Request) {
	if _, err := a.Policies.StopShadow(r.Context(), currentOf(r.Context()).user.Username); err != nil {
		switch code := paywire.ErrorCode(err); code {
		case paywire.EFORBIDDEN, paywire.ECONFLICT:
			a.renderShadow(w, r, statusOf(code), "", paywire.ErrorMessage(err))
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/admin/policies/shadow?done=stop", http.StatusSeeOther)
}
