package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// AuditPages are the dependencies of the audit log's page; the area is
// mounted when AuditEntries is set.
type AuditPages struct {
	// AuditEntries reads the log newest first, below an id (0: newest).
	AuditEntries func(ctx context.Context, before int64, limit int) ([]paywire.AuditEntry, error)
	// VerifyAudit checks the log's hash chain: the rows checked and, when
	// broken, the first bad row and why.
	VerifyAudit func(ctx context.Context) (checked int, firstBad int64, problem string, err error)
}

const auditPage = 50

// auditRoles read the audit log.
var auditRoles = []paywire.Role{paywire.RoleAdmin, paywire.RoleCompliance}

// mountAudit adds the audit log's page.
func (a *App) mountAudit(r chi.Router) {
	if a.AuditEntries == nil {
		return
	}
	a.section("/admin/audit", "Audit log", auditRoles...)
	r.Get("/audit", a.allow(a.auditLog, auditRoles...))
}

type auditView struct {
	Entries []auditLine
	// Older is the id to page on from; 0 when this is the last page.
	Older int64
	// Verified: the chain was checked on request.
	Verified        bool
	Checked         int
	FirstBad        int64
	ChainProblem    string
	VerifyAvailable bool
}

type auditLine struct {
	paywire.AuditEntry
	Pretty string
}

func (a *App) auditLog(w http.ResponseWriter, r *http.Request) {
	var before int64
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			a.render(w, r, http.StatusBadRequest, "audit", page{Title: "Audit log", Problem: "before must be an entry id, a positive number."})
			return
		}
		before = n
	}
	es, err := a.AuditEntries(r.Context(), before, auditPage+1)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	v := auditView{VerifyAvailable: a.VerifyAudit != nil}
	if len(es) > auditPage {
		es = es[:auditPage]
		v.Older = es[len(es)-1].ID
	}
	for _, e := range es {
		var buf bytes.Buffer
		if json.Indent(&buf, e.Details, "", "  ") != nil {
			buf.Reset()
			buf.Write(e.Details)
		}
		v.Entries = append(v.Entries, auditLine{AuditEntry: e, Pretty: buf.String()})
	}
	if r.URL.Query().Get("verify") == "1" && a.VerifyAudit != nil {
		v.Verified = true
		if v.Checked, v.FirstBad, v.ChainProblem, err = a.VerifyAudit(r.Context()); err != nil {
			a.problem(w, r, err)
			return
		}
	}
	a.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Data: v})
}
