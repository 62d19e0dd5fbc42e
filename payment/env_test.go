package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// The test set-up of the payment use cases: one function, newEnv, builds
// the real core (a new migrated database, the default policy bundle, the
// payment service and its follow-up worker) over scripted fake providers,
// with a clock the test moves and a decider a test may pin.

var ctx = context.Background()

// t0 is when every test starts.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// cardExpiryYear is a year the cards of the tests are valid until.
const cardExpiryYear = 2030

// env is the core of one test.
type env struct {
	t     testing.TB
	db    *store.DB
	s     *payment.Service
	w     *payment.FollowUpWorker
	clock *clock
	// pin is the service's decider: the default bundle, unless a test
	// pins a decision point.
	pin *pinned
}

type envConfig struct {
	db        *store.DB
	providers []adapters.Provider
}

// option changes what newEnv builds.
type option func(*envConfig)

// withProviders registers the providers the service may route to.
func withProviders(ps ...adapters.Provider) option {
	return func(c *envConfig) { c.providers = append(c.providers, ps...) }
}

// withDB runs the env on db (a new migrated database) instead of a new
// SQLite file.
func withDB(db *store.DB) option { return func(c *envConfig) { c.db = db } }

// newEnv builds the core with merchant "shop" (no auto-capture), which may
// send end users back to pages under https://shop.example/.
func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	var c envConfig
	for _, o := range opts {
		o(&c)
	}
	if c.db == nil {
		c.db = storetest.NewSQLite(t)
	}
	e := &env{t: t, db: c.db, clock: &clock{now: t0}}
	e.db.Now = e.clock.Now
	e.pin = &pinned{Decider: defaultEngine(t)}
	st := crashable{e.db}
	e.s = &payment.Service{
		Payments: st, Merchants: e.db, Idempotency: st, Attempts: e.db, Outbox: e.db, FollowUps: st,
		Decider: e.pin, Features: e.db, Offers: payment.NewOfferMemo(), Providers: adapters.NewRegistry(c.providers...), Logger: slog.New(slog.DiscardHandler),
		PortalURL: "http://localhost:8080", TokenKey: []byte("0123456789abcdef0123456789abcdef"), Now: e.clock.Now,
	}
	e.w = &payment.FollowUpWorker{Service: e.s, ID: "test-worker"}
	storetest.SeedMerchant(t, e.db, "shop")
	return e
}

var (
	engineOnce sync.Once
	engineErr  error
	theEngine  *engine.Engine
)

// defaultEngine is the engine with the default bundle, compiled once for
// all tests (an engine is safe for concurrent use).
func defaultEngine(t testing.TB) *engine.Engine {
	t.Helper()
	engineOnce.Do(func() {
		files, err := engine.BundleFiles(policies.FS, rules.FS)
		if err != nil {
			engineErr = err
			return
		}
		theEngine = engine.New(1)
		_, engineErr = theEngine.Activate(context.Background(), files)
	})
	if engineErr != nil {
		t.Fatalf("the default policy bundle: %v", engineErr)
	}
	return theEngine
}

// clock is the time of the store and the service; it moves only when the
// test moves it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// pinned is the default engine with decision points a test may pin: a
// point's function, when set, answers instead (and may ask the engine).
type pinned struct {
	payment.Decider
	risk     func(context.Context, engine.RiskInput) (engine.RiskDecision, error)
	route    func(context.Context, engine.RouteInput) (engine.RouteDecision, error)
	workflow func(context.Context, engine.WorkflowInput) (engine.WorkflowDecision, error)
}

func (d *pinned) Risk(ctx context.Context, in engine.RiskInput) (engine.RiskDecision, error) {
	if d.risk != nil {
		return d.risk(ctx, in)
	}
	return d.Decider.Risk(ctx, in)
}

func (d *pinned) Route(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
	if d.route != nil {
		return d.route(ctx, in)
	}
	return d.Decider.Route(ctx, in)
}

func (d *pinned) Workflow(ctx context.Context, in engine.WorkflowInput) (engine.WorkflowDecision, error) {
	if d.workflow != nil {
		return d.workflow(ctx, in)
	}
	return d.Decider.Workflow(ctx, in)
}

// failOnce returns a workflow function that fails the first decision on
// an event of type typ and leaves every other to the engine.
func (e *env) failOnce(typ paywire.EventType) func(context.Context, engine.WorkflowInput) (engine.WorkflowDecision, error) {
	var failed atomic.Bool
	return func(ctx context.Context, in engine.WorkflowInput) (engine.WorkflowDecision, error) {
		if in.Request.Event.Type == string(typ) && failed.CompareAndSwap(false, true) {
			return engine.WorkflowDecision{}, paywire.Errorf(paywire.EUNAVAILABLE, "the decision engine is not reachable")
		}
		return e.pin.Decider.Workflow(ctx, in)
	}
}

// crashable is the store as the service uses it, except that a use case
// whose context carries a crash that happened writes nothing more: the
// process died there. Reads go through.
type crashable struct{ *store.DB }

type crashKey struct{}

// withCrash returns a context whose use case may crash; crash(ctx) makes
// it crash.
func withCrash(ctx context.Context) context.Context {
	return context.WithValue(ctx, crashKey{}, new(atomic.Bool))
}

// crash makes the use case of ctx crash: it stops writing from now on.
func crash(ctx context.Context) {
	if b, ok := ctx.Value(crashKey{}).(*atomic.Bool); ok {
		b.Store(true)
	}
}

func crashed(ctx context.Context) bool {
	b, ok := ctx.Value(crashKey{}).(*atomic.Bool)
	return ok && b.Load()
}

var errCrashed = paywire.Errorf(paywire.EUNAVAILABLE, "the process died")

func (s crashable) CreatePayment(ctx context.Context, c paywire.StateChange) error {
	if crashed(ctx) {
		return errCrashed
	}
	return s.DB.CreatePayment(ctx, c)
}

func (s crashable) ApplyStateChange(ctx context.Context, c paywire.StateChange) error {
	if crashed(ctx) {
		return errCrashed
	}
	return s.DB.ApplyStateChange(ctx, c)
}

func (s crashable) ClaimIdempotencyKey(ctx context.Context, merchantID, key, hash string) ([]byte, error) {
	if crashed(ctx) {
		return nil, errCrashed
	}
	return s.DB.ClaimIdempotencyKey(ctx, merchantID, key, hash)
}

func (s crashable) SaveIdempotentResult(ctx context.Context, merchantID, key string, result []byte) error {
	if crashed(ctx) {
		return errCrashed
	}
	return s.DB.SaveIdempotentResult(ctx, merchantID, key, result)
}

func (s crashable) ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error {
	if crashed(ctx) {
		return errCrashed
	}
	return s.DB.ReleaseIdempotencyKey(ctx, merchantID, key)
}

func (s crashable) ClaimFollowUps(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]paywire.FollowUp, error) {
	if crashed(ctx) {
		return nil, errCrashed
	}
	return s.DB.ClaimFollowUps(ctx, worker, now, lease, limit)
}

func (s crashable) RetryFollowUp(ctx context.Context, id int64, worker string, next time.Time, lastError string, failed bool) error {
	if crashed(ctx) {
		return errCrashed
	}
	return s.DB.RetryFollowUp(ctx, id, worker, next, lastError, failed)
}

// call is one call a fake provider received.
type call struct {
	Op        string // "authorize", "pay", "capture", "void", "refund", "status"
	Key       string // the idempotency key
	Reference string // the provider's reference the call names
	PaymentID string
	Amount    int64
	ThreeDS   bool
	Method    string // of an authorization
	Last4     string // of an authorization's card
	// Kept: the call found what the provider had done under its key, and
	// answered that without doing anything again.
	Kept bool
}

// reply is a script's answer to a call.
type reply struct {
	adapters.Result
	Err error
	// Done, with Err, says the provider did the operation all the same:
	// the answer was lost (a timeout after success).
	Done bool
}

// fake is a scripted provider with every capability. Like a real provider
// it keeps what it did by idempotency key: a retry with the same key gets
// the first answer without the operation being done again, and Status
// finds a payment by reference or by the key of the call that created it
// (ENOTFOUND when that call never reached it). Its script answers each new
// call; without one, or when the script's reply is empty, it approves.
type fake struct {
	name string

	mu     sync.Mutex
	script func(ctx context.Context, c call) reply
	calls  []call
	auth   adapters.AuthorizeRequest  // the last authorization asked
	done   map[string]adapters.Result // by idempotency key
	refs   map[string]string          // reference -> idempotency key
}

func newFake(name string) *fake {
	return &fake{name: name, done: map[string]adapters.Result{}, refs: map[string]string{}}
}

func (f *fake) Name() string { return f.name }

// setScript replaces the script.
func (f *fake) setScript(s func(ctx context.Context, c call) reply) {
	f.mu.Lock()
	f.script = s
	f.mu.Unlock()
}

// do runs a call that does something: the recorded answer for a key seen
// before, else the script's.
func (f *fake) do(ctx context.Context, c call) (adapters.Result, error) {
	f.mu.Lock()
	if res, ok := f.done[c.Key]; ok {
		c.Kept = true
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		return res, nil
	}
	script := f.script
	f.mu.Unlock()
	r := reply{}
	if script != nil {
		r = script(ctx, c) // outside the lock: a script may call the service
	}
	if r.Status == "" && (r.Err == nil || r.Done) {
		r.Status = adapters.Approved
	}
	if r.Reference == "" && (r.Err == nil || r.Done) {
		r.Reference = f.name + "-" + c.Key
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if r.Err == nil || r.Done {
		f.done[c.Key] = r.Result
		f.refs[r.Reference] = c.Key
	}
	if r.Err != nil {
		return adapters.Result{}, r.Err
	}
	return r.Result, nil
}

func (f *fake) Authorize(ctx context.Context, r adapters.AuthorizeRequest) (adapters.Result, error) {
	c := call{Op: "authorize", Key: r.IdempotencyKey, PaymentID: r.PaymentID, Amount: r.Amount.Amount, ThreeDS: r.ThreeDS, Method: r.Method}
	if r.Card != nil {
		c.Last4 = r.Card.Last4()
	}
	f.mu.Lock()
	f.auth = r
	f.auth.Card = nil // the test keeps no card number
	f.mu.Unlock()
	return f.do(ctx, c)
}

// lastAuthorize returns the last authorization asked, without its card.
func (f *fake) lastAuthorize() adapters.AuthorizeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth
}

func (f *fake) Pay(ctx context.Context, p adapters.Payment) (adapters.Result, error) {
	return f.do(ctx, call{Op: "pay", Key: p.IdempotencyKey, PaymentID: p.PaymentID, Amount: p.Amount.Amount, Reference: p.SourceReference})
}

func (f *fake) Capture(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return f.do(ctx, call{Op: "capture", Key: o.IdempotencyKey, PaymentID: o.PaymentID, Amount: o.Amount.Amount, Reference: o.ProviderReference})
}

func (f *fake) Void(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return f.do(ctx, call{Op: "void", Key: o.IdempotencyKey, PaymentID: o.PaymentID, Amount: o.Amount.Amount, Reference: o.ProviderReference})
}

func (f *fake) Refund(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return f.do(ctx, call{Op: "refund", Key: o.IdempotencyKey, PaymentID: o.PaymentID, Amount: o.Amount.Amount, Reference: o.ProviderReference})
}

// Status answers what the provider did under the reference or key; the
// script may make the query itself fail (its reply's Err).
func (f *fake) Status(ctx context.Context, r adapters.StatusRequest) (adapters.Result, error) {
	c := call{Op: "status", Key: r.IdempotencyKey, Reference: r.Reference, PaymentID: r.PaymentID}
	f.mu.Lock()
	script := f.script
	f.mu.Unlock()
	if script != nil {
		if rep := script(ctx, c); rep.Err != nil {
			f.mu.Lock()
			f.calls = append(f.calls, c)
			f.mu.Unlock()
			return adapters.Result{}, rep.Err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	key := r.IdempotencyKey
	if k, ok := f.refs[r.Reference]; ok && r.Reference != "" {
		key = k
	}
	res, ok := f.done[key]
	if !ok {
		return adapters.Result{}, paywire.Errorf(paywire.ENOTFOUND, "no such payment")
	}
	return res, nil
}

// decide changes what the provider says of the payment it did under key
// (the outcome of a pending payment is known).
func (f *fake) decide(key string, res adapters.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.done[key]; ok && res.Reference == "" {
		res.Reference = old.Reference
	}
	f.done[key] = res
	f.refs[res.Reference] = key
}

// webhookSignature is the header value the fake's webhooks carry.
const webhookSignature = "ok"

// VerifyWebhook reads a JSON array of events; the header X-Signature must
// be "ok".
func (f *fake) VerifyWebhook(h http.Header, body []byte, _ time.Time) ([]adapters.WebhookEvent, error) {
	if h.Get("X-Signature") != webhookSignature {
		return nil, paywire.Errorf(paywire.EUNAUTHORIZED, "bad signature")
	}
	var evs []adapters.WebhookEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, paywire.Errorf(paywire.EINVALID, "unreadable webhook")
	}
	return evs, nil
}

// callsOf returns the calls of one operation ("" for all).
func (f *fake) callsOf(op string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// keyOf returns the idempotency key of the fake's first call of op
// for the payment, "" when there is none.
func (f *fake) keyOf(op, paymentID string) string {
	for _, c := range f.callsOf(op) {
		if c.PaymentID == paymentID {
			return c.Key
		}
	}
	return ""
}

// lacking is a provider with only some of the capabilities of a fake:
// Name, Authorize, Status, Void and Refund; no Capture.
type lacking struct{ f *fake }

func (l lacking) Name() string { return l.f.name }
func (l lacking) Authorize(ctx context.Context, r adapters.AuthorizeRequest) (adapters.Result, error) {
	return l.f.Authorize(ctx, r)
}
func (l lacking) Status(ctx context.Context, r adapters.StatusRequest) (adapters.Result, error) {
	return l.f.Status(ctx, r)
}
func (l lacking) Void(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return l.f.Void(ctx, o)
}
func (l lacking) Refund(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return l.f.Refund(ctx, o)
}

// timeout is a provider call's error when no answer came.
func timeout() error {
	return &paywire.Error{Code: paywire.EUNAVAILABLE, Message: "the provider did not answer in time", Err: context.DeadlineExceeded}
}

// --- helpers ---------------------------------------------------------------

// merchant stores a merchant like shop with the settings of m (ID and the
// auto-capture settings) and returns it as stored.
func (e *env) merchant(m paywire.Merchant) *paywire.Merchant {
	e.t.Helper()
	if m.Name == "" {
		m.Name = "Merchant " + m.ID
	}
	m.ReturnURLPrefixes = []string{"https://" + m.ID + ".example/"}
	if err := e.db.CreateMerchant(ctx, &m); err != nil {
		e.t.Fatal(err)
	}
	return &m
}

func money(minor int64) paywire.Money {
	m, err := paywire.NewMoney(minor, "EUR")
	if err != nil {
		panic(err)
	}
	return m
}

// endUser is the end user of the tests' payments.
func endUser(id string) paywire.EndUser {
	return paywire.EndUser{ID: id, Email: id + "@example.com", Country: "DE", Language: "de", IP: "192.0.2.1"}
}

// startRequest is a hosted EUR deposit of the merchant for end user u1.
func startRequest(merchantID, ref string, amount int64) payment.StartRequest {
	base := "https://" + merchantID + ".example/"
	return payment.StartRequest{MerchantReference: ref, Kind: paywire.KindDeposit, Amount: money(amount), EndUser: endUser("u1"),
		ReturnURLs: paywire.ReturnURLs{Success: base + "ok", Error: base + "error", Cancel: base + "cancel", Refused: base + "refused", Pending: base + "pending"}}
}

// start starts a hosted EUR deposit of the merchant and returns its token
// and payment id.
func (e *env) start(merchantID, ref string, amount int64) (token, paymentID string) {
	e.t.Helper()
	rd, err := e.s.Start(ctx, merchantID, "ref:"+ref, startRequest(merchantID, ref, amount))
	if err != nil {
		e.t.Fatal(err)
	}
	return rd.PostFields[0].Value, rd.PaymentID
}

// card is the end user's card details.
func card(number string) payment.Details {
	return payment.Details{Method: paywire.MethodCard, Card: &paywire.Card{Number: number, CVC: "123", Holder: "Anna Muster", ExpiryMonth: 12, ExpiryYear: cardExpiryYear}}
}

// bank is the end user's bank redirect details.
func bank() payment.Details {
	return payment.Details{Method: paywire.MethodBankRedirect, Bank: "sandbox-bank"}
}

// seed stores a card payment of the merchant that provider took, moved
// through the store to state to (pending, authorized or completed, the
// whole amount captured), with the provider's reference ref-<reference>.
func (e *env) seed(merchantID, reference string, amount int64, provider string, to paywire.State) *paywire.Payment {
	e.t.Helper()
	p := storetest.SeedPaymentValue(merchantID, reference)
	p.Amount, p.EndUser = money(amount), endUser("u1")
	p = storetest.CreatePayment(e.t, e.db, p)
	p.Method, p.Provider = paywire.MethodCard, provider
	p = e.move(p, paywire.Move{To: paywire.StatePending})
	if to == paywire.StatePending {
		return p
	}
	p.ProviderReference = "ref-" + reference
	p = e.move(p, paywire.Move{To: paywire.StateAuthorized, Source: paywire.ProviderActor(provider)})
	if to == paywire.StateAuthorized {
		return p
	}
	return e.move(p, paywire.Move{To: paywire.StateCompleted, Capture: amount, Source: paywire.ProviderActor(provider)})
}

func (e *env) move(p *paywire.Payment, m paywire.Move) *paywire.Payment {
	e.t.Helper()
	if m.At.IsZero() {
		m.At = e.clock.Now()
	}
	return storetest.Move(e.t, e.db, p, m)
}

// get reads a payment.
func (e *env) get(merchantID, id string) *paywire.Payment {
	e.t.Helper()
	p, err := e.db.Payment(ctx, merchantID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) events(p *paywire.Payment) []paywire.Event {
	e.t.Helper()
	evs, err := e.db.Events(ctx, p.MerchantID, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *env) attempts(p *paywire.Payment) []paywire.Attempt {
	e.t.Helper()
	atts, err := e.db.Attempts(ctx, p.MerchantID, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return atts
}

// followUps returns the payment's follow-ups of a kind ("" for all).
func (e *env) followUps(p *paywire.Payment, kind paywire.FollowUpKind) []paywire.FollowUp {
	e.t.Helper()
	fs, err := e.db.FollowUps(ctx, p.MerchantID, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.DeleteFunc(fs, func(f paywire.FollowUp) bool { return kind != "" && f.Kind != kind })
}

// outbox returns the notifications of the payment's events, by event id:
// pending ones, and those kept because the merchant has no notification
// URL (the test merchants have none).
func (e *env) outbox(p *paywire.Payment) map[string]int {
	e.t.Helper()
	msgs, err := e.db.OutboxOf(ctx, p.MerchantID, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range msgs {
		if m.Status == paywire.OutboxPending || m.Status == paywire.OutboxNoEndpoint {
			out[m.EventID]++
		}
	}
	return out
}

// runWorker moves the clock by d and runs the follow-up worker until it
// finds nothing due; it returns how many follow-ups it claimed.
func (e *env) runWorker(d time.Duration) int {
	e.t.Helper()
	e.clock.Add(d)
	n := 0
	for range 100 {
		k, err := e.w.RunOnce(ctx, "test-worker")
		if err != nil {
			e.t.Fatal(err)
		}
		if k == 0 {
			return n
		}
		n += k
	}
	e.t.Fatal("the worker never ran out of due follow-ups")
	return n
}

// webhook delivers the events as one signed webhook of the provider.
func (e *env) webhook(provider string, evs ...adapters.WebhookEvent) error {
	body, err := json.Marshal(evs)
	if err != nil {
		e.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Signature", webhookSignature)
	return e.s.HandleWebhook(ctx, provider, h, body)
}

// seen reports whether the provider's event was marked seen.
func (e *env) seen(provider, eventID string) bool {
	e.t.Helper()
	ok, err := e.db.ProviderEventSeen(ctx, provider, eventID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// routeOf returns the providers the default bundle routes a EUR card
// deposit of end user u1 to, in order.
func routeOf(t testing.TB) []string {
	t.Helper()
	d, err := defaultEngine(t).Route(ctx, engine.RouteInput{Request: engine.RouteRequest{MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 5000, Currency: "EUR", Exponent: 2}, Method: "card",
		Customer: engine.RouteCustomer{ID: "u1", Country: "DE"}}})
	if err != nil || len(d.Providers) < 2 {
		t.Fatalf("route %v, %v", d.Providers, err)
	}
	return d.Providers
}

// wantCode fails the test unless err has the code.
func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if got := paywire.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q); want code %q", what, err, got, code)
	}
}

// describe is a payment in one line, for messages.
func describe(p *paywire.Payment) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s %s v%d captured %d refunded %d charged back %d provider %q", p.ID, p.State, p.Version, p.Captured, p.Refunded, p.ChargedBack, p.Provider)
}
