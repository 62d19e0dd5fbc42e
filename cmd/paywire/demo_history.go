package main

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
	"github.com/paywire/paywire/examples/merchant"
	"github.com/paywire/paywire/notify"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/traffic"
)

// The demo history: on `serve --demo`, a month of sandbox payments for the
// back office to show. Every payment is made through the use cases the
// transports call — Start and Submit as the hosted pages, the sandbox's own
// challenge and bank pages as the end user, ConfirmReturn as the listener,
// Create for payouts, Capture, Cancel and Refund as the merchant, Review as
// a person, and RunFollowUp for whatever falls due — on a copy of the
// node's payment.Service whose clock is the history's. Nothing is written
// around them, so the history holds exactly what live traffic would:
// events, attempts, decisions, notifications and sandbox bookings. The
// notifications are delivered by a notify.Worker on the history's clock
// to a demo shop of the past (the shop's listener code, in memory), so
// that the running demo shop lists only what happens while it runs.

const (
	// demoHistoryDays is how far back the history starts.
	demoHistoryDays = 30
	// demoHistoryPrefix starts every seeded merchant reference. The first
	// payment's reference, demo-history-0001, is the claim: a second
	// seeder (another node starting at once) conflicts on it and stops.
	demoHistoryPrefix = "demo-history-"
	// demoTravelID is the second demo merchant: high-ticket, captured by
	// hand, so that authorizations, captures and voids show too.
	demoTravelID = "demo-travel"
)

// errHistoryClaimed says another seeder claimed the history first.
var errHistoryClaimed = errors.New("the demo history is seeded by another node")

// historyCounts is what a seeding made.
type historyCounts struct {
	Payments int
	States   map[paywire.State]int
	Methods  map[paywire.Method]int
	// Problems counts steps a use case refused; FirstProblem is the first.
	Problems     int
	FirstProblem error
	// LeftToWorker counts follow-ups left for the follow-up worker: a
	// provider still undecided, answered at its next try.
	LeftToWorker int
}

// joinCounts shows counts as "a=1 b=2", by name.
func joinCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// startDemoHistory seeds the demo history in the background when the node
// runs with --demo. The returned channel is closed when seeding has ended
// (at once without --demo): the follow-up and notification workers wait
// for it, so that the history's follow-ups and notifications are carried
// out by the seeder at their own times and not by the workers at today's.
// A failure is a warning: the node serves on.
func (m *Main) startDemoHistory(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if !m.Config.Demo || !m.Config.DemoHistory {
		close(done)
		return done
	}
	go func() {
		var c historyCounts
		var err error
		defer func() {
			if c.Payments > 0 && err == nil && ctx.Err() == nil {
				// The workers carry on from here: the recent traffic
				// goes through the node as live traffic does.
				m.demoTraffic(ctx, demoTrafficPayments)
			}
		}()
		defer close(done)
		start := time.Now()
		c, err = m.seedDemoHistory(ctx)
		switch {
		case errors.Is(err, errHistoryClaimed):
			m.Logger.Info("demo history not seeded: another node seeds it")
		case err != nil && ctx.Err() != nil:
			m.Logger.Warn("demo history seeding stopped by shutdown; the demo merchant keeps what was seeded", "payments", c.Payments)
		case err != nil:
			m.Logger.Warn("demo history not seeded", "error", err)
		case c.Payments == 0:
			m.Logger.Debug("demo history present; nothing seeded")
		default:
			states, methods := map[string]int{}, map[string]int{}
			for s, n := range c.States {
				states[string(s)] = n
			}
			for k, n := range c.Methods {
				methods[string(k)] = n
			}
			args := []any{"payments", c.Payments, "days", demoHistoryDays, "states", joinCounts(states), "methods", joinCounts(methods),
				"follow_ups_left", c.LeftToWorker, "took", time.Since(start).Round(time.Millisecond).String()}
			if c.Problems > 0 {
				m.Logger.Warn("demo history seeded with problems", append(args, "problems", c.Problems, "first", c.FirstProblem)...)
				return
			}
			m.Logger.Info("demo history seeded", args...)
		}
	}()
	return done
}

// seedDemoHistory makes the history when the demo merchant has no payment
// yet, and returns what it made (nothing when it had one).
func (m *Main) seedDemoHistory(ctx context.Context) (historyCounts, error) {
	var c historyCounts
	for _, st := range paywire.States {
		ps, err := m.DB.PaymentsInState(ctx, "demo", st, 1)
		if err != nil {
			return c, err
		}
		if len(ps) > 0 {
			return c, nil
		}
	}
	if err := seedDemoTravel(ctx, m.DB); err != nil {
		return c, err
	}
	shop := strings.TrimSuffix(m.Payments.PortalURL, "/") + "/shop"
	if m.Shop != nil {
		shop = m.Shop.BaseURL
	}
	h := newHistorySeeder(m.Payments, m.DB, shop, m.sandboxConfigs(m.Payments.PortalURL, derive(m.Payments.TokenKey, "sandbox webhooks")), m.Logger)
	return h.run(ctx, time.Now().UTC())
}

// seedDemoTravel makes sure the second demo merchant exists.
func seedDemoTravel(ctx context.Context, db *store.DB) error {
	travel := &paywire.Merchant{
		ID: demoTravelID, Name: "Demo Travel", NotificationFormat: "soap",
		ReturnURLPrefixes: []string{"http://localhost/", "http://127.0.0.1/"}, AllowLocalhostHTTP: true,
		RiskProfile: "high_ticket",
	}
	if err := db.CreateMerchant(ctx, travel); err != nil && paywire.ErrorCode(err) != paywire.ECONFLICT {
		return err
	}
	return nil
}

// historySeeder plays the history in time order: the steps of each
// payment (its creation, the end user's answers, the merchant's captures
// and refunds later), and between them the follow-ups that fall due.
type historySeeder struct {
	svc    payment.Service
	notify *notify.Worker
	clock  *historyClock
	pages  map[string]*sandbox.Acquirer // by provider name: their end-user pages
	shop   string                       // the demo shop's base URL: return and notification URLs
	rng    *rand.Rand
	end    time.Time // the history's last moment: nothing is scheduled after it

	steps     stepQueue
	followUps followUpQueue
	seen      map[int64]bool // follow-ups queued once
	seq       int
	refs      int
	payments  []*seededPayment
	// deposits are each end user's paid deposits, for payouts.
	deposits map[string][]*seededPayment
	counts   historyCounts
}

// seededPayment is a payment of the history.
type seededPayment struct {
	merchant string
	id       string
}

// historyClock is the seeded service's clock. It only moves forward, and
// the sandbox reads it from its own goroutines.
type historyClock struct{ ns atomic.Int64 }

func (c *historyClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// at moves the clock to t unless it is there already.
func (c *historyClock) at(t time.Time) {
	for {
		old := c.ns.Load()
		if t.UnixNano() <= old || c.ns.CompareAndSwap(old, t.UnixNano()) {
			return
		}
	}
}

// after moves the clock on by d, as time passes between two steps of one
// payment.
func (c *historyClock) after(d time.Duration) { c.at(c.Now().Add(d)) }

func newHistorySeeder(node *payment.Service, db *store.DB, shop string, sandboxes []sandbox.Config, log *slog.Logger) *historySeeder {
	clock := &historyClock{}
	// The seeder's own sandbox instances: the same providers (one name on
	// one database is one provider), configured as the node's, on the
	// history's clock, sending no webhooks (the end user's return and the
	// status-query follow-ups tell Paywire instead, at the history's
	// time). They are closed at once so that no timer brings an outcome in
	// at today's time: an outcome due comes in when it is next read. They
	// answer at once: waiting out a latency in today's time would not
	// pass the history's.
	quiet := slog.New(minLevel{log.Handler(), slog.LevelError})
	var providers []adapters.Provider
	pages := map[string]*sandbox.Acquirer{}
	for _, c := range sandboxes {
		c.WebhookURL, c.Now, c.Logger, c.Latency = "", clock.Now, quiet, 0
		a := sandbox.New(c)
		a.Close()
		providers = append(providers, a)
		pages[c.Name] = a
	}
	svc := *node
	svc.Now = clock.Now
	svc.Providers = adapters.NewRegistry(providers...)
	svc.Logger = quiet // a month of "payment moved" is not news; errors are
	svc.Metrics = nil  // the node's metrics count live traffic
	svc.ProviderTimeout = 5 * time.Second
	past := &merchant.Shop{BaseURL: shop, Logger: quiet}
	client := &http.Client{Transport: pastListener{url: shop + "/listener", shop: past.Handler(), next: http.DefaultTransport}}
	nw := &notify.Worker{Outbox: db, Merchants: db, Client: client, ID: "demo-history", Now: clock.Now, Logger: quiet}
	return &historySeeder{
		svc: svc, notify: nw, clock: clock, pages: pages, shop: shop,
		rng:      rand.New(rand.NewPCG(2026, 30)), // the same history every time
		seen:     map[int64]bool{},
		deposits: map[string][]*seededPayment{},
		counts:   historyCounts{States: map[paywire.State]int{}, Methods: map[paywire.Method]int{}},
	}
}

// run plans the orders of the 30 days before now and plays them.
func (h *historySeeder) run(ctx context.Context, now time.Time) (historyCounts, error) {
	start := now.Add(-demoHistoryDays * 24 * time.Hour).Truncate(time.Hour)
	h.end = now.Add(-10 * time.Minute)
	h.clock.at(start)
	h.plan(start)
	first := true
	for h.steps.Len() > 0 {
		st := heap.Pop(&h.steps).(*step)
		if err := h.dueFollowUps(ctx, st.at); err != nil {
			return h.counts, err
		}
		h.clock.at(st.at)
		err := st.do(ctx)
		h.notifyDue(ctx)
		if first {
			first = false
			if paywire.ErrorCode(err) == paywire.ECONFLICT {
				return h.counts, errHistoryClaimed
			}
		}
		if ctx.Err() != nil {
			return h.tally(ctx), ctx.Err()
		}
		if err != nil {
			h.counts.Problems++
			if h.counts.FirstProblem == nil {
				h.counts.FirstProblem = err
			}
		}
	}
	if err := h.dueFollowUps(ctx, h.end); err != nil {
		return h.counts, err
	}
	h.notifyDue(ctx)
	return h.tally(ctx), nil
}

// tally counts the seeded payments by state and method as they stand.
func (h *historySeeder) tally(ctx context.Context) historyCounts {
	c := h.counts
	c.Payments = len(h.payments)
	for _, sp := range h.payments {
		p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id)
		if err != nil {
			continue
		}
		c.States[p.State]++
		if p.Method != "" {
			c.Methods[p.Method]++
		} else {
			c.Methods["none"]++
		}
	}
	return c
}

// --- the plan ---------------------------------------------------------

// demoCustomer is an end user of the history.
type demoCustomer struct {
	user     paywire.EndUser
	currency string
	card     string // their own card: an ordinary number, approved by the sandbox's rates
	bank     bool   // bank redirect is offered in their country
	wallet   bool   // e-wallets are offered in their country
}

// demoCountries are the end users' countries, with their currency and the
// methods the default bundle offers there.
var demoCountries = []struct {
	code, currency, language string
	bank, wallet             bool
	weight                   int
}{
	{"DE", "EUR", "de", true, true, 30},
	{"AT", "EUR", "de", true, true, 8},
	{"NL", "EUR", "nl", true, true, 10},
	{"FR", "EUR", "fr", false, true, 10},
	{"GB", "GBP", "en", false, true, 14},
	{"SE", "SEK", "sv", true, true, 6},
	{"PL", "PLN", "pl", true, true, 6},
	{"US", "USD", "en", false, true, 10},
	{"IT", "EUR", "it", false, true, 6},
}

// factor scales a EUR price to a currency, roughly.
var factor = map[string]float64{"EUR": 1, "GBP": 0.85, "USD": 1.1, "SEK": 11, "PLN": 4.3}

func (h *historySeeder) customers(prefix string, n int) []*demoCustomer {
	total := 0
	for _, c := range demoCountries {
		total += c.weight
	}
	out := make([]*demoCustomer, n)
	for i := range out {
		pick := h.rng.IntN(total)
		c := demoCountries[0]
		for _, cc := range demoCountries {
			if pick < cc.weight {
				c = cc
				break
			}
			pick -= cc.weight
		}
		id := fmt.Sprintf("%s-%03d", prefix, i+1)
		u := paywire.EndUser{
			ID: id, Email: id + "@example.com", Country: c.code, Language: c.language,
			IP: fmt.Sprintf("198.51.100.%d", 10+i%240), DeviceID: "device-" + id,
		}
		bin := "424242"
		if i%3 == 1 {
			bin = "555555"
		}
		out[i] = &demoCustomer{user: u, currency: c.currency, card: traffic.LuhnComplete(fmt.Sprintf("%s%09d", bin, 100000+i*7919)),
			bank: c.bank, wallet: c.wallet}
	}
	return out
}

// plan schedules about 240 orders of the demo shop and 60 of demo travel
// between start and end, more by day than by night.
func (h *historySeeder) plan(start time.Time) {
	shopCustomers := h.customers("customer", 90)
	travellers := h.customers("traveller", 30)
	var times []time.Time
	var travel []bool
	for day := 0; day < demoHistoryDays; day++ {
		n := 6 + h.rng.IntN(6) // the shop: 6 to 11 a day
		m := 1 + h.rng.IntN(3) // travel: 1 to 3 a day
		for i := 0; i < n+m; i++ {
			hour := 7 + h.rng.IntN(16) // 07:00 to 22:59
			if h.rng.IntN(10) == 0 {
				hour = h.rng.IntN(24)
			}
			at := start.Add(time.Duration(day)*24*time.Hour + time.Duration(hour)*time.Hour +
				time.Duration(h.rng.IntN(3600))*time.Second)
			if !at.Before(h.end) {
				continue
			}
			times = append(times, at)
			travel = append(travel, i >= n)
		}
	}
	// The review queue is never empty: two suspicious baskets of the last
	// day, which nobody has looked at yet.
	for _, ago := range []time.Duration{20 * time.Hour, 3 * time.Hour} {
		h.schedule(h.end.Add(-ago), func(ctx context.Context) error {
			for _, c := range shopCustomers {
				if len(h.deposits[c.user.ID]) > 0 && c.currency == "EUR" {
					return h.suspicious(ctx, c)
				}
			}
			return nil
		})
	}
	order := make([]int, len(times))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
	for _, i := range order {
		if travel[i] {
			c := travellers[h.rng.IntN(len(travellers))]
			h.schedule(times[i], h.travelOrder(c))
			continue
		}
		c := shopCustomers[h.rng.IntN(len(shopCustomers))]
		h.schedule(times[i], h.shopOrder(c))
	}
}

// schedule adds a step at t.
func (h *historySeeder) schedule(t time.Time, do func(context.Context) error) {
	h.seq++
	heap.Push(&h.steps, &step{at: t, n: h.seq, do: do})
}

// later schedules a follow-on step of a payment d after the clock, when
// that is still in the past of the history.
func (h *historySeeder) later(d time.Duration, do func(context.Context) error) {
	if t := h.clock.Now().Add(d); t.Before(h.end) {
		h.schedule(t, do)
	}
}

// price is a basket amount in minor units of currency, from a few euros to
// a few hundred.
func (h *historySeeder) price(currency string, lo, hi float64) int64 {
	eur := lo + (hi-lo)*h.rng.Float64()*h.rng.Float64() // most baskets are small
	minor := int64(eur * factor[currency] * 100)
	return minor - minor%10 + 9*int64(h.rng.IntN(2)) // x.x0 or x.x9, as shops price
}

// shopOrder is one order of the demo shop: what its customer does on the
// hosted pages, and what the shop and its customer do later.
func (h *historySeeder) shopOrder(c *demoCustomer) func(context.Context) error {
	roll := h.rng.IntN(100)
	amount := h.price(c.currency, 5, 400)
	wait := time.Duration(1+h.rng.IntN(96)) * time.Hour
	return func(ctx context.Context) error {
		switch {
		case roll < 6: // payout of an earlier deposit
			if err := h.payout(ctx, c); err != errNoDeposit {
				return err
			}
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, c.card))
		case roll < 12: // left on the method page
			_, err := h.start(ctx, "demo", c, amount)
			return err
		case roll < 15: // cancelled on the method page
			sp, err := h.start(ctx, "demo", c, amount)
			if err != nil {
				return err
			}
			h.clock.after(time.Minute)
			_, err = h.svc.CancelRedirect(ctx, sp.token)
			h.track(ctx, sp.seededPayment)
			return err
		case roll < 22: // declined by the issuer
			number := "4000000000000002"
			if roll%2 == 0 {
				number = "4000000000009995"
			}
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, number))
		case roll < 30: // 3-D Secure challenge
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, "4000000000003220"))
		case roll < 33: // soft decline at one acquirer, paid at the next
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, "4000000000000366"))
		case roll < 35: // processing errors everywhere
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, "4000000000000119"))
		case roll < 40: // approved later, by the provider's own outcome
			return h.hosted(ctx, "demo", c, amount, h.cardDetails(c, "4000000000000077"))
		case roll < 52 && c.bank:
			return h.hosted(ctx, "demo", c, amount, payment.Details{Method: paywire.MethodBankRedirect,
				Bank: payment.Banks[h.rng.IntN(len(payment.Banks))].ID})
		case roll < 62 && c.wallet:
			return h.hosted(ctx, "demo", c, amount, payment.Details{Method: paywire.MethodEWallet, Wallet: c.user.Email})
		case roll < 66 && len(h.deposits[c.user.ID]) > 0:
			return h.suspicious(ctx, c)
		default:
			number := c.card
			if roll%5 == 0 {
				number = "4242424242424242"
			}
			if err := h.hosted(ctx, "demo", c, amount, h.cardDetails(c, number)); err != nil {
				return err
			}
			sp := h.payments[len(h.payments)-1]
			switch {
			case roll%9 == 0:
				h.later(wait, h.refund(sp, 2)) // half back
			case roll%13 == 0:
				h.later(wait, h.refund(sp, 1)) // all back
			}
			return nil
		}
	}
}

// suspicious is a returning customer's large basket on a card never seen,
// from a throwaway address: risk holds it for review (or, with more
// against it, refuses it).
func (h *historySeeder) suspicious(ctx context.Context, c *demoCustomer) error {
	u := *c
	u.user.Email = fmt.Sprintf("%s-%d@mailinator.com", c.user.ID, h.refs)
	card := traffic.LuhnComplete(fmt.Sprintf("424242%09d", 700000+h.refs))
	return h.hosted(ctx, "demo", &u, h.price(c.currency, 5200, 5900), h.cardDetails(&u, card))
}

// travelOrder is one booking of demo travel: authorized on the hosted
// pages, captured by hand when the trip is confirmed, sometimes in part or
// not at all.
func (h *historySeeder) travelOrder(c *demoCustomer) func(context.Context) error {
	roll := h.rng.IntN(100)
	amount := h.price(c.currency, 120, 1800)
	wait := time.Duration(2+h.rng.IntN(60)) * time.Hour
	return func(ctx context.Context) error {
		number := c.card
		switch {
		case roll < 8:
			number = "4000000000000002"
		case roll < 14:
			number = "4000000000003220"
		}
		if err := h.hosted(ctx, demoTravelID, c, amount, h.cardDetails(c, number)); err != nil {
			return err
		}
		sp := h.payments[len(h.payments)-1]
		switch {
		case roll < 14:
		case roll < 60:
			h.later(wait, h.capture(sp, 1, roll%4 == 0))
		case roll < 75:
			h.later(wait, h.capture(sp, 0.8, false)) // a leg dropped
		case roll < 85:
			h.later(wait, h.void(sp)) // booking cancelled
		default: // never confirmed: the authorization lapses
		}
		return nil
	}
}

// --- the use cases, as their callers make them --------------------------

// startedPayment is a payment started on the hosted pages, with its link.
type startedPayment struct {
	*seededPayment
	token string
}

// start starts a payment as the merchant's getRedirectData does.
func (h *historySeeder) start(ctx context.Context, merchant string, c *demoCustomer, amount int64) (*startedPayment, error) {
	h.refs++
	ref := fmt.Sprintf("%s%04d", demoHistoryPrefix, h.refs)
	cur, err := paywire.LookupCurrency(c.currency)
	if err != nil {
		return nil, err
	}
	// No idempotency key: a second seeder must conflict on the reference,
	// not be answered with the first seeder's redirect.
	rd, err := h.svc.Start(ctx, merchant, "", payment.StartRequest{
		MerchantReference: ref, Kind: paywire.KindDeposit, Amount: paywire.Money{Amount: amount, Currency: cur},
		EndUser: c.user,
		ReturnURLs: paywire.ReturnURLs{Success: h.shop + "/success", Error: h.shop + "/error", Cancel: h.shop + "/cancel",
			Refused: h.shop + "/refused", Pending: h.shop + "/pending"},
		NotificationURL: h.shop + "/listener",
	})
	if err != nil {
		return nil, err
	}
	sp := &seededPayment{merchant: merchant, id: rd.PaymentID}
	h.payments = append(h.payments, sp)
	h.track(ctx, sp)
	return &startedPayment{seededPayment: sp, token: rd.PostFields[0].Value}, nil
}

func (h *historySeeder) cardDetails(c *demoCustomer, number string) payment.Details {
	now := h.clock.Now()
	return payment.Details{Method: paywire.MethodCard, IP: c.user.IP, Card: &paywire.Card{
		Number: number, CVC: "123", Holder: strings.ToUpper(strings.ReplaceAll(c.user.ID, "-", " ")),
		ExpiryMonth: 1 + (len(c.user.ID)+int(number[len(number)-1]))%12, ExpiryYear: now.Year() + 2,
	}}
}

// hosted is an end user paying on the hosted pages: the method, the
// provider's page when there is one, and the way back.
func (h *historySeeder) hosted(ctx context.Context, merchant string, c *demoCustomer, amount int64, d payment.Details) error {
	sp, err := h.start(ctx, merchant, c, amount)
	if err != nil {
		return err
	}
	defer h.track(ctx, sp.seededPayment)
	h.clock.after(time.Duration(20+h.rng.IntN(100)) * time.Second) // choosing, typing
	out, err := h.svc.Submit(ctx, sp.token, d)
	if err != nil {
		return fmt.Errorf("submitting %s: %w", sp.id, err)
	}
	if out.RedirectURL != "" && !out.ToMerchant {
		if out, err = h.providerPage(ctx, out.RedirectURL); err != nil {
			return fmt.Errorf("provider page of %s: %w", sp.id, err)
		}
	}
	if out != nil && (out.State.Paid() || out.State == paywire.StateReview) {
		h.deposits[c.user.ID] = append(h.deposits[c.user.ID], sp.seededPayment)
	}
	if out != nil && out.State == paywire.StateReview {
		// Decided within three days, but not the newest (plan).
		if h.clock.Now().Before(h.end.Add(-24 * time.Hour)) {
			h.later(time.Duration(1+h.rng.IntN(72))*time.Hour, h.review(sp.seededPayment))
		}
	}
	return nil
}

// noAnswer is the share of end users who leave a provider's page without
// an answer; the payment expires.
const noAnswer = 8

// nonceField finds the form's nonce on a sandbox page.
var nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// providerPage is the end user on the sandbox's challenge or bank page:
// the page is read, answered (mostly yes), and the end user comes back
// through the listener's return. Some leave without an answer: nil.
func (h *historySeeder) providerPage(ctx context.Context, page string) (*payment.Outcome, error) {
	u, err := url.Parse(page)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/") // sandbox/<name>/<kind>/<ref>
	if len(parts) != 4 || parts[0] != "sandbox" || h.pages[parts[1]] == nil {
		return nil, fmt.Errorf("not a sandbox page: %s", u.Path)
	}
	a, kind := h.pages[parts[1]], parts[2]
	h.clock.after(time.Duration(5+h.rng.IntN(20)) * time.Second)
	get := httptest.NewRecorder()
	a.Handler().ServeHTTP(get, httptest.NewRequestWithContext(ctx, http.MethodGet, u.Path, nil))
	nonce := nonceField.FindStringSubmatch(get.Body.String())
	if get.Code != http.StatusOK || nonce == nil {
		return nil, fmt.Errorf("sandbox page %s answered %d", u.Path, get.Code)
	}
	roll := h.rng.IntN(100)
	if roll < noAnswer {
		return nil, nil
	}
	form := url.Values{"nonce": {nonce[1]}}
	switch {
	case kind == "bank" && roll < noAnswer+8:
		form.Set("action", "cancel")
	case kind == "bank":
		form.Set("action", "pay")
		form.Set("username", "demo")
		form.Set("password", "demo")
	case roll < noAnswer+12:
		form.Set("decision", "deny")
	default:
		form.Set("decision", "approve")
	}
	h.clock.after(time.Duration(10+h.rng.IntN(50)) * time.Second)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, u.Path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post := httptest.NewRecorder()
	a.Handler().ServeHTTP(post, req)
	back, err := url.Parse(post.Header().Get("Location"))
	if post.Code != http.StatusSeeOther || err != nil || back.Query().Get("attempt") == "" {
		return nil, fmt.Errorf("sandbox page %s answered %d", u.Path, post.Code)
	}
	h.clock.after(2 * time.Second)
	return h.svc.ConfirmReturn(ctx, parts[1], back.Query().Get("attempt"))
}

// errNoDeposit says an end user has nothing to be paid out to.
var errNoDeposit = errors.New("no paid deposit to pay out to")

// payout pays an end user back to the method of an earlier deposit, as the
// merchant's createPayment does.
func (h *historySeeder) payout(ctx context.Context, c *demoCustomer) error {
	var src *paywire.Payment
	for _, sp := range slices.Backward(h.deposits[c.user.ID]) {
		// Payouts have higher minimums than deposits: twice the
		// equivalent of 20.00 EUR deposited is enough everywhere.
		if p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id); err == nil && p.State == paywire.StateCompleted &&
			p.Method != paywire.MethodBankRedirect && p.Amount.Amount >= int64(4000*factor[p.Amount.Currency.Code]) {
			src = p
			break
		}
	}
	if src == nil {
		return errNoDeposit
	}
	h.refs++
	ref := fmt.Sprintf("%s%04d", demoHistoryPrefix, h.refs)
	amount := src.Amount
	amount.Amount = amount.Amount / 2 / 100 * 100
	p, err := h.svc.Create(ctx, src.MerchantID, "", payment.CreateRequest{
		MerchantReference: ref, Kind: paywire.KindWithdrawal, Amount: amount, EndUser: src.EndUser,
		PaymentMethod: src.Method, SourcePaymentID: src.ID, NotificationURL: h.shop + "/listener",
	})
	if err != nil {
		return fmt.Errorf("payout from %s: %w", src.ID, err)
	}
	sp := &seededPayment{merchant: src.MerchantID, id: p.ID}
	h.payments = append(h.payments, sp)
	h.track(ctx, sp)
	return nil
}

// refund gives back 1/part of what was captured, as the merchant's
// refund does.
func (h *historySeeder) refund(sp *seededPayment, part int64) func(context.Context) error {
	return func(ctx context.Context) error {
		defer h.track(ctx, sp)
		p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id)
		if err != nil || p.State != paywire.StateCompleted {
			return err // not paid in the end: nothing to give back
		}
		m := paywire.Money{Amount: p.Captured / part, Currency: p.Amount.Currency}
		_, err = h.svc.Refund(ctx, sp.merchant, "refund-"+p.MerchantReference, sp.id, m.Decimal())
		return err
	}
}

// capture captures share of an authorization, as the merchant's capture
// does; refundLater refunds a part of it a few days on.
func (h *historySeeder) capture(sp *seededPayment, share float64, refundLater bool) func(context.Context) error {
	return func(ctx context.Context) error {
		defer h.track(ctx, sp)
		p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id)
		if err != nil || p.State != paywire.StateAuthorized {
			return err
		}
		amount := ""
		if share < 1 {
			amount = paywire.Money{Amount: int64(float64(p.Amount.Amount) * share), Currency: p.Amount.Currency}.Decimal()
		}
		if _, err := h.svc.Capture(ctx, sp.merchant, "capture-"+p.MerchantReference, sp.id, amount); err != nil {
			return err
		}
		if refundLater {
			h.later(time.Duration(48+h.rng.IntN(96))*time.Hour, h.refund(sp, 4))
		}
		return nil
	}
}

// void cancels an authorization, as the merchant's cancel does.
func (h *historySeeder) void(sp *seededPayment) func(context.Context) error {
	return func(ctx context.Context) error {
		defer h.track(ctx, sp)
		p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id)
		if err != nil || p.State != paywire.StateAuthorized {
			return err
		}
		_, err = h.svc.Cancel(ctx, sp.merchant, "cancel-"+p.MerchantReference, sp.id)
		return err
	}
}

// review is a risk analyst deciding a payment held for review: most are
// approved after a look, some declined.
func (h *historySeeder) review(sp *seededPayment) func(context.Context) error {
	approve := h.rng.IntN(3) > 0
	return func(ctx context.Context) error {
		defer h.track(ctx, sp)
		p, err := h.svc.Payments.Payment(ctx, sp.merchant, sp.id)
		if err != nil || p.State != paywire.StateReview {
			return err
		}
		why := "customer called; order and identity confirmed"
		if !approve {
			why = "throwaway e-mail and no answer to our call"
		}
		p, err = h.svc.Review(ctx, sp.merchant, sp.id, approve, paywire.AdminActor("admin"), why)
		if err == nil && p.State == paywire.StateAuthorized {
			h.later(time.Duration(1+h.rng.IntN(8))*time.Hour, h.capture(sp, 1, false))
		}
		return err
	}
}

// --- follow-ups -----------------------------------------------------------

// track queues the payment's pending follow-ups not queued before.
func (h *historySeeder) track(ctx context.Context, sp *seededPayment) {
	fs, err := h.svc.FollowUps.FollowUps(ctx, sp.merchant, sp.id)
	if err != nil {
		return
	}
	for _, f := range fs {
		if f.Status == paywire.FollowUpPending && !h.seen[f.ID] {
			h.seen[f.ID] = true
			heap.Push(&h.followUps, &dueFollowUp{at: f.DueAt, id: f.ID, payment: sp})
		}
	}
}

// dueFollowUps carries out, in order and each at its time, the follow-ups
// due by t, as the worker would have. One whose provider has not decided
// is left to the worker.
func (h *historySeeder) dueFollowUps(ctx context.Context, t time.Time) error {
	for h.followUps.Len() > 0 && !h.followUps[0].at.After(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := heap.Pop(&h.followUps).(*dueFollowUp)
		fs, err := h.svc.FollowUps.FollowUps(ctx, d.payment.merchant, d.payment.id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(fs, func(f paywire.FollowUp) bool { return f.ID == d.id })
		if i < 0 || fs[i].Status != paywire.FollowUpPending {
			continue
		}
		h.clock.at(fs[i].DueAt)
		if err := h.svc.RunFollowUp(ctx, fs[i]); err != nil {
			h.counts.LeftToWorker++
		}
		h.track(ctx, d.payment)
		h.notifyDue(ctx)
	}
	return nil
}

// notifyDue delivers the notifications due on the history's clock.
func (h *historySeeder) notifyDue(ctx context.Context) {
	for {
		n, err := h.notify.Tick(ctx)
		if err != nil && h.counts.FirstProblem == nil {
			h.counts.Problems++
			h.counts.FirstProblem = err
		}
		if n == 0 || err != nil {
			return
		}
	}
}

// pastListener sends the history's notifications to the demo shop's
// listener code in memory, standing in for the shop as it ran then;
// anything else goes out as usual.
type pastListener struct {
	url  string
	shop http.Handler
	next http.RoundTripper
}

func (t pastListener) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() != t.url {
		return t.next.RoundTrip(r)
	}
	in := r.Clone(r.Context())
	in.URL = &url.URL{Path: "/listener"}
	in.RequestURI = ""
	w := httptest.NewRecorder()
	t.shop.ServeHTTP(w, in)
	return w.Result(), nil
}

// --- queues -----------------------------------------------------------

type step struct {
	at time.Time
	n  int
	do func(context.Context) error
}

type stepQueue []*step

func (q stepQueue) Len() int { return len(q) }
func (q stepQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].n < q[j].n
	}
	return q[i].at.Before(q[j].at)
}
func (q stepQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *stepQueue) Push(x any)   { *q = append(*q, x.(*step)) }
func (q *stepQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type dueFollowUp struct {
	at      time.Time
	id      int64
	payment *seededPayment
}

type followUpQueue []*dueFollowUp

func (q followUpQueue) Len() int { return len(q) }
func (q followUpQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].id < q[j].id
	}
	return q[i].at.Before(q[j].at)
}
func (q followUpQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *followUpQueue) Push(x any)   { *q = append(*q, x.(*dueFollowUp)) }
func (q *followUpQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// minLevel passes on records at or above a level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
