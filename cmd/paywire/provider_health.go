package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/health"
)

// healthLoop keeps a node's provider health current, as guardrailLoop
// keeps the experiments' stops: every Check it computes the figures from
// the calls in the database and moves the providers they call for (every
// node checks; a transition is written once), and every Poll it reads the
// states, so that a transition any node made reaches this node's routing
// within Poll. The metrics follow each read.
//
//	paywire_providers_demoted                          providers demoted with a method
//	paywire_provider_demoted{provider,method}          1 demoted, 0 healthy
//	paywire_provider_calls{provider,method}            calls in the health window
//	paywire_provider_error_rate{provider,method}       technical-error rate; absent below min_calls
//	paywire_provider_approval_rate{provider,method}    approval rate; absent below min_calls
//
// The labels are the providers that were called (configured ones) and the
// methods (a fixed list): the series stay few.
type healthLoop struct {
	Monitor     *health.Monitor
	Logger      *slog.Logger
	Poll, Check time.Duration

	demoted                           prometheus.Gauge
	state, calls, errorRate, approval *prometheus.GaugeVec
	series                            map[[2]string]bool // the labels set last time
}

func newHealthLoop(m *Main) *healthLoop {
	poll, check := m.Config.PolicyPoll, m.Config.ProviderHealth
	if poll <= 0 {
		poll = time.Second
	}
	if check <= 0 {
		check = 30 * time.Second
	}
	l := &healthLoop{Logger: m.Logger, Poll: poll, Check: check,
		Monitor: &health.Monitor{Store: m.DB, Logger: m.Logger, Now: time.Now, Policy: func() engine.HealthPolicy {
			if b := m.Engine.Active(); b != nil {
				return b.HealthPolicy()
			}
			return engine.DefaultHealthPolicy
		}},
		demoted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paywire_providers_demoted",
			Help: "Providers demoted with a method for their technical-error rate, as this node last read them (routing puts them after the healthy ones)."}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paywire_provider_demoted",
			Help: "1 when the provider is demoted with the method, 0 when healthy, as this node last read it."}, []string{"provider", "method"}),
		calls: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paywire_provider_calls",
			Help: "The provider's calls with the method in the health window (at most the bundle's max_calls), at this node's last check."}, []string{"provider", "method"}),
		errorRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paywire_provider_error_rate",
			Help: "The provider's technical-error rate with the method over the health window (0-1); absent with fewer calls than the bundle's min_calls."}, []string{"provider", "method"}),
		approval: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "paywire_provider_approval_rate",
			Help: "The provider's approval rate with the method over the health window (0-1); absent with fewer decided calls than the bundle's min_calls."}, []string{"provider", "method"}),
	}
	m.Registry.MustRegister(l.demoted, l.state, l.calls, l.errorRate, l.approval)
	return l
}

// read reads the states every node shares.
func (l *healthLoop) read(ctx context.Context) error {
	if err := l.Monitor.Read(ctx); err != nil {
		return err
	}
	l.observe()
	return nil
}

// check computes the figures and moves the providers they call for.
func (l *healthLoop) check(ctx context.Context) error {
	if _, err := l.Monitor.Check(ctx); err != nil {
		return err
	}
	l.observe()
	return nil
}

// observe sets the metrics from the monitor's snapshot; a provider and
// method no longer known loses its series.
func (l *healthLoop) observe() {
	s := l.Monitor.Snapshot()
	l.demoted.Set(float64(s.Demoted()))
	seen := map[[2]string]bool{}
	optional := func(g *prometheus.GaugeVec, v *float64, labels ...string) {
		if v == nil {
			g.DeleteLabelValues(labels...)
		} else {
			g.WithLabelValues(labels...).Set(*v)
		}
	}
	for _, f := range s.Figures {
		p, m := f.Provider, string(f.Method)
		seen[[2]string{p, m}] = true
		l.calls.WithLabelValues(p, m).Set(float64(f.Calls))
		optional(l.errorRate, f.ErrorRate, p, m)
		optional(l.approval, f.ApprovalRate, p, m)
		l.state.WithLabelValues(p, m).Set(0)
	}
	for _, st := range s.States {
		p, m := st.Provider, string(st.Method)
		seen[[2]string{p, m}] = true
		v := 0.0
		if st.State == paywire.HealthDemoted {
			v = 1
		}
		l.state.WithLabelValues(p, m).Set(v)
	}
	for k := range l.series {
		if !seen[k] {
			for _, g := range []*prometheus.GaugeVec{l.state, l.calls, l.errorRate, l.approval} {
				g.DeleteLabelValues(k[0], k[1])
			}
		}
	}
	// Figures gone from the window keep no stale rates.
	for k := range seen {
		if !hasFigures(s, k) {
			for _, g := range []*prometheus.GaugeVec{l.calls, l.errorRate, l.approval} {
				g.DeleteLabelValues(k[0], k[1])
			}
		}
	}
	l.series = seen
}

func hasFigures(s *health.Snapshot, k [2]string) bool {
	for _, f := range s.Figures {
		if f.Provider == k[0] && string(f.Method) == k[1] {
			return true
		}
	}
	return false
}

func (l *healthLoop) run(ctx context.Context) {
	pollAndCheck(ctx, l.Poll, l.Check, l.read, l.check, func(err error) {
		l.Logger.Warn("provider health not read or checked; routing keeps the health it knows", "error", err)
	})
}
