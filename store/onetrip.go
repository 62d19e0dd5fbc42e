package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paywire/paywire"
)

// A payment's creation writes five to seven rows, a state change three to
// six; sent one statement at a time inside BEGIN and COMMIT, that is five
// to nine round trips to PostgreSQL, each a wake-up of the server and of
// this process. On PostgreSQL a change is sent instead as one
// simple-protocol query of several statements, which PostgreSQL runs as
// one transaction: all of it commits, or none of it (any error, a taken
// merchant reference or idempotency key included, rolls it all back). The
// checks the transaction makes between statements (the compare-and-set
// found the payment, the follow-up was pending, the provider event was
// new) are made in the query (paywire_expect_one). The statements are
// bun's, as the transaction would send them.

// The checks a one-trip change makes in the query (paywire_expect_one,
// migration 0027), by the name its error carries.
const (
	checkPayment       = "payment"
	checkFollowUp      = "follow_up"
	checkProviderEvent = "provider_event"
	expectOneCode      = "PW409"
)

// expectOne is a statement that runs q, which must return one row per row
// it touched, and fails the query unless it touched exactly one.
func expectOne(q, check string) string {
	return "WITH touched AS (" + q + ") SELECT paywire_expect_one((SELECT count(*) FROM touched), '" + check + "')"
}

// oneTrip returns the statements of a change written in one round trip:
// first, for a new payment (create) its insert, else the compare-and-set
// of c.Payment if any; then the rows that commit with it, as writeWith
// writes them. It also returns the indexes of the statements that return
// the new follow-ups' ids, in the change's order. ok is false when the
// change writes something that needs an answer read before the next
// statement — an audit entry, which chains on the previous one's hash, or
// an approval — and then the transaction writes it.
func (db *DB) oneTrip(c *paywire.StateChange, create bool, now time.Time) (stmts []string, followUps []int, ok bool, err error) {
	if c.Audit != nil || c.Approval != nil {
		return nil, nil, false, nil
	}
	b := db.bun
	switch p := c.Payment; {
	case create:
		stmts = append(stmts, b.NewInsert().Model(toPaymentRow(p)).String())
	case p != nil:
		stmts = append(stmts, expectOne(paymentUpdate(b, c).Returning("1").String(), checkPayment))
	}
	if len(c.Decisions) > 0 {
		rows, err := decisionRows(c.Decisions, now)
		if err != nil {
			return nil, nil, false, err
		}
		stmts = append(stmts, b.NewInsert().Model(&rows).String())
	}
	if ev := c.Event; ev != nil {
		stmts = append(stmts, b.NewInsert().Model(toEventRow(ev)).String())
	}
	if n := c.Notification; n != nil {
		stmts = append(stmts, b.NewInsert().Model(toOutboxRow(n)).String())
	}
	if c.DoneFollowUp != 0 {
		stmts = append(stmts, expectOne(followUpDone(b, c.DoneFollowUp, now).Returning("1").String(), checkFollowUp))
	}
	if len(c.MootFollowUps) > 0 && c.Payment != nil {
		stmts = append(stmts, followUpsMoot(b, c.Payment.ID, c.MootFollowUps, c.DoneFollowUp, now).String())
	}
	for i := range c.FollowUps {
		followUps = append(followUps, len(stmts))
		stmts = append(stmts, b.NewInsert().Model(toFollowUpRow(&c.FollowUps[i], now)).Returning("id").String())
	}
	for i := range c.Attempts {
		stmts = append(stmts, attemptUpsert(b, toAttemptRow(&c.Attempts[i], now)).String())
	}
	if e := c.ProviderEvent; e != nil {
		stmts = append(stmts, expectOne(providerEventSeen(b, e, now).Returning("1").String(), checkProviderEvent))
	}
	if r := c.Idempotency; r != nil {
		stmts = append(stmts, idempotencyInsert(b, r, now).String())
	}
	return stmts, followUps, true, nil
}

// oneTripError is what a one-trip query's failed check means, as the
// transaction's writer says it; other errors are returned as they are.
func (db *DB) oneTripError(ctx context.Context, c *paywire.StateChange, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != expectOneCode {
		return err
	}
	switch pgErr.Message {
	case checkPayment:
		return paymentMissed(ctx, db.bun, c)
	case checkFollowUp:
		return paywire.Errorf(paywire.ECONFLICT, "the follow-up was carried out meanwhile")
	case checkProviderEvent:
		return paywire.Errorf(paywire.ECONFLICT, "the provider event was applied meanwhile")
	}
	return err
}

// applyInOneTrip writes a change to an existing payment in one round trip
// when oneTrip can; done is false when it cannot, and nothing was written.
func (db *DB) applyInOneTrip(ctx context.Context, c paywire.StateChange) (done bool, err error) {
	now := db.now()
	stmts, fu, ok, err := db.oneTrip(&c, false, now)
	if err != nil || !ok {
		return false, err
	}
	if len(stmts) == 0 {
		return true, nil // a change that writes nothing
	}
	ids, err := db.execOneTrip(ctx, stmts, fu)
	if err != nil {
		return true, db.oneTripError(ctx, &c, err)
	}
	return true, learnFollowUps(c.FollowUps, ids, now)
}

// learnFollowUps tells the caller the new follow-ups' ids, as the
// transaction's writer does (the change's slice is the caller's).
func learnFollowUps(fus []paywire.FollowUp, ids []string, now time.Time) error {
	for i, text := range ids {
		id, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return err
		}
		f := &fus[i]
		f.ID, f.Status, f.CreatedAt = id, paywire.FollowUpPending, now
	}
	return nil
}

// execOneTrip sends stmts as one query and returns the first column of
// the one row each statement of rowsOf returns.
func (db *DB) execOneTrip(ctx context.Context, stmts []string, rowsOf []int) ([]string, error) {
	conn, err := db.bun.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var values []string
	err = conn.Raw(func(dc any) error {
		results, err := dc.(*stdlib.Conn).Conn().PgConn().Exec(ctx, strings.Join(stmts, ";\n")).ReadAll()
		if err != nil {
			return err
		}
		for _, i := range rowsOf {
			if i >= len(results) || len(results[i].Rows) != 1 || len(results[i].Rows[0]) == 0 {
				return paywire.Errorf(paywire.EINTERNAL, "statement %d returned no row", i)
			}
			values = append(values, string(results[i].Rows[0][0]))
		}
		return nil
	})
	return values, err
}

// createInOneTrip writes a creation in one round trip when oneTrip can;
// done is false when it cannot, and nothing was written.
func (db *DB) createInOneTrip(ctx context.Context, c paywire.StateChange) (done bool, err error) {
	now := db.now()
	stmts, fu, ok, err := db.oneTrip(&c, true, now)
	if err != nil || !ok {
		return false, err
	}
	ids, err := db.execOneTrip(ctx, stmts, fu)
	if err != nil {
		return true, err
	}
	return true, learnFollowUps(c.FollowUps, ids, now)
}
