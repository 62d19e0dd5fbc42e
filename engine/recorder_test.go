package engine_test

import (
	"context"
	"encoding/json"
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
		// PostgreSQL's jsonb reformats the text, so read it as JSON.
		var in engine.RiskInput
		if err := json.Unmarshal(r.Input, &in); err != nil || in.Request.Card.BIN != "411111" || in.Request.Card.Last4 != "1111" {
			t.Errorf("recorded input %s (%v)", r.Input, err)
		}
	})
}
