package store_test

import (
	"context"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

func TestReviewAssignments(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.SeedMerchant(t, db, "m1")
		storetest.SeedMerchant(t, db, "m2")
		p1 := storetest.SeedPayment(t, db, "m1", "r1")
		p2 := storetest.SeedPayment(t, db, "m1", "r2")

		if got, err := db.ReviewAssignees(ctx, []string{p1.ID, p2.ID}); err != nil || len(got) != 0 {
			t.Fatalf("before any assignment: %v, %v", got, err)
		}
		if prev, err := db.AssignReview(ctx, "m1", p1.ID, "ana"); err != nil || prev != "" {
			t.Fatalf("assign: %q, %v", prev, err)
		}
		// Assigning again hands the payment over and says from whom.
		if prev, err := db.AssignReview(ctx, "m1", p1.ID, "bob"); err != nil || prev != "ana" {
			t.Fatalf("reassign: %q, %v", prev, err)
		}
		got, err := db.ReviewAssignees(ctx, []string{p1.ID, p2.ID})
		if err != nil || len(got) != 1 || got[p1.ID] != "bob" {
			t.Fatalf("assignees: %v, %v", got, err)
		}

		// Another merchant's payment, an unknown one and no assignee are refused.
		if _, err := db.AssignReview(ctx, "m2", p2.ID, "ana"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("another merchant's payment: %v", err)
		}
		if _, err := db.AssignReview(ctx, "m1", "pay_nothing", "ana"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("unknown payment: %v", err)
		}
		if _, err := db.AssignReview(ctx, "m1", p2.ID, ""); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("no assignee: %v", err)
		}
		if got, _ := db.ReviewAssignees(ctx, []string{p2.ID}); len(got) != 0 {
			t.Errorf("a refused assignment was stored: %v", got)
		}
	})
}
