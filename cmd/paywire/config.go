package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire/adapters/sandbox"
)

// Config is what `paywire serve` and `paywire migrate` are told, from flags
// and, where a flag is not given, from the environment.
type Config struct {
	Addr        string
	DB          string
	Demo        bool
	DemoHistory bool // with Demo: seed a month of payments
	Sandbox     bool
	// SandboxTunings change the sandbox providers' behaviour
	// (--sandbox-acquirers): approval rates, latency, technical errors,
	// degraded periods.
	SandboxTunings      []sandbox.Tuning
	Migrate             bool
	LogLevel            string
	LogFormat           string
	ShutdownTimeout     time.Duration
	NotifyMaxAge        time.Duration
	MaxBodyBytes        int64
	RedirectTTL         time.Duration
	ProviderTimeout     time.Duration
	RecoverAfter        time.Duration
	AuthFailPerAddr     int    // failed merchant authentications per client address per minute
	AuthFailPerMerchant int    // failed authentications naming one merchant id per minute
	PasswordChecks      int    // argon2id verifications running at once
	GeoIPDB             string // MaxMind-format database for IP countries; empty: unknown
	PublicURL           string // empty: http://<the address listened on>
	MetricsAddr         string // the metrics listener; empty: /metrics on the public listener
	MetricsToken        string // bearer token /metrics (and pprof) require; empty: none
	Pprof               bool   // /debug/pprof/ on the metrics listener
	TokenKey            []byte // PAYWIRE_TOKEN_KEY only; nil: random per start
	DemoSecret          string // PAYWIRE_DEMO_SECRET only: never a flag, so it stays out of process lists
	AdminPassword       string // PAYWIRE_ADMIN_PASSWORD only
	OperatorToken       string // PAYWIRE_OPERATOR_TOKEN only; empty: the operator API is off
	// Policy bundles from the database (issue 14).
	PolicyPoll            time.Duration // how often a node reads the active revision
	PolicyVerificationKey string        // key file bundles loaded must be signed with; empty: not verified
	PolicySigningKey      string        // key file the back office's approvals sign with; empty: they do not sign
	PolicyKeyAlg          string        // the keys' algorithm
	PolicyKeyID           string        // the keys' id in signatures
	// ExperimentGuardrail is how often a node checks the running
	// experiments' guardrails.
	ExperimentGuardrail time.Duration
	// ProviderHealth is how often a node computes the providers' health
	// and demotes or restores them.
	ProviderHealth      time.Duration
	PolicyShadowQueue   int // live decisions waiting for the shadow's candidate; more are dropped
	PolicyShadowWorkers int // goroutines deciding them
}

// option is one setting. The table below is the single list of settings:
// flags are made from it, and a test checks that the README lists each row.
type option struct {
	Flag     string // without dashes; empty for environment-only settings
	Env      string
	Default  string
	Usage    string
	Commands string // which subcommands read it
}

var options = []option{
	{"addr", "PAYWIRE_ADDR", "127.0.0.1:8080", "address the HTTP server listens on", "serve"},
	{"db", "PAYWIRE_DB", ".paywire/paywire.db", "database: a postgres:// URL, or the path of a SQLite file (created when missing)", "serve, migrate, merchant"},
	{"demo", "PAYWIRE_DEMO", "false", "seed the demo merchant `demo` and the admin user `admin` (idempotent)", "serve"},
	{"demo-history", "PAYWIRE_DEMO_HISTORY", "true", "with --demo, seed a month of sandbox payments for the back office, once, in the background", "serve"},
	{"sandbox", "PAYWIRE_SANDBOX", "false", "enable the built-in sandbox providers (acquirer-a, acquirer-b, sandbox-bank, sandbox-wallet) and their pages under /sandbox/; --demo enables them", "serve"},
	{"sandbox-acquirers", "PAYWIRE_SANDBOX_ACQUIRERS", "", "how the sandbox providers behave, e.g. `acquirer-b approval=0.8 latency=150ms errors=0.02; acquirer-b from=+2m until=+5m approval=0.5 errors=0.3` (settings approval, latency, errors, lost, declines=soft|hard; from/until: a degraded period, RFC 3339 or +duration after the start); see docs/sandbox.md", "serve"},
	{"migrate", "PAYWIRE_MIGRATE", "true", "apply missing migrations on start; when false, refuse to start on an outdated schema", "serve"},
	{"log-level", "PAYWIRE_LOG_LEVEL", "info", "debug, info, warn or error", "serve, migrate"},
	{"log-format", "PAYWIRE_LOG_FORMAT", "text", "text or json", "serve, migrate"},
	{"shutdown-timeout", "PAYWIRE_SHUTDOWN_TIMEOUT", "30s", "how long in-flight requests may take to finish after SIGINT/SIGTERM", "serve"},
	{"notify-max-age", "PAYWIRE_NOTIFY_MAX_AGE", "72h", "how long failed merchant notifications are retried before they are dead-lettered", "serve"},
	{"max-body-bytes", "PAYWIRE_MAX_BODY_BYTES", "1048576", "largest request body accepted, in bytes", "serve"},
	{"redirect-ttl", "PAYWIRE_REDIRECT_TTL", "15m", "how long a payment's redirect link stays valid; an unpaid payment expires with it", "serve"},
	{"provider-timeout", "PAYWIRE_PROVIDER_TIMEOUT", "20s", "how long one provider call may take; without an answer its outcome is unknown and asked of the provider later", "serve"},
	{"recover-after", "PAYWIRE_RECOVER_AFTER", "3m", "when a submitted payment's recovery follow-up falls due: it finishes what a process that died left (longer than a provider loop takes)", "serve"},
	{"auth-fail-per-address", "PAYWIRE_AUTH_FAIL_PER_ADDRESS", "20", "failed merchant authentications one client address may make per minute before it is answered 429", "serve"},
	{"auth-fail-per-merchant", "PAYWIRE_AUTH_FAIL_PER_MERCHANT", "100", "failed authentications naming one merchant id per minute, from any address, before wrong secrets for it are answered 429 (right keyed secrets still pass)", "serve"},
	{"password-checks", "PAYWIRE_PASSWORD_CHECKS", "4", "argon2id verifications (admin passwords, API credentials from before keyed hashes) running at once; more wait up to 2 s, then are answered 429", "serve"},
	{"geoip-db", "PAYWIRE_GEOIP_DB", "", "path of a MaxMind-format country database (GeoLite2-Country, GeoIP2-Country) that tells risk policies an IP address's country; without one IP countries are unknown", "serve"},
	{"public-url", "PAYWIRE_PUBLIC_URL", "", "base URL merchants and end users reach this service at, used in redirect URLs and WSDL addresses (empty: http://<addr>)", "serve"},
	{"metrics-addr", "PAYWIRE_METRICS_ADDR", "127.0.0.1:9090", "address of the metrics listener, which serves /metrics (and /debug/pprof/ with --pprof); `public` serves /metrics on the main listener instead (protect it with PAYWIRE_METRICS_TOKEN)", "serve"},
	{"pprof", "PAYWIRE_PPROF", "false", "serve Go's pprof profiles under /debug/pprof/ on the metrics listener (needs a metrics address other than `public`)", "serve"},
	{"policy-poll", "PAYWIRE_POLICY_POLL", "1s", "how often a node reads which policy bundle revision is active in the database and loads it when it changed (100ms to 5s)", "serve"},
	{"policy-verification-key", "PAYWIRE_POLICY_VERIFICATION_KEY", "", "file holding the PEM public key (or, with HS256, the shared secret) that every policy bundle loaded from the database must be signed with; activate and rollback refuse a revision that does not verify; empty: not verified", "serve, policy"},
	{"policy-signing-key", "PAYWIRE_POLICY_SIGNING_KEY", "", "file holding the PEM private key (or, with HS256, the shared secret) that approvals (`paywire policy approve` and the back office's) sign bundles with; empty: approvals do not sign", "serve, policy"},
	{"policy-key-alg", "PAYWIRE_POLICY_KEY_ALG", "RS256", "algorithm of the policy signing and verification keys: RS256, PS256, ES256, HS256, ...", "serve, policy"},
	{"policy-key-id", "PAYWIRE_POLICY_KEY_ID", "paywire", "key id that policy bundle signatures name", "serve, policy"},
	{"experiment-guardrail", "PAYWIRE_EXPERIMENT_GUARDRAIL", "1m", "how often a node checks the running routing experiments' guardrails and stops an arm that breaches its own (1s at least); every node reads the stopped arms as often as --policy-poll", "serve"},
	{"provider-health", "PAYWIRE_PROVIDER_HEALTH", "30s", "how often a node computes each provider's health with each method from its recent calls (error and approval rates, latency) and demotes or restores providers by the policy bundle's thresholds (1s at least); every node reads the demotions as often as --policy-poll", "serve"},
	{"policy-shadow-queue", "PAYWIRE_POLICY_SHADOW_QUEUE", "1024", "live decisions a node keeps waiting for the shadow candidate (`paywire policy shadow`); when the queue is full they are dropped and counted, never waited for", "serve"},
	{"policy-shadow-workers", "PAYWIRE_POLICY_SHADOW_WORKERS", "1", "goroutines per node deciding the queued live decisions with the shadow candidate", "serve"},
	{"", "PAYWIRE_METRICS_TOKEN", "(none)", "bearer token that /metrics and pprof require (Authorization: Bearer <token>)", "serve"},
	{"", "PAYWIRE_TOKEN_KEY", "(random per start)", "64 hex characters: the key that signs redirect links; set the same key on every node", "serve"},
	{"", "PAYWIRE_DEMO_SECRET", "(random, printed once)", "API secret of the demo merchant, with --demo", "serve"},
	{"", "PAYWIRE_ADMIN_PASSWORD", "(random, printed once)", "password of the admin user `admin`, with --demo", "serve"},
	{"", "PAYWIRE_OPERATOR_TOKEN", "(none: the operator API is off)", "bearer token of the operator API under /api/v1/operator (create merchants, manage their API credentials); at least 32 characters", "serve"},
}

// parseConfig reads the options of one subcommand from args and getenv.
// Flags win over the environment; a malformed value of either is an error
// naming the flag or variable.
func parseConfig(name string, args []string, getenv func(string) string) (Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("paywire "+name, flag.ContinueOnError)
	fs.SetOutput(discard{})
	values := map[string]*string{}
	for _, o := range options {
		if o.Flag == "" || !strings.Contains(o.Commands, name) {
			continue
		}
		v := o.Default
		if e := getenv(o.Env); e != "" {
			v = e
		}
		val := &flagValue{s: v, isBool: o.Default == "true" || o.Default == "false"}
		values[o.Flag] = &val.s
		fs.Var(val, o.Flag, o.Usage+" ($"+o.Env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fs, err
	}
	var c Config
	var errs []error
	str := func(f string) string {
		if p := values[f]; p != nil {
			return *p
		}
		return ""
	}
	boolean := func(f string) bool {
		if values[f] == nil {
			return false
		}
		b, err := strconv.ParseBool(*values[f])
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %q is not true or false", f, *values[f]))
		}
		return b
	}
	c.Addr, c.DB = str("addr"), str("db")
	c.Demo, c.Migrate, c.Sandbox = boolean("demo"), boolean("migrate"), boolean("sandbox")
	c.DemoHistory = boolean("demo-history")
	if spec := str("sandbox-acquirers"); spec != "" {
		var names []string
		for _, sc := range sandbox.DefaultConfigs(nil, "", nil) {
			names = append(names, sc.Name)
		}
		ts, err := sandbox.ParseTunings(spec, names, time.Now())
		if err != nil {
			errs = append(errs, fmt.Errorf("--sandbox-acquirers: %v", err))
		}
		c.SandboxTunings = ts
	}
	c.LogLevel, c.LogFormat = str("log-level"), str("log-format")
	c.GeoIPDB = str("geoip-db")
	if values["shutdown-timeout"] != nil {
		d, err := time.ParseDuration(str("shutdown-timeout"))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("--shutdown-timeout: %q is not a positive duration such as 30s", str("shutdown-timeout")))
		}
		c.ShutdownTimeout = d
	}
	if values["notify-max-age"] != nil {
		d, err := time.ParseDuration(str("notify-max-age"))
		if err != nil || d < time.Hour {
			errs = append(errs, fmt.Errorf("--notify-max-age: %q is not a duration of at least 1h such as 72h", str("notify-max-age")))
		}
		c.NotifyMaxAge = d
	}
	if values["max-body-bytes"] != nil {
		n, err := strconv.ParseInt(str("max-body-bytes"), 10, 64)
		if err != nil || n < 1024 {
			errs = append(errs, fmt.Errorf("--max-body-bytes: %q is not a number of bytes of at least 1024", str("max-body-bytes")))
		}
		c.MaxBodyBytes = n
	}
	counts := []struct {
		flag string
		min  int
		to   *int
	}{{"auth-fail-per-address", 1, &c.AuthFailPerAddr}, {"auth-fail-per-merchant", 1, &c.AuthFailPerMerchant}, {"password-checks", 1, &c.PasswordChecks},
		{"policy-shadow-queue", 1, &c.PolicyShadowQueue}, {"policy-shadow-workers", 1, &c.PolicyShadowWorkers}}
	for _, n := range counts {
		if values[n.flag] == nil {
			continue
		}
		v, err := strconv.Atoi(str(n.flag))
		if err != nil || v < n.min {
			errs = append(errs, fmt.Errorf("--%s: %q is not a whole number of at least %d", n.flag, str(n.flag), n.min))
		}
		*n.to = v
	}
	durations := []struct {
		flag string
		min  time.Duration
		to   *time.Duration
	}{{"policy-poll", 100 * time.Millisecond, &c.PolicyPoll}, {"redirect-ttl", 10 * time.Second, &c.RedirectTTL}, {"provider-timeout", time.Second, &c.ProviderTimeout}, {"recover-after", 10 * time.Second, &c.RecoverAfter}, {"experiment-guardrail", time.Second, &c.ExperimentGuardrail}, {"provider-health", time.Second, &c.ProviderHealth}}
	for _, d := range durations {
		if values[d.flag] == nil {
			continue
		}
		v, err := time.ParseDuration(str(d.flag))
		if err != nil || v < d.min {
			errs = append(errs, fmt.Errorf("--%s: %q is not a duration of at least %s", d.flag, str(d.flag), d.min))
		}
		*d.to = v
	}
	if c.PolicyShadowQueue > 1<<20 || c.PolicyShadowWorkers > 64 {
		errs = append(errs, fmt.Errorf("--policy-shadow-queue is at most %d and --policy-shadow-workers at most 64", 1<<20))
	}
	if c.PolicyPoll > 5*time.Second {
		errs = append(errs, fmt.Errorf("--policy-poll: %q is longer than 5s: nodes must run an activated revision within 5 s", str("policy-poll")))
	}
	c.PolicyVerificationKey, c.PolicyKeyAlg, c.PolicyKeyID = str("policy-verification-key"), str("policy-key-alg"), str("policy-key-id")
	c.PolicySigningKey = str("policy-signing-key")
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "":
	default:
		errs = append(errs, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json", "":
	default:
		errs = append(errs, fmt.Errorf("--log-format: %q is not text or json", c.LogFormat))
	}
	if u := str("public-url"); u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--public-url: %q is not a base URL such as https://pay.example.com", u))
		}
		c.PublicURL = strings.TrimSuffix(u, "/")
	}
	if values["metrics-addr"] != nil {
		c.MetricsAddr = str("metrics-addr")
		if c.MetricsAddr == "public" {
			c.MetricsAddr = ""
		} else if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr: %q is not host:port or public", c.MetricsAddr))
		}
		c.Pprof = boolean("pprof")
		if c.Pprof && c.MetricsAddr == "" {
			errs = append(errs, errors.New("--pprof: needs a metrics listener of its own (--metrics-addr host:port), never the public one"))
		}
		c.MetricsToken = getenv("PAYWIRE_METRICS_TOKEN")
	}
	if k := getenv("PAYWIRE_TOKEN_KEY"); (name == "serve" || name == "merchant") && k != "" {
		key, err := hex.DecodeString(k)
		if err != nil || len(key) != 32 {
			errs = append(errs, errors.New("PAYWIRE_TOKEN_KEY: not 64 hex characters (32 bytes)"))
		}
		c.TokenKey = key
	}
	if t := getenv("PAYWIRE_OPERATOR_TOKEN"); name == "serve" && t != "" {
		if len(t) < 32 {
			errs = append(errs, errors.New("PAYWIRE_OPERATOR_TOKEN: shorter than 32 characters"))
		}
		c.OperatorToken = t
	}
	if name == "serve" && c.Demo {
		c.DemoSecret, c.AdminPassword = getenv("PAYWIRE_DEMO_SECRET"), getenv("PAYWIRE_ADMIN_PASSWORD")
	}
	return c, fs, errors.Join(errs...)
}

// flagValue keeps a flag's text for parseConfig to check, so that flags and
// environment variables are validated by the same code. Boolean options may
// be given as a bare --flag.
type flagValue struct {
	s      string
	isBool bool
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
