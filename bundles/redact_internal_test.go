package bundles

import (
	"testing"

	"github.com/paywire/paywire"
)

// TestRedactCardNumbers: Luhn-valid runs of 12 to 19 digits go, written
// plain, in groups or glued to letters; what is not a card number stays.
func TestRedactCardNumbers(t *testing.T) {
	const r = RedactedCardNumber
	for _, c := range []struct{ in, want string }{
		{"4111111111111111", r},
		{"pan4111111111111111x", "pan" + r + "x"},
		{"4111 1111 1111 1111 12/30", r + " 12/30"},
		{"4111-1111-1111-1111", r},
		{"3782 822463 10005", r},                   // amex, 4-6-5
		{"ref 12 4111111111111111", "ref 12 " + r}, // a group before it that is no part of it
		{"cards 4111111111111111,5555555555554444", "cards " + r + "," + r},
		{"4111111111111112", "4111111111111112"},               // fails Luhn
		{"41111111111111111111111", "41111111111111111111111"}, // 23 digits: no card number
		{"401288 1881", "401288 1881"},                         // BIN and last 4
		{"2026-12-06T09:00:00Z", "2026-12-06T09:00:00Z"},
		{"order-000000000000", "order-000000000000"}, // passes Luhn, but no card number starts with 0
		{"", ""},
	} {
		got, changed := redactCardNumbers(c.in)
		if got != c.want || changed != (c.in != c.want) {
			t.Errorf("%q: %q, %v; want %q", c.in, got, changed, c.want)
		}
	}
}

// FuzzRedactCardNumbers: whatever a string holds, what comes back has no
// run of digits that is a card number, redacting again changes nothing,
// and a string without one comes back as it was.
func FuzzRedactCardNumbers(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111 1111 1111 1111 12/30", "3782-822463-10005", "a4012888888881881b",
		"41111111111111111111111", "2026-12-06T09:00:00Z", "", "1 2 3 4 5 6 7 8 9 0 1 2 3", "5555555555554444 4111111111111111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, changed := redactCardNumbers(s)
		if !changed && out != s {
			t.Fatalf("%q came back as %q without a change", s, out)
		}
		for i := 0; i < len(out); {
			if out[i] < '0' || out[i] > '9' {
				i++
				continue
			}
			j := i
			for j < len(out) && out[j] >= '0' && out[j] <= '9' {
				j++
			}
			if run := out[i:j]; run[0] != '0' && paywire.Luhn(run) {
				t.Fatalf("%q: %q keeps the card number %s", s, out, run)
			}
			i = j
		}
		if again, twice := redactCardNumbers(out); twice || again != out {
			t.Fatalf("%q: redacting %q again gives %q", s, out, again)
		}
	})
}
