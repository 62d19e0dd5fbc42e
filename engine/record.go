package engine

import (
	"context"
	"encoding/json"

	"github.com/paywire/paywire"
)

// Record is one decision as the engine hands it to a Recorder. Input and
// Output are the typed request and decision; they never hold a card number.
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

// StoreRecorder records decisions in a paywire.DecisionStore, as JSON.
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
	return s.Store.SaveDecision(ctx, &paywire.DecisionRecord{
		ID: r.Meta.DecisionID, Point: r.Point, MerchantID: r.MerchantID, PaymentID: r.PaymentID,
		BundleRevision: r.Meta.BundleRevision, BundleHash: r.Meta.BundleHash,
		Input: in, Output: out, RulesFired: fired, Duration: r.Meta.Duration,
	})
}
