package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// Contract runs the store's contract suite on every database. Each test
// gets a new database, so that claims, counts and backlogs see only its
// own rows.
func Contract(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Merchants", testMerchants},
		{"CreatePayment", testCreatePayment},
		{"TenantIsolation", testTenantIsolation},
		{"Lifecycle", testLifecycle},
		{"RefusedChangesWriteNothing", testRefusedChanges},
		{"ConcurrentTransitions", testConcurrentTransitions},
		{"CompareAndSetOnState", testCompareAndSetOnState},
		{"AllOrNothing", testAllOrNothing},
		{"ChangeWithoutMove", testChangeWithoutMove},
		{"Chargebacks", testChargebacks},
		{"HistoryIsAppendOnly", testAppendOnly},
		{"Decisions", testDecisions},
		{"Audit", testAudit},
		{"AdminUsers", testAdminUsers},
		{"Migrations", testMigrations},
		{"StartDetails", testStartDetails},
		{"Idempotency", testIdempotency},
		{"IdempotentOutcome", testIdempotentOutcome},
		{"Attempts", testAttempts},
		{"OutboxDelivery", testOutboxDelivery},
		{"OutboxDeliveredTogether", testOutboxDeliveredTogether},
		{"FollowUps", testFollowUps},
		{"MootFollowUps", testMootFollowUps},
		{"FollowUpBacklog", testFollowUpBacklog},
		{"ConcurrentFollowUpClaims", testConcurrentFollowUpClaims},
		{"Approvals", testApprovals},
		{"PayoutSource", testPayoutSource},
		{"Bundles", testBundles},
		{"ConcurrentBundleActivations", testConcurrentBundleActivations},
		{"Backtests", testBacktests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { ForEachDatabase(t, tt.fn) })
	}
}

var ctx = context.Background()

// t0 is when the changes of the suite happen, unless a test says otherwise.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := paywire.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func apply(t *testing.T, db *store.DB, c paywire.StateChange) {
	t.Helper()
	if err := db.ApplyStateChange(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// moved returns the change that makes the move m of p, as the payment use
// cases compute it: with the domain's checks and the merchant's
// notification. m.At defaults to t0 and m.Source to the system.
func moved(t *testing.T, p *paywire.Payment, m paywire.Move) paywire.StateChange {
	t.Helper()
	if m.At.IsZero() {
		m.At = t0
	}
	if m.Source == "" {
		m.Source = paywire.ActorSystem
	}
	c, err := p.Moved(m)
	if err != nil {
		t.Fatal(err)
	}
	c.Notification = paywire.Notification(c.Payment, c.Event)
	return c
}

// forced returns the change that moves p to state to, with edit applied to
// the payment as it will be, without the domain's checks: what refuses it
// is the store.
func forced(p *paywire.Payment, to paywire.State, edit func(next *paywire.Payment)) paywire.StateChange {
	next := *p
	next.State, next.Version, next.UpdatedAt = to, p.Version+1, t0
	if edit != nil {
		edit(&next)
	}
	ev := &paywire.Event{
		ID: paywire.NewID("evt_"), PaymentID: p.ID, MerchantID: p.MerchantID, Seq: next.Version,
		From: p.State, To: to, Amount: next.Captured - p.Captured + next.Refunded - p.Refunded + next.ChargedBack - p.ChargedBack,
		Source: paywire.ActorSystem, OccurredAt: t0,
	}
	return paywire.StateChange{Payment: &next, Version: p.Version, Event: ev, Notification: paywire.Notification(&next, ev)}
}

// reread returns the payment as stored.
func reread(t *testing.T, db *store.DB, p *paywire.Payment) *paywire.Payment {
	t.Helper()
	got, err := db.Payment(ctx, p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// footprint is what the store holds of a payment: a refused change must
// leave it as it was.
type footprint struct {
	State          paywire.State
	Version        int64
	Events         int
	Outbox         int
	Attempts       int
	FollowUps      int
	FollowUpsDone  int
	ProviderEvents int
	Idempotency    int // completed idempotent requests of the merchant
}

func footprintOf(t *testing.T, db *store.DB, p *paywire.Payment) footprint {
	t.Helper()
	got := reread(t, db, p)
	fp := footprint{State: got.State, Version: got.Version}
	for _, c := range []struct {
		n     *int
		table string
		where string
		args  []any
	}{
		{&fp.Events, "payment_events", "payment_id = ?", []any{p.ID}},
		{&fp.Outbox, "outbox", "payment_id = ?", []any{p.ID}},
		{&fp.Attempts, "payment_attempts", "payment_id = ?", []any{p.ID}},
		{&fp.FollowUps, "follow_ups", "payment_id = ?", []any{p.ID}},
		{&fp.FollowUpsDone, "follow_ups", "payment_id = ? AND status = ?", []any{p.ID, paywire.FollowUpDone}},
		{&fp.ProviderEvents, "provider_events", "payment_id = ?", []any{p.ID}},
		{&fp.Idempotency, "idempotency_keys", "merchant_id = ? AND result IS NOT NULL", []any{p.MerchantID}},
	} {
		if err := db.Bun().NewSelect().Table(c.table).ColumnExpr("count(*)").Where(c.where, c.args...).Scan(ctx, c.n); err != nil {
			t.Fatal(err)
		}
	}
	return fp
}

// wantUnchanged fails the test when the payment's footprint is no longer before.
func wantUnchanged(t *testing.T, db *store.DB, p *paywire.Payment, before footprint, what string) {
	t.Helper()
	if after := footprintOf(t, db, p); after != before {
		t.Fatalf("%s wrote something: before %+v, after %+v", what, before, after)
	}
}

// attempt returns a new authorization attempt of p at acquirer-a.
func attempt(p *paywire.Payment, n int) paywire.Attempt {
	return paywire.Attempt{
		ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: p.MerchantID, N: n, Operation: paywire.OpAuthorize,
		Provider: "acquirer-a", Amount: p.Amount.Amount, IdempotencyKey: fmt.Sprintf("%s-%d", p.ID, n),
		Status: paywire.AttemptStarted,
	}
}

// followUp returns a follow-up of p due at due.
func followUp(p *paywire.Payment, kind paywire.FollowUpKind, due time.Time) paywire.FollowUp {
	return paywire.FollowUp{PaymentID: p.ID, MerchantID: p.MerchantID, Kind: kind, DueAt: due}
}

func testMerchants(t *testing.T, db *store.DB) {
	m := &paywire.Merchant{ID: "shop-a", Name: "Shop A", NotificationURL: "https://a.example/notify",
		NotificationFormat: "json", ReturnURLPrefixes: []string{"https://a.example/return/"}}
	if err := db.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := db.Merchant(ctx, "shop-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Shop A" || got.NotificationFormat != "json" || len(got.ReturnURLPrefixes) != 1 ||
		got.ReturnURLPrefixes[0] != "https://a.example/return/" || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("read back %+v, stored %+v", got, m)
	}
	wantCode(t, "duplicate merchant", db.CreateMerchant(ctx, &paywire.Merchant{ID: "shop-a", Name: "again"}), paywire.ECONFLICT)
	wantCode(t, "bad merchant id", db.CreateMerchant(ctx, &paywire.Merchant{ID: "Shop A", Name: "x"}), paywire.EINVALID)
	_, err = db.Merchant(ctx, "nobody")
	wantCode(t, "unknown merchant", err, paywire.ENOTFOUND)

	c1 := &paywire.MerchantCredential{MerchantID: "shop-a", SecretHash: "$argon2id$one"}
	c2 := &paywire.MerchantCredential{MerchantID: "shop-a", SecretHash: "$argon2id$two"}
	for _, c := range []*paywire.MerchantCredential{c1, c2} {
		if err := db.AddMerchantCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	creds, err := db.MerchantCredentials(ctx, "shop-a")
	if err != nil || len(creds) != 2 {
		t.Fatalf("credentials: %v, %v", creds, err)
	}
	wantCode(t, "credential of unknown merchant",
		db.AddMerchantCredential(ctx, &paywire.MerchantCredential{MerchantID: "nobody", SecretHash: "x"}), paywire.ENOTFOUND)

	// A rotation's overlap: revoked at a future time, the credential is
	// valid until then; revoked now, it is gone at once.
	now := db.Now().UTC()
	if err := db.RevokeMerchantCredential(ctx, "shop-a", c1.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	creds, _ = db.MerchantCredentials(ctx, "shop-a")
	if len(creds) != 2 || creds[len(creds)-1].RevokedAt.IsZero() && creds[0].RevokedAt.IsZero() {
		t.Errorf("during the overlap: %+v", creds)
	}
	wantCode(t, "another merchant's credential", db.RevokeMerchantCredential(ctx, "m-other", c2.ID, now), paywire.ENOTFOUND)
	if err := db.RevokeMerchantCredential(ctx, "shop-a", c1.ID, now); err != nil {
		t.Fatal(err)
	}
	creds, _ = db.MerchantCredentials(ctx, "shop-a")
	if len(creds) != 1 || creds[0].ID != c2.ID {
		t.Errorf("after revocation: %+v", creds)
	}
	wantCode(t, "revoked twice", db.RevokeMerchantCredential(ctx, "shop-a", c1.ID, now), paywire.ENOTFOUND)

	// Migration on first use: compare-and-set on the hash.
	if err := db.ReplaceCredentialHash(ctx, c2.ID, "$argon2id$two", "$hmac-sha256$ab"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "stale hash", db.ReplaceCredentialHash(ctx, c2.ID, "$argon2id$two", "$hmac-sha256$cd"), paywire.ECONFLICT)
	wantCode(t, "unknown credential", db.ReplaceCredentialHash(ctx, "cred_none", "a", "b"), paywire.ENOTFOUND)
	creds, _ = db.MerchantCredentials(ctx, "shop-a")
	if len(creds) != 1 || creds[0].SecretHash != "$hmac-sha256$ab" {
		t.Errorf("after the hash was replaced: %+v", creds)
	}
	ms, err := db.Merchants(ctx)
	if err != nil || len(ms) == 0 || ms[0].ID == "" {
		t.Errorf("Merchants: %v, %v", ms, err)
	}
}

func testCreatePayment(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-create")
	p := SeedPayment(t, db, "m-create", "order-1")
	if p.ID == "" || p.State != paywire.StateCreated || p.Version != 1 {
		t.Fatalf("created payment %+v", p)
	}
	got, err := db.Payment(ctx, "m-create", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount != p.Amount || got.EndUser != p.EndUser || got.MerchantReference != "order-1" ||
		!got.CreatedAt.Equal(p.CreatedAt.Truncate(time.Microsecond)) ||
		got.State != paywire.StateCreated || got.Version != 1 {
		t.Errorf("read back %+v, stored %+v", got, p)
	}
	byRef, err := db.PaymentByReference(ctx, "m-create", "order-1")
	if err != nil || byRef.ID != p.ID {
		t.Fatalf("by reference: %v, %v", byRef, err)
	}
	evs, err := db.Events(ctx, "m-create", p.ID)
	if err != nil || len(evs) != 1 || evs[0].Seq != 1 || evs[0].To != paywire.StateCreated || evs[0].From != "" || evs[0].Source != paywire.ActorMerchant {
		t.Fatalf("creation event: %+v, %v", evs, err)
	}

	create := func(p *paywire.Payment) paywire.StateChange {
		c := paywire.Creation(p, paywire.ActorMerchant, t0)
		c.Notification = paywire.Notification(c.Payment, c.Event)
		return c
	}
	wantCode(t, "same merchant reference", db.CreatePayment(ctx, create(SeedPaymentValue("m-create", "order-1"))), paywire.ECONFLICT)
	bad := SeedPaymentValue("m-create", "order-2")
	bad.Amount.Amount = 0
	wantCode(t, "zero amount", db.CreatePayment(ctx, create(bad)), paywire.EINVALID)
	moving := create(SeedPaymentValue("m-create", "order-2"))
	moving.Payment.State = paywire.StatePending
	wantCode(t, "created in another state", db.CreatePayment(ctx, moving), paywire.EINVALID)
	silent := create(SeedPaymentValue("m-create", "order-2"))
	silent.Event = nil
	wantCode(t, "created without its event", db.CreatePayment(ctx, silent), paywire.EINVALID)
	if _, err := db.PaymentByReference(ctx, "m-create", "order-2"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("refused payment was stored: %v", err)
	}
	wantCode(t, "unknown merchant", db.CreatePayment(ctx, create(SeedPaymentValue("nobody", "x"))), paywire.ENOTFOUND)

	// The notification the creation carries is stored with it.
	out, err := db.PendingOutbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	o := find(out, evs[0].ID)
	if o == nil {
		t.Fatal("no outbox row for the creation event")
	}
	var pl paywire.NotificationPayload
	if err := json.Unmarshal(o.Payload, &pl); err != nil {
		t.Fatal(err)
	}
	if pl.PaymentID != p.ID || pl.NewState != "CREATED" || pl.Amount != "10.00" || pl.Currency != "EUR" || pl.Seq != 1 {
		t.Errorf("outbox payload %+v", pl)
	}

	// A creation writes what it carries, and only that: here a payment
	// expiry and the merchant's idempotent request, but no notification.
	q := SeedPaymentValue("m-create", "order-3")
	c := paywire.Creation(q, paywire.ActorMerchant, t0)
	c.FollowUps = []paywire.FollowUp{followUp(q, paywire.FollowUpPaymentExpiry, t0.Add(time.Hour))}
	c.Idempotency = &paywire.IdempotentResult{MerchantID: "m-create", Key: "create-3", RequestHash: "h3", Result: []byte(`{"paymentId":"` + q.ID + `"}`)}
	if err := db.CreatePayment(ctx, c); err != nil {
		t.Fatal(err)
	}
	fp := footprintOf(t, db, q)
	if fp.Events != 1 || fp.Outbox != 0 || fp.FollowUps != 1 {
		t.Errorf("creation carrying a follow-up and no notification wrote %+v", fp)
	}
	if res, err := db.ClaimIdempotencyKey(ctx, "m-create", "create-3", "h3"); err != nil || string(res) != `{"paymentId":"`+q.ID+`"}` {
		t.Errorf("idempotent outcome of the creation: %q, %v", res, err)
	}

	// A creation whose first answer finds its key taken writes nothing of
	// its rows, however many it carries (on PostgreSQL they go in one
	// round trip); one that commits learns its follow-ups' ids.
	full := func(ref, key string) paywire.StateChange {
		r := SeedPaymentValue("m-create", ref)
		c := paywire.Creation(r, paywire.ActorMerchant, t0)
		c.Notification = paywire.Notification(r, c.Event)
		c.FollowUps = []paywire.FollowUp{followUp(r, paywire.FollowUpPaymentExpiry, t0.Add(time.Hour)), followUp(r, paywire.FollowUpProcess, t0.Add(time.Minute))}
		c.Decisions = []paywire.DecisionRecord{{Point: "availability", MerchantID: "m-create", PaymentID: r.ID,
			Input: json.RawMessage(`{}`), Output: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`)}}
		c.Idempotency = &paywire.IdempotentResult{MerchantID: "m-create", Key: key, RequestHash: "h", Result: []byte(`{}`), First: true}
		return c
	}
	taken := full("order-4", "create-3")
	wantCode(t, "a first answer under a taken key", db.CreatePayment(ctx, taken), paywire.ECONFLICT)
	if _, err := db.Payment(ctx, "m-create", taken.Payment.ID); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("the refused creation's payment was stored: %v", err)
	}
	if ds, err := db.Decisions(ctx, "m-create", taken.Payment.ID); err != nil || len(ds) != 0 {
		t.Errorf("the refused creation's decisions were stored: %d, %v", len(ds), err)
	}
	if fus, err := db.FollowUps(ctx, "m-create", taken.Payment.ID); err != nil || len(fus) != 0 {
		t.Errorf("the refused creation's follow-ups were stored: %+v, %v", fus, err)
	}
	ok := full("order-5", "create-5")
	if err := db.CreatePayment(ctx, ok); err != nil {
		t.Fatal(err)
	}
	fus, err := db.FollowUps(ctx, "m-create", ok.Payment.ID)
	if err != nil || len(fus) != 2 {
		t.Fatalf("follow-ups %+v, %v", fus, err)
	}
	for i, f := range ok.FollowUps {
		stored := fus[slices.IndexFunc(fus, func(s paywire.FollowUp) bool { return s.Kind == f.Kind })]
		if f.ID == 0 || f.ID != stored.ID || f.Status != paywire.FollowUpPending {
			t.Errorf("follow-up %d: the change has id %d (%s), the store %d", i, f.ID, f.Status, stored.ID)
		}
	}
	if ds, err := db.Decisions(ctx, "m-create", ok.Payment.ID); err != nil || len(ds) != 1 {
		t.Errorf("the creation's decisions: %d, %v", len(ds), err)
	}
}

func testTenantIsolation(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-owner")
	SeedMerchant(t, db, "m-other")
	p := SeedPayment(t, db, "m-owner", "order-1")

	_, err := db.Payment(ctx, "m-other", p.ID)
	wantCode(t, "other merchant reads", err, paywire.ENOTFOUND)
	_, err = db.PaymentByReference(ctx, "m-other", "order-1")
	wantCode(t, "other merchant reads by reference", err, paywire.ENOTFOUND)
	_, err = db.Events(ctx, "m-other", p.ID)
	wantCode(t, "other merchant reads history", err, paywire.ENOTFOUND)

	before := footprintOf(t, db, p)
	theirs := *p
	theirs.MerchantID = "m-other"
	c := moved(t, &theirs, paywire.Move{To: paywire.StateCancelled, Type: paywire.EventCancelRequested, Source: paywire.ActorMerchant})
	c.Attempts = []paywire.Attempt{attempt(&theirs, 1)}
	wantCode(t, "other merchant cancels", db.ApplyStateChange(ctx, c), paywire.ENOTFOUND)
	nm := theirs
	nm.ProviderReference = "psp-1"
	wantCode(t, "other merchant changes without a move", db.ApplyStateChange(ctx, paywire.StateChange{Payment: &nm, Version: nm.Version}), paywire.ENOTFOUND)
	wantUnchanged(t, db, p, before, "another merchant's change")
	// The same reference is free for another merchant.
	SeedPayment(t, db, "m-other", "order-1")
}

func testLifecycle(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-life")
	p := SeedPayment(t, db, "m-life", "order-1")
	provider := paywire.ProviderActor("sandbox-a")
	steps := []struct {
		move paywire.Move
		edit func(next *paywire.Payment) // what else the change learnt
	}{
		{paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted, Source: paywire.ActorEndUser, Reason: "sent to provider"},
			func(n *paywire.Payment) { n.Provider, n.Method = "sandbox-a", "card" }},
		{paywire.Move{To: paywire.StateAuthorized, Type: paywire.EventProviderAuthorized, Source: provider, Reason: "approved"},
			func(n *paywire.Payment) { n.ProviderReference = "psp-123" }},
		{paywire.Move{To: paywire.StateCompleted, Type: paywire.EventCaptureRequested, Source: paywire.ActorMerchant, Capture: 800, Reason: "partial capture"}, nil},
		{paywire.Move{To: paywire.StatePartiallyRefunded, Type: paywire.EventRefundRequested, Source: paywire.ActorMerchant, Refund: 300, Reason: "refund 1"}, nil},
		{paywire.Move{To: paywire.StatePartiallyRefunded, Type: paywire.EventRefundRequested, Source: paywire.ActorMerchant, Refund: 200, Reason: "refund 2"}, nil},
		{paywire.Move{To: paywire.StateRefunded, Type: paywire.EventRefundRequested, Source: paywire.ActorMerchant, Refund: 300, Reason: "refund 3"}, nil},
	}
	for i, s := range steps {
		s.move.At = t0.Add(time.Duration(i)*time.Minute + 123456*time.Microsecond)
		c := moved(t, p, s.move)
		if s.edit != nil {
			s.edit(c.Payment)
		}
		if err := db.ApplyStateChange(ctx, c); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.move.To, err)
		}
		got := reread(t, db, p)
		if got.Version != p.Version+1 || got.State != s.move.To || !got.UpdatedAt.Equal(s.move.At) {
			t.Fatalf("step %d: payment %+v, want version %d in %s updated at %s", i, got, p.Version+1, s.move.To, s.move.At)
		}
		p = got
	}
	if p.Captured != 800 || p.Refunded != 800 || p.Provider != "sandbox-a" || p.ProviderReference != "psp-123" || p.Method != "card" {
		t.Errorf("final payment %+v", p)
	}
	evs, err := db.Events(ctx, "m-life", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(steps)+1 {
		t.Fatalf("%d events, want %d", len(evs), len(steps)+1)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.Seq)
		}
		if i == 0 {
			continue
		}
		s := steps[i-1].move
		s.At = t0.Add(time.Duration(i-1)*time.Minute + 123456*time.Microsecond)
		if ev.From != evs[i-1].To {
			t.Errorf("event %d moves from %s but the previous one ended in %s", i, ev.From, evs[i-1].To)
		}
		if ev.To != s.To || ev.Type != s.Type || ev.Source != s.Source || ev.Reason != s.Reason || !ev.OccurredAt.Equal(s.At) {
			t.Errorf("event %d: %+v, moved %+v", i, ev, s)
		}
	}
	if evs[3].Amount != 800 || evs[4].Amount != 300 {
		t.Errorf("event amounts %d %d", evs[3].Amount, evs[4].Amount)
	}
	if fp := footprintOf(t, db, p); fp.Outbox != len(evs) {
		t.Errorf("%d notifications for %d events", fp.Outbox, len(evs))
	}
	// refunded is terminal.
	c := forced(p, paywire.StateChargedBack, func(n *paywire.Payment) { n.ChargedBack = 100 })
	wantCode(t, "move out of a terminal state", db.ApplyStateChange(ctx, c), paywire.EILLEGALMOVE)
}

func testRefusedChanges(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-refuse")
	p := SeedPayment(t, db, "m-refuse", "order-1")
	before := footprintOf(t, db, p)

	wantCode(t, "created -> refunded", db.ApplyStateChange(ctx, forced(p, paywire.StateRefunded, nil)), paywire.EILLEGALMOVE)
	wantCode(t, "created -> created", db.ApplyStateChange(ctx, forced(p, paywire.StateCreated, nil)), paywire.EILLEGALMOVE)
	wantCode(t, "capture above the authorized amount",
		db.ApplyStateChange(ctx, forced(p, paywire.StateCompleted, func(n *paywire.Payment) { n.Captured = 1001 })), paywire.EINVALID)
	wantCode(t, "refund above the captured amount",
		db.ApplyStateChange(ctx, forced(p, paywire.StateCompleted, func(n *paywire.Payment) { n.Captured, n.Refunded = 500, 501 })), paywire.EINVALID)

	c := forced(p, paywire.StatePending, nil)
	c.Payment.Version, c.Event.Seq, c.Version = 8, 8, 7
	wantCode(t, "stale version", db.ApplyStateChange(ctx, c), paywire.ECONFLICT)

	c = forced(p, paywire.StatePending, nil)
	c.Payment.ID, c.Event.PaymentID = "pay_missing", "pay_missing"
	c.Notification = nil
	wantCode(t, "unknown payment", db.ApplyStateChange(ctx, c), paywire.ENOTFOUND)

	// The change must describe one move: its event follows the version
	// it was computed from and ends where the payment does.
	c = forced(p, paywire.StatePending, nil)
	c.Event.Seq = 3
	wantCode(t, "event with a gap", db.ApplyStateChange(ctx, c), paywire.EINVALID)
	c = forced(p, paywire.StatePending, nil)
	c.Event.To = paywire.StateAuthorized
	wantCode(t, "event to another state", db.ApplyStateChange(ctx, c), paywire.EINVALID)
	c = forced(p, paywire.StatePending, nil)
	c.Payment = nil
	wantCode(t, "event without the payment", db.ApplyStateChange(ctx, c), paywire.EINVALID)
	c = forced(p, paywire.StatePending, nil)
	c.Event, c.Notification = nil, nil
	wantCode(t, "version raised without a move", db.ApplyStateChange(ctx, c), paywire.EINVALID)

	wantUnchanged(t, db, p, before, "a refused change")
}

// testConcurrentTransitions has 50 writers that all read version 1 try to
// move the payment to different states: exactly one may win, and the history
// must have no gap and no duplicate.
func testConcurrentTransitions(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-race")
	p := SeedPayment(t, db, "m-race", "order-1")
	targets := []paywire.State{paywire.StatePending, paywire.StateAuthorized, paywire.StateRefused,
		paywire.StateCancelled, paywire.StateFailed, paywire.StateReview}

	const writers = 50
	changes := make([]paywire.StateChange, writers)
	for i := range changes {
		changes[i] = moved(t, p, paywire.Move{To: targets[i%len(targets)]})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.ApplyStateChange(ctx, changes[i])
		}()
	}
	close(start)
	wg.Wait()

	var winner *paywire.Payment
	for i, err := range errs {
		switch {
		case err == nil:
			if winner != nil {
				t.Fatalf("two writers won: %s and %s", winner.State, changes[i].Payment.State)
			}
			winner = changes[i].Payment
		case paywire.ErrorCode(err) != paywire.ECONFLICT:
			t.Errorf("writer %d: %v, want a conflict", i, err)
		}
	}
	if winner == nil {
		t.Fatal("no writer won")
	}
	got := reread(t, db, p)
	evs, err := db.Events(ctx, "m-race", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.State != winner.State || len(evs) != 2 || evs[1].Seq != 2 || evs[1].To != winner.State {
		t.Fatalf("after the race: payment %+v, events %+v", got, evs)
	}
	if fp := footprintOf(t, db, p); fp.Outbox != 2 {
		t.Errorf("%d notifications after the race, want the creation's and the winner's", fp.Outbox)
	}
}

// testCompareAndSetOnState checks that a change is written only over the
// payment it was computed from: same version and same state.
func testCompareAndSetOnState(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-cas")
	p := SeedPayment(t, db, "m-cas", "order-1")
	cancel := moved(t, p, paywire.Move{To: paywire.StateCancelled, Type: paywire.EventCancelRequested, Source: paywire.ActorMerchant})
	learnt := *p
	learnt.ProviderReference = "psp-1"

	// A row in another state at the same version cannot come from a
	// change; only a writer bypassing the store makes one.
	if _, err := db.Bun().ExecContext(ctx, "UPDATE payments SET state = ? WHERE id = ?", string(paywire.StatePending), p.ID); err != nil {
		t.Fatal(err)
	}
	before := footprintOf(t, db, p)
	wantCode(t, "move computed from another state", db.ApplyStateChange(ctx, cancel), paywire.ECONFLICT)
	wantCode(t, "change without a move computed from another state",
		db.ApplyStateChange(ctx, paywire.StateChange{Payment: &learnt, Version: learnt.Version}), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change computed from another state")
	if _, err := db.Bun().ExecContext(ctx, "UPDATE payments SET state = ? WHERE id = ?", string(paywire.StateCreated), p.ID); err != nil {
		t.Fatal(err)
	}

	// The usual conflict: another change won meanwhile.
	now := Move(t, db, p, paywire.Move{To: paywire.StatePending})
	before = footprintOf(t, db, p)
	wantCode(t, "move computed from an older version", db.ApplyStateChange(ctx, cancel), paywire.ECONFLICT)
	wantCode(t, "change without a move computed from an older version",
		db.ApplyStateChange(ctx, paywire.StateChange{Payment: &learnt, Version: learnt.Version}), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change computed from an older version")
	if got := reread(t, db, p); got.State != paywire.StatePending || got.Version != now.Version || got.ProviderReference != "" {
		t.Errorf("after the conflicts: %+v", got)
	}
}

// testAllOrNothing checks that a change whose follow-up was carried out
// meanwhile, or whose provider event was seen meanwhile, writes none of
// its rows.
func testAllOrNothing(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-aon")
	p := SeedPayment(t, db, "m-aon", "order-1")
	apply(t, db, paywire.StateChange{FollowUps: []paywire.FollowUp{
		followUp(p, paywire.FollowUpPaymentExpiry, t0),
		followUp(p, paywire.FollowUpStatusQuery, t0),
	}})
	fus, err := db.FollowUps(ctx, "m-aon", p.ID)
	if err != nil || len(fus) != 2 {
		t.Fatalf("follow-ups: %+v, %v", fus, err)
	}
	done, pending := fus[0], fus[1]
	apply(t, db, paywire.StateChange{DoneFollowUp: done.ID})
	apply(t, db, paywire.StateChange{ProviderEvent: &paywire.ProviderEvent{Provider: "acquirer-a", EventID: "evt-1", PaymentID: p.ID}})

	// full is a change that writes a row of every kind.
	full := func() paywire.StateChange {
		c := moved(t, p, paywire.Move{To: paywire.StatePending, Type: paywire.EventProviderPending, Source: paywire.ProviderActor("acquirer-a")})
		c.Attempts = []paywire.Attempt{attempt(p, 1)}
		c.FollowUps = []paywire.FollowUp{followUp(p, paywire.FollowUpStatusQuery, t0.Add(time.Hour))}
		c.ProviderEvent = &paywire.ProviderEvent{Provider: "acquirer-a", EventID: "evt-2", PaymentID: p.ID}
		c.Idempotency = &paywire.IdempotentResult{MerchantID: "m-aon", Key: "k1", RequestHash: "h1", Result: []byte(`{"state":"PENDING"}`)}
		c.Decisions = []paywire.DecisionRecord{{Point: "risk", MerchantID: "m-aon", PaymentID: p.ID,
			Input: json.RawMessage(`{}`), Output: json.RawMessage(`{"action":"allow"}`), RulesFired: json.RawMessage(`[]`)}}
		return c
	}
	decisions := func() int {
		t.Helper()
		ds, err := db.Decisions(ctx, "m-aon", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	before := footprintOf(t, db, p)
	c := full()
	c.DoneFollowUp = done.ID
	wantCode(t, "follow-up carried out meanwhile", db.ApplyStateChange(ctx, c), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change whose follow-up was carried out meanwhile")
	c = full()
	c.DoneFollowUp = 1 << 40
	wantCode(t, "unknown follow-up", db.ApplyStateChange(ctx, c), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change carrying out an unknown follow-up")
	c = full()
	c.DoneFollowUp = pending.ID
	c.ProviderEvent.EventID = "evt-1"
	wantCode(t, "provider event seen meanwhile", db.ApplyStateChange(ctx, c), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change whose provider event was seen meanwhile")
	if seen, err := db.ProviderEventSeen(ctx, "acquirer-a", "evt-2"); err != nil || seen {
		t.Errorf("a refused change marked its provider event seen: %v, %v", seen, err)
	}
	if res, err := db.ClaimIdempotencyKey(ctx, "m-aon", "k1", "h1"); err != nil || res != nil {
		t.Errorf("a refused change stored its idempotent outcome: %q, %v", res, err)
	}
	if err := db.ReleaseIdempotencyKey(ctx, "m-aon", "k1"); err != nil {
		t.Fatal(err)
	}
	if n := decisions(); n != 0 {
		t.Errorf("refused changes wrote %d decision records", n)
	}

	// The same change with nothing taken meanwhile writes everything.
	c = full()
	c.DoneFollowUp = pending.ID
	apply(t, db, c)
	want := before
	want.State, want.Version = paywire.StatePending, 2
	want.Events, want.Outbox, want.Attempts, want.FollowUps, want.FollowUpsDone, want.ProviderEvents, want.Idempotency =
		before.Events+1, before.Outbox+1, before.Attempts+1, before.FollowUps+1, before.FollowUpsDone+1, before.ProviderEvents+1, before.Idempotency+1
	if got := footprintOf(t, db, p); got != want {
		t.Errorf("the change wrote %+v, want %+v", got, want)
	}
	if n := decisions(); n != 1 {
		t.Errorf("the change wrote %d decision records, want its 1", n)
	}
}

// testChangeWithoutMove checks a change that moves nothing (a provider
// reference learnt): the version stays, and no event or notification is
// written.
func testChangeWithoutMove(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-still")
	p := SeedPayment(t, db, "m-still", "order-1")
	older := *p
	p = Move(t, db, p, paywire.Move{To: paywire.StatePending})
	a := attempt(p, 1)
	apply(t, db, paywire.StateChange{Attempts: []paywire.Attempt{a}})
	before := footprintOf(t, db, p)

	next := *p
	next.Provider, next.ProviderReference = "acquirer-a", "psp-77"
	a.Reference, a.Status = "psp-77", paywire.AttemptPending
	apply(t, db, paywire.StateChange{Payment: &next, Version: p.Version, Attempts: []paywire.Attempt{a}})
	got := reread(t, db, p)
	if got.Version != p.Version || got.State != paywire.StatePending || got.ProviderReference != "psp-77" || got.Provider != "acquirer-a" {
		t.Errorf("after the change: %+v", got)
	}
	if after := footprintOf(t, db, p); after != before {
		t.Errorf("a change without a move wrote %+v, had %+v", after, before)
	}
	if back, err := db.AttemptByReference(ctx, "acquirer-a", "psp-77"); err != nil || back.ID != a.ID {
		t.Errorf("attempt updated with the change: %+v, %v", back, err)
	}

	// It is written by compare-and-set like a move.
	stale := older
	stale.ProviderReference = "psp-other"
	wantCode(t, "change without a move from an older version",
		db.ApplyStateChange(ctx, paywire.StateChange{Payment: &stale, Version: stale.Version}), paywire.ECONFLICT)
	bumped := *got
	bumped.Version++
	wantCode(t, "version raised without a move",
		db.ApplyStateChange(ctx, paywire.StateChange{Payment: &bumped, Version: got.Version}), paywire.EINVALID)
	if again := reread(t, db, p); again.ProviderReference != "psp-77" || again.Version != got.Version {
		t.Errorf("a refused change was written: %+v", again)
	}
}

// testChargebacks checks the chargeback invariant: what is refunded and
// what is charged back never exceed what was captured.
func testChargebacks(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-cb")
	p := SeedPayment(t, db, "m-cb", "order-1")
	p = Move(t, db, p, paywire.Move{To: paywire.StateAuthorized})
	p = Move(t, db, p, paywire.Move{To: paywire.StateCompleted, Capture: 1000})
	p = Move(t, db, p, paywire.Move{To: paywire.StatePartiallyRefunded, Refund: 300})
	before := footprintOf(t, db, p)

	wantCode(t, "charged back above what is left",
		db.ApplyStateChange(ctx, forced(p, paywire.StateChargedBack, func(n *paywire.Payment) { n.ChargedBack = 701 })), paywire.EINVALID)
	wantCode(t, "negative chargeback",
		db.ApplyStateChange(ctx, forced(p, paywire.StateChargedBack, func(n *paywire.Payment) { n.ChargedBack = -1 })), paywire.EINVALID)
	wantUnchanged(t, db, p, before, "a refused chargeback")

	c := moved(t, p, paywire.Move{To: paywire.StateChargedBack, Type: paywire.EventChargeback, Source: paywire.ProviderActor("acquirer-a"), Chargeback: 700})
	apply(t, db, c)
	got := reread(t, db, p)
	if got.State != paywire.StateChargedBack || got.ChargedBack != 700 || got.Refunded != 300 || got.Captured != 1000 {
		t.Errorf("after the chargeback: %+v", got)
	}
	evs, _ := db.Events(ctx, "m-cb", p.ID)
	if last := evs[len(evs)-1]; last.Type != paywire.EventChargeback || last.Amount != 700 {
		t.Errorf("chargeback event %+v", last)
	}
}

func testAppendOnly(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-append")
	p := SeedPayment(t, db, "m-append", "order-1")
	if _, err := db.Bun().ExecContext(ctx, "UPDATE payment_events SET reason = 'rewritten' WHERE payment_id = ?", p.ID); err == nil {
		t.Error("an event was updated")
	}
	if _, err := db.Bun().ExecContext(ctx, "DELETE FROM payment_events WHERE payment_id = ?", p.ID); err == nil {
		t.Error("an event was deleted")
	}
	if err := db.Audit(ctx, &paywire.AuditEntry{Actor: "system", Action: "test.append"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bun().ExecContext(ctx, "DELETE FROM audit_log"); err == nil {
		t.Error("the audit log was deleted")
	}
}

func testDecisions(t *testing.T, db *store.DB) {
	d := &paywire.DecisionRecord{
		Point: "risk", MerchantID: "m-dec", PaymentID: "pay_x", BundleRevision: "r1", BundleHash: "abc",
		Input: json.RawMessage(`{"amount":1000}`), Output: json.RawMessage(`{"score":12,"action":"allow"}`),
		RulesFired: json.RawMessage(`[{"id":"amount_high","effect":"add 10"}]`), Duration: 150 * time.Microsecond,
	}
	if err := db.SaveDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	got, err := db.Decisions(ctx, "m-dec", "pay_x")
	if err != nil || len(got) != 1 {
		t.Fatalf("decisions: %v, %v", got, err)
	}
	var out map[string]any
	if err := json.Unmarshal(got[0].Output, &out); err != nil || out["action"] != "allow" || got[0].Duration != 150*time.Microsecond || got[0].BundleHash != "abc" {
		t.Errorf("read back %+v (%v)", got[0], err)
	}
	if other, _ := db.Decisions(ctx, "m-other", "pay_x"); len(other) != 0 {
		t.Error("another merchant sees the decision")
	}
	bad := *d
	bad.ID, bad.Input = "", json.RawMessage(`{not json`)
	wantCode(t, "invalid JSON", db.SaveDecision(ctx, &bad), paywire.EINVALID)

	// A batch is written in one statement, in the order of the times the
	// decisions were made, or not at all.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := []paywire.DecisionRecord{
		{Point: "workflow", MerchantID: "m-dec", PaymentID: "pay_y", Input: json.RawMessage(`{}`), Output: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`), CreatedAt: at.Add(time.Microsecond)},
		{Point: "risk", MerchantID: "m-dec", PaymentID: "pay_y", Input: json.RawMessage(`{}`), Output: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`), CreatedAt: at},
	}
	withBad := append(slices.Clone(batch), bad)
	wantCode(t, "a batch with invalid JSON", db.SaveDecisions(ctx, withBad), paywire.EINVALID)
	if got, _ := db.Decisions(ctx, "m-dec", "pay_y"); len(got) != 0 {
		t.Fatalf("a refused batch wrote %d records", len(got))
	}
	if err := db.SaveDecisions(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err = db.Decisions(ctx, "m-dec", "pay_y")
	if err != nil || len(got) != 2 || got[0].Point != "risk" || got[1].Point != "workflow" || !got[0].CreatedAt.Equal(at) || batch[0].ID == "" {
		t.Errorf("batch read back %+v (%v), ids %q", got, err, batch[0].ID)
	}
	// Written again (its change's commit was in doubt), with a new one:
	// the stored ones are skipped, the new one is stored.
	again := append(slices.Clone(batch), paywire.DecisionRecord{Point: "routing", MerchantID: "m-dec", PaymentID: "pay_y",
		Input: json.RawMessage(`{}`), Output: json.RawMessage(`{}`), RulesFired: json.RawMessage(`[]`), CreatedAt: at.Add(time.Second)})
	if err := db.SaveDecisions(ctx, again); err != nil {
		t.Fatalf("records stored already, written again: %v", err)
	}
	if got, err := db.Decisions(ctx, "m-dec", "pay_y"); err != nil || len(got) != 3 || got[2].Point != "routing" {
		t.Errorf("after writing again: %+v, %v; want the two and the new one", got, err)
	}
}

func testAudit(t *testing.T, db *store.DB) {
	var ids []int64
	for _, action := range []string{"a.one", "a.two", "a.three"} {
		e := &paywire.AuditEntry{Actor: "admin:alice", Action: action, Target: "merchant:demo", Details: json.RawMessage(`{"k":"v"}`)}
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("audit ids do not increase: %v", ids)
	}
	got, err := db.AuditEntries(ctx, ids[2], 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 || got[0].ID != ids[1] || got[0].Action != "a.two" || got[1].ID != ids[0] {
		t.Errorf("entries before %d: %+v", ids[2], got)
	}
	wantCode(t, "no actor", db.Audit(ctx, &paywire.AuditEntry{Action: "x"}), paywire.EINVALID)
}

func testAdminUsers(t *testing.T, db *store.DB) {
	u := &paywire.AdminUser{Username: "alice", PasswordHash: "$argon2id$x", Roles: []string{"admin", "compliance"}}
	if err := db.CreateAdminUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.AdminUserByName(ctx, "alice")
	if err != nil || got.ID != u.ID || len(got.Roles) != 2 || got.Roles[1] != "compliance" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	wantCode(t, "duplicate username", db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "alice", PasswordHash: "y", Roles: []string{"viewer"}}), paywire.ECONFLICT)
	wantCode(t, "no role", db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "carol", PasswordHash: "y"}), paywire.EINVALID)
	wantCode(t, "unknown role", db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "carol", PasswordHash: "y", Roles: []string{"root"}}), paywire.EINVALID)
	wantCode(t, "bad username", db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "Carol Smith", PasswordHash: "y", Roles: []string{"viewer"}}), paywire.EINVALID)
	_, err = db.AdminUserByName(ctx, "bob")
	wantCode(t, "unknown user", err, paywire.ENOTFOUND)

	if err := db.SetAdminPassword(ctx, "alice", "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AdminUserByName(ctx, "alice"); got.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash after change: %q", got.PasswordHash)
	}
	wantCode(t, "unknown user's password", db.SetAdminPassword(ctx, "bob", "$argon2id$x"), paywire.ENOTFOUND)

	// Sessions: any node reads them; disabling the user ends them, with
	// the change's audit entry.
	now := db.Now().Truncate(time.Millisecond) // both databases keep microseconds
	s := &paywire.AdminSession{IDHash: "h1", UserID: u.ID, CSRF: "c1", SecondFactorPending: true, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAdminSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	gs, gu, err := db.AdminSession(ctx, "h1")
	if err != nil || gu.Username != "alice" || gs.CSRF != "c1" || !gs.SecondFactorPending || !gs.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("session read back %+v %+v, %v", gs, gu, err)
	}
	if err := db.TouchAdminSession(ctx, "h1", now.Add(time.Minute), true); err != nil {
		t.Fatal(err)
	}
	if gs, _, _ := db.AdminSession(ctx, "h1"); gs.SecondFactorPending || !gs.LastSeenAt.Equal(now.Add(time.Minute)) {
		t.Errorf("after touch: %+v", gs)
	}
	wantCode(t, "touch of no session", db.TouchAdminSession(ctx, "gone", now, false), paywire.ENOTFOUND)
	got.Roles, got.Disabled, got.TOTPSecret = []string{"viewer"}, true, "JBSWY3DPEHPK3PXP"
	if err := db.UpdateAdminUser(ctx, got, &paywire.AuditEntry{Actor: "admin:root", Action: "admin_user.update", Target: "alice"}); err != nil {
		t.Fatal(err)
	}
	if back, _ := db.AdminUserByName(ctx, "alice"); !back.Disabled || back.TOTPSecret != "JBSWY3DPEHPK3PXP" || len(back.Roles) != 1 || back.Roles[0] != "viewer" {
		t.Errorf("updated user %+v", back)
	}
	_, _, err = db.AdminSession(ctx, "h1")
	wantCode(t, "session of a disabled user", err, paywire.ENOTFOUND)
	if es, _ := db.AuditEntries(ctx, 0, 1); len(es) != 1 || es[0].Action != "admin_user.update" || es[0].Target != "alice" {
		t.Errorf("audit %+v", es)
	}
	wantCode(t, "update with no role", db.UpdateAdminUser(ctx, &paywire.AdminUser{ID: u.ID}, nil), paywire.EINVALID)
	wantCode(t, "update of nobody", db.UpdateAdminUser(ctx, &paywire.AdminUser{ID: "adm_none", Roles: []string{"viewer"}}, nil), paywire.ENOTFOUND)

	s2 := &paywire.AdminSession{IDHash: "h2", UserID: u.ID, CSRF: "c2", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(-time.Second)}
	if err := db.CreateAdminSession(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteExpiredAdminSessions(ctx, now); err != nil || n != 1 {
		t.Errorf("expired sessions deleted: %d, %v", n, err)
	}
	if err := db.DeleteAdminSession(ctx, "h2"); err != nil {
		t.Errorf("deleting a session already gone: %v", err)
	}
	if us, err := db.AdminUsers(ctx); err != nil || len(us) != 1 || us[0].Username != "alice" {
		t.Errorf("users %v, %v", us, err)
	}
}

func testMigrations(t *testing.T, db *store.DB) {
	if err := db.CheckMigrations(ctx); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v", applied, err)
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil || len(st) < 2 {
		t.Fatalf("status %v, %v", st, err)
	}
	// A database that a newer binary migrated is refused, not touched.
	if _, err := db.Bun().ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', ?)", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err == nil {
		t.Error("Migrate accepted a database migrated by a newer binary")
	}
	if err := db.CheckMigrations(ctx); err == nil {
		t.Error("CheckMigrations accepted a database migrated by a newer binary")
	}
	st, _ = db.MigrationStatus(ctx)
	if last := st[len(st)-1]; !last.Unknown || last.Version != 9999 {
		t.Errorf("status does not show the unknown migration: %+v", last)
	}
	if _, err := db.Bun().ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 9999"); err != nil {
		t.Fatal(err)
	}
}

func testStartDetails(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-start")
	p := SeedPaymentValue("m-start", "order-urls")
	p.ReturnURLs = paywire.ReturnURLs{Success: "https://shop.example/ok", Error: "https://shop.example/error",
		Cancel: "https://shop.example/cancel", Refused: "https://shop.example/refused", Pending: "https://shop.example/pending"}
	p.NotificationURL = "https://shop.example/notify"
	p.PreselectedMethod = "card"
	CreatePayment(t, db, p)
	got := reread(t, db, p)
	if got.ReturnURLs != p.ReturnURLs || got.NotificationURL != p.NotificationURL || got.PreselectedMethod != "card" {
		t.Errorf("read back %+v / %q / %q", got.ReturnURLs, got.NotificationURL, got.PreselectedMethod)
	}
	c := moved(t, got, paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted, Source: paywire.ActorEndUser})
	c.Payment.RiskScore, c.Payment.RiskAction = 35, paywire.RiskChallenge
	apply(t, db, c)
	if again := reread(t, db, p); again.RiskScore != 35 || again.RiskAction != paywire.RiskChallenge || again.ReturnURLs != p.ReturnURLs {
		t.Errorf("risk read back %d %q", again.RiskScore, again.RiskAction)
	}

	m := &paywire.Merchant{ID: "m-auto", Name: "Auto", AutoCapture: true, AutoCaptureMaxScore: 25, AuthorizationTTL: 48 * time.Hour, RiskProfile: "high_ticket",
		DisabledMethods: []paywire.Method{paywire.MethodEWallet}, CaptureDelay: time.Hour, ReviewTTL: 6 * time.Hour, WithdrawalApprovals: 2}
	if err := db.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	if back, _ := db.Merchant(ctx, "m-auto"); !back.AutoCapture || back.AutoCaptureMaxScore != 25 || back.AuthorizationTTL != 48*time.Hour || back.RiskProfile != "high_ticket" ||
		len(back.DisabledMethods) != 1 || back.Offers(paywire.MethodEWallet) || !back.Offers(paywire.MethodCard) ||
		back.CaptureDelay != time.Hour || back.ReviewTTL != 6*time.Hour || back.WithdrawalApprovals != 2 {
		t.Errorf("auto-capture read back %+v", back)
	}
	if back, _ := db.Merchant(ctx, "m-start"); back.AuthorizationExpiry() != paywire.DefaultAuthorizationTTL {
		t.Errorf("authorization expiry of a merchant that did not choose: %s", back.AuthorizationExpiry())
	}
	wantCode(t, "an unknown method turned off", db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-5", Name: "X", DisabledMethods: []paywire.Method{"cash"}}), paywire.EINVALID)
	wantCode(t, "three approvals", db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-6", Name: "X", WithdrawalApprovals: 3}), paywire.EINVALID)
	wantCode(t, "risk profile not a name", db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-4", Name: "X", RiskProfile: "Strict!"}), paywire.EINVALID)
	wantCode(t, "score limit above 100", db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-2", Name: "X", AutoCaptureMaxScore: 101}), paywire.EINVALID)
	wantCode(t, "authorization expiry above 31 days",
		db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-3", Name: "X", AuthorizationTTL: 32 * 24 * time.Hour}), paywire.EINVALID)
}

// testIdempotentOutcome checks that the outcome of a merchant's request,
// written with the change it made, is what a retry with the same key gets.
func testIdempotentOutcome(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-outcome")
	p := SeedPayment(t, db, "m-outcome", "order-1")
	if res, err := db.ClaimIdempotencyKey(ctx, "m-outcome", "cancel-1", "hash-a"); err != nil || res != nil {
		t.Fatalf("claim: %q, %v", res, err)
	}
	c := moved(t, p, paywire.Move{To: paywire.StateCancelled, Type: paywire.EventCancelRequested, Source: paywire.ActorMerchant})
	c.Idempotency = &paywire.IdempotentResult{MerchantID: "m-outcome", Key: "cancel-1", RequestHash: "hash-a", Result: []byte(`{"state":"CANCELLED"}`)}
	apply(t, db, c)
	res, err := db.ClaimIdempotencyKey(ctx, "m-outcome", "cancel-1", "hash-a")
	if err != nil || string(res) != `{"state":"CANCELLED"}` {
		t.Fatalf("retry: %q, %v", res, err)
	}
	_, err = db.ClaimIdempotencyKey(ctx, "m-outcome", "cancel-1", "hash-b")
	wantCode(t, "same key, other request", err, paywire.EIDEMPOTENCY)

	// A refused change leaves the claim as it was: still running, no outcome.
	q := SeedPayment(t, db, "m-outcome", "order-2")
	if _, err := db.ClaimIdempotencyKey(ctx, "m-outcome", "capture-2", "hash-c"); err != nil {
		t.Fatal(err)
	}
	stale := moved(t, q, paywire.Move{To: paywire.StateCancelled})
	Move(t, db, q, paywire.Move{To: paywire.StatePending})
	stale.Idempotency = &paywire.IdempotentResult{MerchantID: "m-outcome", Key: "capture-2", RequestHash: "hash-c", Result: []byte(`{}`)}
	wantCode(t, "stale change", db.ApplyStateChange(ctx, stale), paywire.ECONFLICT)
	_, err = db.ClaimIdempotencyKey(ctx, "m-outcome", "capture-2", "hash-c")
	wantCode(t, "claim of a refused change", err, paywire.EINPROGRESS)
}

func testAttempts(t *testing.T, db *store.DB) {
	m := SeedMerchant(t, db, "m-att")
	if len(m.SigningSecret) < 32 {
		t.Errorf("signing secret %q", m.SigningSecret)
	}
	if got, _ := db.Merchant(ctx, "m-att"); got.SigningSecret != m.SigningSecret {
		t.Errorf("signing secret read back %q", got.SigningSecret)
	}
	clock := t0
	db.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	defer func() { db.Now = time.Now }()

	p := SeedPayment(t, db, "m-att", "att-1")
	a := attempt(p, 1)
	c := moved(t, p, paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted})
	c.Attempts = []paywire.Attempt{a}
	apply(t, db, c)
	first, err := db.Attempt(ctx, a.ID)
	if err != nil || first.Status != paywire.AttemptStarted || first.Operation != paywire.OpAuthorize || first.Amount != 1000 ||
		first.N != 1 || first.IdempotencyKey != a.IdempotencyKey || first.CreatedAt.IsZero() {
		t.Fatalf("inserted: %+v, %v", first, err)
	}

	dup := attempt(p, 1)
	dup.Provider, dup.IdempotencyKey = "acquirer-b", p.ID+"-1b"
	wantCode(t, "same n", db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{dup}}), paywire.ECONFLICT)

	// Updated by id: reference, status and code; the rest is as inserted.
	a.Reference, a.Status, a.Code = "ref-9", paywire.AttemptPending, ""
	a.Provider, a.Amount = "acquirer-b", 1
	apply(t, db, paywire.StateChange{Attempts: []paywire.Attempt{a}})
	got, err := db.AttemptByReference(ctx, "acquirer-a", "ref-9")
	if err != nil || got.ID != a.ID || got.Status != paywire.AttemptPending || got.MerchantID != "m-att" || got.Amount != 1000 ||
		!got.CreatedAt.Equal(first.CreatedAt) || !got.UpdatedAt.After(first.UpdatedAt) {
		t.Fatalf("by reference: %+v, %v", got, err)
	}
	if _, err := db.AttemptByReference(ctx, "acquirer-b", "ref-9"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("another provider's reference: %v", err)
	}
	a.Status, a.Code = paywire.AttemptApproved, "00"
	apply(t, db, paywire.StateChange{Attempts: []paywire.Attempt{a}})
	if byID, err := db.Attempt(ctx, a.ID); err != nil || byID.Reference != "ref-9" || byID.Status != paywire.AttemptApproved || byID.Code != "00" {
		t.Errorf("by id: %+v, %v", byID, err)
	}

	// A capture's reference does not name the payment's authorization.
	capture := attempt(p, 2)
	capture.Operation, capture.Reference, capture.Status = paywire.OpCapture, "cap-1", paywire.AttemptApproved
	apply(t, db, paywire.StateChange{Attempts: []paywire.Attempt{capture}})
	if _, err := db.AttemptByReference(ctx, "acquirer-a", "cap-1"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("a capture found by reference: %v", err)
	}
	all, err := db.Attempts(ctx, "m-att", p.ID)
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != capture.ID {
		t.Errorf("attempts %+v, %v", all, err)
	}
	if other, _ := db.Attempts(ctx, "someone-else", p.ID); len(other) != 0 {
		t.Errorf("another merchant sees attempts: %+v", other)
	}

	// Provider events are marked seen with the change they cause, once.
	seen := func(provider, id string) bool {
		t.Helper()
		ok, err := db.ProviderEventSeen(ctx, provider, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen("acquirer-a", "evt-1") {
		t.Error("an event is seen before any change")
	}
	apply(t, db, paywire.StateChange{ProviderEvent: &paywire.ProviderEvent{Provider: "acquirer-a", EventID: "evt-1", PaymentID: p.ID}})
	if !seen("acquirer-a", "evt-1") {
		t.Error("the event is not seen after its change")
	}
	wantCode(t, "duplicate event",
		db.ApplyStateChange(ctx, paywire.StateChange{ProviderEvent: &paywire.ProviderEvent{Provider: "acquirer-a", EventID: "evt-1", PaymentID: p.ID}}),
		paywire.ECONFLICT)
	if seen("acquirer-b", "evt-1") {
		t.Error("another provider's event with the same id is seen")
	}
	apply(t, db, paywire.StateChange{ProviderEvent: &paywire.ProviderEvent{Provider: "acquirer-b", EventID: "evt-1", PaymentID: p.ID}})
}

func testIdempotency(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-idem")
	SeedMerchant(t, db, "m-idem-2")
	res, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-a")
	if err != nil || res != nil {
		t.Fatalf("first claim: %q, %v; want the claim", res, err)
	}
	_, err = db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-a")
	wantCode(t, "claimed key", err, paywire.EINPROGRESS)
	_, err = db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-b")
	wantCode(t, "other request", err, paywire.EIDEMPOTENCY)
	// Keys are per merchant.
	if res, err := db.ClaimIdempotencyKey(ctx, "m-idem-2", "k1", "hash-b"); err != nil || res != nil {
		t.Fatalf("another merchant's key: %q, %v", res, err)
	}

	if err := db.SaveIdempotentResult(ctx, "m-idem", "k1", []byte(`{"paymentId":"pay_1"}`)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second save", db.SaveIdempotentResult(ctx, "m-idem", "k1", []byte(`{}`)), paywire.ENOTFOUND)
	res, err = db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-a")
	if err != nil || string(res) != `{"paymentId":"pay_1"}` {
		t.Fatalf("replay: %q, %v", res, err)
	}
	_, err = db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-b")
	wantCode(t, "completed key, other request", err, paywire.EIDEMPOTENCY)

	// A released claim may be claimed again; a completed one is not released.
	if _, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k2", "hash-a"); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseIdempotencyKey(ctx, "m-idem", "k2"); err != nil {
		t.Fatal(err)
	}
	if res, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k2", "hash-c"); err != nil || res != nil {
		t.Fatalf("claim after release: %q, %v", res, err)
	}
	if err := db.ReleaseIdempotencyKey(ctx, "m-idem", "k1"); err != nil {
		t.Fatal(err)
	}
	if res, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k1", "hash-a"); err != nil || res == nil {
		t.Fatalf("completed key after a release: %q, %v", res, err)
	}

	// A claim older than the lease belongs to a dead process: taken over.
	if _, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k3", "hash-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bun().NewUpdate().Table("idempotency_keys").
		Set("claimed_at = ?", time.Now().Add(-store.IdempotencyLease-time.Minute).UTC()).
		Where("merchant_id = ? AND key = ?", "m-idem", "k3").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := db.ClaimIdempotencyKey(ctx, "m-idem", "k3", "hash-a"); err != nil || res != nil {
		t.Fatalf("stale claim: %q, %v; want it taken over", res, err)
	}
	_, err = db.ClaimIdempotencyKey(ctx, "m-idem", "k3", "hash-a")
	wantCode(t, "claim taken over", err, paywire.EINPROGRESS)
}

// find returns the message of the event among msgs, or nil.
func find(msgs []paywire.OutboxMessage, eventID string) *paywire.OutboxMessage {
	for i := range msgs {
		if msgs[i].EventID == eventID {
			return &msgs[i]
		}
	}
	return nil
}

func testOutboxDelivery(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-out")
	SeedMerchant(t, db, "m-out-2")
	p := SeedPayment(t, db, "m-out", "out-1")
	evs, _ := db.Events(ctx, "m-out", p.ID)
	ev := evs[0].ID
	now := time.Now().UTC().Add(time.Hour) // the creation's message is due
	lease := time.Minute

	a, err := db.ClaimOutbox(ctx, "worker-a", now, lease, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m := find(a, ev)
	if m == nil || m.Attempts != 1 || m.LockedBy != "worker-a" || m.PaymentNotificationURL != "" {
		t.Fatalf("claimed %+v", m)
	}
	// A payment with a notification URL of its own: the claim gives it.
	own := SeedPaymentValue("m-out", "out-own")
	own.NotificationURL = "https://m-out.example/notify/own"
	own = CreatePayment(t, db, own)
	ownEvs, _ := db.Events(ctx, "m-out", own.ID)
	ownClaim, err := db.ClaimOutbox(ctx, "worker-a", now, lease, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if om := find(ownClaim, ownEvs[0].ID); om == nil || om.PaymentNotificationURL != own.NotificationURL {
		t.Fatalf("claimed %+v; want the payment's own notification URL", om)
	}
	b, _ := db.ClaimOutbox(ctx, "worker-b", now.Add(30*time.Second), lease, 1000)
	if find(b, ev) != nil {
		t.Fatal("a leased message was claimed again")
	}
	// worker-a died; its lease runs out and worker-b takes over.
	b, _ = db.ClaimOutbox(ctx, "worker-b", now.Add(lease+time.Second), lease, 1000)
	if m := find(b, ev); m == nil || m.Attempts != 2 {
		t.Fatalf("after the lease: %+v", m)
	}
	if lost, err := db.DeliveredOutbox(ctx, []int64{m.ID}, "worker-a", now); err != nil || !slices.Equal(lost, []int64{m.ID}) {
		t.Fatalf("the old worker's result: lost %v, %v; want the message lost", lost, err)
	}
	next := now.Add(10 * time.Minute)
	if err := db.FailedOutbox(ctx, m.ID, "worker-b", "merchant answered 503", next, false); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.ClaimOutbox(ctx, "worker-c", next.Add(-time.Second), lease, 1000); find(c, ev) != nil {
		t.Error("claimed before its next attempt")
	}
	und, err := db.UndeliveredOutbox(ctx, "m-out", now.Add(-2*time.Hour), 100)
	if u := find(und, ev); err != nil || u == nil || u.LastError != "merchant answered 503" {
		t.Errorf("undelivered: %+v, %v", und, err)
	}
	if other, _ := db.UndeliveredOutbox(ctx, "m-out-2", now.Add(-2*time.Hour), 100); find(other, ev) != nil {
		t.Error("another merchant lists the message")
	}
	if old, err := db.OldestUndelivered(ctx); err != nil || old.IsZero() {
		t.Errorf("oldest undelivered: %v, %v", old, err)
	}
	c, _ := db.ClaimOutbox(ctx, "worker-c", next, lease, 1000)
	if m := find(c, ev); m == nil || m.Attempts != 3 {
		t.Fatalf("due again: %+v", m)
	}
	if err := db.FailedOutbox(ctx, m.ID, "worker-c", "gave up", next, true); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.ClaimOutbox(ctx, "worker-c", next.Add(time.Hour), lease, 1000); find(c, ev) != nil {
		t.Error("a dead message was claimed")
	}
	wantCode(t, "another merchant's resend", db.ResendOutbox(ctx, "m-out-2", m.ID, next), paywire.ENOTFOUND)
	if err := db.ResendOutbox(ctx, "m-out", m.ID, next); err != nil {
		t.Fatal(err)
	}
	d, _ := db.ClaimOutbox(ctx, "worker-d", next, lease, 1000)
	if m := find(d, ev); m == nil {
		t.Fatal("a resent message is not due")
	}
	if lost, err := db.DeliveredOutbox(ctx, []int64{m.ID}, "worker-d", next); err != nil || len(lost) != 0 {
		t.Fatalf("delivered: lost %v, %v", lost, err)
	}
	und, _ = db.UndeliveredOutbox(ctx, "m-out", now.Add(-2*time.Hour), 100)
	if find(und, ev) != nil {
		t.Error("a delivered message is listed as undelivered")
	}
}

// testOutboxDeliveredTogether: one call marks a worker's deliveries,
// and names those it no longer holds, which it leaves as they are.
func testOutboxDeliveredTogether(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-batch")
	for i := range 3 {
		SeedPayment(t, db, "m-batch", fmt.Sprintf("batch-%d", i))
	}
	now := time.Now().UTC().Add(time.Hour)
	lease := time.Minute
	a, err := db.ClaimOutbox(ctx, "worker-a", now, lease, 1000)
	if err != nil || len(a) != 3 {
		t.Fatalf("claimed %d, %v; want 3", len(a), err)
	}
	// The third's lease ran out and worker-b took it.
	if err := db.FailedOutbox(ctx, a[2].ID, "worker-a", "timeout", now, false); err != nil {
		t.Fatal(err)
	}
	b, err := db.ClaimOutbox(ctx, "worker-b", now, lease, 1000)
	if err != nil || len(b) != 1 || b[0].ID != a[2].ID {
		t.Fatalf("worker-b claimed %+v, %v", b, err)
	}
	if lost, err := db.DeliveredOutbox(ctx, nil, "worker-a", now); err != nil || lost != nil {
		t.Fatalf("nothing to mark: lost %v, %v", lost, err)
	}
	ids := []int64{a[0].ID, a[1].ID, a[2].ID}
	lost, err := db.DeliveredOutbox(ctx, ids, "worker-a", now)
	if err != nil || !slices.Equal(lost, []int64{a[2].ID}) {
		t.Fatalf("lost %v, %v; want only the one worker-b holds (%d)", lost, err, a[2].ID)
	}
	und, err := db.UndeliveredOutbox(ctx, "m-batch", now.Add(-2*time.Hour), 100)
	if err != nil || len(und) != 1 || und[0].ID != a[2].ID || und[0].LockedBy != "worker-b" {
		t.Fatalf("undelivered %+v, %v; want only worker-b's, still held by it", und, err)
	}
	// Marked twice: the second time they are not held any more.
	if lost, err := db.DeliveredOutbox(ctx, ids[:2], "worker-a", now); err != nil || !slices.Equal(lost, ids[:2]) {
		t.Fatalf("marked again: lost %v, %v", lost, err)
	}
}

// testFollowUps follows one follow-up from the change that schedules it
// to the change that carries it out.
func testFollowUps(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-fu")
	p := SeedPayment(t, db, "m-fu", "order-1")
	c := moved(t, p, paywire.Move{To: paywire.StateAuthorized, Type: paywire.EventProviderAuthorized, At: t0})
	c.FollowUps = []paywire.FollowUp{
		followUp(p, paywire.FollowUpCapture, t0.Add(time.Hour)),
		followUp(p, paywire.FollowUpAuthorizationExpiry, t0.Add(7*24*time.Hour)),
	}
	apply(t, db, c)
	p = reread(t, db, p)
	fus, err := db.FollowUps(ctx, "m-fu", p.ID)
	if err != nil || len(fus) != 2 {
		t.Fatalf("follow-ups %+v, %v", fus, err)
	}
	capture, expiry := fus[0], fus[1]
	if c.FollowUps[0].ID != capture.ID || c.FollowUps[1].ID != expiry.ID {
		t.Errorf("the change learnt follow-up ids %d and %d, stored %d and %d", c.FollowUps[0].ID, c.FollowUps[1].ID, capture.ID, expiry.ID)
	}
	if capture.Kind != paywire.FollowUpCapture || !capture.DueAt.Equal(t0.Add(time.Hour)) || capture.Status != paywire.FollowUpPending ||
		capture.Attempts != 0 || capture.MerchantID != "m-fu" || capture.PaymentID != p.ID || expiry.Kind != paywire.FollowUpAuthorizationExpiry {
		t.Errorf("scheduled %+v", fus)
	}
	if other, err := db.FollowUps(ctx, "m-other", p.ID); err != nil || len(other) != 0 {
		t.Errorf("another merchant sees follow-ups: %+v, %v", other, err)
	}

	claim := func(worker string, now time.Time) []paywire.FollowUp {
		t.Helper()
		got, err := db.ClaimFollowUps(ctx, worker, now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := claim("worker-a", t0.Add(time.Hour-time.Microsecond)); len(got) != 0 {
		t.Fatalf("claimed before due: %+v", got)
	}
	due := t0.Add(time.Hour)
	got := claim("worker-a", due)
	if len(got) != 1 || got[0].ID != capture.ID || got[0].Attempts != 1 {
		t.Fatalf("claimed when due: %+v", got)
	}
	if got := claim("worker-b", due.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("claimed while leased: %+v", got)
	}
	// worker-a died; its lease runs out and worker-b takes over.
	got = claim("worker-b", due.Add(time.Minute+time.Second))
	if len(got) != 1 || got[0].ID != capture.ID || got[0].Attempts != 2 {
		t.Fatalf("claimed after the lease: %+v", got)
	}
	wantCode(t, "retry by the worker that lost the lease",
		db.RetryFollowUp(ctx, capture.ID, "worker-a", due.Add(time.Hour), "late", false), paywire.ECONFLICT)
	next := t0.Add(2 * time.Hour)
	if err := db.RetryFollowUp(ctx, capture.ID, "worker-b", next, "provider unavailable", false); err != nil {
		t.Fatal(err)
	}
	fus, _ = db.FollowUps(ctx, "m-fu", p.ID)
	if fus[0].Status != paywire.FollowUpPending || fus[0].LastError != "provider unavailable" || !fus[0].DueAt.Equal(next) {
		t.Errorf("after a retry: %+v", fus[0])
	}
	if got := claim("worker-c", next.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("claimed before its retry: %+v", got)
	}
	got = claim("worker-c", next)
	if len(got) != 1 || got[0].ID != capture.ID || got[0].Attempts != 3 {
		t.Fatalf("claimed for its retry: %+v", got)
	}

	// Carried out with the change it makes: done, never claimed again.
	c = moved(t, p, paywire.Move{To: paywire.StateCompleted, Type: paywire.EventCaptureDue, Capture: 1000, At: next})
	c.DoneFollowUp = capture.ID
	apply(t, db, c)
	p = reread(t, db, p)
	fus, _ = db.FollowUps(ctx, "m-fu", p.ID)
	if fus[0].Status != paywire.FollowUpDone || fus[1].Status != paywire.FollowUpPending {
		t.Errorf("after the capture: %+v", fus)
	}
	wantCode(t, "retry of a follow-up carried out", db.RetryFollowUp(ctx, capture.ID, "worker-c", next, "", false), paywire.ECONFLICT)
	if got := claim("worker-d", next.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("a follow-up carried out was claimed: %+v", got)
	}
	before := footprintOf(t, db, p)
	c = moved(t, p, paywire.Move{To: paywire.StatePartiallyRefunded, Refund: 100})
	c.DoneFollowUp = capture.ID
	wantCode(t, "carried out twice", db.ApplyStateChange(ctx, c), paywire.ECONFLICT)
	wantUnchanged(t, db, p, before, "a change carrying out a follow-up twice")

	// Given up: for a person, not for a worker.
	week := t0.Add(7 * 24 * time.Hour)
	got = claim("worker-e", week)
	if len(got) != 1 || got[0].ID != expiry.ID {
		t.Fatalf("claimed a week later: %+v", got)
	}
	if err := db.RetryFollowUp(ctx, expiry.ID, "worker-e", week.Add(time.Hour), "no such authorization", true); err != nil {
		t.Fatal(err)
	}
	fus, _ = db.FollowUps(ctx, "m-fu", p.ID)
	if fus[1].Status != paywire.FollowUpFailed || fus[1].LastError != "no such authorization" {
		t.Errorf("given up: %+v", fus[1])
	}
	if got := claim("worker-e", week.Add(30*24*time.Hour)); len(got) != 0 {
		t.Fatalf("a follow-up given up was claimed: %+v", got)
	}

	_, err = db.ClaimFollowUps(ctx, "", t0, time.Minute, 10)
	wantCode(t, "claim without a worker", err, paywire.EINVALID)
	_, err = db.ClaimFollowUps(ctx, "worker-f", t0, 0, 10)
	wantCode(t, "claim without a lease", err, paywire.EINVALID)
}

// testFollowUpBacklog checks what FollowUpBacklog counts (pending and due,
// leased or not) and that claims take the oldest due first.
func testFollowUpBacklog(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-backlog")
	p := SeedPayment(t, db, "m-backlog", "order-1")
	var c paywire.StateChange
	for i := 4; i >= 0; i-- { // scheduled newest first: claims go by due time
		c.FollowUps = append(c.FollowUps, followUp(p, paywire.FollowUpStatusQuery, t0.Add(time.Duration(i)*time.Minute)))
	}
	apply(t, db, c)
	backlog := func(now time.Time) int {
		t.Helper()
		n, err := db.FollowUpBacklog(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := backlog(t0.Add(-time.Second)); n != 0 {
		t.Errorf("backlog before anything is due: %d", n)
	}
	if n := backlog(t0.Add(2 * time.Minute)); n != 3 {
		t.Errorf("backlog with three due: %d", n)
	}
	now := t0.Add(10 * time.Minute)
	got, err := db.ClaimFollowUps(ctx, "worker-a", now, time.Minute, 2)
	if err != nil || len(got) != 2 || !got[0].DueAt.Equal(t0) || !got[1].DueAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claimed %+v, %v; want the two oldest", got, err)
	}
	if n := backlog(now); n != 5 {
		t.Errorf("backlog with two of five leased: %d, want 5", n)
	}
	apply(t, db, paywire.StateChange{DoneFollowUp: got[0].ID})
	if err := db.RetryFollowUp(ctx, got[1].ID, "worker-a", now, "gave up", true); err != nil {
		t.Fatal(err)
	}
	if n := backlog(now); n != 3 {
		t.Errorf("backlog after one done and one given up: %d, want 3", n)
	}
	rest, err := db.ClaimFollowUps(ctx, "worker-b", now, time.Minute, 10)
	if err != nil || len(rest) != 3 {
		t.Fatalf("claimed %+v, %v; want the three left", rest, err)
	}
	for _, f := range rest {
		if err := db.RetryFollowUp(ctx, f.ID, "worker-b", now.Add(time.Hour), "not yet", false); err != nil {
			t.Fatal(err)
		}
	}
	if n := backlog(now); n != 0 {
		t.Errorf("backlog with all retried later: %d", n)
	}
	if n := backlog(now.Add(time.Hour)); n != 3 {
		t.Errorf("backlog when the retries are due: %d", n)
	}
}

// testConcurrentFollowUpClaims has 4 workers claim 40 due follow-ups at
// once, a few at a time: every follow-up is claimed, and by one worker only.
func testConcurrentFollowUpClaims(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-claims")
	p := SeedPayment(t, db, "m-claims", "order-1")
	const rows, workers = 40, 4
	var c paywire.StateChange
	for i := range rows {
		c.FollowUps = append(c.FollowUps, followUp(p, paywire.FollowUpStatusQuery, t0.Add(time.Duration(i)*time.Second)))
	}
	apply(t, db, c)

	now := t0.Add(time.Hour)
	claimed := make([][]int64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				got, err := db.ClaimFollowUps(ctx, "worker-"+string(rune('a'+w)), now, time.Minute, 3)
				if err != nil {
					errs[w] = err
					return
				}
				if len(got) == 0 {
					return
				}
				for _, f := range got {
					claimed[w] = append(claimed[w], f.ID)
				}
			}
		}()
	}
	close(start)
	wg.Wait()

	seen := map[int64]int{}
	for w := range workers {
		if errs[w] != nil {
			t.Errorf("worker %d: %v", w, errs[w])
		}
		for _, id := range claimed[w] {
			if prev, ok := seen[id]; ok {
				t.Errorf("follow-up %d claimed by workers %d and %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	if len(seen) != rows {
		t.Errorf("%d follow-ups claimed, want %d", len(seen), rows)
	}
	fus, err := db.FollowUps(ctx, "m-claims", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fus {
		if f.Attempts != 1 {
			t.Errorf("follow-up %d claimed %d times", f.ID, f.Attempts)
		}
	}
	if again, err := db.ClaimFollowUps(ctx, "worker-z", now, time.Minute, rows); err != nil || len(again) != 0 {
		t.Errorf("claimed again while leased: %d, %v", len(again), err)
	}
}

// testApprovals checks that approvals are written with their change, read
// back in order, and that a taken number or a second approval by the same
// person refuses the whole change.
func testApprovals(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-approve")
	p := SeedPayment(t, db, "m-approve", "order-1")
	p = Move(t, db, p, paywire.Move{To: paywire.StateReview})
	approval := func(seq int, who paywire.Actor) *paywire.Approval {
		return &paywire.Approval{PaymentID: p.ID, MerchantID: p.MerchantID, Seq: seq, Approver: who, Reason: "checked", At: t0}
	}
	same := func() *paywire.Payment { q := *p; return &q }
	if as, err := db.Approvals(ctx, p.MerchantID, p.ID); err != nil || len(as) != 0 {
		t.Fatalf("approvals before any: %v, %v", as, err)
	}
	apply(t, db, paywire.StateChange{Payment: same(), Version: p.Version, Approval: approval(1, "admin:alice")})
	before := footprintOf(t, db, p)
	wantCode(t, "a taken number", db.ApplyStateChange(ctx, paywire.StateChange{Payment: same(), Version: p.Version,
		Approval: approval(1, "admin:bob"), Audit: &paywire.AuditEntry{Actor: "admin:bob", Action: "payment.review.approve", Target: p.ID}}), paywire.ECONFLICT)
	wantCode(t, "the same person again", db.ApplyStateChange(ctx, paywire.StateChange{Payment: same(), Version: p.Version,
		Approval: approval(2, "admin:alice")}), paywire.ECONFLICT)
	if after := footprintOf(t, db, p); after != before {
		t.Errorf("a refused approval wrote %+v, had %+v", after, before)
	}
	c := moved(t, p, paywire.Move{To: paywire.StatePending, Type: paywire.EventReviewApproved, Source: "admin:bob"})
	c.Approval = approval(2, "admin:bob")
	apply(t, db, c)
	as, err := db.Approvals(ctx, p.MerchantID, p.ID)
	if err != nil || len(as) != 2 || as[0].Approver != "admin:alice" || as[1].Approver != "admin:bob" || as[1].Seq != 2 || !as[0].At.Equal(t0) || as[0].Reason != "checked" {
		t.Fatalf("approvals %+v, %v", as, err)
	}
	if as, err := db.Approvals(ctx, "m-other", p.ID); err != nil || len(as) != 0 {
		t.Errorf("another merchant reads %v, %v", as, err)
	}
	byID, err := db.ApprovalsOf(ctx, []string{p.ID, "pay_none"})
	if err != nil || len(byID[p.ID]) != 2 || len(byID["pay_none"]) != 0 {
		t.Errorf("approvals by payment %v, %v", byID, err)
	}
}

// testPayoutSource checks which deposit a withdrawal pays out to: the end
// user's latest paid one with the method (and card), not one charged back
// or without the provider's reference, and never another end user's.
func testPayoutSource(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-payout")
	paid := func(ref, fingerprint string, at time.Time, to paywire.State) *paywire.Payment {
		p := SeedPaymentValue("m-payout", ref)
		p.EndUser = paywire.EndUser{ID: "u1", Country: "DE"}
		p.Method, p.Provider, p.Card.Fingerprint, p.CreatedAt = paywire.MethodCard, "acquirer-a", fingerprint, at
		p = CreatePayment(t, db, p)
		p.ProviderReference = "psp-" + ref
		p = Move(t, db, p, paywire.Move{To: paywire.StatePending})
		p = Move(t, db, p, paywire.Move{To: paywire.StateCompleted, Capture: p.Amount.Amount})
		if to == paywire.StateChargedBack {
			p = Move(t, db, p, paywire.Move{To: to, Type: paywire.EventChargeback, Chargeback: p.Amount.Amount})
		}
		return p
	}
	older := paid("d-1", "fp-a", t0.Add(-2*time.Hour), paywire.StateCompleted)
	newer := paid("d-2", "fp-b", t0.Add(-time.Hour), paywire.StateCompleted)
	paid("d-3", "fp-a", t0, paywire.StateChargedBack)
	if got, err := db.PayoutSource(ctx, "m-payout", "u1", paywire.MethodCard, ""); err != nil || got.ID != newer.ID {
		t.Errorf("latest card deposit: %+v, %v", got, err)
	}
	if got, err := db.PayoutSource(ctx, "m-payout", "u1", paywire.MethodCard, "fp-a"); err != nil || got.ID != older.ID {
		t.Errorf("deposit with card a (the newer one was charged back): %+v, %v", got, err)
	}
	_, err := db.PayoutSource(ctx, "m-payout", "u1", paywire.MethodCard, "fp-unknown")
	wantCode(t, "a card never paid with", err, paywire.ENOTFOUND)
	_, err = db.PayoutSource(ctx, "m-payout", "u2", paywire.MethodCard, "")
	wantCode(t, "another end user", err, paywire.ENOTFOUND)
	_, err = db.PayoutSource(ctx, "m-payout", "u1", paywire.MethodEWallet, "")
	wantCode(t, "a method never paid with", err, paywire.ENOTFOUND)
}

// testMootFollowUps: a change marks done the payment's pending follow-ups
// of the kinds it makes moot, in its transaction, but not one a worker
// holds, nor the one it carries out itself (its own statement does), nor
// another payment's or another kind's.
func testMootFollowUps(t *testing.T, db *store.DB) {
	now := t0.Add(time.Hour)
	db.Now = func() time.Time { return now }
	defer func() { db.Now = time.Now }()
	SeedMerchant(t, db, "m-moot")
	p := SeedPayment(t, db, "m-moot", "order-1")
	other := SeedPayment(t, db, "m-moot", "order-2")
	apply(t, db, moved(t, p, paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted, At: t0}))
	p = reread(t, db, p)
	apply(t, db, paywire.StateChange{FollowUps: []paywire.FollowUp{
		followUp(p, paywire.FollowUpStatusQuery, t0),    // held by a worker below
		followUp(p, paywire.FollowUpStatusQuery, t0),    // carried out by the change
		followUp(p, paywire.FollowUpStatusQuery, now),   // moot
		followUp(p, paywire.FollowUpProcess, now),       // moot
		followUp(p, paywire.FollowUpPaymentExpiry, now), // another kind
		followUp(other, paywire.FollowUpProcess, t0),    // another payment
	}})
	claimed, err := db.ClaimFollowUps(ctx, "worker-a", now, time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %+v, %v", claimed, err)
	}
	fus, err := db.FollowUps(ctx, "m-moot", p.ID)
	if err != nil || len(fus) != 5 {
		t.Fatalf("follow-ups %+v, %v", fus, err)
	}
	held, carried := claimed[0].ID, fus[1].ID
	if held != fus[0].ID {
		t.Fatalf("the worker holds %d, want the first status query %d", held, fus[0].ID)
	}
	c := moved(t, p, paywire.Move{To: paywire.StateAuthorized, Type: paywire.EventProviderAuthorized, At: now})
	c.DoneFollowUp = carried
	c.MootFollowUps = []paywire.FollowUpKind{paywire.FollowUpStatusQuery, paywire.FollowUpProcess}
	apply(t, db, c)
	fus, _ = db.FollowUps(ctx, "m-moot", p.ID)
	want := []string{paywire.FollowUpPending, paywire.FollowUpDone, paywire.FollowUpDone, paywire.FollowUpDone, paywire.FollowUpPending}
	for i, f := range fus {
		if f.Status != want[i] {
			t.Errorf("follow-up %d (%s): %s, want %s", i, f.Kind, f.Status, want[i])
		}
	}
	if fs, _ := db.FollowUps(ctx, "m-moot", other.ID); len(fs) != 1 || fs[0].Status != paywire.FollowUpPending {
		t.Errorf("another payment's follow-up: %+v", fs)
	}
	// The worker finishes what it holds.
	apply(t, db, paywire.StateChange{DoneFollowUp: held})

	// A change that fails writes none of it.
	p = reread(t, db, p)
	apply(t, db, paywire.StateChange{FollowUps: []paywire.FollowUp{followUp(p, paywire.FollowUpProcess, now)}})
	stale := moved(t, p, paywire.Move{To: paywire.StateCancelled, Type: paywire.EventCancelRequested, At: now})
	stale.MootFollowUps = []paywire.FollowUpKind{paywire.FollowUpProcess}
	apply(t, db, moved(t, p, paywire.Move{To: paywire.StateCompleted, Type: paywire.EventCaptureRequested, At: now, Capture: 1000}))
	wantCode(t, "a stale change", db.ApplyStateChange(ctx, stale), paywire.ECONFLICT)
	fus, _ = db.FollowUps(ctx, "m-moot", p.ID)
	if last := fus[len(fus)-1]; last.Kind != paywire.FollowUpProcess || last.Status != paywire.FollowUpPending {
		t.Errorf("after a change that failed: %+v", last)
	}
}
