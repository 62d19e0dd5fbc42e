package payment

import (
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Checkout is what the hosted pages show for a redirect token.
type Checkout struct {
	Token             string
	PaymentID         string
	MerchantID        string
	MerchantName      string
	MerchantReference string
	Kind              paywire.Kind
	Amount            paywire.Money
	// Language is the end user's language as the merchant gave it ("" when
	// it gave none): the pages use it, then Accept-Language.
	Language string
	// Methods are the methods to offer, in order; one when the merchant
	// preselected it.
	Methods     []engine.MethodOption
	Preselected string
	ExpiresAt   time.Time
	// State is the payment's state: anything but created means the token
	// was used, and the pages show the outcome instead of a form.
	State paywire.State
	// ReturnOrigins are the scheme://host[:port] of the merchant's return
	// URLs, which the pages' Content-Security-Policy admits as form targets
	// (a form's redirect to them is a form action).
	ReturnOrigins []string
}

// Details are what the end user entered for the chosen method.
type Details struct {
	Method paywire.Method
	Card   *paywire.Card // card: in memory only
	Bank   string        // bank_redirect: the bank's id from Banks
	Wallet string        // ewallet: the wallet account, an e-mail address
	IP     string        // the end user's address, for risk
}

// Bank is a bank a bank redirect may go to.
type Bank struct {
	ID   string
	Name string
}

// Banks are the banks offered for bank redirects.
var Banks = []Bank{
	{"sandbox-bank", "Sandbox Bank"},
	{"demo-sparkasse", "Demo Sparkasse"},
	{"example-credit-union", "Example Credit Union"},
}

// FieldError is one entered value refused, with a stable reason the pages
// translate: "required", "luhn", "length", "expired", "format", "unknown".
type FieldError struct {
	Field  string // "card.number", "card.expiry", "card.cvc", "card.holder", "bank", "wallet", "method"
	Reason string
}

// DetailsError is the refusal of entered details: code EINVALID, with one
// FieldError per refused field.
type DetailsError struct {
	Fields []FieldError
}

func (e *DetailsError) Error() string { return "the payment details are not valid" }

// Unwrap gives the error its code for paywire.ErrorCode.
func (e *DetailsError) Unwrap() error {
	return paywire.Errorf(paywire.EINVALID, "the payment details are not valid")
}

// Outcome is where the end user goes after an action on the hosted pages.
type Outcome struct {
	PaymentID string
	State     paywire.State
	// RedirectURL is the next page: the provider's (3-D Secure challenge,
	// bank login) or the merchant's page for the state, with signed result
	// parameters. Empty while the payment is pending without a page to go
	// to: the pages show "processing" and ask again.
	RedirectURL string
	// ToMerchant is true when RedirectURL is the merchant's page.
	ToMerchant bool
}
