// Package paywiretest builds Paywire's core for a test: a new migrated
// database (from package storetest), the decision engine with the default
// bundle recording its decisions there, the merchants the test needs and
// the payment service, wired as cmd/paywire wires them, so that the tests of
// every transport run the same core and a change to its wiring is made
// once. It is for tests only: code outside _test.go files must not import
// it.
package paywiretest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// Env is the core of one test. Everything in it is the real thing: the
// store on a database of its own, the engine with the default bundle, the
// payment service over both.
type Env struct {
	DB       *store.DB
	Engine   *engine.Engine
	Payments *payment.Service
	// Clock is the time of the store and the payment service; it follows
	// the wall clock unless the test stops it (FixedClock, Clock.Set).
	Clock *Clock

	t testing.TB
}

// config is what the options set.
type config struct {
	providers []adapters.Provider
	tokenKey  []byte
	baseURL   string
	logger    *slog.Logger
	at        time.Time // zero: the wall clock
}

// Option changes how New builds an Env.
type Option func(*config)

// Providers registers the providers the payment service may route to;
// without it there are none, and a payment that needs one fails cleanly.
func Providers(ps ...adapters.Provider) Option {
	return func(c *config) { c.providers = append(c.providers, ps...) }
}

// TokenKey sets the key the payment service signs redirect tokens with, for
// a test that verifies a token itself; without it the key is a fixed one of
// 32 bytes.
func TokenKey(key []byte) Option {
	return func(c *config) { c.tokenKey = key }
}

// BaseURL sets the public base URL of the service, without a trailing
// slash (redirects go to BaseURL + "/pay"); http://localhost:8080 without
// it.
func BaseURL(url string) Option {
	return func(c *config) { c.baseURL = url }
}

// Logger sets the payment service's logger; without it the service logs
// nothing, so that a test's output holds only what the test says.
func Logger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// FixedClock stops the Env's clock at at: the store and the payment
// service see that time until the test moves it with Env.Clock.
func FixedClock(at time.Time) Option {
	return func(c *config) { c.at = at }
}

// New returns an Env on a new SQLite database in t.TempDir().
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return build(t, storetest.NewSQLite(t), opts)
}

// ForEachDatabase runs fn as a subtest with an Env on each database
// storetest.ForEachDatabase provides: SQLite always, and a PostgreSQL
// schema of its own when PAYWIRE_TEST_POSTGRES is set. Each Env is new,
// built with opts.
func ForEachDatabase(t *testing.T, fn func(t *testing.T, e *Env), opts ...Option) {
	t.Helper()
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		fn(t, build(t, db, opts))
	})
}

// build wires the core over db, a new migrated database.
func build(t testing.TB, db *store.DB, opts []Option) *Env {
	t.Helper()
	c := &config{
		tokenKey: []byte("0123456789abcdef0123456789abcdef"),
		baseURL:  "http://localhost:8080",
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(c)
	}
	e := &Env{DB: db, Clock: &Clock{}, t: t}
	if !c.at.IsZero() {
		e.Clock.Set(c.at)
	}
	db.Now = e.Clock.Now
	e.Engine = newEngine(t, db)
	e.Payments = newService(e, c)
	return e
}

// newEngine returns an engine with the default bundle active that records
// every decision in db, as cmd/paywire runs it.
func newEngine(t testing.TB, db *store.DB) *engine.Engine {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(2)
	if _, err := eng.Activate(context.Background(), files); err != nil {
		t.Fatalf("the default policy bundle: %v", err)
	}
	eng.Recorder = engine.StoreRecorder{Store: db}
	return eng
}

// newService is the one place the harness builds a payment.Service: the
// service's fields change as the payment core grows, and every test gets
// its service from here.
func newService(e *Env, c *config) *payment.Service {
	return &payment.Service{
		Payments: e.DB, Merchants: e.DB, Idempotency: e.DB, Attempts: e.DB, Outbox: e.DB, FollowUps: e.DB,
		Decider: e.Engine, Decisions: e.DB, Features: e.DB, Offers: payment.NewOfferMemo(), Providers: adapters.NewRegistry(c.providers...), Logger: c.logger,
		PortalURL: c.baseURL, TokenKey: c.tokenKey, Now: e.Clock.Now,
	}
}

// Merchant stores a merchant with the id, named "Merchant <id>", that may
// send end users back to pages under https://<id>.example/, and gives it
// secret as its API secret unless secret is empty. It returns the merchant
// as stored, with its signing secret.
func (e *Env) Merchant(id, secret string) *paywire.Merchant {
	e.t.Helper()
	return e.AddMerchant(&paywire.Merchant{ID: id, Name: "Merchant " + id, ReturnURLPrefixes: []string{"https://" + id + ".example/"}}, secret)
}

// AddMerchant stores m, for a test that needs a merchant set up otherwise
// than Merchant does, and gives it secret as its API secret unless secret
// is empty. It returns m, filled in by the store.
func (e *Env) AddMerchant(m *paywire.Merchant, secret string) *paywire.Merchant {
	e.t.Helper()
	ctx := context.Background()
	if err := e.DB.CreateMerchant(ctx, m); err != nil {
		e.t.Fatal(err)
	}
	if secret == "" {
		return m
	}
	// The cheapest argon2id parameters: tests authenticate often, and the
	// parameters travel in the hash, so the API verifies them as any other.
	hash, err := credential.Hash(secret, credential.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.DB.AddMerchantCredential(ctx, &paywire.MerchantCredential{MerchantID: m.ID, SecretHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// CreatePayment stores the unsaved payment p (storetest.SeedPaymentValue
// makes one) as the payment use cases create one, by the merchant, at the
// Env's clock, with the merchant's notification of its creation. It fills
// p's ID, state, version and times and returns p.
func (e *Env) CreatePayment(p *paywire.Payment) *paywire.Payment {
	e.t.Helper()
	c := paywire.Creation(p, paywire.ActorMerchant, e.Clock.Now().UTC().Truncate(time.Microsecond))
	c.Notification = paywire.Notification(c.Payment, c.Event)
	if err := e.DB.CreatePayment(context.Background(), c); err != nil {
		e.t.Fatalf("creating payment %s: %v", p.MerchantReference, err)
	}
	return p
}

// Move makes the move m of p as storetest.Move does, at the Env's clock
// when m.At is zero, and returns the payment as stored.
func (e *Env) Move(p *paywire.Payment, m paywire.Move) *paywire.Payment {
	e.t.Helper()
	if m.At.IsZero() {
		m.At = e.Clock.Now()
	}
	return storetest.Move(e.t, e.DB, p, m)
}

// Authorized stores a 10.00 EUR card deposit of the merchant that provider
// authorized, as the hosted pages and the provider leave one: pending at
// provider, then authorized with the provider's reference auth-1. It
// returns the payment as stored.
func (e *Env) Authorized(merchantID, reference, provider string) *paywire.Payment {
	e.t.Helper()
	p := storetest.SeedPaymentValue(merchantID, reference)
	p.EndUser = paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE", IP: "192.0.2.1", Language: "de"}
	p = e.CreatePayment(p)
	p.Method, p.Provider = paywire.MethodCard, provider
	p = e.Move(p, paywire.Move{To: paywire.StatePending})
	p.ProviderReference = "auth-1"
	return e.Move(p, paywire.Move{To: paywire.StateAuthorized, Source: paywire.ProviderActor(provider)})
}
