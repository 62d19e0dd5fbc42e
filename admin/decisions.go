package admin

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// A payment's decisions as a file for an auditor: the document of
// bundles.Explainer (paywire.decisions/v1), offered on the payment's page
// to everyone who may read it. Taking data out is audited
// (payment.decisions_export, the user, the payment) before the file is
// sent; without the audit entry there is no file.

func (a *App) mountDecisions(r chi.Router) {
	if a.PaymentPages.Explainer == nil {
		return
	}
	r.Get("/payments/{merchant}/{id}/decisions.json", a.allow(a.exportDecisions, anyRole...))
}

// decisionsHref is the address of a payment's export.
func decisionsHref(p *paywire.Payment) string { return paymentHref(p) + "/decisions.json" }

func (a *App) exportDecisions(w http.ResponseWriter, r *http.Request) {
	c := currentOf(r.Context())
	doc, err := a.PaymentPages.Explainer.Export(r.Context(), paywire.AdminActor(c.user.Username), chi.URLParam(r, "merchant"), chi.URLParam(r, "id"))
	if err != nil {
		a.problem(w, r, err)
		return
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		a.problem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+doc.FileName()+`"`)
	_, _ = w.Write(append(body, '\n'))
}
