package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
)

// The charts are SVG drawn here and rendered by reports.html: no chart
// library and no script at all. The page's data is already aggregated (at
// most 366 groups per currency), SVG needs nothing the CSP forbids (its
// look comes from classes in reports.css, never style attributes), the
// page works without JavaScript, and the drawing is tested with the rest
// of the page.

// PaymentReporter counts and sums payments for reports. store.DB
// implements it.
type PaymentReporter interface {
	// PaymentReport returns the rows of r, one per group and currency,
	// ordered by group and currency; groups without payments have no row.
	// Returns EINVALID for an invalid request.
	PaymentReport(ctx context.Context, r paywire.ReportRequest) ([]paywire.ReportRow, error)
}

// ReportPages are the dependencies of reports with charts and CSV; the area
// is mounted when they are set.
type ReportPages struct {
	// Reports runs the reports' queries (store.DB); every role may read
	// them, for every merchant.
	Reports PaymentReporter
}

// mountReports adds the area's routes and navigation entries.
func (a *App) mountReports(r chi.Router) {
	if a.ReportPages.Reports == nil {
		return
	}
	a.section("/admin/reports", "Reports", paywire.Roles...)
	r.Get("/reports", a.allow(a.report, paywire.Roles...))
	r.Get("/reports.csv", a.allow(a.reportCSV, paywire.Roles...))
}

// reportDays is the period a report covers when none is asked for: the
// last 30 days, today included.
const reportDays = 30

// reportGroupings are the choices of the form, in its order.
var reportGroupings = []paywire.ReportGrouping{paywire.GroupByDay, paywire.GroupByMethod, paywire.GroupByProvider, paywire.GroupByArm}

// reportForm is the report's form as asked (or defaulted), shown again
// with the result or the problem.
type reportForm struct {
	From, To, Merchant, By string
}

// reportRequest reads the query: from and to are UTC days, both included;
// merchant is a merchant id ("" for every merchant); by is the grouping.
// Returns EINVALID with a readable message for a bad parameter.
func (a *App) reportRequest(r *http.Request) (reportForm, paywire.ReportRequest, error) {
	q := r.URL.Query()
	today := a.Now().UTC().Truncate(24 * time.Hour)
	f := reportForm{
		From:     strings.TrimSpace(q.Get("from")),
		To:       strings.TrimSpace(q.Get("to")),
		Merchant: strings.TrimSpace(q.Get("merchant")),
		By:       strings.TrimSpace(q.Get("by")),
	}
	if f.By == "" {
		f.By = string(paywire.GroupByDay)
	}
	to, err := parseDay("end", f.To, today)
	if err != nil {
		return f, paywire.ReportRequest{}, err
	}
	from, err := parseDay("start", f.From, to.AddDate(0, 0, 1-reportDays))
	if err != nil {
		return f, paywire.ReportRequest{}, err
	}
	f.From, f.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	req := paywire.ReportRequest{From: from, To: to.AddDate(0, 0, 1), MerchantID: f.Merchant, GroupBy: paywire.ReportGrouping(f.By)}
	switch {
	case from.After(to):
		return f, req, paywire.Errorf(paywire.EINVALID, "the start date %s is after the end date %s", f.From, f.To)
	case !slices.Contains(reportGroupings, req.GroupBy):
		return f, req, paywire.Errorf(paywire.EINVALID, "a report is grouped by day, method, provider or arm, not %q", reportClip(f.By, 32))
	}
	if err := req.Validate(); err != nil {
		return f, req, err
	}
	return f, req, nil
}

// parseDay reads a form's UTC day (2026-01-31); def when s is empty.
// Returns EINVALID naming the field (start, end) for anything else.
func parseDay(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, paywire.Errorf(paywire.EINVALID, "the %s date %q is not a date like 2026-01-31", name, reportClip(s, 32))
	}
	return t, nil
}

// reportClip shortens s to n bytes (and an ellipsis), for a message or a
// label that must stay short whatever was asked.
func reportClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// reportView is the report page's data.
type reportView struct {
	Form      reportForm
	Groupings []paywire.ReportGrouping
	CSV       string // the export's URL, with the same parameters
	Shown     bool   // a report was made (none on a bad request)
	Label     string // the groups' heading: Day, Method, ...
	Sections  []currencySection
}

// currencySection is the report of one currency: amounts of different
// currencies are never added together.
type currencySection struct {
	Currency     string
	Rows         []reportLine
	Total        reportLine // the currency's payments in all the groups
	Volume, Rate reportChart
}

// reportLine is a row of the table, formatted.
type reportLine struct {
	Group                                 string
	Payments, Approved                    int64
	Rate, Amount, ApprovedAmount, Average string
	rateBP                                int64
}

func (a *App) report(w http.ResponseWriter, r *http.Request) {
	form, req, err := a.reportRequest(r)
	v := reportView{Form: form, Groupings: reportGroupings}
	if err != nil {
		a.render(w, r, http.StatusBadRequest, "reports", page{Title: "Reports", Problem: paywire.ErrorMessage(err), Data: v})
		return
	}
	rows, err := a.ReportPages.Reports.PaymentReport(r.Context(), req)
	if err != nil {
		if paywire.ErrorCode(err) == paywire.EINVALID {
			a.render(w, r, http.StatusBadRequest, "reports", page{Title: "Reports", Problem: paywire.ErrorMessage(err), Data: v})
			return
		}
		a.problem(w, r, err)
		return
	}
	q := url.Values{"from": {form.From}, "to": {form.To}, "by": {form.By}}
	if form.Merchant != "" {
		q.Set("merchant", form.Merchant)
	}
	v.CSV, v.Shown, v.Label = "/admin/reports.csv?"+q.Encode(), true, reportGroupLabel(req.GroupBy)
	v.Sections, err = reportSections(req, rows)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "reports", page{Title: "Reports", Data: v})
}

func reportGroupLabel(g paywire.ReportGrouping) string {
	switch g {
	case paywire.GroupByMethod:
		return "Method"
	case paywire.GroupByProvider:
		return "Provider"
	case paywire.GroupByArm:
		return "Experiment / arm"
	}
	return "Day"
}

// reportGroupName is how a group is shown: its key, or what an empty key means.
func reportGroupName(g paywire.ReportGrouping, key string) string {
	if key != "" {
		return key
	}
	switch g {
	case paywire.GroupByMethod:
		return "(no method chosen)"
	case paywire.GroupByProvider:
		return "(not routed)"
	case paywire.GroupByArm:
		return "(no experiment)"
	}
	return "(none)"
}

// money formats minor units of the currency with its exponent.
func reportMoney(minor int64, c paywire.Currency) paywire.Money {
	return paywire.Money{Amount: minor, Currency: c}
}

// percent formats basis points as a percentage with two decimals.
func ratePercent(bp int64) string {
	return fmt.Sprintf("%d.%02d", bp/100, bp%100)
}

// reportSections splits rows by currency, in currency order, and draws
// the charts of each. A currency the domain does not know is an internal
// error: the store only holds payments in known currencies.
func reportSections(req paywire.ReportRequest, rows []paywire.ReportRow) ([]currencySection, error) {
	byCurrency := map[string][]paywire.ReportRow{}
	for _, row := range rows {
		byCurrency[row.Currency] = append(byCurrency[row.Currency], row)
	}
	codes := make([]string, 0, len(byCurrency))
	for c := range byCurrency {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	out := make([]currencySection, 0, len(codes))
	for _, code := range codes {
		cur, err := paywire.LookupCurrency(code)
		if err != nil || !cur.Payable() {
			return nil, fmt.Errorf("admin: report row in currency %q: %v", code, err)
		}
		s := currencySection{Currency: code}
		var total paywire.ReportRow
		for _, row := range byCurrency[code] {
			s.Rows = append(s.Rows, reportLineOf(reportGroupName(req.GroupBy, row.Group), row, cur))
			total.Payments += row.Payments
			total.Approved += row.Approved
			total.Amount += row.Amount
			total.ApprovedAmount += row.ApprovedAmount
		}
		total.Complete()
		s.Total = reportLineOf("All", total, cur)
		if req.GroupBy == paywire.GroupByDay {
			s.Volume, s.Rate = reportDayCharts(req, s.Rows)
		} else {
			s.Volume, s.Rate = reportGroupCharts(reportGroupLabel(req.GroupBy), s.Rows)
		}
		out = append(out, s)
	}
	return out, nil
}

func reportLineOf(group string, row paywire.ReportRow, cur paywire.Currency) reportLine {
	return reportLine{
		Group: group, Payments: row.Payments, Approved: row.Approved,
		Rate:           ratePercent(row.ApprovalRate) + " %",
		Amount:         reportMoney(row.Amount, cur).String(),
		ApprovedAmount: reportMoney(row.ApprovedAmount, cur).String(),
		Average:        reportMoney(row.AverageAmount, cur).String(),
		rateBP:         row.ApprovalRate,
	}
}

// reportChart is an SVG chart in a viewBox of Width x Height, its plot area
// between Left, Right, Top and Bottom.
type reportChart struct {
	Title, Kind              string
	Width, Height            int
	Left, Right, Top, Bottom float64
	YTicks, XTicks           []chartTick
	Bars                     []chartBar
	Lines                    []string // polyline points
	Dots                     []chartDot
}

type chartTick struct {
	At    float64 // y of a Y tick, x of an X tick
	Label string
}

type chartBar struct {
	X, Y, W, H float64
	Title      string
}

type chartDot struct {
	X, Y  float64
	Title string
}

// Chart geometry, in viewBox units.
const (
	chartWidth, chartHeight = 720, 240
	chartLeft, chartRight   = 56, 708
	chartTop, chartBottom   = 12, 200
	maxXTicks               = 8
	maxLabel                = 14 // characters of a group's label under its bars
	charWidth               = 9  // about, at reports.css's font size of 15
)

func newReportChart(title, kind string) reportChart {
	return reportChart{Title: title, Kind: kind, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom}
}

// chartRound keeps one decimal: enough for a viewBox, and short in the page.
func chartRound(x float64) float64 { return math.Round(x*10) / 10 }

// chartCountScale returns the top of a count axis at or above max and its
// step: 1, 2 or 5 times a power of ten, four steps at most.
func chartCountScale(maxCount int64) (top, step int64) {
	if maxCount <= 0 {
		return 4, 1
	}
	raw := float64(maxCount) / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = max(int64(math.Ceil(m*p)), 1)
			break
		}
	}
	top = (maxCount + step - 1) / step * step
	return top, step
}

func (c *reportChart) countAxis(maxCount int64) func(int64) float64 {
	top, step := chartCountScale(maxCount)
	y := func(n int64) float64 { return chartRound(c.Bottom - (c.Bottom-c.Top)*float64(n)/float64(top)) }
	for n := int64(0); n <= top; n += step {
		c.YTicks = append(c.YTicks, chartTick{At: y(n), Label: strconv.FormatInt(n, 10)})
	}
	return y
}

func (c *reportChart) rateAxis() func(bp int64) float64 {
	y := func(bp int64) float64 { return chartRound(c.Bottom - (c.Bottom-c.Top)*float64(bp)/10000) }
	for bp := int64(0); bp <= 10000; bp += 2500 {
		c.YTicks = append(c.YTicks, chartTick{At: y(bp), Label: strconv.FormatInt(bp/100, 10) + " %"})
	}
	return y
}

// slots divides the plot's width into n slots: the left edge of slot i and
// the width of a bar in it.
func (c *reportChart) slots(n int, fill, maxWidth float64) (left func(i int) float64, width float64) {
	slot := (c.Right - c.Left) / float64(max(n, 1))
	width = min(max(slot*fill, 0.5), maxWidth)
	return func(i int) float64 { return c.Left + slot*float64(i) + (slot-width)/2 }, width
}

// reportDayCharts draws payments per day as bars and the approval rate as a
// line over every day of the period; a day without payments has no rate,
// so the line breaks there.
func reportDayCharts(req paywire.ReportRequest, rows []reportLine) (volume, rate reportChart) {
	byDay := map[string]reportLine{}
	var most int64
	for _, r := range rows {
		byDay[r.Group] = r
		most = max(most, r.Payments)
	}
	var days []string
	for d := req.From; d.Before(req.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	volume, rate = newReportChart("Payments per day", "volume"), newReportChart("Approval rate per day", "rate")
	yCount, yRate := volume.countAxis(most), rate.rateAxis()
	left, w := volume.slots(len(days), 0.8, 40)
	every := (len(days) + maxXTicks - 1) / maxXTicks
	var points []string
	for i, d := range days {
		x := chartRound(left(i))
		mid := chartRound(left(i) + w/2)
		if i%every == 0 {
			t, _ := time.Parse(time.DateOnly, d)
			label := chartTick{At: mid, Label: t.Format("Jan 2")}
			volume.XTicks, rate.XTicks = append(volume.XTicks, label), append(rate.XTicks, label)
		}
		r, ok := byDay[d]
		if !ok {
			if len(points) > 1 {
				rate.Lines = append(rate.Lines, strings.Join(points, " "))
			}
			points = nil
			continue
		}
		y := yCount(r.Payments)
		volume.Bars = append(volume.Bars, chartBar{X: x, Y: y, W: chartRound(w), H: chartRound(volume.Bottom - y),
			Title: fmt.Sprintf("%s: %d payments", d, r.Payments)})
		ry := yRate(r.rateBP)
		rate.Dots = append(rate.Dots, chartDot{X: mid, Y: ry, Title: fmt.Sprintf("%s: %s approved (%d of %d)", d, r.Rate, r.Approved, r.Payments)})
		points = append(points, strconv.FormatFloat(mid, 'f', -1, 64)+","+strconv.FormatFloat(ry, 'f', -1, 64))
	}
	if len(points) > 1 {
		rate.Lines = append(rate.Lines, strings.Join(points, " "))
	}
	return volume, rate
}

// reportGroupCharts draws payments and approval rate per group as bars.
func reportGroupCharts(label string, rows []reportLine) (volume, rate reportChart) {
	label = strings.ToLower(label)
	volume, rate = newReportChart("Payments per "+label, "volume"), newReportChart("Approval rate per "+label, "rate")
	var most int64
	for _, r := range rows {
		most = max(most, r.Payments)
	}
	yCount, yRate := volume.countAxis(most), rate.rateAxis()
	left, w := volume.slots(len(rows), 0.7, 64)
	// Labels are left out at even intervals where they would overlap; the
	// bars' titles and the table name every group.
	longest := 1
	for _, r := range rows {
		longest = max(longest, len([]rune(reportClip(r.Group, maxLabel))))
	}
	fit := max(int((volume.Right-volume.Left)/float64(longest*charWidth+12)), 1)
	every := (len(rows) + fit - 1) / fit
	for i, r := range rows {
		x, mid := chartRound(left(i)), chartRound(left(i)+w/2)
		if i%every == 0 {
			label := chartTick{At: mid, Label: reportClip(r.Group, maxLabel)}
			volume.XTicks, rate.XTicks = append(volume.XTicks, label), append(rate.XTicks, label)
		}
		y := yCount(r.Payments)
		volume.Bars = append(volume.Bars, chartBar{X: x, Y: y, W: chartRound(w), H: chartRound(volume.Bottom - y),
			Title: fmt.Sprintf("%s: %d payments", r.Group, r.Payments)})
		ry := yRate(r.rateBP)
		rate.Bars = append(rate.Bars, chartBar{X: x, Y: ry, W: chartRound(w), H: chartRound(rate.Bottom - ry),
			Title: fmt.Sprintf("%s: %s approved (%d of %d)", r.Group, r.Rate, r.Approved, r.Payments)})
	}
	return volume, rate
}

// reportCSV answers the report as CSV: a header row, then one row per
// group and currency as the store returns them. Amounts are decimal
// strings with the currency's exponent; the rate is a percentage with two
// decimals.
func (a *App) reportCSV(w http.ResponseWriter, r *http.Request) {
	form, req, err := a.reportRequest(r)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	rows, err := a.ReportPages.Reports.PaymentReport(r.Context(), req)
	if err != nil {
		a.problem(w, r, err)
		return
	}
	records := [][]string{{"group", "experiment", "arm", "currency", "payments", "approved", "approval_rate_percent", "amount", "approved_amount", "average_amount"}}
	for _, row := range rows {
		cur, err := paywire.LookupCurrency(row.Currency)
		if err != nil || !cur.Payable() {
			a.problem(w, r, fmt.Errorf("admin: report row in currency %q: %v", row.Currency, err))
			return
		}
		records = append(records, []string{
			spreadsheetSafe(row.Group), spreadsheetSafe(row.Experiment), spreadsheetSafe(row.Arm), spreadsheetSafe(row.Currency),
			strconv.FormatInt(row.Payments, 10), strconv.FormatInt(row.Approved, 10), ratePercent(row.ApprovalRate),
			reportMoney(row.Amount, cur).Decimal(), reportMoney(row.ApprovedAmount, cur).Decimal(), reportMoney(row.AverageAmount, cur).Decimal(),
		})
	}
	name := fmt.Sprintf("paywire-report-%s-%s-%s.csv", form.By, form.From, form.To)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.WriteAll(records) // the client went away: nothing to answer
}

// spreadsheetSafe keeps a text cell from being read as a formula by a spreadsheet:
// a cell starting with = + - @ (or a tab or carriage return, which some
// spreadsheets skip) gets a leading apostrophe.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
