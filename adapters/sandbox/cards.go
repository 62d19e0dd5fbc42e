package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
)

// behaviour is what the sandbox does with a card. It is kept with the
// payment (never the number) so that a later payment on the same stored
// credential behaves alike.
type behaviour string

const (
	behaveOrdinary          behaviour = ""                   // approved subject to ApprovalRate
	behaveApprove           behaviour = "approve"            // always approved
	behaveDoNotHonor        behaviour = "do_not_honor"       // declined, do_not_honor
	behaveInsufficientFunds behaviour = "insufficient_funds" // declined, insufficient_funds
	behaveChallenge         behaviour = "challenge"          // 3-D Secure challenge page
	behaveProcessingError   behaviour = "processing_error"   // technical failure
	behaveTimeout           behaviour = "timeout"            // done, but the answer never arrives
	behavePendingWebhook    behaviour = "pending_webhook"    // pending, then an authorized webhook
	behaveSoftDecline       behaviour = "soft_decline"       // declined by this acquirer only (soft), acquirer_declined
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
	return "Card" // paywire.CardBrand's "other", or nothing known
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
