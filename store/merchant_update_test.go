package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestUpdateMerchant: settings change with their audit entry in one
// transaction; an edit made from a stale read is refused, even within the
// same microsecond, and of two concurrent edits from one read exactly one
// wins; a refused change leaves the merchant and the audit log as they were.
func TestUpdateMerchant(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now } // one fixed time: updated_at must still move
		m := &paywire.Merchant{ID: "shop-u", Name: "Shop U", NotificationURL: "https://u.example/notify",
			ReturnURLPrefixes: []string{"https://u.example/return/"}}
		if err := db.CreateMerchant(ctx, m); err != nil {
			t.Fatal(err)
		}
		read, _ := db.Merchant(ctx, "shop-u")
		secret := read.SigningSecret

		next := *read
		next.Name, next.NotificationFormat, next.AutoCapture, next.AutoCaptureMaxScore = "Shop U2", "json", true, 25
		next.AuthorizationTTL, next.RiskProfile = 48*time.Hour, "high_ticket"
		next.ReturnURLPrefixes = []string{"https://u.example/return/", "https://u.example/other/"}
		audit := &paywire.AuditEntry{Actor: "admin:root", Action: "merchant.update", Target: "shop-u",
			Details: json.RawMessage(`{"before":{"name":"Shop U"},"after":{"name":"Shop U2"}}`)}
		if err := db.UpdateMerchant(ctx, &next, audit); err != nil {
			t.Fatal(err)
		}
		if !next.UpdatedAt.After(read.UpdatedAt) || audit.ID == 0 {
			t.Fatalf("updated_at %v after %v; audit id %d", next.UpdatedAt, read.UpdatedAt, audit.ID)
		}
		got, _ := db.Merchant(ctx, "shop-u")
		if got.Name != "Shop U2" || got.NotificationFormat != "json" || !got.AutoCapture || got.AutoCaptureMaxScore != 25 ||
			got.AuthorizationTTL != 48*time.Hour || got.RiskProfile != "high_ticket" || len(got.ReturnURLPrefixes) != 2 ||
			got.SigningSecret != secret || !got.UpdatedAt.Equal(next.UpdatedAt) || !got.CreatedAt.Equal(read.CreatedAt) {
			t.Fatalf("read back %+v", got)
		}
		es, _ := db.AuditEntries(ctx, 0, 1)
		var d struct{ Before, After struct{ Name string } }
		if len(es) != 1 || es[0].Action != "merchant.update" || json.Unmarshal(es[0].Details, &d) != nil || d.Before.Name != "Shop U" || d.After.Name != "Shop U2" {
			t.Fatalf("audit %+v", es)
		}

		// The first read is stale now.
		stale := *read
		stale.Name = "Lost update"
		wantMerchantErr(t, "a stale edit", db.UpdateMerchant(ctx, &stale, &paywire.AuditEntry{Actor: "admin:x", Action: "merchant.update"}), paywire.ECONFLICT)
		bad := *got
		bad.AutoCaptureMaxScore = 101
		wantMerchantErr(t, "an invalid edit", db.UpdateMerchant(ctx, &bad, nil), paywire.EINVALID)
		unknown := *got
		unknown.ID = "nobody"
		wantMerchantErr(t, "an unknown merchant", db.UpdateMerchant(ctx, &unknown, nil), paywire.ENOTFOUND)
		noActor := *got
		noActor.Name = "No audit, no change"
		wantMerchantErr(t, "an edit whose audit entry is refused", db.UpdateMerchant(ctx, &noActor, &paywire.AuditEntry{Action: "merchant.update"}), paywire.EINVALID)
		if again, _ := db.Merchant(ctx, "shop-u"); again.Name != "Shop U2" || !again.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("a refused edit changed the merchant: %+v", again)
		}
		if es, _ := db.AuditEntries(ctx, 0, 10); len(es) != 1 {
			t.Fatalf("refused edits were audited: %+v", es)
		}

		// Two editors with the same read: one wins, the other is refused.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := *got
				e.Name = []string{"Editor A", "Editor B"}[i]
				errs[i] = db.UpdateMerchant(ctx, &e, &paywire.AuditEntry{Actor: "admin:x", Action: "merchant.update", Target: "shop-u", Details: json.RawMessage(`{}`)})
			}()
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch paywire.ErrorCode(err) {
			case "":
				ok++
			case paywire.ECONFLICT:
				conflicts++
			default:
				t.Errorf("concurrent edit: %v", err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("concurrent edits: %v", errs)
		}
		if es, _ := db.AuditEntries(ctx, 0, 10); len(es) != 2 {
			t.Fatalf("audit after the concurrent edits: %d entries", len(es))
		}
	})
}

// TestRotateSigningSecret: a new secret, the old one kept as the previous
// one, audited in the same transaction; the next rotation drops the oldest.
func TestRotateSigningSecret(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CreateMerchant(ctx, &paywire.Merchant{ID: "shop-s", Name: "Shop S"}); err != nil {
			t.Fatal(err)
		}
		before, _ := db.Merchant(ctx, "shop-s")
		audit := &paywire.AuditEntry{Actor: "admin:root", Action: "merchant.signing_secret_rotate", Target: "shop-s", Details: json.RawMessage(`{}`)}
		m, err := db.RotateSigningSecret(ctx, "shop-s", audit)
		if err != nil {
			t.Fatal(err)
		}
		if m.SigningSecret == before.SigningSecret || !strings.HasPrefix(m.SigningSecret, "whsec_") ||
			m.PreviousSigningSecret != before.SigningSecret || !m.UpdatedAt.After(before.UpdatedAt) {
			t.Fatalf("after rotation %+v, before %+v", m, before)
		}
		if es, _ := db.AuditEntries(ctx, 0, 1); len(es) != 1 || es[0].Action != "merchant.signing_secret_rotate" || audit.ID != es[0].ID {
			t.Fatalf("audit %+v", es)
		}
		// A form read before the rotation is stale.
		wantMerchantErr(t, "an edit read before the rotation", db.UpdateMerchant(ctx, before, nil), paywire.ECONFLICT)

		m2, err := db.RotateSigningSecret(ctx, "shop-s", nil)
		if err != nil || m2.PreviousSigningSecret != m.SigningSecret || m2.SigningSecret == m.SigningSecret {
			t.Fatalf("second rotation %+v, %v", m2, err)
		}
		_, err = db.RotateSigningSecret(ctx, "nobody", nil)
		wantMerchantErr(t, "an unknown merchant", err, paywire.ENOTFOUND)
		_, err = db.RotateSigningSecret(ctx, "shop-s", &paywire.AuditEntry{Action: "x"})
		wantMerchantErr(t, "a refused audit entry", err, paywire.EINVALID)
		if m3, _ := db.Merchant(ctx, "shop-s"); m3.SigningSecret != m2.SigningSecret {
			t.Fatal("a rotation whose audit entry was refused changed the secret")
		}
	})
}

func wantMerchantErr(t *testing.T, what string, err error, code string) {
	t.Helper()
	if paywire.ErrorCode(err) != code {
		t.Errorf("%s: %v; want %s", what, err, code)
	}
}
