package paywire

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// PaymentFilter selects payments for the back office's payment list. Every
// field left zero selects everything; the fields that are set must all
// hold (AND).
type PaymentFilter struct {
	// MerchantID limits the list to one merchant's payments; "" lists
	// every merchant's, which only an operator may ask for.
	MerchantID string
	// States lists the states a payment may be in; empty for any.
	States []State
	Method Method
	// Provider is the provider of the payment's current attempt.
	Provider string
	// CreatedFrom and CreatedTo bound the creation time: CreatedFrom <=
	// created < CreatedTo; a zero bound is open.
	CreatedFrom, CreatedTo time.Time
	// Currency (ISO 4217) limits the list to payments in it; it is
	// required with an amount bound, since amounts of different
	// currencies do not compare.
	Currency string
	// AmountMin and AmountMax bound the amount asked for, in minor units
	// of Currency, both inclusive; 0 is open.
	AmountMin, AmountMax int64
	// Search is matched exactly against a payment id, a merchant
	// reference, an end user's e-mail address (ignoring case and
	// surrounding spaces) and, when it is four digits, the card's last
	// four digits. A payment matching any of them is listed.
	Search string
}

// Limits of a payment search.
const (
	MaxSearchPage   = 200 // payments per page
	maxSearchText   = 256
	maxCursorLength = 512
)

// Validate checks the filter. Returns EINVALID with the first problem.
func (f *PaymentFilter) Validate() error {
	for _, s := range f.States {
		if !s.Valid() {
			return Errorf(EINVALID, "state %q is not a payment state", truncate(string(s), 32))
		}
	}
	switch {
	case len(f.MerchantID) > 128:
		return Errorf(EINVALID, "merchant id is longer than 128 characters")
	case f.Method != "" && !f.Method.Valid():
		return Errorf(EINVALID, "method %q is not a payment method", truncate(string(f.Method), 32))
	case len(f.Provider) > 64:
		return Errorf(EINVALID, "provider is longer than 64 characters")
	case !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo):
		return Errorf(EINVALID, "the creation period must end after it starts")
	case f.AmountMin < 0 || f.AmountMax < 0:
		return Errorf(EINVALID, "amount bounds cannot be negative")
	case f.AmountMax != 0 && f.AmountMin > f.AmountMax:
		return Errorf(EINVALID, "the minimum amount is above the maximum")
	case (f.AmountMin != 0 || f.AmountMax != 0) && f.Currency == "":
		return Errorf(EINVALID, "an amount range needs a currency")
	case len(f.Search) > maxSearchText:
		return Errorf(EINVALID, "search text is longer than %d characters", maxSearchText)
	}
	if f.Currency != "" {
		if _, err := LookupCurrency(f.Currency); err != nil {
			return Errorf(EINVALID, "currency %q is not an ISO 4217 code", truncate(f.Currency, 8))
		}
	}
	return nil
}

// PaymentSearch is what a filter's search text is compared with; a field
// left empty matches nothing.
type PaymentSearch struct {
	ID                string // a payment id
	MerchantReference string
	EmailKey          string // as EmailKey compares addresses; empty unless the text has an @
	CardLast4         string // empty unless the text is four digits
}

// Terms returns what the filter's search text is compared with; ok is
// false when the filter has no search text.
func (f *PaymentFilter) Terms() (s PaymentSearch, ok bool) {
	text := strings.TrimSpace(f.Search)
	if text == "" {
		return s, false
	}
	s.ID, s.MerchantReference = text, text
	if strings.Contains(text, "@") {
		s.EmailKey = EmailKey(text)
	}
	if len(text) == 4 && strings.Trim(text, "0123456789") == "" {
		s.CardLast4 = text
	}
	return s, true
}

// PageCursor marks where a page of a payment search ended; the next page
// starts after it. It is opaque to callers: pass back what a search
// returned, unchanged, with the same filter. The empty cursor is the first
// page.
type PageCursor string

// cursorVersion is the first byte of an encoded cursor.
const cursorVersion = 1

// Cursor returns the cursor of the page that ends with the payment created
// at createdAt with the given id: the next page lists payments older than
// it ((created_at, id) below it, newest first). The cursor carries a
// checksum of the position and the filter, so that a cursor that was
// altered, cut or used with another filter is refused instead of listing
// an arbitrary page. The checksum is no secret: which payments a search
// may list is decided by the filter alone.
func (f *PaymentFilter) Cursor(createdAt time.Time, id string) PageCursor {
	b := make([]byte, 0, 1+8+len(id)+8)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(createdAt.UnixMicro()))
	b = append(b, id...)
	b = append(b, f.checksum(b)...)
	return PageCursor(base64.RawURLEncoding.EncodeToString(b))
}

// Position decodes a cursor returned by Cursor with the same filter: the
// creation time and id of the last payment of the previous page. Returns
// EINVALID for a cursor that Cursor did not make for this filter.
func (f *PaymentFilter) Position(c PageCursor) (createdAt time.Time, id string, err error) {
	bad := Errorf(EINVALID, "the page cursor is not valid for this search; start from the first page")
	if len(c) > maxCursorLength {
		return time.Time{}, "", bad
	}
	b, derr := base64.RawURLEncoding.Strict().DecodeString(string(c))
	if derr != nil || len(b) < 1+8+1+8 || b[0] != cursorVersion {
		return time.Time{}, "", bad
	}
	body, sum := b[:len(b)-8], b[len(b)-8:]
	if string(f.checksum(body)) != string(sum) {
		return time.Time{}, "", bad
	}
	micros := int64(binary.BigEndian.Uint64(body[1:9]))
	return time.UnixMicro(micros).UTC(), string(body[9:]), nil
}

// checksum returns 8 bytes of a hash of the filter and body.
func (f *PaymentFilter) checksum(body []byte) []byte {
	h := sha256.New()
	states := make([]string, len(f.States))
	for i, s := range f.States {
		states[i] = string(s)
	}
	slices.Sort(states)
	// Fields are separated by a byte no field can hold unescaped (NUL):
	// two filters never share a text.
	for _, s := range []string{
		f.MerchantID, strings.Join(states, ","), string(f.Method), f.Provider,
		timeKey(f.CreatedFrom), timeKey(f.CreatedTo), f.Currency,
		string(binary.BigEndian.AppendUint64(nil, uint64(f.AmountMin))),
		string(binary.BigEndian.AppendUint64(nil, uint64(f.AmountMax))),
		strings.TrimSpace(f.Search),
	} {
		h.Write([]byte(strings.ReplaceAll(s, "\x00", "\x00\x00")))
		h.Write([]byte{0, 1})
	}
	h.Write(body)
	return h.Sum(nil)[:8]
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ReportGrouping says what one row of a payment report stands for.
type ReportGrouping string

// Report groupings. The zero grouping is invalid.
const (
	GroupByDay      ReportGrouping = "day"      // the UTC day of creation, "2006-01-02"
	GroupByMethod   ReportGrouping = "method"   // the payment method; "" before one was chosen
	GroupByProvider ReportGrouping = "provider" // the provider of the current attempt; "" before routing
	// GroupByArm groups by the routing experiment and arm of the payment's
	// latest routing decision; both "" for a payment never routed or
	// routed outside an experiment.
	GroupByArm ReportGrouping = "arm"
)

// MaxReportPeriod is the longest period one report covers.
const MaxReportPeriod = 366 * 24 * time.Hour

// ReportRequest asks for a payment report.
type ReportRequest struct {
	// From and To bound the creation time of the payments counted:
	// From <= created < To. Both are required.
	From, To time.Time
	// MerchantID limits the report to one merchant; "" reports every
	// merchant, which only an operator may ask for.
	MerchantID string
	GroupBy    ReportGrouping
}

// Validate checks the request. Returns EINVALID with the first problem.
func (r *ReportRequest) Validate() error {
	if err := checkPeriod("a report", r.From, r.To, r.MerchantID); err != nil {
		return err
	}
	switch r.GroupBy {
	case GroupByDay, GroupByMethod, GroupByProvider, GroupByArm:
		return nil
	}
	return Errorf(EINVALID, "a report is grouped by day, method, provider or arm")
}

// checkPeriod checks the period and merchant of what (a report, results):
// both ends set, in order, at most MaxReportPeriod, a merchant id of at
// most 128 bytes. Returns EINVALID with the first problem.
func checkPeriod(what string, from, to time.Time, merchantID string) error {
	switch {
	case from.IsZero() || to.IsZero():
		return Errorf(EINVALID, "%s needs the start and end of its period", what)
	case !from.Before(to):
		return Errorf(EINVALID, "the period of %s must end after it starts", what)
	case to.Sub(from) > MaxReportPeriod:
		return Errorf(EINVALID, "%s covers at most 366 days", what)
	case len(merchantID) > 128:
		return Errorf(EINVALID, "merchant id is longer than 128 characters")
	}
	return nil
}

// ReportRow counts the payments of one group in one currency.
//
// Every payment created in the period counts as an attempt, whatever its
// state, final or not: created, pending and review payments too. A payment
// is approved when it is in a paid state (State.Paid: authorized,
// completed, partially refunded, refunded or charged back), so refunds and
// chargebacks after approval do not lower the rate. Amounts are the
// amounts asked for (for authorized payments, the amount authorized), in
// minor units of Currency; captures and refunds are not netted.
type ReportRow struct {
	// Group is the group's key: the day ("2006-01-02", UTC), the method,
	// the provider, or for GroupByArm "experiment/arm" ("" when not in an
	// experiment).
	Group string
	// Experiment and Arm are set with GroupByArm.
	Experiment, Arm string
	Currency        string
	Payments        int64 // payments created in the period
	Approved        int64 // of which in a paid state
	// ApprovalRate is Approved/Payments in basis points (10000 = all),
	// rounded down.
	ApprovalRate   int64
	Amount         int64 // sum of all the payments' amounts
	ApprovedAmount int64 // sum of the approved payments' amounts
	// AverageAmount is Amount/Payments, rounded half up.
	AverageAmount int64
}

// Complete fills the rate and the average from the counts and sums.
func (r *ReportRow) Complete() {
	if r.Payments <= 0 {
		r.ApprovalRate, r.AverageAmount = 0, 0
		return
	}
	r.ApprovalRate = r.Approved * 10000 / r.Payments
	r.AverageAmount = (r.Amount + r.Payments/2) / r.Payments
}
