package paywire

import (
	"math"
	"strconv"
	"strings"
)

// Money is an amount in the minor units of a currency: 12.34 EUR is
// Money{Amount: 1234, Currency: EUR}. Never a float. The zero Money has no
// currency and is not a valid amount.
type Money struct {
	Amount   int64
	Currency Currency
}

// NewMoney returns minor units of the currency with the given code.
func NewMoney(minor int64, code string) (Money, error) {
	c, err := LookupCurrency(code)
	if err != nil {
		return Money{}, err
	}
	if !c.Payable() {
		return Money{}, Errorf(EINVALID, "%s has no minor unit and cannot carry an amount", c.Code)
	}
	return Money{Amount: minor, Currency: c}, nil
}

// maxDecimalLen bounds the text ParseMoney looks at; int64 has 19 digits, so
// anything much longer is refused before any work is done.
const maxDecimalLen = 40

// ParseMoney parses a decimal string in major units ("12.34") for the
// currency with the given code. It accepts an optional leading '-', digits,
// and at most one '.', followed by no more digits than the currency's
// exponent, zeros included: "12.3" EUR is 1230, "12.340" EUR is refused,
// and JPY takes no fraction ("5.0" JPY is refused). Exponent notation,
// '+', spaces and group separators are refused. Returns EINVALID for malformed input or an amount that does
// not fit in int64.
func ParseMoney(s, code string) (Money, error) {
	c, err := LookupCurrency(code)
	if err != nil {
		return Money{}, err
	}
	if !c.Payable() {
		return Money{}, Errorf(EINVALID, "%s has no minor unit and cannot carry an amount", c.Code)
	}
	if len(s) > maxDecimalLen {
		return Money{}, Errorf(EINVALID, "amount %q is too long", truncate(s, 16))
	}
	bad := func(why string) (Money, error) {
		return Money{}, Errorf(EINVALID, "amount %q: %s", s, why)
	}
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	whole, frac, hasPoint := strings.Cut(digits, ".")
	if whole == "" || (hasPoint && frac == "") {
		return bad("not a decimal number")
	}
	if !allDigits(whole) || !allDigits(frac) {
		return bad("not a decimal number")
	}
	// Even zeros past the exponent are refused: a client that sends them
	// computes amounts at a precision the currency does not have.
	if len(frac) > c.Exponent {
		if c.Exponent == 0 {
			return bad(c.Code + " has no minor unit")
		}
		return bad(c.Code + " allows at most " + strconv.Itoa(c.Exponent) + " decimal places")
	}
	frac += strings.Repeat("0", c.Exponent-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return bad("out of range")
	}
	if neg {
		n = -n
	}
	return Money{Amount: n, Currency: c}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal formats the amount in major units with exactly the currency's
// exponent of decimal places: "12.34", "100" for JPY, "-0.05".
func (m Money) Decimal() string {
	exp := max(m.Currency.Exponent, 0)
	neg := m.Amount < 0
	// Work on the unsigned magnitude so that math.MinInt64 formats correctly.
	u := uint64(m.Amount)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// String formats the money as "12.34 EUR".
func (m Money) String() string { return m.Decimal() + " " + m.Currency.Code }

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Amount == 0 }

// Add returns m + o. Returns EINVALID for mixed currencies and for a result
// that does not fit in int64.
func (m Money) Add(o Money) (Money, error) {
	if err := m.sameCurrency(o); err != nil {
		return Money{}, err
	}
	if (o.Amount > 0 && m.Amount > math.MaxInt64-o.Amount) ||
		(o.Amount < 0 && m.Amount < math.MinInt64-o.Amount) {
		return Money{}, Errorf(EINVALID, "%s + %s overflows", m, o)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Sub returns m - o, with the same refusals as Add.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.sameCurrency(o); err != nil {
		return Money{}, err
	}
	if (o.Amount < 0 && m.Amount > math.MaxInt64+o.Amount) ||
		(o.Amount > 0 && m.Amount < math.MinInt64+o.Amount) {
		return Money{}, Errorf(EINVALID, "%s - %s overflows", m, o)
	}
	return Money{Amount: m.Amount - o.Amount, Currency: m.Currency}, nil
}

// Cmp compares m and o: -1, 0 or +1. Returns EINVALID for mixed currencies.
func (m Money) Cmp(o Money) (int, error) {
	if err := m.sameCurrency(o); err != nil {
		return 0, err
	}
	switch {
	case m.Amount < o.Amount:
		return -1, nil
	case m.Amount > o.Amount:
		return 1, nil
	}
	return 0, nil
}

func (m Money) sameCurrency(o Money) error {
	if m.Currency.Code == "" || o.Currency.Code == "" {
		return Errorf(EINVALID, "money without a currency")
	}
	if m.Currency.Code != o.Currency.Code {
		return Errorf(EINVALID, "cannot combine %s with %s", m.Currency.Code, o.Currency.Code)
	}
	return nil
}
