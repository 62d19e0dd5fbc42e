package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
)

// byCard answers Authorize by the card's last four digits: 0000 and others
// approve, 0002 declines, 0119 fails, 3220 asks for a challenge on the
// provider's page (pending), 0366 declines softly (only at the provider
// named softOnly, when set); a bank redirect goes to the bank's page.
func byCard(name string, softOnly *atomic.Value) func(context.Context, call) reply {
	return func(_ context.Context, c call) reply {
		if c.Op != "authorize" {
			return reply{}
		}
		soft, _ := softOnly.Load().(string)
		ref := name + "-" + c.Key
		last := c.Last4
		switch {
		case c.Method == string(paywire.MethodBankRedirect) || last == "3220":
			return reply{Result: adapters.Result{Status: adapters.Pending, Reference: ref, RedirectURL: "https://provider.example/challenge/" + ref}}
		case last == "0002":
			return reply{Result: adapters.Result{Status: adapters.Declined, Reference: ref, Code: "do_not_honor"}}
		case last == "0119":
			return reply{Result: adapters.Result{Status: adapters.Failed, Reference: ref, Code: "processing_error"}}
		case last == "0366" && (soft == "" || soft == name):
			return reply{Result: adapters.Result{Status: adapters.Declined, Reference: ref, Code: "acquirer_declined", Soft: true}}
		}
		return reply{Result: adapters.Result{Status: adapters.Approved, Reference: ref}}
	}
}

type hostedEnv struct {
	*env
	first, second, bank *fake
	soft                atomic.Value // the provider that alone declines 0366 softly
	m                   *paywire.Merchant
}

// newHosted is an env with the routed acquirers and the bank, and the more
// providers given, all scripted by byCard.
func newHosted(t *testing.T, more ...*fake) *hostedEnv {
	t.Helper()
	route := routeOf(t)
	h := &hostedEnv{first: newFake(route[0]), second: newFake(route[1]), bank: newFake("sandbox-bank")}
	h.soft.Store("")
	all := append([]*fake{h.first, h.second, h.bank}, more...)
	ps := make([]adapters.Provider, len(all))
	for i, f := range all {
		f.setScript(byCard(f.name, &h.soft))
		ps[i] = f
	}
	h.env = newEnv(t, withProviders(ps...))
	m, err := h.db.Merchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	return h
}

// startFor registers a 50.00 EUR deposit of the merchant and returns its
// token.
func (h *hostedEnv) startFor(t *testing.T, merchant, ref string) string {
	t.Helper()
	tok, _ := h.start(merchant, ref, 5000)
	return tok
}

func TestHostedCardApproved(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-1")
	c, err := e.s.OpenRedirect(ctx, tok)
	if err != nil || c.State != paywire.StateCreated || len(c.Methods) == 0 || c.Language != "de" || len(c.ReturnOrigins) != 1 {
		t.Fatalf("open: %+v, %v", c, err)
	}
	o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
	if err != nil {
		t.Fatal(err)
	}
	if o.State != paywire.StateAuthorized || !o.ToMerchant || !strings.HasPrefix(o.RedirectURL, "https://shop.example/ok?") {
		t.Fatalf("outcome %+v", o)
	}
	u, _ := url.Parse(o.RedirectURL)
	q := u.Query()
	if q.Get("state") != "AUTHORIZED" || q.Get("signature") != payment.ResultSignature(e.m.SigningSecret, q.Get("t"), q.Get("paymentId"), "h-1", "AUTHORIZED") {
		t.Errorf("result parameters %v", q)
	}
	p := e.get("shop", o.PaymentID)
	if p.Card.BIN != "424242" || p.Card.Last4 != "4242" || p.Card.Brand != "visa" || len(p.Card.Fingerprint) != 64 || p.Method != "card" || p.Provider != e.first.name {
		t.Errorf("stored %+v", p)
	}
	// The authorization lapses unless captured.
	if fs := e.followUps(p, paywire.FollowUpAuthorizationExpiry); len(fs) != 1 || !fs[0].DueAt.Equal(t0.Add(paywire.DefaultAuthorizationTTL)) {
		t.Errorf("authorization expiry follow-ups %+v", fs)
	}
	// Single use: a second submission is refused and reaches no provider.
	calls := len(e.first.callsOf("authorize"))
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); paywire.ErrorCode(err) != paywire.ECONFLICT {
		t.Errorf("second submission: %v", err)
	}
	if len(e.first.callsOf("authorize")) != calls {
		t.Error("the provider was asked again")
	}
	if pr, err := e.s.Progress(ctx, tok); err != nil || pr.State != paywire.StateAuthorized || !pr.ToMerchant {
		t.Errorf("progress %+v, %v", pr, err)
	}
}

// TestHostedAutoCapture: a merchant that auto-captures up to a risk score
// has an authorization captured at once (through its capture follow-up)
// when the payment's score is within the limit.
func TestHostedAutoCapture(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 100})
	e.merchant(paywire.Merchant{ID: "careful", AutoCapture: true, AutoCaptureMaxScore: 0})
	o, err := e.s.Submit(ctx, e.startFor(t, "eager", "ac-1"), card("4242424242424242"))
	captures := e.first.callsOf("capture")
	if err != nil || o.State != paywire.StateCompleted || len(captures) != 1 || captures[0].Amount != 5000 {
		t.Fatalf("auto-capture: %+v, %v, captures %+v", o, err, captures)
	}
	p := e.get("eager", o.PaymentID)
	if p.Captured != 5000 || p.RiskAction == "" {
		t.Errorf("stored %+v", p)
	}
	// A card on the watch list (BIN 401288) scores above 0: no auto-capture.
	o, err = e.s.Submit(ctx, e.startFor(t, "careful", "ac-2"), card("4012888888881881"))
	if err != nil || o.State != paywire.StateAuthorized || len(e.first.callsOf("capture")) != 1 {
		t.Fatalf("score above the limit: %+v, %v, captures %v", o, err, e.first.callsOf("capture"))
	}
	if p := e.get("careful", o.PaymentID); p.RiskScore == 0 {
		t.Errorf("the test needs a risk score above 0, got %+v", p)
	}
	// Without the setting (shop): authorized, the merchant captures.
	o, _ = e.s.Submit(ctx, e.startFor(t, "shop", "ac-3"), card("4242424242424242"))
	if o.State != paywire.StateAuthorized {
		t.Errorf("no auto-capture: %s", o.State)
	}
}

func TestHostedDeclineAndFallback(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	o, err := e.s.Submit(ctx, e.startFor(t, "shop", "h-2"), card("4000000000000002"))
	if err != nil || o.State != paywire.StateRefused || !strings.HasPrefix(o.RedirectURL, "https://shop.example/refused?") || len(e.second.callsOf("")) != 0 {
		t.Fatalf("decline: %+v, %v, second calls %d", o, err, len(e.second.callsOf("")))
	}
	o, err = e.s.Submit(ctx, e.startFor(t, "shop", "h-3"), card("4000000000000119"))
	if err != nil || o.State != paywire.StateFailed || len(e.second.callsOf("authorize")) != 1 {
		t.Fatalf("both fail: %+v, %v, second calls %d", o, err, len(e.second.callsOf("authorize")))
	}
	atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID)
	if len(atts) != 2 || atts[0].Status != paywire.AttemptFailed || atts[1].Provider != e.second.name || atts[1].Status != paywire.AttemptFailed {
		t.Errorf("attempts %+v", atts)
	}
}

func TestHostedSoftDeclineFallsBack(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.soft.Store(e.first.name)
	o, err := e.s.Submit(ctx, e.startFor(t, "shop", "h-soft"), card("4000000000000366"))
	if err != nil || o.State != paywire.StateAuthorized || len(e.second.callsOf("authorize")) != 1 {
		t.Fatalf("soft decline: %+v, %v, second calls %d", o, err, len(e.second.callsOf("authorize")))
	}
	if p := e.get("shop", o.PaymentID); p.Provider != e.second.name {
		t.Errorf("provider %q; want the fallback %q", p.Provider, e.second.name)
	}
	// Declined softly everywhere: refused, not failed.
	e.soft.Store("")
	o, err = e.s.Submit(ctx, e.startFor(t, "shop", "h-soft-2"), card("4000000000000366"))
	if err != nil || o.State != paywire.StateRefused {
		t.Fatalf("soft declines everywhere: %+v, %v", o, err)
	}
}

func TestHostedChallengeAndReturn(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-4")
	o, err := e.s.Submit(ctx, tok, card("4000000000003220"))
	if err != nil || o.State != paywire.StatePending || o.ToMerchant || !strings.HasPrefix(o.RedirectURL, "https://provider.example/challenge/") {
		t.Fatalf("challenge: %+v, %v", o, err)
	}
	ret, _ := url.Parse(e.first.lastAuthorize().ReturnURL)
	attempt := ret.Query().Get("attempt")
	if !strings.HasPrefix(ret.Path, "/listeners/"+e.first.name+"/return") || attempt == "" {
		t.Fatalf("return URL %s", e.first.lastAuthorize().ReturnURL)
	}
	// Back before the provider knows: pending, to the merchant's Pending page.
	back, err := e.s.ConfirmReturn(ctx, e.first.name, attempt)
	if err != nil || back.State != paywire.StatePending || !strings.HasPrefix(back.RedirectURL, "https://shop.example/pending?") {
		t.Fatalf("early return: %+v, %v", back, err)
	}
	a, _ := e.db.Attempt(ctx, attempt)
	if a.Status != paywire.AttemptPending {
		t.Errorf("attempt %+v; want pending", a)
	}
	e.first.decide(a.IdempotencyKey, adapters.Result{Status: adapters.Approved})
	back, err = e.s.ConfirmReturn(ctx, e.first.name, attempt)
	if err != nil || back.State != paywire.StateAuthorized || !strings.HasPrefix(back.RedirectURL, "https://shop.example/ok?") {
		t.Fatalf("return: %+v, %v", back, err)
	}
	if st := e.first.callsOf("status"); len(st) != 2 || st[1].Reference != a.Reference || st[1].Key != a.IdempotencyKey {
		t.Errorf("status queries %+v; want two, by the attempt's reference and key", st)
	}
	if _, err := e.s.ConfirmReturn(ctx, e.second.name, attempt); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("another provider's return for the attempt: %v", err)
	}
	// The webhook that follows is a late duplicate: it moves nothing, and
	// it is marked seen.
	if err := e.webhook(e.first.name, adapters.WebhookEvent{ID: "e1", Type: adapters.EventAuthorized, Reference: a.Reference}); err != nil {
		t.Fatal(err)
	}
	if p := e.get("shop", a.PaymentID); p.State != paywire.StateAuthorized || p.Version != 3 {
		t.Errorf("after the webhook: %s v%d", p.State, p.Version)
	}
	if !e.seen(e.first.name, "e1") {
		t.Error("the late webhook was not marked seen")
	}
}

// TestHostedWebhookDecides: a bank payment is decided by the provider's
// webhook. What changed: a webhook for a reference nobody knows is
// acknowledged (logged and skipped) rather than refused with ENOTFOUND, so
// that the provider stops redelivering it.
func TestHostedWebhookDecides(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-5")
	o, err := e.s.Submit(ctx, tok, bank())
	if err != nil {
		t.Fatal(err)
	}
	atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID)
	ref := atts[0].Reference
	if atts[0].Provider != "sandbox-bank" || o.State != paywire.StatePending || o.RedirectURL == "" {
		t.Fatalf("bank redirect: %+v, attempts %+v", o, atts)
	}
	ev := adapters.WebhookEvent{ID: "evt-9", Type: adapters.EventCaptured, Reference: ref, Amount: 5000}
	for range 2 { // the second delivery is a duplicate
		if err := e.webhook("sandbox-bank", ev); err != nil {
			t.Fatal(err)
		}
	}
	p := e.get("shop", o.PaymentID)
	if p.State != paywire.StateCompleted || p.Captured != 5000 || p.Version != 3 {
		t.Errorf("after the webhook: %s captured %d v%d", p.State, p.Captured, p.Version)
	}
	if err := e.webhook("sandbox-bank", adapters.WebhookEvent{ID: "evt-10", Type: adapters.EventCaptured, Reference: "nobody"}); err != nil {
		t.Errorf("unknown reference: %v", err)
	}
	if e.seen("sandbox-bank", "evt-10") {
		t.Error("an event for nobody was marked seen")
	}
	if got := e.get("shop", o.PaymentID); got.Version != p.Version {
		t.Errorf("an event for nobody changed the payment: %s", describe(got))
	}
}

func TestHostedRefusedDetails(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-6")
	bad := card("4242424242424241")
	bad.Card.CVC, bad.Card.Holder, bad.Card.ExpiryYear = "12", "", 2001
	_, err := e.s.Submit(ctx, tok, bad)
	de, ok := err.(*payment.DetailsError)
	if !ok || paywire.ErrorCode(err) != paywire.EINVALID {
		t.Fatalf("error %v", err)
	}
	got := map[string]string{}
	for _, f := range de.Fields {
		got[f.Field] = f.Reason
	}
	want := map[string]string{"card.number": "luhn", "card.cvc": "format", "card.holder": "required", "card.expiry": "expired"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if strings.Contains(err.Error(), "4242424242424241") {
		t.Error("the error carries the card number")
	}
	if _, err := e.s.Submit(ctx, tok, payment.Details{Method: "crypto"}); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("unknown method: %v", err)
	}
	// Nothing was submitted: the token still works.
	if o, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil || o.State != paywire.StateAuthorized {
		t.Errorf("corrected submission: %+v, %v", o, err)
	}
}

func TestHostedConcurrentSubmissions(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-7")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for range 10 {
		wg.Go(func() {
			_, err := e.s.Submit(ctx, tok, card("4242424242424242"))
			mu.Lock()
			defer mu.Unlock()
			switch paywire.ErrorCode(err) {
			case "":
				ok++
			case paywire.ECONFLICT:
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(e.first.callsOf("authorize")); ok != 1 || n != 1 {
		t.Errorf("%d submissions went through, %d conflicts, provider asked %d times", ok, conflicts, n)
	}
}

func TestHostedTokens(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	tok := e.startFor(t, "shop", "h-8")
	if _, err := e.s.OpenRedirect(ctx, tok[:len(tok)-1]+"x"); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
		t.Errorf("tampered: %v", err)
	}
	// An expired link has its own code (it was EFORBIDDEN).
	expired := payment.SignToken(e.s.TokenKey, "shop", "pay_x", t0.Add(-time.Minute))
	if _, err := e.s.OpenRedirect(ctx, expired); paywire.ErrorCode(err) != paywire.EEXPIRED {
		t.Errorf("expired: %v", err)
	}
	unknown := payment.SignToken(e.s.TokenKey, "shop", "pay_nothing", t0.Add(time.Minute))
	if _, err := e.s.OpenRedirect(ctx, unknown); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
		t.Errorf("unknown payment: %v", err)
	}
	o, err := e.s.CancelRedirect(ctx, tok)
	if err != nil || o.State != paywire.StateCancelled || !strings.HasPrefix(o.RedirectURL, "https://shop.example/cancel?") {
		t.Fatalf("cancel: %+v, %v", o, err)
	}
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); paywire.ErrorCode(err) != paywire.ECONFLICT {
		t.Errorf("submission after cancelling: %v", err)
	}
}

// TestAvailabilitySeesDepositMethods: the availability decision's input
// names the methods of the end user's paid deposits, whether they come
// with the features (in the same statement) or, when no features are
// read, by a read of their own.
func TestAvailabilitySeesDepositMethods(t *testing.T) {
	for _, features := range []bool{true, false} {
		t.Run(fmt.Sprint("features=", features), func(t *testing.T) {
			e := newHosted(t)
			e.pin.Decider = recordingEngine(t, e.db)
			e.s.Decisions = e.db // as served: the start's decision is the payment's
			if !features {
				e.s.Features = nil
			}
			e.seed("shop", "paid-1", 5000, routeOf(t)[0], paywire.StateCompleted)
			e.seed("shop", "pending-1", 5000, routeOf(t)[0], paywire.StatePending) // not paid: not counted
			tok, id := e.start("shop", "next-1", 3000)
			if _, err := e.s.OpenRedirect(ctx, tok); err != nil {
				t.Fatal(err)
			}
			ds, err := e.db.Decisions(ctx, "shop", id)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			found := false
			for _, d := range ds {
				if d.Point != engine.PointAvailability {
					continue
				}
				var in struct {
					Request struct {
						DepositMethods []string `json:"deposit_methods"`
					} `json:"request"`
					Features map[string]any `json:"features"`
				}
				if err := json.Unmarshal(d.Input, &in); err != nil {
					t.Fatal(err)
				}
				if (len(in.Features) > 0) != features {
					t.Fatalf("features in the input: %v; want them read: %v", in.Features, features)
				}
				got, found = in.Request.DepositMethods, true
			}
			if !found || !slices.Equal(got, []string{"card"}) {
				t.Errorf("deposit methods in the availability input: %v (decision found: %v); want [card]", got, found)
			}
		})
	}
}

// queryRecorder keeps the feature queries the service makes.
type queryRecorder struct {
	paywire.FeatureStore
	mu sync.Mutex
	qs []paywire.FeatureQuery
}

func (r *queryRecorder) Features(ctx context.Context, q paywire.FeatureQuery) (paywire.Features, error) {
	r.mu.Lock()
	r.qs = append(r.qs, q)
	r.mu.Unlock()
	return r.FeatureStore.Features(ctx, q)
}

// TestFeaturesOfTheKeysRead: with the shipped bundle, a decision's
// features are counted for the keys its rules and policies read, and only
// those: availability reads the customer's (and its deposit methods),
// risk every key the payment has. The others stay unknown in the recorded
// input, not zero.
func TestFeaturesOfTheKeysRead(t *testing.T) {
	e := newHosted(t)
	e.pin.Decider = recordingEngine(t, e.db)
	rec := &queryRecorder{FeatureStore: e.s.Features}
	e.s.Features = rec
	e.seed("shop", "paid-1", 5000, routeOf(t)[0], paywire.StateCompleted)
	tok, id := e.start("shop", "keys-1", 3000)
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
		t.Fatal(err)
	}
	// Availability is decided at the start and again on submission;
	// then risk and routing read the payment's every key.
	var avail, whole int
	for _, q := range rec.qs {
		switch {
		case q.DepositMethods:
			avail++
			if q.CustomerID != "u1" || q.Email != "" || q.IP != "" || q.CardFingerprint != "" || q.DeviceID != "" {
				t.Errorf("availability asked %+v; want the customer's features and deposit methods alone", q)
			}
		case q.CustomerID == "u1" && q.Email != "" && q.IP != "" && q.CardFingerprint != "":
			whole++
		default:
			t.Errorf("asked %+v; want every key the payment has", q)
		}
	}
	if avail == 0 || whole == 0 {
		t.Errorf("%d availability queries and %d of every key; want both", avail, whole)
	}
	ds, err := e.db.Decisions(ctx, "shop", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Point != engine.PointAvailability {
			continue
		}
		var in struct {
			Features map[string]any `json:"features"`
		}
		if err := json.Unmarshal(d.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.Features["customer_successful"] == nil || in.Features["customer_count_7d"] == nil {
			t.Errorf("availability input features %v; want the customer's known", in.Features)
		}
		for name := range in.Features {
			if !strings.HasPrefix(name, "customer_") {
				t.Errorf("availability input has %s, of a key it does not read", name)
			}
		}
	}
}
