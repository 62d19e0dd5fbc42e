package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// Contract runs the store's contract suite on every database.
func Contract(t *testing.T) {
	ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		t.Run("Merchants", func(t *testing.T) { testMerchants(t, db) })
		t.Run("CreatePayment", func(t *testing.T) { testCreatePayment(t, db) })
		t.Run("TenantIsolation", func(t *testing.T) { testTenantIsolation(t, db) })
		t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, db) })
		t.Run("RefusedChangesWriteNothing", func(t *testing.T) { testRefusedChanges(t, db) })
		t.Run("ConcurrentTransitions", func(t *testing.T) { testConcurrentTransitions(t, db) })
		t.Run("HistoryIsAppendOnly", func(t *testing.T) { testAppendOnly(t, db) })
		t.Run("Decisions", func(t *testing.T) { testDecisions(t, db) })
		t.Run("Audit", func(t *testing.T) { testAudit(t, db) })
		t.Run("AdminUsers", func(t *testing.T) { testAdminUsers(t, db) })
		t.Run("Migrations", func(t *testing.T) { testMigrations(t, db) })
		t.Run("StartDetails", func(t *testing.T) { testStartDetails(t, db) })
		t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, db) })
		t.Run("Attempts", func(t *testing.T) { testAttempts(t, db) })
		t.Run("OutboxDelivery", func(t *testing.T) { testOutboxDelivery(t, db) })
	})
}

var ctx = context.Background()

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := paywire.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
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
	if got.Amount != p.Amount || got.EndUser != p.EndUser || got.MerchantReference != "order-1" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("read back %+v, stored %+v", got, p)
	}
	byRef, err := db.PaymentByReference(ctx, "m-create", "order-1")
	if err != nil || byRef.ID != p.ID {
		t.Fatalf("by reference: %v, %v", byRef, err)
	}
	evs, err := db.Events(ctx, "m-create", p.ID)
	if err != nil || len(evs) != 1 || evs[0].Seq != 1 || evs[0].To != paywire.StateCreated || evs[0].From != "" {
		t.Fatalf("creation event: %+v, %v", evs, err)
	}

	dup := SeedPaymentValue("m-create", "order-1")
	wantCode(t, "same merchant reference", db.CreatePayment(ctx, dup), paywire.ECONFLICT)
	bad := SeedPaymentValue("m-create", "order-2")
	bad.Amount.Amount = 0
	wantCode(t, "zero amount", db.CreatePayment(ctx, bad), paywire.EINVALID)
	if _, err := db.PaymentByReference(ctx, "m-create", "order-2"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("refused payment was stored: %v", err)
	}
	wantCode(t, "unknown merchant", db.CreatePayment(ctx, SeedPaymentValue("nobody", "x")), paywire.ENOTFOUND)

	// Every state change, creation included, leaves a notification.
	out, err := db.PendingOutbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range out {
		if o.EventID == evs[0].ID {
			found = true
			var pl paywire.NotificationPayload
			if err := json.Unmarshal(o.Payload, &pl); err != nil {
				t.Fatal(err)
			}
			if pl.PaymentID != p.ID || pl.NewState != "CREATED" || pl.Amount != "10.00" || pl.Currency != "EUR" || pl.Seq != 1 {
				t.Errorf("outbox payload %+v", pl)
			}
		}
	}
	if !found {
		t.Error("no outbox row for the creation event")
	}
}

// SeedPaymentValue returns an unsaved 10.00 EUR deposit.
func SeedPaymentValue(merchantID, reference string) *paywire.Payment {
	amt, _ := paywire.NewMoney(1000, "EUR")
	return &paywire.Payment{MerchantID: merchantID, MerchantReference: reference, Kind: paywire.KindDeposit, Amount: amt}
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
	_, _, err = db.ApplyStateChange(ctx, paywire.StateChange{PaymentID: p.ID, MerchantID: "m-other", Version: 1, To: paywire.StateCancelled, Source: "merchant"})
	wantCode(t, "other merchant cancels", err, paywire.ENOTFOUND)
	if got, _ := db.Payment(ctx, "m-owner", p.ID); got.State != paywire.StateCreated || got.Version != 1 {
		t.Errorf("another merchant changed the payment: %+v", got)
	}
	// The same reference is free for another merchant.
	SeedPayment(t, db, "m-other", "order-1")
}

func testLifecycle(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-life")
	p := SeedPayment(t, db, "m-life", "order-1")
	clock := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	db.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	defer func() { db.Now = time.Now }()

	steps := []paywire.StateChange{
		{To: paywire.StatePending, Provider: "sandbox-a", Method: "card", Reason: "sent to provider"},
		{To: paywire.StateAuthorized, ProviderReference: "psp-123", Reason: "approved"},
		{To: paywire.StateCompleted, CaptureAmount: 800, Reason: "partial capture"},
		{To: paywire.StatePartiallyRefunded, RefundAmount: 300, Reason: "refund 1"},
		{To: paywire.StatePartiallyRefunded, RefundAmount: 200, Reason: "refund 2"},
		{To: paywire.StateRefunded, RefundAmount: 300, Reason: "refund 3"},
	}
	version := p.Version
	for i, s := range steps {
		s.PaymentID, s.MerchantID, s.Version, s.Source = p.ID, "m-life", version, "provider:sandbox-a"
		got, ev, err := db.ApplyStateChange(ctx, s)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, s.To, err)
		}
		if got.Version != version+1 || ev.Seq != got.Version || got.State != s.To || !ev.OccurredAt.Equal(clock) || !got.UpdatedAt.Equal(clock) {
			t.Fatalf("step %d: payment %+v event %+v", i, got, ev)
		}
		version = got.Version
	}
	got, err := db.Payment(ctx, "m-life", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Captured != 800 || got.Refunded != 800 || got.Provider != "sandbox-a" || got.ProviderReference != "psp-123" || got.Method != "card" {
		t.Errorf("final payment %+v", got)
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
		if i > 0 && ev.From != evs[i-1].To {
			t.Errorf("event %d moves from %s but the previous one ended in %s", i, ev.From, evs[i-1].To)
		}
	}
	if evs[3].Amount != 800 || evs[4].Amount != 300 {
		t.Errorf("event amounts %d %d", evs[3].Amount, evs[4].Amount)
	}
	// refunded is terminal.
	_, _, err = db.ApplyStateChange(ctx, paywire.StateChange{PaymentID: p.ID, MerchantID: "m-life", Version: version, To: paywire.StateChargedBack, Source: "provider:sandbox-a"})
	wantCode(t, "move out of a terminal state", err, paywire.EILLEGALMOVE)
}

func testRefusedChanges(t *testing.T, db *store.DB) {
	SeedMerchant(t, db, "m-refuse")
	p := SeedPayment(t, db, "m-refuse", "order-1")
	base := paywire.StateChange{PaymentID: p.ID, MerchantID: "m-refuse", Version: 1, Source: "system"}

	c := base
	c.To = paywire.StateRefunded
	_, _, err := db.ApplyStateChange(ctx, c)
	wantCode(t, "created -> refunded", err, paywire.EILLEGALMOVE)

	c = base
	c.To, c.CaptureAmount = paywire.StateCompleted, 1001
	_, _, err = db.ApplyStateChange(ctx, c)
	wantCode(t, "capture above the authorized amount", err, paywire.EINVALID)

	c = base
	c.To, c.Version = paywire.StatePending, 7
	_, _, err = db.ApplyStateChange(ctx, c)
	wantCode(t, "stale version", err, paywire.ECONFLICT)

	c = base
	c.PaymentID, c.To = "pay_missing", paywire.StatePending
	_, _, err = db.ApplyStateChange(ctx, c)
	wantCode(t, "unknown payment", err, paywire.ENOTFOUND)

	got, _ := db.Payment(ctx, "m-refuse", p.ID)
	evs, _ := db.Events(ctx, "m-refuse", p.ID)
	if got.State != paywire.StateCreated || got.Version != 1 || got.Captured != 0 || len(evs) != 1 {
		t.Errorf("a refused change wrote something: %+v, %d events", got, len(evs))
	}
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
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	wins := make([]*paywire.Payment, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			wins[i], _, errs[i] = db.ApplyStateChange(ctx, paywire.StateChange{
				PaymentID: p.ID, MerchantID: "m-race", Version: 1, To: targets[i%len(targets)], Source: "system",
			})
		}()
	}
	close(start)
	wg.Wait()

	var winner *paywire.Payment
	for i, err := range errs {
		switch {
		case err == nil:
			if winner != nil {
				t.Fatalf("two writers won: %s and %s", winner.State, wins[i].State)
			}
			winner = wins[i]
		case paywire.ErrorCode(err) != paywire.ECONFLICT:
			t.Errorf("writer %d: %v, want a conflict", i, err)
		}
	}
	if winner == nil {
		t.Fatal("no writer won")
	}
	got, err := db.Payment(ctx, "m-race", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Events(ctx, "m-race", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.State != winner.State || len(evs) != 2 || evs[1].Seq != 2 || evs[1].To != winner.State {
		t.Fatalf("after the race: payment %+v, events %+v", got, evs)
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
	wantCode(t, "duplicate username", db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "alice", PasswordHash: "y"}), paywire.ECONFLICT)
	_, err = db.AdminUserByName(ctx, "bob")
	wantCode(t, "unknown user", err, paywire.ENOTFOUND)

	if err := db.SetAdminPassword(ctx, "alice", "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AdminUserByName(ctx, "alice"); got.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash after change: %q", got.PasswordHash)
	}
	wantCode(t, "unknown user's password", db.SetAdminPassword(ctx, "bob", "$argon2id$x"), paywire.ENOTFOUND)
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
	if err := db.CreatePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := db.Payment(ctx, "m-start", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReturnURLs != p.ReturnURLs || got.NotificationURL != p.NotificationURL || got.PreselectedMethod != "card" {
		t.Errorf("read back %+v / %q / %q", got.ReturnURLs, got.NotificationURL, got.PreselectedMethod)
	}
	got, _, err = db.ApplyStateChange(ctx, paywire.StateChange{PaymentID: p.ID, MerchantID: "m-start", Version: got.Version,
		To: paywire.StatePending, Source: "end_user", Risk: &paywire.RiskResult{Score: 35, Action: "challenge"}})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := db.Payment(ctx, "m-start", p.ID); again.RiskScore != 35 || again.RiskAction != "challenge" {
		t.Errorf("risk read back %d %q", again.RiskScore, again.RiskAction)
	}
	m := &paywire.Merchant{ID: "m-auto", Name: "Auto", AutoCapture: true, AutoCaptureMaxScore: 25}
	if err := db.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	if back, _ := db.Merchant(ctx, "m-auto"); !back.AutoCapture || back.AutoCaptureMaxScore != 25 {
		t.Errorf("auto-capture read back %+v", back)
	}
	wantCode(t, "score limit above 100", db.CreateMerchant(ctx, &paywire.Merchant{ID: "m-auto-2", Name: "X", AutoCaptureMaxScore: 101}), paywire.EINVALID)
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

func testAttempts(t *testing.T, db *store.DB) {
	m := SeedMerchant(t, db, "m-att")
	if len(m.SigningSecret) < 32 {
		t.Errorf("signing secret %q", m.SigningSecret)
	}
	if got, _ := db.Merchant(ctx, "m-att"); got.SigningSecret != m.SigningSecret {
		t.Errorf("signing secret read back %q", got.SigningSecret)
	}
	p := SeedPayment(t, db, "m-att", "att-1")
	a := &paywire.Attempt{PaymentID: p.ID, MerchantID: "m-att", N: 1, Provider: "acquirer-a", IdempotencyKey: p.ID + "-1"}
	if err := db.AddAttempt(ctx, a); err != nil || a.ID == "" || a.Status != "started" {
		t.Fatalf("add: %+v, %v", a, err)
	}
	dup := &paywire.Attempt{PaymentID: p.ID, MerchantID: "m-att", N: 1, Provider: "acquirer-b", IdempotencyKey: p.ID + "-1b"}
	wantCode(t, "same n", db.AddAttempt(ctx, dup), paywire.ECONFLICT)
	a.Reference, a.Status, a.Code = "ref-9", "pending", ""
	if err := db.UpdateAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := db.AttemptByReference(ctx, "acquirer-a", "ref-9")
	if err != nil || got.ID != a.ID || got.Status != "pending" || got.MerchantID != "m-att" {
		t.Fatalf("by reference: %+v, %v", got, err)
	}
	if _, err := db.AttemptByReference(ctx, "acquirer-b", "ref-9"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("another provider's reference: %v", err)
	}
	if byID, err := db.Attempt(ctx, a.ID); err != nil || byID.Reference != "ref-9" {
		t.Errorf("by id: %+v, %v", byID, err)
	}
	all, err := db.Attempts(ctx, "m-att", p.ID)
	if err != nil || len(all) != 1 {
		t.Errorf("attempts %+v, %v", all, err)
	}
	if other, _ := db.Attempts(ctx, "someone-else", p.ID); len(other) != 0 {
		t.Errorf("another merchant sees attempts: %+v", other)
	}
	first, err := db.SeenProviderEvent(ctx, "acquirer-a", "evt-1")
	if err != nil || !first {
		t.Fatalf("first event: %v, %v", first, err)
	}
	if again, err := db.SeenProviderEvent(ctx, "acquirer-a", "evt-1"); err != nil || again {
		t.Errorf("duplicate event: %v, %v", again, err)
	}
	if other, err := db.SeenProviderEvent(ctx, "acquirer-b", "evt-1"); err != nil || !other {
		t.Errorf("same id at another provider: %v, %v", other, err)
	}
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
	now := time.Now().UTC().Add(time.Hour) // every row of earlier tests is due
	lease := time.Minute

	a, err := db.ClaimOutbox(ctx, "worker-a", now, lease, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m := find(a, ev)
	if m == nil || m.Attempts != 1 || m.LockedBy != "worker-a" {
		t.Fatalf("claimed %+v", m)
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
	wantCode(t, "the old worker's result", db.DeliveredOutbox(ctx, m.ID, "worker-a", now), paywire.ECONFLICT)
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
	if err := db.DeliveredOutbox(ctx, m.ID, "worker-d", next); err != nil {
		t.Fatal(err)
	}
	und, _ = db.UndeliveredOutbox(ctx, "m-out", now.Add(-2*time.Hour), 100)
	if find(und, ev) != nil {
		t.Error("a delivered message is listed as undelivered")
	}
	// Release every other claim of this test, so later subtests are not
	// disturbed by leases.
	for _, batch := range [][]paywire.OutboxMessage{a, b, c, d} {
		for _, x := range batch {
			_ = db.FailedOutbox(ctx, x.ID, x.LockedBy, "", x.NextAttemptAt, false)
		}
	}
}
