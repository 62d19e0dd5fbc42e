package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire"
)

// ShadowRecorder stores what a Shadow found, in batches (see
// paywire.ShadowStore.RecordShadow).
type ShadowRecorder interface {
	RecordShadow(ctx context.Context, shadow int64, counts []paywire.ShadowCount, disagreements []paywire.ShadowDisagreement) error
}

// Shadow decides again, with a candidate bundle, what the engine's active
// bundle decided, and compares the two outcomes (Outcome): off the
// request's path. After a live decision is made and recorded, the engine
// puts its input in a bounded queue, without waiting; when the queue is
// full the input is dropped and counted. A fixed number of workers decide
// the queued inputs with the candidate, which records nothing and changes
// no live decision, and the comparisons are written in batches: counts by
// point and result, and a row per disagreement.
//
// Set the fields, then start Run; SetCandidate starts and stops the
// comparisons (nodes follow the database's shadow setting).
type Shadow struct {
	// Recorder receives the batches; nil keeps only the counts Observe
	// and Dropped see.
	Recorder ShadowRecorder
	// FlushEvery is how often batches are written (default 1 s); a batch
	// is written sooner when it holds many disagreements.
	FlushEvery time.Duration
	// Timeout bounds one candidate decision (default 1 s); one that takes
	// longer is an error.
	Timeout time.Duration
	// Observe, when set, is told every comparison's point and result
	// (paywire.ShadowAgree, ShadowDisagree or ShadowError), by a worker.
	Observe func(point, result string)
	Logger  *slog.Logger

	jobs    chan shadowJob
	workers int
	target  atomic.Pointer[shadowTarget]
	dropped atomic.Int64
	pending atomic.Int64 // inputs queued or being decided
	full    chan struct{}

	mu      sync.Mutex
	batches map[int64]*shadowBatch
	targets map[*shadowTarget]bool // candidates whose drops are still to be counted
}

// shadowTarget is one candidate: the shadow period it belongs to and its
// compiled bundle.
type shadowTarget struct {
	id     int64
	bundle *Bundle
	drops  [len(points)]atomic.Int64
}

// points are the decision points, in the order drops are counted.
var points = [...]string{PointAvailability, PointRisk, PointRouting, PointWorkflow}

type shadowJob struct {
	target        *shadowTarget
	point         string
	merchantID    string
	paymentID     string
	input, output any
	meta          Meta
	at            time.Time
}

type shadowBatch struct {
	counts        map[[2]string]int64 // point, result
	disagreements []paywire.ShadowDisagreement
}

// The bounds of the batches kept in memory.
const (
	flushAtRows = 256    // a batch with this many disagreements is written at once
	maxKeptRows = 10_000 // rows kept while the recorder fails; beyond, rows are lost (counts are kept)
)

// NewShadow returns a shadow with a queue of queue inputs and workers
// workers (at least 1 each), comparing nothing until SetCandidate.
func NewShadow(queue, workers int) *Shadow {
	return &Shadow{jobs: make(chan shadowJob, max(queue, 1)), workers: max(workers, 1), full: make(chan struct{}, 1),
		batches: map[int64]*shadowBatch{}, targets: map[*shadowTarget]bool{}}
}

// SetCandidate makes b the candidate of shadow period id; a nil b stops
// the comparisons. Inputs queued before are still decided with the
// candidate of their time and counted in its period.
func (s *Shadow) SetCandidate(id int64, b *Bundle) {
	var t *shadowTarget
	if b != nil {
		t = &shadowTarget{id: id, bundle: b}
		s.mu.Lock()
		s.targets[t] = true
		s.mu.Unlock()
	}
	s.target.Store(t)
}

// Candidate returns the shadow period and bundle compared; 0 and nil when
// none is.
func (s *Shadow) Candidate() (int64, *Bundle) {
	if t := s.target.Load(); t != nil {
		return t.id, t.bundle
	}
	return 0, nil
}

// Dropped returns how many inputs were dropped because the queue was full,
// since the shadow was made.
func (s *Shadow) Dropped() int64 { return s.dropped.Load() }

// Queued returns how many inputs wait or are being decided.
func (s *Shadow) Queued() int64 { return s.pending.Load() }

// shadowing returns the candidate when the engine has a shadow comparing
// one; it costs the live decision an atomic load.
func (e *Engine) shadowing() *shadowTarget {
	if e.Shadow == nil {
		return nil
	}
	return e.Shadow.target.Load()
}

// offer queues a live decision for the candidate t without waiting; a
// full queue drops it.
func (s *Shadow) offer(t *shadowTarget, point, merchantID, paymentID string, in, out any, m Meta) {
	if m.BundleHash == t.bundle.Hash {
		return // the candidate decided it: nothing to compare
	}
	s.pending.Add(1)
	select {
	case s.jobs <- shadowJob{target: t, point: point, merchantID: merchantID, paymentID: paymentID, input: in, output: out, meta: m, at: time.Now()}:
	default:
		s.pending.Add(-1)
		s.dropped.Add(1)
		for i, p := range points {
			if p == point {
				t.drops[i].Add(1)
			}
		}
	}
}

// Run decides queued inputs with Workers workers and writes the batches
// until ctx ends; then it writes what was decided and returns. Inputs
// still queued then are not decided.
func (s *Shadow) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.jobs:
					s.decide(ctx, j)
				}
			}
		}()
	}
	every := s.FlushEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.write(fctx)
			cancel()
			return
		case <-tick.C:
		case <-s.full:
		}
		s.write(ctx)
	}
}

// Flush waits until every queued input is decided (or ctx ends) and writes
// the batches; Run must be running.
func (s *Shadow) Flush(ctx context.Context) error {
	for s.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return s.write(ctx)
}

// decide compares one live decision with the candidate's.
func (s *Shadow) decide(ctx context.Context, j shadowJob) {
	defer s.pending.Add(-1)
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	result := paywire.ShadowError
	var row *paywire.ShadowDisagreement
	cand, err := decideTyped(dctx, j.target.bundle, j.point, j.input)
	if err == nil && dctx.Err() != nil {
		err = dctx.Err() // it failed closed because it ran out of time
	}
	var live, shadow string
	if err == nil {
		live, err = Outcome(j.point, j.output)
	}
	if err == nil {
		shadow, err = Outcome(j.point, cand)
	}
	switch {
	case err != nil:
		s.logger().Debug("shadow decision failed", "point", j.point, "decision", j.meta.DecisionID, "error", err)
	case live == shadow:
		result = paywire.ShadowAgree
	default:
		result = paywire.ShadowDisagree
		row = &paywire.ShadowDisagreement{Shadow: j.target.id, DecisionID: j.meta.DecisionID, PaymentID: j.paymentID,
			MerchantID: j.merchantID, Point: j.point, LiveRevision: j.meta.BundleRevision, LiveOutcome: live,
			ShadowRevision: j.target.bundle.Revision, ShadowOutcome: shadow, At: j.at}
	}
	if s.Observe != nil {
		s.Observe(j.point, result)
	}
	s.mu.Lock()
	b := s.batchOf(j.target.id)
	b.counts[[2]string{j.point, result}]++
	if row != nil && len(b.disagreements) < maxKeptRows {
		b.disagreements = append(b.disagreements, *row)
	}
	n := len(b.disagreements)
	s.mu.Unlock()
	if n >= flushAtRows {
		select {
		case s.full <- struct{}{}:
		default:
		}
	}
}

// batchOf returns the batch of shadow period id; s.mu is held.
func (s *Shadow) batchOf(id int64) *shadowBatch {
	b := s.batches[id]
	if b == nil {
		b = &shadowBatch{counts: map[[2]string]int64{}}
		s.batches[id] = b
	}
	return b
}

// write hands the batches, with the drops counted since the last write, to
// the recorder. A batch the recorder refuses is kept for the next write.
func (s *Shadow) write(ctx context.Context) error {
	current := s.target.Load()
	s.mu.Lock()
	for t := range s.targets {
		var dropped int64
		for i, p := range points {
			if n := t.drops[i].Swap(0); n > 0 {
				s.batchOf(t.id).counts[[2]string{p, paywire.ShadowDropped}] += n
				dropped += n
			}
		}
		if t != current && dropped == 0 {
			delete(s.targets, t) // replaced, and its last drops are counted
		}
	}
	batches := s.batches
	s.batches = map[int64]*shadowBatch{}
	s.mu.Unlock()
	if s.Recorder == nil {
		return nil
	}
	var errs []error
	for id, b := range batches {
		counts := make([]paywire.ShadowCount, 0, len(b.counts))
		for k, n := range b.counts {
			counts = append(counts, paywire.ShadowCount{Point: k[0], Result: k[1], N: n})
		}
		if len(counts) == 0 {
			continue
		}
		if err := s.Recorder.RecordShadow(ctx, id, counts, b.disagreements); err != nil {
			errs = append(errs, err)
			s.logger().Warn("shadow results not written; kept for the next write", "shadow", id, "error", err)
			s.keep(id, b)
		}
	}
	return errors.Join(errs...)
}

// keep puts a batch the recorder refused back, within maxKeptRows.
func (s *Shadow) keep(id int64, old *shadowBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batchOf(id)
	for k, n := range old.counts {
		b.counts[k] += n
	}
	room := maxKeptRows - len(b.disagreements)
	if room < len(old.disagreements) {
		s.logger().Warn("shadow disagreements lost: the recorder fails and too many are kept", "shadow", id, "lost", len(old.disagreements)-max(room, 0))
		old.disagreements = old.disagreements[:max(room, 0)]
	}
	b.disagreements = append(old.disagreements, b.disagreements...)
}

func (s *Shadow) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// decideTyped decides point's typed input with b, as Replay decides a
// recorded one.
func decideTyped(ctx context.Context, b *Bundle, point string, input any) (any, error) {
	switch in := input.(type) {
	case AvailabilityInput:
		return availability(ctx, b, in), nil
	case RiskInput:
		return risk(ctx, b, in), nil
	case RouteInput:
		return route(ctx, b, in), nil
	case WorkflowInput:
		return workflow(ctx, b, in), nil
	}
	return nil, errors.New("no input of point " + point)
}
