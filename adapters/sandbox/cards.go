package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
)

// behaviour is what the sandbox does with a card.
type behaviour int

const (
	behaveOrdinary          behaviour = iota // approved subject to ApprovalRate
	behaveApprove                            // always approved
	behaveDoNotHonor                         // declined, do_not_honor
	behaveInsufficientFunds                  // declined, insufficient_funds
	behaveChallenge                          // 3-D Secure challenge page
	behaveProcessingError                    // technical failure
	behaveTimeout                            // no answer
	behavePendingWebhook                     // pending, then an authorized webhook
	behaveSoftDecline                        // declined by this acquirer only (soft), acquirer_declined
)

// testCards maps the test card numbers to what they do; docs/sandbox.md
// lists them for people.
var testCards = map[string]behaviour{
	"4242424242424242": behaveApprove,
	"5555555555554444": behaveApprove,
	"4000000000000002": behaveDoNotHonor,
	"4000000000009995": behaveInsufficientFunds,
	"4000000000003220": behaveChallenge,
	"4000000000000119": behaveProcessingError,
	"4000000000000010": behaveTimeout,
	"4000000000000077": behavePendingWebhook,
	"4000000000000366": behaveSoftDecline,
}

// luhnValid reports whether number is 12 to 19 digits with a valid Luhn
// check digit.
func luhnValid(number string) bool {
	if len(number) < 12 || len(number) > 19 {
		return false
	}
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		c := number[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// brand names the card scheme from the number's leading digits.
func brand(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case hasRange(number, 2, 51, 55), hasRange(number, 4, 2221, 2720):
		return "mastercard"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case strings.HasPrefix(number, "6011"), strings.HasPrefix(number, "65"):
		return "discover"
	}
	return "card"
}

// hasRange reports whether the first n digits of number, as a number, are
// within [lo, hi].
func hasRange(number string, n, lo, hi int) bool {
	if len(number) < n {
		return false
	}
	v := 0
	for i := 0; i < n; i++ {
		v = v*10 + int(number[i]-'0')
	}
	return v >= lo && v <= hi
}

// brandLabel is a brand as people write it.
func brandLabel(b string) string {
	switch b {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "discover":
		return "Discover"
	}
	return "Card"
}

// approves tells, from a hash of the payment id, whether an ordinary
// payment falls within the approval rate: the same id always gets the same
// answer.
func approves(paymentID string, rate float64) bool {
	if rate >= 1 {
		return true
	}
	if rate <= 0 {
		return false
	}
	sum := sha256.Sum256([]byte(paymentID))
	x := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53) // uniform in [0, 1)
	return x < rate
}

// bankName turns a bank id from the hosted pages ("demo-sparkasse") into
// the name the login page shows ("Demo Sparkasse").
func bankName(id string) string {
	words := strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' || r == ' ' })
	for i, w := range words {
		first, size := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(first)) + w[size:]
	}
	if len(words) == 0 {
		return "Your bank"
	}
	return strings.Join(words, " ")
}
