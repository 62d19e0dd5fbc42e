package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paywire/paywire"
)

var _ paywire.BundleStore = (*DB)(nil)

type policyRegistryRow struct {
	bun.BaseModel `bun:"table:policy_registry"`

	ID             int   `bun:"id,pk"`
	LastRevision   int64 `bun:"last_revision"`
	ActiveRevision int64 `bun:"active_revision"`
	Activations    int64 `bun:"activations"`
}

type policyBundleRow struct {
	bun.BaseModel `bun:"table:policy_bundles"`

	Revision    int64     `bun:"revision,pk"`
	Hash        string    `bun:"hash"`
	Archive     []byte    `bun:"archive"`
	Signature   []byte    `bun:"signature"`
	Author      string    `bun:"author"`
	Message     string    `bun:"message"`
	State       string    `bun:"state"`
	CreatedAt   time.Time `bun:"created_at"`
	SubmittedAt time.Time `bun:"submitted_at,nullzero"`
	ApprovedBy  string    `bun:"approved_by"`
	ApprovedAt  time.Time `bun:"approved_at,nullzero"`
	ActivatedBy string    `bun:"activated_by"`
	ActivatedAt time.Time `bun:"activated_at,nullzero"`
	RetiredAt   time.Time `bun:"retired_at,nullzero"`
	RejectedBy  string    `bun:"rejected_by"`
	RejectedAt  time.Time `bun:"rejected_at,nullzero"`
	RejectWhy   string    `bun:"reject_reason"`
}

func (r *policyBundleRow) bundle() paywire.PolicyBundle {
	return paywire.PolicyBundle{
		Revision: r.Revision, Hash: r.Hash, Archive: r.Archive, Signature: r.Signature, Author: r.Author, Message: r.Message,
		State: paywire.BundleState(r.State), CreatedAt: r.CreatedAt.UTC(), SubmittedAt: utcOrZero(r.SubmittedAt),
		ApprovedBy: r.ApprovedBy, ApprovedAt: utcOrZero(r.ApprovedAt),
		ActivatedBy: r.ActivatedBy, ActivatedAt: utcOrZero(r.ActivatedAt), RetiredAt: utcOrZero(r.RetiredAt),
		RejectedBy: r.RejectedBy, RejectedAt: utcOrZero(r.RejectedAt), RejectReason: r.RejectWhy,
	}
}

type bundleActivationRow struct {
	bun.BaseModel `bun:"table:policy_bundle_activations"`

	Seq         int64     `bun:"seq,pk"`
	Revision    int64     `bun:"revision"`
	Kind        string    `bun:"kind"`
	Actor       string    `bun:"actor"`
	Reason      string    `bun:"reason"`
	ActiveFrom  time.Time `bun:"active_from"`
	ActiveUntil time.Time `bun:"active_until,nullzero"`
}

// maxBundleMessage bounds a bundle's message.
const maxBundleMessage = 2000

// lockRegistry reads the registry's one row, locked on PostgreSQL to the
// end of tx (SQLite's writing transactions are serial already).
func lockRegistry(ctx context.Context, tx bun.Tx) (*policyRegistryRow, error) {
	reg := new(policyRegistryRow)
	q := tx.NewSelect().Model(reg).Where("id = 1")
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	return reg, q.Scan(ctx)
}

func bundleTarget(rev int64) string { return "policy_bundle:" + strconv.FormatInt(rev, 10) }

// bundleAudit appends audit, targeted at the revision unless it names a
// target, in tx.
func bundleAudit(ctx context.Context, tx bun.Tx, now time.Time, rev int64, audit *paywire.AuditEntry) error {
	if audit == nil {
		return paywire.Errorf(paywire.EINVALID, "a change of a policy bundle needs its audit entry")
	}
	if audit.Target == "" {
		audit.Target = bundleTarget(rev)
	}
	return appendAudit(ctx, tx, now, audit)
}

// CreateBundle implements paywire.BundleStore. The revision is taken in a
// transaction of its own, so that it is never handed out twice nor reused
// when the bundle's own transaction fails.
func (db *DB) CreateBundle(ctx context.Context, b *paywire.PolicyBundle, pack func(revision int64) ([]byte, string, error), audit *paywire.AuditEntry) error {
	const op = "store/DB.CreateBundle"
	switch {
	case b.Author == "" || !auditText(b.Author):
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a bundle needs its author"}
	case !auditText(b.Message) || len(b.Message) > maxBundleMessage:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("a bundle's message is text of at most %d bytes", maxBundleMessage)}
	case audit == nil:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a new bundle needs its audit entry"}
	}
	var rev int64
	err := db.inTx(ctx, func(tx bun.Tx) error {
		return tx.NewRaw("UPDATE policy_registry SET last_revision = last_revision + 1 WHERE id = 1 RETURNING last_revision").Scan(ctx, &rev)
	})
	if err != nil {
		return classify(op, err, "")
	}
	archive, hash, err := pack(rev)
	if err != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: err.Error(), Err: err}
	}
	if len(archive) == 0 || len(hash) != 64 {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a bundle needs its archive and its SHA-256 hash"}
	}
	now := db.now()
	row := &policyBundleRow{Revision: rev, Hash: hash, Archive: archive, Author: b.Author, Message: b.Message,
		State: string(paywire.BundleDraft), CreatedAt: now}
	err = db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		if audit.Details == nil {
			d, err := json.Marshal(map[string]any{"revision": rev, "hash": hash, "author": b.Author, "message": b.Message, "state": row.State})
			if err != nil {
				return err
			}
			audit.Details = d
		}
		return bundleAudit(ctx, tx, now, rev, audit)
	})
	if err != nil {
		return classify(op, err, "the revision exists already")
	}
	*b = row.bundle()
	return nil
}

// Bundle implements paywire.BundleStore.
func (db *DB) Bundle(ctx context.Context, revision int64) (*paywire.PolicyBundle, error) {
	row := new(policyBundleRow)
	if err := db.bun.NewSelect().Model(row).Where("revision = ?", revision).Scan(ctx); err != nil {
		return nil, notFound("store/DB.Bundle", err, fmt.Sprintf("there is no policy bundle revision %d", revision))
	}
	b := row.bundle()
	return &b, nil
}

// Bundles implements paywire.BundleStore.
func (db *DB) Bundles(ctx context.Context) ([]paywire.PolicyBundle, error) {
	var rows []policyBundleRow
	err := db.bun.NewSelect().Model(&rows).ExcludeColumn("archive").Order("revision DESC").Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.Bundles", err, "")
	}
	out := make([]paywire.PolicyBundle, len(rows))
	for i := range rows {
		out[i] = rows[i].bundle()
	}
	return out, nil
}

// ActiveBundleRevision implements paywire.BundleStore.
func (db *DB) ActiveBundleRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := db.bun.NewSelect().Table("policy_registry").Column("active_revision").Where("id = 1").Scan(ctx, &rev)
	return rev, classify("store/DB.ActiveBundleRevision", err, "")
}

// moveBundle changes a revision's state from from by compare-and-set,
// setting the columns set names, in tx. It tells an unknown revision
// (ENOTFOUND) from one in another state (ECONFLICT).
func moveBundle(ctx context.Context, tx bun.Tx, rev int64, from, to paywire.BundleState, set map[string]any) error {
	q := tx.NewUpdate().Table("policy_bundles").Set("state = ?", string(to)).Where("revision = ? AND state = ?", rev, string(from))
	for col, v := range set {
		q = q.Set("? = ?", bun.Ident(col), v)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var state string
	if err := tx.NewSelect().Table("policy_bundles").Column("state").Where("revision = ?", rev).Scan(ctx, &state); err != nil {
		return paywire.Errorf(paywire.ENOTFOUND, "there is no policy bundle revision %d", rev)
	}
	return paywire.Errorf(paywire.ECONFLICT, "revision %d is %s, not %s", rev, state, from)
}

// SubmitBundle implements paywire.BundleStore.
func (db *DB) SubmitBundle(ctx context.Context, revision int64, by string, audit *paywire.AuditEntry) error {
	const op = "store/DB.SubmitBundle"
	if by == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a submission needs who submits"}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if err := moveBundle(ctx, tx, revision, paywire.BundleDraft, paywire.BundleSubmitted, map[string]any{"submitted_at": now}); err != nil {
			return err
		}
		return bundleAudit(ctx, tx, now, revision, audit)
	})
	return classify(op, err, "")
}

// ApproveBundle implements paywire.BundleStore. Four eyes are checked here
// too (and by the schema), whatever the caller checked.
func (db *DB) ApproveBundle(ctx context.Context, revision int64, by string, signature []byte, audit *paywire.AuditEntry) error {
	const op = "store/DB.ApproveBundle"
	if by == "" {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "an approval needs who approves"}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		var author string
		if err := tx.NewSelect().Table("policy_bundles").Column("author").Where("revision = ?", revision).Scan(ctx, &author); err != nil {
			return err
		}
		if author == by {
			return paywire.Errorf(paywire.EFORBIDDEN, "%s pushed revision %d and cannot approve it: someone else must (four eyes)", by, revision)
		}
		set := map[string]any{"approved_by": by, "approved_at": now}
		if len(signature) > 0 {
			set["signature"] = signature
		}
		if err := moveBundle(ctx, tx, revision, paywire.BundleSubmitted, paywire.BundleApproved, set); err != nil {
			return err
		}
		return bundleAudit(ctx, tx, now, revision, audit)
	})
	return notFound(op, err, fmt.Sprintf("there is no policy bundle revision %d", revision))
}

// RejectBundle implements paywire.BundleStore.
func (db *DB) RejectBundle(ctx context.Context, revision int64, by, reason string, audit *paywire.AuditEntry) error {
	const op = "store/DB.RejectBundle"
	switch {
	case by == "":
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a rejection needs who rejects"}
	case strings.TrimSpace(reason) == "":
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a rejection needs its reason"}
	case !auditText(reason) || len(reason) > maxBundleMessage:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("a reason is text of at most %d bytes", maxBundleMessage)}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		var author string
		if err := tx.NewSelect().Table("policy_bundles").Column("author").Where("revision = ?", revision).Scan(ctx, &author); err != nil {
			return err
		}
		if author == by {
			return paywire.Errorf(paywire.EFORBIDDEN, "%s pushed revision %d and cannot reject it: a reviewer does", by, revision)
		}
		set := map[string]any{"rejected_by": by, "rejected_at": now, "reject_reason": reason}
		if err := moveBundle(ctx, tx, revision, paywire.BundleSubmitted, paywire.BundleRejected, set); err != nil {
			return err
		}
		return bundleAudit(ctx, tx, now, revision, audit)
	})
	return notFound(op, err, fmt.Sprintf("there is no policy bundle revision %d", revision))
}

// ActivateBundle implements paywire.BundleStore. The registry row is locked
// first, so that two activations are serial on every node; the revision
// active before is retired and its activation period closed in the same
// transaction.
func (db *DB) ActivateBundle(ctx context.Context, revision int64, kind paywire.BundleActivationKind, by, reason string, audit *paywire.AuditEntry) error {
	const op = "store/DB.ActivateBundle"
	switch {
	case by == "":
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "an activation needs who activates"}
	case kind != paywire.BundleActivate && kind != paywire.BundleRollback:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "an activation is an activate or a rollback"}
	case kind == paywire.BundleRollback && reason == "":
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a rollback needs its reason"}
	case !auditText(reason) || len(reason) > maxBundleMessage:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("a reason is text of at most %d bytes", maxBundleMessage)}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		reg, err := lockRegistry(ctx, tx)
		if err != nil {
			return err
		}
		row := new(policyBundleRow)
		if err := tx.NewSelect().Model(row).ExcludeColumn("archive", "signature").Where("revision = ?", revision).Scan(ctx); err != nil {
			return err
		}
		active := reg.ActiveRevision
		var from paywire.BundleState
		switch kind {
		case paywire.BundleActivate:
			if row.State != string(paywire.BundleApproved) {
				return paywire.Errorf(paywire.ECONFLICT, "revision %d is %s: only an approved revision can be activated", revision, row.State)
			}
			if revision <= active {
				return paywire.Errorf(paywire.ECONFLICT, "revision %d is not newer than the active revision %d: an older revision comes back only by an explicit rollback", revision, active)
			}
			from = paywire.BundleApproved
		case paywire.BundleRollback:
			if active == 0 || revision >= active {
				return paywire.Errorf(paywire.ECONFLICT, "a rollback goes to a revision older than the active one (active: %d)", active)
			}
			if row.State != string(paywire.BundleRetired) || row.ActivatedAt.IsZero() {
				return paywire.Errorf(paywire.ECONFLICT, "revision %d is %s and was never active: a rollback goes back to a revision that was active before", revision, row.State)
			}
			from = paywire.BundleRetired
		}
		if active != 0 {
			if err := moveBundle(ctx, tx, active, paywire.BundleActive, paywire.BundleRetired, map[string]any{"retired_at": now}); err != nil {
				return err
			}
			if _, err := tx.NewUpdate().Table("policy_bundle_activations").Set("active_until = ?", now).
				Where("revision = ? AND active_until IS NULL", active).Exec(ctx); err != nil {
				return err
			}
		}
		if err := moveBundle(ctx, tx, revision, from, paywire.BundleActive, map[string]any{"activated_by": by, "activated_at": now}); err != nil {
			return err
		}
		seq := reg.Activations + 1
		if _, err := tx.NewInsert().Model(&bundleActivationRow{Seq: seq, Revision: revision, Kind: string(kind), Actor: by, Reason: reason, ActiveFrom: now}).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Table("policy_registry").Set("active_revision = ?", revision).Set("activations = ?", seq).
			Where("id = 1 AND activations = ?", reg.Activations).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return paywire.Errorf(paywire.ECONFLICT, "another activation happened meanwhile: look at the history and try again")
		}
		if err := stopShadowOfActivated(ctx, tx, now, revision, by); err != nil { // shadow.go
			return err
		}
		return bundleAudit(ctx, tx, now, revision, audit)
	})
	return notFound(op, classify(op, err, "another revision became active meanwhile: look at the history and try again"), fmt.Sprintf("there is no policy bundle revision %d", revision))
}

// BundleActivations implements paywire.BundleStore.
func (db *DB) BundleActivations(ctx context.Context) ([]paywire.BundleActivation, error) {
	var rows []bundleActivationRow
	if err := db.bun.NewSelect().Model(&rows).Order("seq DESC").Scan(ctx); err != nil {
		return nil, classify("store/DB.BundleActivations", err, "")
	}
	out := make([]paywire.BundleActivation, len(rows))
	for i, r := range rows {
		out[i] = paywire.BundleActivation{Seq: r.Seq, Revision: r.Revision, Kind: paywire.BundleActivationKind(r.Kind), By: r.Actor,
			Reason: r.Reason, From: r.ActiveFrom.UTC(), Until: utcOrZero(r.ActiveUntil)}
	}
	return out, nil
}
