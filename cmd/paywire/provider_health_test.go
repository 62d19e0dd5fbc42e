package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store/storetest"
)

// The provider health metrics follow the checks: a demoted provider is
// counted and its rates exported; once restored with no call left in the
// window, its rates are gone (unknown, not zero) and it shows healthy.
func TestProviderHealthMetrics(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	e, err := newEngine(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{DB: db, Engine: e, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}
	l := newHealthLoop(m)
	now := time.Now()
	l.Monitor.Now = func() time.Time { return now }
	db.Now = func() time.Time { return now }
	storetest.SeedMerchant(t, db, "m1")
	for i := range 30 {
		amt, _ := paywire.NewMoney(1000, "EUR")
		p := &paywire.Payment{MerchantID: "m1", MerchantReference: fmt.Sprint("o-", i), Kind: paywire.KindDeposit, Amount: amt, Method: paywire.MethodCard}
		if err := db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, now)); err != nil {
			t.Fatal(err)
		}
		a := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: "m1", N: 1, Operation: paywire.OpAuthorize, Provider: "acquirer-a",
			Amount: 1000, IdempotencyKey: p.ID + "-1", Status: paywire.AttemptFailed, Call: paywire.CallError, Latency: time.Second, CreatedAt: now.Add(-time.Minute)}
		if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
			t.Fatal(err)
		}
	}
	gauge := func(name string) map[string]float64 {
		t.Helper()
		families, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, s := range f.GetMetric() {
				var provider, method string
				for _, l := range s.GetLabel() {
					switch l.GetName() {
					case "provider":
						provider = l.GetValue()
					case "method":
						method = l.GetValue()
					}
				}
				k := ""
				if provider != "" {
					k = provider + "/" + method
				}
				out[k] = s.GetGauge().GetValue()
			}
		}
		return out
	}
	if err := l.check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gauge("paywire_providers_demoted")[""]; got != 1 {
		t.Errorf("demoted %v", got)
	}
	for name, want := range map[string]float64{"paywire_provider_demoted": 1, "paywire_provider_error_rate": 1, "paywire_provider_calls": 30} {
		if got := gauge(name); len(got) != 1 || got["acquirer-a/card"] != want {
			t.Errorf("%s: %v, want acquirer-a/card %v", name, got, want)
		}
	}
	if got := gauge("paywire_provider_approval_rate"); len(got) != 0 {
		t.Errorf("approval rate of no decided call: %v", got)
	}

	// A window later, nothing in it: restored, no rates.
	now = now.Add(16 * time.Minute)
	if err := l.check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gauge("paywire_providers_demoted")[""]; got != 0 {
		t.Errorf("demoted %v after the restoration", got)
	}
	if got := gauge("paywire_provider_demoted"); got["acquirer-a/card"] != 0 || len(got) != 1 {
		t.Errorf("state %v", got)
	}
	for _, name := range []string{"paywire_provider_error_rate", "paywire_provider_calls"} {
		if got := gauge(name); len(got) != 0 {
			t.Errorf("%s kept %v", name, got)
		}
	}
}
