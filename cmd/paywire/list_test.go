package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store/storetest"
)

// TestListCommand: paywire list adds (normalised), shows and removes
// entries, and refuses bad input with a clear message.
func TestListCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "l.db")
	env := envOf(nil)
	var out, errOut strings.Builder
	if code := run(ctx, []string{"migrate", "up", "--db", db}, &out, &errOut, env); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"list", "add", "--db", db, "--list", "blocked_emails", "--type", "email", "--value", "Fraud@Example.com",
		"--reason", "chargebacks", "--expires", "720h"}, &out, &errOut, env); code != 0 {
		t.Fatalf("add: %d %s", code, errOut.String())
	}
	id := regexp.MustCompile(`le_[a-z0-9]+`).FindString(out.String())
	if id == "" || !strings.Contains(out.String(), "fraud@example.com") {
		t.Fatalf("add said %q", out.String())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"list", "add", "--db", db, "--list", "blocked_emails", "--type", "email", "--value", "x@y.com"}, 2, "--reason"},
		{[]string{"list", "add", "--db", db, "--list", "blocked_emails", "--type", "email", "--value", "fraud@example.com", "--reason", "r"}, 1, "holds this value already"},
		{[]string{"list", "add", "--db", db, "--list", "blocked_ips", "--type", "ip", "--value", "300.1.1.1", "--reason", "r"}, 1, "not an IP address"},
		{[]string{"list", "frobnicate"}, 2, "unknown list command"},
	} {
		errOut.Reset()
		if code := run(ctx, c.args, io.Discard, &errOut, env); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit %d %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	out.Reset()
	run(ctx, []string{"list", "show", "--db", db}, &out, &errOut, env)
	if !regexp.MustCompile(`blocked_emails\s+email\s+1`).MatchString(out.String()) {
		t.Errorf("show:\n%s", out.String())
	}
	out.Reset()
	run(ctx, []string{"list", "show", "--db", db, "--list", "blocked_emails"}, &out, &errOut, env)
	if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "operator:cli") || !strings.Contains(out.String(), "chargebacks") {
		t.Errorf("show --list:\n%s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"list", "remove", "--db", db, "--list", "blocked_emails", "--id", id}, &out, &errOut, env); code != 0 {
		t.Fatalf("remove: %d %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"list", "remove", "--db", db, "--list", "blocked_emails", "--id", id}, io.Discard, &errOut, env); code != 1 ||
		!strings.Contains(errOut.String(), "no such entry") {
		t.Errorf("removing twice: %d %q", code, errOut.String())
	}
}

// TestListsReachDecisions: an e-mail added to blocked_emails through the
// operator API of a running node blocks the next risk decision for it
// within 5 seconds, without a new bundle; removed, it no longer does.
func TestListsReachDecisions(t *testing.T) {
	cfg := testConfig(t)
	cfg.OperatorToken = "op-token-for-lists-test"
	var m *Main
	base, _ := startMain(t, cfg, func(mm *Main) { m = mm })
	revision := m.Engine.Active().Revision

	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: "pay_1", MerchantID: "demo", Kind: "deposit",
		Amount: engine.Money{Minor: 1000, Currency: "EUR", Exponent: 2}, Method: "ewallet",
		Customer: engine.Customer{ID: "c1", Email: "Fraud@Example.com", EmailDomain: "example.com", Country: "DE", Language: "en"},
		Time:     time.Now().UTC()}}
	d, err := m.Engine.Risk(context.Background(), in)
	if err != nil || d.Action == engine.RiskBlock || d.FailedClosed {
		t.Fatalf("before listing: %+v, %v", d, err)
	}

	operator := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cfg.OperatorToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw)
	}
	st, body := operator("POST", "/api/v1/operator/lists/blocked_emails/entries", `{"type": "email", "value": "fraud@example.com", "reason": "chargebacks"}`)
	if st != 201 {
		t.Fatalf("add: %d %s", st, body)
	}
	added := time.Now()
	for {
		d, _ = m.Engine.Risk(context.Background(), in)
		if d.Action == engine.RiskBlock {
			break
		}
		if time.Since(added) > 5*time.Second {
			t.Fatalf("5 s after listing the e-mail: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Contains(d.Reasons, "blocked_email") || m.Engine.Active().Revision != revision {
		t.Errorf("blocked by %v under revision %s (was %s)", d.Reasons, m.Engine.Active().Revision, revision)
	}
	t.Logf("in effect after %s", time.Since(added).Round(10*time.Millisecond))

	id := regexp.MustCompile(`"id":"(le_[a-z0-9]+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no id in %s", body)
	}
	if st, body := operator("DELETE", "/api/v1/operator/lists/blocked_emails/entries/"+id[1], ""); st != 204 {
		t.Fatalf("remove: %d %s", st, body)
	}
	removed := time.Now()
	for d, _ = m.Engine.Risk(context.Background(), in); d.Action == engine.RiskBlock; d, _ = m.Engine.Risk(context.Background(), in) {
		if time.Since(removed) > 5*time.Second {
			t.Fatalf("5 s after removing the entry: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failingLists is a list store whose version cannot be read.
type failingLists struct{ paywire.ListStore }

func (failingLists) ListsVersion(context.Context) (int64, error) {
	return 0, paywire.Errorf(paywire.EUNAVAILABLE, "the database is unavailable")
}

// TestListRefresher: the refresher loads the lists when their version
// moves or a loaded entry expires, not otherwise, and keeps the last lists
// when the database fails.
func TestListRefresher(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	e := engine.New(1)
	r := &listRefresher{Store: db, Engine: e, Logger: slog.New(slog.DiscardHandler), Every: time.Second, Now: db.Now}
	if err := r.refresh(ctx); err != nil || e.Lists() == nil || e.Lists().Len() != 0 {
		t.Fatalf("first load: %v, %v", e.Lists(), err)
	}
	add := &paywire.ListEntry{List: "blocked_ips", Type: paywire.ListIP, Value: "10.0.0.0/8", Reason: "r", CreatedBy: "t", ExpiresAt: now.Add(time.Minute)}
	if err := db.AddListEntry(ctx, add); err != nil {
		t.Fatal(err)
	}
	if err := r.refresh(ctx); err != nil || !e.Lists().Has("blocked_ips", "10.1.2.3") {
		t.Fatalf("after an add: %v", err)
	}
	loaded := e.Lists()
	if err := r.refresh(ctx); err != nil || e.Lists() != loaded {
		t.Errorf("reloaded without a change: %v", err)
	}
	now = now.Add(time.Minute)
	if err := r.refresh(ctx); err != nil || e.Lists().Has("blocked_ips", "10.1.2.3") || e.Lists().Len() != 0 {
		t.Errorf("after the entry expired: %d entries, %v", e.Lists().Len(), err)
	}
	kept := e.Lists()
	r.Store = failingLists{db}
	if err := r.refresh(ctx); err == nil || e.Lists() != kept {
		t.Errorf("a failing database: %v; the lists changed: %v", err, e.Lists() != kept)
	}
}
