package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestStoreRecorder records decisions in the real store, on every
// database, and reads them back as the back office will.
func TestStoreRecorder(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		e := defaultEngine(t)
		e.Recorder = engine.StoreRecorder{Store: db}
		ctx := context.Background()
		d, err := e.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{
			PaymentID: "pay_rec", MerchantID: "demo", Kind: "deposit", Method: "card",
			Amount: engine.Money{Minor: 1999, Currency: "EUR", Exponent: 2},
			Card:   engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", Country: "DE"},
			Time:   time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		}})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := db.Decisions(ctx, "demo", "pay_rec")
		if err != nil || len(recs) != 1 {
			t.Fatalf("records %v, %v", recs, err)
		}
		r := recs[0]
		if r.ID != d.DecisionID || r.Point != "risk" || r.BundleRevision != d.BundleRevision || r.BundleHash != d.BundleHash {
			t.Errorf("record %+v does not match decision %+v", r, d.Meta)
		}
		var out engine.RiskDecision
		if err := json.Unmarshal(r.Output, &out); err != nil || out.Action != d.Action || out.Score != d.Score {
			t.Errorf("recorded output %s (%v)", r.Output, err)
		}
		// The output does not repeat what the record's columns hold; the
		// decision as the engine answers it does.
		var keys map[string]any
		if err := json.Unmarshal(r.Output, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"decision_id", "bundle_revision", "bundle_hash", "rules_fired", "duration_ns"} {
			if _, ok := keys[k]; ok {
				t.Errorf("the recorded output repeats %s: %s", k, r.Output)
			}
		}
		var fired []engine.RuleHit
		if err := json.Unmarshal(r.RulesFired, &fired); err != nil || len(fired) != len(d.RulesFired) || len(fired) == 0 {
			t.Errorf("rules fired %s (%v), the decision's %v", r.RulesFired, err, d.RulesFired)
		}
		answer, _ := json.Marshal(d)
		for _, k := range []string{`"decision_id":`, `"bundle_revision":`, `"bundle_hash":`, `"rules_fired":[`, `"duration_ns":`} {
			if !strings.Contains(string(answer), k) {
				t.Errorf("the decision %s lacks %s", answer, k)
			}
		}
		// PostgreSQL's jsonb reformats the text, so read it as JSON.
		var in engine.RiskInput
		if err := json.Unmarshal(r.Input, &in); err != nil || in.Request.Card.BIN != "411111" || in.Request.Card.Last4 != "1111" {
			t.Errorf("recorded input %s (%v)", r.Input, err)
		}
	})
}

// TestRecordKeepsFailedClosed: a decision that failed closed says so in
// its record's output, with why, for the back office and replays to read.
func TestRecordKeepsFailedClosed(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		e := engine.New(1)
		e.Recorder = engine.StoreRecorder{Store: db}
		ctx := context.Background()
		// No bundle is active: every decision fails closed.
		d, err := e.Workflow(ctx, engine.WorkflowInput{MerchantID: "demo", PaymentID: "pay_fc"})
		if err != nil || !d.FailedClosed {
			t.Fatalf("decision %+v (%v), want it failed closed", d, err)
		}
		recs, err := db.Decisions(ctx, "demo", "pay_fc")
		if err != nil || len(recs) != 1 {
			t.Fatalf("records %v, %v", recs, err)
		}
		var out struct {
			FailedClosed bool   `json:"failed_closed"`
			Error        string `json:"error"`
		}
		if err := json.Unmarshal(recs[0].Output, &out); err != nil || !out.FailedClosed || out.Error == "" {
			t.Errorf("recorded output %s (%v), want failed_closed with its error", recs[0].Output, err)
		}
		if o, err := engine.Outcome(engine.PointWorkflow, recs[0].Output); err != nil || !strings.Contains(o, "failed") {
			t.Errorf("outcome of the record: %q (%v)", o, err)
		}
	})
}
