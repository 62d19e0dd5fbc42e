package payment_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// statuses returns the status of each of p's follow-ups of kind.
func (e *env) statuses(p *paywire.Payment, kind paywire.FollowUpKind) []string {
	e.t.Helper()
	var out []string
	for _, f := range e.followUps(p, kind) {
		out = append(out, f.Status)
	}
	return out
}

// TestMovesEndMootFollowUps: the move that takes a payment out of pending
// marks its status queries and its process follow-up done, as the worker
// would have found them when due; while the payment waits at the
// provider they stay pending, and its expiry (the workflow's call) stays.
func TestMovesEndMootFollowUps(t *testing.T) {
	t.Parallel()
	e := newHosted(t)

	// Approved at once: nothing is left for later but the expiry.
	tok, id := e.start("shop", "moot-1", 5000)
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
		t.Fatal(err)
	}
	p := e.get("shop", id)
	if p.State != paywire.StateAuthorized {
		t.Fatalf("state %s", p.State)
	}
	for kind, want := range map[paywire.FollowUpKind]string{
		paywire.FollowUpStatusQuery: "[done]", paywire.FollowUpProcess: "[done]", paywire.FollowUpPaymentExpiry: "[pending]",
	} {
		if got := e.statuses(p, kind); len(got) != 1 || "["+got[0]+"]" != want {
			t.Errorf("%s follow-ups after the authorization: %v, want %s", kind, got, want)
		}
	}

	// Waiting at the provider (3-D Secure): the status query and the
	// process follow-up stay until the provider decides.
	tok, id = e.start("shop", "moot-2", 5000)
	if _, err := e.s.Submit(ctx, tok, card("4000000000003220")); err != nil {
		t.Fatal(err)
	}
	p = e.get("shop", id)
	if got := e.statuses(p, paywire.FollowUpStatusQuery); len(got) != 1 || got[0] != paywire.FollowUpPending {
		t.Errorf("status queries while the provider has the payment: %v, want one pending", got)
	}
	if got := e.statuses(p, paywire.FollowUpProcess); len(got) != 1 || got[0] != paywire.FollowUpPending {
		t.Errorf("process follow-ups while the provider has the payment: %v, want one pending", got)
	}
	ret, _ := url.Parse(e.first.lastAuthorize().ReturnURL)
	a, err := e.db.Attempt(ctx, ret.Query().Get("attempt"))
	if err != nil {
		t.Fatal(err)
	}
	e.first.decide(a.IdempotencyKey, adapters.Result{Status: adapters.Approved})
	if back, err := e.s.ConfirmReturn(ctx, e.first.name, a.ID); err != nil || back.State != paywire.StateAuthorized {
		t.Fatalf("return: %+v, %v", back, err)
	}
	p = e.get("shop", id)
	if got := e.statuses(p, paywire.FollowUpStatusQuery); len(got) != 1 || got[0] != paywire.FollowUpDone {
		t.Errorf("status queries after the provider decided: %v, want done", got)
	}
	if got := e.statuses(p, paywire.FollowUpProcess); len(got) != 1 || got[0] != paywire.FollowUpDone {
		t.Errorf("process follow-ups after the provider decided: %v, want done", got)
	}

	// Nothing the worker would have done is lost: it finds nothing due
	// but the expiries, which still expire nothing paid.
	e.clock.Add(20 * time.Minute)
	if _, err := e.w.RunOnce(ctx, "test-worker"); err != nil {
		t.Fatal(err)
	}
	if p := e.get("shop", id); p.State != paywire.StateAuthorized {
		t.Errorf("after the worker's round: %s", p.State)
	}
}
