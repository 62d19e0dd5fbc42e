package payment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// The property test drives the real use cases over many payments in a
// random interleaving — starts and submissions, backend payments,
// captures, refunds, cancellations, retries of merchant requests with
// their keys, webhooks duplicated, reordered and late, follow-ups, and
// use cases that die at a provider call — against providers that answer
// at random (approvals, declines, failures, pending outcomes, timeouts
// before and after success), and checks the invariants after every step.
//
// PAYWIRE_PROPERTY_SEED reruns a seed; PAYWIRE_PROPERTY_PAYMENTS changes
// how many payments are made (200).

const (
	propertyPayments = 200
	// propertyChecks is how often (in steps) every payment is checked; in
	// between, the payments a step changed are.
	propertyChecks = 250
)

func TestProperty(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	if s := os.Getenv("PAYWIRE_PROPERTY_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PAYWIRE_PROPERTY_SEED: %v", err)
		}
	}
	n := propertyPayments
	if s := os.Getenv("PAYWIRE_PROPERTY_PAYMENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("PAYWIRE_PROPERTY_PAYMENTS: %v", err)
		}
	}
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("seed %d: rerun with PAYWIRE_PROPERTY_SEED=%d go test -run TestProperty ./payment/", seed, seed)
			}
		})
		newWorld(t, db, seed, n).run()
	})
}

// world is the test's side of the property test: what it asked, what the
// providers did and what it has seen of the payments.
type world struct {
	t      *testing.T
	e      *env
	seed   uint64
	rng    *rand.Rand
	budget int // payments to make
	step   int
	op     string // the step's operation, for messages

	provs   map[string]*fake
	sources []*paywire.Payment // a paid card deposit per end user, for backend payments

	mu        sync.Mutex // guards what provider scripts write
	calm      bool       // providers answer at once and approve
	hooks     []hook
	pendingAt []pendingOp // payments pending at a provider, to decide
	refundKey map[string]map[string]bool
	nextHook  int

	payments []*tracked
	byID     map[string]*tracked
	requests []*request
	seen     map[string]observed // what the invariants saw of each payment
	failMu   sync.Mutex
	failures int
	checked  time.Time      // the clock at the last check
	stats    map[string]int // what happened, for the log
}

// tracked is a payment the test made.
type tracked struct {
	id, merchant, ref string
	token             string // hosted payments' redirect token
}

// hook is a webhook event a provider will send.
type hook struct {
	provider string
	ev       adapters.WebhookEvent
}

// pendingOp is a payment a provider holds pending.
type pendingOp struct {
	provider, key, reference string
	amount                   int64
	sale                     bool // the outcome moves the money (a bank payment)
}

// request is a merchant's request made with an idempotency key: retried
// with the same key, it must get its first stored outcome.
type request struct {
	id    string
	what  string
	do    func(ctx context.Context) (any, error)
	first []byte // the first stored outcome: the result, or a provider's refusal
}

type observed struct {
	version int64
	state   paywire.State
}

// opKey carries a step's randomness and its request to the providers.
type opKey struct{}

type opInfo struct {
	rng     *rand.Rand
	request string
}

func newWorld(t *testing.T, db *store.DB, seed uint64, budget int) *world {
	w := &world{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), budget: budget,
		provs: map[string]*fake{}, refundKey: map[string]map[string]bool{}, byID: map[string]*tracked{}, seen: map[string]observed{}, stats: map[string]int{}}
	var ps []adapters.Provider
	for _, name := range []string{"acquirer-a", "acquirer-b", "sandbox-bank", "sandbox-wallet"} {
		f := newFake(name)
		f.setScript(w.script(name))
		w.provs[name] = f
		ps = append(ps, f)
	}
	w.e = newEnv(t, withDB(db), withProviders(ps...))
	w.e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 100})
	// A paid card deposit per end user, at either acquirer, for backend
	// payments to reuse.
	for i := range 8 {
		prov := []string{"acquirer-a", "acquirer-b"}[i%2]
		p := storetest.SeedPaymentValue("shop", fmt.Sprintf("source-%d", i))
		p.Amount, p.EndUser = money(100000), endUser(fmt.Sprintf("u%d", i))
		p = storetest.CreatePayment(t, db, p)
		p.Method, p.Provider = paywire.MethodCard, prov
		p = w.e.move(p, paywire.Move{To: paywire.StatePending})
		p.ProviderReference = fmt.Sprintf("source-ref-%d", i)
		p = w.e.move(p, paywire.Move{To: paywire.StateCompleted, Capture: p.Amount.Amount})
		w.sources = append(w.sources, p)
	}
	return w
}

// fail reports a broken invariant with the step and the seed; twenty
// are enough to stop.
// Safe for concurrent use; the run stops after the step.
func (w *world) fail(format string, args ...any) {
	w.t.Helper()
	w.failMu.Lock()
	defer w.failMu.Unlock()
	if w.failures++; w.failures <= 20 {
		w.t.Errorf("step %d (%s), seed %d: %s", w.step, w.op, w.seed, fmt.Sprintf(format, args...))
	}
}

// count counts something that happened; safe for concurrent use.
func (w *world) count(what string, n int) {
	w.mu.Lock()
	w.stats[what] += n
	w.mu.Unlock()
}

// opContext is a step's context: its own randomness for the providers,
// and a use case that may die at a provider call.
func (w *world) opContext(request string) context.Context {
	info := &opInfo{rng: rand.New(rand.NewPCG(w.rng.Uint64(), w.rng.Uint64())), request: request}
	return withCrash(context.WithValue(ctx, opKey{}, info))
}

func (w *world) run() {
	for w.step = 1; len(w.payments) < w.budget || w.step < 5*w.budget; w.step++ {
		before := w.e.clock.Now()
		w.randomStep()
		if w.t.Failed() {
			return
		}
		w.e.clock.Add(time.Duration(w.rng.IntN(10)) * time.Second)
		w.check(w.step%propertyChecks == 0)
		if w.e.clock.Now().Before(before) {
			w.fail("the clock went back")
		}
		if w.t.Failed() {
			return
		}
	}
	// The end: the providers settle, every webhook arrives, and the worker
	// runs until nothing is due with the clock moved forward.
	w.op = "settle"
	w.mu.Lock()
	w.calm = true
	pend := w.pendingAt
	w.pendingAt = nil
	w.mu.Unlock()
	for _, po := range pend {
		w.decide(po, w.rng.IntN(4) != 0)
	}
	for range 3 {
		w.deliver(len(w.hooks))
	}
	for range 36 {
		w.runWorker(5 * time.Minute)
	}
	w.deliver(len(w.hooks))
	w.check(true)
	w.checkSettled()
	w.t.Logf("%d steps, %d payments, %d keyed requests, clock moved %v", w.step, len(w.payments), len(w.requests), w.e.clock.Now().Sub(t0))
	w.t.Logf("what happened: %v", w.stats)
}

// randomStep does one random operation.
func (w *world) randomStep() {
	r := w.rng.IntN(100)
	switch {
	case r < 16 && len(w.payments) < w.budget:
		if w.rng.IntN(100) < 80 {
			w.start()
		} else {
			w.create()
		}
	case r < 32:
		w.submit()
	case r < 41:
		w.capture()
	case r < 50:
		w.refund()
	case r < 54:
		w.cancel()
	case r < 61:
		w.retry()
	case r < 72:
		w.deliver(1 + w.rng.IntN(3))
	case r < 78:
		w.providerDecides()
	case r < 82:
		w.providerEvent()
	case r < 91:
		w.runWorker(time.Duration(w.rng.IntN(120)) * time.Second)
	case r < 96:
		w.concurrently()
	default:
		w.op = "wait"
		w.e.clock.Add(time.Duration(w.rng.IntN(90)) * time.Second)
	}
}

// --- operations ------------------------------------------------------------

// pick returns a random tracked payment in one of the states, or nil.
func (w *world) pick(states ...paywire.State) (*tracked, *paywire.Payment) {
	var cands []*tracked
	for _, tp := range w.payments {
		if slices.Contains(states, w.seen[tp.id].state) {
			cands = append(cands, tp)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	tp := cands[w.rng.IntN(len(cands))]
	p, err := w.e.db.Payment(ctx, tp.merchant, tp.id)
	if err != nil {
		w.fail("reading %s: %v", tp.id, err)
		return nil, nil
	}
	return tp, p
}

// expect fails the step when err is not one of the codes the operation
// may end with; any error is possible when the use case died.
func (w *world) expect(ctx context.Context, err error, codes ...string) {
	w.t.Helper()
	if err == nil || crashed(ctx) || slices.Contains(codes, paywire.ErrorCode(err)) {
		return
	}
	w.fail("unexpected error %v", err)
}

// keyed makes a merchant request with a key, records it for retries and
// records its outcome.
func (w *world) keyed(what string, do func(ctx context.Context) (any, error), codes ...string) (any, error) {
	req := &request{id: fmt.Sprintf("req-%d", len(w.requests)+1), what: what, do: do}
	w.requests = append(w.requests, req)
	return w.issue(req, codes...)
}

func (w *world) issue(req *request, codes ...string) (any, error) {
	return w.issueIn(w.opContext(req.id), req, codes...)
}

// issueIn makes the request in ctx; safe for concurrent use.
func (w *world) issueIn(ctx context.Context, req *request, codes ...string) (any, error) {
	res, err := req.do(ctx)
	w.expect(ctx, err, append(codes, paywire.EINPROGRESS)...)
	var out []byte
	switch {
	case err == nil:
		out, _ = json.Marshal(res)
	case paywire.ErrorCode(err) == paywire.EDECLINED && !crashed(ctx):
		out = []byte("error " + paywire.ErrorCode(err) + ": " + paywire.ErrorMessage(err))
	default:
		return res, err // nothing stored: a retry runs again
	}
	w.mu.Lock()
	first := req.first
	if first == nil {
		req.first = out
	} else {
		w.stats["retry answered as first"]++
	}
	w.mu.Unlock()
	if first != nil && !bytes.Equal(out, first) {
		w.fail("%s retried with its key was answered\n%s\nfirst\n%s", req.what, out, first)
	}
	return res, err
}

func (w *world) start() {
	w.op = "start"
	n := len(w.payments) + 1
	merchant := "shop"
	if w.rng.IntN(4) == 0 {
		merchant = "eager"
	}
	ref := fmt.Sprintf("hosted-%d", n)
	r := startRequest(merchant, ref, 100+w.rng.Int64N(50000))
	r.EndUser = endUser(fmt.Sprintf("u%d", w.rng.IntN(len(w.sources))))
	res, err := w.keyed("start "+ref, func(ctx context.Context) (any, error) {
		return w.e.s.Start(ctx, merchant, "ref:"+ref, r)
	})
	if err != nil {
		w.fail("start: %v", err)
		return
	}
	rd := res.(*payment.Redirect)
	w.track(&tracked{id: rd.PaymentID, merchant: merchant, ref: ref, token: rd.PostFields[0].Value})
}

func (w *world) create() {
	w.op = "create"
	n := len(w.payments) + 1
	ref := fmt.Sprintf("backend-%d", n)
	src := w.sources[w.rng.IntN(len(w.sources))]
	r := backend(ref, src.ID)
	r.EndUser, r.Amount = src.EndUser, money(100+w.rng.Int64N(50000))
	_, err := w.keyed("create "+ref, func(ctx context.Context) (any, error) {
		return w.e.s.Create(ctx, "shop", "create-"+ref, r)
	}, paywire.EUNAVAILABLE)
	p, rerr := w.e.db.PaymentByReference(ctx, "shop", ref)
	if rerr != nil {
		w.fail("create: %v; the payment: %v", err, rerr)
		return
	}
	w.track(&tracked{id: p.ID, merchant: "shop", ref: ref})
}

func (w *world) track(tp *tracked) {
	w.payments = append(w.payments, tp)
	w.byID[tp.id] = tp
	w.seen[tp.id] = observed{version: 0, state: paywire.StateCreated}
}

var testCards = []string{"4242424242424242", "5555555555554444", "4000056655665556", "4111111111111111"}

func (w *world) submit() {
	w.op = "submit"
	var cands []*tracked
	for _, tp := range w.payments {
		if tp.token != "" && (w.seen[tp.id].state == paywire.StateCreated || w.rng.IntN(50) == 0) {
			cands = append(cands, tp)
		}
	}
	if len(cands) == 0 {
		return
	}
	tp := cands[w.rng.IntN(len(cands))]
	d := card(testCards[w.rng.IntN(len(testCards))])
	if w.rng.IntN(5) == 0 {
		d = bank()
	}
	ctx := w.opContext("")
	if w.rng.IntN(20) == 0 {
		w.op = "cancel on the pages"
		_, err := w.e.s.CancelRedirect(ctx, tp.token)
		w.expect(ctx, err)
		return
	}
	_, err := w.e.s.Submit(ctx, tp.token, d)
	// A method the pages do not offer for the amount is refused as the
	// form's error.
	w.expect(ctx, err, paywire.ECONFLICT, paywire.EEXPIRED, paywire.EINVALID)
}

// amountText is minor units as the merchant API takes them.
func amountText(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

func (w *world) capture() {
	w.op = "capture"
	tp, p := w.pick(paywire.StateAuthorized)
	if tp == nil {
		return
	}
	amount := ""
	if w.rng.IntN(3) == 0 {
		amount = amountText(1 + w.rng.Int64N(p.Amount.Amount))
	}
	key := fmt.Sprintf("capture-%d", w.step)
	w.keyed("capture "+tp.ref+" "+amount, func(ctx context.Context) (any, error) {
		return w.e.s.Capture(ctx, tp.merchant, key, tp.id, amount)
	}, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE)
}

func (w *world) refund() {
	w.op = "refund"
	tp, p := w.pick(paywire.StateCompleted, paywire.StatePartiallyRefunded)
	if tp == nil {
		return
	}
	left := p.Captured - p.Refunded - p.ChargedBack
	if left <= 0 {
		return
	}
	amount := amountText(1 + w.rng.Int64N(left))
	if w.rng.IntN(10) == 0 { // without a key: a refund of its own, each time
		ctx := w.opContext(fmt.Sprintf("refund-%d", w.step))
		_, err := w.e.s.Refund(ctx, tp.merchant, "", tp.id, amount)
		w.expect(ctx, err, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE, paywire.EINVALID)
		return
	}
	key := fmt.Sprintf("refund-%d", w.step)
	w.keyed("refund "+tp.ref+" "+amount, func(ctx context.Context) (any, error) {
		return w.e.s.Refund(ctx, tp.merchant, key, tp.id, amount)
	}, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE, paywire.EINVALID)
}

func (w *world) cancel() {
	w.op = "cancel"
	tp, _ := w.pick(paywire.StateAuthorized, paywire.StateAuthorized, paywire.StateCreated, paywire.StateReview)
	if tp == nil {
		return
	}
	key := fmt.Sprintf("cancel-%d", w.step)
	w.keyed("cancel "+tp.ref, func(ctx context.Context) (any, error) {
		return w.e.s.Cancel(ctx, tp.merchant, key, tp.id)
	}, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE)
}

func (w *world) retry() {
	w.op = "retry"
	if len(w.requests) == 0 {
		return
	}
	req := w.requests[w.rng.IntN(len(w.requests))]
	w.op = "retry " + req.what
	w.issue(req, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE, paywire.EINVALID, paywire.ECONFLICT)
}

// deliver sends up to n queued webhooks, in random order; a delivered
// one stays queued at times, to come again later.
func (w *world) deliver(n int) {
	w.op = "webhooks"
	for range n {
		w.mu.Lock()
		if len(w.hooks) == 0 {
			w.mu.Unlock()
			return
		}
		i := w.rng.IntN(len(w.hooks))
		h := w.hooks[i]
		if w.calm || w.rng.IntN(5) != 0 {
			w.hooks = slices.Delete(w.hooks, i, i+1)
		}
		w.mu.Unlock()
		for range 1 + w.rng.IntN(2) {
			w.send(w.opContext(""), h)
		}
	}
}

// takeHook takes a random queued webhook off the queue.
func (w *world) takeHook() (hook, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.hooks) == 0 {
		return hook{}, false
	}
	i := w.rng.IntN(len(w.hooks))
	h := w.hooks[i]
	w.hooks = slices.Delete(w.hooks, i, i+1)
	return h, true
}

// send delivers a webhook; safe for concurrent use.
func (w *world) send(ctx context.Context, h hook) {
	body, _ := json.Marshal([]adapters.WebhookEvent{h.ev})
	hd := make(map[string][]string)
	hd["X-Signature"] = []string{webhookSignature}
	err := w.e.s.HandleWebhook(ctx, h.provider, hd, body)
	w.count("webhook delivered", 1)
	// An amount above what is left when it arrives is refused, every time
	// it is delivered.
	w.expect(ctx, err, paywire.EINVALID)
}

// providerDecides decides a payment a provider holds pending.
func (w *world) providerDecides() {
	w.op = "provider decides"
	w.mu.Lock()
	if len(w.pendingAt) == 0 {
		w.mu.Unlock()
		return
	}
	i := w.rng.IntN(len(w.pendingAt))
	po := w.pendingAt[i]
	w.pendingAt = slices.Delete(w.pendingAt, i, i+1)
	w.mu.Unlock()
	w.decide(po, w.rng.IntN(3) != 0)
}

func (w *world) decide(po pendingOp, approve bool) {
	f := w.provs[po.provider]
	res := adapters.Result{Status: adapters.Declined, Code: "declined_later", Reference: po.reference}
	typ := adapters.EventDeclined
	switch {
	case approve && po.sale:
		res, typ = adapters.Result{Status: adapters.Approved, Captured: true, Reference: po.reference}, adapters.EventCaptured
	case approve:
		res, typ = adapters.Result{Status: adapters.Approved, Reference: po.reference}, adapters.EventAuthorized
	case w.rng.IntN(2) == 0:
		res, typ = adapters.Result{Status: adapters.Cancelled, Reference: po.reference}, adapters.EventCancelled
	}
	f.decide(po.key, res)
	w.mu.Lock()
	w.queue(po.provider, typ, po.reference, po.amount)
	w.mu.Unlock()
}

// providerEvent has a provider report a chargeback or a refund made on
// its side of a paid payment; the webhook comes later.
func (w *world) providerEvent() {
	w.op = "provider event"
	tp, p := w.pick(paywire.StateCompleted, paywire.StatePartiallyRefunded)
	if tp == nil || p.ProviderReference == "" {
		return
	}
	left := p.Captured - p.Refunded - p.ChargedBack
	if left <= 0 {
		return
	}
	typ := adapters.EventChargeback
	if w.rng.IntN(2) == 0 {
		typ = adapters.EventRefunded
	}
	w.mu.Lock()
	w.queue(p.Provider, typ, p.ProviderReference, 1+w.rng.Int64N(left))
	w.mu.Unlock()
}

// queue queues a provider's webhook event; the caller holds w.mu.
func (w *world) queue(provider, typ, reference string, amount int64) {
	w.nextHook++
	w.hooks = append(w.hooks, hook{provider: provider, ev: adapters.WebhookEvent{
		ID: fmt.Sprintf("evt-%d", w.nextHook), Type: typ, Reference: reference, Amount: amount}})
}

// runWorker moves the clock by d and runs the follow-up worker until it
// finds nothing due or dies.
func (w *world) runWorker(d time.Duration) {
	w.op = "worker"
	w.e.clock.Add(d)
	for range 50 {
		ctx := w.opContext("")
		n, err := w.e.w.RunOnce(ctx, "worker-"+strconv.Itoa(w.step))
		w.count("follow-ups claimed", n)
		if crashed(ctx) {
			return // its leases run out; another worker takes them over
		}
		if err != nil {
			w.fail("worker: %v", err)
			return
		}
		if n == 0 {
			return
		}
	}
}

// concurrently does a few things at once that may meet on a payment:
// workers, webhooks, merchant requests and their retries. Each is chosen
// (and its randomness drawn) before they run; their interleaving is the
// scheduler's.
func (w *world) concurrently() {
	w.op = "concurrently"
	w.e.clock.Add(time.Duration(w.rng.IntN(60)) * time.Second)
	var acts []func()
	for i := range 2 + w.rng.IntN(3) {
		switch w.rng.IntN(4) {
		case 0:
			ctx, id := w.opContext(""), fmt.Sprintf("worker-%d-%d", w.step, i)
			acts = append(acts, func() {
				n, err := w.e.w.RunOnce(ctx, id)
				w.count("follow-ups claimed", n)
				if err != nil && !crashed(ctx) {
					w.fail("worker: %v", err)
				}
			})
		case 1:
			if h, ok := w.takeHook(); ok {
				ctx := w.opContext("")
				acts = append(acts, func() { w.send(ctx, h) })
			}
		case 2:
			if len(w.requests) > 0 {
				req := w.requests[w.rng.IntN(len(w.requests))]
				ctx := w.opContext(req.id)
				acts = append(acts, func() {
					w.issueIn(ctx, req, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE, paywire.EINVALID, paywire.ECONFLICT)
				})
			}
		case 3:
			tp, p := w.pick(paywire.StateAuthorized, paywire.StateCompleted, paywire.StatePartiallyRefunded)
			if tp == nil {
				continue
			}
			key := fmt.Sprintf("concurrent-%d-%d", w.step, i)
			req := &request{id: fmt.Sprintf("req-%d", len(w.requests)+1)}
			if p.State == paywire.StateAuthorized {
				req.what = "capture " + tp.ref
				req.do = func(ctx context.Context) (any, error) { return w.e.s.Capture(ctx, tp.merchant, key, tp.id, "") }
			} else if left := p.Captured - p.Refunded - p.ChargedBack; left > 0 {
				amount := amountText(1 + w.rng.Int64N(left))
				req.what = "refund " + tp.ref + " " + amount
				req.do = func(ctx context.Context) (any, error) { return w.e.s.Refund(ctx, tp.merchant, key, tp.id, amount) }
			} else {
				continue
			}
			w.requests = append(w.requests, req)
			ctx := w.opContext(req.id)
			acts = append(acts, func() {
				w.issueIn(ctx, req, paywire.EUNAVAILABLE, paywire.EDECLINED, paywire.EILLEGALMOVE, paywire.EINVALID)
			})
		}
	}
	var wg sync.WaitGroup
	for _, act := range acts {
		wg.Go(act)
	}
	wg.Wait()
}

// --- the providers ---------------------------------------------------------

// script answers a provider's calls at random, with the step's
// randomness; calm, every call succeeds at once.
func (w *world) script(name string) func(ctx context.Context, c call) reply {
	return func(ctx context.Context, c call) reply {
		info, _ := ctx.Value(opKey{}).(*opInfo)
		if info == nil {
			w.fail("a provider call without a step's context: %+v", c)
			return reply{}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if c.Op == "refund" && info.request != "" {
			if w.refundKey[info.request] == nil {
				w.refundKey[info.request] = map[string]bool{}
			}
			w.refundKey[info.request][c.Key] = true
		}
		ref := name + "-" + c.Key
		sale := c.Op == "pay" || c.Method == string(paywire.MethodBankRedirect) || c.Method == string(paywire.MethodEWallet)
		ok := reply{Result: adapters.Result{Status: adapters.Approved, Captured: sale && c.Op != "capture", Reference: ref}}
		if c.Op == "capture" || c.Op == "void" || c.Op == "refund" {
			ok.Reference = c.Reference
		}
		if w.calm {
			if c.Op == "authorize" || c.Op == "pay" {
				w.sent(name, c, ok, nil)
			}
			return ok
		}
		rng := info.rng
		r := rng.IntN(100)
		if c.Op == "status" {
			w.stats["status query"]++
			switch {
			case r < 8:
				return reply{Err: timeout()}
			case r < 10:
				crash(ctx)
				return reply{Err: context.Canceled}
			}
			return reply{}
		}
		var rep reply
		switch {
		case r < 5: // the answer is lost after the provider did it
			rep = ok
			rep.Err, rep.Done = timeout(), true
		case r < 9: // lost before it reached the provider, as far as anyone knows
			rep = reply{Err: timeout()}
		case r < 11:
			rep = reply{Err: &paywire.Error{Code: paywire.EUNAVAILABLE, Message: "connection refused", Err: adapters.ErrNotSent}}
		case r < 14: // the process dies after the provider did it
			crash(ctx)
			rep = ok
			rep.Err, rep.Done = context.Canceled, true
		case r < 16: // the process dies before the call
			crash(ctx)
			rep = reply{Err: context.Canceled}
		case r < 20:
			rep = reply{Result: adapters.Result{Status: adapters.Failed, Code: "processing_error", Reference: ref}}
		case r < 24 && c.Op != "capture":
			rep = reply{Result: adapters.Result{Status: adapters.Declined, Code: "do_not_honor", Reference: ref}}
		case r < 28 && (c.Op == "authorize" || c.Op == "pay"):
			rep = reply{Result: adapters.Result{Status: adapters.Declined, Code: "acquirer_declined", Soft: true, Reference: ref}}
		case r < 45 && c.Op == "authorize" || r < 85 && c.Op == "authorize" && sale:
			// Pending: the end user goes to the provider's page; the outcome
			// comes later.
			rep = reply{Result: adapters.Result{Status: adapters.Pending, Reference: ref, RedirectURL: "https://" + name + ".example/page/" + ref}}
			w.stats["pending "+c.Op]++
			w.pendingAt = append(w.pendingAt, pendingOp{provider: name, key: c.Key, reference: ref, amount: c.Amount, sale: sale})
			return rep
		default:
			rep = ok
		}
		if c.Op == "authorize" || c.Op == "pay" {
			if rep.Err == nil || rep.Done {
				w.sent(name, c, rep, rng)
			}
		}
		switch {
		case crashed(ctx):
			w.stats["crash at "+c.Op]++
		case rep.Err != nil:
			w.stats["error at "+c.Op]++
		default:
			w.stats[string(rep.Status)+" "+c.Op]++
		}
		return rep
	}
}

// sent queues the webhook a provider sends of an authorization's or a
// payment's outcome, most of the time; the caller holds w.mu.
func (w *world) sent(name string, c call, rep reply, rng *rand.Rand) {
	if rng != nil && rng.IntN(4) == 0 {
		return
	}
	typ := ""
	switch {
	case rep.Status == adapters.Approved && rep.Captured:
		typ = adapters.EventCaptured
	case rep.Status == adapters.Approved:
		typ = adapters.EventAuthorized
	case rep.Status == adapters.Declined:
		typ = adapters.EventDeclined
	case rep.Status == adapters.Failed:
		typ = adapters.EventFailed
	default:
		return
	}
	w.queue(name, typ, rep.Reference, c.Amount)
}

// --- invariants ------------------------------------------------------------

// check checks the invariants of the payments that changed since the last
// check, or of all of them.
func (w *world) check(all bool) {
	w.t.Helper()
	var rows []struct {
		ID         string `bun:"id"`
		MerchantID string `bun:"merchant_id"`
		Version    int64  `bun:"version"`
		State      string `bun:"state"`
	}
	q := w.e.db.Bun().NewSelect().Table("payments").Column("id", "merchant_id", "version", "state")
	if !all {
		// A move stamps the payment with the clock, which never goes back:
		// what changed since the last check was updated since.
		q = q.Where("updated_at >= ?", w.checked)
	}
	w.checked = w.e.clock.Now()
	if err := q.Scan(ctx, &rows); err != nil {
		w.fail("listing payments: %v", err)
		return
	}
	for _, r := range rows {
		tp, ok := w.byID[r.ID]
		if !ok {
			continue // a source payment
		}
		old := w.seen[r.ID]
		if !all && old.version == r.Version {
			continue
		}
		if old.state.Terminal() && (r.Version != old.version || paywire.State(r.State) != old.state) {
			w.fail("payment %s left the final state %s (now %s v%d)", r.ID, old.state, r.State, r.Version)
		}
		if r.Version < old.version {
			w.fail("payment %s went back from version %d to %d", r.ID, old.version, r.Version)
		}
		w.checkPayment(tp)
		w.seen[r.ID] = observed{version: r.Version, state: paywire.State(r.State)}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for req, keys := range w.refundKey {
		if len(keys) > 1 {
			w.fail("refund request %s was asked of the provider with %d keys: %v", req, len(keys), keys)
		}
	}
}

func (w *world) checkPayment(tp *tracked) {
	p, err := w.e.db.Payment(ctx, tp.merchant, tp.id)
	if err != nil {
		w.fail("reading %s: %v", tp.id, err)
		return
	}
	if p.Captured > p.Amount.Amount || p.Refunded+p.ChargedBack > p.Captured || p.Captured < 0 || p.Refunded < 0 || p.ChargedBack < 0 {
		w.fail("payment %s breaks its amounts: %s of %d", p.ID, describe(p), p.Amount.Amount)
	}
	evs, err := w.e.db.Events(ctx, p.MerchantID, p.ID)
	if err != nil {
		w.fail("history of %s: %v", p.ID, err)
		return
	}
	var captured, refunded, chargedBack int64
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			w.fail("payment %s: event %d has seq %d", p.ID, i+1, ev.Seq)
		}
		if i == 0 {
			if ev.From != "" || ev.To != paywire.StateCreated {
				w.fail("payment %s: the first event is %s -> %s", p.ID, ev.From, ev.To)
			}
			continue
		}
		if ev.From != evs[i-1].To {
			w.fail("payment %s: event %d moves from %s, the previous one to %s", p.ID, ev.Seq, ev.From, evs[i-1].To)
		}
		if err := paywire.CheckTransition(ev.From, ev.To); err != nil {
			w.fail("payment %s: event %d: %v", p.ID, ev.Seq, err)
		}
		if !ev.Type.Valid() {
			w.fail("payment %s: event %d has type %q", p.ID, ev.Seq, ev.Type)
		}
		switch {
		case ev.Type.IsCapture() && ev.To == paywire.StateCompleted,
			ev.Type == paywire.EventProviderCaptured && ev.To == paywire.StateReview: // captured at once, held for review
			captured += ev.Amount
		case ev.Type == paywire.EventRefundRequested || ev.Type == paywire.EventProviderRefunded,
			ev.From == paywire.StateReview && ev.To == paywire.StateRefunded: // money in, declined or cancelled in review

			refunded += ev.Amount
		case ev.Type == paywire.EventChargeback:
			chargedBack += ev.Amount
		case ev.Amount != 0:
			w.fail("payment %s: event %d (%s) moves %d", p.ID, ev.Seq, ev.Type, ev.Amount)
		}
	}
	if last := evs[len(evs)-1]; last.To != p.State || last.Seq != p.Version {
		w.fail("payment %s is %s v%d; its last event %s seq %d", p.ID, p.State, p.Version, last.To, last.Seq)
	}
	if captured != p.Captured || refunded != p.Refunded || chargedBack != p.ChargedBack {
		w.fail("payment %s: events move %d/%d/%d; the payment says %s", p.ID, captured, refunded, chargedBack, describe(p))
	}
	atts, err := w.e.db.Attempts(ctx, p.MerchantID, p.ID)
	if err != nil {
		w.fail("attempts of %s: %v", p.ID, err)
		return
	}
	approved := 0
	for _, a := range atts {
		if (a.Operation == paywire.OpAuthorize || a.Operation == paywire.OpPay) && a.Status == paywire.AttemptApproved {
			approved++
		}
	}
	if approved > 0 && p.State.Terminal() && !p.State.Paid() &&
		!slices.ContainsFunc(atts, func(a paywire.Attempt) bool {
			return a.Operation == paywire.OpVoid && a.Status == paywire.AttemptApproved
		}) {
		w.fail("payment %s ended %s with an approved authorization that was not voided: %+v", p.ID, p.State, atts)
	}
	if approved > 1 {
		w.fail("payment %s has %d approved authorizations: %+v", p.ID, approved, atts)
	}
	var notified []string
	if err := w.e.db.Bun().NewSelect().Table("outbox").Column("event_id").Where("payment_id = ?", p.ID).Scan(ctx, &notified); err != nil {
		w.fail("outbox of %s: %v", p.ID, err)
		return
	}
	slices.Sort(notified)
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, notified) {
		w.fail("payment %s: events %v, notifications %v; want one each", p.ID, ids, notified)
	}
}

// checkSettled checks where the payments ended: final, paid and
// settled, an authorization waiting for its capture or its expiry, or
// held for review; nothing is left created or pending.
func (w *world) checkSettled() {
	counts := map[paywire.State]int{}
	for _, tp := range w.payments {
		p, err := w.e.db.Payment(ctx, tp.merchant, tp.id)
		if err != nil {
			w.fail("reading %s: %v", tp.id, err)
			continue
		}
		counts[p.State]++
		switch p.State {
		case paywire.StateCreated, paywire.StatePending:
			w.fail("payment %s (%s) is left %s; attempts %+v, follow-ups %+v", p.ID, tp.ref, p.State, w.e.attempts(p), w.e.followUps(p, ""))
		case paywire.StateAuthorized:
			waiting := false
			for _, f := range w.e.followUps(p, "") {
				if f.Status == paywire.FollowUpPending && (f.Kind == paywire.FollowUpAuthorizationExpiry || f.Kind == paywire.FollowUpCapture) {
					waiting = true
				}
			}
			if !waiting {
				w.fail("payment %s (%s) is authorized without a capture or an expiry to come; follow-ups %+v", p.ID, tp.ref, w.e.followUps(p, ""))
			}
		}
	}
	w.t.Logf("end states: %v", counts)
	w.checkProviders()
}

// checkProviders checks the providers' side: a payment that ended unpaid
// (refused, failed, cancelled, expired) is held by no provider — every
// authorization or sale a provider made for it was voided.
func (w *world) checkProviders() {
	for _, tp := range w.payments {
		p, err := w.e.db.Payment(ctx, tp.merchant, tp.id)
		if err != nil || !p.State.Terminal() || p.State.Paid() {
			continue
		}
		for _, f := range w.provs {
			held, voided := "", false
			for _, c := range f.callsOf("") {
				if c.PaymentID != p.ID {
					continue
				}
				f.mu.Lock()
				res, done := f.done[c.Key]
				f.mu.Unlock()
				switch {
				case done && (c.Op == "authorize" || c.Op == "pay") && res.Status == adapters.Approved:
					held = c.Key
				case done && c.Op == "void" && res.Status == adapters.Approved:
					voided = true
				}
			}
			if held != "" && !voided {
				w.fail("payment %s ended %s, but %s holds it (%s); attempts %+v", p.ID, p.State, f.name, held, w.e.attempts(p))
			}
		}
	}
}
