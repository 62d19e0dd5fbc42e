package sandbox_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func TestSettlementRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, open opener) {
		day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
		clk := &clock{now: day.Add(9 * time.Hour)}
		e := newEnv(t, open(t), func(c *sandbox.Config) { c.Now = clk.Now })

		dep := e.authorize(t, "dep-1", "4242424242424242") // 12.34 EUR
		if _, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: dep.Reference, Amount: eur(1000)}); err != nil {
			t.Fatal(err)
		}
		clk.Set(day.Add(10 * time.Hour))
		if _, err := e.a.Refund(ctx, adapters.Operation{ProviderReference: dep.Reference, Amount: eur(250)}); err != nil {
			t.Fatal(err)
		}
		clk.Set(day.Add(11*time.Hour + 500*time.Millisecond))
		out, err := e.a.Pay(ctx, adapters.Payment{PaymentID: "wd-1", Kind: paywire.KindWithdrawal, Amount: eur(700), SourceReference: dep.Reference})
		if err != nil || out.Status != adapters.Approved {
			t.Fatalf("payout %+v, %v", out, err)
		}
		clk.Set(day.Add(23*time.Hour + 59*time.Minute))
		if err := e.a.Chargeback(ctx, dep.Reference, 0); err != nil {
			t.Fatal(err)
		}
		clk.Set(day.Add(24 * time.Hour)) // the next day: not in the report
		if _, err := e.a.Capture(ctx, adapters.Operation{ProviderReference: dep.Reference}); err != nil {
			t.Fatal(err)
		}

		var buf bytes.Buffer
		if err := e.a.SettlementReport(ctx, &buf, day.Add(15*time.Hour)); err != nil {
			t.Fatal(err)
		}
		wantCSV := strings.Join([]string{
			"reference,paymentId,type,amount,currency,bookedAt",
			dep.Reference + ",dep-1,capture,10.00,EUR,2026-11-25T09:00:00Z",
			dep.Reference + ",dep-1,refund,2.50,EUR,2026-11-25T10:00:00Z",
			out.Reference + ",wd-1,payout,7.00,EUR,2026-11-25T11:00:00Z",
			dep.Reference + ",dep-1,chargeback,7.50,EUR,2026-11-25T23:59:00Z",
		}, "\n") + "\n"
		if buf.String() != wantCSV {
			t.Fatalf("report:\n%s\nwant:\n%s", buf.String(), wantCSV)
		}

		lines, err := e.a.ParseSettlement(&buf)
		if err != nil {
			t.Fatal(err)
		}
		want := []adapters.SettlementLine{
			{Reference: dep.Reference, PaymentID: "dep-1", Type: "capture", Amount: eur(1000), BookedAt: day.Add(9 * time.Hour)},
			{Reference: dep.Reference, PaymentID: "dep-1", Type: "refund", Amount: eur(250), BookedAt: day.Add(10 * time.Hour)},
			{Reference: out.Reference, PaymentID: "wd-1", Type: "payout", Amount: eur(700), BookedAt: day.Add(11 * time.Hour)},
			{Reference: dep.Reference, PaymentID: "dep-1", Type: "chargeback", Amount: eur(750), BookedAt: day.Add(23*time.Hour + 59*time.Minute)},
		}
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(lines), len(want))
		}
		for i := range want {
			g, w := lines[i], want[i]
			if g.Reference != w.Reference || g.PaymentID != w.PaymentID || g.Type != w.Type || g.Amount != w.Amount || !g.BookedAt.Equal(w.BookedAt) {
				t.Errorf("line %d: %+v, want %+v", i+2, g, w)
			}
		}

		buf.Reset()
		if err := e.a.SettlementReport(ctx, &buf, day.AddDate(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "\n"); n != 2 {
			t.Errorf("next day's report has %d lines:\n%s", n, buf.String())
		}
	})
}

func TestParseSettlementRefusals(t *testing.T) {
	a := sandbox.New(sandbox.Config{Name: "acquirer-t"})
	defer a.Close()
	const header = "reference,paymentId,type,amount,currency,bookedAt\n"
	const good = "sbx_1,pay-1,capture,12.34,EUR,2026-11-25T09:00:00Z\n"
	tests := []struct {
		name, report, msg string
	}{
		{"empty", "", "line 1"},
		{"wrong header", "ref,amount\n" + good, "line 1"},
		{"too few fields", header + good + "sbx_2,pay-2,capture,1.00,EUR\n", "line 3"},
		{"unknown type", header + good + good + "sbx_2,pay-2,gift,1.00,EUR,2026-11-25T09:00:00Z\n", "line 4"},
		{"too many decimals", header + "sbx_2,pay-2,capture,1.001,EUR,2026-11-25T09:00:00Z\n", "line 2"},
		{"negative", header + "sbx_2,pay-2,refund,-1.00,EUR,2026-11-25T09:00:00Z\n", "line 2"},
		{"unknown currency", header + "sbx_2,pay-2,refund,1.00,EUROS,2026-11-25T09:00:00Z\n", "line 2"},
		{"bad time", header + "sbx_2,pay-2,refund,1.00,EUR,25.11.2026\n", "line 2"},
		{"no reference", header + ",pay-2,refund,1.00,EUR,2026-11-25T09:00:00Z\n", "line 2"},
		{"broken quote", header + good + "\"sbx_2,pay-2,refund,1.00,EUR,2026-11-25T09:00:00Z\n", "line 3"},
	}
	for _, tt := range tests {
		_, err := a.ParseSettlement(strings.NewReader(tt.report))
		if paywire.ErrorCode(err) != paywire.EINVALID || !strings.Contains(paywire.ErrorMessage(err), tt.msg) {
			t.Errorf("%s: %v, want EINVALID naming %s", tt.name, err, tt.msg)
		}
	}
	lines, err := a.ParseSettlement(strings.NewReader("\ufeff" + header))
	if err != nil || len(lines) != 0 {
		t.Errorf("header only, with a byte order mark: %v, %v", lines, err)
	}
}

// FuzzParseSettlement: whatever a report holds, parsing never panics, and
// what parses writes back as a report that parses to the same lines.
func FuzzParseSettlement(f *testing.F) {
	f.Add("reference,paymentId,type,amount,currency,bookedAt\nsbx_1,pay-1,capture,12.34,EUR,2026-11-25T09:00:00Z\n")
	f.Add("reference,paymentId,type,amount,currency,bookedAt\r\nsbx_1,,fee,1,JPY,2026-11-25T09:00:00+09:00\r\n")
	f.Add("reference,paymentId,type,amount,currency,bookedAt\n\"a,b\",\"p\"\"q\",refund,0.001,BHD,0000-01-01T00:00:00+01:00\n")
	f.Add("x\n\"")
	a := sandbox.New(sandbox.Config{Name: "acquirer-f"})
	defer a.Close()
	f.Fuzz(func(t *testing.T, report string) {
		lines, err := a.ParseSettlement(strings.NewReader(report))
		if err != nil {
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Fatalf("%q: %v", report, err)
			}
			return
		}
		var buf bytes.Buffer
		if err := sandbox.WriteSettlement(&buf, lines); err != nil {
			t.Fatal(err)
		}
		again, err := a.ParseSettlement(&buf)
		if err != nil {
			t.Fatalf("rewritten report of %q does not parse: %v\n%s", report, err, buf.String())
		}
		if len(again) != len(lines) {
			t.Fatalf("%d lines, then %d", len(lines), len(again))
		}
		for i := range lines {
			g, w := again[i], lines[i]
			if g.Reference != w.Reference || g.PaymentID != w.PaymentID || g.Type != w.Type || g.Amount != w.Amount || !g.BookedAt.Equal(w.BookedAt) {
				t.Fatalf("line %d: %+v, then %+v", i, w, g)
			}
		}
	})
}
