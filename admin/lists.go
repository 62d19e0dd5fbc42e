package admin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// Who sees the risk lists, and who changes them.
var (
	listViewers = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst, paywire.RoleCompliance}
	listEditors = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst}
)

// mountLists adds the risk lists' pages (part of the merchants area).
func (a *App) mountLists(r chi.Router) {
	a.section("/admin/lists", "Lists", listViewers...)
	r.Get("/lists", a.allow(a.listsPage, listViewers...))
	r.Post("/lists", a.allow(a.checked(a.addListEntry), listEditors...))
	r.Get("/lists/{list}", a.allow(a.listPage, listViewers...))
	r.Post("/lists/{list}/entries", a.allow(a.checked(a.addListEntry), listEditors...))
	r.Post("/lists/{list}/entries/{entry}/remove", a.allow(a.checked(a.removeListEntry), listEditors...))
}

// listForm is the add-entry form as typed.
type listForm struct {
	List, Type, Value, Reason, Expires string
}

type listsView struct {
	Lists   []paywire.ListSummary
	Types   []paywire.ListType
	Form    listForm
	CanEdit bool
}

type listView struct {
	List    string
	Type    paywire.ListType
	Entries []paywire.ListEntry
	Types   []paywire.ListType
	Form    listForm
	CanEdit bool
	Now     time.Time
}

func (a *App) listsPage(w http.ResponseWriter, r *http.Request) {
	a.renderLists(w, r, http.StatusOK, listForm{}, "")
}

func (a *App) renderLists(w http.ResponseWriter, r *http.Request, status int, f listForm, problem string) {
	ls, err := a.Lists.Lists(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := listsView{Lists: ls, Types: paywire.ListTypes, Form: f, CanEdit: currentOf(r.Context()).user.Has(listEditors...)}
	a.render(w, r, status, "lists", page{Title: "Risk lists", Data: v, Problem: problem})
}

func (a *App) listPage(w http.ResponseWriter, r *http.Request) {
	a.renderList(w, r, http.StatusOK, chi.URLParam(r, "list"), listForm{}, "")
}

func (a *App) renderList(w http.ResponseWriter, r *http.Request, status int, list string, f listForm, problem string) {
	es, err := a.Lists.ListEntries(r.Context(), list)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := listView{List: list, Entries: es, Types: paywire.ListTypes, Form: f, Now: a.Now(),
		CanEdit: currentOf(r.Context()).user.Has(listEditors...)}
	if len(es) > 0 {
		v.Type = es[0].Type
		if f.Type == "" {
			v.Form.Type = string(v.Type)
		}
	}
	a.render(w, r, status, "list", page{Title: "List " + list, Data: v, Problem: problem})
}

// addListEntry adds an entry to the list of the path or, from the lists
// page, of the form.
func (a *App) addListEntry(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	fromPath := chi.URLParam(r, "list")
	f := listForm{List: strings.TrimSpace(r.PostForm.Get("list")), Type: r.PostForm.Get("type"), Value: r.PostForm.Get("value"),
		Reason: r.PostForm.Get("reason"), Expires: strings.TrimSpace(r.PostForm.Get("expires_at"))}
	if fromPath != "" {
		f.List = fromPath
	}
	refuse := func(status int, msg string) {
		if fromPath != "" {
			a.renderList(w, r, status, fromPath, f, msg)
		} else {
			a.renderLists(w, r, status, f, msg)
		}
	}
	e := &paywire.ListEntry{List: f.List, Type: paywire.ListType(f.Type), Value: f.Value, Reason: f.Reason, CreatedBy: "admin:" + c.user.Username}
	if f.Expires != "" {
		t, ok := parseExpiry(f.Expires)
		if !ok {
			refuse(http.StatusBadRequest, "The expiry is not a date and time such as 2026-12-31 23:59 (UTC); leave it empty for an entry that does not expire.")
			return
		}
		e.ExpiresAt = t
	}
	if err := a.Lists.AddListEntry(r.Context(), e); err != nil {
		switch paywire.ErrorCode(err) {
		case paywire.EINVALID:
			refuse(http.StatusBadRequest, readable(err))
		case paywire.ECONFLICT:
			refuse(http.StatusConflict, readable(err))
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/admin/lists/"+url.PathEscape(e.List), http.StatusSeeOther)
}

func (a *App) removeListEntry(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	list := chi.URLParam(r, "list")
	if err := a.Lists.RemoveListEntry(r.Context(), "admin:"+c.user.Username, list, chi.URLParam(r, "entry")); err != nil {
		if paywire.ErrorCode(err) == paywire.ENOTFOUND {
			a.renderList(w, r, http.StatusNotFound, list, listForm{}, "The list has no such entry (it may have been removed meanwhile).")
			return
		}
		a.problem(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/lists/"+url.PathEscape(list), http.StatusSeeOther)
}

// parseExpiry reads an expiry as a browser's datetime-local field sends it,
// or as RFC 3339, or as a date (the start of that day); times without a
// zone are UTC.
func parseExpiry(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
