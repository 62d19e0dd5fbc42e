package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

// SearchPayments returns up to limit (1..paywire.MaxSearchPage) payments
// that match f, newest first (by creation time, then id), starting after
// the cursor (the empty cursor: the first page), and the cursor of the
// next page ("" on the last page). Pages are read by keyset on
// (created_at, id), never by offset: page 50 costs what page 1 costs, and
// a payment created meanwhile neither repeats nor hides a row of the later
// pages.
//
// Only the back office calls it; f.MerchantID "" reads every merchant's
// payments, so a caller acting for a merchant must set it. Returns
// EINVALID for an invalid filter or limit, or a cursor that was not
// returned for this filter.
func (db *DB) SearchPayments(ctx context.Context, f paywire.PaymentFilter, after paywire.PageCursor, limit int) ([]*paywire.Payment, paywire.PageCursor, error) {
	const op = "store/DB.SearchPayments"
	if limit < 1 || limit > paywire.MaxSearchPage {
		return nil, "", &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a page holds 1 to 200 payments"}
	}
	if err := f.Validate(); err != nil {
		return nil, "", classify(op, err, "")
	}
	var rows []paymentRow
	q := db.bun.NewSelect().Model(&rows)
	if f.MerchantID != "" {
		q = q.Where("merchant_id = ?", f.MerchantID)
	}
	if len(f.States) == 1 {
		q = q.Where("state = ?", string(f.States[0]))
	} else if len(f.States) > 1 {
		q = q.Where("state IN (?)", bun.In(f.States))
	}
	if f.Method != "" {
		q = q.Where("method = ?", string(f.Method))
	}
	if f.Provider != "" {
		q = q.Where("provider = ?", f.Provider)
	}
	if !f.CreatedFrom.IsZero() {
		q = q.Where("created_at >= ?", db.timeArg(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		q = q.Where("created_at < ?", db.timeArg(f.CreatedTo))
	}
	if f.Currency != "" {
		q = q.Where("currency = ?", f.Currency)
	}
	if f.AmountMin > 0 {
		q = q.Where("amount >= ?", f.AmountMin)
	}
	if f.AmountMax > 0 {
		q = q.Where("amount <= ?", f.AmountMax)
	}
	if s, ok := f.Terms(); ok {
		// Each kind of match is one indexed lookup (the primary key, the
		// reference, e-mail and last-4 indexes); the partial indexes'
		// conditions are repeated so that SQLite sees they apply.
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.WhereOr("id = ?", s.ID).WhereOr("merchant_reference = ?", s.MerchantReference)
			if s.EmailKey != "" {
				q = q.WhereOr("(end_user_email_key = ? AND end_user_email_key <> '')", s.EmailKey)
			}
			if s.CardLast4 != "" {
				q = q.WhereOr("(card_last4 = ? AND card_last4 <> '')", s.CardLast4)
			}
			return q
		})
	}
	if after != "" {
		at, id, err := f.Position(after)
		if err != nil {
			return nil, "", classify(op, err, "")
		}
		q = q.Where("(created_at, id) < (?, ?)", db.timeArg(at), id)
	}
	// One row more than asked tells whether there is a next page.
	q = q.OrderExpr("created_at DESC, id DESC").Limit(int64(limit + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, "", classify(op, err, "")
	}
	var next paywire.PageCursor
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next = f.Cursor(last.CreatedAt, last.ID)
	}
	out := make([]*paywire.Payment, 0, len(rows))
	for i := range rows {
		p, err := rows[i].payment()
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	return out, next, nil
}

// timeArg returns t as the database compares it with stored times: on
// SQLite, the text bun writes for a UTC time, which orders as the times do.
func (db *DB) timeArg(t time.Time) any {
	t = utc(t)
	if db.dialect == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}
