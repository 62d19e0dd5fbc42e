package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestDecisionWriter: concurrent calls each return once their records are
// stored, all of them; a bad record fails its own call alone.
func TestDecisionWriter(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		w := store.NewDecisionWriter(db)
		ctx := context.Background()
		record := func(payment string, i int) paywire.DecisionRecord {
			return paywire.DecisionRecord{Point: "availability", MerchantID: "m-w", PaymentID: payment,
				Input: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Output: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`)}
		}
		const calls, each = 40, 3
		var wg sync.WaitGroup
		errs := make(chan error, calls+1)
		for c := range calls {
			wg.Go(func() {
				ds := make([]paywire.DecisionRecord, each)
				for i := range ds {
					ds[i] = record(fmt.Sprintf("pay_%d", c), i)
				}
				if err := w.SaveDecisions(ctx, ds); err != nil {
					errs <- err
					return
				}
				// Returned: stored.
				got, err := db.Decisions(ctx, "m-w", fmt.Sprintf("pay_%d", c))
				if err != nil || len(got) != each {
					errs <- fmt.Errorf("call %d: %d records stored when it returned (%v)", c, len(got), err)
				}
			})
		}
		wg.Go(func() {
			bad := record("pay_bad", 0)
			bad.Output = json.RawMessage(`{not json`)
			if err := w.SaveDecisions(ctx, []paywire.DecisionRecord{record("pay_bad", 1), bad}); paywire.ErrorCode(err) != paywire.EINVALID {
				errs <- fmt.Errorf("a bad record: %v", err)
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got, _ := db.Decisions(ctx, "m-w", "pay_bad"); len(got) != 0 {
			t.Errorf("the refused call stored %d records", len(got))
		}
	})
}
