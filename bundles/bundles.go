// Package bundles is the governance of policy bundles: the use cases that
// push a bundle as a draft, submit it (its tests must pass), approve it
// (four eyes, the compliance role, signed with the configured key), activate
// it (the admin role, only newer revisions) and roll back to an earlier one,
// each audited in the transaction of its change; the checks a node makes
// before it runs a stored revision; and what changes between two revisions
// (diff.go). Transports and the CLI call it; it uses the store through
// paywire.BundleStore and compiles with the engine. It never evaluates
// decisions and never activates a bundle on a node itself.
package bundles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Users finds back-office users, whose roles decide what they may do.
type Users interface {
	AdminUserByName(ctx context.Context, username string) (*paywire.AdminUser, error)
}

// SigningKey signs bundles at approval, as `paywire policy build` signs
// them: a PEM private key or an HMAC secret, its algorithm and key id.
type SigningKey struct {
	Key, Algorithm, KeyID string
}

// Service carries out the bundle life cycle. Who asks is a back-office
// username; the service reads the user's roles on every call.
type Service struct {
	Store paywire.BundleStore
	Users Users
	// Shadows keeps the shadow setting and its results (shadow.go); nil:
	// shadowing is unavailable.
	Shadows paywire.ShadowStore
	// Signing, when set, signs every bundle approved.
	Signing *SigningKey
	// Verification, when set, is the key nodes verify with: an activation
	// or rollback of a revision that would not verify under it is refused,
	// so that nodes are never told to run what they will refuse.
	Verification *engine.Verification
}

// Actor is how a back-office user appears in the audit log.
func Actor(username string) string { return "admin:" + username }

// user returns the enabled user who asks, holding one of roles when any are
// named. EFORBIDDEN otherwise.
func (s *Service) user(ctx context.Context, op, username string, roles ...paywire.Role) (*paywire.AdminUser, error) {
	if username == "" {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "say who you are (a back-office username)"}
	}
	u, err := s.Users.AdminUserByName(ctx, username)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return nil, &paywire.Error{Op: op, Code: paywire.EFORBIDDEN, Message: fmt.Sprintf("%s is not a back-office user", username)}
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, &paywire.Error{Op: op, Code: paywire.EFORBIDDEN, Message: fmt.Sprintf("%s is disabled", username)}
	}
	if len(roles) > 0 && !u.Has(roles...) {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		return nil, &paywire.Error{Op: op, Code: paywire.EFORBIDDEN, Message: fmt.Sprintf("%s lacks the role this needs (%s)", username, strings.Join(names, " or "))}
	}
	return u, nil
}

func audit(action, by string, details map[string]any) (*paywire.AuditEntry, error) {
	d, err := json.Marshal(details)
	if err != nil {
		return nil, err
	}
	return &paywire.AuditEntry{Actor: Actor(by), Action: action, Details: d}, nil
}

// Push compiles files (the engine's error, with every problem, refuses
// them), stamps the revision the store assigns into the manifest and stores
// the bundle as a draft of author. A signature the files carry is dropped:
// it could not cover the stamped manifest, and bundles are signed at
// approval. Authors are users with the risk_analyst or admin role.
func (s *Service) Push(ctx context.Context, files engine.Files, author, message string) (*paywire.PolicyBundle, error) {
	const op = "bundles/Service.Push"
	if _, err := s.user(ctx, op, author, paywire.RoleRiskAnalyst, paywire.RoleAdmin); err != nil {
		return nil, err
	}
	if strings.TrimSpace(message) == "" {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "say what changed and why (a message)"}
	}
	unsigned := engine.Files{}
	for p, b := range files {
		if p != ".signatures.json" {
			unsigned[p] = b
		}
	}
	compiled, err := engine.Compile(ctx, unsigned)
	if err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: err.Error(), Err: err}
	}
	a, err := audit("policy_bundle.push", author, map[string]any{"message": message, "manifest_revision": compiled.Revision})
	if err != nil {
		return nil, err
	}
	b := &paywire.PolicyBundle{Author: author, Message: message}
	err = s.Store.CreateBundle(ctx, b, func(rev int64) ([]byte, string, error) {
		stamped, err := Stamp(unsigned, rev)
		if err != nil {
			return nil, "", err
		}
		var buf bytes.Buffer
		if err := stamped.WriteTarball(&buf); err != nil {
			return nil, "", err
		}
		// The audit entry names what was stored.
		d, err := json.Marshal(map[string]any{"revision": rev, "hash": stamped.Hash(), "message": message, "manifest_revision": compiled.Revision})
		if err != nil {
			return nil, "", err
		}
		a.Details = d
		return buf.Bytes(), stamped.Hash(), nil
	}, a)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Stamp returns files with the manifest's revision replaced by rev (in
// decimal), every other manifest field kept.
func Stamp(files engine.Files, rev int64) (engine.Files, error) {
	var manifest map[string]any
	if err := json.Unmarshal(files[".manifest"], &manifest); err != nil {
		return nil, fmt.Errorf(".manifest: %v", err)
	}
	manifest["revision"] = strconv.FormatInt(rev, 10)
	m, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	out := make(engine.Files, len(files))
	for p, b := range files {
		out[p] = b
	}
	out[".manifest"] = m
	return out, nil
}

// TestFailure is a bundle refused at submission because tests failed.
type TestFailure struct {
	Revision int64
	Failed   []engine.TestResult
	Total    int
}

func (f *TestFailure) Error() string {
	if f.Total == 0 {
		return fmt.Sprintf("revision %d has no tests: a bundle is submitted with its tests", f.Revision)
	}
	ss := make([]string, len(f.Failed))
	for i, r := range f.Failed {
		ss[i] = fmt.Sprintf("%s.%s (%s:%d): %s", r.Package, r.Name, r.File, r.Line, r.Error)
	}
	return fmt.Sprintf("revision %d: %d of %d tests failed: %s", f.Revision, len(f.Failed), f.Total, strings.Join(ss, "; "))
}

// Submit runs a draft's tests and, when all pass, submits it: from then on
// it is what will be approved and activated, unchanged. Only its author
// submits it. A failing test refuses it (EINVALID, each failure listed).
func (s *Service) Submit(ctx context.Context, rev int64, who string) error {
	const op = "bundles/Service.Submit"
	if _, err := s.user(ctx, op, who); err != nil {
		return err
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return err
	}
	if b.Author != who {
		return &paywire.Error{Op: op, Code: paywire.EFORBIDDEN, Message: fmt.Sprintf("revision %d is %s's draft: only its author submits it", rev, b.Author)}
	}
	if b.State != paywire.BundleDraft {
		return &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: fmt.Sprintf("revision %d is %s, not a draft", rev, b.State)}
	}
	files, _, err := Files(b)
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	compiled, err := engine.Compile(ctx, files)
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: err.Error(), Err: err}
	}
	results, err := compiled.RunTests(ctx)
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "running the tests: " + err.Error(), Err: err}
	}
	tf := &TestFailure{Revision: rev, Total: len(results)}
	for _, r := range results {
		if !r.Pass {
			tf.Failed = append(tf.Failed, r)
		}
	}
	if len(tf.Failed) > 0 || tf.Total == 0 {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: tf.Error(), Err: tf}
	}
	a, err := audit("policy_bundle.submit", who, map[string]any{"revision": rev, "hash": b.Hash, "tests_passed": len(results)})
	if err != nil {
		return err
	}
	return s.Store.SubmitBundle(ctx, rev, who, a)
}

// Approve approves a submitted revision: who holds the compliance role and
// is not its author (EFORBIDDEN otherwise). With a signing key the
// approval signs the revision's files.
func (s *Service) Approve(ctx context.Context, rev int64, who string) error {
	const op = "bundles/Service.Approve"
	if _, err := s.user(ctx, op, who, paywire.RoleCompliance); err != nil {
		return err
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return err
	}
	if b.Author == who {
		return &paywire.Error{Op: op, Code: paywire.EFORBIDDEN, Message: fmt.Sprintf("%s pushed revision %d and cannot approve it: someone else must (four eyes)", who, rev)}
	}
	if b.State != paywire.BundleSubmitted {
		return &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: fmt.Sprintf("revision %d is %s, not submitted", rev, b.State)}
	}
	var sig []byte
	details := map[string]any{"revision": rev, "hash": b.Hash, "author": b.Author, "signed": false}
	if s.Signing != nil {
		files, _, err := Files(b)
		if err != nil {
			return &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "internal error", Err: err}
		}
		signed, err := engine.Sign(files, s.Signing.Key, s.Signing.Algorithm, s.Signing.KeyID)
		if err != nil {
			return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "signing: " + err.Error(), Err: err}
		}
		sig = signed[".signatures.json"]
		details["signed"], details["key_id"], details["algorithm"] = true, s.Signing.KeyID, s.Signing.Algorithm
	}
	a, err := audit("policy_bundle.approve", who, details)
	if err != nil {
		return err
	}
	return s.Store.ApproveBundle(ctx, rev, who, sig, a)
}

// Reject sends a submitted revision back: who holds the compliance role,
// is not its author, and says why. It is final for the revision; the
// author pushes a corrected bundle as a new one.
func (s *Service) Reject(ctx context.Context, rev int64, who, reason string) error {
	const op = "bundles/Service.Reject"
	if _, err := s.user(ctx, op, who, paywire.RoleCompliance); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a rejection says why (a reason)"}
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return err
	}
	a, err := audit("policy_bundle.reject", who, map[string]any{"revision": rev, "hash": b.Hash, "author": b.Author, "reason": reason})
	if err != nil {
		return err
	}
	return s.Store.RejectBundle(ctx, rev, who, reason, a)
}

// Activate makes an approved revision newer than the active one active on
// every node; who holds the admin role. An older revision is refused: it
// comes back only through Rollback.
func (s *Service) Activate(ctx context.Context, rev int64, who string) error {
	return s.activate(ctx, "bundles/Service.Activate", rev, who, paywire.BundleActivate, "")
}

// Rollback makes an earlier revision, one that was active before, active
// again; who holds the admin role and says why.
func (s *Service) Rollback(ctx context.Context, rev int64, who, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return &paywire.Error{Op: "bundles/Service.Rollback", Code: paywire.EINVALID, Message: "a rollback needs its reason"}
	}
	return s.activate(ctx, "bundles/Service.Rollback", rev, who, paywire.BundleRollback, reason)
}

func (s *Service) activate(ctx context.Context, op string, rev int64, who string, kind paywire.BundleActivationKind, reason string) error {
	if _, err := s.user(ctx, op, who, paywire.RoleAdmin); err != nil {
		return err
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return err
	}
	// What every node will check before it runs the revision.
	if _, err := Compile(ctx, b, s.Verification); err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("nodes would refuse revision %d: %v", rev, err), Err: err}
	}
	active, err := s.Store.ActiveBundleRevision(ctx)
	if err != nil {
		return err
	}
	details := map[string]any{"revision": rev, "hash": b.Hash, "previous": active}
	if reason != "" {
		details["reason"] = reason
	}
	a, err := audit("policy_bundle."+string(kind), who, details)
	if err != nil {
		return err
	}
	return s.Store.ActivateBundle(ctx, rev, kind, who, reason, a)
}

// History is every revision and every activation, newest first.
type History struct {
	Bundles     []paywire.PolicyBundle
	Activations []paywire.BundleActivation
}

// History returns the revisions and activations, for anyone who may read
// the registry (the CLI; the back office's readers).
func (s *Service) History(ctx context.Context) (History, error) {
	bs, err := s.Store.Bundles(ctx)
	if err != nil {
		return History{}, err
	}
	as, err := s.Store.BundleActivations(ctx)
	if err != nil {
		return History{}, err
	}
	return History{Bundles: bs, Activations: as}, nil
}

// Files reads a stored revision: its files as stored (unsigned) and, when
// it was signed at approval, with its .signatures.json (signed is unsigned
// otherwise). It refuses an archive whose content hash is not the stored
// hash or whose manifest does not carry the stored revision: a row edited
// behind the store's back, or an old bundle slipped in under a new number.
func Files(b *paywire.PolicyBundle) (unsigned, signed engine.Files, err error) {
	unsigned, err = engine.ReadTarball(bytes.NewReader(b.Archive))
	if err != nil {
		return nil, nil, fmt.Errorf("revision %d: %v", b.Revision, err)
	}
	if _, ok := unsigned[".signatures.json"]; ok {
		return nil, nil, fmt.Errorf("revision %d: the stored archive carries a signature; signatures are stored apart", b.Revision)
	}
	if h := unsigned.Hash(); h != b.Hash {
		return nil, nil, fmt.Errorf("revision %d: the archive's content hash is %s, not the stored %s", b.Revision, h, b.Hash)
	}
	var manifest struct {
		Revision string `json:"revision"`
	}
	if err := json.Unmarshal(unsigned[".manifest"], &manifest); err != nil {
		return nil, nil, fmt.Errorf("revision %d: .manifest: %v", b.Revision, err)
	}
	if manifest.Revision != strconv.FormatInt(b.Revision, 10) {
		return nil, nil, fmt.Errorf("revision %d: the manifest says revision %q", b.Revision, manifest.Revision)
	}
	if len(b.Signature) == 0 {
		return unsigned, unsigned, nil
	}
	signed = make(engine.Files, len(unsigned)+1)
	for p, f := range unsigned {
		signed[p] = f
	}
	signed[".signatures.json"] = b.Signature
	return unsigned, signed, nil
}

// Compile checks a stored revision as a node does before running it (see
// Files) and compiles it; with v, its signature must verify under v.
func Compile(ctx context.Context, b *paywire.PolicyBundle, v *engine.Verification) (*engine.Bundle, error) {
	unsigned, signed, err := Files(b)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return engine.Compile(ctx, unsigned)
	}
	if len(b.Signature) == 0 {
		return nil, fmt.Errorf("revision %d is not signed, and bundles must be signed with key %s", b.Revision, v.KeyID)
	}
	return engine.CompileVerified(ctx, signed, v)
}

// Revision returns a stored revision and its files as nodes would run
// them (see Files: the content hash and manifest are checked), for anyone
// who may read the registry.
func (s *Service) Revision(ctx context.Context, rev int64) (*paywire.PolicyBundle, engine.Files, error) {
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return nil, nil, err
	}
	_, signed, err := Files(b)
	if err != nil {
		return nil, nil, &paywire.Error{Op: "bundles/Service.Revision", Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	return b, signed, nil
}
