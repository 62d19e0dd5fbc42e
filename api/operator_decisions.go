package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// A payment's decisions as an auditor takes them: the export document of
// bundles.Explainer (paywire.decisions/v1), audited as operator:api.

func (o *Operator) mountDecisions(r chi.Router) {
	r.Get("/merchants/{id}/payments/{payment}/decisions", o.exportDecisions)
}

// exportDecisions answers the document; ?download=1 asks the client to
// save it as a file.
func (o *Operator) exportDecisions(w http.ResponseWriter, r *http.Request) {
	if o.Explainer == nil {
		writeError(w, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve decision exports"))
		return
	}
	var download bool
	switch v := r.URL.Query().Get("download"); v {
	case "", "0":
	case "1":
		download = true
	default:
		writeError(w, paywire.Errorf(paywire.EINVALID, "download must be 1 or 0, not %q", v))
		return
	}
	doc, err := o.Explainer.Export(r.Context(), paywire.OperatorActor("api"), chi.URLParam(r, "id"), chi.URLParam(r, "payment"))
	if err != nil {
		if code := paywire.ErrorCode(err); code == paywire.EINTERNAL || code == paywire.EUNAVAILABLE {
			o.logger().ErrorContext(r.Context(), "operator API request failed", "path", r.URL.Path, "error", err)
		}
		writeError(w, err)
		return
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		writeError(w, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if download {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, doc.FileName()))
	}
	_, _ = w.Write(append(body, '\n'))
}
