package paywire

import "strings"

// Currency is an ISO 4217 currency: its alphabetic and numeric codes and the
// number of digits of its minor unit (its exponent). EUR has exponent 2, so
// 12.34 EUR is held as 1234 minor units; JPY has 0 and BHD 3.
type Currency struct {
	Code     string // alphabetic code, "EUR"
	Numeric  int    // numeric code, 978
	Exponent int    // digits after the decimal point; NoMinorUnit when ISO 4217 defines none
	Name     string // English name as published by ISO 4217
}

// NoMinorUnit is the Exponent of codes for which ISO 4217 defines no minor
// unit (precious metals, SDR, testing and "no currency" codes). Such codes are
// known but cannot carry an amount.
const NoMinorUnit = -1

// currencyIndex maps the alphabetic code to its entry in iso4217.
var currencyIndex = func() map[string]Currency {
	m := make(map[string]Currency, len(iso4217))
	for _, c := range iso4217 {
		m[c.Code] = c
	}
	return m
}()

// LookupCurrency returns the active ISO 4217 currency with the given
// alphabetic code. The code must be three upper-case letters; lower case is
// refused rather than guessed. Returns EINVALID for an unknown code.
func LookupCurrency(code string) (Currency, error) {
	c, ok := currencyIndex[code]
	if !ok {
		if len(code) == 3 && strings.ToUpper(code) != code {
			return Currency{}, Errorf(EINVALID, "currency %q must be upper case", code)
		}
		return Currency{}, Errorf(EINVALID, "%q is not an active ISO 4217 currency code", truncate(code, 16))
	}
	return c, nil
}

// Currencies returns every active ISO 4217 currency, ordered by code.
func Currencies() []Currency {
	out := make([]Currency, len(iso4217))
	copy(out, iso4217)
	return out
}

// Payable reports whether amounts can be expressed in c: the code is known
// and has a minor unit.
func (c Currency) Payable() bool { return c.Code != "" && c.Exponent >= 0 }

// String returns the alphabetic code.
func (c Currency) String() string { return c.Code }
