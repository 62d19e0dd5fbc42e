package admin_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// reportPayment is a payment of the seeded history.
type reportPayment struct {
	merchant string
	minor    int64
	currency string
	method   paywire.Method
	provider string
	at       time.Time
	state    paywire.State // created, authorized, completed or refused
	arm      string        // "experiment/arm" of its routing decision, if any
}

func dec(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 0, 0, 0, time.UTC) }

// reportHistory: the test clock is 2026-12-06 09:00 UTC, so the default
// period (the last 30 days) is 2026-11-07 to 2026-12-06.
var reportHistory = []reportPayment{
	{"m1", 1000, "EUR", paywire.MethodCard, "sandbox", dec(1, 10), paywire.StateCompleted, "exp-a/control"},
	{"m1", 2001, "EUR", paywire.MethodCard, "sandbox", dec(1, 23), paywire.StateRefused, "exp-a/treatment"},
	{"m2", 10000, "EUR", "", "", dec(2, 0), paywire.StateCreated, ""},
	{"m1", 500, "EUR", paywire.MethodBankRedirect, "=HYPERLINK(\"https://evil.example\")", dec(3, 8), paywire.StateAuthorized, "exp-a/@arm"},
	{"m1", 750, "USD", paywire.MethodCard, "sandbox", dec(3, 9), paywire.StateCompleted, ""},
	{"m1", 500, "JPY", paywire.MethodEWallet, "sandbox", dec(2, 12), paywire.StateCompleted, ""},
	// Outside the default period.
	{"m1", 9900, "EUR", paywire.MethodCard, "sandbox", time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC), paywire.StateCompleted, ""},
}

func seedReportHistory(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	storetest.SeedMerchant(t, db, "m1")
	storetest.SeedMerchant(t, db, "m2")
	for i, h := range reportHistory {
		amt, err := paywire.NewMoney(h.minor, h.currency)
		if err != nil {
			t.Fatal(err)
		}
		p := &paywire.Payment{MerchantID: h.merchant, MerchantReference: "order-" + string(rune('a'+i)), Kind: paywire.KindDeposit,
			Amount: amt, Method: h.method, Provider: h.provider}
		if err := db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, h.at)); err != nil {
			t.Fatal(err)
		}
		switch h.state {
		case paywire.StateAuthorized, paywire.StateRefused:
			storetest.Move(t, db, p, paywire.Move{To: h.state})
		case paywire.StateCompleted:
			storetest.Move(t, db, p, paywire.Move{To: paywire.StateCompleted, Capture: h.minor})
		}
		if experiment, arm, ok := strings.Cut(h.arm, "/"); ok {
			out, _ := json.Marshal(map[string]any{"providers": []string{h.provider}, "experiment": experiment, "arm": arm})
			d := &paywire.DecisionRecord{Point: "routing", MerchantID: p.MerchantID, PaymentID: p.ID, Output: out,
				Input: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`)}
			if err := db.SaveDecision(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func newReportEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, map[string][]string{"root": {"admin"}, "vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		a.ReportPages = admin.ReportPages{Reports: db}
	})
	seedReportHistory(t, e.db)
	return e
}

var (
	tableRow  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	tableCell = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
	sectionOf = regexp.MustCompile(`(?s)<section class="report-currency" id="report-([A-Z]{3})">(.*?)</section>`)
)

// reportTables returns the report's tables by currency: rows of cells as
// shown (the header row left out, the total row last).
func reportTables(t *testing.T, body string) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, s := range sectionOf.FindAllStringSubmatch(body, -1) {
		table := s[2][strings.Index(s[2], "<table"):]
		for _, row := range tableRow.FindAllStringSubmatch(table, -1)[1:] {
			var cells []string
			for _, c := range tableCell.FindAllStringSubmatch(row[1], -1) {
				cells = append(cells, html.UnescapeString(c[1]))
			}
			out[s[1]] = append(out[s[1]], cells)
		}
	}
	return out
}

func wantTable(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d:\n%q", what, len(got), len(want), got)
		return
	}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("%s row %d:\n got %q\nwant %q", what, i, got[i], want[i])
		}
	}
}

func TestReportByDay(t *testing.T) {
	e := newReportEnv(t)
	b := e.browser()
	b.signIn("vera", "pw-vera") // every role may read reports
	if home := b.do("GET", "/admin/", nil); !strings.Contains(home.body, `href="/admin/reports"`) {
		t.Error("the navigation has no reports entry")
	}
	a := b.do("GET", "/admin/reports", nil)
	if a.status != http.StatusOK {
		t.Fatalf("reports: %d %s", a.status, a.body)
	}
	// The defaults: the last 30 days, all merchants, by day.
	for _, want := range []string{`name="from" value="2026-11-07"`, `name="to" value="2026-12-06"`, `<option value="day" selected>`,
		`href="/admin/reports.csv?by=day&amp;from=2026-11-07&amp;to=2026-12-06"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	tables := reportTables(t, a.body)
	if len(tables) != 3 {
		t.Fatalf("currencies %v, want EUR, JPY and USD each on its own", tables)
	}
	// Currencies are never added together; amounts carry their currency
	// and its exponent; the average rounds half up (30.01/2 = 15.005).
	wantTable(t, "EUR", tables["EUR"], [][]string{
		{"2026-12-01", "2", "1", "50.00 %", "30.01 EUR", "10.00 EUR", "15.01 EUR"},
		{"2026-12-02", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
		{"2026-12-03", "1", "1", "100.00 %", "5.00 EUR", "5.00 EUR", "5.00 EUR"},
		{"All", "4", "2", "50.00 %", "135.01 EUR", "15.00 EUR", "33.75 EUR"},
	})
	wantTable(t, "JPY", tables["JPY"], [][]string{
		{"2026-12-02", "1", "1", "100.00 %", "500 JPY", "500 JPY", "500 JPY"},
		{"All", "1", "1", "100.00 %", "500 JPY", "500 JPY", "500 JPY"},
	})
	wantTable(t, "USD", tables["USD"], [][]string{
		{"2026-12-03", "1", "1", "100.00 %", "7.50 USD", "7.50 USD", "7.50 USD"},
		{"All", "1", "1", "100.00 %", "7.50 USD", "7.50 USD", "7.50 USD"},
	})

	// The charts: SVG over the 30 days, a bar per day with payments and
	// the rate as one line through the three consecutive days.
	eur := sectionOf.FindStringSubmatch(a.body)[2]
	volume := eur[strings.Index(eur, `data-chart="volume"`):strings.Index(eur, `data-chart="rate"`)]
	rate := eur[strings.Index(eur, `data-chart="rate"`):strings.Index(eur, `<table`)]
	if n := strings.Count(volume, `<rect class="bar"`); n != 3 {
		t.Errorf("%d volume bars, want 3", n)
	}
	if !strings.Contains(volume, "<title>2026-12-01: 2 payments</title>") {
		t.Error("the volume bars have no titles")
	}
	if n, m := strings.Count(rate, `<circle class="dot"`), strings.Count(rate, `<polyline class="line"`); n != 3 || m != 1 {
		t.Errorf("rate: %d dots and %d lines, want 3 and 1", n, m)
	}
	if !strings.Contains(rate, "2026-12-01: 50.00 % approved (1 of 2)") {
		t.Error("the rate dots have no titles")
	}
	// Nothing the CSP refuses: no inline script, no style attribute.
	if strings.Contains(a.body, "style=") || regexp.MustCompile(`<script(?:\s|>)`).MatchString(a.body) || strings.Contains(a.body, "<style") {
		t.Error("the page has inline style or script")
	}

	// One merchant, one day: m2's payment only.
	a = b.do("GET", "/admin/reports?from=2026-12-02&to=2026-12-02&merchant=m2", nil)
	wantTable(t, "m2 on Dec 2", reportTables(t, a.body)["EUR"], [][]string{
		{"2026-12-02", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
		{"All", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
	})
	if n := len(reportTables(t, a.body)); n != 1 {
		t.Errorf("m2 has payments in %d currencies, want 1", n)
	}
	a = b.do("GET", "/admin/reports?merchant=nobody", nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, `id="report-empty"`) {
		t.Errorf("a merchant without payments: %d", a.status)
	}
}

func TestReportGroupings(t *testing.T) {
	e := newReportEnv(t)
	b := e.browser()
	b.signIn("root", "pw-root")
	for _, c := range []struct {
		by   string
		want [][]string
	}{
		{"method", [][]string{
			{"(no method chosen)", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
			{"bank_redirect", "1", "1", "100.00 %", "5.00 EUR", "5.00 EUR", "5.00 EUR"},
			{"card", "2", "1", "50.00 %", "30.01 EUR", "10.00 EUR", "15.01 EUR"},
			{"All", "4", "2", "50.00 %", "135.01 EUR", "15.00 EUR", "33.75 EUR"},
		}},
		{"provider", [][]string{
			{"(not routed)", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
			{`=HYPERLINK("https://evil.example")`, "1", "1", "100.00 %", "5.00 EUR", "5.00 EUR", "5.00 EUR"},
			{"sandbox", "2", "1", "50.00 %", "30.01 EUR", "10.00 EUR", "15.01 EUR"},
			{"All", "4", "2", "50.00 %", "135.01 EUR", "15.00 EUR", "33.75 EUR"},
		}},
		{"arm", [][]string{
			{"(no experiment)", "1", "0", "0.00 %", "100.00 EUR", "0.00 EUR", "100.00 EUR"},
			{"exp-a/@arm", "1", "1", "100.00 %", "5.00 EUR", "5.00 EUR", "5.00 EUR"},
			{"exp-a/control", "1", "1", "100.00 %", "10.00 EUR", "10.00 EUR", "10.00 EUR"},
			{"exp-a/treatment", "1", "0", "0.00 %", "20.01 EUR", "0.00 EUR", "20.01 EUR"},
			{"All", "4", "2", "50.00 %", "135.01 EUR", "15.00 EUR", "33.75 EUR"},
		}},
	} {
		a := b.do("GET", "/admin/reports?by="+c.by, nil)
		if a.status != http.StatusOK {
			t.Fatalf("by %s: %d", c.by, a.status)
		}
		wantTable(t, "EUR by "+c.by, reportTables(t, a.body)["EUR"], c.want)
		eur := sectionOf.FindStringSubmatch(a.body)[2]
		if n := strings.Count(eur, `<rect class="bar"`); n != 2*(len(c.want)-1) {
			t.Errorf("by %s: %d bars, want %d (volume and rate per group)", c.by, n, 2*(len(c.want)-1))
		}
	}
}

func TestReportCSV(t *testing.T) {
	e := newReportEnv(t)
	b := e.browser()
	b.signIn("vera", "pw-vera")
	a := b.do("GET", "/admin/reports.csv?by=provider&from=2026-12-01&to=2026-12-06", nil)
	if a.status != http.StatusOK {
		t.Fatalf("csv: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := a.header.Get("Content-Disposition"); cd != `attachment; filename="paywire-report-provider-2026-12-01-2026-12-06.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"group", "experiment", "arm", "currency", "payments", "approved", "approval_rate_percent", "amount", "approved_amount", "average_amount"},
		{"", "", "", "EUR", "1", "0", "0.00", "100.00", "0.00", "100.00"},
		// A cell a spreadsheet would take for a formula starts with a quote.
		{`'=HYPERLINK("https://evil.example")`, "", "", "EUR", "1", "1", "100.00", "5.00", "5.00", "5.00"},
		{"sandbox", "", "", "EUR", "2", "1", "50.00", "30.01", "10.00", "15.01"},
		{"sandbox", "", "", "JPY", "1", "1", "100.00", "500", "500", "500"},
		{"sandbox", "", "", "USD", "1", "1", "100.00", "7.50", "7.50", "7.50"},
	}
	wantTable(t, "CSV by provider", records, want)

	a = b.do("GET", "/admin/reports.csv?by=arm&from=2026-12-01&to=2026-12-06&merchant=m1", nil)
	records, err = csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Rows come by group, then currency: the payments outside experiments
	// (JPY, USD) first.
	if len(records) != 6 || strings.Join(records[3][:4], "|") != "exp-a/@arm|exp-a|'@arm|EUR" {
		t.Errorf("CSV by arm: %q", records)
	}
}

func TestReportBadParameters(t *testing.T) {
	e := newReportEnv(t)
	b := e.browser()
	b.signIn("vera", "pw-vera")
	for _, c := range []struct{ query, want string }{
		{"from=2026-13-01", "not a date"},
		{"to=yesterday", "not a date"},
		{"from=2026-12-06&to=2026-12-01", "after the end date"},
		{"from=2025-01-01&to=2026-01-02", "366 days"},
		{"by=week", "grouped by day, method, provider or arm"},
		{"merchant=" + strings.Repeat("m", 200), "longer than 128"},
		{"by=%3Cscript%3E", "grouped by"},
	} {
		a := b.do("GET", "/admin/reports?"+c.query, nil)
		if a.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(a.body), c.want) || !strings.Contains(a.body, `id="report-form"`) {
			t.Errorf("%s: %d, want 400 with %q and the form", c.query, a.status, c.want)
		}
		if strings.Contains(a.body, "<script>") {
			t.Errorf("%s: the parameter reaches the page unescaped", c.query)
		}
		if a := b.do("GET", "/admin/reports.csv?"+c.query, nil); a.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(a.body), c.want) {
			t.Errorf("CSV %s: %d, want 400 with %q", c.query, a.status, c.want)
		}
	}
	// 366 days, both included, is the longest period.
	if a := b.do("GET", "/admin/reports?from=2025-12-06&to=2026-12-06", nil); a.status != http.StatusOK {
		t.Errorf("366 days: %d", a.status)
	}
}

func TestReportsNeedDependencies(t *testing.T) {
	e := newEnv(t, map[string][]string{"root": {"admin"}})
	b := e.browser()
	b.signIn("root", "pw-root")
	if a := b.do("GET", "/admin/reports", nil); a.status != http.StatusNotFound {
		t.Errorf("reports without a reporter: %d", a.status)
	}
}
