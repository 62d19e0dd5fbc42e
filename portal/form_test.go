package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paywire/paywire/payment"
)

func fieldError(field, reason string) payment.FieldError {
	return payment.FieldError{Field: field, Reason: reason}
}

func TestParseCardDetails(t *testing.T) {
	for _, tc := range []struct {
		name, number, month, year string
		wantNumber                string
		wantMonth, wantYear       int
		wantErrs                  []payment.FieldError
	}{
		{"spaces", "4111 1111 1111 1111", "4", "28", "4111111111111111", 4, 2028, nil},
		{"four-digit year", " 5555555555554444 ", "12", "2031", "5555555555554444", 12, 2031, nil},
		{"empty is for the use case to refuse", "", "01", "30", "", 1, 2030, nil},
		{"letters", "4111-1111", "01", "30", "", 1, 2030, []payment.FieldError{fieldError("card.number", "format")}},
		{"too long to be typed", strings.Repeat("4", 40), "01", "30", "", 1, 2030, []payment.FieldError{fieldError("card.number", "length")}},
		{"no expiry", "4111111111111111", "", "", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "required")}},
		{"half an expiry", "4111111111111111", "04", "", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "format")}},
		{"month 13", "4111111111111111", "13", "28", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "format")}},
		{"month 0", "4111111111111111", "00", "28", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "format")}},
		{"three-digit year", "4111111111111111", "04", "028", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "format")}},
		{"signed month", "4111111111111111", "+4", "28", "4111111111111111", 0, 0, []payment.FieldError{fieldError("card.expiry", "format")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{formCardNumber: {tc.number}, formCardMonth: {tc.month}, formCardYear: {tc.year},
				formCardCVC: {" 123 "}, formCardHolder: {" Erika Mustermann "}}
			d, k, errs := parseDetails(methodCard, f)
			if !slices.Equal(errs, tc.wantErrs) {
				t.Fatalf("errors %v, want %v", errs, tc.wantErrs)
			}
			c := d.Card
			if c == nil || c.Number != tc.wantNumber || c.CVC != "123" || c.Holder != "Erika Mustermann" {
				t.Fatalf("card %#v", c)
			}
			if tc.wantErrs == nil && (c.ExpiryMonth != tc.wantMonth || c.ExpiryYear != tc.wantYear) {
				t.Errorf("expiry %d/%d, want %d/%d", c.ExpiryMonth, c.ExpiryYear, tc.wantMonth, tc.wantYear)
			}
			if k.Month != tc.month || k.Year != tc.year || k.Holder != "Erika Mustermann" {
				t.Errorf("kept %+v", k)
			}
		})
	}
}

func TestParseOtherDetails(t *testing.T) {
	f := url.Values{formBank: {" demo-sparkasse "}, formWallet: {" a@example.com "}, formCardNumber: {"4111111111111111"}}
	d, _, errs := parseDetails(methodBank, f)
	if errs != nil || d.Bank != "demo-sparkasse" || d.Card != nil || d.Wallet != "" {
		t.Errorf("bank: %+v %v", d, errs)
	}
	d, _, errs = parseDetails(methodWallet, f)
	if errs != nil || d.Wallet != "a@example.com" || d.Card != nil || d.Bank != "" {
		t.Errorf("wallet: %+v %v", d, errs)
	}
}

// FuzzParseDetails feeds the details form any body. The contract: no
// panic; a card only for the card method, its number digits only; what the
// page shows again taken from the holder and expiry fields only (kept has
// no place for the number or security code); refusals only with the
// reasons the pages translate.
func FuzzParseDetails(f *testing.F) {
	f.Add("card", "card_number=4111+1111+1111+1111&card_expiry_month=04&card_expiry_year=28&card_cvc=123&card_holder=Erika")
	f.Add("card", "card_number=4111%00&card_expiry_month=%2B1&card_expiry_year=99999")
	f.Add("bank_redirect", "bank=sandbox-bank&bank=other")
	f.Add("ewallet", "wallet=%E2%80%AEa%40example.com")
	f.Add("crypto", "card_number=1")
	f.Fuzz(func(t *testing.T, method, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		d, k, errs := parseDetails(method, form)
		if string(d.Method) != method {
			t.Fatalf("method %q, want %q", d.Method, method)
		}
		if (d.Card != nil) != (method == methodCard) {
			t.Fatalf("card %v for method %q", d.Card, method)
		}
		if c := d.Card; c != nil {
			if !digits(c.Number) && c.Number != "" {
				t.Fatalf("number %q", c.Number)
			}
			if len(c.Number) > maxNumberLength {
				t.Fatalf("number of %d digits", len(c.Number))
			}
			if c.ExpiryMonth < 0 || c.ExpiryMonth > 12 || (c.ExpiryMonth != 0 && c.ExpiryYear < 2000) {
				t.Fatalf("expiry %d/%d", c.ExpiryMonth, c.ExpiryYear)
			}
			// What is shown again comes from its own fields only.
			if k.Holder != strings.TrimSpace(form.Get(formCardHolder)) || k.Month != strings.TrimSpace(form.Get(formCardMonth)) ||
				k.Year != strings.TrimSpace(form.Get(formCardYear)) || k.Bank != "" || k.Wallet != "" {
				t.Fatalf("kept %+v", k)
			}
		}
		for _, e := range errs {
			if !slices.Contains([]string{"card.number", "card.expiry"}, e.Field) ||
				!slices.Contains([]string{reasonRequired, reasonFormat, reasonLength}, e.Reason) {
				t.Fatalf("refusal %+v", e)
			}
			if fieldMessage(locales["de"], e) == "" {
				t.Fatalf("no message for %+v", e)
			}
		}
	})
}

// The inventory in docs/portal.md names every asset the pages serve.
func TestAssetInventoryIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "portal.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) == 0 {
		t.Fatal("no assets")
	}
	for name, a := range assets {
		if !strings.Contains(string(doc), "/pay/assets/"+name) {
			t.Errorf("docs/portal.md does not list /pay/assets/%s", name)
		}
		sum := sha256.Sum256(a.body)
		if !strings.Contains(string(doc), hex.EncodeToString(sum[:])) {
			t.Errorf("docs/portal.md does not list the SHA-256 of %s, %x: review the change and update the inventory", name, sum)
		}
		if strings.HasSuffix(name, ".js") || strings.Contains(a.contentType, "javascript") {
			t.Errorf("asset %s is a script; the pages serve none", name)
		}
	}
}
