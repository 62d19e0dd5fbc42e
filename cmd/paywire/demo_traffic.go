package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paywire/paywire/traffic"
)

// The demo's recent traffic: after the backdated history (demo_history.go),
// `serve --demo` drives a few dozen payments of both demo merchants
// through its own HTTP API, hosted pages and sandbox pages with package
// traffic, as `paywire simulate` does, so that the last minutes of the
// back office's reports, the experiment's arms and the metrics hold
// traffic that took the real path end to end. The history itself cannot
// take it: a server answers at today's time, and backdating it would need
// a clock the whole node runs on (docs/architecture.md, "The demo's
// data").

// demoTrafficPayments is how many payments the demo's recent traffic
// makes, at demoTrafficRate a second.
const (
	demoTrafficPayments = 40
	demoTrafficRate     = 2
)

// demoTraffic drives n payments of the demo merchants through the node
// and logs how they ended. A failure is a warning: the node serves on.
func (m *Main) demoTraffic(ctx context.Context, n int) {
	sum, err := m.runDemoTraffic(ctx, n)
	if err != nil {
		if ctx.Err() == nil {
			m.Logger.Warn("demo traffic not simulated", "error", err)
		}
		return
	}
	args := []any{"payments", sum.Payments, "states", joinCounts(sum.States), "took", sum.Duration.Round(time.Millisecond).String()}
	if sum.Failed > 0 {
		m.Logger.Warn("demo traffic simulated with problems", append(args, "problems", sum.Failed, "first", sum.Problems[0])...)
		return
	}
	m.Logger.Info("demo traffic simulated through the API and the hosted pages", args...)
}

func (m *Main) runDemoTraffic(ctx context.Context, n int) (*traffic.Summary, error) {
	base := "http://" + m.Addr()
	shop := strings.TrimSuffix(m.Payments.PortalURL, "/") + "/shop"
	if m.Shop != nil {
		shop = m.Shop.BaseURL
	}
	client := traffic.NewHTTPClient(30*time.Second, 4)
	var merchants []*traffic.Merchant
	for _, id := range []string{"demo", "demo", "demo", demoTravelID} { // the shop sells more than the travel agency
		_, secret, err := demoServerSecret(ctx, m.DB, m.Config.TokenKey, id)
		if err != nil {
			return nil, fmt.Errorf("the credential of %s: %w", id, err)
		}
		merchants = append(merchants, &traffic.Merchant{BaseURL: base, ID: id, Secret: secret, HTTP: client})
	}
	sim := &traffic.Simulation{Merchants: merchants, Payments: n, Rate: demoTrafficRate, Concurrency: 4,
		Customers: 30, ReturnURL: shop + "/", NotificationURL: shop + "/listener", Seed: uint64(time.Now().UnixNano()),
		Settle: 30 * time.Second, Reference: fmt.Sprintf("demo-live-%d-", time.Now().Unix()), HTTP: client}
	return sim.Run(ctx)
}
