package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// templates maps a page name to its template: layout.html and the
// partials with the "content" block of templates/<name>.html.
var templates = mustParseTemplates()

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join": strings.Join,
	// pct shows a fraction as a percentage, one decimal; signedpts a
	// difference of fractions in percentage points, with its sign.
	"pct":       func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + " %" },
	"signedpts": func(f float64) string { return fmt.Sprintf("%+.1f pts", f*100) },
	"mul100":    func(f float64) float64 { return f * 100 },
}

func mustParseTemplates() map[string]*template.Template {
	// The layout and the partials (partial_*.html: templates several pages
	// call) are in every page's set.
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partial_*.html"))
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := make(map[string]*template.Template, len(files))
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "partial_") {
			continue
		}
		t := template.Must(base.Clone())
		out[name] = template.Must(t.ParseFS(templateFS, f))
	}
	return out
}

// section is an entry of the navigation: a page and the roles that see
// it. Each area adds its entries when it is mounted (App.section), in
// the order of the areas in Mount; later areas (policy bundles,
// experiments, reconciliation, settlement) add theirs the same way.
type section struct {
	Path, Label string
	Roles       []paywire.Role
}

// page is what a template renders.
type page struct {
	Title   string
	User    *paywire.AdminUser
	Nav     []section
	Active  string
	CSRF    string
	Next    string
	Notice  string
	Problem string

	Username string // the sign-in form's, kept after a failure

	Data any // the page's own
}

func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if c := currentOf(r.Context()); c != nil && !c.session.SecondFactorPending {
		p.User = c.user
		if p.CSRF == "" {
			p.CSRF = c.session.CSRF
		}
		for _, s := range a.nav {
			if c.user.Has(s.Roles...) {
				p.Nav = append(p.Nav, s)
			}
		}
		p.Active = r.URL.Path
	}
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.Logger.ErrorContext(r.Context(), "admin page failed", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem answers an error: its code's status and a readable page.
func (a *App) problem(w http.ResponseWriter, r *http.Request, err error) {
	code := paywire.ErrorCode(err)
	status, title, msg := http.StatusInternalServerError, "Something went wrong", "The request failed; nothing was changed. Try again, and tell the operators if it keeps failing."
	switch code {
	case paywire.EINVALID:
		status, title, msg = http.StatusBadRequest, "Not accepted", paywire.ErrorMessage(err)
	case paywire.ENOTFOUND:
		status, title, msg = http.StatusNotFound, "Not found", paywire.ErrorMessage(err)
	case paywire.ECONFLICT:
		status, title, msg = http.StatusConflict, "Changed meanwhile", paywire.ErrorMessage(err)
	default:
		a.Logger.ErrorContext(r.Context(), "admin request failed", "path", r.URL.Path, "error", err)
	}
	a.render(w, r, status, "problem", page{Title: title, Problem: msg})
}

func (a *App) notFound(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusNotFound, "problem", page{Title: "Not found", Problem: "There is no such page in the back office."})
}

// audit writes an entry for what user did.
func (a *App) audit(ctx context.Context, u *paywire.AdminUser, action, target string, details map[string]any) error {
	if a.Audit == nil {
		return nil
	}
	d, _ := json.Marshal(details) // maps of plain values always marshal
	if details == nil {
		d = []byte("{}")
	}
	err := a.Audit.Audit(ctx, &paywire.AuditEntry{Actor: "admin:" + u.Username, Action: action, Target: target, Details: d})
	if err != nil {
		a.Logger.ErrorContext(ctx, "audit entry not written", "action", action, "error", err)
	}
	return err
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", page{Title: "Overview"})
}
