// Package sandbox is Paywire's built-in simulated provider: an acquirer and
// payment service provider that authorizes, captures, voids, refunds and
// pays out in memory, decides by test card numbers, serves its own 3-D
// Secure challenge and bank login pages, sends signed webhooks (late,
// duplicated or reordered on request) and writes settlement reports. It is
// for development, demos and browser tests: it moves no money, keeps no
// card number or CVC, and its state lives in one process and is lost on
// restart.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// Config configures one sandbox provider instance.
type Config struct {
	// Name is the provider name routing uses ("acquirer-a"): lower-case
	// letters, digits and '-'. The instance's pages are under
	// BaseURL + "/sandbox/" + Name + "/".
	Name string
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
	// WebhookDelay is how long outcomes that arrive by webhook alone (test
	// card 4000000000000077, e-wallets) take.
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
	// Now is the provider's clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what the provider did; nil discards.
	Logger *slog.Logger
}

// Acquirer is one sandbox provider instance. It implements every capability
// interface of package adapters. Its methods are safe for concurrent use.
type Acquirer struct {
	cfg    Config
	log    *slog.Logger
	prefix string // "/sandbox/<name>/"

	mu          sync.Mutex
	payments    map[string]*record // by provider reference
	byPaymentID map[string]string  // our payment id -> latest reference
	idem        map[string]*idemEntry
	bookings    []booking

	// Webhook delivery.
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	inflight tracker
	wmu      sync.Mutex
	queue    []adapters.WebhookEvent
	draining bool                   // a goroutine delivers the queue
	held     *adapters.WebhookEvent // ReorderWebhooks: waiting for its successor
	heldGen  uint64                 // counts held webhooks
	holdStop func() bool
}

// Defaults returns the sandbox instances the default routing rules name:
// acquirer-a (approves every ordinary card, answers at once), acquirer-b
// (approves 90 % of ordinary cards, answers in 50 ms), sandbox-bank (bank
// redirects) and sandbox-wallet (e-wallets). All post webhooks to
// baseURL + "/listeners/<name>/webhook", signed with secret, one second
// after an outcome that only a webhook tells.
func Defaults(baseURL string, secret []byte) []*Acquirer {
	base := strings.TrimRight(baseURL, "/")
	instance := func(name string, rate float64, latency time.Duration) *Acquirer {
		return New(Config{
			Name:          name,
			BaseURL:       base,
			WebhookURL:    base + "/listeners/" + name + "/webhook",
			WebhookSecret: secret,
			ApprovalRate:  rate,
			Latency:       latency,
			WebhookDelay:  time.Second,
		})
	}
	return []*Acquirer{
		instance("acquirer-a", 1, 0),
		instance("acquirer-b", 0.9, 50*time.Millisecond),
		instance("sandbox-bank", 1, 0),
		instance("sandbox-wallet", 1, 0),
	}
}

// New returns a sandbox provider. It panics on a name that cannot be part
// of a URL path, as that is a wiring mistake.
func New(cfg Config) *Acquirer {
	if !validName(cfg.Name) {
		panic(fmt.Sprintf("sandbox: invalid provider name %q: use lower-case letters, digits and '-'", cfg.Name))
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.ApprovalRate == 0 {
		cfg.ApprovalRate = 1
	}
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
		cfg:         cfg,
		log:         cfg.Logger.With("provider", cfg.Name),
		prefix:      "/sandbox/" + cfg.Name + "/",
		payments:    map[string]*record{},
		byPaymentID: map[string]string{},
		idem:        map[string]*idemEntry{},
		ctx:         ctx,
		cancel:      cancel,
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

// Wait blocks until every webhook scheduled so far has been delivered or
// given up, delivering a webhook held for reordering at once. For tests.
func (a *Acquirer) Wait() {
	a.flushHeld()
	a.inflight.wait()
}

// Close stops the instance's background work: scheduled outcomes that are
// still waiting never happen, retries stop, and Close returns when every
// webhook goroutine has ended.
func (a *Acquirer) Close() {
	a.cancel()
	a.flushHeld()
	a.inflight.wait()
}

// state is where a payment stands at the provider. The zero state is not
// an outcome.
type state int

const (
	stateUnknown    state = iota
	stateChallenge        // waiting for the end user on the 3-D Secure page
	stateBankLogin        // waiting for the end user on the bank page
	statePending          // waiting for the provider's own webhook
	stateAuthorized       // funds reserved; Captured tells how much has moved
	stateDeclined
	stateFailed
	stateVoided
)

// record is what the sandbox keeps of one payment: never the card number
// or CVC, only its brand and last four digits.
type record struct {
	reference string
	paymentID string
	kind      paywire.Kind
	method    string
	amount    paywire.Money
	state     state
	code      string // decline or failure reason
	soft      bool   // a decline of this acquirer only: another may approve

	captured    int64
	refunded    int64
	chargedBack int64

	brand, last4 string
	bank, wallet string
	page         string // "challenge", "bank" or "": the end user's page, if any
	returnURL    string
	nonce        string // the page's form token
	created      time.Time
}

// booking is one movement of money, for the settlement report.
type booking struct {
	reference string
	paymentID string
	typ       string // capture, refund, chargeback, payout
	amount    paywire.Money
	at        time.Time
}

// add records a payment. a.mu must be held.
func (a *Acquirer) add(r *record) {
	a.payments[r.reference] = r
	a.byPaymentID[r.paymentID] = r.reference
}

// find returns the payment an operation is about: by provider reference,
// else by our payment id. a.mu must be held. Returns ENOTFOUND.
func (a *Acquirer) find(op, reference, paymentID string) (*record, error) {
	if reference == "" {
		reference = a.byPaymentID[paymentID]
	}
	r := a.payments[reference]
	if r == nil || (paymentID != "" && r.paymentID != paymentID) {
		return nil, &paywire.Error{Code: paywire.ENOTFOUND, Op: op,
			Message: fmt.Sprintf("%s holds no payment %q", a.cfg.Name, reference)}
	}
	return r, nil
}

// result describes a payment as a provider answer.
func (r *record) result(baseURL, name string) adapters.Result {
	res := adapters.Result{Reference: r.reference, Code: r.code}
	switch r.state {
	case stateChallenge:
		res.Status, res.Message = adapters.Pending, "waiting for the card holder's authentication"
		res.RedirectURL = baseURL + "/sandbox/" + name + "/challenge/" + r.reference
	case stateBankLogin:
		res.Status, res.Message = adapters.Pending, "waiting for the account holder at the bank"
		res.RedirectURL = baseURL + "/sandbox/" + name + "/bank/" + r.reference
	case statePending:
		res.Status, res.Message = adapters.Pending, "processing; the outcome follows by webhook"
	case stateAuthorized:
		res.Status, res.Message = adapters.Approved, "authorized"
		if r.captured > 0 {
			res.Message = "captured"
		}
	case stateDeclined:
		res.Status, res.Message = adapters.Declined, "declined: "+strings.ReplaceAll(r.code, "_", " ")
		res.Soft = r.soft
	case stateVoided:
		res.Status, res.Message = adapters.Declined, "cancelled"
	default:
		res.Status, res.Message = adapters.Failed, "processing error"
	}
	return res
}

// idemEntry is the answer to an idempotency key, or its first call still
// running.
type idemEntry struct {
	request string // what the key was first used for
	done    bool
	result  adapters.Result
}

// once runs fn at most once per idempotency key: a repeated key with the
// same request gets the first Result; with another request EIDEMPOTENCY;
// while the first call runs EINPROGRESS. An error is not an answer, so a
// call that failed with one may be repeated. An empty key runs fn.
func (a *Acquirer) once(op, key, request string, fn func() (adapters.Result, error)) (adapters.Result, error) {
	if key == "" {
		return fn()
	}
	a.mu.Lock()
	if e := a.idem[key]; e != nil {
		a.mu.Unlock()
		switch {
		case e.request != request:
			return adapters.Result{}, &paywire.Error{Code: paywire.EIDEMPOTENCY, Op: op,
				Message: "the idempotency key was used for a different request"}
		case !e.done:
			return adapters.Result{}, &paywire.Error{Code: paywire.EINPROGRESS, Op: op,
				Message: "the first request with this idempotency key is still being processed"}
		}
		return e.result, nil
	}
	e := &idemEntry{request: request}
	a.idem[key] = e
	a.mu.Unlock()

	res, err := fn()

	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		delete(a.idem, key)
		return res, err
	}
	e.done, e.result = true, res
	return res, nil
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
