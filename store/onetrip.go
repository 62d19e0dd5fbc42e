package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paywire/paywire"
)

// A payment's creation writes five to seven rows; sent one statement at a
// time inside BEGIN and COMMIT, that is eight or more round trips to
// PostgreSQL, each a wake-up of the server and of this process. On
// PostgreSQL a creation whose rows need no answer in between is sent
// instead as one simple-protocol query of several statements, which
// PostgreSQL runs as one transaction: all of it commits, or none of it
// (any error, a taken merchant reference or idempotency key included,
// rolls it all back). The statements are bun's, as the transaction would
// send them.

// oneTrip returns the statements of a creation written in one round trip,
// and the indexes of the statements that return the new follow-ups' ids,
// in the change's order; ok is false when the change writes something that needs
// an answer before the next statement (an audit entry, which chains on
// the previous one's hash; an approval; a follow-up carried out; a
// provider event marked seen), and then the transaction writes it.
func (db *DB) oneTrip(p *paywire.Payment, c *paywire.StateChange, now time.Time) (stmts []string, followUps []int, ok bool, err error) {
	if c.Audit != nil || c.Approval != nil || c.DoneFollowUp != 0 || c.ProviderEvent != nil {
		return nil, nil, false, nil
	}
	b := db.bun
	stmts = append(stmts, b.NewInsert().Model(toPaymentRow(p)).String())
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
	for i := range c.FollowUps {
		followUps = append(followUps, len(stmts))
		stmts = append(stmts, b.NewInsert().Model(toFollowUpRow(&c.FollowUps[i], now)).Returning("id").String())
	}
	for i := range c.Attempts {
		stmts = append(stmts, attemptUpsert(b, toAttemptRow(&c.Attempts[i], now)).String())
	}
	if r := c.Idempotency; r != nil {
		stmts = append(stmts, idempotencyInsert(b, r, now).String())
	}
	return stmts, followUps, true, nil
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
	stmts, fu, ok, err := db.oneTrip(c.Payment, &c, now)
	if err != nil || !ok {
		return false, err
	}
	ids, err := db.execOneTrip(ctx, stmts, fu)
	if err != nil {
		return true, err
	}
	// The caller learns the follow-ups' ids, as from the transaction.
	for i, text := range ids {
		id, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return true, err
		}
		f := &c.FollowUps[i]
		f.ID, f.Status, f.CreatedAt = id, paywire.FollowUpPending, now
	}
	return true, nil
}
