package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// adminAt is the start of the generated back-office history: payments are
// created over the 10 days after it.
var adminAt = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// adminPayment is a generated payment with the routing arm its latest
// routing decision gave it.
type adminPayment struct {
	*paywire.Payment
	experiment, arm string
}

// adminHistory stores n payments of three merchants through the store's
// write path: creation times drawn from a small pool (so that many share
// one, to the microsecond, and some fall on a UTC midnight), every state,
// methods, providers, currencies, e-mail addresses in mixed case, card
// last 4, and routing decisions (some payments routed twice, some never;
// risk decisions with an "arm" field that must be ignored).
func adminHistory(t *testing.T, db *store.DB, rng *rand.Rand, n int) []adminPayment {
	t.Helper()
	ctx := context.Background()
	for _, m := range []string{"m1", "m2", "m3"} {
		storetest.SeedMerchant(t, db, m)
	}
	// Decisions are stamped by the store's clock: one that moves, so that
	// the latest routing decision of a payment is well defined.
	clock := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	pick := func(pool ...string) string { return pool[rng.IntN(len(pool))] }
	var times []time.Time
	for i := range 40 {
		switch {
		case i%10 == 0:
			times = append(times, adminAt.Add(time.Duration(i/10)*24*time.Hour)) // midnight
		case i%10 == 1:
			times = append(times, adminAt.Add(time.Duration(i/10+1)*24*time.Hour-time.Microsecond)) // just before
		default:
			times = append(times, adminAt.Add(time.Duration(rng.Int64N(int64(10*24*time.Hour/time.Microsecond)))*time.Microsecond))
		}
	}
	states := append(slices.Clone(paywire.States), paywire.StateCompleted, paywire.StateRefused)
	var out []adminPayment
	refs := map[string]int{}
	for range n {
		amt, err := paywire.NewMoney(1+rng.Int64N(5000), pick("EUR", "EUR", "USD", "GBP"))
		if err != nil {
			t.Fatal(err)
		}
		merchant := pick("m1", "m1", "m2", "m3")
		refs[merchant]++ // each merchant has an order-7: references repeat across merchants
		p := &paywire.Payment{
			MerchantID: merchant, MerchantReference: fmt.Sprint("order-", refs[merchant]), Kind: paywire.KindDeposit, Amount: amt,
			Method:   paywire.Method(pick("", "card", "card", "bank_redirect", "ewallet")),
			Provider: pick("", "sandbox", "acme"),
			Card:     paywire.CardSummary{Last4: pick("", "4242", "4242", "1111", "0005")},
			EndUser:  paywire.EndUser{Email: pick("", "ann@example.com", "Ann@Example.COM ", "bob@example.com", "cy@example.com")},
		}
		if !p.Method.Valid() {
			p.Method = ""
		}
		c := paywire.Creation(p, paywire.ActorMerchant, times[rng.IntN(len(times))])
		if err := db.CreatePayment(ctx, c); err != nil {
			t.Fatal(err)
		}
		moves := map[paywire.State][]paywire.Move{
			paywire.StatePending:           {{To: paywire.StatePending}},
			paywire.StateReview:            {{To: paywire.StateReview}},
			paywire.StateAuthorized:        {{To: paywire.StateAuthorized}},
			paywire.StateCompleted:         {{To: paywire.StateCompleted, Capture: amt.Amount}},
			paywire.StatePartiallyRefunded: {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StatePartiallyRefunded, Refund: 1}},
			paywire.StateRefunded:          {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StateRefunded, Refund: amt.Amount}},
			paywire.StateChargedBack:       {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StateChargedBack, Chargeback: amt.Amount}},
			paywire.StateRefused:           {{To: paywire.StateRefused}},
			paywire.StateCancelled:         {{To: paywire.StateCancelled}},
			paywire.StateFailed:            {{To: paywire.StateFailed}},
			paywire.StateExpired:           {{To: paywire.StateExpired}},
		}
		for _, m := range moves[states[rng.IntN(len(states))]] {
			if m.To == paywire.StatePartiallyRefunded && amt.Amount < 2 {
				m.To = paywire.StateRefunded
			}
			p = storetest.Move(t, db, p, m)
		}
		ap := adminPayment{Payment: p}
		for range rng.IntN(3) { // routed 0, 1 or 2 times; the last one counts
			ap.experiment = pick("", "exp-a", "exp-b")
			ap.arm = ""
			if ap.experiment != "" {
				ap.arm = pick("control", "treatment")
			}
			out, _ := json.Marshal(map[string]any{"providers": []string{"sandbox"}, "experiment": ap.experiment, "arm": ap.arm})
			saveDecision(t, db, paywire.DecisionRecord{Point: "routing", MerchantID: p.MerchantID, PaymentID: p.ID, Output: out})
		}
		if rng.IntN(3) == 0 {
			saveDecision(t, db, paywire.DecisionRecord{Point: "risk", MerchantID: p.MerchantID, PaymentID: p.ID,
				Output: json.RawMessage(`{"score":10,"action":"allow","experiment":"risk-exp","arm":"risk-arm"}`)})
		}
		out = append(out, ap)
	}
	return out
}

func saveDecision(t *testing.T, db *store.DB, d paywire.DecisionRecord) {
	t.Helper()
	d.Input, d.RulesFired = json.RawMessage(`{}`), json.RawMessage(`[]`)
	if err := db.SaveDecision(context.Background(), &d); err != nil {
		t.Fatal(err)
	}
}

// wantSearch returns the payments of the history that match f, as the
// contract of SearchPayments says, newest first.
func wantSearch(history []adminPayment, f paywire.PaymentFilter) []string {
	var out []*paywire.Payment
	text := strings.TrimSpace(f.Search)
	for _, ap := range history {
		p := ap.Payment
		switch {
		case f.MerchantID != "" && p.MerchantID != f.MerchantID,
			len(f.States) > 0 && !slices.Contains(f.States, p.State),
			f.Method != "" && p.Method != f.Method,
			f.Provider != "" && p.Provider != f.Provider,
			!f.CreatedFrom.IsZero() && p.CreatedAt.Before(f.CreatedFrom),
			!f.CreatedTo.IsZero() && !p.CreatedAt.Before(f.CreatedTo),
			f.Currency != "" && p.Amount.Currency.Code != f.Currency,
			f.AmountMin > 0 && p.Amount.Amount < f.AmountMin,
			f.AmountMax > 0 && p.Amount.Amount > f.AmountMax:
			continue
		}
		if text != "" {
			email := p.EndUser.Email != "" && strings.Contains(text, "@") && strings.EqualFold(strings.TrimSpace(p.EndUser.Email), text)
			last4 := len(text) == 4 && p.Card.Last4 == text
			if p.ID != text && p.MerchantReference != text && !email && !last4 {
				continue
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *paywire.Payment) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	ids := make([]string, len(out))
	for i, p := range out {
		ids[i] = p.ID
	}
	return ids
}

// walk reads every page of a search with the given page size and returns
// the ids in the order listed.
func walk(t *testing.T, db *store.DB, f paywire.PaymentFilter, limit int) []string {
	t.Helper()
	var ids []string
	var cursor paywire.PageCursor
	for page := 0; ; page++ {
		ps, next, err := db.SearchPayments(context.Background(), f, cursor, limit)
		if err != nil {
			t.Fatalf("page %d of %+v: %v", page, f, err)
		}
		if len(ps) > limit || (next != "" && len(ps) != limit) {
			t.Fatalf("page %d of %+v: %d payments with limit %d (next %q)", page, f, len(ps), limit, next)
		}
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if next == "" {
			return ids
		}
		if page > 1000 {
			t.Fatalf("%+v: no end after 1000 pages", f)
		}
		cursor = next
	}
}

func TestSearchPayments(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		rng := rand.New(rand.NewPCG(3, 5))
		history := adminHistory(t, db, rng, 260)
		var someID string
		tied := map[time.Time]int{}
		for _, ap := range history {
			tied[ap.CreatedAt]++
			if ap.MerchantID == "m2" && someID == "" {
				someID = ap.ID
			}
		}
		if len(tied) >= len(history)/2 {
			t.Fatalf("the history has %d distinct creation times for %d payments: too few ties", len(tied), len(history))
		}
		day := func(d int) time.Time { return adminAt.Add(time.Duration(d) * 24 * time.Hour) }
		filters := []paywire.PaymentFilter{
			{},
			{MerchantID: "m1"},
			{MerchantID: "m2"},
			{MerchantID: "nobody"},
			{States: []paywire.State{paywire.StateCompleted}},
			{MerchantID: "m1", States: []paywire.State{paywire.StateRefused}},
			{MerchantID: "m1", States: []paywire.State{paywire.StateCompleted, paywire.StateAuthorized, paywire.StateRefunded}},
			{Method: paywire.MethodCard},
			{Provider: "acme"},
			{MerchantID: "m3", Provider: "sandbox", Method: paywire.MethodCard},
			{CreatedFrom: day(2), CreatedTo: day(5)},
			{CreatedFrom: day(9)},
			{CreatedTo: day(1)},
			{MerchantID: "m1", CreatedFrom: day(1), CreatedTo: day(1).Add(time.Microsecond)},
			{Currency: "USD"},
			{Currency: "EUR", AmountMin: 1000, AmountMax: 3000},
			{Currency: "GBP", AmountMin: 4000},
			{Currency: "EUR", AmountMax: 100},
			{Search: someID},
			{Search: "  " + someID + " "},
			{MerchantID: "m1", Search: someID}, // another merchant's payment: none
			{Search: "order-7"},
			{MerchantID: "m2", Search: "order-7"},
			{Search: "ANN@example.com"},
			{Search: "ann@example.com", MerchantID: "m3", States: []paywire.State{paywire.StateCompleted, paywire.StateRefused}},
			{Search: "bob@EXAMPLE.com"},
			{Search: "4242"},
			{Search: "4242", MerchantID: "m2", CreatedFrom: day(3)},
			{Search: "0005"},
			{Search: "424"},
			{Search: "nothing@example.com"},
		}
		for _, f := range filters {
			want := wantSearch(history, f)
			for _, limit := range []int{7, 200} {
				got := walk(t, db, f, limit)
				if !slices.Equal(got, want) {
					t.Errorf("%+v, %d a page: listed %d payments %v, want %d %v", f, limit, len(got), got, len(want), want)
				}
			}
		}
		// A filter that selects nothing must not be confused with a missing one.
		if n := len(wantSearch(history, paywire.PaymentFilter{Search: "4242", MerchantID: "m2", CreatedFrom: day(3)})); n == 0 {
			t.Errorf("the history has no m2 payment with card 4242 after day 3; the test is weaker than meant")
		}
		// Tenant scoping: a merchant's filter lists only its payments,
		// whatever else is asked.
		for _, f := range filters {
			if f.MerchantID == "" {
				continue
			}
			ps, _, err := db.SearchPayments(context.Background(), f, "", 200)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.MerchantID != f.MerchantID {
					t.Fatalf("%+v listed %s of merchant %s", f, p.ID, p.MerchantID)
				}
			}
		}
		// The whole list, one payment a page: every payment exactly once,
		// in order, through the ties.
		all := walk(t, db, paywire.PaymentFilter{}, 1)
		if len(all) != len(history) {
			t.Fatalf("walked %d payments one a page, want %d", len(all), len(history))
		}
		// Payments read back whole.
		ps, _, err := db.SearchPayments(context.Background(), paywire.PaymentFilter{Search: someID}, "", 10)
		if err != nil || len(ps) != 1 {
			t.Fatalf("search by id: %v, %v", ps, err)
		}
		if got, err := db.Payment(context.Background(), "m2", someID); err != nil || !reflect.DeepEqual(got, ps[0]) {
			t.Errorf("search returned %+v, Payment returns %+v (%v)", ps[0], got, err)
		}
	})
}

func TestSearchPaymentsRefusesBadInput(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.SeedMerchant(t, db, "m1")
		for i := range 5 {
			storetest.SeedPayment(t, db, "m1", fmt.Sprint("order-", i))
		}
		f := paywire.PaymentFilter{MerchantID: "m1"}
		_, next, err := db.SearchPayments(ctx, f, "", 2)
		if err != nil || next == "" {
			t.Fatalf("first page: next %q, %v", next, err)
		}
		if _, _, err := db.SearchPayments(ctx, f, next, 2); err != nil {
			t.Fatalf("the cursor returned is refused: %v", err)
		}
		flipped := []byte(next)
		flipped[len(flipped)/2] ^= 1
		cursors := map[string]paywire.PageCursor{
			"flipped":        paywire.PageCursor(flipped),
			"cut":            next[:len(next)-3],
			"extended":       next + "AA",
			"not base64":     "!!!!",
			"empty-ish":      "AA",
			"long":           paywire.PageCursor(strings.Repeat("A", 4096)),
			"other filter":   (&paywire.PaymentFilter{MerchantID: "m2"}).Cursor(time.Now(), "pay_x"),
			"other merchant": (&paywire.PaymentFilter{}).Cursor(time.Now(), "pay_x"),
		}
		for name, c := range cursors {
			_, _, err := db.SearchPayments(ctx, f, c, 2)
			if paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%s cursor: error %v, want %s", name, err, paywire.EINVALID)
			}
		}
		// The same cursor with another filter (a merchant's cursor reused
		// for all merchants) is refused.
		if _, _, err := db.SearchPayments(ctx, paywire.PaymentFilter{}, next, 2); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("a cursor of another filter: error %v, want %s", err, paywire.EINVALID)
		}
		bad := []struct {
			f     paywire.PaymentFilter
			limit int
		}{
			{f, 0}, {f, 201}, {f, -1},
			{paywire.PaymentFilter{States: []paywire.State{"paid"}}, 10},
			{paywire.PaymentFilter{Method: "cash"}, 10},
			{paywire.PaymentFilter{AmountMin: 10}, 10},
			{paywire.PaymentFilter{Currency: "EUR", AmountMin: 10, AmountMax: 5}, 10},
			{paywire.PaymentFilter{Currency: "EUR", AmountMin: -1}, 10},
			{paywire.PaymentFilter{Currency: "XYZ"}, 10},
			{paywire.PaymentFilter{CreatedFrom: adminAt, CreatedTo: adminAt}, 10},
			{paywire.PaymentFilter{Search: strings.Repeat("a", 300)}, 10},
		}
		for _, b := range bad {
			if _, _, err := db.SearchPayments(ctx, b.f, "", b.limit); paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%+v, limit %d: error %v, want %s", b.f, b.limit, err, paywire.EINVALID)
			}
		}
		if ps, _, err := db.SearchPayments(ctx, f, "", 200); err != nil || len(ps) != 5 {
			t.Errorf("limit 200: %d payments, %v", len(ps), err)
		}
	})
}

// wantReport computes the report of r from the history, one payment at a
// time, as the contract of PaymentReport says.
func wantReport(history []adminPayment, r paywire.ReportRequest) []paywire.ReportRow {
	type key struct{ group, experiment, arm, currency string }
	rows := map[key]*paywire.ReportRow{}
	for _, ap := range history {
		p := ap.Payment
		if p.CreatedAt.Before(r.From) || !p.CreatedAt.Before(r.To) || (r.MerchantID != "" && p.MerchantID != r.MerchantID) {
			continue
		}
		k := key{currency: p.Amount.Currency.Code}
		switch r.GroupBy {
		case paywire.GroupByDay:
			k.group = p.CreatedAt.UTC().Format("2006-01-02")
		case paywire.GroupByMethod:
			k.group = string(p.Method)
		case paywire.GroupByProvider:
			k.group = p.Provider
		case paywire.GroupByArm:
			k.experiment, k.arm = ap.experiment, ap.arm
			if ap.experiment != "" {
				k.group = ap.experiment + "/" + ap.arm
			}
		}
		row := rows[k]
		if row == nil {
			row = &paywire.ReportRow{Group: k.group, Experiment: k.experiment, Arm: k.arm, Currency: k.currency}
			rows[k] = row
		}
		row.Payments++
		row.Amount += p.Amount.Amount
		if p.State.Paid() {
			row.Approved++
			row.ApprovedAmount += p.Amount.Amount
		}
	}
	out := []paywire.ReportRow{}
	for _, row := range rows {
		row.ApprovalRate = row.Approved * 10000 / row.Payments
		row.AverageAmount = (row.Amount + row.Payments/2) / row.Payments
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b paywire.ReportRow) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Experiment, b.Experiment),
			cmp.Compare(a.Arm, b.Arm), cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

func TestPaymentReport(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(9, 4))
		history := adminHistory(t, db, rng, 260)
		day := func(d int) time.Time { return adminAt.Add(time.Duration(d) * 24 * time.Hour) }
		periods := [][2]time.Time{
			{day(0), day(10)},
			{day(2), day(5)},
			{day(1), day(3)},                       // ends on a midnight some payments were created at
			{day(1), day(1).Add(time.Microsecond)}, // a midnight alone
			{day(3).Add(-time.Microsecond), day(4)},
			{day(20), day(21)}, // nothing
		}
		groupings := []paywire.ReportGrouping{paywire.GroupByDay, paywire.GroupByMethod, paywire.GroupByProvider, paywire.GroupByArm}
		for _, p := range periods {
			for _, merchant := range []string{"", "m1", "m3", "nobody"} {
				for _, g := range groupings {
					r := paywire.ReportRequest{From: p[0], To: p[1], MerchantID: merchant, GroupBy: g}
					got, err := db.PaymentReport(ctx, r)
					if err != nil {
						t.Fatalf("%+v: %v", r, err)
					}
					want := wantReport(history, r)
					if len(got) == 0 {
						got = []paywire.ReportRow{}
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%+v:\n got %+v\nwant %+v", r, got, want)
					}
				}
			}
		}
		// The whole history by arm has every kind of row: routed in an
		// experiment, routed outside one, never routed.
		full, _ := db.PaymentReport(ctx, paywire.ReportRequest{From: day(0), To: day(10), GroupBy: paywire.GroupByArm})
		groups := map[string]bool{}
		var total int64
		for _, row := range full {
			groups[row.Group] = true
			total += row.Payments
			if row.Experiment == "risk-exp" {
				t.Errorf("a risk decision's fields were read as the routing arm: %+v", row)
			}
		}
		if !groups[""] || !groups["exp-a/control"] || !groups["exp-b/treatment"] || total != int64(len(history)) {
			t.Errorf("arm report of the history: groups %v, %d payments of %d", groups, total, len(history))
		}
		bad := []paywire.ReportRequest{
			{To: day(1), GroupBy: paywire.GroupByDay},
			{From: day(1), GroupBy: paywire.GroupByDay},
			{From: day(1), To: day(1), GroupBy: paywire.GroupByDay},
			{From: day(0), To: day(400), GroupBy: paywire.GroupByDay},
			{From: day(0), To: day(1)},
			{From: day(0), To: day(1), GroupBy: "merchant"},
		}
		for _, r := range bad {
			if _, err := db.PaymentReport(ctx, r); paywire.ErrorCode(err) != paywire.EINVALID {
				t.Errorf("%+v: error %v, want %s", r, err, paywire.EINVALID)
			}
		}
	})
}
