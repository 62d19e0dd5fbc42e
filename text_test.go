package paywire

import "testing"

func TestValidText(t *testing.T) {
	for s, want := range map[string]bool{
		"":                      true,
		"Jürgen Müller":         true,
		"línea\tuno\r\ndos":     true,
		"日本語":                   true,
		"a\x00b":                false,
		"a\x01b":                false,
		"a\x7fb":                false,
		"caf\xe9":               false, // Latin-1, not UTF-8
		"\xed\xa0\x80":          false, // a UTF-16 surrogate encoded as UTF-8
		"replacement \uFFFD ok": true,
	} {
		if got := ValidText(s); got != want {
			t.Errorf("ValidText(%q) = %v; want %v", s, got, want)
		}
	}
}
