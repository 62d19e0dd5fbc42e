package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// An experiment's tallies equal a count by hand over a generated history:
// payments in each arm by state, refunds and chargebacks, and the
// latencies of the attempts that got an answer.
func TestExperimentTallies(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 5))
		history := adminHistory(t, db, rng, 260)

		// Attempts of some routed payments, each with a known latency;
		// only answered authorizations and payouts count.
		latency := map[string][]int64{} // "experiment/arm" -> ms
		for i, ap := range history {
			if i%3 == 0 {
				continue
			}
			status := []paywire.AttemptStatus{paywire.AttemptApproved, paywire.AttemptDeclined, paywire.AttemptPending, paywire.AttemptUnknown}[i%4]
			op := []paywire.Operation{paywire.OpAuthorize, paywire.OpPay, paywire.OpCapture}[i%3]
			ms := int64(10 + rng.IntN(900))
			start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
			db.Now = func() time.Time { return start }
			a := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: ap.ID, MerchantID: ap.MerchantID, N: 1, Operation: op,
				Provider: "acquirer-a", Amount: ap.Amount.Amount, IdempotencyKey: fmt.Sprint(ap.ID, "-1"), Status: paywire.AttemptStarted}
			if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
				t.Fatal(err)
			}
			db.Now = func() time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
			a.Status = status
			if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
				t.Fatal(err)
			}
			if (status == paywire.AttemptApproved || status == paywire.AttemptDeclined) && op != paywire.OpCapture && ap.experiment != "" {
				latency[ap.experiment+"/"+ap.arm] = append(latency[ap.experiment+"/"+ap.arm], ms)
			}
		}
		db.Now = time.Now

		day := func(d int) time.Time { return adminAt.Add(time.Duration(d) * 24 * time.Hour) }
		for _, r := range []paywire.ExperimentRequest{
			{Experiment: "exp-a", From: day(0), To: day(10), Latencies: true},
			{Experiment: "exp-b", From: day(0), To: day(10), Latencies: true},
			{Experiment: "exp-b", From: day(0), To: day(10)}, // no latencies asked, none read
			{Experiment: "exp-a", From: day(2), To: day(5), MerchantID: "m1"},
			{Experiment: "exp-a", From: day(20), To: day(21)},
			{Experiment: "nothing", From: day(0), To: day(10)},
		} {
			got, err := db.ExperimentTallies(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]*paywire.ArmTally{}
			for _, ap := range history {
				p := ap.Payment
				if ap.experiment != r.Experiment || p.CreatedAt.Before(r.From) || !p.CreatedAt.Before(r.To) ||
					(r.MerchantID != "" && p.MerchantID != r.MerchantID) {
					continue
				}
				w := want[ap.arm]
				if w == nil {
					w = &paywire.ArmTally{Arm: ap.arm}
					want[ap.arm] = w
				}
				w.Routed++
				switch {
				case p.State == paywire.StateCreated || p.State == paywire.StatePending || p.State == paywire.StateReview:
					w.InFlight++
				case slices.Contains(paywire.PaidStates, p.State):
					w.Decided++
					w.Approved++
					if p.Refunded > 0 {
						w.Refunded++
					}
					if p.ChargedBack > 0 {
						w.ChargedBack++
					}
				default:
					w.Decided++
				}
			}
			wantList := []paywire.ArmTally{}
			for _, arm := range []string{"control", "treatment"} {
				if w := want[arm]; w != nil {
					if r.Latencies {
						w.Latencies = slices.Sorted(slices.Values(latency[r.Experiment+"/"+arm]))
					}
					wantList = append(wantList, *w)
				}
			}
			if !r.Latencies {
				for i := range got {
					if got[i].Latencies != nil {
						t.Errorf("%+v: latencies read though not asked for", r)
					}
				}
			}
			if len(got) == 0 {
				got = []paywire.ArmTally{}
			}
			if !reflect.DeepEqual(got, wantList) {
				t.Errorf("%+v:\n got %+v\nwant %+v", r, got, wantList)
			}
		}
		for _, r := range []paywire.ExperimentRequest{
			{From: day(0), To: day(1)},
			{Experiment: "exp-a", To: day(1)},
			{Experiment: "exp-a", From: day(1), To: day(1)},
			{Experiment: "exp-a", From: day(0), To: day(400)},
		} {
			if _, err := db.ExperimentTallies(ctx, r); paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%+v: %v, want %s", r, err, paywire.EINVALID)
			}
		}
	})
}
