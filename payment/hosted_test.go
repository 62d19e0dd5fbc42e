package payment_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// scripted is a provider whose answer to Authorize depends on the card's
// last four digits: 0000 approves, 0002 declines, 0119 fails, 3220 asks
// for a challenge; its Status answers from statuses.
type scripted struct {
	name     string
	mu       sync.Mutex
	calls    int
	statuses map[string]adapters.Status
	lastReq  adapters.AuthorizeRequest
	softOnly string // when set, only this provider soft-declines 0366
	captures []string
}

func (p *scripted) Name() string { return p.name }

func (p *scripted) Authorize(_ context.Context, r adapters.AuthorizeRequest) (adapters.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.lastReq = r
	ref := p.name + "-" + r.IdempotencyKey
	last := ""
	if r.Card != nil {
		last = r.Card.Number[len(r.Card.Number)-4:]
	}
	switch {
	case r.Method == "bank_redirect" || last == "3220":
		return adapters.Result{Status: adapters.Pending, Reference: ref, RedirectURL: "https://provider.example/challenge/" + ref}, nil
	case last == "0002":
		return adapters.Result{Status: adapters.Declined, Reference: ref, Code: "do_not_honor"}, nil
	case last == "0119":
		return adapters.Result{Status: adapters.Failed, Reference: ref, Code: "processing_error"}, nil
	case last == "0366" && p.softOnly == "" || last == "0366" && p.softOnly == p.name:
		return adapters.Result{Status: adapters.Declined, Reference: ref, Code: "acquirer_declined", Soft: true}, nil
	}
	return adapters.Result{Status: adapters.Approved, Reference: ref}, nil
}

func (p *scripted) Capture(_ context.Context, o adapters.Operation) (adapters.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.captures = append(p.captures, o.Amount.String())
	return adapters.Result{Status: adapters.Approved, Reference: o.ProviderReference}, nil
}

func (p *scripted) Status(_ context.Context, ref string) (adapters.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return adapters.Result{Status: p.statuses[ref], Reference: ref}, nil
}

func (p *scripted) VerifyWebhook(http.Header, []byte, time.Time) ([]adapters.WebhookEvent, error) {
	return nil, nil
}

type hostedEnv struct {
	s      *payment.Service
	db     *store.DB
	first  *scripted
	second *scripted
	m      *paywire.Merchant
}

func newHosted(t *testing.T) *hostedEnv {
	t.Helper()
	probe, _ := newService(t)
	route := routeOf(t, probe)
	first, second := &scripted{name: route[0], statuses: map[string]adapters.Status{}}, &scripted{name: route[1], statuses: map[string]adapters.Status{}}
	bank := &scripted{name: "sandbox-bank", statuses: map[string]adapters.Status{}}
	s, db := newService(t, first, second, bank)
	s.Attempts = db
	s.TokenKey = []byte("0123456789abcdef0123456789abcdef")
	m, err := db.Merchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return &hostedEnv{s: s, db: db, first: first, second: second, m: m}
}

// start registers a 50.00 EUR card deposit and returns its token.
func (e *hostedEnv) start(t *testing.T, ref string) string {
	t.Helper()
	return e.startFor(t, "shop", ref)
}

func (e *hostedEnv) startFor(t *testing.T, merchant, ref string) string {
	t.Helper()
	amt, _ := paywire.NewMoney(5000, "EUR")
	rd, err := e.s.Start(ctx, merchant, "ref:"+ref, payment.StartRequest{MerchantReference: ref, Kind: paywire.KindDeposit, Amount: amt,
		EndUser: paywire.EndUser{ID: "u1", Email: "user@example.com", Country: "DE", Language: "de", IP: "192.0.2.1"},
		ReturnURLs: paywire.ReturnURLs{Success: "https://shop.example/ok", Error: "https://shop.example/error",
			Cancel: "https://shop.example/cancel", Refused: "https://shop.example/refused", Pending: "https://shop.example/pending"}})
	if err != nil {
		t.Fatal(err)
	}
	return rd.PostFields[0].Value
}

func card(number string) payment.Details {
	return payment.Details{Method: "card", Card: &adapters.Card{Number: number, CVC: "123", Holder: "Anna Muster", ExpiryMonth: 12, ExpiryYear: time.Now().Year() + 2}}
}

func TestHostedCardApproved(t *testing.T) {
	e := newHosted(t)
	tok := e.start(t, "h-1")
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
	p, _ := e.db.Payment(ctx, "shop", o.PaymentID)
	if p.Card.BIN != "424242" || p.Card.Last4 != "4242" || p.Card.Brand != "visa" || len(p.Card.Fingerprint) != 64 || p.Method != "card" || p.Provider != e.first.name {
		t.Errorf("stored %+v", p)
	}
	// Single use: a second submission is refused and reaches no provider.
	calls := e.first.calls
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); paywire.ErrorCode(err) != paywire.ECONFLICT {
		t.Errorf("second submission: %v", err)
	}
	if e.first.calls != calls {
		t.Error("the provider was asked again")
	}
	if pr, err := e.s.Progress(ctx, tok); err != nil || pr.State != paywire.StateAuthorized || !pr.ToMerchant {
		t.Errorf("progress %+v, %v", pr, err)
	}
}

func TestHostedAutoCapture(t *testing.T) {
	e := newHosted(t)
	for _, m := range []paywire.Merchant{
		{ID: "eager", Name: "Eager", AutoCapture: true, AutoCaptureMaxScore: 100},
		{ID: "careful", Name: "Careful", AutoCapture: true, AutoCaptureMaxScore: 0},
	} {
		m.ReturnURLPrefixes = []string{"https://shop.example/"}
		if err := e.db.CreateMerchant(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	o, err := e.s.Submit(ctx, e.startFor(t, "eager", "ac-1"), card("4242424242424242"))
	if err != nil || o.State != paywire.StateCompleted || len(e.first.captures) != 1 || e.first.captures[0] != "50.00 EUR" {
		t.Fatalf("auto-capture: %+v, %v, captures %v", o, err, e.first.captures)
	}
	p, _ := e.db.Payment(ctx, "eager", o.PaymentID)
	if p.Captured != 5000 || p.RiskAction == "" {
		t.Errorf("stored %+v", p)
	}
	// The payment's risk score is above 0: no auto-capture.
	o, err = e.s.Submit(ctx, e.startFor(t, "careful", "ac-2"), card("4242424242424242"))
	if err != nil || o.State != paywire.StateAuthorized || len(e.first.captures) != 1 {
		t.Fatalf("score above the limit: %+v, %v, captures %v", o, err, e.first.captures)
	}
	if p, _ := e.db.Payment(ctx, "careful", o.PaymentID); p.RiskScore == 0 {
		t.Errorf("the test needs a risk score above 0, got %+v", p)
	}
	// Without the setting (shop): authorized, the merchant captures.
	o, _ = e.s.Submit(ctx, e.start(t, "ac-3"), card("4242424242424242"))
	if o.State != paywire.StateAuthorized {
		t.Errorf("no auto-capture: %s", o.State)
	}
}

func TestHostedDeclineAndFallback(t *testing.T) {
	e := newHosted(t)
	o, err := e.s.Submit(ctx, e.start(t, "h-2"), card("4000000000000002"))
	if err != nil || o.State != paywire.StateRefused || !strings.HasPrefix(o.RedirectURL, "https://shop.example/refused?") || e.second.calls != 0 {
		t.Fatalf("decline: %+v, %v, second calls %d", o, err, e.second.calls)
	}
	o, err = e.s.Submit(ctx, e.start(t, "h-3"), card("4000000000000119"))
	if err != nil || o.State != paywire.StateFailed || e.second.calls != 1 {
		t.Fatalf("both fail: %+v, %v, second calls %d", o, err, e.second.calls)
	}
	atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID)
	if len(atts) != 2 || atts[0].Status != "failed" || atts[1].Provider != e.second.name {
		t.Errorf("attempts %+v", atts)
	}
}

func TestHostedSoftDeclineFallsBack(t *testing.T) {
	e := newHosted(t)
	e.first.softOnly, e.second.softOnly = e.first.name, e.first.name
	o, err := e.s.Submit(ctx, e.start(t, "h-soft"), card("4000000000000366"))
	if err != nil || o.State != paywire.StateAuthorized || e.second.calls != 1 {
		t.Fatalf("soft decline: %+v, %v, second calls %d", o, err, e.second.calls)
	}
	if p, _ := e.db.Payment(ctx, "shop", o.PaymentID); p.Provider != e.second.name {
		t.Errorf("provider %q; want the fallback %q", p.Provider, e.second.name)
	}
	// Declined softly everywhere: refused, not failed.
	e.first.softOnly, e.second.softOnly = "", ""
	o, err = e.s.Submit(ctx, e.start(t, "h-soft-2"), card("4000000000000366"))
	if err != nil || o.State != paywire.StateRefused {
		t.Fatalf("soft declines everywhere: %+v, %v", o, err)
	}
}

func TestHostedChallengeAndReturn(t *testing.T) {
	e := newHosted(t)
	tok := e.start(t, "h-4")
	o, err := e.s.Submit(ctx, tok, card("4000000000003220"))
	if err != nil || o.State != paywire.StatePending || o.ToMerchant || !strings.HasPrefix(o.RedirectURL, "https://provider.example/challenge/") {
		t.Fatalf("challenge: %+v, %v", o, err)
	}
	ret, _ := url.Parse(e.first.lastReq.ReturnURL)
	attempt := ret.Query().Get("attempt")
	if !strings.HasPrefix(ret.Path, "/listeners/"+e.first.name+"/return") || attempt == "" {
		t.Fatalf("return URL %s", e.first.lastReq.ReturnURL)
	}
	// Back before the provider knows: pending, to the merchant's Pending page.
	back, err := e.s.ConfirmReturn(ctx, e.first.name, attempt)
	if err != nil || back.State != paywire.StatePending || !strings.HasPrefix(back.RedirectURL, "https://shop.example/pending?") {
		t.Fatalf("early return: %+v, %v", back, err)
	}
	a, _ := e.db.Attempt(ctx, attempt)
	e.first.statuses[a.Reference] = adapters.Approved
	back, err = e.s.ConfirmReturn(ctx, e.first.name, attempt)
	if err != nil || back.State != paywire.StateAuthorized || !strings.HasPrefix(back.RedirectURL, "https://shop.example/ok?") {
		t.Fatalf("return: %+v, %v", back, err)
	}
	if _, err := e.s.ConfirmReturn(ctx, e.second.name, attempt); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("another provider's return for the attempt: %v", err)
	}
	// The webhook that follows is a late duplicate: it moves nothing.
	if err := e.s.ProviderEvent(ctx, e.first.name, adapters.WebhookEvent{ID: "e1", Type: adapters.EventAuthorized, Reference: a.Reference}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.db.Payment(ctx, "shop", a.PaymentID); p.State != paywire.StateAuthorized || p.Version != 3 {
		t.Errorf("after the webhook: %s v%d", p.State, p.Version)
	}
}

func TestHostedWebhookDecides(t *testing.T) {
	e := newHosted(t)
	tok := e.start(t, "h-5")
	o, err := e.s.Submit(ctx, tok, payment.Details{Method: "bank_redirect", Bank: "sandbox-bank"})
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
		if err := e.s.ProviderEvent(ctx, "sandbox-bank", ev); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := e.db.Payment(ctx, "shop", o.PaymentID)
	if p.State != paywire.StateCompleted || p.Captured != 5000 || p.Version != 3 {
		t.Errorf("after the webhook: %s captured %d v%d", p.State, p.Captured, p.Version)
	}
	if err := e.s.ProviderEvent(ctx, "sandbox-bank", adapters.WebhookEvent{ID: "evt-10", Type: adapters.EventCaptured, Reference: "nobody"}); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("unknown reference: %v", err)
	}
}

func TestHostedRefusedDetails(t *testing.T) {
	e := newHosted(t)
	tok := e.start(t, "h-6")
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
	e := newHosted(t)
	tok := e.start(t, "h-7")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
	}
	wg.Wait()
	if ok != 1 || e.first.calls != 1 {
		t.Errorf("%d submissions went through, %d conflicts, provider asked %d times", ok, conflicts, e.first.calls)
	}
}

func TestHostedTokens(t *testing.T) {
	e := newHosted(t)
	tok := e.start(t, "h-8")
	if _, err := e.s.OpenRedirect(ctx, tok[:len(tok)-1]+"x"); paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
		t.Errorf("tampered: %v", err)
	}
	expired := payment.SignToken(e.s.TokenKey, "shop", "pay_x", time.Now().Add(-time.Minute))
	if _, err := e.s.OpenRedirect(ctx, expired); paywire.ErrorCode(err) != paywire.EFORBIDDEN {
		t.Errorf("expired: %v", err)
	}
	unknown := payment.SignToken(e.s.TokenKey, "shop", "pay_nothing", time.Now().Add(time.Minute))
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
	_ = storetest.SeedMerchant
}
