package portal

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// The payment methods the pages have a details form for.
const (
	methodCard   = string(paywire.MethodCard)
	methodBank   = string(paywire.MethodBankRedirect)
	methodWallet = string(paywire.MethodEWallet)
)

// Form field names of the details forms.
const (
	formCardNumber  = "card_number"
	formCardMonth   = "card_expiry_month"
	formCardYear    = "card_expiry_year"
	formCardCVC     = "card_cvc"
	formCardHolder  = "card_holder"
	formBank        = "bank"
	formWallet      = "wallet"
	maxNumberLength = 32 // typed characters, spaces included; longer is refused before any work
)

// Field reasons, as payment.FieldError carries them.
const (
	reasonRequired = "required"
	reasonFormat   = "format"
	reasonLength   = "length"
)

// kept is what a refused form shows again. It has no place for the card
// number or the security code: those are typed again, never echoed.
type kept struct {
	Month, Year, Holder string
	Bank, Wallet        string
}

// parseDetails reads the details form of method. It checks only what it
// must to build payment.Details — that the card number is digits and
// spaces, that the expiry is a month and a year — and leaves every other
// judgement (Luhn, lengths, expiry, known banks) to the payment use case.
// The card is set for the card method only; its number has no spaces.
func parseDetails(method string, form url.Values) (payment.Details, kept, []payment.FieldError) {
	d := payment.Details{Method: paywire.Method(method)}
	var k kept
	var errs []payment.FieldError
	switch method {
	case methodCard:
		c := &paywire.Card{
			CVC:    strings.TrimSpace(form.Get(formCardCVC)),
			Holder: strings.TrimSpace(form.Get(formCardHolder)),
		}
		k.Holder = c.Holder
		number, reason := cardNumber(form.Get(formCardNumber))
		if reason != "" {
			errs = append(errs, payment.FieldError{Field: "card.number", Reason: reason})
		}
		c.Number = number
		k.Month = strings.TrimSpace(form.Get(formCardMonth))
		k.Year = strings.TrimSpace(form.Get(formCardYear))
		month, year, reason := cardExpiry(k.Month, k.Year)
		if reason != "" {
			errs = append(errs, payment.FieldError{Field: "card.expiry", Reason: reason})
		}
		c.ExpiryMonth, c.ExpiryYear = month, year
		d.Card = c
	case methodBank:
		d.Bank = strings.TrimSpace(form.Get(formBank))
		k.Bank = d.Bank
	case methodWallet:
		d.Wallet = strings.TrimSpace(form.Get(formWallet))
		k.Wallet = d.Wallet
	}
	return d, k, errs
}

// cardNumber strips the spaces people type between digit groups. Anything
// but digits and spaces is a format error; an empty number is left to the
// use case, which says "required".
func cardNumber(s string) (string, string) {
	if len(s) > maxNumberLength {
		return "", reasonLength
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ':
		default:
			return "", reasonFormat
		}
	}
	return b.String(), ""
}

// cardExpiry reads a month (1 or 2 digits, 1-12) and a year (2 or 4
// digits; two digits are years of this century) as the card prints them.
func cardExpiry(m, y string) (month, year int, reason string) {
	if m == "" && y == "" {
		return 0, 0, reasonRequired
	}
	if m == "" || y == "" {
		return 0, 0, reasonFormat
	}
	if len(m) > 2 || !digits(m) || (len(y) != 2 && len(y) != 4) || !digits(y) {
		return 0, 0, reasonFormat
	}
	month, _ = strconv.Atoi(m)
	year, _ = strconv.Atoi(y)
	if month < 1 || month > 12 {
		return 0, 0, reasonFormat
	}
	if len(y) == 2 {
		year += 2000
	}
	return month, year, ""
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
