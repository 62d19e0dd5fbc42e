package portal

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/paywire/paywire"
)

// translationFS holds one JSON catalog per language: dropping a file in
// translations/ adds a language; English is the fallback for missing keys.
//
//go:embed translations/*.json
var translationFS embed.FS

// locale is one language of the pages: its messages and how it writes
// numbers.
type locale struct {
	Tag      string            `json:"tag"`      // primary language subtag, "de"
	Name     string            `json:"name"`     // the language's own name, "Deutsch"
	Decimal  string            `json:"decimal"`  // decimal separator
	Group    string            `json:"group"`    // thousands separator
	Messages map[string]string `json:"messages"` // key -> text with {name} placeholders
}

// defaultTag is the language of last resort.
const defaultTag = "en"

var locales = mustLoadLocales(translationFS)

func mustLoadLocales(fsys fs.FS) map[string]*locale {
	names, err := fs.Glob(fsys, "translations/*.json")
	if err != nil {
		panic(err)
	}
	out := make(map[string]*locale, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		var l locale
		if err := json.Unmarshal(b, &l); err != nil {
			panic(fmt.Sprintf("portal: %s: %v", name, err))
		}
		if l.Tag != strings.TrimSuffix(path.Base(name), ".json") {
			panic(fmt.Sprintf("portal: %s declares tag %q", name, l.Tag))
		}
		out[l.Tag] = &l
	}
	if out[defaultTag] == nil {
		panic("portal: no " + defaultTag + " translations")
	}
	return out
}

// text returns the message for key with {name} placeholders filled from
// kv, given as name, value pairs. A key missing in l comes from English; a
// key missing there too is returned as is, which the catalog tests forbid.
func (l *locale) text(key string, kv ...string) string {
	s, ok := l.Messages[key]
	if !ok {
		s, ok = locales[defaultTag].Messages[key]
	}
	if !ok {
		return key
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{"+kv[i]+"}", kv[i+1])
	}
	return s
}

// has reports whether key is in l's catalog or in English.
func (l *locale) has(key string) bool {
	if _, ok := l.Messages[key]; ok {
		return true
	}
	_, ok := locales[defaultTag].Messages[key]
	return ok
}

// money formats an amount with the currency's minor digits, the
// language's separators and the currency code: "1,234.50 EUR",
// "1.234,50 EUR". A no-break space keeps the number and code together.
func (l *locale) money(m paywire.Money) string {
	dec := m.Decimal()
	sign := ""
	if strings.HasPrefix(dec, "-") {
		sign, dec = "-", dec[1:]
	}
	whole, frac, hasFrac := strings.Cut(dec, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(l.Group)
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString(l.Decimal)
		b.WriteString(frac)
	}
	if m.Currency.Code != "" {
		b.WriteString("\u00a0")
		b.WriteString(m.Currency.Code)
	}
	return b.String()
}

// chooseLocale picks the pages' language: the one the merchant gave for
// the end user, else the best of the browser's Accept-Language that we
// have, else English.
func chooseLocale(merchantLanguage, acceptLanguage string) *locale {
	if l := lookupLocale(merchantLanguage); l != nil {
		return l
	}
	for _, tag := range parseAcceptLanguage(acceptLanguage) {
		if l := lookupLocale(tag); l != nil {
			return l
		}
	}
	return locales[defaultTag]
}

// lookupLocale matches a language tag ("de-AT", "de_CH", "DE") on its
// primary subtag.
func lookupLocale(tag string) *locale {
	primary, _, _ := strings.Cut(tag, "-")
	primary, _, _ = strings.Cut(primary, "_")
	return locales[strings.ToLower(strings.TrimSpace(primary))]
}

// maxLanguageRanges bounds the work an Accept-Language header can cause.
const maxLanguageRanges = 32

// parseAcceptLanguage returns the language ranges of an Accept-Language
// header (RFC 9110, section 12.5.4) in order of preference: highest
// quality first, ties in header order. Ranges with q=0 ("not acceptable")
// and malformed entries are left out; "*" is kept.
func parseAcceptLanguage(header string) []string {
	type ranged struct {
		tag string
		q   int // thousandths
	}
	var out []ranged
	parts := strings.SplitN(header, ",", maxLanguageRanges+1)
	if len(parts) > maxLanguageRanges {
		parts = parts[:maxLanguageRanges]
	}
	for _, part := range parts {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		if !validLanguageRange(tag) {
			continue
		}
		q, ok := 1000, true
		for params != "" && ok {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, ok = parseQuality(strings.TrimSpace(v))
			}
		}
		if !ok || q == 0 {
			continue
		}
		out = append(out, ranged{tag, q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	tags := make([]string, len(out))
	for i, r := range out {
		tags[i] = r.tag
	}
	return tags
}

// validLanguageRange accepts "*" and 1*8ALPHA *("-" 1*8alphanum).
func validLanguageRange(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || len(s) > 64 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, c := range []byte(sub) {
			alpha := (c|0x20) >= 'a' && (c|0x20) <= 'z'
			digit := c >= '0' && c <= '9'
			if !alpha && !(digit && i > 0) {
				return false
			}
		}
	}
	return true
}

// parseQuality reads a qvalue: "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"], in
// thousandths.
func parseQuality(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if len(whole) != 1 || (hasPoint && len(frac) > 3) {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		d := 0
		if i < len(frac) {
			if frac[i] < '0' || frac[i] > '9' {
				return 0, false
			}
			d = int(frac[i] - '0')
		}
		n = n*10 + d
	}
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}
