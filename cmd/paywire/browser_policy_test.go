package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPolicyLifecycle drives the policy bundle registry in
// Chromium: an analyst who also holds the compliance role uploads a bundle
// and submits it (its tests run), and is shown that she cannot approve her
// own revision, which has no approve button; a second person with the
// compliance role approves it; an admin activates it; the node runs it
// within its poll period, and the next payment's decisions name the new
// revision. No console errors.
func TestBrowserPolicyLifecycle(t *testing.T) {
	e := newBrowserEnv(t)
	console := e.console(t)
	e.adminUser(t, "ann", "ann-password-for-browser-tests", "risk_analyst", "compliance")
	e.adminUser(t, "carl", "carl-password-for-browser-tests", "compliance")
	e.adminUser(t, "root", "root-password-for-browser-tests", "admin")

	files, err := bundleFiles("")
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "bundle.tar.gz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.WriteTarball(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	builtIn := e.main.Engine.Active().Revision

	e.signIn(t, "ann", "ann-password-for-browser-tests")
	e.run(t, "push",
		chromedp.Navigate(e.base+"/admin/policies"),
		chromedp.WaitVisible(chromedp.CSS(`#push-form`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#push-form input[name=bundle]`), []string{archive}),
		chromedp.SendKeys(chromedp.CSS(`#push-form input[name=message]`), "the default rules, as a registry revision"),
		chromedp.Click(chromedp.CSS(`#push-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#submit-form`)))
	e.run(t, "submit",
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#approve-note`)))
	if got := e.text(t, "#state"); !strings.Contains(got, "submitted") {
		t.Fatalf("state after submitting: %q", got)
	}
	if got := e.text(t, "#approve-note"); !strings.Contains(got, "four eyes") {
		t.Errorf("the author's page says %q about approving", got)
	}
	if n := get(t, e, "approve buttons", chromedp.Evaluate[int](`document.querySelectorAll('#approve').length`)); n != 0 {
		t.Error("the author is offered the approve button")
	}
	e.shot(t, "admin-policy-submitted")
	e.signOut(t)

	e.signIn(t, "carl", "carl-password-for-browser-tests")
	e.run(t, "approve",
		chromedp.Navigate(e.base+"/admin/policies/1"),
		chromedp.WaitVisible(chromedp.CSS(`#approve`)),
		chromedp.Click(chromedp.CSS(`#approve`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if got := e.text(t, "#approved"); !strings.Contains(got, "carl") {
		t.Errorf("approved: %q", got)
	}
	e.signOut(t)

	e.signIn(t, "root", "root-password-for-browser-tests")
	e.run(t, "activate",
		chromedp.Navigate(e.base+"/admin/policies/1"),
		chromedp.WaitVisible(chromedp.CSS(`#activate`)),
		chromedp.Click(chromedp.CSS(`#activate`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	deadline := time.Now().Add(5 * time.Second)
	for e.main.Engine.Active().Revision != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("the node runs revision %s 5 s after the activation", e.main.Engine.Active().Revision)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.run(t, "the registry", chromedp.Navigate(e.base+"/admin/policies"), chromedp.WaitVisible(chromedp.CSS(`#running`)))
	if got := e.text(t, "#running"); !strings.Contains(got, "revision 1") {
		t.Errorf("the node runs: %q", got)
	}
	e.shot(t, "admin-policy-active")
	e.signOut(t)

	e.shop(t, "DE", "en", "card")
	e.payByCard(t, "4242424242424242", "")
	_, _, id := e.result(t)
	recs, err := e.main.DB.Decisions(context.Background(), "demo", id)
	if err != nil || len(recs) == 0 {
		t.Fatalf("decisions of %s: %d, %v", id, len(recs), err)
	}
	for _, r := range recs {
		if r.BundleRevision != "1" {
			t.Errorf("the %s decision names revision %q (the built-in bundle is %q)", r.Point, r.BundleRevision, builtIn)
		}
	}
	stored, err := e.main.DB.Bundle(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].BundleHash != stored.Hash {
		t.Errorf("the decision names hash %s, the registry's revision 1 is %s", recs[0].BundleHash, stored.Hash)
	}

	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
