package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paywire/paywire/api/message"
)

// Scenarios are what an end user of a simulation does, by name: the card
// they pay with (the sandbox's test cards, docs/sandbox.md), another
// method, or giving up on the method selection.
var Scenarios = []string{
	"card",              // the customer's own card: approved subject to the acquirer's approval rate
	"card-approved",     // 4242 4242 4242 4242: always approved
	"card-declined",     // 4000 0000 0000 0002: do_not_honor
	"card-no-funds",     // 4000 0000 0000 9995: insufficient_funds
	"card-3ds",          // 4000 0000 0000 3220: the 3-D Secure challenge, mostly approved
	"card-soft-decline", // 4000 0000 0000 0366: declined softly by every acquirer
	"card-error",        // 4000 0000 0000 0119: a processing error at every acquirer
	"card-late",         // 4000 0000 0000 0077: approved later, by webhook
	"bank",              // a bank redirect, mostly paid on the bank's page
	"wallet",            // an e-wallet, paid later
	"leave",             // leaves the method selection
	"cancel",            // cancels on the method selection
}

// scenarioCards are the test cards of the scenarios that pay with one.
var scenarioCards = map[string]string{
	"card-approved":     "4242424242424242",
	"card-declined":     "4000000000000002",
	"card-no-funds":     "4000000000009995",
	"card-3ds":          "4000000000003220",
	"card-soft-decline": "4000000000000366",
	"card-error":        "4000000000000119",
	"card-late":         "4000000000000077",
}

// Country is where a simulation's end users live: their country, currency
// and language, and how many of them live there (a weight).
type Country struct {
	Code, Currency, Language string
	Weight                   int
}

// Mix is who a simulation's end users are and what they do: weights of
// countries and of scenarios (names from Scenarios).
type Mix struct {
	Countries []Country
	Scenarios map[string]int
}

// DefaultMix is a European shop's: most pay by their own card, some with
// a bank redirect or an e-wallet, and every test card's behaviour a few
// times in a hundred.
func DefaultMix() Mix {
	return Mix{
		Countries: []Country{
			{"DE", "EUR", "de", 30}, {"AT", "EUR", "de", 8}, {"NL", "EUR", "nl", 10}, {"FR", "EUR", "fr", 10},
			{"IT", "EUR", "it", 6}, {"GB", "GBP", "en", 14}, {"SE", "SEK", "sv", 6}, {"PL", "PLN", "pl", 6}, {"US", "USD", "en", 10},
		},
		Scenarios: map[string]int{"card": 55, "card-approved": 5, "card-declined": 4, "card-no-funds": 3, "card-3ds": 8,
			"card-soft-decline": 3, "card-error": 2, "card-late": 3, "bank": 7, "wallet": 6, "leave": 2, "cancel": 2},
	}
}

// ParseScenarios reads scenario weights written "card=60,card-3ds=10,...".
func ParseScenarios(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not scenario=weight", part)
		}
		if !slices.Contains(Scenarios, name) {
			return nil, fmt.Errorf("%q is not a scenario; use %s", name, strings.Join(Scenarios, ", "))
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 1000 {
			return nil, fmt.Errorf("%s=%s: the weight is not a whole number from 0 to 1000", name, w)
		}
		out[name] = n
	}
	total := 0
	for _, n := range out {
		total += n
	}
	if total == 0 {
		return nil, errors.New("no scenario has a weight")
	}
	return out, nil
}

// Simulation drives Payments payments through a running Paywire, at Rate
// a second, as its merchants and their end users would.
type Simulation struct {
	// Merchants start the payments, in turn.
	Merchants []*Merchant
	Payments  int
	// Rate is how many payments start a second; 0 starts each as soon as
	// fewer than Concurrency flows run.
	Rate float64
	// Concurrency bounds the flows running at once (0: 16).
	Concurrency int
	// Customers is how many end users there are; each comes back (so
	// that customer-sticky experiments see the same customer in the same
	// arm). 0: a third of Payments, at least 10.
	Customers int
	// API is how payments start: APIJSON, APISOAP, or "" for both in
	// turn.
	API string
	// ReturnURL is the base of the merchant's return pages
	// ("http://127.0.0.1/simulate/"): success, error, cancel, refused and
	// pending are under it. They are never fetched, but must be on the
	// merchants' allowlists.
	ReturnURL string
	// NotificationURL, if set, is where the payments' notifications go
	// (the merchant's PaymentServiceListener); empty leaves them to the
	// merchant's account.
	NotificationURL string
	Mix             Mix
	// Seed makes the end users and what they do the same every run.
	Seed uint64
	// Settle is how long, after the last flow, payments still pending are
	// read again until they end (0: not).
	Settle time.Duration
	// Reference starts every merchant reference (a run's own, so that
	// runs do not collide); "" is "sim-<unix time>-".
	Reference string
	// HTTP sends every request; nil is a client with a 30 s timeout that
	// does not follow redirects.
	HTTP *http.Client
	// Done, if set, is told of every flow that ended, as it ends (from
	// several goroutines at once).
	Done func(*Result, error)
}

// customer is an end user of a simulation.
type customer struct {
	user     message.EndUser
	currency string
	card     string
}

// factor scales a EUR price to a currency, roughly.
var factor = map[string]float64{"EUR": 1, "GBP": 0.85, "USD": 1.1, "SEK": 11, "PLN": 4.3, "CHF": 0.95}

// plan makes the simulation's orders.
func (s *Simulation) plan() ([]*Order, error) {
	if len(s.Merchants) == 0 {
		return nil, errors.New("no merchant")
	}
	n := s.Customers
	if n <= 0 {
		n = max(10, s.Payments/3)
	}
	ref := s.Reference
	if ref == "" {
		ref = fmt.Sprintf("sim-%d-", time.Now().Unix())
	}
	p := newPlanner(s.Mix, n, s.Seed, ref, s.ReturnURL, s.NotificationURL, s.API)
	orders := make([]*Order, s.Payments)
	for i := range orders {
		orders[i] = p.order(i)
	}
	return orders, nil
}

// planner makes a run's orders, one at a time: its end users, who come
// back, and what each does, drawn by weight from a mix. It is safe for
// concurrent use.
type planner struct {
	mu        sync.Mutex
	rng       *rand.Rand
	customers []*customer
	names     []string // the scenarios with a weight
	weights   []int
	ref, base string
	api       string // APIJSON, APISOAP, or "" for both in turn
	notifyURL string
}

// newPlanner makes n end users living in mix's countries (the default mix
// for what mix leaves out). Orders' merchant references start with ref;
// their return pages are under returnURL.
func newPlanner(mix Mix, n int, seed uint64, ref, returnURL, notifyURL, api string) *planner {
	if len(mix.Countries) == 0 {
		mix.Countries = DefaultMix().Countries
	}
	if len(mix.Scenarios) == 0 {
		mix.Scenarios = DefaultMix().Scenarios
	}
	p := &planner{rng: rand.New(rand.NewPCG(seed, 15)), ref: ref, base: strings.TrimRight(returnURL, "/") + "/", api: api, notifyURL: notifyURL}
	countryWeights := make([]int, len(mix.Countries))
	for i, c := range mix.Countries {
		countryWeights[i] = c.Weight
	}
	p.customers = make([]*customer, max(n, 1))
	for i := range p.customers {
		c := mix.Countries[pick(p.rng, countryWeights)]
		id := fmt.Sprintf("sim-customer-%04d", i+1)
		bin := "424242"
		if i%3 == 1 {
			bin = "555555"
		}
		p.customers[i] = &customer{currency: c.Currency, card: LuhnComplete(fmt.Sprintf("%s%09d", bin, 300000+i*7919)),
			user: message.EndUser{ID: id, Email: id + "@example.com", Country: c.Code, Language: c.Language,
				IP: fmt.Sprintf("198.51.100.%d", 10+i%240), DeviceID: "device-" + id}}
	}
	for _, name := range Scenarios {
		if mix.Scenarios[name] > 0 {
			p.names = append(p.names, name)
			p.weights = append(p.weights, mix.Scenarios[name])
		}
	}
	return p
}

// order makes the run's order i (from 0): one of the end users, coming
// back, doing one of the scenarios.
func (p *planner) order(i int) *Order {
	p.mu.Lock()
	defer p.mu.Unlock()
	rng := p.rng
	c := p.customers[rng.IntN(len(p.customers))]
	scenario := p.names[pick(rng, p.weights)]
	api := p.api
	if api == "" {
		api = []string{APIJSON, APISOAP}[i%2]
	}
	base := p.base
	o := &Order{Label: scenario, API: api, Capture: true, Request: message.GetRedirectDataRequest{
		MerchantReference: fmt.Sprintf("%s%05d", p.ref, i+1), Kind: "DEPOSIT",
		Amount: price(rng, c.currency, 5, 400), Currency: c.currency, EndUser: c.user,
		ReturnURLs: message.ReturnURLs{Success: base + "success", Error: base + "error", Cancel: base + "cancel",
			Refused: base + "refused", Pending: base + "pending"},
		NotificationURL: p.notifyURL,
	}}
	u := &o.User
	u.Method = "card"
	number := c.card
	if tc, ok := scenarioCards[scenario]; ok {
		number = tc
	}
	now := time.Now()
	u.Card = Card{Number: number, ExpiryMonth: 1 + i%12, ExpiryYear: now.Year() + 2, CVC: "123",
		Holder: strings.ToUpper(strings.ReplaceAll(c.user.ID, "-", " "))}
	switch scenario {
	case "bank":
		u.Method = "bank_redirect"
		u.BankLogin = []string{PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, PayNow, Cancel, Leave}[rng.IntN(13)]
	case "wallet":
		u.Method, u.Wallet, u.CheckAgain = "ewallet", c.user.Email, 2
	case "card-late":
		u.CheckAgain = 2
	case "card-3ds":
		u.Challenge = []string{Approve, Approve, Approve, Approve, Approve, Approve, Approve, Approve, Approve, Approve, Deny, Cancel, Leave}[rng.IntN(13)]
	case "leave":
		u.OnMethods = Leave
	case "cancel":
		u.OnMethods = Cancel
	}
	// Some merchants let their customers choose the method in their
	// own checkout and pass it on; the rest leave it to the pages.
	if u.OnMethods == "" && rng.IntN(4) == 0 {
		o.Request.PaymentMethod = u.Method
	}
	return o
}

// pick chooses an index by weight.
func pick(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := rng.IntN(max(total, 1))
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return 0
}

// price is a basket amount of currency between lo and hi euros, most
// baskets small, as the API writes it.
func price(rng *rand.Rand, currency string, lo, hi float64) string {
	f := factor[currency]
	if f == 0 {
		f = 1
	}
	eur := lo + (hi-lo)*rng.Float64()*rng.Float64()
	minor := int64(eur*f*100)/10*10 + 9*int64(rng.IntN(2))
	return fmt.Sprintf("%d.%02d", minor/100, minor%100)
}

// LuhnComplete appends the Luhn check digit to digits: a card number that
// passes the Luhn check, without a test card's behaviour at the sandbox.
func LuhnComplete(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + strconv.Itoa((10-sum%10)%10)
}

// Run runs the simulation until every flow ended, or ctx did, and
// summarises it. The error is for a simulation that could not start; the
// flows' own errors are in the summary.
func (s *Simulation) Run(ctx context.Context) (*Summary, error) {
	orders, err := s.plan()
	if err != nil {
		return nil, err
	}
	conc := s.Concurrency
	if conc <= 0 {
		conc = 16
	}
	sum := newSummary()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	begin := time.Now()
	var results []*Result
	for i, o := range orders {
		if s.Rate > 0 {
			at := begin.Add(time.Duration(float64(i) / s.Rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		m := s.Merchants[i%len(s.Merchants)]
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := Pay(ctx, m, &Browser{HTTP: s.HTTP}, o)
			if s.Done != nil {
				s.Done(r, err)
			}
			mu.Lock()
			defer mu.Unlock()
			sum.flow(m, r, err)
			results = append(results, r)
		})
	}
	wg.Wait()
	sum.Duration = time.Since(begin)
	s.settle(ctx, sum, results)
	for _, r := range results {
		sum.final(r)
	}
	return sum, nil
}

// settle reads the payments still pending again, once a second, until
// they end or Settle has passed, capturing those that became authorized.
func (s *Simulation) settle(ctx context.Context, sum *Summary, results []*Result) {
	if s.Settle <= 0 {
		return
	}
	deadline := time.Now().Add(s.Settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		open := 0
		for _, r := range results {
			if r.Payment == nil || r.Payment.State != "PENDING" {
				continue
			}
			m := sum.merchants[r]
			p, err := m.Payment(ctx, r.PaymentID)
			if err != nil {
				continue
			}
			r.Payment = p
			if p.State == "AUTHORIZED" && r.Order.Capture {
				var steps []Step
				_ = capture(ctx, m, &steps, r) // a failure leaves it authorized, as counted
			}
			if r.Payment.State == "PENDING" {
				open++
			}
		}
		if open == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Summary is what a simulation did: its flows' payments by the state they
// ended in, by provider and by scenario, and the timings of their steps.
type Summary struct {
	Payments int           // flows run
	Failed   int           // flows that went wrong on the way
	Problems []string      // the first ten of their errors
	Duration time.Duration // from the first start to the last flow's end
	// By state as the merchant last read the payment ("" unread).
	States    map[string]int
	Providers map[string]map[string]int // provider ("none") -> state -> payments
	Scenarios map[string]map[string]int // scenario -> state -> payments
	APIs      map[string]int
	Steps     map[string]*Timings

	merchants map[*Result]*Merchant
}

func newSummary() *Summary {
	return &Summary{States: map[string]int{}, Providers: map[string]map[string]int{}, Scenarios: map[string]map[string]int{},
		APIs: map[string]int{}, Steps: map[string]*Timings{}, merchants: map[*Result]*Merchant{}}
}

// flow counts a flow that ended.
func (sum *Summary) flow(m *Merchant, r *Result, err error) {
	sum.Payments++
	sum.merchants[r] = m
	sum.APIs[r.Order.API]++
	if err != nil {
		sum.Failed++
		if len(sum.Problems) < 10 {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s (%s): %v", r.Order.Request.MerchantReference, r.Order.Label, err))
		}
	}
	addSteps(sum.Steps, r.Steps)
}

// addSteps records each step in the timings of its kind.
func addSteps(timings map[string]*Timings, steps []Step) {
	for _, st := range steps {
		t := timings[st.Name]
		if t == nil {
			t = &Timings{}
			timings[st.Name] = t
		}
		t.Add(st.Took, st.Err != nil)
	}
}

// final counts a flow's payment as it ended.
func (sum *Summary) final(r *Result) {
	state, provider := "", "none"
	if r.Payment != nil {
		state = r.Payment.State
		if r.Payment.Provider != "" {
			provider = r.Payment.Provider
		}
	}
	if state == "" {
		state = "UNKNOWN"
	}
	sum.States[state]++
	count(sum.Providers, provider, state)
	count(sum.Scenarios, r.Order.Label, state)
}

func count(m map[string]map[string]int, k, state string) {
	if m[k] == nil {
		m[k] = map[string]int{}
	}
	m[k][state]++
}

// Timings are the durations of one kind of step.
type Timings struct {
	Count, Errors int
	sorted        bool
	took          []time.Duration
}

// Add records one step.
func (t *Timings) Add(d time.Duration, failed bool) {
	t.Count++
	if failed {
		t.Errors++
	}
	t.took = append(t.took, d)
	t.sorted = false
}

// Merge adds the steps o recorded.
func (t *Timings) Merge(o *Timings) {
	t.Count += o.Count
	t.Errors += o.Errors
	t.took = append(t.took, o.took...)
	t.sorted = false
}

// Percentile is the nearest-rank percentile q (0 < q <= 1) of the
// durations; 0 without any.
func (t *Timings) Percentile(q float64) time.Duration {
	if len(t.took) == 0 {
		return 0
	}
	if !t.sorted {
		slices.Sort(t.took)
		t.sorted = true
	}
	i := int(float64(len(t.took))*q+0.999999) - 1
	return t.took[max(0, min(i, len(t.took)-1))]
}

// Write prints the summary for people.
func (sum *Summary) Write(w io.Writer) {
	rate := 0.0
	if sum.Duration > 0 {
		rate = float64(sum.Payments) / sum.Duration.Seconds()
	}
	fmt.Fprintf(w, "%d payments in %s (%.1f a second); %d flows went wrong\n", sum.Payments, sum.Duration.Round(time.Millisecond), rate, sum.Failed)
	fmt.Fprintf(w, "started by: %s\n", joined(sum.APIs))
	fmt.Fprintf(w, "final states: %s\n", joined(sum.States))
	fmt.Fprintln(w, "by provider:")
	for _, p := range sortedKeys(sum.Providers) {
		fmt.Fprintf(w, "  %-18s %s\n", p, joined(sum.Providers[p]))
	}
	fmt.Fprintln(w, "by scenario:")
	for _, s := range sortedKeys(sum.Scenarios) {
		fmt.Fprintf(w, "  %-18s %s\n", s, joined(sum.Scenarios[s]))
	}
	writeSteps(w, sum.Steps)
	for _, p := range sum.Problems {
		fmt.Fprintf(w, "went wrong: %s\n", p)
	}
}

// writeSteps prints a table of the timings of every kind of step.
func writeSteps(w io.Writer, steps map[string]*Timings) {
	fmt.Fprintln(w, "steps:                                            count errors     p50     p95     p99")
	for _, name := range sortedKeys(steps) {
		t := steps[name]
		fmt.Fprintf(w, "  %-46s %6d %6d %7s %7s %7s\n", name, t.Count, t.Errors, ms(t.Percentile(0.5)), ms(t.Percentile(0.95)), ms(t.Percentile(0.99)))
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
}

func joined(m map[string]int) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
