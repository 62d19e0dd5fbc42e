package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

var _ paywire.FeatureStore = (*DB)(nil)

// Features implements paywire.FeatureStore.
//
// All known keys are read in one statement, one round trip: per key, the
// key's newest paywire.FeatureCap payments of the last 7 days (of the
// customer's whole history, which the count of paid payments reads), then
// each count an aggregate with a FILTER over them, and the key's first
// payment as a subquery that reads one entry of the key's index. Each read
// is a scan of the key's index of migration 0009, newest first, which
// holds every column read (an index-only scan) and stops at the cap: the
// work per key is bounded, however many payments an attacker makes with
// it. A key with as many payments read as the cap is capped (see
// paywire.KeyFeatures): its windows that hold all of them are lower bounds.
//
// The statement is sent with the driver's placeholders, not formatted by
// bun: its text then depends only on which keys are known (32 texts), so
// that the DB keeps it prepared (DB.prepare) on each connection, and
// PostgreSQL plans it once.
// Times are bound as each database keeps them: timestamptz on
// PostgreSQL, bun's UTC text on SQLite, where they compare as text.
func (db *DB) Features(ctx context.Context, q paywire.FeatureQuery) (paywire.Features, error) {
	const op = "store/DB.Features"
	var f paywire.Features
	query, args := featureQuery(db.dialect, q)
	if query == "" {
		return f, nil
	}
	var rows *sql.Rows
	stmt, err := db.prepare(ctx, query)
	if err == nil {
		rows, err = stmt.QueryContext(ctx, args...)
	}
	if err != nil {
		return f, classify(op, err, "")
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var kf paywire.KeyFeatures
		var first any
		var cards, paid, read int64
		var deposits sql.NullString
		dest := []any{&name}
		windows := []*paywire.Window{&kf.H1, &kf.H24, &kf.D7}
		for _, w := range windows {
			dest = append(dest, &w.Attempted, &w.Authorized, &w.Declined, &w.Blocked, &w.Amount)
		}
		dest = append(dest, &first, &cards, &paid, &deposits, &read)
		if err := rows.Scan(dest...); err != nil {
			return f, classify(op, err, "")
		}
		kf.Known = true
		// As many read as the cap: there may be more, older than the
		// oldest read. A window that holds it may miss them; one that
		// does not (fewer payments than the cap) holds everything newer.
		if kf.Capped = read >= paywire.FeatureCap; kf.Capped {
			for _, w := range windows {
				w.Capped = w.Attempted >= paywire.FeatureCap
			}
		}
		if kf.FirstSeen, err = scanTime(first); err != nil {
			return f, classify(op, err, "")
		}
		switch name {
		case "card":
			f.Card = kf
		case "email":
			f.Email, f.EmailCards24h = kf, cards
		case "ip":
			f.IP, f.IPCards24h = kf, cards
		case "customer":
			f.Customer, f.CustomerSuccessful = kf, paid
			if deposits.Valid {
				f.DepositMethods = strings.Split(deposits.String, ",")
				slices.Sort(f.DepositMethods) // SQLite's group_concat promises no order
			}
		case "device":
			f.Device = kf
		}
	}
	if err := rows.Err(); err != nil {
		return f, classify(op, err, "")
	}
	return f, nil
}

// featureQuery returns the statement of q's features, with its arguments:
// one part per known key; "" when no key is known.
func featureQuery(d Dialect, q paywire.FeatureQuery) (string, []any) {
	at := utc(q.At)
	s := featureStatement{dialect: d}
	// The parameters every part shares come first.
	pAt, p1h, p24h, p7d := s.time(at), s.time(at.Add(-time.Hour)), s.time(at.Add(-24*time.Hour)), s.time(at.Add(-7*24*time.Hour))
	pPayment, pCurrency := s.arg(q.PaymentID), s.arg(q.Currency)
	for _, k := range featureKeys {
		value := k.value(q)
		if value == "" {
			continue
		}
		key := k.column + " = " + s.arg(value) + " AND " + k.column + " <> ''"
		if k.merchant {
			key = "merchant_id = " + s.arg(q.MerchantID) + " AND " + key
		}
		mine := " AND created_at <= " + pAt + " AND id <> " + pPayment
		// The oldest entry of the key's index, read forwards: written as
		// ORDER BY ... LIMIT 1, since PostgreSQL's generic plan, which
		// expects one payment per key, may read a MIN() over the whole
		// history.
		firstSeen := "(SELECT created_at FROM payments WHERE " + key + mine + " ORDER BY created_at LIMIT 1)"
		columns := classified(pCurrency)
		cards, paid := "0", "0"
		if k.cards {
			columns += ", card_fingerprint"
			cards = "COUNT(DISTINCT card_fingerprint)" + filter("created_at > "+p24h, "card_fingerprint <> ''")
		}
		if k.merchant {
			// The newest of the whole history: the paid count reads it.
			paid = "COUNT(*)" + filter("paid")
			deposits := "NULL"
			if q.DepositMethods {
				deposits = depositMethods(d, key)
			}
			s.part(k.name, columns, key+mine, windowSums(p1h, p24h, "created_at > "+p7d), firstSeen, cards, paid, deposits)
			continue
		}
		s.part(k.name, columns, key+" AND created_at > "+p7d+mine, windowSums(p1h, p24h, ""), firstSeen, cards, paid, "NULL")
	}
	if len(s.parts) == 0 {
		return "", nil
	}
	return strings.Join(s.parts, "\nUNION ALL\n"), s.args
}

// featureKey is a key features are computed for.
type featureKey struct {
	name     string
	column   string
	value    func(paywire.FeatureQuery) string
	merchant bool // counted over the query's merchant's payments only
	cards    bool // with the distinct cards of the last 24 hours
}

var featureKeys = []featureKey{
	{name: "card", column: "card_fingerprint", value: func(q paywire.FeatureQuery) string { return q.CardFingerprint }},
	{name: "email", column: "end_user_email_key", value: func(q paywire.FeatureQuery) string { return paywire.EmailKey(q.Email) }, cards: true},
	{name: "ip", column: "end_user_ip", value: func(q paywire.FeatureQuery) string { return q.IP }, cards: true},
	{name: "customer", column: "end_user_id", value: func(q paywire.FeatureQuery) string { return q.CustomerID }, merchant: true},
	{name: "device", column: "end_user_device_id", value: func(q paywire.FeatureQuery) string { return q.DeviceID }},
}

// paidStates is paywire.PaidStates as an SQL list.
var paidStates = func() string {
	quoted := make([]string, len(paywire.PaidStates))
	for i, s := range paywire.PaidStates {
		quoted[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}()

// featureStatement builds the feature query: its parts and their
// parameters, numbered ($1, $2, ...: PostgreSQL's syntax, which SQLite
// reads too).
type featureStatement struct {
	dialect Dialect
	parts   []string
	args    []any
}

// arg binds v. On SQLite the parameter is written +$n, the same value:
// SQLite (built with STAT4) re-prepares a statement for every new binding
// of a bare parameter its planner compared with the statistics of an
// index, once ANALYZE has gathered them, which would undo keeping the
// statement prepared.
func (s *featureStatement) arg(v any) string {
	s.args = append(s.args, v)
	if s.dialect == SQLite {
		return fmt.Sprintf("+$%d", len(s.args))
	}
	return fmt.Sprintf("$%d", len(s.args))
}

// time binds t as the database compares it with the stored times.
func (s *featureStatement) time(t time.Time) string {
	if s.dialect == SQLite {
		return s.arg(t.Format(sqliteTime))
	}
	return s.arg(t)
}

// sqliteTime is how bun writes a UTC time to SQLite (and, with its offset,
// what compares as text in the order of time).
const sqliteTime = "2006-01-02 15:04:05.999999-07:00"

// part adds a key's part: the columns of its newest payments meeting
// where, at most paywire.FeatureCap of them (the key's index, read
// backwards), counted into its windows, first payment, distinct cards,
// paid count and deposit methods (the customer's, or NULL), and how many
// were read. The cap is written in the text, not
// bound, so that the planner knows it.
func (s *featureStatement) part(name, columns, where, windows, firstSeen, cards, paid, deposits string) {
	s.parts = append(s.parts, "SELECT '"+name+"', "+windows+", "+firstSeen+", "+cards+", "+paid+", "+deposits+", COUNT(*)"+
		" FROM (SELECT "+columns+" FROM payments WHERE "+where+
		" ORDER BY created_at DESC LIMIT "+strconv.Itoa(paywire.FeatureCap)+") AS newest")
}

// windowSums returns the counts of the three windows, each with the five
// of paywire.Window, over the rows of featureStatement.part; d7 is the
// condition of the 7-day window ("" when only its rows are read).
// PostgreSQL sums BIGINTs into NUMERIC: hence the CAST.
func windowSums(p1h, p24h, d7 string) string {
	var sums []string
	for _, window := range []string{"created_at > " + p1h, "created_at > " + p24h, d7} {
		for _, counted := range []string{"", "paid", "declined", "blocked"} {
			sums = append(sums, "COUNT(*)"+filter(window, counted))
		}
		sums = append(sums, "CAST(COALESCE(SUM(amount)"+filter(window)+", 0) AS BIGINT)")
	}
	return strings.Join(sums, ", ")
}

// classified are the columns of the payments a part reads, each payment
// classified once (not once per window): when, whether paid, declined (not
// by a risk block) or blocked by risk, and its amount if in the currency
// of pCurrency, else 0.
func classified(pCurrency string) string {
	return "created_at, state IN " + paidStates + " AS paid, " +
		"state IN ('" + string(paywire.StateRefused) + "', '" + string(paywire.StateFailed) + "') AND risk_action <> '" + string(paywire.RiskBlock) + "' AS declined, " +
		"risk_action = '" + string(paywire.RiskBlock) + "' AS blocked, " +
		"CASE WHEN currency = " + pCurrency + " THEN amount ELSE 0 END AS amount"
}

// depositMethods is the column of the customer's deposit methods (key
// selects the customer's payments with the merchant): those of the paid
// deposits, distinct, sorted, joined by commas (no method has one), or
// NULL when there are none — what DB.DepositMethods reads, over the whole
// history, not the newest payments only.
func depositMethods(d Dialect, key string) string {
	join := "string_agg(method, ',')"
	if d == SQLite {
		join = "group_concat(method, ',')"
	}
	return "(SELECT " + join + " FROM (SELECT DISTINCT method FROM payments WHERE " + key +
		" AND kind = '" + string(paywire.KindDeposit) + "' AND method <> '' AND state IN " + paidStates +
		" ORDER BY method) AS deposit_methods)"
}

// filter returns the FILTER clause of an aggregate over the rows meeting
// every condition given.
func filter(conditions ...string) string {
	var and []string
	for _, c := range conditions {
		if c != "" {
			and = append(and, c)
		}
	}
	if len(and) == 0 {
		return ""
	}
	return " FILTER (WHERE " + strings.Join(and, " AND ") + ")"
}

// scanTime reads a time a driver returns for an expression: time.Time from
// pgx, text in bun's format from SQLite, nil for none.
func scanTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return t.UTC(), nil
	case string:
		return parseSQLiteTime(t)
	case []byte:
		return parseSQLiteTime(string(t))
	}
	return time.Time{}, fmt.Errorf("unexpected time %T", v)
}

func parseSQLiteTime(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02 15:04:05.999999999-07:00", s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
