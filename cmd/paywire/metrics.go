package main

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
)

// metrics are the payment core's metrics: state changes and provider calls
// (as payment.Metrics) and decisions (through meteredDecider).
//
//	paywire_build_info{version,revision,goversion}                        always 1
//	paywire_payment_transitions_total{from,to,method,provider}           committed state changes; from="none" for creation
//	paywire_provider_call_duration_seconds{provider,operation,outcome}    provider calls by attempt status
//	paywire_decision_duration_seconds{point,revision,outcome}             engine decisions: ok, failed_closed or error
//	paywire_followup_backlog                                              follow-ups due and not yet done
type metrics struct {
	transitions *prometheus.CounterVec
	calls       *prometheus.HistogramVec
	decisions   *prometheus.HistogramVec
}

var _ payment.Metrics = (*metrics)(nil)

// newMetrics creates the metrics and registers them, with the build
// information and the follow-up backlog read from backlog at each scrape.
func newMetrics(reg prometheus.Registerer, backlog func(ctx context.Context, now time.Time) (int, error)) *metrics {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paywire_payment_transitions_total",
			Help: "Committed payment state changes by previous state (none for a new payment), new state, method and provider.",
		}, []string{"from", "to", "method", "provider"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paywire_provider_call_duration_seconds",
			Help:    "Duration of provider calls by provider, operation and outcome (approved, declined, cancelled, pending, failed, unknown).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30},
		}, []string{"provider", "operation", "outcome"}),
		decisions: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paywire_decision_duration_seconds",
			Help:    "Duration of decision engine evaluations by point, bundle revision and outcome (ok, failed_closed, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"point", "revision", "outcome"}),
	}
	version, revision := buildVersion()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "paywire_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(version, revision, goVersion()).Set(1)
	reg.MustRegister(m.transitions, m.calls, m.decisions, build)
	if backlog != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paywire_followup_backlog",
			Help: "Follow-ups (capture, status query, expiry, recovery) due and not yet done; -1 when the database cannot be read.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := backlog(ctx, time.Now())
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// buildVersion returns the module version and VCS revision the binary was
// built from, "unknown" where the build did not record them.
func buildVersion() (version, revision string) {
	version, revision = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, revision
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			revision = s.Value
		}
	}
	return version, revision
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

// Transition implements payment.Metrics.
func (m *metrics) Transition(from, to paywire.State, method paywire.Method, provider string) {
	f := string(from)
	if f == "" {
		f = "none"
	}
	m.transitions.WithLabelValues(f, string(to), string(method), provider).Inc()
}

// ProviderCall implements payment.Metrics.
func (m *metrics) ProviderCall(provider string, op paywire.Operation, outcome string, d time.Duration) {
	m.calls.WithLabelValues(provider, string(op), outcome).Observe(d.Seconds())
}

// decision records one evaluation of point.
func (m *metrics) decision(point string, meta engine.Meta, err error, start time.Time) {
	outcome, d, rev := "ok", meta.Duration, meta.BundleRevision
	switch {
	case err != nil:
		outcome, d = "error", time.Since(start)
	case meta.FailedClosed:
		outcome = "failed_closed"
	}
	if rev == "" {
		rev = "unknown"
	}
	m.decisions.WithLabelValues(point, rev, outcome).Observe(d.Seconds())
}

// meteredDecider times each decision of the engine it wraps.
type meteredDecider struct {
	payment.Decider
	m *metrics
}

func (d meteredDecider) Availability(ctx context.Context, in engine.AvailabilityInput) (engine.AvailabilityDecision, error) {
	start := time.Now()
	r, err := d.Decider.Availability(ctx, in)
	d.m.decision("availability", r.Meta, err, start)
	return r, err
}

func (d meteredDecider) Risk(ctx context.Context, in engine.RiskInput) (engine.RiskDecision, error) {
	start := time.Now()
	r, err := d.Decider.Risk(ctx, in)
	d.m.decision("risk", r.Meta, err, start)
	return r, err
}

func (d meteredDecider) Route(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
	start := time.Now()
	r, err := d.Decider.Route(ctx, in)
	d.m.decision("routing", r.Meta, err, start)
	return r, err
}

func (d meteredDecider) Workflow(ctx context.Context, in engine.WorkflowInput) (engine.WorkflowDecision, error) {
	start := time.Now()
	r, err := d.Decider.Workflow(ctx, in)
	d.m.decision("workflow", r.Meta, err, start)
	return r, err
}

// metricsHandler serves the registry's metrics, behind a bearer token when
// token is not empty.
func metricsHandler(reg *prometheus.Registry, token string) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("unauthorized", "send the metrics token as Authorization: Bearer <token>", requestIDOf(r)))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// metricsMux is the router of the metrics listener: /metrics and, when
// asked, the pprof endpoints under /debug/pprof/.
func metricsMux(reg *prometheus.Registry, token string, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(reg, token))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	var h http.Handler = mux
	if token != "" && withPprof {
		// /metrics checks the token itself; pprof needs it too.
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/debug/pprof/") && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
