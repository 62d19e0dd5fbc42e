package bundles_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var ctx = context.Background()

// setup returns a service over a new database with the users of the tests:
// ann writes policies (and holds compliance too, which does not let her
// approve her own), bob writes policies, carl is compliance, ada is admin,
// vic only views, dan was admin and compliance and is disabled.
func setup(t *testing.T, db *store.DB) *bundles.Service {
	t.Helper()
	users := map[string][]string{
		"ann":  {"risk_analyst", "compliance"},
		"bob":  {"risk_analyst"},
		"carl": {"compliance"},
		"ada":  {"admin"},
		"vic":  {"viewer"},
	}
	for name, roles := range users {
		if err := db.CreateAdminUser(ctx, &paywire.AdminUser{Username: name, PasswordHash: "x", Roles: roles}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "dan", PasswordHash: "x", Roles: []string{"admin", "compliance"}, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	return &bundles.Service{Store: db, Users: db}
}

func defaultFiles(t *testing.T) engine.Files {
	t.Helper()
	f, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := paywire.ErrorCode(err); got != code {
		t.Fatalf("%s: %v (code %q), want %q", what, err, got, code)
	}
}

// through pushes the default bundle by author and takes it to approved (by
// carl) or, with activate, to active (by ada).
func through(t *testing.T, s *bundles.Service, author string, activate bool) int64 {
	t.Helper()
	b, err := s.Push(ctx, defaultFiles(t), author, "a change")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(ctx, b.Revision, author); err != nil {
		t.Fatal(err)
	}
	if err := s.Approve(ctx, b.Revision, "carl"); err != nil {
		t.Fatal(err)
	}
	if activate {
		if err := s.Activate(ctx, b.Revision, "ada"); err != nil {
			t.Fatal(err)
		}
	}
	return b.Revision
}

// TestLifecycle: push stamps the assigned revision into the manifest; only
// the author submits; approval needs compliance and another person, and
// signs; activation needs admin and a newer revision; a rollback needs
// admin, a reason and an earlier revision that was active; every step is
// audited as the user who took it.
func TestLifecycle(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		s.Signing = &bundles.SigningKey{Key: "a shared secret", Algorithm: "HS256", KeyID: "k1"}
		v := &engine.Verification{Key: "a shared secret", Algorithm: "HS256", KeyID: "k1"}

		_, err := s.Push(ctx, defaultFiles(t), "carl", "compliance does not write policies")
		wantCode(t, "push by compliance", err, paywire.EFORBIDDEN)
		_, err = s.Push(ctx, defaultFiles(t), "nobody", "m")
		wantCode(t, "push by an unknown user", err, paywire.EFORBIDDEN)
		_, err = s.Push(ctx, defaultFiles(t), "ann", " ")
		wantCode(t, "push without a message", err, paywire.EINVALID)

		b, err := s.Push(ctx, defaultFiles(t), "ann", "lower the review threshold")
		if err != nil {
			t.Fatal(err)
		}
		if b.Revision != 1 || b.State != paywire.BundleDraft || b.Author != "ann" {
			t.Fatalf("pushed: %+v", b)
		}
		unsigned, _, err := bundles.Files(b)
		if err != nil {
			t.Fatal(err)
		}
		compiled, err := engine.Compile(ctx, unsigned)
		if err != nil {
			t.Fatal(err)
		}
		if compiled.Revision != "1" || compiled.Hash != b.Hash {
			t.Fatalf("stored bundle runs as revision %q hash %s; want revision 1 and the stored hash %s", compiled.Revision, compiled.Hash, b.Hash)
		}

		wantCode(t, "approve a draft", s.Approve(ctx, 1, "carl"), paywire.ECONFLICT)
		wantCode(t, "submit by another", s.Submit(ctx, 1, "bob"), paywire.EFORBIDDEN)
		if err := s.Submit(ctx, 1, "ann"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "approval by the author, compliance though she is", s.Approve(ctx, 1, "ann"), paywire.EFORBIDDEN)
		wantCode(t, "approval by a risk analyst", s.Approve(ctx, 1, "bob"), paywire.EFORBIDDEN)
		wantCode(t, "approval by an admin without compliance", s.Approve(ctx, 1, "ada"), paywire.EFORBIDDEN)
		wantCode(t, "approval by a disabled user", s.Approve(ctx, 1, "dan"), paywire.EFORBIDDEN)
		wantCode(t, "activate before approval", s.Activate(ctx, 1, "ada"), paywire.ECONFLICT)
		if err := s.Approve(ctx, 1, "carl"); err != nil {
			t.Fatal(err)
		}
		got, err := db.Bundle(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.ApprovedBy != "carl" || len(got.Signature) == 0 {
			t.Fatalf("approved: by %q, signature %q", got.ApprovedBy, got.Signature)
		}
		if _, err := bundles.Compile(ctx, got, v); err != nil {
			t.Fatalf("the approval's signature does not verify: %v", err)
		}
		if _, err := bundles.Compile(ctx, got, &engine.Verification{Key: "another secret", Algorithm: "HS256", KeyID: "k1"}); err == nil {
			t.Fatal("verified under another key")
		}

		wantCode(t, "activation by compliance", s.Activate(ctx, 1, "carl"), paywire.EFORBIDDEN)
		wantCode(t, "activation by a viewer", s.Activate(ctx, 1, "vic"), paywire.EFORBIDDEN)
		wantCode(t, "activation by a disabled admin", s.Activate(ctx, 1, "dan"), paywire.EFORBIDDEN)
		if err := s.Activate(ctx, 1, "ada"); err != nil {
			t.Fatal(err)
		}
		r2 := through(t, s, "bob", false)
		r3 := through(t, s, "ann", true)
		wantCode(t, "activate an older revision", s.Activate(ctx, r2, "ada"), paywire.ECONFLICT)
		wantCode(t, "rollback to a revision never active", s.Rollback(ctx, r2, "ada", "r3 is wrong"), paywire.ECONFLICT)
		wantCode(t, "rollback without a reason", s.Rollback(ctx, 1, "ada", ""), paywire.EINVALID)
		wantCode(t, "rollback by compliance", s.Rollback(ctx, 1, "carl", "r3 is wrong"), paywire.EFORBIDDEN)
		if err := s.Rollback(ctx, 1, "ada", "r3 is wrong"); err != nil {
			t.Fatal(err)
		}
		if rev, _ := db.ActiveBundleRevision(ctx); rev != 1 {
			t.Fatalf("active after the rollback: %d, want 1", rev)
		}

		h, err := s.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Bundles) != 3 || len(h.Activations) != 3 || h.Activations[0].Kind != paywire.BundleRollback ||
			h.Activations[0].Reason != "r3 is wrong" || h.Activations[1].Revision != r3 {
			t.Fatalf("history: %+v", h)
		}
		entries, err := db.AuditEntries(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for i := len(entries) - 1; i >= 0; i-- {
			if e := entries[i]; e.Target == "policy_bundle:1" {
				steps = append(steps, e.Actor+" "+e.Action)
			}
		}
		want := "admin:ann policy_bundle.push, admin:ann policy_bundle.submit, admin:carl policy_bundle.approve, admin:ada policy_bundle.activate, admin:ada policy_bundle.rollback"
		if strings.Join(steps, ", ") != want {
			t.Fatalf("audit of revision 1:\n got %s\nwant %s", strings.Join(steps, ", "), want)
		}
	})
}

// TestSubmitRefusesFailingTests: a bundle with a failing Rego test is
// pushed (it compiles) but not submitted; the failure is named.
func TestSubmitRefusesFailingTests(t *testing.T) {
	db := storetest.NewSQLite(t)
	s := setup(t, db)
	files := defaultFiles(t)
	files["paywire/failing_test.rego"] = []byte("package paywire.failing_test\n\nimport rego.v1\n\ntest_threshold_is_lower if {\n\t1 == 2\n}\n")
	b, err := s.Push(ctx, files, "bob", "a failing test")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Submit(ctx, b.Revision, "bob")
	wantCode(t, "submit with a failing test", err, paywire.EINVALID)
	if !strings.Contains(err.Error(), "test_threshold_is_lower") || !strings.Contains(err.Error(), "1 of") {
		t.Fatalf("the refusal does not name the failing test: %v", err)
	}
	got, err := db.Bundle(ctx, b.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != paywire.BundleDraft {
		t.Fatalf("state after a refused submission: %s", got.State)
	}
}

// TestPushRefusesWhatDoesNotCompile: the engine's problems come back; no
// revision is stored.
func TestPushRefusesWhatDoesNotCompile(t *testing.T) {
	db := storetest.NewSQLite(t)
	s := setup(t, db)
	files := defaultFiles(t)
	files["risk.rego"] = []byte("package paywire.risk\n\ndecision := {\n")
	_, err := s.Push(ctx, files, "bob", "broken")
	wantCode(t, "push of a broken bundle", err, paywire.EINVALID)
	if !strings.Contains(err.Error(), "risk.rego") {
		t.Fatalf("the refusal does not name the file: %v", err)
	}
	if bs, _ := db.Bundles(ctx); len(bs) != 0 {
		t.Fatalf("a broken bundle was stored: %+v", bs)
	}
}

// TestNodesRefuseTamperedRevisions: an archive under another revision
// number, or whose content is not the stored hash, is refused; with a
// verification key an unsigned revision is refused, and activating one is
// refused before any node is told.
func TestNodesRefuseTamperedRevisions(t *testing.T) {
	db := storetest.NewSQLite(t)
	s := setup(t, db)
	r1 := through(t, s, "bob", false)
	b, err := db.Bundle(ctx, r1)
	if err != nil {
		t.Fatal(err)
	}
	renumbered := *b
	renumbered.Revision = 7
	if _, _, err := bundles.Files(&renumbered); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("revision 1's archive as revision 7: %v", err)
	}
	other, err := bundles.Stamp(defaultFiles(t), r1)
	if err != nil {
		t.Fatal(err)
	}
	other["risk.rego"] = append(bytes.Clone(other["risk.rego"]), []byte("\n# changed\n")...)
	var buf bytes.Buffer
	if err := other.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	swapped := *b
	swapped.Archive = buf.Bytes()
	if _, _, err := bundles.Files(&swapped); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Errorf("another archive under revision 1's hash: %v", err)
	}
	if _, err := bundles.Compile(ctx, b, &engine.Verification{Key: "k", Algorithm: "HS256", KeyID: "k"}); err == nil {
		t.Error("an unsigned revision verified")
	}
	s.Verification = &engine.Verification{Key: "k", Algorithm: "HS256", KeyID: "k"}
	wantCode(t, "activating an unsigned revision when nodes verify", s.Activate(ctx, r1, "ada"), paywire.EINVALID)
	if rev, _ := db.ActiveBundleRevision(ctx); rev != 0 {
		t.Fatalf("active: %d", rev)
	}
}

// TestReject: compliance sends a submitted revision back with a reason;
// the author cannot, nor can a risk analyst; a rejected revision is never
// approved or activated, and the rejection is audited with its reason.
func TestReject(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		b, err := s.Push(ctx, defaultFiles(t), "ann", "raise the limit")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "reject a draft", s.Reject(ctx, b.Revision, "carl", "no"), paywire.ECONFLICT)
		if err := s.Submit(ctx, b.Revision, "ann"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "reject by the author", s.Reject(ctx, b.Revision, "ann", "changed my mind"), paywire.EFORBIDDEN)
		wantCode(t, "reject by a risk analyst", s.Reject(ctx, b.Revision, "bob", "no"), paywire.EFORBIDDEN)
		wantCode(t, "reject without a reason", s.Reject(ctx, b.Revision, "carl", " "), paywire.EINVALID)
		wantCode(t, "reject an unknown revision", s.Reject(ctx, 99, "carl", "no"), paywire.ENOTFOUND)
		if err := s.Reject(ctx, b.Revision, "carl", "the limit needs a risk sign-off"); err != nil {
			t.Fatal(err)
		}
		got, err := db.Bundle(ctx, b.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != paywire.BundleRejected || got.RejectedBy != "carl" || got.RejectReason != "the limit needs a risk sign-off" || got.RejectedAt.IsZero() {
			t.Fatalf("rejected: %+v", got)
		}
		wantCode(t, "approve a rejected revision", s.Approve(ctx, b.Revision, "carl"), paywire.ECONFLICT)
		wantCode(t, "activate a rejected revision", s.Activate(ctx, b.Revision, "ada"), paywire.ECONFLICT)
		wantCode(t, "reject twice", s.Reject(ctx, b.Revision, "carl", "again"), paywire.ECONFLICT)
		entries, err := db.AuditEntries(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if e := entries[0]; e.Action != "policy_bundle.reject" || e.Actor != "admin:carl" || !strings.Contains(string(e.Details), "risk sign-off") {
			t.Errorf("audit: %+v", e)
		}
	})
}
