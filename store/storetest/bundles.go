package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// fakeArchive is an archive the store keeps as it is: the store never reads
// a bundle's content, the bundles package does.
func fakeArchive(rev int64) ([]byte, string) {
	a := []byte(fmt.Sprintf("archive of revision %d", rev))
	sum := sha256.Sum256(a)
	return a, hex.EncodeToString(sum[:])
}

func pushBundle(t *testing.T, db *store.DB, author string) *paywire.PolicyBundle {
	t.Helper()
	b := &paywire.PolicyBundle{Author: author, Message: "change by " + author}
	err := db.CreateBundle(ctx, b, func(rev int64) ([]byte, string, error) {
		a, h := fakeArchive(rev)
		return a, h, nil
	}, &paywire.AuditEntry{Actor: "admin:" + author, Action: "policy_bundle.push"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bundleAudit(by, action string) *paywire.AuditEntry {
	return &paywire.AuditEntry{Actor: "admin:" + by, Action: action}
}

// approvedBundle pushes a bundle by author and approves it by approver.
func approvedBundle(t *testing.T, db *store.DB, author, approver string) *paywire.PolicyBundle {
	t.Helper()
	b := pushBundle(t, db, author)
	if err := db.SubmitBundle(ctx, b.Revision, author, bundleAudit(author, "policy_bundle.submit")); err != nil {
		t.Fatal(err)
	}
	if err := db.ApproveBundle(ctx, b.Revision, approver, []byte(`{"signatures":["x"]}`), bundleAudit(approver, "policy_bundle.approve")); err != nil {
		t.Fatal(err)
	}
	return b
}

func wantState(t *testing.T, db *store.DB, rev int64, want paywire.BundleState) *paywire.PolicyBundle {
	t.Helper()
	b, err := db.Bundle(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != want {
		t.Fatalf("revision %d is %s, want %s", rev, b.State, want)
	}
	return b
}

func wantActive(t *testing.T, db *store.DB, want int64) {
	t.Helper()
	got, err := db.ActiveBundleRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("active revision %d, want %d", got, want)
	}
	bs, err := db.Bundles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var active []int64
	for _, b := range bs {
		if b.State == paywire.BundleActive {
			active = append(active, b.Revision)
		}
	}
	if want == 0 && len(active) != 0 || want != 0 && (len(active) != 1 || active[0] != want) {
		t.Fatalf("revisions in state active: %v, want only %d", active, want)
	}
}

// testBundles: revisions come from the database, increase and are never
// reused; the archive and hash never change; each step is a compare-and-set
// with its audit entry; four eyes; exactly one active revision, newer
// through activate, older only through a rollback to one active before;
// activation periods say who made which revision active, from when to when.
func testBundles(t *testing.T, db *store.DB) {
	now := t0
	db.Now = func() time.Time { return now }
	wantActive(t, db, 0)

	b1 := pushBundle(t, db, "ann")
	if b1.Revision != 1 || b1.State != paywire.BundleDraft || !b1.CreatedAt.Equal(t0) {
		t.Fatalf("first push: %+v", b1)
	}
	// A failed push takes its revision with it: the next push never gets it.
	err := db.CreateBundle(ctx, &paywire.PolicyBundle{Author: "ann", Message: "broken"}, func(int64) ([]byte, string, error) {
		return nil, "", errors.New("does not compile")
	}, bundleAudit("ann", "policy_bundle.push"))
	wantCode(t, "push whose pack fails", err, paywire.EINVALID)
	wantCode(t, "push without author", db.CreateBundle(ctx, &paywire.PolicyBundle{}, nil, bundleAudit("x", "y")), paywire.EINVALID)
	b3 := pushBundle(t, db, "ann")
	if b3.Revision != 3 {
		t.Fatalf("revision after a failed push: %d, want 3 (2 is never reused)", b3.Revision)
	}
	if _, err := db.Bundle(ctx, 2); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Fatalf("revision 2: %v, want not found", err)
	}

	// The life cycle, step by step, by compare-and-set.
	wantCode(t, "approve a draft", db.ApproveBundle(ctx, 1, "carl", nil, bundleAudit("carl", "policy_bundle.approve")), paywire.ECONFLICT)
	wantCode(t, "activate a draft", db.ActivateBundle(ctx, 1, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate")), paywire.ECONFLICT)
	now = t0.Add(time.Minute)
	if err := db.SubmitBundle(ctx, 1, "ann", bundleAudit("ann", "policy_bundle.submit")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "submit twice", db.SubmitBundle(ctx, 1, "ann", bundleAudit("ann", "policy_bundle.submit")), paywire.ECONFLICT)
	wantCode(t, "submit an unknown revision", db.SubmitBundle(ctx, 99, "ann", bundleAudit("ann", "policy_bundle.submit")), paywire.ENOTFOUND)
	wantCode(t, "approval by the author", db.ApproveBundle(ctx, 1, "ann", nil, bundleAudit("ann", "policy_bundle.approve")), paywire.EFORBIDDEN)
	wantCode(t, "approve an unknown revision", db.ApproveBundle(ctx, 99, "carl", nil, bundleAudit("carl", "policy_bundle.approve")), paywire.ENOTFOUND)
	now = t0.Add(2 * time.Minute)
	if err := db.ApproveBundle(ctx, 1, "carl", []byte("sig-1"), bundleAudit("carl", "policy_bundle.approve")); err != nil {
		t.Fatal(err)
	}
	got := wantState(t, db, 1, paywire.BundleApproved)
	if got.ApprovedBy != "carl" || !got.ApprovedAt.Equal(now) || string(got.Signature) != "sig-1" || !got.SubmittedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("approved revision: %+v", got)
	}
	wantCode(t, "approve twice", db.ApproveBundle(ctx, 1, "cleo", nil, bundleAudit("cleo", "policy_bundle.approve")), paywire.ECONFLICT)

	// Activation: exactly one active revision, newer ones only.
	wantCode(t, "rollback with nothing active", db.ActivateBundle(ctx, 1, paywire.BundleRollback, "ada", "why", bundleAudit("ada", "policy_bundle.rollback")), paywire.ECONFLICT)
	now = t0.Add(time.Hour)
	if err := db.ActivateBundle(ctx, 1, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate")); err != nil {
		t.Fatal(err)
	}
	wantActive(t, db, 1)
	b4 := approvedBundle(t, db, "ann", "carl")
	b5 := approvedBundle(t, db, "bob", "carl")
	now = t0.Add(2 * time.Hour)
	if err := db.ActivateBundle(ctx, b5.Revision, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate")); err != nil {
		t.Fatal(err)
	}
	wantActive(t, db, b5.Revision)
	old := wantState(t, db, 1, paywire.BundleRetired)
	if !old.RetiredAt.Equal(now) || old.ActivatedBy != "ada" || !old.ActivatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("retired revision: %+v", old)
	}
	// An older approved revision is never slipped in by an activation...
	wantCode(t, "activate an older approved revision", db.ActivateBundle(ctx, b4.Revision, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate")), paywire.ECONFLICT)
	wantCode(t, "activate the active revision again", db.ActivateBundle(ctx, b5.Revision, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate")), paywire.ECONFLICT)
	// ...nor by a rollback, to a revision that was never active.
	wantCode(t, "rollback to a revision never active", db.ActivateBundle(ctx, b4.Revision, paywire.BundleRollback, "ada", "why", bundleAudit("ada", "policy_bundle.rollback")), paywire.ECONFLICT)
	wantCode(t, "rollback without a reason", db.ActivateBundle(ctx, 1, paywire.BundleRollback, "ada", "", bundleAudit("ada", "policy_bundle.rollback")), paywire.EINVALID)
	wantState(t, db, b4.Revision, paywire.BundleApproved)
	wantActive(t, db, b5.Revision)

	now = t0.Add(3 * time.Hour)
	if err := db.ActivateBundle(ctx, 1, paywire.BundleRollback, "ada", "revision 5 blocks good cards", bundleAudit("ada", "policy_bundle.rollback")); err != nil {
		t.Fatal(err)
	}
	wantActive(t, db, 1)
	wantState(t, db, b5.Revision, paywire.BundleRetired)
	// A rollback forward is no rollback.
	wantCode(t, "rollback to a newer revision", db.ActivateBundle(ctx, b5.Revision, paywire.BundleRollback, "ada", "why", bundleAudit("ada", "policy_bundle.rollback")), paywire.ECONFLICT)

	acts, err := db.BundleActivations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []paywire.BundleActivation{
		{Seq: 3, Revision: 1, Kind: paywire.BundleRollback, By: "ada", Reason: "revision 5 blocks good cards", From: t0.Add(3 * time.Hour)},
		{Seq: 2, Revision: b5.Revision, Kind: paywire.BundleActivate, By: "ada", From: t0.Add(2 * time.Hour), Until: t0.Add(3 * time.Hour)},
		{Seq: 1, Revision: 1, Kind: paywire.BundleActivate, By: "ada", From: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)},
	}
	if fmt.Sprint(acts) != fmt.Sprint(want) {
		t.Fatalf("activations:\n got %+v\nwant %+v", acts, want)
	}

	// Nothing above changed a stored archive or hash.
	for _, rev := range []int64{1, b3.Revision, b4.Revision, b5.Revision} {
		b, err := db.Bundle(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		a, h := fakeArchive(rev)
		if !bytes.Equal(b.Archive, a) || b.Hash != h {
			t.Errorf("revision %d: archive or hash changed", rev)
		}
	}

	// Every step is in the audit log, targeted at its revision.
	entries, err := db.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Action+" "+e.Target]++
	}
	for _, k := range []string{"policy_bundle.push policy_bundle:1", "policy_bundle.submit policy_bundle:1", "policy_bundle.approve policy_bundle:1",
		"policy_bundle.activate policy_bundle:1", "policy_bundle.rollback policy_bundle:1", "policy_bundle.activate policy_bundle:5"} {
		if count[k] != 1 {
			t.Errorf("audit entries %q: %d, want 1 (all: %v)", k, count[k], count)
		}
	}
	if count["policy_bundle.approve policy_bundle:4"] != 1 || count["policy_bundle.activate policy_bundle:4"] != 0 {
		t.Errorf("refused steps left audit entries: %v", count)
	}
}

// testConcurrentBundleActivations: activations racing on every node leave
// exactly one active revision, the newest that won.
func testConcurrentBundleActivations(t *testing.T, db *store.DB) {
	var revs []int64
	for i := 0; i < 6; i++ {
		revs = append(revs, approvedBundle(t, db, "ann", "carl").Revision)
	}
	var wg sync.WaitGroup
	for _, rev := range revs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.ActivateBundle(ctx, rev, paywire.BundleActivate, "ada", "", bundleAudit("ada", "policy_bundle.activate"))
			if err != nil && paywire.ErrorCode(err) != paywire.ECONFLICT {
				t.Errorf("activating %d: %v", rev, err)
			}
		}()
	}
	wg.Wait()
	active, err := db.ActiveBundleRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantActive(t, db, active)
	acts, err := db.BundleActivations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	for i, a := range acts {
		if a.Until.IsZero() {
			open++
		}
		if i > 0 && a.Revision >= acts[i-1].Revision {
			t.Errorf("activation %d of revision %d came after one of revision %d: an older revision became active", a.Seq, acts[i-1].Revision, a.Revision)
		}
	}
	if open != 1 || acts[0].Revision != active {
		t.Errorf("activations %+v: want one open period, of the active revision %d", acts, active)
	}
}
