package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// OperatorList is a list with its number of entries.
type OperatorList struct {
	List    string `json:"list"`
	Type    string `json:"type"`
	Entries int    `json:"entries"`
}

// OperatorListEntry is a list entry as the operator API shows it.
type OperatorListEntry struct {
	ID        string `json:"id"`
	List      string `json:"list"`
	Type      string `json:"type"`
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	CreatedBy string `json:"createdBy"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// OperatorListEntryRequest is the body that adds a list entry.
type OperatorListEntryRequest struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expiresAt,omitempty"` // RFC 3339; empty: never
}

func toOperatorListEntry(e paywire.ListEntry) OperatorListEntry {
	out := OperatorListEntry{ID: e.ID, List: e.List, Type: string(e.Type), Value: e.Value, Reason: e.Reason,
		CreatedBy: e.CreatedBy, CreatedAt: timeText(e.CreatedAt)}
	if !e.ExpiresAt.IsZero() {
		out.ExpiresAt = timeText(e.ExpiresAt)
	}
	return out
}

func (o *Operator) mountLists(r chi.Router) {
	r.Get("/lists", o.json(o.withLists(o.listLists)))
	r.Get("/lists/{list}", o.json(o.withLists(o.listEntries)))
	r.Post("/lists/{list}/entries", o.json(o.withLists(o.addListEntry)))
	r.Delete("/lists/{list}/entries/{entry}", o.json(o.withLists(o.removeListEntry)))
}

// withLists answers 503 on a node built without a list store.
func (o *Operator) withLists(fn func(r *http.Request) (int, any, error)) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		if o.Lists == nil {
			return 0, nil, paywire.Errorf(paywire.EUNAVAILABLE, "this node does not serve lists")
		}
		return fn(r)
	}
}

func (o *Operator) listLists(r *http.Request) (int, any, error) {
	ls, err := o.Lists.Lists(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]OperatorList, len(ls))
	for i, l := range ls {
		out[i] = OperatorList{List: l.List, Type: string(l.Type), Entries: l.Entries}
	}
	return http.StatusOK, map[string]any{"lists": out}, nil
}

func (o *Operator) listEntries(r *http.Request) (int, any, error) {
	es, err := o.Lists.ListEntries(r.Context(), chi.URLParam(r, "list"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]OperatorListEntry, len(es))
	for i, e := range es {
		out[i] = toOperatorListEntry(e)
	}
	return http.StatusOK, map[string]any{"list": chi.URLParam(r, "list"), "entries": out}, nil
}

func (o *Operator) addListEntry(r *http.Request) (int, any, error) {
	var in OperatorListEntryRequest
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	e := &paywire.ListEntry{List: chi.URLParam(r, "list"), Type: paywire.ListType(in.Type), Value: in.Value,
		Reason: in.Reason, CreatedBy: operatorActor}
	if in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, in.ExpiresAt)
		if err != nil {
			return 0, nil, paywire.Errorf(paywire.EINVALID, "expiresAt is not an RFC 3339 time such as 2026-12-31T23:59:59Z")
		}
		e.ExpiresAt = t
	}
	if err := o.Lists.AddListEntry(r.Context(), e); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toOperatorListEntry(*e), nil
}

func (o *Operator) removeListEntry(r *http.Request) (int, any, error) {
	if err := o.Lists.RemoveListEntry(r.Context(), operatorActor, chi.URLParam(r, "list"), chi.URLParam(r, "entry")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
