package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

var _ paywire.ListStore = (*DB)(nil)

type listEntryRow struct {
	bun.BaseModel `bun:"table:risk_list_entries"`

	ID        string    `bun:"id,pk"`
	List      string    `bun:"list"`
	Type      string    `bun:"type"`
	Value     string    `bun:"value"`
	Reason    string    `bun:"reason"`
	CreatedBy string    `bun:"created_by"`
	CreatedAt time.Time `bun:"created_at"`
	ExpiresAt time.Time `bun:"expires_at,nullzero"`
}

func (r listEntryRow) entry() paywire.ListEntry {
	return paywire.ListEntry{ID: r.ID, List: r.List, Type: paywire.ListType(r.Type), Value: r.Value, Reason: r.Reason,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utcOrZero(r.ExpiresAt)}
}

// bumpListsVersion moves the lists' version in tx. Done first in a change,
// it also serialises changes on PostgreSQL (the row stays locked to the
// commit), so that the type check of AddListEntry sees every earlier add.
func bumpListsVersion(ctx context.Context, tx bun.Tx) error {
	_, err := tx.NewUpdate().Table("risk_lists_version").Set("version = version + 1").Where("id = 1").Exec(ctx)
	return err
}

func listAudit(ctx context.Context, tx bun.Tx, now time.Time, actor, action string, e paywire.ListEntry) error {
	d := map[string]any{"id": e.ID, "type": e.Type, "value": e.Value, "reason": e.Reason, "created_by": e.CreatedBy,
		"created_at": e.CreatedAt.Format(time.RFC3339)}
	if !e.ExpiresAt.IsZero() {
		d["expires_at"] = e.ExpiresAt.Format(time.RFC3339)
	}
	details, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return appendAudit(ctx, tx, now, &paywire.AuditEntry{Actor: actor, Action: action, Target: e.List, Details: details})
}

// AddListEntry implements paywire.ListStore.
func (db *DB) AddListEntry(ctx context.Context, e *paywire.ListEntry) error {
	const op = "store/DB.AddListEntry"
	now := db.now()
	v, err := paywire.NewListEntry(e.List, e.Type, e.Value, e.Reason, e.ExpiresAt, now)
	if err != nil {
		return classify(op, err, "")
	}
	if e.CreatedBy == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a list entry needs the actor who adds it"}
	}
	v.ID, v.CreatedBy, v.CreatedAt = paywire.NewID("le_"), e.CreatedBy, now
	if !v.ExpiresAt.IsZero() {
		v.ExpiresAt = utc(v.ExpiresAt)
	}
	err = db.inTx(ctx, func(tx bun.Tx) error {
		if err := bumpListsVersion(ctx, tx); err != nil {
			return err
		}
		var types []string
		if err := tx.NewSelect().Table("risk_list_entries").Column("type").Where("list = ?", v.List).Limit(1).Scan(ctx, &types); err != nil {
			return err
		}
		if len(types) > 0 && types[0] != string(v.Type) {
			return paywire.Errorf(paywire.ECONFLICT, "list %s holds values of type %s, not %s", v.List, types[0], v.Type)
		}
		row := &listEntryRow{ID: v.ID, List: v.List, Type: string(v.Type), Value: v.Value, Reason: v.Reason,
			CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		return listAudit(ctx, tx, now, v.CreatedBy, "list.add", v)
	})
	if err != nil {
		return classify(op, err, "the list holds this value already")
	}
	*e = v
	return nil
}

// RemoveListEntry implements paywire.ListStore.
func (db *DB) RemoveListEntry(ctx context.Context, actor, list, id string) error {
	const op = "store/DB.RemoveListEntry"
	if actor == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "removing a list entry needs the actor who removes it"}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if err := bumpListsVersion(ctx, tx); err != nil {
			return err
		}
		row := new(listEntryRow)
		if err := tx.NewSelect().Model(row).Where("id = ? AND list = ?", id, list).Scan(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return err
		}
		return listAudit(ctx, tx, now, actor, "list.remove", row.entry())
	})
	return notFound(op, err, "the list has no such entry")
}

// ListEntries implements paywire.ListStore.
func (db *DB) ListEntries(ctx context.Context, list string) ([]paywire.ListEntry, error) {
	var rows []listEntryRow
	if err := db.bun.NewSelect().Model(&rows).Where("list = ?", list).Order("created_at DESC", "id DESC").Scan(ctx); err != nil {
		return nil, classify("store/DB.ListEntries", err, "")
	}
	return listEntries(rows), nil
}

// Lists implements paywire.ListStore.
func (db *DB) Lists(ctx context.Context) ([]paywire.ListSummary, error) {
	var rows []struct {
		List    string `bun:"list"`
		Type    string `bun:"type"`
		Entries int    `bun:"entries"`
	}
	err := db.bun.NewSelect().Table("risk_list_entries").ColumnExpr("list, min(type) AS type, count(*) AS entries").
		Group("list").Order("list").Scan(ctx, &rows)
	if err != nil {
		return nil, classify("store/DB.Lists", err, "")
	}
	out := make([]paywire.ListSummary, len(rows))
	for i, r := range rows {
		out[i] = paywire.ListSummary{List: r.List, Type: paywire.ListType(r.Type), Entries: r.Entries}
	}
	return out, nil
}

// ActiveListEntries implements paywire.ListStore.
func (db *DB) ActiveListEntries(ctx context.Context, t time.Time) ([]paywire.ListEntry, error) {
	var rows []listEntryRow
	err := db.bun.NewSelect().Model(&rows).Where("expires_at IS NULL OR expires_at > ?", utc(t)).Order("list", "value").Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.ActiveListEntries", err, "")
	}
	return listEntries(rows), nil
}

// ListsVersion implements paywire.ListStore.
func (db *DB) ListsVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.bun.NewSelect().Table("risk_lists_version").Column("version").Where("id = 1").Scan(ctx, &v); err != nil {
		return 0, classify("store/DB.ListsVersion", err, "")
	}
	return v, nil
}

func listEntries(rows []listEntryRow) []paywire.ListEntry {
	out := make([]paywire.ListEntry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out
}
