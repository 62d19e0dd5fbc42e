// Package sandbox is Paywire's built-in simulated provider: an acquirer and
// payment service provider that authorizes, captures, voids, refunds and
// pays out, decides by test card numbers, serves its own 3-D Secure
// challenge and bank login pages, sends signed webhooks (late, duplicated
// or reordered on request) and writes settlement reports. It is for
// development, demos and browser tests: it moves no money and keeps no card
// number or CVC. Because it stands for a provider outside Paywire, it keeps
// its payments, idempotency keys and bookings in tables of its own
// (sandbox_*) in the database it is given, never through package store: a
// restart loses nothing, and any number of nodes on one database behave as
// one provider. Only webhook delivery lives in memory, and a lost webhook
// is what Status is for.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// Config configures one sandbox provider instance.
type Config struct {
	// Name is the provider name routing uses ("acquirer-a"): lower-case
	// letters, digits and '-'. The instance's pages are under
	// BaseURL + "/sandbox/" + Name + "/".
	Name string
	// DB holds the provider's state (tables sandbox_*, created by
	// Migrate). Instances of one name on one database, on any number of
	// nodes, are one provider. Without it the instance only verifies
	// webhooks and parses settlement reports; every other call is
	// EUNAVAILABLE.
	DB *bun.DB
	// BaseURL is Paywire's public base URL ("http://127.0.0.1:8080"), which
	// serves the instance's pages.
	BaseURL string
	// WebhookURL is where webhooks are posted, normally
	// BaseURL + "/listeners/" + Name + "/webhook". Empty sends none.
	WebhookURL string
	// WebhookSecret signs outgoing webhooks and verifies incoming ones. An
	// empty secret makes VerifyWebhook refuse everything.
	WebhookSecret []byte
	// ApprovalRate is the share (0..1] of card payments without a test-card
	// behaviour that are approved; a hash of the payment id decides, so the
	// same payment id always gets the same answer. Zero means the default,
	// 1; a negative rate approves none.
	ApprovalRate float64
	// Latency is the simulated processing time of every provider call.
	Latency time.Duration
	// ErrorRate is the share [0, 1] of Authorize and Pay calls that fail
	// with a technical error before the provider accepts the payment: the
	// answer is Failed, code processing_error, and nothing was done (a
	// definite "not done", after which Paywire tries the next routed
	// provider). A hash of the payment id and the instance's name decides,
	// so the same payment always gets the same answer here; it applies to
	// every card, test cards included, and to every method.
	ErrorRate float64
	// LostRate is the share [0, 1] of Authorize and Pay calls whose work
	// is done (the payment decided as usual) but whose answer is lost, as
	// when the connection drops after the provider processed the request:
	// the call returns EUNAVAILABLE after its latency, and only a status
	// query tells the outcome. Decided like ErrorRate, among the calls
	// that did not fail; ErrorRate + LostRate is at most 1.
	LostRate float64
	// HardDeclines makes the ordinary cards above ApprovalRate declined
	// hard (do_not_honor: final, no other provider is tried) instead of
	// softly (acquirer_declined: the next routed provider is tried).
	HardDeclines bool
	// Degraded are periods in which the instance behaves otherwise: each
	// period's settings replace the ones above from its From (inclusive)
	// to its Until (exclusive), on the instance's clock (Now). Where
	// periods overlap, the later one in the list wins. Every node of a
	// database must be given the same periods to behave as one provider.
	Degraded []Period
	// WebhookDelay is how long outcomes that arrive by webhook alone (test
	// card 4000000000000077 and payments on it, e-wallets) take. The outcome's time is kept
	// with the payment: any read after it brings the outcome in, and a
	// timer of the node that took the payment sends the webhook on time.
	WebhookDelay time.Duration
	// DuplicateWebhooks sends every webhook twice, with the same event id.
	DuplicateWebhooks bool
	// ReorderWebhooks holds each webhook until the next one and then
	// delivers the pair in reverse order; a webhook without a successor
	// goes out alone after two seconds (or at Wait). Webhooks are
	// otherwise delivered one at a time, in the order of their events.
	ReorderWebhooks bool
	// HTTPClient sends webhooks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the provider's clock (due outcomes, idempotency claims,
	// bookings, webhook times); nil means time.Now.
	Now func() time.Time
	// Logger receives what the provider did; nil discards.
	Logger *slog.Logger
}

// Acquirer is one sandbox provider instance. It implements every capability
// interface of package adapters. Its methods are safe for concurrent use.
type Acquirer struct {
	cfg    Config
	db     *bun.DB
	log    *slog.Logger
	prefix string // "/sandbox/<name>/"

	// Webhook delivery and the timers that send outcomes on time.
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	inflight tracker
	tmu      sync.Mutex
	timers   map[string]context.CancelFunc // by reference
	wmu      sync.Mutex
	queue    []adapters.WebhookEvent
	draining bool                   // a goroutine delivers the queue
	held     *adapters.WebhookEvent // ReorderWebhooks: waiting for its successor
	heldGen  uint64                 // counts held webhooks
	holdStop func() bool
}

// Defaults creates the sandbox's tables in db where missing and returns
// the sandbox instances the default routing rules name, as DefaultConfigs
// describes them, all keeping their state in db. Returns EUNAVAILABLE when
// the tables cannot be created.
func Defaults(ctx context.Context, db *bun.DB, baseURL string, secret []byte) ([]*Acquirer, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	cfgs := DefaultConfigs(db, baseURL, secret)
	out := make([]*Acquirer, len(cfgs))
	for i, c := range cfgs {
		out[i] = New(c)
	}
	return out, nil
}

// DefaultConfigs returns the configurations of the sandbox instances the
// default routing rules name: acquirer-a (approves every ordinary card,
// answers at once), acquirer-b (approves 90 % of ordinary cards, answers
// in 50 ms), sandbox-bank (bank redirects) and sandbox-wallet (e-wallets),
// none with technical errors. All post webhooks to baseURL +
// "/listeners/<name>/webhook", signed with secret, one second after an
// outcome that only a webhook tells. A Tuning changes one of them before
// New; db must have the sandbox's tables (Migrate).
func DefaultConfigs(db *bun.DB, baseURL string, secret []byte) []Config {
	base := strings.TrimRight(baseURL, "/")
	instance := func(name string, rate float64, latency time.Duration) Config {
		return Config{
			Name:          name,
			DB:            db,
			BaseURL:       base,
			WebhookURL:    base + "/listeners/" + name + "/webhook",
			WebhookSecret: secret,
			ApprovalRate:  rate,
			Latency:       latency,
			WebhookDelay:  time.Second,
		}
	}
	return []Config{
		instance("acquirer-a", 1, 0),
		instance("acquirer-b", 0.9, 50*time.Millisecond),
		instance("sandbox-bank", 1, 0),
		instance("sandbox-wallet", 1, 0),
	}
}

// New returns a sandbox provider. cfg.DB must have the sandbox's tables
// (Migrate). It panics on a name that cannot be part of a URL path, as
// that is a wiring mistake.
func New(cfg Config) *Acquirer {
	if !validName(cfg.Name) {
		panic(fmt.Sprintf("sandbox: invalid provider name %q: use lower-case letters, digits and '-'", cfg.Name))
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.ApprovalRate == 0 {
		cfg.ApprovalRate = 1
	}
	cfg.Degraded = slices.Clone(cfg.Degraded)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Acquirer{
		cfg:    cfg,
		db:     cfg.DB,
		log:    cfg.Logger.With("provider", cfg.Name),
		prefix: "/sandbox/" + cfg.Name + "/",
		ctx:    ctx,
		cancel: cancel,
		timers: map[string]context.CancelFunc{},
	}
	a.inflight.cond.L = &a.inflight.mu
	if len(cfg.WebhookSecret) == 0 {
		a.log.Warn("sandbox provider has no webhook secret: its webhooks cannot be verified")
	}
	return a
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Name returns the provider name.
func (a *Acquirer) Name() string { return a.cfg.Name }

// PathPrefix returns the path under which Handler serves the instance's
// pages: "/sandbox/<name>/".
func (a *Acquirer) PathPrefix() string { return a.prefix }

// Wait blocks until every webhook scheduled so far on this instance has
// been delivered or given up, including those of outcomes whose timers
// still run, delivering a webhook held for reordering at once. For tests.
func (a *Acquirer) Wait() {
	a.flushHeld()
	a.inflight.wait()
}

// Close stops the instance's background work: timers of outcomes still
// to come stop (the outcomes happen all the same, when the payment is next
// read, but send no webhook from this instance), retries stop, and Close
// returns when every webhook goroutine has ended. It leaves the database
// open.
func (a *Acquirer) Close() {
	a.cancel()
	a.flushHeld()
	a.inflight.wait()
}

// state is where a payment stands at the provider, as the database keeps
// it. The zero state is not an outcome.
type state string

const (
	stateUnknown    state = ""
	stateChallenge  state = "challenge"  // waiting for the end user on the 3-D Secure page
	stateBankLogin  state = "bank_login" // waiting for the end user on the bank page
	statePending    state = "pending"    // waiting for the provider's own outcome (DueAt)
	stateAuthorized state = "authorized" // funds reserved; Captured tells how much has moved
	stateDeclined   state = "declined"
	stateFailed     state = "failed"
	stateVoided     state = "voided"    // cancelled by a void before any money moved
	stateCancelled  state = "cancelled" // cancelled by the end user on the provider's page
)

// result describes a payment as a provider answer.
func (r *record) result(baseURL, name string) adapters.Result {
	res := adapters.Result{Reference: r.Reference, Code: r.Code}
	switch r.State {
	case stateChallenge:
		res.Status, res.Message = adapters.Pending, "waiting for the card holder's authentication"
		res.RedirectURL = baseURL + "/sandbox/" + name + "/challenge/" + r.Reference
	case stateBankLogin:
		res.Status, res.Message = adapters.Pending, "waiting for the account holder at the bank"
		res.RedirectURL = baseURL + "/sandbox/" + name + "/bank/" + r.Reference
	case statePending:
		res.Status, res.Message = adapters.Pending, "processing; the outcome follows by webhook"
	case stateAuthorized:
		res.Status, res.Message = adapters.Approved, "authorized"
		if r.Captured > 0 {
			res.Message = "captured"
		}
		// A sale moved the whole amount in one step; a card
		// authorization reserved it, whatever was captured since.
		res.Captured = r.Sale
	case stateDeclined:
		res.Status, res.Message = adapters.Declined, "declined: "+strings.ReplaceAll(r.Code, "_", " ")
		res.Soft = r.Soft
	case stateVoided:
		res.Status, res.Message = adapters.Cancelled, "cancelled"
	case stateCancelled:
		res.Status, res.Message = adapters.Cancelled, "cancelled by the end user"
	default:
		res.Status, res.Message = adapters.Failed, "processing error"
	}
	return res
}

// after is what a transaction leaves to do once it has committed: webhooks
// to send, outcomes to send on time, and, for the timeout card, an answer
// to withhold.
type after struct {
	events []adapters.WebhookEvent
	due    []dueOutcome
	ended  []string // payments whose outcome came in: their timers may stop
	hang   bool     // the timeout card: the answer is withheld until the caller gives up
	lost   bool     // LostRate: the answer is lost at once
}

type dueOutcome struct {
	reference string
	at        time.Time
}

func (fx *after) event(ev adapters.WebhookEvent) { fx.events = append(fx.events, ev) }

func (fx *after) later(r *record) {
	fx.due = append(fx.due, dueOutcome{reference: r.Reference, at: r.DueAt})
}

// work is a call's change to the provider's state, inside its transaction.
type work func(ctx context.Context, tx bun.Tx, fx *after) (adapters.Result, error)

// once runs fn at most once per idempotency key, on any node: a repeated
// key with the same request gets the first Result; with another request
// EIDEMPOTENCY; while the first call runs EINPROGRESS. The answer is
// stored in the transaction that does the work, so it is never lost
// beside work that was done. An error is not an answer, so a call that
// failed with one may be repeated; the timeout card's call, whose work is
// done before it fails, is answered. An empty key runs fn.
//
// A call that arrived is carried out whatever becomes of its caller, as a
// provider's is: the work runs without the caller's cancellation, and only
// the wait for the answer (settle) ends with ctx. Otherwise a caller whose
// deadline passes during the work would leave nothing done, which is not
// the lost answer the timeout card stands for.
func (a *Acquirer) once(caller context.Context, op, key, request string, fn work) (adapters.Result, error) {
	ctx := context.WithoutCancel(caller)
	var res adapters.Result
	fx := &after{}
	if key == "" {
		err := a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) (err error) {
			res, err = fn(ctx, tx, fx)
			return err
		})
		if err != nil {
			return adapters.Result{}, err
		}
		return a.settle(caller, op, res, fx, nil)
	}
	if len(key) > maxKeyLen {
		return adapters.Result{}, &paywire.Error{Code: paywire.EINVALID, Op: op,
			Message: fmt.Sprintf("the idempotency key has more than %d characters", maxKeyLen)}
	}
	request = fingerprint(request)
	owner := newID("")
	prior, err := a.claim(ctx, op, key, request, owner)
	if err != nil {
		return adapters.Result{}, err
	}
	if prior != nil {
		return *prior, nil
	}
	err = a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) (err error) {
		if res, err = fn(ctx, tx, fx); err != nil {
			return err
		}
		return a.answer(ctx, tx, key, owner, res, !fx.hang && !fx.lost)
	})
	if err != nil {
		a.unclaim(ctx, key, owner)
		return adapters.Result{}, err
	}
	return a.settle(caller, op, res, fx, func() { a.finish(ctx, key, owner) })
}

// settle does what a committed call left to do and answers it: it sends
// the webhooks, arms the timers of outcomes to come and, for the timeout
// card, keeps the caller waiting until ctx ends (at most hangFor) and
// answers EUNAVAILABLE, calling done then; a lost answer (LostRate) is
// EUNAVAILABLE at once.
func (a *Acquirer) settle(ctx context.Context, op string, res adapters.Result, fx *after, done func()) (adapters.Result, error) {
	a.dispatch(fx)
	if fx.lost {
		if done != nil {
			done()
		}
		return adapters.Result{}, &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op,
			Message: a.cfg.Name + " dropped the connection before answering"}
	}
	if !fx.hang {
		return res, nil
	}
	t := time.NewTimer(hangFor)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	if done != nil {
		done()
	}
	err := ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded
	}
	return adapters.Result{}, &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Err: err,
		Message: a.cfg.Name + " did not answer in time"}
}

// dispatch sends the webhooks of a committed transaction and arms the
// timers of its outcomes to come.
func (a *Acquirer) dispatch(fx *after) {
	for _, ev := range fx.events {
		a.send(ev)
	}
	for _, ref := range fx.ended {
		a.settled(ref)
	}
	for _, d := range fx.due {
		a.later(d)
	}
}

// pause simulates processing time; it ends early, with EUNAVAILABLE, when
// ctx does.
func (a *Acquirer) pause(ctx context.Context, op string, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Err: err,
			Message: a.cfg.Name + " did not answer in time"}
	}
	return nil
}

// newID returns a random identifier with the given prefix.
func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b)
}

// tracker counts goroutines in flight so that Wait and Close can wait for
// them; unlike sync.WaitGroup it may gain work while someone waits.
type tracker struct {
	mu   sync.Mutex
	cond sync.Cond
	n    int
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

func (t *tracker) wait() {
	t.mu.Lock()
	for t.n > 0 {
		t.cond.Wait()
	}
	t.mu.Unlock()
}

// Interfaces the sandbox implements.
var (
	_ adapters.Provider         = (*Acquirer)(nil)
	_ adapters.Authorizer       = (*Acquirer)(nil)
	_ adapters.Capturer         = (*Acquirer)(nil)
	_ adapters.Voider           = (*Acquirer)(nil)
	_ adapters.Refunder         = (*Acquirer)(nil)
	_ adapters.Payer            = (*Acquirer)(nil)
	_ adapters.StatusQuerier    = (*Acquirer)(nil)
	_ adapters.WebhookVerifier  = (*Acquirer)(nil)
	_ adapters.SettlementParser = (*Acquirer)(nil)
)
