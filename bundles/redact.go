package bundles

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/paywire/paywire"
)

// Card data in an export. Decision records are written without card
// numbers or CVVs (the engine's inputs have no field for them), so a
// redaction here means something upstream broke that rule: the export still
// never carries one, and says where it removed what.

// Redacted replaces what an export leaves out.
const (
	RedactedCardNumber = "[redacted card number]"
	RedactedCVV        = "[redacted]"
)

// cvvKeys are object keys that name a card security code, lower case
// without '_', '-' or spaces.
var cvvKeys = map[string]bool{
	"cvv": true, "cvv2": true, "cvc": true, "cvc2": true, "cvn": true, "cvn2": true, "cid": true, "csc": true,
	"cav2": true, "securitycode": true, "cardsecuritycode": true, "cardverificationvalue": true,
	"cardverificationcode": true, "cardcode": true,
}

// panKeys are object keys that name a card number.
var panKeys = map[string]bool{"pan": true, "cardnumber": true, "primaryaccountnumber": true}

func normalKey(k string) string {
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(k))
}

// redactCardData returns raw without card numbers (Luhn-valid runs of 12
// to 19 digits, in strings, also written in groups separated by single
// spaces or hyphens, and in numbers) and without the values of fields
// named as a card number or CVV, and the JSON pointers (below at) of the
// values it changed. raw comes back as it is when nothing was changed.
func redactCardData(raw json.RawMessage, at string) (json.RawMessage, []string, error) {
	if len(raw) == 0 {
		return raw, nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, nil, err
	}
	var paths []string
	v = redactValue(v, at, "", &paths)
	if len(paths) == 0 {
		return raw, nil, nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return out, paths, nil
}

func redactValue(v any, at, key string, paths *[]string) any {
	switch k := normalKey(key); {
	case cvvKeys[k]:
		if v == nil {
			return nil
		}
		*paths = append(*paths, at)
		return RedactedCVV
	case panKeys[k]:
		if v == nil || v == "" {
			return v
		}
		*paths = append(*paths, at)
		return RedactedCardNumber
	}
	switch x := v.(type) {
	case map[string]any:
		for name, e := range x {
			x[name] = redactValue(e, at+"/"+pointerToken(name), name, paths)
		}
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, at+"/"+strconv.Itoa(i), "", paths)
		}
	case string:
		if s, changed := redactCardNumbers(x); changed {
			*paths = append(*paths, at)
			return s
		}
	case json.Number:
		if n := strings.TrimPrefix(x.String(), "-"); n[0] != '0' && paywire.Luhn(n) {
			*paths = append(*paths, at)
			return RedactedCardNumber
		}
	}
	return v
}

// pointerToken escapes a key for a JSON pointer (RFC 6901).
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// digitGroup is a maximal run of digits in a string: s[start:end].
type digitGroup struct{ start, end int }

// redactCardNumbers replaces each Luhn-valid run of 12 to 19 digits in s
// — one run of digits, or consecutive runs joined by single spaces or
// hyphens as card numbers are written ("4111 1111 1111 1111") — by
// RedactedCardNumber. A run of more than 19 digits is not a card number,
// nor one that starts with 0 (no card number does); groups of it are
// considered only at its separators.
func redactCardNumbers(s string) (string, bool) {
	var groups []digitGroup
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		groups = append(groups, digitGroup{i, j})
		i = j
	}
	if len(groups) == 0 {
		return s, false
	}
	joined := func(a, b digitGroup) bool { // b follows a after one separator
		return b.start == a.end+1 && (s[a.end] == ' ' || s[a.end] == '-')
	}
	// Chains of joined groups; in each, the longest Luhn-valid span of
	// whole groups from each start, leftmost first, without overlaps.
	var spans []digitGroup
	for c := 0; c < len(groups); {
		e := c + 1
		for e < len(groups) && joined(groups[e-1], groups[e]) {
			e++
		}
		for i := c; i < e; {
			best := -1
			digits := ""
			for j := i; j < e; j++ {
				digits += s[groups[j].start:groups[j].end]
				if len(digits) > 19 {
					break
				}
				if digits[0] != '0' && paywire.Luhn(digits) {
					best = j
				}
			}
			if best < 0 {
				i++
				continue
			}
			spans = append(spans, digitGroup{groups[i].start, groups[best].end})
			i = best + 1
		}
		c = e
	}
	if len(spans) == 0 {
		return s, false
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(RedactedCardNumber)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), true
}
