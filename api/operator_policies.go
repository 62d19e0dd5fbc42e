package api

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// The policy bundle registry, read through the operator API: what an
// auditor or a deployment pipeline reads. The life-cycle steps need a
// person whose roles are checked (four eyes), which the operator token
// does not identify: they are taken in the back office or with `paywire
// policy ... --as USER`.

// OperatorBundle is a stored revision as the operator API shows it.
type OperatorBundle struct {
	Revision    int64      `json:"revision"`
	Hash        string     `json:"hash"`
	State       string     `json:"state"`
	Author      string     `json:"author"`
	Message     string     `json:"message"`
	CreatedAt   time.Time  `json:"createdAt"`
	SubmittedAt *time.Time `json:"submittedAt,omitempty"`
	ApprovedBy  string     `json:"approvedBy,omitempty"`
	ApprovedAt  *time.Time `json:"approvedAt,omitempty"`
	Signed      bool       `json:"signed"`
	ActivatedBy string     `json:"activatedBy,omitempty"`
	ActivatedAt *time.Time `json:"activatedAt,omitempty"`
	RetiredAt   *time.Time `json:"retiredAt,omitempty"`
	RejectedBy  string     `json:"rejectedBy,omitempty"`
	RejectedAt  *time.Time `json:"rejectedAt,omitempty"`
	// RejectReason is why compliance sent it back.
	RejectReason string `json:"rejectReason,omitempty"`
	// Files lists the revision's files and sizes (one revision only).
	Files []OperatorBundleFile `json:"files,omitempty"`
}

// OperatorBundleFile is one file of a revision.
type OperatorBundleFile struct {
	Path  string `json:"path"`
	Bytes int    `json:"bytes"`
}

// OperatorActivation is one period a revision was active.
type OperatorActivation struct {
	Seq      int64      `json:"seq"`
	Revision int64      `json:"revision"`
	Kind     string     `json:"kind"`
	By       string     `json:"by"`
	Reason   string     `json:"reason,omitempty"`
	From     time.Time  `json:"from"`
	Until    *time.Time `json:"until,omitempty"`
}

func (o *Operator) mountPolicies(r chi.Router) {
	r.Get("/policy/bundles", o.json(o.withPolicies(o.listBundles)))
	r.Get("/policy/bundles/{rev}", o.json(o.withPolicies(o.getBundle)))
	r.Get("/policy/bundles/{rev}/bundle.tar.gz", o.withPoliciesRaw(o.downloadBundle))
	r.Get("/policy/bundles/{rev}/diff", o.json(o.withPolicies(o.diffBundles))) // operator_policy_diff.go
}

// withPolicies answers 503 on a node built without the registry.
func (o *Operator) withPolicies(fn func(r *http.Request) (int, any, error)) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		if o.Policies == nil {
			return 0, nil, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve the policy registry")
		}
		return fn(r)
	}
}

func (o *Operator) withPoliciesRaw(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.Policies == nil {
			writeError(w, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve the policy registry"))
			return
		}
		fn(w, r)
	}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toOperatorBundle(b *paywire.PolicyBundle) OperatorBundle {
	return OperatorBundle{Revision: b.Revision, Hash: b.Hash, State: string(b.State), Author: b.Author, Message: b.Message,
		CreatedAt: b.CreatedAt.UTC(), SubmittedAt: optionalTime(b.SubmittedAt), ApprovedBy: b.ApprovedBy, ApprovedAt: optionalTime(b.ApprovedAt),
		Signed: len(b.Signature) > 0, ActivatedBy: b.ActivatedBy, ActivatedAt: optionalTime(b.ActivatedAt), RetiredAt: optionalTime(b.RetiredAt),
		RejectedBy: b.RejectedBy, RejectedAt: optionalTime(b.RejectedAt), RejectReason: b.RejectReason}
}

// listBundles answers every revision and activation, newest first, and the
// active revision (0: none; nodes run the built-in bundle).
func (o *Operator) listBundles(r *http.Request) (int, any, error) {
	h, err := o.Policies.History(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Active      int64                `json:"active"`
		Bundles     []OperatorBundle     `json:"bundles"`
		Activations []OperatorActivation `json:"activations"`
	}{Bundles: make([]OperatorBundle, 0, len(h.Bundles)), Activations: make([]OperatorActivation, 0, len(h.Activations))}
	for i := range h.Bundles {
		out.Bundles = append(out.Bundles, toOperatorBundle(&h.Bundles[i]))
	}
	for _, a := range h.Activations {
		if a.Until.IsZero() {
			out.Active = a.Revision
		}
		out.Activations = append(out.Activations, OperatorActivation{Seq: a.Seq, Revision: a.Revision, Kind: string(a.Kind), By: a.By,
			Reason: a.Reason, From: a.From.UTC(), Until: optionalTime(a.Until)})
	}
	return http.StatusOK, out, nil
}

func revisionParam(r *http.Request) (int64, error) {
	rev, err := strconv.ParseInt(chi.URLParam(r, "rev"), 10, 64)
	if err != nil || rev <= 0 {
		return 0, paywire.Errorf(paywire.EINVALID, "a revision is a positive whole number, not %q", chi.URLParam(r, "rev"))
	}
	return rev, nil
}

func (o *Operator) getBundle(r *http.Request) (int, any, error) {
	rev, err := revisionParam(r)
	if err != nil {
		return 0, nil, err
	}
	b, files, err := o.Policies.Revision(r.Context(), rev)
	if err != nil {
		return 0, nil, err
	}
	out := toOperatorBundle(b)
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range files {
			if !yield(p) {
				return
			}
		}
	}) {
		out.Files = append(out.Files, OperatorBundleFile{Path: p, Bytes: len(files[p])})
	}
	return http.StatusOK, out, nil
}

// downloadBundle answers the revision's archive as nodes load it: its
// files and, once approved with a signing key, its .signatures.json.
func (o *Operator) downloadBundle(w http.ResponseWriter, r *http.Request) {
	rev, err := revisionParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	_, files, err := o.Policies.Revision(r.Context(), rev)
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		writeError(w, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err})
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="paywire-bundle-%d.tar.gz"`, rev))
	_, _ = w.Write(buf.Bytes())
}
