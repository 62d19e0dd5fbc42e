package store_test

import (
	"context"
	"fmt"
	"math"
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

// featuresAt is the decision time of the feature tests: not on a whole
// second, so that the stored text of times keeps a fraction.
var featuresAt = time.Date(2026, 3, 10, 12, 0, 0, 250_000_000, time.UTC)

// featureEdges are the offsets from featuresAt of the first payments of a
// feature history: on the windows' edges and just inside them.
var featureEdges = []time.Duration{0, time.Microsecond, -time.Microsecond,
	-time.Hour, -time.Hour + time.Microsecond, -24 * time.Hour, -24*time.Hour + time.Microsecond,
	-7 * 24 * time.Hour, -7*24*time.Hour + time.Microsecond,
	// On a whole second, whose stored text has no fraction.
	-250 * time.Millisecond, -time.Hour - 250*time.Millisecond}

// featureHistory stores a random payment history of two merchants around
// featuresAt through the store's write path: keys drawn from small pools
// (some empty), every state, risk actions and currencies mixed, and
// payments placed exactly on the windows' edges. After the n random ones
// come hot ones: a burst on the hot keys (hotCard, ...), more than
// paywire.FeatureCap, so dense in the hour before featuresAt that seen
// from then every window of theirs is capped, and seen from earlier or
// later only the longer ones, or none.
func featureHistory(t *testing.T, db *store.DB, rng *rand.Rand, n, hot int) []*paywire.Payment {
	t.Helper()
	ctx := context.Background()
	storetest.SeedMerchant(t, db, "m1")
	storetest.SeedMerchant(t, db, "m2")
	pick := func(pool ...string) string { return pool[rng.IntN(len(pool))] }
	between := func(from, to time.Duration) time.Time {
		return featuresAt.Add(from + time.Duration(rng.Int64N(int64((to-from)/time.Microsecond)))*time.Microsecond)
	}
	var out []*paywire.Payment
	for i := range n + hot {
		var created time.Time
		switch {
		case i < len(featureEdges):
			created = featuresAt.Add(featureEdges[i])
		case i >= n && (i-n)%2 == 0:
			// Half of the burst in 40 minutes of the hour before At.
			created = between(-50*time.Minute, -10*time.Minute)
		case i >= n && (i-n)%4 == 1:
			created = between(-30*time.Hour, 0)
		default:
			// 8 days before At to 2 days after, to the microsecond.
			created = between(-8*24*time.Hour, 2*24*time.Hour)
		}
		amt, err := paywire.NewMoney(2+rng.Int64N(10000), pick("EUR", "EUR", "USD", "GBP"))
		if err != nil {
			t.Fatal(err)
		}
		p := &paywire.Payment{
			MerchantID: pick("m1", "m2"), MerchantReference: fmt.Sprint("order-", i), Amount: amt,
			Kind:   paywire.Kind(pick(string(paywire.KindDeposit), string(paywire.KindDeposit), string(paywire.KindDeposit), string(paywire.KindWithdrawal))),
			Method: paywire.Method(pick("", "card", "card", "bank_redirect", "ewallet")),
			Card:   paywire.CardSummary{Fingerprint: pick("", "card-a", "card-b", "card-c", "card-d", "card-e")},
			EndUser: paywire.EndUser{
				ID:       pick("", "cust-1", "cust-2", "cust-3"),
				Email:    pick("", "ann@example.com", "Ann@Example.com ", "bob@example.com", "BOB@example.com", "cy@example.com"),
				IP:       pick("", "192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.7"),
				DeviceID: pick("", "dev-1", "dev-2", "dev-3"),
			},
			RiskAction: paywire.RiskAction(pick("", "allow", "challenge", "review", "block", "block")),
		}
		if i >= n {
			p.MerchantID, p.Card.Fingerprint, p.EndUser = "m1", hotCard, paywire.EndUser{ID: hotCustomer, Email: hotEmail, IP: hotIP, DeviceID: hotDevice}
		}
		c := paywire.Creation(p, paywire.ActorMerchant, created)
		if err := db.CreatePayment(ctx, c); err != nil {
			t.Fatal(err)
		}
		// Moves happen after creation; their time does not matter.
		moves := map[paywire.State][]paywire.Move{
			paywire.StateCreated:           nil,
			paywire.StatePending:           {{To: paywire.StatePending}},
			paywire.StateReview:            {{To: paywire.StateReview}},
			paywire.StateAuthorized:        {{To: paywire.StateAuthorized}},
			paywire.StateCompleted:         {{To: paywire.StateCompleted, Capture: amt.Amount}},
			paywire.StatePartiallyRefunded: {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StatePartiallyRefunded, Refund: amt.Amount / 2}},
			paywire.StateRefunded:          {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StateRefunded, Refund: amt.Amount}},
			paywire.StateChargedBack:       {{To: paywire.StateCompleted, Capture: amt.Amount}, {To: paywire.StateChargedBack, Chargeback: amt.Amount}},
			paywire.StateRefused:           {{To: paywire.StateRefused}},
			paywire.StateCancelled:         {{To: paywire.StateCancelled}},
			paywire.StateFailed:            {{To: paywire.StateFailed}},
			paywire.StateExpired:           {{To: paywire.StateExpired}},
		}
		// Refused and failed are drawn more often: declines are counted
		// apart from risk blocks, which need both.
		states := append(slices.Clone(paywire.States), paywire.StateRefused, paywire.StateFailed, paywire.StateCompleted)
		for _, m := range moves[states[rng.IntN(len(states))]] {
			p = storetest.Move(t, db, p, m)
		}
		out = append(out, p)
	}
	return out
}

// The keys of the burst of featureHistory.
const (
	hotCard     = "card-hot"
	hotEmail    = "hot@example.com"
	hotIP       = "203.0.113.66"
	hotDevice   = "dev-hot"
	hotCustomer = "cust-hot"
)

// wantFeatures computes the features of q from the history as the
// contract of paywire.FeatureStore says, one payment at a time, reading
// at most limit payments of each key, newest first (paywire.FeatureCap;
// with no limit, the exact counts).
func wantFeatures(history []*paywire.Payment, q paywire.FeatureQuery, limit int) paywire.Features {
	var f paywire.Features
	// whole: the key's read range is its whole history (the customer's),
	// not 7 days.
	key := func(known, whole bool, match func(p *paywire.Payment) bool) (paywire.KeyFeatures, []*paywire.Payment) {
		var k paywire.KeyFeatures
		if !known {
			return k, nil
		}
		k.Known = true
		var matched []*paywire.Payment
		for _, p := range history {
			if !match(p) || p.ID == q.PaymentID || p.CreatedAt.After(q.At) {
				continue
			}
			if k.FirstSeen.IsZero() || p.CreatedAt.Before(k.FirstSeen) {
				k.FirstSeen = p.CreatedAt
			}
			if whole || p.CreatedAt.After(q.At.Add(-7*24*time.Hour)) {
				matched = append(matched, p)
			}
		}
		slices.SortStableFunc(matched, func(a, b *paywire.Payment) int { return b.CreatedAt.Compare(a.CreatedAt) })
		if len(matched) >= limit {
			// Read as many as the limit: there may be more, and a window
			// that holds the oldest read may miss them.
			matched = matched[:limit]
			k.Capped = true
			oldest := matched[limit-1].CreatedAt
			k.H1.Capped = oldest.After(q.At.Add(-time.Hour))
			k.H24.Capped = oldest.After(q.At.Add(-24 * time.Hour))
			k.D7.Capped = oldest.After(q.At.Add(-7 * 24 * time.Hour))
		}
		for _, p := range matched {
			for _, w := range []struct {
				w   *paywire.Window
				ago time.Duration
			}{{&k.H1, time.Hour}, {&k.H24, 24 * time.Hour}, {&k.D7, 7 * 24 * time.Hour}} {
				if !p.CreatedAt.After(q.At.Add(-w.ago)) {
					continue
				}
				w.w.Attempted++
				if p.State.Paid() {
					w.w.Authorized++
				}
				if (p.State == paywire.StateRefused || p.State == paywire.StateFailed) && p.RiskAction != paywire.RiskBlock {
					w.w.Declined++
				}
				if p.RiskAction == paywire.RiskBlock {
					w.w.Blocked++
				}
				if p.Amount.Currency.Code == q.Currency {
					w.w.Amount += p.Amount.Amount
				}
			}
		}
		return k, matched
	}
	cards24h := func(ps []*paywire.Payment) int64 {
		seen := map[string]bool{}
		for _, p := range ps {
			if p.Card.Fingerprint != "" && p.CreatedAt.After(q.At.Add(-24*time.Hour)) {
				seen[p.Card.Fingerprint] = true
			}
		}
		return int64(len(seen))
	}
	f.Card, _ = key(q.CardFingerprint != "", false, func(p *paywire.Payment) bool { return p.Card.Fingerprint == q.CardFingerprint })
	email := paywire.EmailKey(q.Email)
	var ps []*paywire.Payment
	f.Email, ps = key(email != "", false, func(p *paywire.Payment) bool { return paywire.EmailKey(p.EndUser.Email) == email })
	f.EmailCards24h = cards24h(ps)
	f.IP, ps = key(q.IP != "", false, func(p *paywire.Payment) bool { return p.EndUser.IP == q.IP })
	f.IPCards24h = cards24h(ps)
	f.Customer, ps = key(q.CustomerID != "", true, func(p *paywire.Payment) bool {
		return p.MerchantID == q.MerchantID && p.EndUser.ID == q.CustomerID
	})
	for _, p := range ps {
		if p.State.Paid() {
			f.CustomerSuccessful++
		}
	}
	f.Device, _ = key(q.DeviceID != "", false, func(p *paywire.Payment) bool { return p.EndUser.DeviceID == q.DeviceID })
	if q.DepositMethods && q.CustomerID != "" {
		// As PaymentStore.DepositMethods: the whole history, this payment
		// and later ones included.
		for _, p := range history {
			if p.MerchantID == q.MerchantID && p.EndUser.ID == q.CustomerID && p.Kind == paywire.KindDeposit &&
				p.Method != "" && p.State.Paid() && !slices.Contains(f.DepositMethods, string(p.Method)) {
				f.DepositMethods = append(f.DepositMethods, string(p.Method))
			}
		}
		slices.Sort(f.DepositMethods)
	}
	return f
}

// TestFeaturesMatchHistory compares the store's features with the
// contract computed payment by payment, for many queries over a random
// history: decision times on the windows' edges, the decided payment
// excluded or not, keys unknown, unseen, or an e-mail in other case, and
// keys with more payments than paywire.FeatureCap, seen from times where
// none, some or all of their windows are capped.
func TestFeaturesMatchHistory(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		rng := rand.New(rand.NewPCG(1, 2))
		history := featureHistory(t, db, rng, 400, 240)
		ctx := context.Background()
		capped := 0
		check := func(q paywire.FeatureQuery) {
			t.Helper()
			got, err := db.Features(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantFeatures(history, q, paywire.FeatureCap); !sameFeatures(got, want) {
				t.Fatalf("query %+v:\n got %+v\nwant %+v", q, got, want)
			}
			exact := wantFeatures(history, q, math.MaxInt)
			if err := lowerBounds(got, exact); err != nil {
				t.Fatalf("query %+v: %v", q, err)
			}
			if got.Card.H24.Capped {
				capped++
			}
		}
		// The hot keys, from times where all, some or none of their
		// windows are capped.
		for _, at := range []time.Duration{0, -20 * time.Minute, -45 * time.Minute, -time.Hour, -6 * time.Hour, -2 * 24 * time.Hour, 30 * time.Minute, 25 * time.Hour, 8 * 24 * time.Hour} {
			check(paywire.FeatureQuery{MerchantID: "m1", At: featuresAt.Add(at), Currency: "EUR",
				CardFingerprint: hotCard, Email: hotEmail, IP: hotIP, CustomerID: hotCustomer, DeviceID: hotDevice, DepositMethods: true})
		}
		// Each payment on an edge, seen from the times that put it on the
		// edge of each window, and at its creation.
		for _, base := range history[:len(featureEdges)] {
			for _, after := range []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
				check(paywire.FeatureQuery{MerchantID: base.MerchantID, At: base.CreatedAt.Add(after), Currency: base.Amount.Currency.Code,
					CardFingerprint: base.Card.Fingerprint, Email: base.EndUser.Email, IP: base.EndUser.IP,
					CustomerID: base.EndUser.ID, DeviceID: base.EndUser.DeviceID})
			}
		}
		for range 400 {
			base := history[rng.IntN(len(history))]
			q := paywire.FeatureQuery{
				MerchantID: []string{base.MerchantID, "m1", "m2"}[rng.IntN(3)],
				At:         featuresAt,
				Currency:   []string{"EUR", "USD", "GBP", "JPY"}[rng.IntN(4)],

				CardFingerprint: base.Card.Fingerprint,
				Email:           base.EndUser.Email,
				IP:              base.EndUser.IP,
				CustomerID:      base.EndUser.ID,
				DeviceID:        base.EndUser.DeviceID,
				DepositMethods:  rng.IntN(2) == 0,
			}
			switch rng.IntN(4) {
			case 0:
				q.PaymentID = base.ID
			case 1:
				q.PaymentID = history[rng.IntN(len(history))].ID
			}
			// A decision time that puts base (and, in the fixed history,
			// others) on the edge of a window, or just inside it.
			switch rng.IntN(8) {
			case 0:
				q.At = base.CreatedAt
			case 1:
				q.At = base.CreatedAt.Add(time.Hour)
			case 2:
				q.At = base.CreatedAt.Add(24 * time.Hour)
			case 3:
				q.At = base.CreatedAt.Add(7 * 24 * time.Hour)
			case 4:
				q.At = base.CreatedAt.Add(time.Hour - time.Microsecond)
			case 5:
				q.At = base.CreatedAt.Add(-time.Microsecond)
			}
			if rng.IntN(4) == 0 {
				// Another zone, and a time finer than the stored ones.
				q.At = q.At.In(time.FixedZone("CET", 3600)).Add(500 * time.Nanosecond)
			}
			if rng.IntN(3) == 0 {
				q.Email = " " + strings.ToUpper(q.Email)
			}
			if rng.IntN(5) == 0 {
				q.CardFingerprint = "card-unseen"
			}
			for _, k := range []*string{&q.CardFingerprint, &q.Email, &q.IP, &q.CustomerID, &q.DeviceID} {
				if rng.IntN(6) == 0 {
					*k = ""
				}
			}
			check(q)
		}
		if capped < 10 {
			t.Errorf("%d queries saw the card's 24 hours capped; the history is meant to make many", capped)
		}
	})
}

// lowerBounds checks the capped features got against the exact ones:
// every window not capped is exact; a capped one counts FeatureCap
// payments, no figure above the exact one; the keys' flags say which.
func lowerBounds(got, exact paywire.Features) error {
	keys := []struct {
		name       string
		got, exact paywire.KeyFeatures
	}{{"card", got.Card, exact.Card}, {"email", got.Email, exact.Email}, {"ip", got.IP, exact.IP}, {"customer", got.Customer, exact.Customer}, {"device", got.Device, exact.Device}}
	for _, k := range keys {
		if !k.got.FirstSeen.Equal(k.exact.FirstSeen) {
			return fmt.Errorf("%s: first seen %v, exactly %v", k.name, k.got.FirstSeen, k.exact.FirstSeen)
		}
		anyCapped := false
		for i, w := range []struct{ got, exact paywire.Window }{{k.got.H1, k.exact.H1}, {k.got.H24, k.exact.H24}, {k.got.D7, k.exact.D7}} {
			g, e := w.got, w.exact
			if !g.Capped {
				if g != e {
					return fmt.Errorf("%s window %d not capped: %+v, exactly %+v", k.name, i, g, e)
				}
				continue
			}
			anyCapped = true
			if !k.got.Capped || g.Attempted != paywire.FeatureCap || e.Attempted < paywire.FeatureCap ||
				g.Authorized > e.Authorized || g.Declined > e.Declined || g.Blocked > e.Blocked || g.Amount > e.Amount {
				return fmt.Errorf("%s window %d capped: %+v, not a lower bound of %+v (key capped %v)", k.name, i, g, e, k.got.Capped)
			}
		}
		if k.got.Capped && !anyCapped && k.name != "customer" {
			return fmt.Errorf("%s capped, none of its windows", k.name)
		}
	}
	if !got.Customer.Capped && got.CustomerSuccessful != exact.CustomerSuccessful || got.CustomerSuccessful > exact.CustomerSuccessful {
		return fmt.Errorf("customer successful %d, exactly %d (capped %v)", got.CustomerSuccessful, exact.CustomerSuccessful, got.Customer.Capped)
	}
	if !got.Email.H24.Capped && got.EmailCards24h != exact.EmailCards24h || !got.IP.H24.Capped && got.IPCards24h != exact.IPCards24h {
		return fmt.Errorf("cards %d/%d, exactly %d/%d", got.EmailCards24h, got.IPCards24h, exact.EmailCards24h, exact.IPCards24h)
	}
	return nil
}

// TestFeaturesEdges checks the edges of the contract on a history small
// enough to count by hand.
func TestFeaturesEdges(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.SeedMerchant(t, db, "m1")
		storetest.SeedMerchant(t, db, "m2")
		at := featuresAt
		create := func(merchant, card, email string, created time.Time, amount int64, currency string, risk paywire.RiskAction, moves ...paywire.Move) *paywire.Payment {
			amt, err := paywire.NewMoney(amount, currency)
			if err != nil {
				t.Fatal(err)
			}
			p := &paywire.Payment{
				MerchantID: merchant, MerchantReference: paywire.NewID("ref_"), Kind: paywire.KindDeposit, Amount: amt,
				Card: paywire.CardSummary{Fingerprint: card}, RiskAction: risk,
				EndUser: paywire.EndUser{ID: "cust", Email: email, IP: "192.0.2.9"},
			}
			if err := db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, created)); err != nil {
				t.Fatal(err)
			}
			for _, m := range moves {
				p = storetest.Move(t, db, p, m)
			}
			return p
		}
		// On the hour's edge: in the day, not in the hour.
		create("m1", "card-x", "Eve@Example.com", at.Add(-time.Hour), 100, "EUR", paywire.RiskAllow,
			paywire.Move{To: paywire.StateCompleted, Capture: 100})
		// Another merchant's customer "cust", blocked by risk.
		create("m2", "card-x", "", at.Add(-30*time.Minute), 200, "EUR", paywire.RiskBlock, paywire.Move{To: paywire.StateRefused})
		// After the decision time: never counted.
		create("m1", "card-x", "eve@example.com", at.Add(time.Microsecond), 400, "EUR", paywire.RiskAllow)
		// The payment being decided, declined by its provider.
		decided := create("m1", "card-x", "", at.Add(-10*time.Minute), 300, "EUR", paywire.RiskAllow, paywire.Move{To: paywire.StateFailed})
		// At the decision time exactly: counted, with another card.
		create("m1", "card-y", "eve@example.com", at, 50, "USD", paywire.RiskReview)

		q := paywire.FeatureQuery{MerchantID: "m1", PaymentID: decided.ID, At: at, Currency: "EUR",
			CardFingerprint: "card-x", Email: " EVE@example.COM", CustomerID: "cust"}
		f, err := db.Features(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := paywire.Features{
			Card: paywire.KeyFeatures{Known: true,
				H1:        paywire.Window{Attempted: 1, Blocked: 1, Amount: 200},
				H24:       paywire.Window{Attempted: 2, Authorized: 1, Blocked: 1, Amount: 300},
				D7:        paywire.Window{Attempted: 2, Authorized: 1, Blocked: 1, Amount: 300},
				FirstSeen: at.Add(-time.Hour)},
			Email: paywire.KeyFeatures{Known: true,
				H1:        paywire.Window{Attempted: 1},
				H24:       paywire.Window{Attempted: 2, Authorized: 1, Amount: 100},
				D7:        paywire.Window{Attempted: 2, Authorized: 1, Amount: 100},
				FirstSeen: at.Add(-time.Hour)},
			EmailCards24h: 2,
			// Only m1's payments of "cust"; the IP was not given.
			Customer: paywire.KeyFeatures{Known: true,
				H1:        paywire.Window{Attempted: 1},
				H24:       paywire.Window{Attempted: 2, Authorized: 1, Amount: 100},
				D7:        paywire.Window{Attempted: 2, Authorized: 1, Amount: 100},
				FirstSeen: at.Add(-time.Hour)},
			CustomerSuccessful: 1,
		}
		if !sameFeatures(f, want) {
			t.Errorf("decided payment excluded:\n got %+v\nwant %+v", f, want)
		}

		// Before the payment exists, with nothing given but the card.
		q = paywire.FeatureQuery{MerchantID: "m1", At: at, Currency: "EUR", CardFingerprint: "card-x"}
		if f, err = db.Features(ctx, q); err != nil {
			t.Fatal(err)
		}
		want = paywire.Features{Card: paywire.KeyFeatures{Known: true,
			H1:        paywire.Window{Attempted: 2, Declined: 1, Blocked: 1, Amount: 500},
			H24:       paywire.Window{Attempted: 3, Authorized: 1, Declined: 1, Blocked: 1, Amount: 600},
			D7:        paywire.Window{Attempted: 3, Authorized: 1, Declined: 1, Blocked: 1, Amount: 600},
			FirstSeen: at.Add(-time.Hour)}}
		if !sameFeatures(f, want) {
			t.Errorf("new checkout:\n got %+v\nwant %+v", f, want)
		}

		// A key never seen is known and new; nothing given is nothing known.
		q = paywire.FeatureQuery{MerchantID: "m1", At: at, Currency: "EUR", IP: "203.0.113.1"}
		if f, err = db.Features(ctx, q); err != nil {
			t.Fatal(err)
		}
		if want := (paywire.Features{IP: paywire.KeyFeatures{Known: true}}); !sameFeatures(f, want) {
			t.Errorf("unseen IP:\n got %+v\nwant %+v", f, want)
		}
		if f, err = db.Features(ctx, paywire.FeatureQuery{MerchantID: "m1", At: at, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		if !sameFeatures(f, paywire.Features{}) {
			t.Errorf("no keys: %+v", f)
		}
	})
}

// sameFeatures compares features with their times as instants.
func sameFeatures(a, b paywire.Features) bool {
	for _, k := range []*paywire.KeyFeatures{&a.Card, &a.Email, &a.IP, &a.Customer, &a.Device, &b.Card, &b.Email, &b.IP, &b.Customer, &b.Device} {
		k.FirstSeen = k.FirstSeen.UTC() // UTC also drops a monotonic reading
	}
	return reflect.DeepEqual(a, b)
}
