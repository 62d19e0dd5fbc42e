package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// The browser tests drive the whole redirect flow in headless Chromium:
// the demo shop calls getRedirectData over SOAP, the end user pays on the
// hosted pages, the sandbox provider's challenge and bank pages, the
// provider listeners, and the shop's result page. They run when Chromium
// is installed, and must run (fail without it) when PAYWIRE_TEST_BROWSER=1.

// browserEnv is a Paywire serving the demo on a free port, with a browser.
type browserEnv struct {
	main    *Main
	base    string
	logs    *syncBuffer
	dbPath  string
	browser context.Context
	shots   string // where screenshots go
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var testTokenKey = bytes.Repeat([]byte{7}, 32)

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("PAYWIRE_TEST_BROWSER") == "1" {
		t.Fatal("PAYWIRE_TEST_BROWSER=1 but no Chromium: apt-get install -y --no-install-recommends chromium fonts-liberation")
	}
	t.Skip("Chromium is not installed; the browser tests need it (apt-get install chromium fonts-liberation, or set PAYWIRE_TEST_BROWSER=1 to fail instead)")
	return ""
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	exe := chromium(t)
	dir := t.TempDir()
	logs := &syncBuffer{}
	cfg := Config{Addr: "127.0.0.1:0", DB: filepath.Join(dir, "paywire.db"), Demo: true, Migrate: true,
		LogLevel: "debug", ShutdownTimeout: 5 * time.Second, MaxBodyBytes: 1 << 20, TokenKey: testTokenKey,
		DemoSecret: "demo-secret-for-browser-tests"}
	m := NewMain(cfg, io.Discard, logs)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1100, 1300))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	shots := os.Getenv("PAYWIRE_TEST_ARTIFACTS")
	if shots == "" {
		shots = filepath.Join(dir, "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browserEnv{main: m, base: "http://" + m.Addr(), logs: logs, dbPath: cfg.DB, browser: bctx, shots: shots}
}

// run runs browser steps with a deadline, dumping the page on failure.
func (e *browserEnv) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, e, what, chromedp.Steps(steps...))
}

// get runs one action that returns a value, with a deadline, dumping the
// page on failure.
func get[T any](t *testing.T, e *browserEnv, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.browser, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c2, cancel2 := context.WithTimeout(e.browser, 5*time.Second)
		defer cancel2()
		url, _ := chromedp.Run(c2, chromedp.Location())
		html, _ := chromedp.Run(c2, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("%s: %v\nat %s\n%.3000s", what, err, url, html)
	}
	return v
}

// text returns the text of the first element matching a CSS selector.
func (e *browserEnv) text(t *testing.T, sel string) string {
	t.Helper()
	return get(t, e, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// shot saves a screenshot of the page as a test artifact.
func (e *browserEnv) shot(t *testing.T, name string) {
	t.Helper()
	png := get(t, e, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(e.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shop walks the demo shop to the hosted pages: country, language, the
// method chosen on the shop's PaymentMethodSelection page ("" to choose on
// the hosted pages), then "Pay now".
func (e *browserEnv) shop(t *testing.T, country, language, method string) {
	t.Helper()
	choose := `#method-any`
	if method != "" {
		choose = `#method-` + method
	}
	e.run(t, "shop",
		chromedp.Navigate(e.base+"/shop/"),
		chromedp.SetValue(chromedp.CSS(`#country`), country),
		chromedp.SetValue(chromedp.CSS(`#language`), language),
		chromedp.Click(chromedp.CSS(`#buy`)),
		chromedp.WaitVisible(chromedp.CSS(`#checkout`)),
		chromedp.Click(chromedp.CSS(choose)),
		chromedp.Click(chromedp.CSS(`#checkout`)),
		chromedp.WaitVisible(chromedp.CSS(`#pay`)),
		chromedp.Click(chromedp.CSS(`#pay`)),
		// Every hosted page has its Cancel button (the shop's pages have
		// none, so this waits for the navigation to end).
		chromedp.WaitVisible(chromedp.CSS(`form.cancel button`)),
	)
}

// payByCard enters a card on the hosted pages and submits it.
func (e *browserEnv) payByCard(t *testing.T, number string, shot string) {
	t.Helper()
	year := fmt.Sprint(time.Now().Year() + 3)
	e.run(t, "card form",
		chromedp.WaitVisible(chromedp.CSS(`#card-number`)),
		chromedp.SendKeys(chromedp.CSS(`#card-number`), number),
		chromedp.SendKeys(chromedp.CSS(`#card-expiry-month`), "12"),
		chromedp.SendKeys(chromedp.CSS(`#card-expiry-year`), year),
		chromedp.SendKeys(chromedp.CSS(`#card-cvc`), testCVC),
		chromedp.SendKeys(chromedp.CSS(`#card-holder`), "Anna Muster"),
	)
	if shot != "" {
		e.shot(t, shot)
	}
	e.run(t, "submit card", chromedp.Click(chromedp.CSS(`form.details button[type=submit]`)))
}

// testCVC is an unusual code, so that a scan can tell it from other data.
const testCVC = "7351"

// result waits for the shop's result page and returns its page name and
// the payment's state as the shop shows it (from getPaymentDetails).
func (e *browserEnv) result(t *testing.T) (page, state, paymentID string) {
	t.Helper()
	e.run(t, "result page", chromedp.WaitVisible(chromedp.CSS(`#result`)))
	page = get(t, e, "result page", chromedp.AttributeValue(chromedp.CSS(`#result`), "data-page")).Value
	return page, e.text(t, "#state"), e.text(t, "#payment")
}

// stored returns the payment's state in the database.
func (e *browserEnv) stored(t *testing.T, id string) paywire.State {
	t.Helper()
	p, err := e.main.DB.Payment(context.Background(), "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	return p.State
}

// paid is the state a card payment the shop's merchant approved ends in:
// completed when its risk score allows the demo merchant's auto-capture
// (30 at most), else authorized.
func (e *browserEnv) paid(t *testing.T, id string) paywire.State {
	t.Helper()
	p, err := e.main.DB.Payment(context.Background(), "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	if p.RiskAction == "" {
		t.Fatalf("payment %s has no risk decision", id)
	}
	if p.RiskScore <= 30 {
		return paywire.StateCompleted
	}
	return paywire.StateAuthorized
}

// eventually waits for the stored state (webhooks arrive asynchronously).
func (e *browserEnv) eventually(t *testing.T, id string, want paywire.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.stored(t, id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s is %s; want %s", id, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBrowserFlows(t *testing.T) {
	e := newBrowserEnv(t)

	t.Run("approved card", func(t *testing.T) {
		e.shop(t, "DE", "en", "")
		e.shot(t, "portal-methods")
		e.run(t, "choose card", chromedp.Click(chromedp.CSS(`button.method[value=card]`)))
		e.payByCard(t, "4242 4242 4242 4242", "portal-card")
		page, state, id := e.result(t)
		e.shot(t, "shop-success")
		want := e.paid(t, id)
		if page != "success" || state != strings.ToUpper(string(want)) || e.stored(t, id) != want {
			t.Fatalf("ended on %s with %s (stored %s); want %s", page, state, e.stored(t, id), want)
		}
	})

	t.Run("refused form and declined card", func(t *testing.T) {
		e.shop(t, "DE", "en", "card")
		e.payByCard(t, "4242 4242 4242 4241", "") // fails the Luhn check
		e.run(t, "inline error", chromedp.WaitVisible(chromedp.CSS(`#card-number-error`)))
		errText := e.text(t, "#card-number-error")
		e.shot(t, "portal-card-error")
		if errText == "" {
			t.Error("no error next to the card number")
		}
		html := get(t, e, "form html", chromedp.OuterHTML(chromedp.CSS("html")))
		if strings.Contains(html, "4241") || strings.Contains(html, testCVC) {
			t.Error("the refused form shows the card number or CVC again")
		}
		// The form keeps expiry and holder; number and CVC are typed again.
		e.run(t, "declined card", chromedp.SendKeys(chromedp.CSS(`#card-number`), "4000000000000002"),
			chromedp.SendKeys(chromedp.CSS(`#card-cvc`), testCVC),
			chromedp.Click(chromedp.CSS(`form.details button[type=submit]`)))
		page, state, id := e.result(t)
		if page != "refused" || state != "REFUSED" || e.stored(t, id) != paywire.StateRefused {
			t.Fatalf("ended on %s with %s", page, state)
		}
	})

	t.Run("3-D Secure approved", func(t *testing.T) {
		e.shop(t, "DE", "en", "card")
		e.payByCard(t, "4000000000003220", "")
		e.run(t, "challenge page", chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)))
		e.shot(t, "sandbox-challenge")
		e.run(t, "approve", chromedp.Click(chromedp.CSS(`button[value=approve]`)))
		page, state, id := e.result(t)
		want := e.paid(t, id)
		// The sandbox's webhook and the end user's return race: when the
		// webhook authorized the payment first, its auto-capture may still
		// be under way as the end user arrives, who then sees AUTHORIZED.
		shown := paywire.State(strings.ToLower(state))
		passed := shown == want || (want == paywire.StateCompleted && shown == paywire.StateAuthorized)
		if page != "success" || !passed {
			t.Fatalf("ended on %s with %s; want %s", page, state, want)
		}
		e.eventually(t, id, want)
	})

	t.Run("3-D Secure denied", func(t *testing.T) {
		e.shop(t, "DE", "en", "card")
		e.payByCard(t, "4000000000003220", "")
		e.run(t, "deny", chromedp.WaitVisible(chromedp.CSS(`button[value=deny]`)), chromedp.Click(chromedp.CSS(`button[value=deny]`)))
		page, state, id := e.result(t)
		if page != "refused" || state != "REFUSED" {
			t.Fatalf("ended on %s with %s", page, state)
		}
		e.eventually(t, id, paywire.StateRefused)
	})

	t.Run("cancel", func(t *testing.T) {
		e.shop(t, "DE", "en", "card")
		e.run(t, "cancel", chromedp.WaitVisible(chromedp.CSS(`form.cancel button`)), chromedp.Click(chromedp.CSS(`form.cancel button`)))
		page, state, id := e.result(t)
		if page != "cancel" || state != "CANCELLED" || e.stored(t, id) != paywire.StateCancelled {
			t.Fatalf("ended on %s with %s", page, state)
		}
	})

	t.Run("bank redirect", func(t *testing.T) {
		e.shop(t, "DE", "en", "bank_redirect")
		e.run(t, "bank form", chromedp.WaitVisible(chromedp.CSS(`#bank-sandbox-bank`)), chromedp.Click(chromedp.CSS(`#bank-sandbox-bank`)))
		e.shot(t, "portal-bank")
		e.run(t, "submit bank", chromedp.Click(chromedp.CSS(`form.details button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), "anna"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "secret"))
		e.shot(t, "sandbox-bank")
		e.run(t, "pay at the bank", chromedp.Click(chromedp.CSS(`button[value=pay]`)))
		page, state, id := e.result(t)
		if page != "success" || state != "COMPLETED" {
			t.Fatalf("ended on %s with %s", page, state)
		}
		e.eventually(t, id, paywire.StateCompleted)
	})

	t.Run("bank redirect cancelled at the bank", func(t *testing.T) {
		e.shop(t, "DE", "en", "bank_redirect")
		e.run(t, "bank form", chromedp.WaitVisible(chromedp.CSS(`#bank-sandbox-bank`)), chromedp.Click(chromedp.CSS(`#bank-sandbox-bank`)))
		e.run(t, "submit bank", chromedp.Click(chromedp.CSS(`form.details button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value=cancel]`)))
		e.run(t, "cancel at the bank", chromedp.Click(chromedp.CSS(`button[value=cancel]`)))
		page, state, id := e.result(t)
		if page != "cancel" || state != "CANCELLED" {
			t.Fatalf("ended on %s with %s", page, state)
		}
		e.eventually(t, id, paywire.StateCancelled)
	})

	t.Run("German pages", func(t *testing.T) {
		e.shop(t, "DE", "de", "")
		lang := get(t, e, "German", chromedp.AttributeValue(chromedp.CSS(`html`), "lang")).Value
		body := e.text(t, "main")
		e.shot(t, "portal-methods-de")
		if lang != "de" || !strings.Contains(body, "Zahl") {
			t.Errorf("lang %q, text %q", lang, body)
		}
		e.run(t, "choose card", chromedp.Click(chromedp.CSS(`button.method[value=card]`)))
		e.payByCard(t, "4242424242424241", "")
		e.run(t, "German error", chromedp.WaitVisible(chromedp.CSS(`#card-number-error`)))
		errText := e.text(t, "#card-number-error")
		e.shot(t, "portal-card-error-de")
		if !strings.Contains(strings.ToLower(errText), "karte") && !strings.Contains(strings.ToLower(errText), "nummer") {
			t.Errorf("the German error reads %q", errText)
		}
	})

	t.Run("expired link", func(t *testing.T) {
		// A real payment, and a link to it that expired a minute ago,
		// posted from a page of another site as a merchant would.
		amt, _ := paywire.NewMoney(1000, "EUR")
		p := &paywire.Payment{MerchantID: "demo", MerchantReference: "expired-1", Kind: paywire.KindDeposit, Amount: amt,
			EndUser: paywire.EndUser{ID: "u", Country: "DE"}}
		if err := e.main.DB.CreatePayment(context.Background(), paywire.Creation(p, paywire.ActorMerchant, time.Now())); err != nil {
			t.Fatal(err)
		}
		token := payment.SignToken(testTokenKey, "demo", p.ID, time.Now().Add(-time.Minute))
		form := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/pay"><input type="hidden" name="token" value="%s"><button id="go">Pay</button></form>`, e.base, token)
		}))
		defer form.Close()
		e.run(t, "expired", chromedp.Navigate(form.URL), chromedp.Click(chromedp.CSS(`#go`)), chromedp.WaitVisible(chromedp.CSS(`main`)))
		body := e.text(t, "main")
		e.shot(t, "portal-expired")
		if !strings.Contains(strings.ToLower(body), "expired") {
			t.Errorf("page says %q", body)
		}
		if got := e.stored(t, p.ID); got != paywire.StateCreated {
			t.Errorf("an expired link changed the payment: %s", got)
		}
	})

	t.Run("notifications reach the shop's listener", func(t *testing.T) {
		// Every payment the shop started was notified of every state
		// change, over SOAP, signed, with gap-free sequence numbers.
		deadline := time.Now().Add(15 * time.Second)
		for {
			seqs := map[string][]int64{}
			for _, n := range e.main.Shop.Notifications() {
				seqs[n.Event.PaymentID] = append(seqs[n.Event.PaymentID], n.Event.SequenceNumber)
			}
			complete := len(seqs) >= 7
			for id, got := range seqs {
				evs, err := e.main.DB.Events(context.Background(), "demo", id)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) < len(evs) {
					complete = false
				}
			}
			if complete {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("notifications received: %v", seqs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		e.run(t, "notifications page", chromedp.Navigate(e.base+"/shop/notifications"), chromedp.WaitVisible(chromedp.CSS(`table`)))
		e.shot(t, "shop-notifications")
	})

	for _, a := range e.main.Sandbox {
		a.Wait()
	}
	t.Run("no card data stored or logged", func(t *testing.T) {
		e.scan(t, []string{"4242424242424242", "4242424242424241", "4000000000000002", "4000000000003220"})
	})
}

// scan searches the database (every table, as text) and the logs for card
// numbers and the CVC.
func (e *browserEnv) scan(t *testing.T, pans []string) {
	t.Helper()
	db, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		_ = tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var dump strings.Builder
	rowsSeen := 0
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			_ = rows.Scan(ptrs...)
			for _, v := range vals {
				fmt.Fprintf(&dump, "%s\t", v)
			}
			dump.WriteString("\n")
			rowsSeen++
		}
		rows.Close()
	}
	if rowsSeen < 50 {
		t.Fatalf("only %d rows scanned: the scan would prove nothing", rowsSeen)
	}
	logs := e.logs.String()
	if !strings.Contains(dump.String(), "424242") || !strings.Contains(logs, "paywire is serving") {
		t.Fatal("the dump holds no BIN or the logs are empty: the scan would prove nothing")
	}
	cvc := regexp.MustCompile(`\b` + testCVC + `\b`)
	for where, text := range map[string]string{"database": dump.String(), "logs": logs} {
		for _, pan := range pans {
			if strings.Contains(text, pan) {
				t.Errorf("the %s holds the card number %s", where, pan)
			}
		}
		if cvc.MatchString(text) {
			t.Errorf("the %s holds the CVC", where)
		}
	}
}
