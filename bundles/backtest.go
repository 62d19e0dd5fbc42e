package bundles

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// What a backtest sample and its filters may hold.
const (
	backtestSample      = 5
	maxBacktestMerchant = 100
	// BacktestListLimit is how many backtests the lists show.
	BacktestListLimit = 50
)

// backtests is the store's backtest side: the store that keeps the
// bundles keeps their backtests.
func (s *Service) backtests(op string) (paywire.BacktestStore, error) {
	bs, ok := s.Store.(paywire.BacktestStore)
	if !ok {
		return nil, &paywire.Error{Op: op, Code: paywire.EINTERNAL, Message: "this store keeps no backtests"}
	}
	return bs, nil
}

// StartBacktest queues a backtest of revision req.Revision over the
// decisions recorded from req.From up to req.To (a To in the future is
// now), of req.Points (all when none) and req.MerchantID (all when empty).
// who holds the risk_analyst, compliance or admin role. The revision must
// be one nodes could compile (any state: a draft is the usual candidate).
// It is audited as policy_bundle.backtest in the transaction that queues
// it; a BacktestWorker on some node runs it.
func (s *Service) StartBacktest(ctx context.Context, who string, req paywire.Backtest) (*paywire.Backtest, error) {
	const op = "bundles/Service.StartBacktest"
	if _, err := s.user(ctx, op, who, paywire.RoleRiskAnalyst, paywire.RoleCompliance, paywire.RoleAdmin); err != nil {
		return nil, err
	}
	st, err := s.backtests(op)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if req.To.After(now) {
		req.To = now
	}
	switch {
	case req.From.IsZero() || req.To.IsZero():
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a backtest needs its window: from and to"}
	case !req.From.Before(req.To):
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("the window must start before it ends (and before now): from %s to %s", req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))}
	case len(req.MerchantID) > maxBacktestMerchant || strings.ContainsAny(req.MerchantID, ",\x00"):
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "the merchant is a merchant id"}
	}
	var points []string
	for _, p := range req.Points {
		p = strings.TrimSpace(p)
		if p == "" || slices.Contains(points, p) {
			continue
		}
		if !slices.Contains(engine.Points, p) {
			return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("unknown decision point %q (the points are %s)", p, strings.Join(engine.Points, ", "))}
		}
		points = append(points, p)
	}
	b, err := s.Store.Bundle(ctx, req.Revision)
	if err != nil {
		return nil, err
	}
	if _, err := Compile(ctx, b, nil); err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("revision %d cannot be decided with: %v", req.Revision, err), Err: err}
	}
	job := &paywire.Backtest{Revision: req.Revision, By: who, From: req.From.UTC(), To: req.To.UTC(), Points: points, MerchantID: req.MerchantID}
	a, err := audit("policy_bundle.backtest", who, map[string]any{"revision": req.Revision, "hash": b.Hash,
		"from": job.From, "to": job.To, "points": points, "merchant": req.MerchantID})
	if err != nil {
		return nil, err
	}
	if err := st.CreateBacktest(ctx, job, a); err != nil {
		return nil, err
	}
	return job, nil
}

// Backtest returns a backtest with its report so far, for anyone who may
// read the registry.
func (s *Service) Backtest(ctx context.Context, id string) (*paywire.Backtest, error) {
	st, err := s.backtests("bundles/Service.Backtest")
	if err != nil {
		return nil, err
	}
	return st.Backtest(ctx, id)
}

// Backtests returns the latest backtests, newest first.
func (s *Service) Backtests(ctx context.Context) ([]paywire.Backtest, error) {
	st, err := s.backtests("bundles/Service.Backtests")
	if err != nil {
		return nil, err
	}
	return st.Backtests(ctx, BacktestListLimit)
}

// BacktestWorker runs backtests: it claims a queued job (or one whose
// worker's lease ran out), compiles the candidate revision, and replays the
// job's decisions batch by batch with engine.Replay, reading stored inputs
// strictly and recording nothing. Each batch's progress, cursor and partial
// report are stored in one transaction that also extends the lease, if the
// worker still holds it: a worker that lost its job to another writes
// nothing, so no decision is counted twice. One worker runs on every node.
type BacktestWorker struct {
	Store   paywire.BacktestStore
	Bundles paywire.BundleStore
	// Engine, when set, compiles candidates that read its live lists (see
	// engine.Engine.Candidate); without it a candidate reads only the
	// lists it carries.
	Engine *engine.Engine
	Logger *slog.Logger
	// Name identifies the worker in leases; by default host, process and
	// a random part.
	Name string
	// Lease is how long a claim lasts without progress (default 30 s): a
	// job whose worker died is taken over that long after its last batch.
	Lease time.Duration
	// Batch is the number of decisions per batch (default 1000).
	Batch int
	// Poll is how often an idle worker looks for a job (default 2 s).
	Poll time.Duration
	// Parallel is how many decisions are replayed at once (default
	// GOMAXPROCS).
	Parallel int
	// Now tells the time of leases; time.Now by default.
	Now func() time.Time
	// OnBatch, when set, is called after each batch is stored.
	OnBatch func(job *paywire.Backtest)

	once sync.Once
}

func (w *BacktestWorker) defaults() {
	w.once.Do(func() {
		if w.Name == "" {
			host, _ := os.Hostname()
			r := make([]byte, 4)
			_, _ = rand.Read(r)
			w.Name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r))
		}
		if w.Lease <= 0 {
			w.Lease = 30 * time.Second
		}
		if w.Batch <= 0 {
			w.Batch = 1000
		}
		if w.Poll <= 0 {
			w.Poll = 2 * time.Second
		}
		if w.Parallel <= 0 {
			w.Parallel = runtime.GOMAXPROCS(0)
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Run claims and runs jobs until ctx ends. A job it is running when ctx
// ends keeps its lease and cursor: another worker continues it when the
// lease runs out.
func (w *BacktestWorker) Run(ctx context.Context) error {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		ran, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.Error("backtest worker", "error", err)
		}
		if ran && err == nil {
			continue // there may be another job waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce claims one job and runs it to its end; false when there was
// none. A job lost to another worker (its lease ran out) is left to it.
func (w *BacktestWorker) RunOnce(ctx context.Context) (bool, error) {
	w.defaults()
	job, err := w.Store.ClaimBacktest(ctx, w.Name, w.Now(), w.Lease)
	if err != nil || job == nil {
		return false, err
	}
	w.Logger.Info("backtest claimed", "backtest", job.ID, "revision", job.Revision, "done", job.Done, "total", job.Total)
	err = w.run(ctx, job)
	if paywire.ErrorCode(err) == paywire.ECONFLICT {
		w.Logger.Warn("backtest taken over by another worker", "backtest", job.ID, "error", err)
		return true, nil
	}
	return true, err
}

// replayed is what one decision became under the candidate.
type replayed struct {
	from, to   string
	unreadable bool
}

func (w *BacktestWorker) run(ctx context.Context, job *paywire.Backtest) error {
	cand, err := w.candidate(ctx, job.Revision)
	if err != nil {
		w.Logger.Error("backtest failed", "backtest", job.ID, "error", err)
		done := job.Done
		job.State, job.Error = paywire.BacktestFailed, err.Error()
		return w.Store.AdvanceBacktest(ctx, job, w.Name, done, time.Time{})
	}
	t := newTally(job.Report)
	// The next batch is read while this one is replayed: the database's
	// time and the engine's overlap.
	next := w.fetch(ctx, *job)
	for {
		batch := <-next
		if batch.err != nil {
			return batch.err
		}
		ds := batch.ds
		done := job.Done
		if len(ds) == 0 {
			job.State = paywire.BacktestDone
			if err := w.Store.AdvanceBacktest(ctx, job, w.Name, done, time.Time{}); err != nil {
				return err
			}
			w.Logger.Info("backtest done", "backtest", job.ID, "decisions", job.Done)
			return nil
		}
		last := ds[len(ds)-1]
		after := *job
		after.CursorAt, after.CursorID = last.CreatedAt, last.ID
		next = w.fetch(ctx, after)
		res := w.replay(ctx, cand, ds)
		if err := ctx.Err(); err != nil {
			return err // not a result: the batch was cut short
		}
		var ids []string
		for i, d := range ds {
			if res[i].from != res[i].to && !res[i].unreadable && d.PaymentID != "" {
				ids = append(ids, d.PaymentID)
			}
		}
		states, err := w.Store.PaymentStates(ctx, ids)
		if err != nil {
			return err
		}
		for i, d := range ds {
			t.add(d, res[i], states)
		}
		job.Done += int64(len(ds))
		job.CursorAt, job.CursorID = last.CreatedAt, last.ID
		job.Report = t.report()
		if err := w.Store.AdvanceBacktest(ctx, job, w.Name, done, w.Now().Add(w.Lease)); err != nil {
			return err
		}
		if w.OnBatch != nil {
			w.OnBatch(job)
		}
	}
}

type batch struct {
	ds  []paywire.DecisionRecord
	err error
}

// fetch reads the batch after job's cursor in the background.
func (w *BacktestWorker) fetch(ctx context.Context, job paywire.Backtest) <-chan batch {
	c := make(chan batch, 1)
	go func() {
		ds, err := w.Store.BacktestDecisions(ctx, &job, w.Batch)
		c <- batch{ds, err}
	}()
	return c
}

// candidate compiles the job's revision after the checks a node makes.
func (w *BacktestWorker) candidate(ctx context.Context, rev int64) (*engine.Bundle, error) {
	b, err := w.Bundles.Bundle(ctx, rev)
	if err != nil {
		return nil, err
	}
	files, _, err := Files(b)
	if err != nil {
		return nil, err
	}
	if w.Engine != nil {
		return w.Engine.Candidate(ctx, files)
	}
	return engine.Compile(ctx, files)
}

// replay decides ds again with cand, Parallel at a time.
func (w *BacktestWorker) replay(ctx context.Context, cand *engine.Bundle, ds []paywire.DecisionRecord) []replayed {
	out := make([]replayed, len(ds))
	var wg sync.WaitGroup
	n := min(w.Parallel, len(ds))
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(ds); i += n {
				if ctx.Err() != nil {
					return
				}
				out[i] = replayOne(ctx, cand, ds[i])
			}
		}()
	}
	wg.Wait()
	return out
}

func replayOne(ctx context.Context, cand *engine.Bundle, d paywire.DecisionRecord) replayed {
	from, err := engine.Outcome(d.Point, []byte(d.Output))
	if err != nil {
		return replayed{unreadable: true}
	}
	got, err := engine.Replay(ctx, cand, d.Point, d.Input, true)
	if err != nil {
		return replayed{unreadable: true}
	}
	to, err := engine.Outcome(d.Point, got)
	if err != nil {
		return replayed{unreadable: true}
	}
	return replayed{from: from, to: to}
}

// tally accumulates a report; it continues from a stored partial one.
type tally struct {
	points  map[string]*paywire.BacktestPoint
	changes map[[3]string]*paywire.BacktestChange
}

func newTally(r paywire.BacktestReport) *tally {
	t := &tally{points: map[string]*paywire.BacktestPoint{}, changes: map[[3]string]*paywire.BacktestChange{}}
	for _, p := range r.Points {
		pp := p
		pp.Changes = nil
		for _, c := range p.Changes {
			cc := c
			t.changes[[3]string{p.Point, c.From, c.To}] = &cc
		}
		t.points[p.Point] = &pp
	}
	return t
}

// Outcome names for a changed decision whose payment has no state.
const (
	OutcomeNoPayment = "no payment"
	OutcomeUnknown   = "unknown"
)

func (t *tally) add(d paywire.DecisionRecord, r replayed, states map[string]paywire.State) {
	p := t.points[d.Point]
	if p == nil {
		p = &paywire.BacktestPoint{Point: d.Point}
		t.points[d.Point] = p
	}
	p.Decisions++
	if r.unreadable {
		p.Unreadable++
		return
	}
	if r.from == r.to {
		return
	}
	p.Changed++
	key := [3]string{d.Point, r.from, r.to}
	c := t.changes[key]
	if c == nil {
		c = &paywire.BacktestChange{From: r.from, To: r.to, Outcomes: map[string]int64{}}
		t.changes[key] = c
	}
	c.Count++
	outcome := OutcomeNoPayment
	if d.PaymentID != "" {
		outcome = OutcomeUnknown
		if s, ok := states[d.PaymentID]; ok {
			outcome = string(s)
		}
	}
	if c.Outcomes == nil {
		c.Outcomes = map[string]int64{}
	}
	c.Outcomes[outcome]++
	if len(c.Sample) < backtestSample {
		c.Sample = append(c.Sample, paywire.BacktestSample{DecisionID: d.ID, MerchantID: d.MerchantID, PaymentID: d.PaymentID, At: d.CreatedAt})
	}
}

// report returns the tally as a report: the points in the engine's order,
// then any other; each point's changes most frequent first.
func (t *tally) report() paywire.BacktestReport {
	r := paywire.BacktestReport{Points: []paywire.BacktestPoint{}}
	for _, p := range t.points {
		pp := *p
		pp.Changes = []paywire.BacktestChange{}
		for k, c := range t.changes {
			if k[0] == p.Point {
				pp.Changes = append(pp.Changes, *c)
			}
		}
		slices.SortFunc(pp.Changes, func(a, b paywire.BacktestChange) int {
			if a.Count != b.Count {
				return int(b.Count - a.Count)
			}
			if c := strings.Compare(a.From, b.From); c != 0 {
				return c
			}
			return strings.Compare(a.To, b.To)
		})
		r.Points = append(r.Points, pp)
	}
	order := func(p string) int {
		if i := slices.Index(engine.Points, p); i >= 0 {
			return i
		}
		return len(engine.Points)
	}
	slices.SortFunc(r.Points, func(a, b paywire.BacktestPoint) int {
		if c := order(a.Point) - order(b.Point); c != 0 {
			return c
		}
		return strings.Compare(a.Point, b.Point)
	})
	return r
}
