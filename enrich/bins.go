package enrich

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// BIN range lengths: a range is written with 6 to 11 digits.
const (
	minRangeDigits = 6
	maxRangeDigits = 11
)

// BINInfo is what a BIN table knows about a card.
type BINInfo struct {
	Country string // ISO 3166-1 alpha-2 of the issuer, e.g. "US"
	Brand   string // lower case, e.g. "visa", "mastercard", "amex"
	Type    string // "credit", "debit", "prepaid", or "" when unknown
}

// BINTable maps card number prefixes to issuer facts. Build one with
// ParseBINs; it is read-only afterwards and safe for concurrent use. A nil
// *BINTable knows nothing: its Lookup reports false.
type BINTable struct {
	rows   []binRow   // as written, in file order
	groups []binGroup // one per range length, longest first
}

// binRow is one range as written in the CSV.
type binRow struct {
	start, end string // digit strings of equal length
	line       int
	info       BINInfo
}

// binGroup holds the ranges of one length sorted by start, as numbers, for
// binary search. Ranges within a group never overlap.
type binGroup struct {
	digits int
	starts []uint64
	ends   []uint64
	rows   []int // index into BINTable.rows
}

// BINError is a BIN table line that ParseBINs refused.
type BINError struct {
	Line int // 1-based line number in the CSV
	Msg  string
}

func (e *BINError) Error() string {
	return fmt.Sprintf("enrich: BIN table line %d: %s", e.Line, e.Msg)
}

const binHeader = "start,end,country,brand,type"

// ParseBINs reads a BIN table from CSV. The first record is the header
// "start,end,country,brand,type"; each further record is one inclusive
// range:
//
//   - start, end: digit strings of the same length, 6 to 11 digits, start <= end.
//     A range of n digits applies to every card whose first n digits lie
//     between them (see Lookup).
//   - country: ISO 3166-1 alpha-2 code in upper case (XK, used by the card
//     schemes for Kosovo, is accepted too).
//   - brand: lower-case name such as visa, mastercard, amex, discover, jcb.
//   - type: credit, debit, prepaid, or empty when unknown.
//
// Lines starting with # are comments; blank lines are skipped; spaces around
// fields are ignored. Ranges of the same length must not overlap (ranges of
// different lengths may: the longer one is the more specific). Any refused
// line makes the whole table refused, with a *BINError naming the line.
func ParseBINs(data []byte) (*BINTable, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	t := &BINTable{}
	header := false
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &BINError{Line: pe.Line, Msg: pe.Err.Error()}
			}
			return nil, fmt.Errorf("enrich: BIN table: %w", err)
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if !header {
			if got := strings.Join(rec, ","); got != binHeader {
				return nil, &BINError{Line: line, Msg: fmt.Sprintf("header is %q, want %q", got, binHeader)}
			}
			header = true
			continue
		}
		row, err := parseBINRow(rec, line)
		if err != nil {
			return nil, err
		}
		t.rows = append(t.rows, row)
	}
	if !header {
		return nil, errors.New("enrich: BIN table is empty: no header " + binHeader)
	}
	if err := t.index(); err != nil {
		return nil, err
	}
	return t, nil
}

func parseBINRow(rec []string, line int) (binRow, error) {
	bad := func(format string, args ...any) (binRow, error) {
		return binRow{}, &BINError{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(rec) != 5 {
		return bad("%d fields, want 5 (%s)", len(rec), binHeader)
	}
	start, end, country, brand, typ := rec[0], rec[1], rec[2], rec[3], rec[4]
	for _, f := range [...]struct{ name, v string }{{"start", start}, {"end", end}} {
		if len(f.v) < minRangeDigits || len(f.v) > maxRangeDigits || !allDigits(f.v) {
			return bad("%s %q is not %d to %d digits", f.name, f.v, minRangeDigits, maxRangeDigits)
		}
	}
	if len(start) != len(end) {
		return bad("start %q and end %q have different lengths", start, end)
	}
	if start > end { // equal lengths: string order is numeric order
		return bad("start %s is after end %s", start, end)
	}
	if !countryCode(country) {
		return bad("country %q is not an ISO 3166-1 alpha-2 code", country)
	}
	if !brandName(brand) {
		return bad("brand %q is not a lower-case name (a-z, 0-9, _)", brand)
	}
	switch typ {
	case "credit", "debit", "prepaid", "":
	default:
		return bad("type %q is not credit, debit, prepaid or empty", typ)
	}
	return binRow{
		start: start, end: end, line: line,
		info: BINInfo{Country: country, Brand: brand, Type: typ},
	}, nil
}

// index builds the per-length search arrays and refuses overlaps.
func (t *BINTable) index() error {
	for digits := maxRangeDigits; digits >= minRangeDigits; digits-- {
		var idx []int
		for i, row := range t.rows {
			if len(row.start) == digits {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		slices.SortFunc(idx, func(a, b int) int { return strings.Compare(t.rows[a].start, t.rows[b].start) })
		for k := 1; k < len(idx); k++ {
			prev, cur := t.rows[idx[k-1]], t.rows[idx[k]]
			// Sorted by start, so if no neighbours overlap, no two do.
			if cur.start <= prev.end {
				later, earlier := cur, prev
				if later.line < earlier.line {
					later, earlier = earlier, later
				}
				return &BINError{Line: later.line, Msg: fmt.Sprintf("range %s-%s overlaps %s-%s on line %d",
					later.start, later.end, earlier.start, earlier.end, earlier.line)}
			}
		}
		g := binGroup{
			digits: digits,
			starts: make([]uint64, len(idx)),
			ends:   make([]uint64, len(idx)),
			rows:   idx,
		}
		for k, i := range idx {
			g.starts[k] = digitsValue(t.rows[i].start)
			g.ends[k] = digitsValue(t.rows[i].end)
		}
		t.groups = append(t.groups, g)
	}
	return nil
}

// Len returns the number of ranges in the table.
func (t *BINTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.rows)
}

// Lookup returns what the table knows about the card whose number starts
// with bin, a string of digits (a payment stores the first 6 to 8).
//
// Matching: a range whose start and end have n digits matches when bin has
// at least n digits and the number formed by its first n digits lies between
// start and end, both inclusive. So the 6-digit range 424242-424242 covers
// the BINs 424242, 4242420 and 42424299 alike, while the 8-digit range
// 45321500-45321599 cannot match the 6-digit BIN 453215: six digits do not
// tell which 8-digit range the card falls in. When ranges of several lengths
// match, the longest (most specific) wins; ranges of one length never
// overlap, so the answer is unique.
//
// Lookup reports false for an empty bin, a bin with any non-digit, and a bin
// no range matches. It does not allocate.
func (t *BINTable) Lookup(bin string) (BINInfo, bool) {
	if i := t.lookup(bin); i >= 0 {
		return t.rows[i].info, true
	}
	return BINInfo{}, false
}

// lookup returns the index of the matching row, or -1.
func (t *BINTable) lookup(bin string) int {
	if t == nil || bin == "" || !allDigits(bin) {
		return -1
	}
	for gi := range t.groups { // longest first
		g := &t.groups[gi]
		if len(bin) < g.digits {
			continue
		}
		key := digitsValue(bin[:g.digits])
		// k is the number of ranges starting at or before key; the last of
		// them is the only candidate, as ranges of one length do not overlap.
		k, found := slices.BinarySearch(g.starts, key)
		if found {
			k++
		}
		if k > 0 && key <= g.ends[k-1] {
			return g.rows[k-1]
		}
	}
	return -1
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// digitsValue reads at most maxRangeDigits digits as a number; 11 digits fit
// in a uint64 many times over.
func digitsValue(s string) uint64 {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v*10 + uint64(s[i]-'0')
	}
	return v
}

func brandName(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// countryCode reports whether s is an officially assigned ISO 3166-1 alpha-2
// code, or XK. Checking the list, not just the shape, catches the classic
// "UK" for GB, which would otherwise never match a GeoIP country.
func countryCode(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 0; i+1 < len(iso3166); i += 3 {
		if iso3166[i] == s[0] && iso3166[i+1] == s[1] {
			return true
		}
	}
	return false
}

// iso3166 lists the 249 officially assigned ISO 3166-1 alpha-2 codes, plus XK.
const iso3166 = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"XK " +
	"YE YT " +
	"ZA ZM ZW "
