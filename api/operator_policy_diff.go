package api

import (
	"net/http"
	"strconv"

	"github.com/paywire/paywire"
)

// diffBundles answers what changes from revision ?with=N to revision
// {rev}: the files, expr rules and data values that differ (see
// bundles.Diff, whose JSON form the document describes as PolicyDiff).
// It reads; it changes nothing.
func (o *Operator) diffBundles(r *http.Request) (int, any, error) {
	rev, err := revisionParam(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query().Get("with")
	with, err := strconv.ParseInt(q, 10, 64)
	if err != nil || with <= 0 {
		if q == "" {
			return 0, nil, paywire.Errorf(paywire.EINVALID, "say which revision to compare with: ?with=N")
		}
		return 0, nil, paywire.Errorf(paywire.EINVALID, "with is a revision, a positive whole number, not %q", q)
	}
	d, err := o.Policies.Diff(r.Context(), with, rev)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, d, nil
}
