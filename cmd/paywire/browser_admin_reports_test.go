package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store/storetest"
)

// TestBrowserAdminReports opens the reports page in Chromium, under the
// back office's CSP: the SVG charts are drawn and styled by reports.css,
// the grouping and the period can be changed, a bad period shows its
// problem, and nothing is written to the console (a CSP violation would
// be). It serves the back office with a reporter of its own, so that it
// does not depend on how serve wires the areas. It runs only with
// PAYWIRE_TEST_BROWSER set.
func TestBrowserAdminReports(t *testing.T) {
	if os.Getenv("PAYWIRE_TEST_BROWSER") == "" {
		t.Skip("set PAYWIRE_TEST_BROWSER=1 to run the browser tests")
	}
	exe := chromium(t)
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	hash, err := credential.Hash("viewer-password-for-reports", credential.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "vera", PasswordHash: hash, Roles: []string{"viewer"}}); err != nil {
		t.Fatal(err)
	}
	storetest.SeedMerchant(t, db, "shop")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for i := range 24 {
		amt, _ := paywire.NewMoney(int64(500+i*137), []string{"EUR", "EUR", "USD"}[i%3]) // known currencies
		p := &paywire.Payment{MerchantID: "shop", MerchantReference: fmt.Sprint("order-", i), Kind: paywire.KindDeposit, Amount: amt,
			Method: paywire.Methods[(i/3)%len(paywire.Methods)], Provider: []string{"sandbox", "acme"}[i%2]}
		at := today.Add(-time.Duration(i%9)*24*time.Hour + time.Hour)
		if err := db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, at)); err != nil {
			t.Fatal(err)
		}
		if i%4 != 0 {
			storetest.Move(t, db, p, paywire.Move{To: paywire.StateCompleted, Capture: amt.Amount})
		} else {
			storetest.Move(t, db, p, paywire.Move{To: paywire.StateRefused})
		}
	}
	r := chi.NewRouter()
	(&admin.App{Users: db, Sessions: db, Audit: db, Gate: credential.NewGate(2, time.Second),
		ReportPages: admin.ReportPages{Reports: db}}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1200, 1400))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	var (
		mu      sync.Mutex
		console []string
	)
	cctx, ccancel := context.WithCancel(bctx)
	t.Cleanup(ccancel)
	messages := chromedp.Console(cctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				console = append(console, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v\n%.3000s", what, err, html)
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("PAYWIRE_TEST_ARTIFACTS")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}

	do("sign in",
		chromedp.Navigate(srv.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=username]`), "vera"),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), "viewer-password-for-reports"),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sign-out`)))
	do("the reports page, by day",
		chromedp.Navigate(srv.URL+"/admin/reports"),
		chromedp.WaitVisible(chromedp.CSS(`#report-EUR svg.chart-svg`)))
	shot("admin-reports-by-day")
	// Drawn and styled: bars and the rate line have their size and the
	// colours of reports.css, which only loads if the CSP allows it.
	got := eval("the charts", `(() => {
		const s = document.querySelector('#report-EUR svg.chart-svg'), box = s.getBoundingClientRect();
		const bar = document.querySelector('#report-EUR rect.bar'), line = document.querySelector('#report-EUR polyline.line');
		return [document.querySelectorAll('#report-EUR rect.bar').length > 0, box.width > 300, box.height > 80,
			bar && bar.getBoundingClientRect().height > 0, !!line, getComputedStyle(bar).fill, getComputedStyle(line).fill].join(' ');
	})()`)
	if got != "true true true true true rgb(36, 80, 178) none" {
		t.Errorf("the charts by day: %s", got)
	}

	do("by method",
		chromedp.SetValue(chromedp.CSS(`#report-form select[name=by]`), "method"),
		chromedp.Click(chromedp.CSS(`#report-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#report-USD .chart-rate rect.bar`)))
	shot("admin-reports-by-method")
	if n := eval("bars by method", `String(document.querySelectorAll('#report-EUR rect.bar').length)`); n != "6" {
		t.Errorf("%s bars by method in EUR, want 6 (3 methods, volume and rate)", n)
	}
	if csv := eval("the CSV link", `document.querySelector('#report-csv').getAttribute('href')`); !strings.Contains(csv, "by=method") {
		t.Errorf("the CSV link %q does not carry the grouping", csv)
	}

	do("a period too long",
		chromedp.Navigate(srv.URL+"/admin/reports?from=2020-01-01&to=2026-01-01"),
		chromedp.WaitVisible(chromedp.CSS(`p.problem`)))
	if p := eval("the problem", `document.querySelector('p.problem').textContent`); !strings.Contains(p, "366 days") {
		t.Errorf("problem %q", p)
	}

	time.Sleep(200 * time.Millisecond) // the last page's console messages
	mu.Lock()
	defer mu.Unlock()
	var errs []string
	for _, m := range console {
		// The 400 answer itself is logged by the browser, and so is the
		// favicon this bare server lacks; both are expected.
		if !strings.Contains(m, "400 (Bad Request)") && !strings.Contains(m, "/favicon.ico)") {
			errs = append(errs, m)
		} else {
			t.Logf("expected: %s", m)
		}
	}
	if len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
