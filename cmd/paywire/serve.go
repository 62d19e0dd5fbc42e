package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/adapters/sandbox"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/enrich"
	"github.com/paywire/paywire/examples/merchant"
	"github.com/paywire/paywire/listeners"
	"github.com/paywire/paywire/notify"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/portal"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, fs, err := parseConfig("serve", args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printFlags(stdout, fs)
		return err
	}
	if err != nil {
		return usageError{err}
	}
	if getenv("GOGC") == "" {
		// A node's live heap is small (tens of MB) and its requests
		// allocate briskly: collecting at 5x the live heap instead of 2x
		// spends a sixth less CPU per merchant request (docs/performance.md)
		// for some tens of MB more. GOGC set in the environment wins.
		debug.SetGCPercent(400)
	}
	m := NewMain(cfg, stdout, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

// Main is one running node: its configuration, database, router and HTTP
// server. Open builds everything; Run serves until the context ends; Close
// releases what Open acquired.
type Main struct {
	Config   Config
	Logger   *slog.Logger
	Out      io.Writer // where secrets shown once are printed
	DB       *store.DB
	Engine   *engine.Engine
	Router   chi.Router
	Registry *prometheus.Registry
	Payments *payment.Service
	Sandbox  []*sandbox.Acquirer
	Shop     *merchant.Shop // the demo shop, with --demo

	listener net.Listener
	server   *http.Server
	metrics  *metrics
	// passwords bounds the argon2id verifications of the whole node (merchant
	// credentials from before keyed hashes, admin passwords).
	passwords  *credential.Gate
	geo        *enrich.GeoIP // --geoip-db; nil: IP countries are unknown
	lists      *listRefresher
	bundles    *bundleRefresher // the active policy bundle from the database
	policies   *bundles.Service // the bundle life cycle, for the back office
	guardrails *guardrailLoop   // the experiments' stopped arms
	health     *healthLoop      // the providers' health
	// The metrics listener, when --metrics-addr names one.
	metricsListener net.Listener
	metricsServer   *http.Server
}

// NewMain returns a Main that logs to stderr in the configured format.
func NewMain(cfg Config, stdout, stderr io.Writer) *Main {
	return &Main{Config: cfg, Logger: newLogger(cfg, stderr), Out: stdout}
}

// Open connects to and migrates the database, seeds demo data when asked,
// builds the router and binds the listener, so that a port already in use is
// reported before Run.
func (m *Main) Open(ctx context.Context) error {
	db, err := openDB(ctx, m.Config, m.Logger)
	if err != nil {
		return err
	}
	m.DB = db
	if m.Config.Demo {
		if err := seedDemo(ctx, m.DB, m.Config, m.Out, m.Logger); err != nil {
			return fmt.Errorf("seeding demo data: %w", err)
		}
	}
	if m.Engine, err = newEngine(ctx, m.DB); err != nil {
		return err
	}
	m.Logger.Info("policy bundle active", "revision", m.Engine.Active().Revision, "hash", m.Engine.Active().Hash)
	m.lists = &listRefresher{Store: m.DB, Engine: m.Engine, Logger: m.Logger, Every: 2 * time.Second, Now: m.DB.Now}
	if err := m.lists.refresh(ctx); err != nil {
		return fmt.Errorf("loading the lists: %w", err)
	}
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.metrics = newMetrics(m.Registry, m.DB.FollowUpBacklog)
	if err := m.openBundles(ctx); err != nil {
		return err
	}
	m.guardrails = newGuardrailLoop(m)
	if err := m.guardrails.read(ctx); err != nil {
		return fmt.Errorf("reading the experiments' stopped arms: %w", err)
	}
	m.health = newHealthLoop(m)
	if err := m.health.check(ctx); err != nil {
		return fmt.Errorf("checking provider health: %w", err)
	}
	rc := routerConfig{MaxBody: m.Config.MaxBodyBytes, HSTS: strings.HasPrefix(m.Config.PublicURL, "https://"),
		PolicyBundle: func() any { return m.bundles.Status() }}
	if m.Config.MetricsAddr == "" {
		rc.Metrics = metricsHandler(m.Registry, m.Config.MetricsToken)
	}
	m.Router = newRouter(m.Logger, m.Registry, m.DB, rc)
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v", m.Config.Addr, err)
	}
	m.listener = ln
	if m.Config.MetricsAddr != "" {
		if m.metricsListener, err = net.Listen("tcp", m.Config.MetricsAddr); err != nil {
			return fmt.Errorf("cannot listen on %s for metrics: %v", m.Config.MetricsAddr, err)
		}
	}
	return m.mountAPI()
}

// mountAPI builds the payment use cases and mounts the transports: the
// merchant API, the hosted pages, the provider listeners, the sandbox
// provider's pages and, with --demo, the demo shop.
func (m *Main) mountAPI() error {
	public := m.Config.PublicURL
	if public == "" {
		public = "http://" + m.Addr()
	}
	key := m.Config.TokenKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		m.Logger.Warn("PAYWIRE_TOKEN_KEY is not set: redirect links are signed with a random key and stop working at restart; set the same key on every node")
	}
	var providers []adapters.Provider
	if m.Config.Sandbox || m.Config.Demo {
		if err := sandbox.Migrate(context.Background(), m.DB.Bun()); err != nil {
			return err
		}
		for _, c := range m.sandboxConfigs(public, derive(key, "sandbox webhooks")) {
			m.logTuning(c)
			a := sandbox.New(c)
			m.Sandbox = append(m.Sandbox, a)
			providers = append(providers, a)
			m.Router.Handle(a.PathPrefix()+"*", a.Handler())
		}
		m.Logger.Info("sandbox providers enabled", "providers", len(m.Sandbox))
	}
	registry := adapters.NewRegistry(providers...)
	if m.Config.GeoIPDB != "" {
		geo, err := enrich.OpenGeoIP(m.Config.GeoIPDB)
		if err != nil {
			return fmt.Errorf("--geoip-db: %v", err)
		}
		m.geo = geo
		m.Logger.Info("IP country database loaded", "path", m.Config.GeoIPDB)
	}
	merchants := newMerchantCache(m.DB, merchantTTL)
	m.Payments = &payment.Service{
		Payments: m.DB, Merchants: merchants, Idempotency: m.DB, Attempts: m.DB, Outbox: m.DB, FollowUps: m.DB,
		Decider: meteredDecider{Decider: m.Engine, m: m.metrics}, Decisions: store.NewDecisionWriter(m.DB), Features: m.DB, Enrichment: enrichment{engine: m.Engine, geo: m.geo}, Health: m.health.Monitor, Metrics: m.metrics, Providers: registry, Logger: m.Logger, PortalURL: public, TokenKey: key,
		RedirectTTL: m.Config.RedirectTTL, ProviderTimeout: m.Config.ProviderTimeout, RecoverAfter: m.Config.RecoverAfter,
		Offers: payment.NewOfferMemo(),
	}
	(&api.Handler{Payments: m.Payments, Merchants: merchants, Logger: m.Logger, BaseURL: public,
		MaxBodyBytes: m.Config.MaxBodyBytes, SecretKey: apiSecretKey(m.Config.TokenKey),
		AuthLimits: api.AuthLimits{PerAddress: m.Config.AuthFailPerAddr, PerMerchant: m.Config.AuthFailPerMerchant,
			Passwords: m.passwordGate()}}).Mount(m.Router)
	explainer := &bundles.Explainer{Payments: m.DB, Decisions: m.DB, Bundles: m.DB, Audit: m.DB, Running: m.Engine.Active}
	(&api.Operator{Credentials: credentialManager(m.DB, m.Config.TokenKey), Merchants: m.DB, Reviews: m.Payments, Lists: m.DB, Policies: m.policies, Decisions: m.DB, ActiveBundle: m.Engine.Active, Logger: m.Logger,
		Explainer: explainer, Token: m.Config.OperatorToken}).Mount(m.Router)
	pages := &portal.Handler{Checkouts: m.Payments, Logger: m.Logger, TLS: strings.HasPrefix(public, "https://")}
	if len(m.Sandbox) > 0 {
		pages.ProviderOrigins = []string{public} // the sandbox's pages, under /sandbox/
	}
	pages.Mount(m.Router)
	(&listeners.Handler{Payments: m.Payments, Logger: m.Logger}).Mount(m.Router)
	riskProfiles := func() ([]string, string) {
		if b := m.Engine.Active(); b != nil {
			return b.RiskProfiles()
		}
		return nil, ""
	}
	(&admin.App{Users: m.DB, Sessions: m.DB, Audit: m.DB, Gate: m.passwordGate(), Logger: m.Logger,
		FailuresPerAddress: m.Config.AuthFailPerAddr, FailuresPerUser: m.Config.AuthFailPerMerchant,
		PaymentPages: admin.PaymentPages{Payments: m.DB, ActiveBundle: m.Engine.Active, Explainer: explainer},
		ActionPages: admin.ActionPages{ActionService: m.Payments, ActionKeys: m.DB, ReviewAssignments: m.DB,
			ActionOutbox: m.DB, RiskDecisions: m.DB, Manual: m.Payments},
		MerchantPages: admin.MerchantPages{Merchants: m.DB, Credentials: credentialManager(m.DB, m.Config.TokenKey),
			RiskProfiles: riskProfiles, Lists: m.DB},
		ReportPages: admin.ReportPages{Reports: m.DB},
		PolicyPages: admin.PolicyPages{Policies: m.policies, RunningBundle: m.Engine.Active},
		ExperimentPages: admin.ExperimentPages{Tallies: m.DB, Experiments: func() []engine.Experiment {
			return m.Engine.Active().Experiments()
		}, Stops: m.DB, Promote: func(ctx context.Context, experiment, arm, who string) (*paywire.PolicyBundle, error) {
			return m.policies.Promote(ctx, m.Engine.Active().Files, experiment, arm, who)
		}},
		ProviderPages: admin.ProviderPages{ProviderHealth: m.DB, HealthSnapshot: m.health.Monitor.Snapshot},
		AuditPages: admin.AuditPages{AuditEntries: m.DB.AuditEntries, VerifyAudit: func(ctx context.Context) (int, int64, string, error) {
			c, err := m.DB.VerifyAudit(ctx)
			return c.Checked, c.FirstBad, c.Problem, err
		}},
	}).Mount(m.Router)
	if m.Config.Demo {
		dm, secret, err := demoShopSecret(context.Background(), m.DB, m.Config.TokenKey)
		if err != nil {
			return fmt.Errorf("demo shop: %w", err)
		}
		m.Shop = &merchant.Shop{PaywireURL: public, BaseURL: public + "/shop", MerchantID: dm.ID,
			Secret: secret, SigningSecret: dm.SigningSecret, Logger: m.Logger}
		m.Router.Handle("/shop/*", http.StripPrefix("/shop", m.Shop.Handler()))
		m.Router.Get("/shop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/shop/", http.StatusMovedPermanently)
		})
		m.Logger.Info("demo shop", "url", public+"/shop/")
	}
	return nil
}

// sandboxConfigs are the sandbox providers' configurations: the defaults,
// tuned by --sandbox-acquirers.
func (m *Main) sandboxConfigs(public string, webhookSecret []byte) []sandbox.Config {
	cfgs := sandbox.DefaultConfigs(m.DB.Bun(), public, webhookSecret)
	for i := range cfgs {
		for _, t := range m.Config.SandboxTunings {
			if t.Name == cfgs[i].Name {
				t.Apply(&cfgs[i])
			}
		}
	}
	return cfgs
}

// logTuning tells how a tuned sandbox provider behaves.
func (m *Main) logTuning(c sandbox.Config) {
	for _, t := range m.Config.SandboxTunings {
		if t.Name != c.Name {
			continue
		}
		m.Logger.Info("sandbox provider tuned", "provider", c.Name, "approval_rate", c.ApprovalRate, "latency", c.Latency.String(),
			"error_rate", c.ErrorRate, "lost_rate", c.LostRate, "hard_declines", c.HardDeclines, "degraded_periods", len(c.Degraded))
		for _, p := range c.Degraded {
			m.Logger.Info("sandbox provider degraded period", "provider", c.Name,
				"from", p.From.UTC().Format(time.RFC3339), "until", p.Until.UTC().Format(time.RFC3339))
		}
	}
}

// derive returns a key for one purpose from the token key.
func derive(key []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// Addr returns the address the server listens on (useful with port 0).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// MetricsAddr returns the address of the metrics listener; "" when
// /metrics is served on the public listener.
func (m *Main) MetricsAddr() string {
	if m.metricsListener == nil {
		return ""
	}
	return m.metricsListener.Addr().String()
}

// Run serves HTTP until ctx is cancelled, then stops accepting connections
// and lets in-flight requests finish within the shutdown timeout.
func (m *Main) Run(ctx context.Context) error {
	m.server = &http.Server{
		Handler:           m.Router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- m.server.Serve(m.listener) }()
	if m.metricsListener != nil {
		m.metricsServer = &http.Server{
			Handler:           metricsMux(m.Registry, m.Config.MetricsToken, m.Config.Pprof),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		}
		go func() { errc <- m.metricsServer.Serve(m.metricsListener) }()
		m.Logger.Info("metrics are served", "addr", "http://"+m.MetricsAddr()+"/metrics", "pprof", m.Config.Pprof)
	}
	// The notification worker: one per node (on SQLite, run one node).
	// When ctx ends it stops claiming; messages in flight are due again
	// when their lease runs out.
	historySeeded := m.startDemoHistory(ctx) // --demo: a month of payments, in the background
	worker := &notify.Worker{Outbox: m.DB, Merchants: m.DB, Logger: m.Logger,
		Metrics: notify.NewMetrics(m.Registry), MaxAge: m.Config.NotifyMaxAge}
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		<-historySeeded // the history's notifications are delivered at its own times
		if err := worker.Run(ctx); err != nil {
			m.Logger.Error("notification worker stopped", "error", err)
		}
	}()
	defer func() { <-workerDone }()
	// The follow-up worker: one per node, claiming due follow-ups with
	// leases as the notification worker claims messages.
	followUps := &payment.FollowUpWorker{Service: m.Payments}
	followUpsDone := make(chan struct{})
	go func() {
		defer close(followUpsDone)
		<-historySeeded // as the notification worker
		if err := followUps.Run(ctx); err != nil {
			m.Logger.Error("follow-up worker stopped", "error", err)
		}
	}()
	defer func() { <-followUpsDone }()
	// The lists refresher: changes reach this node's decisions within
	// its period.
	listsDone := make(chan struct{})
	go func() { defer close(listsDone); m.lists.run(ctx) }()
	defer func() { <-listsDone }()
	// The policy bundle refresher: an activated revision runs here within
	// its period.
	bundlesDone := make(chan struct{})
	go func() { defer close(bundlesDone); m.bundles.run(ctx) }()
	defer func() { <-bundlesDone }()
	// The experiments' guardrails: stopped arms reach this node's routing
	// within the policy poll period.
	guardrailsDone := make(chan struct{})
	go func() { defer close(guardrailsDone); m.guardrails.run(ctx) }()
	defer func() { <-guardrailsDone }()
	// Provider health: demotions and restorations reach this node's
	// routing within the policy poll period.
	healthDone := make(chan struct{})
	go func() { defer close(healthDone); m.health.run(ctx) }()
	defer func() { <-healthDone }()
	// The backtest worker: claims backtest jobs with a lease; a job cut
	// short here is continued from its cursor by another node's worker.
	backtests := &bundles.BacktestWorker{Store: m.DB, Bundles: m.DB, Engine: m.Engine, Logger: m.Logger}
	backtestsDone := make(chan struct{})
	go func() {
		defer close(backtestsDone)
		<-historySeeded // as the notification worker
		_ = backtests.Run(ctx)
	}()
	defer func() { <-backtestsDone }()
	defer m.runShadow(ctx)() // the shadow candidate's workers (shadow_refresh.go)
	m.Logger.Info("paywire is serving", "addr", "http://"+m.Addr(), "database", string(m.DB.Dialect()), "demo", m.Config.Demo)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down; waiting for in-flight requests", "timeout", m.Config.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if err := m.server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %v", err)
	}
	if m.metricsServer != nil {
		_ = m.metricsServer.Shutdown(sctx)
	}
	m.Logger.Info("stopped")
	return nil
}

// Close releases the listener and the database.
func (m *Main) Close() {
	if m.listener != nil && m.server == nil {
		m.listener.Close()
	}
	if m.metricsListener != nil && m.metricsServer == nil {
		m.metricsListener.Close()
	}
	for _, a := range m.Sandbox {
		a.Close()
	}
	if m.geo != nil {
		m.geo.Close()
	}
	if m.DB != nil {
		m.DB.Close()
	}
}

// openDB opens the configured database and brings its schema up to date,
// or, with --migrate=false, checks that it is.
func openDB(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if !cfg.Migrate {
		if err := db.CheckMigrations(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("%v (run `paywire migrate up`, or start with --migrate)", err)
		}
		return db, nil
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, a := range applied {
		log.Info("migration applied", "version", a.Version, "name", a.Name)
	}
	return db, nil
}

// newEngine builds the decision engine with the default bundle active and
// every decision recorded in the database.
func newEngine(ctx context.Context, db *store.DB) (*engine.Engine, error) {
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		return nil, err
	}
	e := engine.New(16)
	if _, err := e.Activate(ctx, files); err != nil {
		return nil, fmt.Errorf("the built-in policy bundle: %w", err)
	}
	e.Recorder = engine.StoreRecorder{Store: db}
	return e, nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated in parseConfig; "" is info
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	if cfg.LogFormat == "json" {
		return slog.New(requestHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestHandler{slog.NewTextHandler(w, opts)})
}

// passwordGate returns the node's one gate for argon2id verifications.
func (m *Main) passwordGate() *credential.Gate {
	if m.passwords == nil {
		n := m.Config.PasswordChecks
		if n <= 0 {
			n = 4
		}
		m.passwords = credential.NewGate(n, 2*time.Second)
	}
	return m.passwords
}
