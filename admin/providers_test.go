package admin_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/health"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// The providers page shows each provider's figures with each method (a
// rate from too few calls unknown), the one the health check demoted with
// since when and why, and the history.
func TestProvidersPage(t *testing.T) {
	var monitor *health.Monitor
	e := newEnv(t, map[string][]string{"vera": {"viewer"}}, func(a *admin.App, db *store.DB) {
		monitor = &health.Monitor{Store: db, Policy: func() engine.HealthPolicy { return engine.DefaultHealthPolicy },
			Now: func() time.Time { return time.Now().Add(time.Second) }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		a.ProviderPages = admin.ProviderPages{ProviderHealth: db, HealthSnapshot: monitor.Snapshot}
	})
	b := e.browser()
	b.signIn("vera", "pw-vera")
	empty := b.do("GET", "/admin/providers", nil)
	for _, want := range []string{`id="no-providers"`, `id="no-history"`, "not computed yet", `href="/admin/providers"`} {
		if empty.status != http.StatusOK || !strings.Contains(empty.body, want) {
			t.Fatalf("before any call (%d), no %q:\n%s", empty.status, want, empty.body)
		}
	}

	ctx := t.Context()
	storetest.SeedMerchant(t, e.db, "m1")
	for i := range 55 {
		amt, _ := paywire.NewMoney(1000, "EUR")
		method, provider := paywire.MethodCard, "acquirer-a"
		if i >= 30 {
			method, provider = paywire.MethodEWallet, "sandbox-wallet"
		}
		p := &paywire.Payment{MerchantID: "m1", MerchantReference: fmt.Sprint("o-", i), Kind: paywire.KindDeposit, Amount: amt, Method: method}
		if err := e.db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, time.Now())); err != nil {
			t.Fatal(err)
		}
		a := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: "m1", N: 1, Operation: paywire.OpAuthorize, Provider: provider,
			Amount: 1000, IdempotencyKey: p.ID + "-1", Status: paywire.AttemptApproved, Call: paywire.CallAnswered, Latency: 250 * time.Millisecond}
		if i < 24 {
			a.Status, a.Call, a.Latency = paywire.AttemptUnknown, paywire.CallError, 20*time.Second
		}
		if err := e.db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
			t.Fatal(err)
		}
	}
	if moved, err := monitor.Check(ctx); err != nil || len(moved) != 1 {
		t.Fatalf("check: %+v, %v", moved, err)
	}
	page := b.do("GET", "/admin/providers", nil)
	if page.status != http.StatusOK {
		t.Fatalf("%d %s", page.status, page.body)
	}
	card := rowOf(t, page.body, "provider-acquirer-a-card")
	for _, want := range []string{`<span class="tag bad">demoted</span>`, "since ", "technical-error rate 80.0 % of 30 calls", ">30<", ">24<", "80.0 %", "–", "20000 / 20000 ms"} {
		if !strings.Contains(card, want) {
			t.Errorf("acquirer-a's row lacks %q:\n%s", want, card)
		}
	}
	wallet := rowOf(t, page.body, "provider-sandbox-wallet-ewallet")
	for _, want := range []string{`<span class="tag on">healthy</span>`, ">25<", ">0<", "0.0 %", "100.0 %", "250 / 250 ms"} {
		if !strings.Contains(wallet, want) {
			t.Errorf("sandbox-wallet's row lacks %q:\n%s", want, wallet)
		}
	}
	for _, want := range []string{`id="provider-history"`, `<strong class="bad">demoted</strong>`, "at or above the 50.0 % that demotes", "20 calls", "15m0s"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func rowOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `<tr id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no row %s:\n%s", id, body)
	}
	row := body[i:]
	return row[:strings.Index(row, "</tr>")]
}
