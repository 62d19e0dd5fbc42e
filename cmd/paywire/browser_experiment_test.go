package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paywire/paywire"
)

// TestBrowserExperimentPage pays two EUR card deposits on the hosted pages
// (the default bundle's acquirer-split experiment takes them, by the demo
// shop's customer id), then opens the experiment's results in the back
// office: the arm the customer is in counts both payments, the chart draws
// its rate and interval under the CSP, the note says the sample is too
// small, the JSON and CSV links carry the period, and nothing is written
// to the console.
func TestBrowserExperimentPage(t *testing.T) {
	e := newBrowserEnv(t)
	console := e.console(t)
	e.adminUser(t, "vera", "vera-password-for-browser-tests", "viewer")

	var ids []string
	for range 2 {
		e.shop(t, "DE", "en", "card")
		e.payByCard(t, "4242424242424242", "")
		_, _, id := e.result(t)
		e.eventually(t, id, e.paid(t, id))
		ids = append(ids, id)
	}
	x := e.main.Engine.Active().Experiments()[0]
	arm := x.Assign("customer-DE").Name // the demo shop's customer in Germany
	today := time.Now().UTC()
	tallies, err := e.main.DB.ExperimentTallies(context.Background(), paywire.ExperimentRequest{Experiment: x.Name,
		From: today.Add(-time.Hour), To: today.Add(time.Hour), Latencies: true})
	if err != nil || len(tallies) != 1 || tallies[0].Arm != arm || tallies[0].Approved != 2 || len(tallies[0].Latencies) != 2 {
		t.Fatalf("tallies of %s: %+v, %v; want both payments approved in arm %s", x.Name, tallies, err, arm)
	}

	e.signIn(t, "vera", "vera-password-for-browser-tests")
	e.run(t, "the experiments",
		chromedp.Navigate(e.base+"/admin/experiments"),
		chromedp.WaitVisible(chromedp.CSS(`#experiments a[href="/admin/experiments/`+x.Name+`"]`)),
		chromedp.Click(chromedp.CSS(`#experiments a[href="/admin/experiments/`+x.Name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg[data-chart=arms] circle.dot`)))
	e.shot(t, "admin-experiment")
	if got := e.text(t, "#arm-"+arm); !strings.Contains(got, "100.0 %") || !strings.Contains(got, "acquirer") {
		t.Errorf("arm %s: %q", arm, got)
	}
	if got := e.text(t, "#experiment-notes"); !strings.Contains(got, "Too few payments") {
		t.Errorf("notes: %q", got)
	}
	// Drawn and styled: the dot sits at 100 % and has the colour of
	// reports.css, which only loads if the CSP allows it.
	drawn := get(t, e, "the chart", chromedp.Evaluate[string](`(() => {
		const dots = document.querySelectorAll('svg[data-chart=arms] circle.dot'), bar = document.querySelector('svg[data-chart=arms] line.interval');
		return [dots.length, dots[0].getAttribute('cx'), getComputedStyle(dots[0]).fill, bar.getBoundingClientRect().width > 1].join(' ');
	})()`))
	if drawn != "1 620 rgb(28, 107, 53) true" {
		t.Errorf("the chart: %q", drawn)
	}
	csv := get(t, e, "the CSV link", chromedp.AttributeValue(chromedp.CSS(`#results-csv`), "href")).Value
	if !strings.Contains(csv, "/admin/experiments/"+x.Name+"/results.csv?") || !strings.Contains(csv, "from=") {
		t.Errorf("the CSV link %q", csv)
	}
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
