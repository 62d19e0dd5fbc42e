package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestLists: entries are normalised, unique per list and of one type per
// list; every change moves the version and is audited with the entry; the
// active entries leave out the expired ones.
func TestLists(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		v0, err := db.ListsVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}

		e := &paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: " Fraud@Example.com", Reason: "chargebacks", CreatedBy: "operator:cli"}
		if err := db.AddListEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || e.Value != "fraud@example.com" || !e.CreatedAt.Equal(now) {
			t.Fatalf("added %+v", e)
		}
		temp := &paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "temp@example.com", Reason: "a week",
			CreatedBy: "operator:api", ExpiresAt: now.Add(7 * 24 * time.Hour)}
		if err := db.AddListEntry(ctx, temp); err != nil {
			t.Fatal(err)
		}
		ip := &paywire.ListEntry{List: "blocked_ips", Type: paywire.ListIP, Value: "198.51.100.9/24", Reason: "botnet", CreatedBy: "operator:api"}
		if err := db.AddListEntry(ctx, ip); err != nil || ip.Value != "198.51.100.0/24" {
			t.Fatalf("%+v, %v", ip, err)
		}

		for name, bad := range map[string]struct {
			e    paywire.ListEntry
			code string
		}{
			"duplicate":   {paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "FRAUD@example.com", Reason: "again", CreatedBy: "x"}, paywire.ECONFLICT},
			"other type":  {paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmailDomain, Value: "example.com", Reason: "r", CreatedBy: "x"}, paywire.ECONFLICT},
			"no reason":   {paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "b@example.com", CreatedBy: "x"}, paywire.EINVALID},
			"no actor":    {paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "b@example.com", Reason: "r"}, paywire.EINVALID},
			"bad value":   {paywire.ListEntry{List: "blocked_ips", Type: paywire.ListIP, Value: "not-an-ip", Reason: "r", CreatedBy: "x"}, paywire.EINVALID},
			"past expiry": {paywire.ListEntry{List: "blocked_emails", Type: paywire.ListEmail, Value: "c@example.com", Reason: "r", CreatedBy: "x", ExpiresAt: now}, paywire.EINVALID},
		} {
			if err := db.AddListEntry(ctx, &bad.e); paywire.ErrorCode(err) != bad.code {
				t.Errorf("%s: %v; want %s", name, err, bad.code)
			}
		}

		v1, _ := db.ListsVersion(ctx)
		if v1 < v0+3 {
			t.Errorf("version %d after three adds from %d", v1, v0)
		}
		entries, err := db.ListEntries(ctx, "blocked_emails")
		if err != nil || len(entries) != 2 {
			t.Fatalf("entries: %+v, %v", entries, err)
		}
		lists, err := db.Lists(ctx)
		if err != nil || len(lists) != 2 || lists[0] != (paywire.ListSummary{List: "blocked_emails", Type: paywire.ListEmail, Entries: 2}) {
			t.Fatalf("lists: %+v, %v", lists, err)
		}
		active, err := db.ActiveListEntries(ctx, now.Add(8*24*time.Hour))
		if err != nil || len(active) != 2 {
			t.Fatalf("active in a week and a day: %+v, %v", active, err)
		}
		for _, a := range active {
			if a.ID == temp.ID {
				t.Errorf("the expired entry is active: %+v", a)
			}
		}

		if err := db.RemoveListEntry(ctx, "operator:api", "blocked_ips", e.ID); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("removing from another list: %v", err)
		}
		if err := db.RemoveListEntry(ctx, "operator:api", "blocked_emails", e.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveListEntry(ctx, "operator:api", "blocked_emails", e.ID); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("removing twice: %v", err)
		}
		if v2, _ := db.ListsVersion(ctx); v2 <= v1 {
			t.Errorf("version %d after a removal, %d before", v2, v1)
		}
		audit, err := db.AuditEntries(ctx, 0, 10)
		if err != nil || len(audit) < 4 {
			t.Fatalf("audit: %+v, %v", audit, err)
		}
		var details map[string]any
		_ = json.Unmarshal(audit[0].Details, &details)
		if audit[0].Action != "list.remove" || audit[0].Actor != "operator:api" || audit[0].Target != "blocked_emails" ||
			details["value"] != "fraud@example.com" || details["reason"] != "chargebacks" || details["created_by"] != "operator:cli" {
			t.Errorf("removal audited as %+v %s", audit[0], audit[0].Details)
		}
		if audit[1].Action != "list.add" || audit[1].Actor != "operator:api" || audit[1].Target != "blocked_ips" {
			t.Errorf("addition audited as %+v", audit[1])
		}
	})
}
