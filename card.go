package paywire

import (
	"log/slog"
	"strings"
)

// Card is a card as the end user typed it on the hosted pages. It exists in
// memory only, from the form to the provider adapter: it is never stored,
// logged or put in a decision record, and it prints as its brand and last
// four digits. Summary gives what may be kept.
type Card struct {
	Number      string // digits only
	CVC         string
	Holder      string
	ExpiryMonth int
	ExpiryYear  int // four digits
}

// String shows the card without its number or CVC.
func (c Card) String() string { return "card ending " + c.Last4() }

// GoString keeps %#v from printing the number.
func (c Card) GoString() string { return c.String() }

// LogValue keeps slog from printing the number.
func (c Card) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Last4 returns the last four digits, "" for a shorter number.
func (c Card) Last4() string {
	if len(c.Number) < 4 {
		return ""
	}
	return c.Number[len(c.Number)-4:]
}

// Brand tells the card's scheme from the number's leading digits: "visa",
// "mastercard", "amex", "discover" or "other".
func (c Card) Brand() string { return CardBrand(c.Number) }

// CardBrand tells a card number's scheme from its leading digits.
func CardBrand(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case digitsIn(number, 2, 51, 55), digitsIn(number, 4, 2221, 2720):
		return "mastercard"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case strings.HasPrefix(number, "6011"), strings.HasPrefix(number, "65"):
		return "discover"
	}
	return "other"
}

// digitsIn reports whether the first n characters of s are digits whose
// number lies within [lo, hi].
func digitsIn(s string, n, lo, hi int) bool {
	if len(s) < n {
		return false
	}
	v := 0
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v >= lo && v <= hi
}

// Luhn reports whether number is 12 to 19 digits with a valid Luhn check
// digit.
func Luhn(number string) bool {
	if len(number) < 12 || len(number) > 19 {
		return false
	}
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		c := number[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
