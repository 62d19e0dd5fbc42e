package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/experiments"
)

// guardrailLoop keeps a node in step with the experiments' guardrails:
// every Poll it reads the stopped arms into the engine (a stop made by any
// node reaches this one's routing within Poll), and every Check it checks
// the running experiments itself. Every node checks; a stop is recorded
// once.
type guardrailLoop struct {
	Guard       *experiments.Guard
	Stops       paywire.ArmStopStore
	Engine      *engine.Engine
	Logger      *slog.Logger
	Poll, Check time.Duration

	stopped prometheus.Gauge
}

func newGuardrailLoop(m *Main) *guardrailLoop {
	poll, check := m.Config.PolicyPoll, m.Config.ExperimentGuardrail
	if poll <= 0 {
		poll = time.Second
	}
	if check <= 0 {
		check = time.Minute
	}
	l := &guardrailLoop{Stops: m.DB, Engine: m.Engine, Logger: m.Logger, Poll: poll, Check: check,
		Guard: &experiments.Guard{Tallies: m.DB, Stops: m.DB, Logger: m.Logger, Now: time.Now,
			Experiments: func() []engine.Experiment { return m.Engine.Active().Experiments() }},
		stopped: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paywire_experiment_arms_stopped",
			Help: "Arms of routing experiments their guardrail stopped, as this node last read them (their payments take control's route)."}),
	}
	m.Registry.MustRegister(l.stopped)
	return l
}

// read loads the stopped arms into the engine.
func (l *guardrailLoop) read(ctx context.Context) error {
	stops, err := l.Stops.ArmStops(ctx)
	if err != nil {
		return err
	}
	l.Engine.SetStoppedArms(stops)
	l.stopped.Set(float64(len(stops)))
	return nil
}

// check runs the guardrails, then reads what they stopped.
func (l *guardrailLoop) check(ctx context.Context) error {
	if _, err := l.Guard.Check(ctx); err != nil {
		return err
	}
	return l.read(ctx)
}

func (l *guardrailLoop) run(ctx context.Context) {
	pollAndCheck(ctx, l.Poll, l.Check, l.read, l.check, func(err error) {
		l.Logger.Warn("experiment guardrails not read or checked; routing keeps the arms it knows stopped", "error", err)
	})
}

// pollAndCheck runs a node's periodic work that other nodes share through
// the database until ctx ends: read every poll (what any node decided),
// check every check (decide, once across nodes); failed tells of an error,
// and the next tick tries again.
func pollAndCheck(ctx context.Context, poll, check time.Duration, read, checkFn func(context.Context) error, failed func(error)) {
	pt, ct := time.NewTicker(poll), time.NewTicker(check)
	defer pt.Stop()
	defer ct.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-pt.C:
			err = read(ctx)
		case <-ct.C:
			err = checkFn(ctx)
		}
		if err != nil && ctx.Err() == nil {
			failed(err)
		}
	}
}
