package paywire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

func TestPageCursor(t *testing.T) {
	f := paywire.PaymentFilter{MerchantID: "m1", States: []paywire.State{paywire.StateCompleted, paywire.StateRefused}, Search: "4242"}
	at := time.Date(2026, 11, 1, 23, 59, 59, 999_999_000, time.UTC)
	c := f.Cursor(at, "pay_abc")
	gotAt, gotID, err := f.Position(c)
	if err != nil || !gotAt.Equal(at) || gotID != "pay_abc" {
		t.Fatalf("Position(Cursor(%s, pay_abc)) = %s, %q, %v", at, gotAt, gotID, err)
	}
	// The order of the states and spaces around the search text do not
	// make another filter.
	same := f
	same.States = []paywire.State{paywire.StateRefused, paywire.StateCompleted}
	same.Search = " 4242 "
	if _, _, err := same.Position(c); err != nil {
		t.Errorf("the same filter written otherwise refuses the cursor: %v", err)
	}
	others := []paywire.PaymentFilter{
		{States: f.States, Search: f.Search},
		{MerchantID: "m1", Search: f.Search},
		{MerchantID: "m1", States: f.States},
		{MerchantID: "m1", States: f.States, Search: f.Search, Provider: "acme"},
		{MerchantID: "m1", States: f.States, Search: f.Search, CreatedTo: at},
		{MerchantID: "m1", States: f.States, Search: f.Search, Currency: "EUR", AmountMin: 1},
	}
	for _, o := range others {
		if _, _, err := o.Position(c); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("filter %+v accepts a cursor of %+v: %v", o, f, err)
		}
	}
}

func TestPaymentFilterTerms(t *testing.T) {
	tests := []struct {
		text string
		want paywire.PaymentSearch
		ok   bool
	}{
		{"", paywire.PaymentSearch{}, false},
		{"   ", paywire.PaymentSearch{}, false},
		{"pay_x", paywire.PaymentSearch{ID: "pay_x", MerchantReference: "pay_x"}, true},
		{" Ann@Example.com ", paywire.PaymentSearch{ID: "Ann@Example.com", MerchantReference: "Ann@Example.com", EmailKey: "ann@example.com"}, true},
		{"4242", paywire.PaymentSearch{ID: "4242", MerchantReference: "4242", CardLast4: "4242"}, true},
		{"424", paywire.PaymentSearch{ID: "424", MerchantReference: "424"}, true},
		{"42a2", paywire.PaymentSearch{ID: "42a2", MerchantReference: "42a2"}, true},
	}
	for _, tt := range tests {
		f := paywire.PaymentFilter{Search: tt.text}
		got, ok := f.Terms()
		if got != tt.want || ok != tt.ok {
			t.Errorf("Terms of %q = %+v, %v; want %+v, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReportRowComplete(t *testing.T) {
	tests := []struct {
		row               paywire.ReportRow
		rate, average     int64
		approvedFractions string
	}{
		{paywire.ReportRow{Payments: 3, Approved: 2, Amount: 1000}, 6666, 333, "2/3 rounds down"},
		{paywire.ReportRow{Payments: 2, Approved: 2, Amount: 3}, 10000, 2, "1.5 rounds up"},
		{paywire.ReportRow{Payments: 1, Approved: 0, Amount: 999}, 0, 999, "none approved"},
		{paywire.ReportRow{}, 0, 0, "empty"},
	}
	for _, tt := range tests {
		tt.row.Complete()
		if tt.row.ApprovalRate != tt.rate || tt.row.AverageAmount != tt.average {
			t.Errorf("%s: rate %d, average %d; want %d, %d", tt.approvedFractions, tt.row.ApprovalRate, tt.row.AverageAmount, tt.rate, tt.average)
		}
	}
}

// FuzzPageCursor: a cursor from the internet is refused with EINVALID or
// decodes to a position whose cursor is the same text.
func FuzzPageCursor(f *testing.F) {
	filter := paywire.PaymentFilter{MerchantID: "m1"}
	f.Add(string(filter.Cursor(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "pay_abc")))
	valid := string(filter.Cursor(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "pay_abcd"))
	// The same bytes with the last character's unused bits set.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	f.Add(valid[:len(valid)-1] + string(alphabet[strings.IndexByte(alphabet, valid[len(valid)-1])^1]))
	f.Add("")
	f.Add("AQ")
	f.Add("!!!!")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := filter.Position(paywire.PageCursor(s))
		if err != nil {
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Fatalf("cursor %q: error %v, want %s", s, err, paywire.EINVALID)
			}
			return
		}
		if again := filter.Cursor(at, id); string(again) != s {
			t.Fatalf("cursor %q decodes to %s, %q, whose cursor is %q", s, at, id, again)
		}
	})
}
