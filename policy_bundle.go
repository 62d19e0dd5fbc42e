package paywire

import (
	"context"
	"time"
)

// BundleState is where a stored policy bundle is in its life cycle:
//
//	draft -> submitted -> approved -> active -> retired
//	             |                      ^          |
//	             v                      +----------+ (rollback)
//	          rejected
//
// A draft is pushed by its author; submitted, its tests passed and it can
// no longer change; approved by someone with the compliance role who is not
// its author; active on every node; retired when another revision became
// active. The zero state is not a state: it fails closed.
type BundleState string

// The bundle states.
const (
	BundleDraft     BundleState = "draft"
	BundleSubmitted BundleState = "submitted"
	BundleApproved  BundleState = "approved"
	BundleActive    BundleState = "active"
	BundleRetired   BundleState = "retired"
	BundleRejected  BundleState = "rejected"
)

// Valid reports whether s is one of the defined states.
func (s BundleState) Valid() bool {
	switch s {
	case BundleDraft, BundleSubmitted, BundleApproved, BundleActive, BundleRetired, BundleRejected:
		return true
	}
	return false
}

// PolicyBundle is one revision of the policy bundle as stored. Its archive
// and hash never change once stored; only the life-cycle fields do.
type PolicyBundle struct {
	// Revision is assigned by the store, increasing, never reused; the
	// archive's .manifest carries it as its revision (decimal).
	Revision int64
	// Hash is the SHA-256 content hash (hex) of the archive's files, as
	// the engine computes it: what nodes report they run.
	Hash string
	// Archive is the bundle as a .tar.gz, unsigned.
	Archive []byte
	// Signature is the .signatures.json written at approval when a
	// signing key is configured; empty otherwise. It covers every file of
	// the archive.
	Signature []byte
	Author    string // the back-office username that pushed it
	Message   string // what changed and why, from the author
	State     BundleState

	CreatedAt   time.Time
	SubmittedAt time.Time
	ApprovedBy  string
	ApprovedAt  time.Time
	// ActivatedBy and ActivatedAt are the revision's latest activation
	// (or rollback to it); zero when it was never active.
	ActivatedBy string
	ActivatedAt time.Time
	RetiredAt   time.Time // the latest time it stopped being active
	// RejectedBy, RejectedAt and RejectReason: who sent it back, when and
	// why; empty unless it is rejected.
	RejectedBy   string
	RejectedAt   time.Time
	RejectReason string
}

// BundleActivationKind says how a revision became active.
type BundleActivationKind string

// The ways a revision becomes active.
const (
	BundleActivate BundleActivationKind = "activate" // a newer approved revision
	BundleRollback BundleActivationKind = "rollback" // an earlier revision, again
)

// BundleActivation is one period during which a revision was the active
// one: compliance reads from these which rules decided at a given time.
type BundleActivation struct {
	Seq      int64 // increasing with every activation
	Revision int64
	Kind     BundleActivationKind
	By       string // the back-office username
	Reason   string // required for a rollback
	From     time.Time
	Until    time.Time // zero: still active
}

// BundleStore keeps the policy bundles and which one is active. Every
// change is made by compare-and-set on the revision's state, with its audit
// entry in the same transaction; callers check roles, the store checks the
// life cycle and the rules that do not depend on who asks.
type BundleStore interface {
	// CreateBundle stores a new draft. It takes the next revision, calls
	// pack with it for the archive and its hash (pack stamps the revision
	// into the manifest), and stores b as that revision with audit; b's
	// Revision, Hash, Archive, State and CreatedAt are filled. A revision
	// is taken even when pack or the insert fails: revisions are never
	// reused. Returns EINVALID without an author or when pack fails.
	CreateBundle(ctx context.Context, b *PolicyBundle, pack func(revision int64) (archive []byte, hash string, err error), audit *AuditEntry) error

	// Bundle returns a revision with its archive, or ENOTFOUND.
	Bundle(ctx context.Context, revision int64) (*PolicyBundle, error)

	// Bundles returns every revision without archives, newest first.
	Bundles(ctx context.Context) ([]PolicyBundle, error)

	// ActiveBundleRevision returns the active revision, 0 when none is.
	// It is cheap: every node polls it.
	ActiveBundleRevision(ctx context.Context) (int64, error)

	// SubmitBundle moves a draft to submitted. Returns ENOTFOUND for an
	// unknown revision, ECONFLICT when it is not a draft.
	SubmitBundle(ctx context.Context, revision int64, by string, audit *AuditEntry) error

	// ApproveBundle moves a submitted revision to approved by by, storing
	// signature (may be empty). Returns EFORBIDDEN when by is the author,
	// ECONFLICT when it is not submitted, ENOTFOUND for an unknown one.
	ApproveBundle(ctx context.Context, revision int64, by string, signature []byte, audit *AuditEntry) error

	// RejectBundle moves a submitted revision to rejected by by, with
	// reason. Returns EFORBIDDEN when by is the author, ECONFLICT when it
	// is not submitted, ENOTFOUND for an unknown one, EINVALID without a
	// reason.
	RejectBundle(ctx context.Context, revision int64, by, reason string, audit *AuditEntry) error

	// ActivateBundle makes a revision the only active one and retires the
	// one active before, recording the activation. With BundleActivate the
	// revision must be approved and newer than the active one; with
	// BundleRollback it must be older than the active one, have been
	// active before, and reason must say why. Returns ECONFLICT otherwise,
	// ENOTFOUND for an unknown revision.
	ActivateBundle(ctx context.Context, revision int64, kind BundleActivationKind, by, reason string, audit *AuditEntry) error

	// BundleActivations returns every activation, newest first.
	BundleActivations(ctx context.Context) ([]BundleActivation, error)
}
