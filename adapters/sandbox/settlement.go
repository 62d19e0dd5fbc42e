package sandbox

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// settlementHeader is the first line of a settlement report.
var settlementHeader = []string{"reference", "paymentId", "type", "amount", "currency", "bookedAt"}

// settlementTypes are the booking types a report may carry. "payout" is
// money sent to an end user by Pay; "fee" is accepted for reports written
// by hand.
var settlementTypes = map[string]bool{"capture": true, "refund": true, "chargeback": true, "fee": true, "payout": true}

// MaxSettlementReport is the largest report ParseSettlement reads.
const MaxSettlementReport = 32 << 20

// SettlementReport writes the instance's bookings (captures, refunds,
// chargebacks, payouts), made on any node, of the calendar day of day, in
// day's location, as CSV: a header line, then one line per booking in
// booking order with reference, paymentId, type, amount (a positive
// decimal in major units, "12.34"), currency (ISO 4217 code) and bookedAt
// (RFC 3339, UTC). Returns EUNAVAILABLE when the database fails.
func (a *Acquirer) SettlementReport(ctx context.Context, w io.Writer, day time.Time) error {
	const op = "sandbox/Acquirer.SettlementReport"
	y, m, d := day.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, day.Location())
	end := start.AddDate(0, 0, 1)
	rows, err := a.bookings(ctx, op, start, end)
	if err != nil {
		return err
	}
	lines := make([]adapters.SettlementLine, len(rows))
	for i, b := range rows {
		lines[i] = adapters.SettlementLine{Reference: b.Reference, PaymentID: b.PaymentID, Type: b.Type,
			Amount: moneyOf(b.Amount, b.Currency), BookedAt: b.BookedAt.UTC()}
	}
	return writeSettlement(w, lines)
}

func writeSettlement(w io.Writer, lines []adapters.SettlementLine) error {
	cw := csv.NewWriter(w)
	cw.Write(settlementHeader)
	for _, l := range lines {
		cw.Write([]string{l.Reference, l.PaymentID, l.Type, l.Amount.Decimal(), l.Amount.Currency.Code,
			l.BookedAt.UTC().Format(time.RFC3339)})
	}
	cw.Flush()
	return cw.Error()
}

// ParseSettlement reads a settlement report as SettlementReport writes it.
// Returns EINVALID, naming the line, for a missing header, a malformed line
// or a value out of range, and for a report larger than
// MaxSettlementReport.
func (a *Acquirer) ParseSettlement(r io.Reader) ([]adapters.SettlementLine, error) {
	const op = "sandbox/Acquirer.ParseSettlement"
	lr := &io.LimitedReader{R: r, N: MaxSettlementReport + 1}
	lines, err := parseSettlement(lr)
	if lr.N <= 0 {
		return nil, &paywire.Error{Code: paywire.EINVALID, Op: op,
			Message: fmt.Sprintf("the settlement report exceeds %d bytes", MaxSettlementReport)}
	}
	if err != nil {
		return nil, &paywire.Error{Code: paywire.EINVALID, Op: op, Message: "settlement report: " + err.Error()}
	}
	return lines, nil
}

func parseSettlement(r io.Reader) ([]adapters.SettlementLine, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted below, for a clearer message
	cr.ReuseRecord = true
	lines := []adapters.SettlementLine{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			if first {
				return nil, errors.New("line 1: the header is missing")
			}
			return lines, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("line %d: %v", pe.Line, pe.Err)
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first {
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			}
			if !slices.Equal(rec, settlementHeader) {
				return nil, fmt.Errorf("line %d: the header must be %s", line, strings.Join(settlementHeader, ","))
			}
			continue
		}
		l, err := settlementLine(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		lines = append(lines, l)
	}
}

func settlementLine(rec []string) (adapters.SettlementLine, error) {
	if len(rec) != len(settlementHeader) {
		return adapters.SettlementLine{}, fmt.Errorf("%d fields, want %d", len(rec), len(settlementHeader))
	}
	ref, pid, typ, amount, currency, booked := rec[0], rec[1], rec[2], rec[3], rec[4], rec[5]
	switch {
	case ref == "" || len(ref) > maxIDLen:
		return adapters.SettlementLine{}, fmt.Errorf("the reference must have 1 to %d characters", maxIDLen)
	case len(pid) > maxIDLen:
		return adapters.SettlementLine{}, fmt.Errorf("the payment id has more than %d characters", maxIDLen)
	case !settlementTypes[typ]:
		return adapters.SettlementLine{}, fmt.Errorf("unknown type %q", truncate(typ, 16))
	}
	m, err := paywire.ParseMoney(amount, currency)
	if err != nil {
		return adapters.SettlementLine{}, errors.New(paywire.ErrorMessage(err))
	}
	if m.Amount <= 0 {
		return adapters.SettlementLine{}, errors.New("the amount must be positive")
	}
	at, err := time.Parse(time.RFC3339, booked)
	if err != nil {
		return adapters.SettlementLine{}, fmt.Errorf("bookedAt %q is not an RFC 3339 time", truncate(booked, 40))
	}
	if at = at.UTC(); at.Year() < 1970 || at.Year() > 9999 {
		return adapters.SettlementLine{}, errors.New("bookedAt is out of range")
	}
	return adapters.SettlementLine{Reference: ref, PaymentID: pid, Type: typ, Amount: m, BookedAt: at}, nil
}
