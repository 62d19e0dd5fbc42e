package enrich

import (
	"errors"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// DefaultBINs is the default bundle's BIN table (the csv key of
// policies/paywire/bins/data.yaml), which these tests check as well.
var DefaultBINs = func() []byte {
	raw, err := os.ReadFile("../policies/paywire/bins/data.yaml")
	if err != nil {
		panic(err)
	}
	var doc struct {
		CSV string `yaml:"csv"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		panic(err)
	}
	return []byte(doc.CSV)
}()

const header = "start,end,country,brand,type\n"

// testBINs nests ranges of several lengths so that specificity and
// boundaries can be checked against known answers.
const testBINs = header + `# comment line
400000,400099,US,visa,
40001000,40001099,GB,visa,debit
400010500,400010500,IE,visa,prepaid

40001050000,40001050999,FR,visa,credit
510000,510009,DE,mastercard,credit
510010,510010,NL,mastercard,debit
  370000 , 379999 , US , amex , credit
`

func TestParseBINsErrors(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		line int    // 0: not a *BINError
		want string // substring of the error
	}{
		{"empty", "", 0, "no header"},
		{"only comments", "# nothing\n\n", 0, "no header"},
		{"wrong header", "start,end,country,brand\n", 1, "header is"},
		{"header after comments", "# a\n# b\nbin,country\n", 3, "header is"},
		{"too few fields", header + "424242,424242,US,visa\n", 2, "4 fields, want 5"},
		{"too many fields", header + "424242,424242,US,visa,credit,x\n", 2, "6 fields, want 5"},
		{"start not digits", header + "42424x,424249,US,visa,\n", 2, `start "42424x" is not 6 to 11 digits`},
		{"start too short", header + "42424,42424,US,visa,\n", 2, `start "42424" is not 6 to 11 digits`},
		{"start too long", header + "424242424242,424242424242,US,visa,\n", 2, "start"},
		{"end not digits", header + "424242,-42424,US,visa,\n", 2, `end "-42424" is not`},
		{"end empty", header + "424242,,US,visa,\n", 2, `end "" is not`},
		{"lengths differ", header + "424242,42424299,US,visa,\n", 2, "different lengths"},
		{"start after end", header + "424249,424240,US,visa,\n", 2, "start 424249 is after end 424240"},
		{"country lower case", header + "424242,424242,us,visa,\n", 2, `country "us"`},
		{"country UK", header + "424242,424242,UK,visa,\n", 2, `country "UK"`},
		{"country alpha-3", header + "424242,424242,USA,visa,\n", 2, `country "USA"`},
		{"country empty", header + "424242,424242,,visa,\n", 2, `country ""`},
		{"brand upper case", header + "424242,424242,US,Visa,\n", 2, `brand "Visa"`},
		{"brand empty", header + "424242,424242,US,,\n", 2, `brand ""`},
		{"brand with space", header + "424242,424242,US,master card,\n", 2, `brand "master card"`},
		{"type unknown", header + "424242,424242,US,visa,charge\n", 2, `type "charge"`},
		{"type upper case", header + "424242,424242,US,visa,Credit\n", 2, `type "Credit"`},
		{"bad quote", header + "# ok\n424242,424242,US,vi\"sa,\n", 3, `bare "`},
		{"error after good rows", header + "424242,424242,US,visa,\n# c\n\n555555,555555,US,mastercard,gold\n", 5, `type "gold"`},
		{"overlap", header + "424240,424249,US,visa,\n424249,424250,GB,visa,\n", 3,
			"range 424249-424250 overlaps 424240-424249 on line 2"},
		{"overlap contained", header + "424200,424299,US,visa,\n# c\n424242,424242,GB,visa,\n", 4,
			"range 424242-424242 overlaps 424200-424299 on line 2"},
		{"overlap later line sorts first", header + "424242,424242,GB,visa,\n424200,424299,US,visa,\n", 3,
			"range 424200-424299 overlaps 424242-424242 on line 2"},
		{"duplicate", header + "555555,555555,US,mastercard,\n555555,555555,US,mastercard,\n", 3, "overlaps"},
		{"overlap 8 digits", header + "40001000,40001099,GB,visa,\n40001099,40001100,GB,visa,\n", 3, "overlaps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ParseBINs([]byte(tt.csv))
			if err == nil {
				t.Fatalf("ParseBINs accepted the table (%d ranges), want error %q", tab.Len(), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			var be *BINError
			switch {
			case tt.line == 0 && errors.As(err, &be):
				t.Errorf("error %q is a *BINError with line %d, want no line", err, be.Line)
			case tt.line != 0 && !errors.As(err, &be):
				t.Errorf("error %q (%T) is not a *BINError", err, err)
			case tt.line != 0 && be.Line != tt.line:
				t.Errorf("error on line %d, want line %d: %v", be.Line, tt.line, err)
			}
		})
	}
}

func TestParseBINsAccepts(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		n    int
	}{
		{"header only", header, 0},
		{"no trailing newline", header + "424242,424242,US,visa,credit", 1},
		{"CRLF", strings.ReplaceAll(header+"424242,424242,US,visa,credit\n", "\n", "\r\n"), 1},
		{"all types", header + "100000,100000,US,visa,credit\n100001,100001,US,visa,debit\n100002,100002,US,visa,prepaid\n100003,100003,US,visa,\n", 4},
		{"adjacent ranges", header + "424240,424241,US,visa,\n424242,424242,GB,visa,\n", 2},
		{"nested lengths", header + "424200,424299,US,visa,\n42424200,42424299,GB,visa,\n42424242000,42424242999,FR,visa,\n", 3},
		{"11 digits", header + "00000000000,99999999999,XK,local_brand2,\n", 1},
		{"test table", testBINs, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ParseBINs([]byte(tt.csv))
			if err != nil {
				t.Fatal(err)
			}
			if tab.Len() != tt.n {
				t.Errorf("Len() = %d, want %d", tab.Len(), tt.n)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	tab, err := ParseBINs([]byte(testBINs))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bin  string
		want BINInfo // zero: no match
	}{
		// 6-digit range 400000-400099: both ends inclusive, neighbours out.
		{"400000", BINInfo{"US", "visa", ""}},
		{"400099", BINInfo{"US", "visa", ""}},
		{"400050", BINInfo{"US", "visa", ""}},
		{"399999", BINInfo{}},
		{"400100", BINInfo{}},
		// Longer BINs are matched on their first 6 digits.
		{"40009999", BINInfo{"US", "visa", ""}},
		{"4000000", BINInfo{"US", "visa", ""}},
		{"40010000", BINInfo{}},
		// The 8-digit range wins over the 6-digit one it sits in ...
		{"40001000", BINInfo{"GB", "visa", "debit"}},
		{"40001099", BINInfo{"GB", "visa", "debit"}},
		{"40000999", BINInfo{"US", "visa", ""}},
		{"40001100", BINInfo{"US", "visa", ""}},
		// ... but 6 digits cannot select it.
		{"400010", BINInfo{"US", "visa", ""}},
		{"4000105", BINInfo{"US", "visa", ""}},
		// A single 9-digit BIN inside the 8-digit range wins over both.
		{"400010500", BINInfo{"IE", "visa", "prepaid"}},
		{"4000105001", BINInfo{"IE", "visa", "prepaid"}},
		{"40001050", BINInfo{"GB", "visa", "debit"}},
		{"400010499", BINInfo{"GB", "visa", "debit"}},
		{"400010501", BINInfo{"GB", "visa", "debit"}},
		// 11-digit range: only longer input reaches it.
		{"40001050000", BINInfo{"FR", "visa", "credit"}},
		{"4000105099912", BINInfo{"FR", "visa", "credit"}},
		{"40001051000", BINInfo{"GB", "visa", "debit"}},
		{"40001049999", BINInfo{"GB", "visa", "debit"}},
		// Adjacent ranges of one length.
		{"510009", BINInfo{"DE", "mastercard", "credit"}},
		{"510010", BINInfo{"NL", "mastercard", "debit"}},
		{"510011", BINInfo{}},
		// Spaces around fields were trimmed.
		{"378282", BINInfo{"US", "amex", "credit"}},
		// Too short for any range, or not digits.
		{"", BINInfo{}},
		{"40000", BINInfo{}},
		{"4", BINInfo{}},
		{"40000a", BINInfo{}},
		{"400000 ", BINInfo{}},
		{" 400000", BINInfo{}},
		{"4000-00", BINInfo{}},
		{"４00000", BINInfo{}}, // full-width digit
		{"40001050\x00", BINInfo{}},
		{"000000", BINInfo{}},
		{"999999", BINInfo{}},
	}
	for _, tt := range tests {
		got, ok := tab.Lookup(tt.bin)
		if ok != (tt.want != BINInfo{}) || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", tt.bin, got, ok, tt.want)
		}
	}
}

func TestLookupNilTable(t *testing.T) {
	var tab *BINTable
	if info, ok := tab.Lookup("424242"); ok {
		t.Errorf("nil table Lookup = %+v, true", info)
	}
	if tab.Len() != 0 {
		t.Errorf("nil table Len = %d", tab.Len())
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tab, err := ParseBINs(DefaultBINs)
	if err != nil {
		t.Fatal(err)
	}
	bins := []string{"424242", "45329012", "40000000", "999999", "4x4242", ""}
	for _, bin := range bins {
		if n := testing.AllocsPerRun(100, func() { tab.Lookup(bin) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", bin, n)
		}
	}
}

func TestDefaultBINs(t *testing.T) {
	tab, err := ParseBINs(DefaultBINs)
	if err != nil {
		t.Fatalf("the default bundle's BIN table does not parse: %v", err)
	}
	if tab.Len() < 24 {
		t.Errorf("default table has %d ranges, want a few dozen", tab.Len())
	}
	tests := []struct {
		card string // a published test number (or a made-up one in an illustrative range)
		bin  int    // how many leading digits the payment stored
		want BINInfo
	}{
		{"4242424242424242", 6, BINInfo{"US", "visa", "credit"}},
		{"4242424242424242", 8, BINInfo{"US", "visa", "credit"}},
		{"4000000000003220", 6, BINInfo{"US", "visa", ""}},
		{"4000000000000002", 8, BINInfo{"US", "visa", ""}},
		{"4000056655665556", 6, BINInfo{"US", "visa", "debit"}},
		{"4111111111111111", 6, BINInfo{"US", "visa", ""}},
		{"5555555555554444", 6, BINInfo{"US", "mastercard", "credit"}},
		{"2223003122003222", 6, BINInfo{"US", "mastercard", "credit"}},
		{"5105105105105100", 6, BINInfo{"US", "mastercard", "prepaid"}},
		{"378282246310005", 6, BINInfo{"US", "amex", "credit"}},
		{"6011111111111117", 6, BINInfo{"US", "discover", "credit"}},
		{"4532000000000000", 6, BINInfo{"DE", "visa", "debit"}},
		{"4532900000000000", 6, BINInfo{"DE", "visa", "debit"}},
		{"4532900000000000", 8, BINInfo{"AT", "visa", "prepaid"}},
		{"4659000000000000", 8, BINInfo{"IE", "visa", "credit"}},
		{"4659010000000000", 8, BINInfo{"GB", "visa", "debit"}},
	}
	for _, tt := range tests {
		bin := tt.card[:tt.bin]
		got, ok := tab.Lookup(bin)
		if !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", bin, got, ok, tt.want)
		}
	}
	// The sandbox's other test numbers share 400000 and must all resolve.
	for _, card := range []string{"4000000000000077", "4000000000000010", "4000000000000119", "4000000000009995", "4000000000000366"} {
		if _, ok := tab.Lookup(card[:6]); !ok {
			t.Errorf("Lookup(%q) found nothing", card[:6])
		}
	}
}

// bruteForce answers a lookup by scanning every range as written: the
// longest range whose length the bin reaches and whose bounds hold the bin's
// leading digits. It returns the row index or -1.
func bruteForce(t *testing.T, tab *BINTable, bin string) int {
	for i := 0; i < len(bin); i++ {
		if bin[i] < '0' || bin[i] > '9' {
			return -1
		}
	}
	best := -1
	for i, row := range tab.rows {
		n := len(row.start)
		if len(bin) < n {
			continue
		}
		p := bin[:n] // equal-length digit strings compare as numbers
		if p < row.start || p > row.end {
			continue
		}
		if best >= 0 && len(tab.rows[best].start) == n {
			t.Fatalf("bin %q matches two ranges of length %d: lines %d and %d", bin, n, tab.rows[best].line, row.line)
		}
		if best < 0 || n > len(tab.rows[best].start) {
			best = i
		}
	}
	return best
}

// step adds d (+1 or -1) to a digit string, keeping its length; ok is false
// on overflow or underflow.
func step(s string, d int) (string, bool) {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if d > 0 && b[i] < '9' {
			b[i]++
			return string(b), true
		}
		if d < 0 && b[i] > '0' {
			b[i]--
			return string(b), true
		}
		if d > 0 {
			b[i] = '0'
		} else {
			b[i] = '9'
		}
	}
	return "", false
}

func FuzzBINLookup(f *testing.F) {
	f.Add(string(DefaultBINs), "424242")
	f.Add(string(DefaultBINs), "45329012")
	f.Add(testBINs, "400010500")
	f.Add(testBINs, "40001050123")
	f.Add(testBINs, "4000")
	f.Add(header+"424200,424299,US,visa,\n42424200,42424299,GB,visa,\n42424242000,42424242999,FR,visa,\n", "4242424200")
	f.Add(header+"000000,999999,US,visa,\n", "0000000")
	f.Add(header+"100000,199999,US,visa,\n200000,200000,GB,visa,debit\n", "20000x")
	f.Fuzz(func(t *testing.T, table, bin string) {
		tab, err := ParseBINs([]byte(table))
		if err != nil {
			return
		}
		for _, row := range tab.rows {
			if n := len(row.start); n < minRangeDigits || n > maxRangeDigits || len(row.end) != n || row.start > row.end {
				t.Fatalf("line %d: accepted malformed range %q-%q", row.line, row.start, row.end)
			}
		}
		check := func(bin string) {
			want := bruteForce(t, tab, bin)
			if got := tab.lookup(bin); got != want {
				t.Fatalf("lookup(%q) = row %d, linear scan says row %d", bin, got, want)
			}
			info, ok := tab.Lookup(bin)
			if ok != (want >= 0) || (ok && info != tab.rows[want].info) {
				t.Fatalf("Lookup(%q) = %+v, %v; linear scan says row %d", bin, info, ok, want)
			}
		}
		check(bin)
		// Probe every range's edges, just inside and just outside, at its
		// own length and longer, whatever bin the fuzzer chose.
		for i, row := range tab.rows {
			if i == 64 {
				break
			}
			probes := []string{row.start, row.end, row.start + "0", row.end + "9", row.start + bin}
			if s, ok := step(row.start, -1); ok {
				probes = append(probes, s, s+"99")
			}
			if s, ok := step(row.end, +1); ok {
				probes = append(probes, s, s+"00")
			}
			if len(row.start) > minRangeDigits {
				probes = append(probes, row.start[:minRangeDigits], row.end[:len(row.end)-1])
			}
			for _, p := range probes {
				check(p)
			}
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	tab, err := ParseBINs(DefaultBINs)
	if err != nil {
		b.Fatal(err)
	}
	bins := []string{"424242", "45329012", "40000000", "555555", "999999", "53519950"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tab.Lookup(bins[i%len(bins)])
	}
}
