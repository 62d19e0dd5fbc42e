package sandbox

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// The sandbox stands for a provider outside Paywire, so it keeps its own
// tables beside Paywire's, all named sandbox_*, shared by every instance
// (each row names its instance) and by every node on the database.

// record is what the sandbox keeps of one payment: never the card number
// or CVC, only its brand and last four digits.
type record struct {
	bun.BaseModel `bun:"table:sandbox_payments"`

	Seq       int64        `bun:"seq,pk,autoincrement"` // creation order
	Provider  string       `bun:"provider,notnull"`     // the instance's name
	Reference string       `bun:"reference,notnull,unique"`
	PaymentID string       `bun:"payment_id,notnull"`
	Kind      paywire.Kind `bun:"kind,notnull"`
	Method    string       `bun:"method,notnull"`
	Amount    int64        `bun:"amount,notnull"`
	Currency  string       `bun:"currency,notnull"`
	State     state        `bun:"state,notnull"`
	Code      string       `bun:"code,notnull"` // decline or failure reason
	Soft      bool         `bun:"soft,notnull"` // a decline of this acquirer only: another may approve

	Captured    int64 `bun:"captured,notnull"`
	Refunded    int64 `bun:"refunded,notnull"`
	ChargedBack int64 `bun:"charged_back,notnull"`
	Released    int64 `bun:"released,notnull"` // the rest of a partly captured authorization, given up by a void
	// Sale: the approval moved the whole amount at once (a paid bank
	// redirect, an e-wallet payment, a backend payment) rather than
	// reserving it.
	Sale bool `bun:"sale,notnull"`

	Brand     string    `bun:"brand,notnull"`
	Last4     string    `bun:"last4,notnull"`
	Behaviour behaviour `bun:"behaviour,notnull"` // the test card's, for payments on this credential
	Bank      string    `bun:"bank,notnull"`
	Wallet    string    `bun:"wallet,notnull"`
	Page      string    `bun:"page,notnull"` // "challenge", "bank" or "": the end user's page, if any
	ReturnURL string    `bun:"return_url,notnull"`
	Nonce     string    `bun:"nonce,notnull"` // the page's form token
	Created   time.Time `bun:"created_at,notnull"`
	// IdempotencyKey is the key of the Authorize or Pay call that created
	// the payment, so that Status finds a payment whose answer was lost.
	IdempotencyKey string `bun:"idempotency_key,notnull"`
	// DueAt is when an outcome told later (DueOutcome) happens; zero when
	// none is awaited. The record carries it, not a timer, so that a
	// restart loses nothing: whoever reads the record after DueAt brings
	// the outcome in.
	DueAt      time.Time `bun:"due_at,nullzero"`
	DueOutcome outcome   `bun:"due_outcome,notnull"`
}

// outcome is what happens to a pending payment when its time comes.
type outcome string

const (
	outcomeNone      outcome = ""
	outcomeAuthorize outcome = "authorize" // the funds are reserved
	outcomeCapture   outcome = "capture"   // the money moves
)

// money is the payment's amount.
func (r *record) money() paywire.Money { return moneyOf(r.Amount, r.Currency) }

// idemEntry is the answer to an idempotency key, or the claim of its first
// call while that runs.
type idemEntry struct {
	bun.BaseModel `bun:"table:sandbox_idempotency_keys"`

	Provider string `bun:"provider,pk"`
	Key      string `bun:"key,pk"`
	Request  string `bun:"request,notnull"` // SHA-256 of what the key was first used for
	Owner    string `bun:"owner,notnull"`   // the claim's token: a late first call leaves a taken-over claim alone
	// Result is the answer, stored in the transaction that did the work;
	// Done says the call has returned it (the timeout card's call runs on
	// after its work is done, and the key is in progress meanwhile).
	Result    string    `bun:"result,nullzero"`
	Done      bool      `bun:"done,notnull"`
	ClaimedAt time.Time `bun:"claimed_at,notnull"`
}

// booking is one movement of money, for the settlement report.
type booking struct {
	bun.BaseModel `bun:"table:sandbox_bookings"`

	Seq       int64     `bun:"seq,pk,autoincrement"` // booking order
	Provider  string    `bun:"provider,notnull"`
	Reference string    `bun:"reference,notnull"`
	PaymentID string    `bun:"payment_id,notnull"`
	Type      string    `bun:"type,notnull"` // capture, refund, chargeback, payout
	Amount    int64     `bun:"amount,notnull"`
	Currency  string    `bun:"currency,notnull"`
	BookedAt  time.Time `bun:"booked_at,notnull"`
}

// claimLease is how long a claimed idempotency key stays in progress
// without an answer. A call runs far shorter (the timeout card hangs at
// most hangFor); an older claim belongs to a process that stopped, and a
// retry takes it over.
const claimLease = hangFor + time.Minute

// Migrate creates the sandbox's tables and indexes in db where they are
// missing; it changes nothing that exists, so every node may run it at
// start. Call it once before using instances on db (Defaults does).
func Migrate(ctx context.Context, db *bun.DB) error {
	const op = "sandbox.Migrate"
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if db.Dialect().Name() == dialect.PG {
			// Two nodes starting at once would race on CREATE TABLE IF NOT
			// EXISTS; the second waits here and then finds the tables.
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('sandbox.Migrate'))"); err != nil {
				return err
			}
		}
		for _, m := range []any{(*record)(nil), (*idemEntry)(nil), (*booking)(nil)} {
			if _, err := tx.NewCreateTable().Model(m).IfNotExists().Exec(ctx); err != nil {
				return err
			}
		}
		indexes := []struct {
			model   any
			name    string
			columns []string
		}{
			{(*record)(nil), "sandbox_payments_payment_id", []string{"provider", "payment_id"}},
			{(*record)(nil), "sandbox_payments_idempotency_key", []string{"provider", "idempotency_key"}},
			{(*booking)(nil), "sandbox_bookings_booked_at", []string{"provider", "booked_at"}},
		}
		for _, ix := range indexes {
			if _, err := tx.NewCreateIndex().Model(ix.model).Index(ix.name).Column(ix.columns...).IfNotExists().Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Err: err,
			Message: "the sandbox's tables could not be created"}
	}
	return nil
}

// now is the time a transaction records: the provider's clock in UTC, to
// the microsecond, which both databases keep exactly.
func (a *Acquirer) now() time.Time { return a.cfg.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in one transaction of the instance's database, committed
// when fn returns nil. A *paywire.Error from fn comes back as it is; a
// database failure is EUNAVAILABLE, as a provider's would be to its
// callers.
func (a *Acquirer) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx bun.Tx) error) error {
	if a.db == nil {
		return &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Message: a.cfg.Name + " has no database configured"}
	}
	err := a.db.RunInTx(ctx, nil, fn)
	if err == nil {
		return nil
	}
	var pe *paywire.Error
	if errors.As(err, &pe) {
		if pe.Op == "" {
			pe.Op = op
		}
		return pe
	}
	msg := a.cfg.Name + " could not process the request"
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		msg = a.cfg.Name + " did not answer in time"
	}
	return &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Err: err, Message: msg}
}

// lookup names the payment a call is about.
type lookup struct {
	reference      string
	idempotencyKey string // of the call that created it
	paymentID      string // ours; alone, the latest payment of that id
}

// lock reads the payment l names and locks it for the rest of tx (FOR
// UPDATE on PostgreSQL; on SQLite the immediate transaction already holds
// the write lock), then brings in an outcome that has come due, so that
// every reader sees the payment as it stands now. It returns nil when the
// instance holds no such payment, or it belongs to another payment id.
func (a *Acquirer) lock(ctx context.Context, tx bun.Tx, l lookup, fx *after) (*record, error) {
	r := new(record)
	q := tx.NewSelect().Model(r).Where("provider = ?", a.cfg.Name)
	switch {
	case l.reference != "":
		q = q.Where("reference = ?", l.reference)
	case l.idempotencyKey != "":
		q = q.Where("idempotency_key = ?", l.idempotencyKey).OrderExpr("seq DESC").Limit(1)
	case l.paymentID != "":
		q = q.Where("payment_id = ?", l.paymentID).OrderExpr("seq DESC").Limit(1)
	default:
		return nil, nil
	}
	if a.db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	if l.paymentID != "" && r.PaymentID != l.paymentID {
		return nil, nil
	}
	if err := a.resolve(ctx, tx, r, fx); err != nil {
		return nil, err
	}
	return r, nil
}

// resolve brings in the outcome of a pending payment whose time has come,
// booking what moved and leaving its webhook to fx.
func (a *Acquirer) resolve(ctx context.Context, tx bun.Tx, r *record, fx *after) error {
	if r.State != statePending || r.DueOutcome == outcomeNone || a.now().Before(r.DueAt) {
		return nil
	}
	at := r.DueAt
	typ := adapters.EventAuthorized
	r.State = stateAuthorized
	if r.DueOutcome == outcomeCapture {
		typ = adapters.EventCaptured
		r.Captured, r.Sale = r.Amount, true
		if err := a.book(ctx, tx, r, bookingType(r.Kind), r.Amount, at); err != nil {
			return err
		}
	}
	r.DueAt, r.DueOutcome = time.Time{}, outcomeNone
	if err := a.save(ctx, tx, r); err != nil {
		return err
	}
	fx.event(a.eventAt(typ, r, r.Amount, at))
	fx.ended = append(fx.ended, r.Reference)
	a.log.InfoContext(ctx, "outcome", "payment_id", r.PaymentID, "reference", r.Reference, "event", typ)
	return nil
}

// bookingType is how money moved by a sale is booked: in for a deposit,
// out for a withdrawal.
func bookingType(k paywire.Kind) string {
	if k == paywire.KindWithdrawal {
		return "payout"
	}
	return "capture"
}

// insert stores a new payment.
func (a *Acquirer) insert(ctx context.Context, tx bun.Tx, r *record) error {
	_, err := tx.NewInsert().Model(r).Exec(ctx)
	return err
}

// save writes a changed payment back.
func (a *Acquirer) save(ctx context.Context, tx bun.Tx, r *record) error {
	_, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx)
	return err
}

// book records a movement of money for the settlement report.
func (a *Acquirer) book(ctx context.Context, tx bun.Tx, r *record, typ string, amount int64, at time.Time) error {
	_, err := tx.NewInsert().Model(&booking{Provider: a.cfg.Name, Reference: r.Reference, PaymentID: r.PaymentID,
		Type: typ, Amount: amount, Currency: r.Currency, BookedAt: at}).Exec(ctx)
	return err
}

// storedResult is a Result as an idempotency entry keeps it.
type storedResult struct {
	Status      adapters.Status `json:"status"`
	Reference   string          `json:"reference"`
	Code        string          `json:"code,omitempty"`
	Message     string          `json:"message,omitempty"`
	RedirectURL string          `json:"redirectUrl,omitempty"`
	Soft        bool            `json:"soft,omitempty"`
	Captured    bool            `json:"captured,omitempty"`
}

func encodeResult(r adapters.Result) string {
	b, _ := json.Marshal(storedResult(r)) // cannot fail: strings and bools
	return string(b)
}

func decodeResult(s string) (adapters.Result, error) {
	var r storedResult
	err := json.Unmarshal([]byte(s), &r)
	return adapters.Result(r), err
}

// fingerprint is what an idempotency entry keeps of a request.
func fingerprint(request string) string {
	sum := sha256.Sum256([]byte(request))
	return hex.EncodeToString(sum[:])
}

// claim takes an idempotency key for a call about to run, in a
// transaction of its own so that a second call with the key, on any node,
// sees the claim at once. It returns the stored answer when the key has
// one for the same request; EIDEMPOTENCY for another request; EINPROGRESS
// while the first call runs. A claim whose call stopped without doing its
// work (its node died) is taken over once its lease has run out; one whose
// work was done is answered from the stored result.
func (a *Acquirer) claim(ctx context.Context, op, key, request, owner string) (*adapters.Result, error) {
	var prior *adapters.Result
	err := a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) error {
		now := a.now()
		res, err := tx.NewInsert().Model(&idemEntry{Provider: a.cfg.Name, Key: key, Request: request, Owner: owner, ClaimedAt: now}).
			On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil // ours: run
		}
		var e idemEntry
		q := tx.NewSelect().Model(&e).Where("provider = ? AND key = ?", a.cfg.Name, key)
		if a.db.Dialect().Name() == dialect.PG {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				// Freed by its failed first call since the insert.
				return &paywire.Error{Code: paywire.EINPROGRESS, Message: "the first request with this idempotency key has just ended; retry"}
			}
			return err
		}
		lapsed := !now.Before(e.ClaimedAt.Add(claimLease))
		switch {
		case e.Request != request:
			return &paywire.Error{Code: paywire.EIDEMPOTENCY, Message: "the idempotency key was used for a different request"}
		case e.Result != "" && (e.Done || lapsed):
			r, err := decodeResult(e.Result)
			if err != nil {
				return err
			}
			prior = &r
			if !e.Done {
				_, err = tx.NewUpdate().Model((*idemEntry)(nil)).Set("done = ?", true).
					Where("provider = ? AND key = ?", a.cfg.Name, key).Exec(ctx)
			}
			return err
		case !lapsed:
			return &paywire.Error{Code: paywire.EINPROGRESS, Message: "the first request with this idempotency key is still being processed"}
		}
		_, err = tx.NewUpdate().Model((*idemEntry)(nil)).Set("owner = ?", owner).Set("claimed_at = ?", now).
			Where("provider = ? AND key = ? AND result IS NULL", a.cfg.Name, key).Exec(ctx)
		return err
	})
	return prior, err
}

// answer stores the result of a claimed key's call, in the transaction
// that did the work. A claim taken over meanwhile (the call outlived its
// lease) fails the call, and its work is rolled back.
func (a *Acquirer) answer(ctx context.Context, tx bun.Tx, key, owner string, res adapters.Result, done bool) error {
	r, err := tx.NewUpdate().Model((*idemEntry)(nil)).Set("result = ?", encodeResult(res)).Set("done = ?", done).
		Where("provider = ? AND key = ? AND owner = ?", a.cfg.Name, key, owner).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return &paywire.Error{Code: paywire.EINPROGRESS, Message: "the idempotency key was taken over by a later request"}
	}
	return nil
}

// unclaim frees a key whose call ended in an error before its work was
// done: an error is not an answer, so the call may be repeated.
func (a *Acquirer) unclaim(ctx context.Context, key, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := a.db.NewDelete().Model((*idemEntry)(nil)).
		Where("provider = ? AND key = ? AND owner = ? AND result IS NULL", a.cfg.Name, key, owner).Exec(ctx)
	if err != nil {
		// The claim lapses on its own after claimLease.
		a.log.WarnContext(ctx, "freeing an idempotency key", "error", err)
	}
}

// finish marks a key's answer as returned once its call ends.
func (a *Acquirer) finish(ctx context.Context, key, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := a.db.NewUpdate().Model((*idemEntry)(nil)).Set("done = ?", true).
		Where("provider = ? AND key = ? AND owner = ?", a.cfg.Name, key, owner).Exec(ctx)
	if err != nil {
		// The stored result answers the key once the claim lapses.
		a.log.WarnContext(ctx, "completing an idempotency key", "error", err)
	}
}

// bookings returns the instance's bookings in [start, end), in booking
// order.
func (a *Acquirer) bookings(ctx context.Context, op string, start, end time.Time) ([]booking, error) {
	var rows []booking
	err := a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewSelect().Model(&rows).
			Where("provider = ? AND booked_at >= ? AND booked_at < ?", a.cfg.Name, start.UTC(), end.UTC()).
			OrderExpr("booked_at, seq").Scan(ctx)
	})
	return rows, err
}

// moneyOf is an amount in the currency of that code; the code comes from
// a validated request, so an unknown one leaves the currency bare.
func moneyOf(minor int64, code string) paywire.Money {
	c, err := paywire.LookupCurrency(code)
	if err != nil {
		c = paywire.Currency{Code: code}
	}
	return paywire.Money{Amount: minor, Currency: c}
}
