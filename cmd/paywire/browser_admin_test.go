package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

// consoleLog collects what pages write to the browser's console (errors,
// exceptions, CSP violations) from the moment it is made.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (e *browserEnv) console(t *testing.T) *consoleLog {
	t.Helper()
	c := &consoleLog{}
	ctx, cancel := context.WithCancel(e.browser)
	t.Cleanup(cancel)
	seq := chromedp.Console(ctx)
	go func() {
		for m, err := range seq {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// errors returns the errors and warnings written so far, but for the
// pages the tests ask to be refused (the browser logs a document answered
// 401 or 403 as a failed load).
func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Type != chromedp.ConsoleWarning {
			continue
		}
		if s := m.String(); strings.Contains(s, "status of 401") || strings.Contains(s, "status of 403") {
			continue
		}
		out = append(out, m.String()+" at "+m.URL)
	}
	return out
}

// adminUser adds a back-office user with a password.
func (e *browserEnv) adminUser(t *testing.T, name, password string, roles ...string) {
	t.Helper()
	hash, err := credential.Hash(password, credential.Default)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.main.DB.CreateAdminUser(context.Background(), &paywire.AdminUser{Username: name, PasswordHash: hash, Roles: roles}); err != nil {
		t.Fatal(err)
	}
}

// signIn signs in on the back office's form and waits for the page after.
func (e *browserEnv) signIn(t *testing.T, name, password string) {
	t.Helper()
	e.run(t, "sign in as "+name,
		chromedp.Navigate(e.base+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=username]`), name),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sign-out`)))
}

func (e *browserEnv) signOut(t *testing.T) {
	t.Helper()
	e.run(t, "sign out", chromedp.Click(chromedp.CSS(`#sign-out`)), chromedp.WaitVisible(chromedp.CSS(`#login`)))
}

// TestBrowserAdmin drives the back office in Chromium: sign-in and
// sign-out, a user made on the users page signing in with the password
// shown once, a role refusal, a CSRF refusal, and no console errors (a
// CSP violation is one).
func TestBrowserAdmin(t *testing.T) {
	e := newBrowserEnv(t, func(c *Config) { c.DemoHistory = true })
	console := e.console(t)
	e.adminUser(t, "root", "root-password-for-browser-tests", "admin")

	t.Run("sign in and out", func(t *testing.T) {
		e.run(t, "a page while signed out goes to the sign-in form",
			chromedp.Navigate(e.base+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(`#login`)))
		e.run(t, "wrong password",
			chromedp.SendKeys(chromedp.CSS(`#login input[name=username]`), "root"),
			chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), "wrong"),
			chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.problem`)))
		if got := e.text(t, "p.problem"); !strings.Contains(got, "Wrong username or password") {
			t.Errorf("problem %q", got)
		}
		e.signIn(t, "root", "root-password-for-browser-tests")
		e.shot(t, "admin-overview")
		e.signOut(t)
		e.run(t, "signed out for good", chromedp.Navigate(e.base+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`#login`)))
	})

	var password string
	t.Run("a new user signs in", func(t *testing.T) {
		e.signIn(t, "root", "root-password-for-browser-tests")
		e.run(t, "create a viewer",
			chromedp.Navigate(e.base+"/admin/users"),
			chromedp.WaitVisible(chromedp.CSS(`#new-user-form`)),
			chromedp.SendKeys(chromedp.CSS(`#new-user-form input[name=username]`), "vera"),
			chromedp.Click(chromedp.CSS(`#new-user-form input[name=role_viewer]`)),
			chromedp.Click(chromedp.CSS(`#new-user-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#new-password`)))
		password = e.text(t, "#new-password")
		e.shot(t, "admin-users")
		e.signOut(t)
		e.signIn(t, "vera", password)
	})

	t.Run("role refusal", func(t *testing.T) {
		e.run(t, "a viewer opens the users page",
			chromedp.Navigate(e.base+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(`p.problem`)))
		if got := e.text(t, "h1"); got != "Not allowed" {
			t.Errorf("a viewer on the users page sees %q", got)
		}
		nav := get(t, e, "navigation", chromedp.OuterHTML(chromedp.CSS(`header.top`)))
		if strings.Contains(nav, `/admin/users`) {
			t.Error("a viewer's navigation links to the users page")
		}
		e.signOut(t)
	})

	t.Run("CSRF refusal", func(t *testing.T) {
		e.signIn(t, "root", "root-password-for-browser-tests")
		e.run(t, "a form whose token was changed",
			chromedp.Navigate(e.base+"/admin/users"),
			chromedp.WaitVisible(chromedp.CSS(`#new-user-form`)),
			chromedp.SetValue(chromedp.CSS(`#new-user-form input[name=csrf]`), "forged"),
			chromedp.SendKeys(chromedp.CSS(`#new-user-form input[name=username]`), "mallory"),
			chromedp.Click(chromedp.CSS(`#new-user-form input[name=role_admin]`)),
			chromedp.Click(chromedp.CSS(`#new-user-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.problem`)))
		if got := e.text(t, "h1"); got != "Form refused" {
			t.Errorf("a forged form ends on %q", got)
		}
		if _, err := e.main.DB.AdminUserByName(context.Background(), "mallory"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("the forged form created a user: %v", err)
		}
	})

	t.Run("search and refund", func(t *testing.T) {
		e.shop(t, "DE", "en", "card")
		e.payByCard(t, "4242 4242 4242 4242", "")
		_, _, id := e.result(t)
		e.eventually(t, id, paywire.StateCompleted)
		e.run(t, "search by payment id",
			chromedp.Navigate(e.base+"/admin/payments"),
			chromedp.WaitVisible(chromedp.CSS(`#payment-filters`)),
			chromedp.SendKeys(chromedp.CSS(`#payment-filters input[name=q]`), id),
			chromedp.Submit(chromedp.CSS(`#payment-filters input[name=q]`)),
			chromedp.WaitVisible(chromedp.CSS(`#payments a[href$="/`+id+`"]`)))
		e.shot(t, "admin-payments")
		e.run(t, "open it and refund part",
			chromedp.Click(chromedp.CSS(`#payments a[href$="/`+id+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#timeline`)),
			chromedp.Click(chromedp.CSS(`#action-refund`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-form`)),
			chromedp.SetValue(chromedp.CSS(`#confirm-form input[name=amount]`), "5.00"),
			chromedp.SendKeys(chromedp.CSS(`#confirm-form textarea[name=reason]`), "goodwill, ticket 4711"),
			chromedp.Click(chromedp.CSS(`#confirm`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
		e.shot(t, "admin-payment")
		if p := e.payment(t, id); p.State != paywire.StatePartiallyRefunded || p.Refunded != 500 {
			t.Fatalf("after the refund: %s refunded %d", p.State, p.Refunded)
		}
	})

	t.Run("review approval", func(t *testing.T) {
		// The demo history leaves payments in the review queue once it is
		// seeded, in the background. While it is being seeded, a payment
		// held for review may be decided by the history's analyst a moment
		// later: the queue is read once the seeding has ended.
		deadline := time.Now().Add(3 * time.Minute)
		for !strings.Contains(e.logs.String(), `msg="demo history seeded`) {
			if time.Now().After(deadline) {
				t.Fatal("the demo history was not seeded in 3 minutes")
			}
			time.Sleep(500 * time.Millisecond)
		}
		var held []*paywire.Payment
		for len(held) == 0 && time.Now().Before(deadline) {
			var err error
			if held, err = e.main.DB.PaymentsInState(context.Background(), "", paywire.StateReview, 10); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		if len(held) == 0 {
			t.Fatal("no payment in review after the demo history was seeded")
		}
		p := held[0]
		row := `#review-` + p.ID
		e.run(t, "approve with a reason",
			chromedp.Navigate(e.base+"/admin/reviews"),
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.SendKeys(chromedp.CSS(row+` form.decision input[name=reason]`), "known customer, called in"),
			chromedp.Click(chromedp.CSS(row+` form.decision button[value=approve]`)),
			chromedp.WaitNotPresent(chromedp.CSS(row)))
		e.shot(t, "admin-reviews")
		if got := e.payment(t, p.ID); got.State == paywire.StateReview {
			t.Fatalf("still in review after the approval: %s", got.State)
		}
	})

	t.Run("credential rotation", func(t *testing.T) {
		before, err := e.main.DB.MerchantCredentials(context.Background(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		e.run(t, "rotate the demo merchant's credential",
			chromedp.Navigate(e.base+"/admin/merchants/demo"),
			chromedp.WaitVisible(chromedp.CSS(`#credentials`)),
			chromedp.Click(chromedp.CSS(`#credentials form[action$="/rotate"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`#api-secret`)))
		secret := e.text(t, "#api-secret")
		e.shot(t, "admin-merchant")
		after, err := e.main.DB.MerchantCredentials(context.Background(), "demo")
		if err != nil || len(after) != len(before)+1 || !strings.HasPrefix(secret, "pw_") {
			t.Fatalf("after rotating: %d credentials (%d before), secret %.6s…, %v", len(after), len(before), secret, err)
		}
	})

	t.Run("reports with charts", func(t *testing.T) {
		e.run(t, "reports", chromedp.Navigate(e.base+"/admin/reports"), chromedp.WaitVisible(chromedp.CSS(`svg`)))
		e.shot(t, "admin-reports")
	})

	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
