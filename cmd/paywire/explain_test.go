package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// cliPayment is a migrated SQLite database in a file, for the CLI to open,
// with merchant shop, its payment of reference ref, and the engine serve
// would build on it (recording its decisions there).
func cliPayment(t *testing.T, ref string) (string, *store.DB, *paywire.Payment, *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "p.db")
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.SeedMerchant(t, db, "shop")
	p := storetest.SeedPayment(t, db, "shop", ref)
	e, err := newEngine(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, db, p, e
}

// TestPolicyEvalPayment: policy eval --payment explains a stored payment's
// recorded risk decision (each rule's score and what it read, the features
// known) and decides it again on the same input with the bundle.
func TestPolicyEvalPayment(t *testing.T) {
	ctx := context.Background()
	dsn, db, p, e := cliPayment(t, "explain-1")
	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 4999, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		Features: engine.Features{CardCount1h: engine.Known(1), CardAgeDays: engine.Known(40)}}
	if _, err := e.Risk(ctx, in); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var out, errOut strings.Builder
	env := func(string) string { return "" }
	if code := run(ctx, []string{"policy", "eval", "--payment", p.ID, "--merchant", "shop", "--db", dsn}, &out, &errOut, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Recorded engine.RiskExplanation
		Now      engine.RiskDecision
	}
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	r := got.Recorded
	if r.Score != 15 || len(r.Rules) != 1 || r.Rules[0].ID != "watched_bin" || r.Rules[0].Score != 15 || r.Features["card_age_days"] != 40 || len(r.Features) != 2 {
		t.Errorf("recorded %+v", r)
	}
	if got.Now.Score != r.Score || got.Now.Action != "allow" {
		t.Errorf("decided again: %+v", got.Now)
	}
	if code := run(ctx, []string{"policy", "eval", "--payment", "pay_none", "--merchant", "shop", "--db", dsn}, &out, &errOut, env); code != 1 {
		t.Errorf("a payment without a risk decision: exit %d", code)
	}
}
