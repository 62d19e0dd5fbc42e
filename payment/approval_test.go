package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var (
	alice = paywire.AdminActor("alice")
	bob   = paywire.AdminActor("bob")
)

// approvalsEnv is a merchant that wants each withdrawal approved by
// approvals people, with a paid card deposit of end user u1 to pay out to.
func approvalsEnv(t *testing.T, approvals int, opts ...option) (*env, *fake, *paywire.Payment) {
	t.Helper()
	route := routeOf(t)
	first, second := newFake(route[0]), newFake(route[1])
	first.setScript(answers(sale))
	second.setScript(answers(sale))
	e := newEnv(t, append(opts, withProviders(first, second))...)
	e.merchant(paywire.Merchant{ID: "payouts", WithdrawalApprovals: approvals})
	src := storetest.SeedPayment(t, e.db, "payouts", "deposit-1")
	src.Method, src.Provider = paywire.MethodCard, "acquirer-a"
	src = e.move(src, paywire.Move{To: paywire.StatePending})
	src.ProviderReference = "a-1"
	return e, first, e.move(src, paywire.Move{To: paywire.StateCompleted, Capture: src.Amount.Amount})
}

// allowRisk pins the risk decision to allow.
func allowRisk(context.Context, engine.RiskInput) (engine.RiskDecision, error) {
	return engine.RiskDecision{Score: 5, Action: engine.RiskAllow}, nil
}

func withdrawal(ref, source string) payment.CreateRequest {
	r := backend(ref, source)
	r.Kind = paywire.KindWithdrawal
	return r
}

func approvers(t *testing.T, e *env, p *paywire.Payment) []paywire.Actor {
	t.Helper()
	as, err := e.db.Approvals(ctx, p.MerchantID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []paywire.Actor
	for i, a := range as {
		if a.Seq != i+1 {
			t.Errorf("approval %d has seq %d", i, a.Seq)
		}
		out = append(out, a.Approver)
	}
	return out
}

// TestWithdrawalApprovedByTwoPeople: a merchant that asks for two
// approvals has each withdrawal held before any provider; the first
// approval is recorded and the payment keeps waiting, the same person
// cannot approve twice, and the second person's approval pays it out.
func TestWithdrawalApprovedByTwoPeople(t *testing.T) {
	t.Parallel()
	e, first, src := approvalsEnv(t, 2)
	p, err := e.s.Create(ctx, "payouts", "", withdrawal("wd-1", src.ID))
	if err != nil || p.State != paywire.StateReview || len(first.callsOf("pay")) != 0 {
		t.Fatalf("created: %+v, %v, pay calls %d", p, err, len(first.callsOf("pay")))
	}
	if evs := e.events(p); evs[len(evs)-1].Reason != "approval_required" {
		t.Errorf("held for %q", evs[len(evs)-1].Reason)
	}
	if got := len(e.followUps(p, paywire.FollowUpReviewExpiry)); got != 1 {
		t.Errorf("review expiries %d", got)
	}
	notified := e.outbox(p)

	got, err := e.s.Review(ctx, "payouts", p.ID, true, alice, "payout checked against the ledger")
	if err != nil || got.State != paywire.StateReview || got.Version != p.Version || len(first.callsOf("pay")) != 0 {
		t.Fatalf("first approval: %+v, %v, pay calls %d", got, err, len(first.callsOf("pay")))
	}
	if a := approvers(t, e, p); len(a) != 1 || a[0] != alice {
		t.Errorf("approvals after the first: %v", a)
	}
	if o := e.outbox(p); len(o) != len(notified) {
		t.Errorf("the first approval notified the merchant: %v -> %v", notified, o)
	}
	_, err = e.s.Review(ctx, "payouts", p.ID, true, alice, "again")
	wantCode(t, "the same person approving twice", err, paywire.EFORBIDDEN)
	if a := approvers(t, e, p); len(a) != 1 {
		t.Errorf("approvals after a refused second: %v", a)
	}

	got, err = e.s.Review(ctx, "payouts", p.ID, true, bob, "second pair of eyes")
	if err != nil || got.State != paywire.StateCompleted || len(first.callsOf("pay")) != 1 {
		t.Fatalf("second approval: %+v, %v, pay calls %d", got, err, len(first.callsOf("pay")))
	}
	if c := first.callsOf("pay")[0]; c.Reference != src.ProviderReference {
		t.Errorf("paid out to %q, want the deposit's credential %q", c.Reference, src.ProviderReference)
	}
	if a := approvers(t, e, p); len(a) != 2 || a[0] != alice || a[1] != bob {
		t.Errorf("approvals %v", a)
	}
	audit, err := e.db.AuditEntries(ctx, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Target == p.ID && a.Action == "payment.review.approve" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d approvals audited, want 2", n)
	}

	// A deposit of the same merchant is not held.
	d, err := e.s.Create(ctx, "payouts", "", backend("dep-2", src.ID))
	if err != nil || d.State != paywire.StateCompleted {
		t.Errorf("deposit: %+v, %v", d, err)
	}
}

// TestWithdrawalApprovals: one approval suffices for a merchant that asks
// for one; a decline after a first approval refuses the payout; a merchant
// that asks for none pays out at once.
func TestWithdrawalApprovals(t *testing.T) {
	t.Parallel()
	e, first, src := approvalsEnv(t, 1)
	p, err := e.s.Create(ctx, "payouts", "", withdrawal("wd-1", src.ID))
	if err != nil || p.State != paywire.StateReview {
		t.Fatalf("created: %+v, %v", p, err)
	}
	got, err := e.s.Review(ctx, "payouts", p.ID, true, alice, "fine")
	if err != nil || got.State != paywire.StateCompleted || len(first.callsOf("pay")) != 1 {
		t.Fatalf("one approval: %+v, %v, pay calls %d", got, err, len(first.callsOf("pay")))
	}

	e, first, src = approvalsEnv(t, 2)
	p, err = e.s.Create(ctx, "payouts", "", withdrawal("wd-2", src.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Review(ctx, "payouts", p.ID, true, alice, "looks fine"); err != nil {
		t.Fatal(err)
	}
	got, err = e.s.Review(ctx, "payouts", p.ID, false, bob, "the account was closed yesterday")
	if err != nil || got.State != paywire.StateRefused || len(first.callsOf("pay")) != 0 {
		t.Fatalf("declined after one approval: %+v, %v, pay calls %d", got, err, len(first.callsOf("pay")))
	}

	// (Risk holds a new customer's withdrawal for review by itself: pinned
	// to allow here.)
	e, first, src = approvalsEnv(t, 0)
	e.pin.risk = allowRisk
	p, err = e.s.Create(ctx, "payouts", "", withdrawal("wd-3", src.ID))
	if err != nil || p.State != paywire.StateCompleted || len(first.callsOf("pay")) != 1 {
		t.Fatalf("no approvals wanted: %+v, %v", p, err)
	}
}

// TestConcurrentApprovals: two people approving at once cannot both be
// the first; one approval is recorded, the other moves the payment, and
// the payout happens once. On SQLite and, when configured, PostgreSQL.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) { concurrentApprovals(t, db) })
}

func concurrentApprovals(t *testing.T, db *store.DB) {
	e, first, src := approvalsEnv(t, 2, withDB(db))
	for i := range 10 {
		p, err := e.s.Create(ctx, "payouts", "", withdrawal(fmt.Sprint("wd-", i), src.ID))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, who := range []paywire.Actor{alice, bob} {
			wg.Go(func() { _, errs[j] = e.s.Review(ctx, "payouts", p.ID, true, who, "approved") })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if got := e.get("payouts", p.ID); got.State != paywire.StateCompleted || len(first.callsOf("pay")) != i+1 {
			t.Fatalf("round %d: %s, pay calls %d", i, got.State, len(first.callsOf("pay")))
		}
		if a := approvers(t, e, p); len(a) != 2 {
			t.Fatalf("round %d: approvals %v", i, a)
		}
	}
}

// TestHostedWithdrawalApproval: a withdrawal the end user submits on the
// hosted pages, for a merchant that wants approvals, is held before any
// provider and bound to the deposit made with the same card; after the
// approvals it is paid out on that deposit's credential. A card the end
// user never paid with is refused as entered details.
func TestHostedWithdrawalApproval(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.merchant(paywire.Merchant{ID: "payouts", WithdrawalApprovals: 2})
	tok, depositID := e.start("payouts", "dep-1", 5000)
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
		t.Fatal(err)
	}
	deposit := e.get("payouts", depositID)
	if !deposit.State.Paid() {
		t.Fatalf("deposit %s", deposit.State)
	}
	req := startRequest("payouts", "wd-1", 2000)
	req.Kind = paywire.KindWithdrawal
	rd, err := e.s.Start(ctx, "payouts", "ref:wd-1", req)
	if err != nil {
		t.Fatal(err)
	}
	tok = rd.PostFields[0].Value
	e.first.setScript(answers(sale)) // a payout moves the money at once

	authorizations := len(e.first.callsOf("authorize"))
	_, err = e.s.Submit(ctx, tok, card("5555555555554444"))
	var de *payment.DetailsError
	if !errors.As(err, &de) || len(de.Fields) != 1 || de.Fields[0] != (payment.FieldError{Field: "card.number", Reason: "not_deposited"}) {
		t.Fatalf("another card: %v", err)
	}

	o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
	if err != nil || o.State != paywire.StateReview {
		t.Fatalf("submitted: %+v, %v", o, err)
	}
	p := e.get("payouts", rd.PaymentID)
	if p.SourcePaymentID != depositID || len(e.first.callsOf("authorize")) != authorizations || len(e.first.callsOf("pay")) != 0 {
		t.Fatalf("held: source %q, provider calls %d/%d", p.SourcePaymentID, len(e.first.callsOf("authorize"))-authorizations, len(e.first.callsOf("pay")))
	}
	if _, err := e.s.Review(ctx, "payouts", p.ID, true, alice, "ok"); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Review(ctx, "payouts", p.ID, true, bob, "ok too")
	if err != nil || got.State != paywire.StateCompleted {
		t.Fatalf("approved twice: %+v, %v", got, err)
	}
	pays := e.first.callsOf("pay")
	if len(pays) != 1 || pays[0].Reference != deposit.ProviderReference {
		t.Fatalf("payout calls %+v, want one on %q", pays, deposit.ProviderReference)
	}
}

// TestApprovedWithdrawalSurvivesACrash: the process dies after the last
// approval committed and before the payout reached a provider; the
// follow-up written with the approval pays it out, once.
func TestApprovedWithdrawalSurvivesACrash(t *testing.T) {
	t.Parallel()
	e, first, src := approvalsEnv(t, 1)
	p, err := e.s.Create(ctx, "payouts", "", withdrawal("wd-1", src.ID))
	if err != nil || p.State != paywire.StateReview {
		t.Fatalf("created: %+v, %v", p, err)
	}
	// The creation's follow-up runs while the payment waits: it has
	// nothing to do.
	e.runWorker(time.Hour)
	if got := e.get("payouts", p.ID); got.State != paywire.StateReview || len(first.callsOf("pay")) != 0 {
		t.Fatalf("after an hour in review: %s", got.State)
	}
	// The process dies at the routing decision after the approval.
	e.pin.route = func(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
		crash(ctx)
		return e.pin.Decider.Route(ctx, in)
	}
	if _, err := e.s.Review(withCrash(ctx), "payouts", p.ID, true, alice, "fine"); err == nil {
		t.Fatal("the approval went through the crash")
	}
	e.pin.route = nil
	if got := e.get("payouts", p.ID); got.State != paywire.StatePending || len(first.callsOf("pay")) != 0 {
		t.Fatalf("after the crash: %s, %d pay calls; want pending, none", got.State, len(first.callsOf("pay")))
	}
	e.runWorker(3 * time.Minute)
	if got := e.get("payouts", p.ID); got.State != paywire.StateCompleted || len(first.callsOf("pay")) != 1 {
		t.Fatalf("after the worker: %s, %d pay calls; want completed, one", got.State, len(first.callsOf("pay")))
	}
}
