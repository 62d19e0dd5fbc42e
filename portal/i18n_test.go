package portal

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paywire/paywire"
)

// Every language has every key, with the same placeholders, so that no
// page shows a key or an English word to a German reader.
func TestCatalogsAreComplete(t *testing.T) {
	en := locales[defaultTag]
	placeholder := regexp.MustCompile(`\{[a-z]+\}`)
	if len(locales) < 2 {
		t.Fatalf("%d languages, want at least English and German", len(locales))
	}
	for tag, l := range locales {
		for key, text := range en.Messages {
			got, ok := l.Messages[key]
			if !ok {
				t.Errorf("%s: missing %q", tag, key)
				continue
			}
			if strings.TrimSpace(got) == "" {
				t.Errorf("%s: %q is empty", tag, key)
			}
			want := placeholder.FindAllString(text, -1)
			slices.Sort(want)
			have := placeholder.FindAllString(got, -1)
			slices.Sort(have)
			if !slices.Equal(want, have) {
				t.Errorf("%s: %q has placeholders %v, English has %v", tag, key, have, want)
			}
		}
		for key := range l.Messages {
			if _, ok := en.Messages[key]; !ok {
				t.Errorf("%s: %q is not in English", tag, key)
			}
		}
		if l.Decimal == "" || l.Group == "" || l.Decimal == l.Group {
			t.Errorf("%s: separators %q and %q", tag, l.Decimal, l.Group)
		}
	}
}

// The keys the code builds at run time exist.
func TestCatalogsCoverWhatThePagesAsk(t *testing.T) {
	en := locales[defaultTag]
	var keys []string
	for _, m := range []string{methodCard, methodBank, methodWallet} {
		keys = append(keys, "method."+m, "page."+m+".title")
	}
	for _, pr := range []problem{problemInvalid, problemExpired, problemBadRequest, problemTooLarge,
		problemNotFound, problemNotAllowed, problemUnavailable, problemInternal, problemNoMethods} {
		keys = append(keys, "page."+pr.key+".title", "page."+pr.key+".text")
	}
	for _, s := range paywire.States {
		keys = append(keys, "state."+string(s)+".title", "state."+string(s)+".text")
	}
	for _, k := range keys {
		if !en.has(k) {
			t.Errorf("no message %q", k)
		}
	}
}

// Each refusal a form can get has a message of its own, not the generic
// one, for the reasons that make sense for the field.
func TestEveryRefusalHasAMessage(t *testing.T) {
	reasons := map[string][]string{
		"card.number": {"required", "luhn", "length", "format", "unknown"},
		"card.expiry": {"required", "format", "expired"},
		"card.cvc":    {"required", "length", "format"},
		"card.holder": {"required", "length", "format"},
		"bank":        {"required", "unknown"},
		"wallet":      {"required", "format", "length", "unknown"},
		"method":      {"required", "unknown"},
	}
	for _, tag := range slices.Sorted(maps.Keys(locales)) {
		l := locales[tag]
		seen := map[string]string{}
		for _, field := range slices.Sorted(maps.Keys(reasons)) {
			for _, reason := range reasons[field] {
				key := "error." + field + "." + reason
				if _, ok := l.Messages[key]; !ok {
					t.Errorf("%s: no message %q", tag, key)
				}
				msg := l.text(key)
				if other, dup := seen[msg]; dup {
					t.Errorf("%s: %q and %q read the same", tag, key, other)
				}
				seen[msg] = key
			}
		}
		// Any reason on any field reads as something.
		for _, reason := range []string{"required", "luhn", "length", "expired", "format", "unknown", "new-reason"} {
			for _, field := range []string{"card.number", "wallet", "something.new"} {
				msg := fieldMessage(l, fieldError(field, reason))
				if msg == "" || strings.HasPrefix(msg, "error.") {
					t.Errorf("%s: %s/%s reads %q", tag, field, reason, msg)
				}
			}
		}
	}
}

func TestMoney(t *testing.T) {
	cur := func(code string) paywire.Currency {
		c, err := paywire.LookupCurrency(code)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		minor  int64
		code   string
		en, de string
	}{
		{1234, "EUR", "12.34 EUR", "12,34 EUR"},
		{5, "EUR", "0.05 EUR", "0,05 EUR"},
		{123456789, "EUR", "1,234,567.89 EUR", "1.234.567,89 EUR"},
		{100000, "EUR", "1,000.00 EUR", "1.000,00 EUR"},
		{99999, "EUR", "999.99 EUR", "999,99 EUR"},
		{1500, "JPY", "1,500 JPY", "1.500 JPY"},
		{12345, "BHD", "12.345 BHD", "12,345 BHD"},
		{-1234, "EUR", "-12.34 EUR", "-12,34 EUR"},
	} {
		m := paywire.Money{Amount: tc.minor, Currency: cur(tc.code)}
		if got := strings.ReplaceAll(locales["en"].money(m), "\u00a0", " "); got != tc.en {
			t.Errorf("en %d %s = %q, want %q", tc.minor, tc.code, got, tc.en)
		}
		if got := strings.ReplaceAll(locales["de"].money(m), "\u00a0", " "); got != tc.de {
			t.Errorf("de %d %s = %q, want %q", tc.minor, tc.code, got, tc.de)
		}
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   []string
	}{
		{"", []string{}},
		{"de", []string{"de"}},
		{"en-US,en;q=0.9,de;q=0.8", []string{"en-US", "en", "de"}},
		{"de;q=0.5, fr;q=0.9 , en", []string{"en", "fr", "de"}},
		{"fr;q=0.5, de;q=0.5", []string{"fr", "de"}},
		{"de;q=0, en;q=0.000", []string{}},
		{"*;q=0.1, de", []string{"de", "*"}},
		{"de;q=1.0, en;q=1.000, fr;q=1.001", []string{"de", "en"}},
		{"de;q=0.1234, en;q=.5, fr;q=x, it;q=", []string{}},
		{"de; q=0.7; foo=bar, en;level=1", []string{"en", "de"}},
		{"zh-Hant-TW, sr-Latn-RS;q=0.3", []string{"zh-Hant-TW", "sr-Latn-RS"}},
		{"1de, de-, -de, d e, toolongsubtag, de-DE-x-123456789", []string{}},
		{",,, de ,", []string{"de"}},
	} {
		got := parseAcceptLanguage(tc.header)
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseAcceptLanguage(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
	many := strings.Repeat("xx,", 1000) + "de"
	if got := parseAcceptLanguage(many); len(got) > maxLanguageRanges {
		t.Errorf("%d ranges kept from a hostile header", len(got))
	}
}

func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"de", "en-US,en;q=0.9,de;q=0.8", "*;q=0", "de;q=1.000", "x;q=0.5;q=1"} {
		f.Add("", s)
	}
	f.Add("de-AT", "en")
	f.Fuzz(func(t *testing.T, merchant, header string) {
		tags := parseAcceptLanguage(header)
		if len(tags) > maxLanguageRanges {
			t.Fatalf("%d ranges", len(tags))
		}
		for _, tag := range tags {
			if !validLanguageRange(tag) || !strings.Contains(header, tag) {
				t.Fatalf("range %q from %q", tag, header)
			}
		}
		l := chooseLocale(merchant, header)
		if l == nil || locales[l.Tag] != l {
			t.Fatalf("no language for %q, %q", merchant, header)
		}
	})
}
