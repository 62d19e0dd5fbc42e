package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// shadowFollower keeps a node's shadow candidate in step with the
// database's shadow setting, in the bundle refresher's loop: when a
// revision starts shadowing it loads it, with the checks of an active
// revision (content hash, manifest revision and, with a verification
// key, its signature), and hands it to the engine's Shadow; when the
// shadow stops, the node stops comparing. A revision that cannot be
// loaded is not compared; /readyz says why.
type shadowFollower struct {
	Store        paywire.ShadowStore
	Bundles      paywire.BundleStore
	Engine       *engine.Engine // its Shadow compares
	Verification *engine.Verification
	Logger       *slog.Logger

	mu     sync.Mutex
	status *shadowStatus
	info   *prometheus.GaugeVec
}

// shadowStatus is what a node reports about the shadow on /readyz; absent
// when no revision shadows.
type shadowStatus struct {
	Shadow   int64     `json:"shadow"` // the shadow period
	Revision int64     `json:"revision"`
	Hash     string    `json:"hash"`
	Since    time.Time `json:"since"`
	// Error says why this node could not load the revision; it compares
	// nothing meanwhile.
	Error   string `json:"error,omitempty"`
	Queued  int64  `json:"queued"`  // live decisions waiting for the candidate
	Dropped int64  `json:"dropped"` // dropped because the queue was full, since the node started
}

// newShadowFollower gives e a Shadow of queue inputs and workers workers
// that writes to st, and registers the shadow's metrics in reg:
//
//	paywire_policy_shadow_decisions_total{point,result}  comparisons: agree, disagree or error
//	paywire_policy_shadow_dropped_total                  live decisions not compared: the queue was full
//	paywire_policy_shadow_queue                          live decisions waiting for the candidate
//	paywire_policy_shadow_info{revision,hash}            1; revision 0 when none shadows
func newShadowFollower(st paywire.ShadowStore, bs paywire.BundleStore, e *engine.Engine, v *engine.Verification, log *slog.Logger, queue, workers int, reg prometheus.Registerer) *shadowFollower {
	f := &shadowFollower{Store: st, Bundles: bs, Engine: e, Verification: v, Logger: log,
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paywire_policy_shadow_info",
			Help: "Always 1; the labels say which revision this node decides in shadow beside the active one (revision 0: none).",
		}, []string{"revision", "hash"}),
	}
	if queue <= 0 {
		queue = 1024
	}
	s := engine.NewShadow(queue, workers)
	s.Recorder, s.Logger = st, log
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paywire_policy_shadow_decisions_total",
		Help: "Live decisions decided again with the shadow candidate, by point and result: agree, disagree or error.",
	}, []string{"point", "result"})
	s.Observe = func(point, result string) { results.WithLabelValues(point, result).Inc() }
	e.Shadow = s
	f.info.WithLabelValues("0", "").Set(1)
	if reg != nil {
		reg.MustRegister(f.info, results,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "paywire_policy_shadow_dropped_total",
				Help: "Live decisions not decided with the shadow candidate because this node's queue (--policy-shadow-queue) was full.",
			}, func() float64 { return float64(s.Dropped()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "paywire_policy_shadow_queue",
				Help: "Live decisions waiting for (or being decided by) the shadow candidate on this node.",
			}, func() float64 { return float64(s.Queued()) }))
	}
	return f
}

// Status returns the shadow this node follows; nil when none runs.
func (f *shadowFollower) Status() *shadowStatus {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		return nil
	}
	s := *f.status
	s.Queued, s.Dropped = f.Engine.Shadow.Queued(), f.Engine.Shadow.Dropped()
	return &s
}

func (f *shadowFollower) set(s *shadowStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = s
	f.info.Reset()
	if s == nil || s.Error != "" {
		f.info.WithLabelValues("0", "").Set(1)
		return
	}
	f.info.WithLabelValues(strconv.FormatInt(s.Revision, 10), s.Hash).Set(1)
}

// refresh follows the shadow setting: a database error is returned (and
// retried at the next tick); a revision the node refuses is reported and
// not tried again until the setting changes.
func (f *shadowFollower) refresh(ctx context.Context) error {
	run, err := f.Store.RunningShadow(ctx)
	if err != nil {
		return err
	}
	cur := f.Status()
	if run == nil {
		if cur != nil {
			f.Engine.Shadow.SetCandidate(0, nil)
			f.set(nil)
			f.Logger.Info("policy shadow stopped", "revision", cur.Revision, "shadow", cur.Shadow)
		}
		return nil
	}
	if cur != nil && cur.Shadow == run.ID {
		return nil
	}
	st := &shadowStatus{Shadow: run.ID, Revision: run.Revision, Since: run.StartedAt}
	b, err := f.Bundles.Bundle(ctx, run.Revision)
	if err != nil {
		return err
	}
	st.Hash = b.Hash
	compiled, err := bundles.Compile(ctx, b, f.Verification)
	if err == nil {
		unsigned, signed, ferr := bundles.Files(b)
		files := unsigned
		if f.Engine.Verification != nil {
			files = signed
		}
		if err = ferr; err == nil {
			// Loaded by the engine: the candidate reads the live lists.
			compiled, err = f.Engine.Load(ctx, files)
		}
	}
	if err != nil {
		f.Engine.Shadow.SetCandidate(0, nil)
		st.Error = err.Error()
		f.set(st)
		f.Logger.Error("policy shadow not loaded; this node compares nothing", "revision", run.Revision, "shadow", run.ID, "error", err)
		return nil
	}
	f.Engine.Shadow.SetCandidate(run.ID, compiled)
	f.set(st)
	f.Logger.Info("policy shadow running", "revision", run.Revision, "shadow", run.ID, "hash", b.Hash, "started_by", run.StartedBy)
	return nil
}

// tick is one turn of the refresher's loop: the active revision, then
// the shadow setting.
func (r *bundleRefresher) tick(ctx context.Context) error {
	err := r.refresh(ctx)
	if r.shadow == nil {
		return err
	}
	if serr := r.shadow.refresh(ctx); serr != nil {
		r.Logger.Warn("policy shadow setting not read; the node keeps its candidate", "error", serr)
	}
	return err
}

// runShadow starts the engine's shadow workers; the function returned
// waits for them to end after ctx did.
func (m *Main) runShadow(ctx context.Context) func() {
	if m.Engine.Shadow == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() { defer close(done); m.Engine.Shadow.Run(ctx) }()
	return func() { <-done }
}
