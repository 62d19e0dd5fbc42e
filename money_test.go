package paywire_test

import (
	"math"
	"testing"

	"github.com/paywire/paywire"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		wantErr bool
	}{
		{"12.34", "EUR", 1234, false},
		{"12.3", "EUR", 1230, false},
		{"12", "EUR", 1200, false},
		{"12.340", "EUR", 0, true}, // more decimals than EUR has, even as zeros
		{"1.000", "EUR", 0, true},
		{"1.00000000000000000000", "EUR", 0, true},
		{"1.00", "EUR", 100, false},
		{"0.01", "EUR", 1, false},
		{"-0.05", "EUR", -5, false},
		{"12.345", "EUR", 0, true},
		{"1000", "JPY", 1000, false},
		{"1000.5", "JPY", 0, true},
		{"1000.0", "JPY", 0, true},
		{"5.0", "JPY", 0, true},
		{"1.234", "BHD", 1234, false},
		{"1.2345", "BHD", 0, true},
		{"1.2345", "CLF", 12345, false},
		{"92233720368547758.07", "EUR", math.MaxInt64, false},
		{"92233720368547758.08", "EUR", 0, true},
		{"", "EUR", 0, true},
		{".5", "EUR", 0, true},
		{"5.", "EUR", 0, true},
		{"1e3", "EUR", 0, true},
		{"+1", "EUR", 0, true},
		{"1,00", "EUR", 0, true},
		{" 1", "EUR", 0, true},
		{"1.2.3", "EUR", 0, true},
		{"--1", "EUR", 0, true},
		{"1", "XAU", 0, true}, // no minor unit
		{"1", "EUR ", 0, true},
		{"1", "eur", 0, true},
		{"1", "HRK", 0, true}, // withdrawn
	}
	for _, tt := range tests {
		m, err := paywire.ParseMoney(tt.in, tt.cur)
		if tt.wantErr {
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("ParseMoney(%q, %s) = %v, %v; want an invalid error", tt.in, tt.cur, m, err)
			}
			continue
		}
		if err != nil || m.Amount != tt.want || m.Currency.Code != tt.cur {
			t.Errorf("ParseMoney(%q, %s) = %v, %v; want %d", tt.in, tt.cur, m, err, tt.want)
		}
	}
}

func TestMoneyDecimal(t *testing.T) {
	tests := []struct {
		amount int64
		cur    string
		want   string
	}{
		{1234, "EUR", "12.34"},
		{5, "EUR", "0.05"},
		{-5, "EUR", "-0.05"},
		{0, "EUR", "0.00"},
		{1000, "JPY", "1000"},
		{1, "BHD", "0.001"},
		{12345, "CLF", "1.2345"},
		{math.MinInt64, "EUR", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		m, err := paywire.NewMoney(tt.amount, tt.cur)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Decimal(); got != tt.want {
			t.Errorf("%d %s: Decimal() = %q, want %q", tt.amount, tt.cur, got, tt.want)
		}
	}
}

func TestMoneyArithmetic(t *testing.T) {
	eur := func(n int64) paywire.Money { m, _ := paywire.NewMoney(n, "EUR"); return m }
	usd, _ := paywire.NewMoney(100, "USD")

	if got, err := eur(150).Add(eur(250)); err != nil || got.Amount != 400 {
		t.Errorf("150 + 250 = %v, %v", got, err)
	}
	if got, err := eur(150).Sub(eur(250)); err != nil || got.Amount != -100 {
		t.Errorf("150 - 250 = %v, %v", got, err)
	}
	if _, err := eur(1).Add(usd); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("EUR + USD: %v, want invalid", err)
	}
	if _, err := eur(1).Sub(usd); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("EUR - USD: %v, want invalid", err)
	}
	if _, err := eur(1).Cmp(usd); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("EUR cmp USD: %v, want invalid", err)
	}
	if _, err := eur(math.MaxInt64).Add(eur(1)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("max + 1: %v, want overflow refused", err)
	}
	if _, err := eur(math.MinInt64).Sub(eur(1)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("min - 1: %v, want overflow refused", err)
	}
	if _, err := eur(math.MinInt64).Add(eur(-1)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("min + -1: %v, want overflow refused", err)
	}
	if _, err := eur(0).Sub(eur(math.MinInt64)); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("0 - min: %v, want overflow refused", err)
	}
	if got, err := eur(math.MaxInt64).Sub(eur(math.MaxInt64)); err != nil || got.Amount != 0 {
		t.Errorf("max - max = %v, %v", got, err)
	}
	if c, err := eur(2).Cmp(eur(1)); err != nil || c != 1 {
		t.Errorf("2 cmp 1 = %d, %v", c, err)
	}
	if _, err := (paywire.Money{}).Add(eur(1)); err == nil {
		t.Error("zero Money + EUR must be refused")
	}
}

// FuzzParseMoney checks that whatever ParseMoney accepts formats back to a
// string that parses to the same amount, and that it never panics.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12.34", "0.001", "-5", "1e3", "92233720368547758.07", ".", "-", "1.000", "5.0", "1.00000000000000000000"} {
		f.Add(s, "EUR")
		f.Add(s, "BHD")
		f.Add(s, "JPY")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		m, err := paywire.ParseMoney(s, cur)
		if err != nil {
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Fatalf("ParseMoney(%q, %q): code %q, want invalid", s, cur, paywire.ErrorCode(err))
			}
			return
		}
		back, err := paywire.ParseMoney(m.Decimal(), cur)
		if err != nil || back != m {
			t.Fatalf("round trip of %q %s: %v -> %q -> %v, %v", s, cur, m, m.Decimal(), back, err)
		}
	})
}
