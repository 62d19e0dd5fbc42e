package engine

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/paywire/paywire"
)

// Record is one decision as the engine hands it to a Recorder. Input and
// Output are the typed request and decision; they never hold a card number.
// Output's Meta keeps only what Meta here does not say again (the lists'
// version, failed closed and why), so that a stored record does not hold
// its rules fired, bundle and id twice.
type Record struct {
	Point      string
	MerchantID string
	PaymentID  string
	Input      any
	Output     any
	Meta       Meta
}

// Recorder stores decision records.
type Recorder interface {
	Record(ctx context.Context, r *Record) error
}

func (e *Engine) record(ctx context.Context, point, merchantID, paymentID string, in, out any, m Meta) error {
	if e.Recorder == nil {
		return nil
	}
	return e.Recorder.Record(ctx, &Record{Point: point, MerchantID: merchantID, PaymentID: paymentID, Input: in, Output: out, Meta: m})
}

// StoreRecorder records decisions in a paywire.DecisionStore, as JSON: at
// once, or, when the context carries Pending (WithPending), with the change
// the request writes next.
type StoreRecorder struct {
	Store paywire.DecisionStore
}

// Record implements Recorder.
func (s StoreRecorder) Record(ctx context.Context, r *Record) error {
	in, err := json.Marshal(r.Input)
	if err != nil {
		return err
	}
	out, err := json.Marshal(r.Output)
	if err != nil {
		return err
	}
	fired, err := json.Marshal(r.Meta.RulesFired)
	if err != nil {
		return err
	}
	d := paywire.DecisionRecord{
		ID: r.Meta.DecisionID, Point: r.Point, MerchantID: r.MerchantID, PaymentID: r.PaymentID,
		BundleRevision: r.Meta.BundleRevision, BundleHash: r.Meta.BundleHash,
		Input: in, Output: out, RulesFired: fired, Duration: r.Meta.Duration,
	}
	if p, ok := ctx.Value(pendingKey{}).(*Pending); ok {
		// Decided now; stored with what it decides.
		d.CreatedAt = p.now()
		p.add(d)
		return nil
	}
	return s.Store.SaveDecision(ctx, &d)
}

// Pending holds the decision records of one request until the change
// they lead to is written with them (paywire.StateChange.Decisions), so
// that a request commits once: a decision is stored exactly when what it
// decided is. The records no change took are written by whoever made
// Pending, at the end of the request. Safe for concurrent use.
type Pending struct {
	now  func() time.Time // when a decision is recorded
	mu   sync.Mutex
	recs []paywire.DecisionRecord
}

type pendingKey struct{}

// WithPending returns a context whose StoreRecorder decisions wait in
// Pending instead of being stored at once, each stamped with now() as it
// is recorded, and the Pending. If ctx carries one already, that one is
// returned with fresh false: its maker writes what is left.
func WithPending(ctx context.Context, now func() time.Time) (_ context.Context, _ *Pending, fresh bool) {
	if p, ok := ctx.Value(pendingKey{}).(*Pending); ok {
		return ctx, p, false
	}
	p := &Pending{now: now}
	return context.WithValue(ctx, pendingKey{}, p), p, true
}

// PendingFrom returns the Pending ctx carries, or nil.
func PendingFrom(ctx context.Context) *Pending {
	p, _ := ctx.Value(pendingKey{}).(*Pending)
	return p
}

func (p *Pending) add(d paywire.DecisionRecord) {
	p.mu.Lock()
	p.recs = append(p.recs, d)
	p.mu.Unlock()
}

// Take removes and returns the records waiting, oldest first. A nil
// Pending has none.
func (p *Pending) Take() []paywire.DecisionRecord {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	recs := p.recs
	p.recs = nil
	return recs
}

// Restore puts back records Take returned whose change was not written,
// before any recorded since.
func (p *Pending) Restore(recs []paywire.DecisionRecord) {
	if p == nil || len(recs) == 0 {
		return
	}
	p.mu.Lock()
	p.recs = append(recs[:len(recs):len(recs)], p.recs...)
	p.mu.Unlock()
}
