package paywire

import (
	"sort"
	"testing"
)

func TestCurrencySpotChecks(t *testing.T) {
	tests := []struct {
		code     string
		numeric  int
		exponent int
	}{
		{"EUR", 978, 2},
		{"USD", 840, 2},
		{"GBP", 826, 2},
		{"JPY", 392, 0},
		{"BHD", 48, 3},
		{"KWD", 414, 3},
		{"TND", 788, 3},
		{"CLF", 990, 4},
		{"UYW", 927, 4},
		{"UYI", 940, 0},
		{"XAU", 959, NoMinorUnit},
		{"XXX", 999, NoMinorUnit},
		{"ISK", 352, 0},
		{"KRW", 410, 0},
		{"XOF", 952, 0},
		{"CHF", 756, 2},
		{"SLE", 925, 2},
		{"ZWG", 924, 2},
		{"XCG", 532, 2},
		{"VES", 928, 2},
		{"VED", 926, 2},
		{"MRU", 929, 2},
		{"STN", 930, 2},
		{"BYN", 933, 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, err := LookupCurrency(tt.code)
			if err != nil {
				t.Fatalf("LookupCurrency(%q): %v", tt.code, err)
			}
			if c.Code != tt.code {
				t.Errorf("Code = %q, want %q", c.Code, tt.code)
			}
			if c.Numeric != tt.numeric {
				t.Errorf("Numeric = %d, want %d", c.Numeric, tt.numeric)
			}
			if c.Exponent != tt.exponent {
				t.Errorf("Exponent = %d, want %d", c.Exponent, tt.exponent)
			}
			if c.Name == "" {
				t.Errorf("Name is empty")
			}
			if got, want := c.Payable(), tt.exponent >= 0; got != want {
				t.Errorf("Payable() = %v, want %v", got, want)
			}
		})
	}
}

func TestCurrencyWithdrawnRefused(t *testing.T) {
	withdrawn := []string{
		"HRK", "SLL", "ZWL", "CUC", "MRO", "STD", "VEF", "BYR",
		"LTL", "LVL", "ANG", "BGN",
	}
	for _, code := range withdrawn {
		t.Run(code, func(t *testing.T) {
			c, err := LookupCurrency(code)
			if err == nil {
				t.Fatalf("LookupCurrency(%q) = %+v, want error", code, c)
			}
			if got := ErrorCode(err); got != EINVALID {
				t.Errorf("ErrorCode = %q, want %q", got, EINVALID)
			}
			if c != (Currency{}) {
				t.Errorf("LookupCurrency(%q) returned %+v with error, want zero Currency", code, c)
			}
		})
	}
}

func TestCurrencyLookupRefusesMalformed(t *testing.T) {
	for _, code := range []string{"eur", "Eur", "", "EU", "EURO", "E1R", " EUR", "ZZZ"} {
		t.Run(code, func(t *testing.T) {
			c, err := LookupCurrency(code)
			if err == nil {
				t.Fatalf("LookupCurrency(%q) = %+v, want error", code, c)
			}
			if got := ErrorCode(err); got != EINVALID {
				t.Errorf("ErrorCode = %q, want %q", got, EINVALID)
			}
		})
	}
}

func TestCurrencyTableWellFormed(t *testing.T) {
	if n := len(iso4217); n < 150 {
		t.Fatalf("table has %d entries, want at least 150", n)
	}
	if !sort.SliceIsSorted(iso4217, func(i, j int) bool { return iso4217[i].Code < iso4217[j].Code }) {
		t.Error("table is not sorted by Code")
	}
	codes := make(map[string]bool, len(iso4217))
	numerics := make(map[int]string, len(iso4217))
	for i, c := range iso4217 {
		if len(c.Code) != 3 || !isUpperASCIICode(c.Code) {
			t.Errorf("entry %d: code %q is not three upper-case letters", i, c.Code)
		}
		if i > 0 && iso4217[i-1].Code >= c.Code {
			t.Errorf("entry %d: %q does not sort after %q", i, c.Code, iso4217[i-1].Code)
		}
		if codes[c.Code] {
			t.Errorf("duplicate code %q", c.Code)
		}
		codes[c.Code] = true
		if c.Numeric < 1 || c.Numeric > 999 {
			t.Errorf("%s: numeric %d out of 1..999", c.Code, c.Numeric)
		}
		if prev, ok := numerics[c.Numeric]; ok {
			t.Errorf("%s: numeric %d already used by %s", c.Code, c.Numeric, prev)
		}
		numerics[c.Numeric] = c.Code
		switch c.Exponent {
		case NoMinorUnit, 0, 2, 3, 4:
		default:
			t.Errorf("%s: exponent %d not in {-1,0,2,3,4}", c.Code, c.Exponent)
		}
		if c.Name == "" {
			t.Errorf("%s: empty name", c.Code)
		}
		got, err := LookupCurrency(c.Code)
		if err != nil || got != c {
			t.Errorf("LookupCurrency(%q) = %+v, %v; want %+v", c.Code, got, err, c)
		}
	}
	if len(currencyIndex) != len(iso4217) {
		t.Errorf("index has %d entries, table %d", len(currencyIndex), len(iso4217))
	}
}

func TestCurrencyNoMinorUnitCodes(t *testing.T) {
	want := map[string]bool{
		"XAG": true, "XAU": true, "XBA": true, "XBB": true, "XBC": true,
		"XBD": true, "XDR": true, "XPD": true, "XPT": true, "XSU": true,
		"XTS": true, "XUA": true, "XXX": true,
	}
	for _, c := range iso4217 {
		if got := c.Exponent == NoMinorUnit; got != want[c.Code] {
			t.Errorf("%s: exponent %d, want NoMinorUnit = %v", c.Code, c.Exponent, want[c.Code])
		}
		delete(want, c.Code)
	}
	for code := range want {
		t.Errorf("%s missing from table", code)
	}
}

func TestCurrencyExponentsByGroup(t *testing.T) {
	groups := map[int][]string{
		0: {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"},
		3: {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"},
		4: {"CLF", "UYW"},
	}
	listed := map[string]bool{}
	for exp, codes := range groups {
		for _, code := range codes {
			listed[code] = true
			c, err := LookupCurrency(code)
			if err != nil {
				t.Errorf("LookupCurrency(%q): %v", code, err)
				continue
			}
			if c.Exponent != exp {
				t.Errorf("%s: exponent %d, want %d", code, c.Exponent, exp)
			}
		}
	}
	// Every other payable code has exponent 2: catches a stray 0/3/4.
	for _, c := range iso4217 {
		if !listed[c.Code] && c.Exponent != NoMinorUnit && c.Exponent != 2 {
			t.Errorf("%s: exponent %d, want 2", c.Code, c.Exponent)
		}
	}
}

func TestCurrenciesReturnsCopy(t *testing.T) {
	all := Currencies()
	if len(all) != len(iso4217) {
		t.Fatalf("Currencies() has %d entries, want %d", len(all), len(iso4217))
	}
	all[0].Code = "ZZZ"
	if iso4217[0].Code == "ZZZ" {
		t.Error("Currencies() exposes the underlying table")
	}
}

func isUpperASCIICode(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
