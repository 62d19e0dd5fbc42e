package bundles_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// Promoting arm b of the default bundle's acquirer-split makes a draft in
// which every EUR card deposit goes by b's route, outside any experiment;
// the experiment's definition is gone, the routing cases the experiment
// decided expect b's route, the draft's tests pass (it can be submitted),
// and the comments of the edited files are kept.
func TestPromoteArm(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		base := defaultFiles(t)
		draft, err := s.Promote(ctx, base, "acquirer-split", "b", "bob")
		if err != nil {
			t.Fatal(err)
		}
		if draft.State != paywire.BundleDraft || draft.Author != "bob" || !strings.Contains(draft.Message, "Promote arm b of experiment acquirer-split") {
			t.Fatalf("draft %+v", draft)
		}
		stored, files, err := s.Revision(ctx, draft.Revision)
		if err != nil {
			t.Fatal(err)
		}
		_ = stored
		rules := string(files["rules/routing/data.yaml"])
		if strings.Contains(rules, "experiment: acquirer-split") || !strings.Contains(rules, "effect: {providers: [acquirer-b, acquirer-a]}") ||
			!strings.Contains(rules, "arm b of experiment acquirer-split, promoted") || !strings.Contains(rules, "# Routing expr rules, FIRST MATCH") {
			t.Errorf("routing rules:\n%s", rules)
		}
		if x := string(files["paywire/experiments/data.yaml"]); strings.Contains(x, "name: acquirer-split") || !strings.Contains(x, "experiments: []") {
			t.Errorf("experiments:\n%s", x)
		}
		b, err := engine.Compile(ctx, files)
		if err != nil {
			t.Fatal(err)
		}
		for _, customer := range []string{"cust-1", "cust-2", ""} { // arm a, arm b, no id
			out, err := engine.Replay(ctx, b, engine.PointRouting, []byte(`{"request": {"merchant_id": "m", "kind": "deposit", "method": "card",
				"amount": {"minor": 500, "currency": "EUR", "exponent": 2}, "customer": {"id": "`+customer+`"}, "risk_action": "allow",
				"time": "`+time.Now().UTC().Format(time.RFC3339)+`"}, "features": {}}`), false)
			d := out.(engine.RouteDecision)
			if err != nil || strings.Join(d.Providers, ",") != "acquirer-b,acquirer-a" || d.Experiment != "" || d.Arm != "" {
				t.Errorf("customer %q: %+v, %v", customer, d, err)
			}
		}
		if err := s.Submit(ctx, draft.Revision, "bob"); err != nil {
			t.Errorf("the promoted draft's tests: %v", err)
		}

		// Refused: a viewer, an unknown experiment or arm, a bundle without one.
		if _, err := s.Promote(ctx, base, "acquirer-split", "b", "vic"); paywire.ErrorCode(err) != paywire.EFORBIDDEN {
			t.Errorf("a viewer promoted: %v", err)
		}
		if _, err := s.Promote(ctx, base, "acquirer-split", "c", "bob"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("arm c: %v", err)
		}
		if _, err := s.Promote(ctx, files, "acquirer-split", "b", "bob"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("a bundle without the experiment: %v", err)
		}
	})
}

var _ = bundles.Stamp
