package paywire

import "unicode/utf8"

// ValidText reports whether s may be stored and shown as text: valid UTF-8
// without NUL or other C0 control characters (tab, line feed and carriage
// return excepted). PostgreSQL refuses NUL in text, and control characters
// in names and references only ever come from broken or hostile clients.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}
