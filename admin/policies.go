package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// PolicyPages are the policy bundle registry's pages: the revisions and
// when each was active, one revision's files, and the life-cycle steps
// (push, submit, approve, activate, rollback), each refused unless the
// user's roles allow it; bundles.Service checks them again.
type PolicyPages struct {
	// Policies carries out the life cycle; when set, the pages are
	// mounted.
	Policies *bundles.Service
	// RunningBundle is the bundle this node runs (the engine's active
	// one); nil shows nothing.
	RunningBundle func() *engine.Bundle
}

// Who sees the registry, who pushes, approves and activates.
var (
	policyViewers = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst, paywire.RoleCompliance}
	policyAuthors = []paywire.Role{paywire.RoleAdmin, paywire.RoleRiskAnalyst}
)

// maxBundleUpload bounds a pushed bundle (the default bundle is about
// 35 KB as .tar.gz).
const maxBundleUpload = 4 << 20

// pushPath is the one back-office path whose body may exceed maxForm.
const pushPath = "/admin/policies/push"

func (a *App) mountPolicies(r chi.Router) {
	if a.Policies == nil {
		return
	}
	a.section("/admin/policies", "Policies", policyViewers...)
	r.Get("/policies", a.allow(a.policiesPage, policyViewers...))
	r.Post("/policies/push", a.allow(a.multipart(a.checked(a.pushPolicy)), policyAuthors...))
	r.Get("/policies/{rev}", a.allow(a.policyPage, policyViewers...))
	r.Get("/policies/{rev}/files/*", a.allow(a.policyFile, policyViewers...))
	r.Get("/policies/{rev}/bundle.tar.gz", a.allow(a.policyDownload, policyViewers...))
	r.Get("/policies/{rev}/diff", a.allow(a.policyDiff, policyViewers...)) // policy_diff.go
	r.Post("/policies/{rev}/submit", a.allow(a.checked(a.policyStep), policyAuthors...))
	r.Post("/policies/{rev}/approve", a.allow(a.checked(a.policyStep), paywire.RoleCompliance))
	r.Post("/policies/{rev}/reject", a.allow(a.checked(a.policyStep), paywire.RoleCompliance))
	r.Post("/policies/{rev}/activate", a.allow(a.checked(a.policyStep), paywire.RoleAdmin))
	r.Post("/policies/{rev}/rollback", a.allow(a.checked(a.policyStep), paywire.RoleAdmin))
	a.mountBacktests(r)    // policy_backtest.go
	a.mountPolicyShadow(r) // policy_shadow.go
}

// multipart reads a multipart form (a file upload) before checked reads
// its CSRF token from it.
func (a *App) multipart(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(maxBundleUpload); err != nil {
			status, msg := http.StatusBadRequest, "The form could not be read."
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("The bundle is larger than %d MB.", maxBundleUpload>>20)
			}
			a.render(w, r, status, "problem", page{Title: "Not accepted", Problem: msg})
			return
		}
		h(w, r)
	}
}

type policiesView struct {
	Bundles     []paywire.PolicyBundle
	Activations []paywire.BundleActivation
	Active      int64
	Running     *engine.Bundle
	CanPush     bool
	Message     string // the push form's, kept after a refusal
}

func (a *App) policiesPage(w http.ResponseWriter, r *http.Request) {
	a.renderPolicies(w, r, http.StatusOK, "", "")
}

func (a *App) renderPolicies(w http.ResponseWriter, r *http.Request, status int, message, problem string) {
	h, err := a.Policies.History(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := policiesView{Bundles: h.Bundles, Activations: h.Activations, Message: message,
		CanPush: currentOf(r.Context()).user.Has(policyAuthors...)}
	if len(h.Activations) > 0 && h.Activations[0].Until.IsZero() {
		v.Active = h.Activations[0].Revision
	}
	if a.RunningBundle != nil {
		v.Running = a.RunningBundle()
	}
	a.render(w, r, status, "policies", page{Title: "Policy bundles", Data: v, Problem: problem})
}

// pushPolicy stores an uploaded .tar.gz as a draft of the user.
func (a *App) pushPolicy(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	message := strings.TrimSpace(r.PostForm.Get("message"))
	f, _, err := r.FormFile("bundle")
	if err != nil {
		a.renderPolicies(w, r, http.StatusBadRequest, message, "Choose the bundle to push: a .tar.gz as `paywire policy build` or `opa build` writes it.")
		return
	}
	defer f.Close()
	raw, err := io.ReadAll(f)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	files, err := engine.ReadTarball(bytes.NewReader(raw))
	if err != nil {
		a.renderPolicies(w, r, http.StatusBadRequest, message, "The file is not a bundle: "+err.Error())
		return
	}
	b, err := a.Policies.Push(r.Context(), files, c.user.Username, message)
	if err != nil {
		if code := paywire.ErrorCode(err); code == paywire.EINVALID || code == paywire.EFORBIDDEN {
			a.renderPolicies(w, r, statusOf(code), message, paywire.ErrorMessage(err))
			return
		}
		a.problem(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/policies/%d?done=push", b.Revision), http.StatusSeeOther)
}

type policyFileInfo struct {
	Path string
	Size int
}

type policyView struct {
	Bundle      *paywire.PolicyBundle
	Files       []policyFileInfo
	Activations []paywire.BundleActivation // this revision's
	Active      int64
	WasActive   bool
	Running     bool // this node runs it

	CanSubmit, CanApprove, CanActivate, CanRollback bool
	// Why, when a step shows but cannot be taken by this user.
	ApproveNote string
	Reason      string           // the reject or rollback form's, kept after a refusal
	Shadow      policyShadowInfo // policy_shadow.go
}

// The notices after a step.
var policyNotices = map[string]string{
	"push":     "Pushed as a draft. Submit it to run its tests; then someone with the compliance role approves it.",
	"submit":   "Submitted: its tests pass. It awaits approval by someone with the compliance role who did not write it.",
	"approve":  "Approved. An administrator can now activate it.",
	"reject":   "Rejected. Its author pushes a corrected bundle as a new revision.",
	"activate": "Activated. Every node runs it within its poll period (about a second).",
	"rollback": "Rolled back to this revision. Every node runs it within its poll period.",
}

func (a *App) revision(w http.ResponseWriter, r *http.Request) (int64, bool) {
	rev, err := strconv.ParseInt(chi.URLParam(r, "rev"), 10, 64)
	if err != nil || rev <= 0 {
		a.notFound(w, r)
		return 0, false
	}
	return rev, true
}

func (a *App) policyPage(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	a.renderPolicy(w, r, http.StatusOK, rev, policyNotices[r.URL.Query().Get("done")], "", "")
}

func (a *App) renderPolicy(w http.ResponseWriter, r *http.Request, status int, rev int64, notice, problem, reason string) {
	b, files, err := a.Policies.Revision(r.Context(), rev)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	h, err := a.Policies.History(r.Context())
	if err != nil {
		a.problem(w, r, err)
		return
	}
	u := currentOf(r.Context()).user
	v := policyView{Bundle: b, Reason: reason}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range files {
			if !yield(p) {
				return
			}
		}
	}) {
		v.Files = append(v.Files, policyFileInfo{Path: p, Size: len(files[p])})
	}
	for _, act := range h.Activations {
		if act.Until.IsZero() {
			v.Active = act.Revision
		}
		if act.Revision == rev {
			v.Activations = append(v.Activations, act)
			v.WasActive = true
		}
	}
	if a.RunningBundle != nil {
		if run := a.RunningBundle(); run != nil && run.Revision == strconv.FormatInt(rev, 10) {
			v.Running = true
		}
	}
	v.CanSubmit = b.State == paywire.BundleDraft && b.Author == u.Username
	if b.State == paywire.BundleSubmitted && u.Has(paywire.RoleCompliance) {
		v.CanApprove = b.Author != u.Username
		if !v.CanApprove {
			v.ApproveNote = "You pushed this revision: someone else with the compliance role approves it (four eyes)."
		}
	}
	v.CanActivate = b.State == paywire.BundleApproved && rev > v.Active && u.Has(paywire.RoleAdmin)
	v.CanRollback = b.State == paywire.BundleRetired && v.WasActive && rev < v.Active && u.Has(paywire.RoleAdmin)
	v.Shadow = a.shadowOf(r.Context(), b, u)
	a.render(w, r, status, "policy", page{Title: fmt.Sprintf("Policy bundle revision %d", rev), Data: v, Notice: notice, Problem: problem})
}

// policyStep takes the life-cycle step the path names.
func (a *App) policyStep(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	who := currentOf(r.Context()).user.Username
	step := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var err error
	switch step {
	case "submit":
		err = a.Policies.Submit(r.Context(), rev, who)
	case "approve":
		err = a.Policies.Approve(r.Context(), rev, who)
	case "reject":
		err = a.Policies.Reject(r.Context(), rev, who, reason)
	case "activate":
		err = a.Policies.Activate(r.Context(), rev, who)
	case "rollback":
		err = a.Policies.Rollback(r.Context(), rev, who, reason)
	}
	if err != nil {
		switch code := paywire.ErrorCode(err); code {
		case paywire.EINVALID, paywire.EFORBIDDEN, paywire.ECONFLICT:
			a.renderPolicy(w, r, statusOf(code), rev, "", paywire.ErrorMessage(err), reason)
		default:
			a.problem(w, r, err)
		}
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/policies/%d?done=%s", rev, step), http.StatusSeeOther)
}

type policyFileView struct {
	Revision int64
	Path     string
	Text     string
}

// policyFile shows one file of a revision as text.
func (a *App) policyFile(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	_, files, err := a.Policies.Revision(r.Context(), rev)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	p := chi.URLParam(r, "*")
	body, ok := files[p]
	if !ok {
		if body, ok = files["/"+p]; !ok {
			a.render(w, r, http.StatusNotFound, "problem", page{Title: "Not found", Problem: fmt.Sprintf("Revision %d has no file %s.", rev, p)})
			return
		}
	}
	text := string(body)
	if !utf8.Valid(body) {
		text = fmt.Sprintf("(%d bytes that are not text)", len(body))
	}
	a.render(w, r, http.StatusOK, "policy_file", page{Title: fmt.Sprintf("Revision %d: %s", rev, p), Data: policyFileView{Revision: rev, Path: p, Text: text}})
}

// policyDownload sends the revision as a .tar.gz, with its signature when
// it was signed at approval: what `paywire policy test` or `opa` read.
func (a *App) policyDownload(w http.ResponseWriter, r *http.Request) {
	rev, ok := a.revision(w, r)
	if !ok {
		return
	}
	_, files, err := a.Policies.Revision(r.Context(), rev)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		a.problem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="paywire-bundle-%d.tar.gz"`, rev))
	_, _ = w.Write(buf.Bytes())
}

// statusOf is the HTTP status of a refused step's error code.
func statusOf(code string) int {
	switch code {
	case paywire.EFORBIDDEN:
		return http.StatusForbidden
	case paywire.ECONFLICT:
		return http.StatusConflict
	case paywire.ENOTFOUND:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}
