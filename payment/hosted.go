package payment

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// The hosted pages' use cases: what a redirect token shows, the end user's
// submission (risk, workflow, routing, the provider with fallback), their
// cancelling, and where a payment stands.

// open verifies a token and reads its payment. A token of a payment that
// does not exist (any more) is as invalid as a tampered one.
func (s *Service) open(ctx context.Context, token string) (*paywire.Merchant, *paywire.Payment, error) {
	merchantID, paymentID, err := VerifyToken(s.TokenKey, token, s.now())
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return nil, nil, paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	} else if err != nil {
		return nil, nil, err
	}
	p, err := s.Payments.Payment(ctx, merchantID, paymentID)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return nil, nil, paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	}
	return m, p, err
}

// OpenRedirect returns what the hosted pages show for a token. Returns
// EUNAUTHORIZED for a tampered or unknown token, EEXPIRED for an expired
// one.
func (s *Service) OpenRedirect(ctx context.Context, token string) (*Checkout, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, p, err := s.open(ctx, token)
	if err != nil {
		return nil, err
	}
	c := &Checkout{
		Token: token, PaymentID: p.ID, MerchantID: m.ID, MerchantName: m.Name, MerchantReference: p.MerchantReference,
		Kind: p.Kind, Amount: p.Amount, Language: p.EndUser.Language, Preselected: string(p.PreselectedMethod),
		ExpiresAt: p.ExpiresAt, State: p.State, ReturnOrigins: origins(p.ReturnURLs),
	}
	if p.State == paywire.StateCreated {
		if c.Methods, err = s.paymentMethods(ctx, m, p, s.now()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func origins(u paywire.ReturnURLs) []string {
	var out []string
	for _, raw := range []string{u.Success, u.Error, u.Cancel, u.Refused, u.Pending} {
		if pu, err := url.Parse(raw); err == nil && pu.Host != "" {
			o := pu.Scheme + "://" + pu.Host
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

// Submit takes the end user's details for a token's payment, once: the
// payment leaves created in the same compare-and-set that records the
// method, so a second submission (or a concurrent one) gets ECONFLICT.
// Then risk, the workflow and, when the payment goes on, routing and the
// provider loop with the card in memory. Refused fields come back as a
// *DetailsError; a method not offered is EINVALID.
func (s *Service) Submit(ctx context.Context, token string, d Details) (*Outcome, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, p, err := s.open(ctx, token)
	if err != nil {
		return nil, err
	}
	if p.State != paywire.StateCreated {
		return nil, paywire.Errorf(paywire.ECONFLICT, "this payment was submitted already")
	}
	now := s.now()
	methods, err := s.paymentMethods(ctx, m, p, now)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(methods, func(o engine.MethodOption) bool {
		return o.Method == string(d.Method) && p.Amount.Amount >= o.MinMinor && p.Amount.Amount <= o.MaxMinor
	}) {
		return nil, &DetailsError{Fields: []FieldError{{Field: "method", Reason: "unknown"}}}
	}
	if err := validateDetails(&d, now); err != nil {
		return nil, err
	}
	var card *paywire.CardSummary
	if d.Card != nil {
		card = s.summarize(d.Card)
	}
	eu := p.EndUser
	if d.IP != "" && eu.IP == "" {
		eu.IP = d.IP
	}
	source, err := s.payoutSource(ctx, m, p, d.Method, card)
	if err != nil {
		return nil, err
	}
	p, err = s.submit(ctx, m, p, d.Method, card, eu, source, now)
	// A concurrent submission that moved the payment first makes this one
	// a second submission: its compare-and-set lost, and on the payment
	// read again the workflow has nothing for "submitted" (not applicable).
	if paywire.ErrorCode(err) == paywire.ECONFLICT || isNotApplicable(err) {
		return nil, paywire.Errorf(paywire.ECONFLICT, "this payment was submitted already")
	} else if err != nil {
		return nil, err
	}
	if p.State != paywire.StatePending {
		return s.outcome(ctx, m, p), nil // refused by risk, or held for review
	}
	fx, err := s.paymentFacts(ctx, engine.PointRouting, p, now)
	if err != nil {
		return nil, err
	}
	route, err := s.Decider.Route(ctx, routeInput(p, paywire.RiskResult{Score: p.RiskScore, Action: p.RiskAction}, fx, now))
	if err != nil {
		return nil, err
	}
	threeDS := p.RiskAction == paywire.RiskChallenge
	t, err := s.takePayment(ctx, p, route.Providers, paywire.OpAuthorize, func(ctx context.Context, prov adapters.Provider, att *paywire.Attempt) (adapters.Result, error, bool) {
		auth, ok := prov.(adapters.Authorizer)
		if !ok {
			return adapters.Result{}, nil, false
		}
		res, err := auth.Authorize(ctx, adapters.AuthorizeRequest{
			PaymentID: p.ID, Kind: p.Kind, Amount: p.Amount, Method: string(d.Method), EndUser: eu,
			Card: d.Card, Bank: d.Bank, Wallet: d.Wallet, ThreeDS: threeDS,
			ReturnURL:      s.PortalURL + "/listeners/" + url.PathEscape(prov.Name()) + "/return?attempt=" + url.QueryEscape(att.ID),
			IdempotencyKey: att.IdempotencyKey,
		})
		return res, err, true
	})
	if err != nil {
		return nil, err
	}
	if t.Payment.State == paywire.StatePending && t.Result.Status == adapters.Pending && t.Result.RedirectURL != "" {
		return &Outcome{PaymentID: p.ID, State: t.Payment.State, RedirectURL: t.Result.RedirectURL}, nil
	}
	return s.outcome(ctx, m, t.Payment), nil
}

// payoutSource is the deposit a withdrawal the end user submitted is paid
// out to, when the merchant wants its withdrawals approved: the details
// entered are not kept until a person approves (card numbers never are), so
// the payout goes to the end user's latest paid deposit with the method —
// with the same card, for cards — on the credential its provider holds.
// "" when the payment needs no approval. A withdrawal to a card or method
// the end user never paid with is refused as the entered details.
func (s *Service) payoutSource(ctx context.Context, m *paywire.Merchant, p *paywire.Payment, method paywire.Method, card *paywire.CardSummary) (string, error) {
	if p.Kind != paywire.KindWithdrawal || m.WithdrawalApprovals == 0 {
		return "", nil
	}
	field, fingerprint := "method", ""
	if card != nil {
		field, fingerprint = "card.number", card.Fingerprint
	}
	src, err := s.Payments.PayoutSource(ctx, m.ID, p.EndUser.ID, method, fingerprint)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return "", &DetailsError{Fields: []FieldError{{Field: field, Reason: "not_deposited"}}}
	} else if err != nil {
		return "", err
	}
	return src.ID, nil
}

// submit records the end user's submission of a created payment through
// the workflow, after risk: pending (on to the providers), review or
// refused. source binds a withdrawal that needs approval to the deposit it
// is paid out to ("" for none). It schedules the follow-up that finishes
// the payment if the process dies before the providers answer.
func (s *Service) submit(ctx context.Context, m *paywire.Merchant, p *paywire.Payment, method paywire.Method, card *paywire.CardSummary, eu paywire.EndUser, source string, now time.Time) (*paywire.Payment, error) {
	fingerprint, bin := "", ""
	if card != nil {
		fingerprint, bin = card.Fingerprint, card.BIN
	}
	fx, err := s.facts(ctx, engine.PointRisk, featureQuery(p.MerchantID, p.ID, p.Amount.Currency, fingerprint, eu, now), bin)
	if err != nil {
		return nil, err
	}
	risk, err := s.Decider.Risk(ctx, riskInput(p, m, method, card, eu, fx, now))
	if err != nil {
		return nil, err
	}
	if risk.FailedClosed {
		s.logger().ErrorContext(ctx, "risk decision failed closed", "payment_id", p.ID, "decision", risk.DecisionID, "error", risk.Error)
	}
	// The hosted pages' submission is the end user's, also on a payment
	// link without return URLs (a manual payment).
	return s.transition(ctx, p, event{
		Type: paywire.EventSubmitted, Source: paywire.ActorEndUser, Method: method, Card: card, SourcePaymentID: source,
		Risk:      &paywire.RiskResult{Score: risk.Score, Action: risk.Action},
		FollowUps: []paywire.FollowUp{followUp(p, paywire.FollowUpProcess, now.Add(s.recoverAfter()))},
	})
}

func (s *Service) recoverAfter() time.Duration {
	if s.RecoverAfter > 0 {
		return s.RecoverAfter
	}
	return 3 * time.Minute
}

// CancelRedirect cancels a token's payment for the end user, if its state
// allows, and returns the merchant's page for the state it is in.
func (s *Service) CancelRedirect(ctx context.Context, token string) (*Outcome, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, p, err := s.open(ctx, token)
	if err != nil && paywire.ErrorCode(err) != paywire.EEXPIRED {
		return nil, err
	}
	if err != nil { // expired: still the end user may go back; the payment expires on its own
		merchantID, paymentID, _ := tokenParts(token)
		if m, err = s.Merchants.Merchant(ctx, merchantID); err != nil {
			return nil, err
		}
		if p, err = s.Payments.Payment(ctx, merchantID, paymentID); err != nil {
			return nil, err
		}
	}
	if p.State == paywire.StateCreated {
		next, err := s.transition(ctx, p, event{Type: paywire.EventCancelRequested, Source: paywire.ActorEndUser})
		switch {
		case err == nil:
			p = next
		case isNotApplicable(err), paywire.ErrorCode(err) == paywire.EILLEGALMOVE:
		default:
			return nil, err
		}
	}
	return s.outcome(ctx, m, p), nil
}

// tokenParts reads a token's merchant and payment without checking it; only
// for a token whose MAC was verified and found expired.
func tokenParts(token string) (string, string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// Progress says where a token's payment stands and where the end user goes.
func (s *Service) Progress(ctx context.Context, token string) (*Outcome, error) {
	m, p, err := s.open(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.outcome(ctx, m, p), nil
}

// ConfirmReturn handles an end user coming back from a provider's page for
// an attempt: the outcome is asked of the provider (never taken from the
// request), applied, and the merchant's page for the resulting state is
// returned. Returns ENOTFOUND for an unknown attempt of this provider.
func (s *Service) ConfirmReturn(ctx context.Context, provider, attemptID string) (*Outcome, error) {
	ctx, done := s.gather(ctx)
	defer done()
	a, err := s.Attempts.Attempt(ctx, attemptID)
	if err != nil || a.Provider != provider {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "unknown payment attempt")
	}
	m, err := s.Merchants.Merchant(ctx, a.MerchantID)
	if err != nil {
		return nil, err
	}
	p, err := s.Payments.Payment(ctx, a.MerchantID, a.PaymentID)
	if err != nil {
		return nil, err
	}
	if a.Status.Open() && p.State == paywire.StatePending {
		next, err := s.resolve(ctx, p, a, 0)
		switch {
		case err == nil:
			p = next
		case err == errStillOpen:
		default:
			s.logger().WarnContext(ctx, "provider status unavailable; the webhook or a follow-up will tell", "payment_id", p.ID, "error", err)
		}
	}
	// The end user has left our pages: whatever the state, they go back to
	// the merchant (pending and review to its Pending page).
	return &Outcome{PaymentID: p.ID, State: p.State, RedirectURL: ResultURL(m, p, s.now()), ToMerchant: true}, nil
}

// webhookEvents maps provider webhook events to the workflow's.
var webhookEvents = map[string]paywire.EventType{
	adapters.EventAuthorized: paywire.EventProviderAuthorized,
	adapters.EventCaptured:   paywire.EventProviderCaptured,
	adapters.EventDeclined:   paywire.EventProviderDeclined,
	adapters.EventFailed:     paywire.EventProviderError,
	adapters.EventCancelled:  paywire.EventProviderCancelled,
	adapters.EventRefunded:   paywire.EventProviderRefunded,
	adapters.EventChargeback: paywire.EventChargeback,
}

// webhookAttempt maps the webhook events that decide an attempt to the
// attempt's status.
var webhookAttempt = map[string]paywire.AttemptStatus{
	adapters.EventAuthorized: paywire.AttemptApproved,
	adapters.EventCaptured:   paywire.AttemptApproved,
	adapters.EventDeclined:   paywire.AttemptDeclined,
	adapters.EventFailed:     paywire.AttemptFailed,
	adapters.EventCancelled:  paywire.AttemptCancelled,
}

// HandleWebhook verifies a provider's webhook (header and raw body) with
// the provider and applies each of its events, exactly once in effect:
// an event is marked seen in the transaction of the change it causes, so
// a delivery that failed to apply is applied when redelivered, and a
// duplicate changes nothing. Amounts of captures, refunds and chargebacks
// are the event's. Returns ENOTFOUND for an unknown provider or one that
// sends no webhooks, EUNAUTHORIZED for a bad signature, EINVALID for an
// unreadable body; events for payments we do not know are skipped
// (logged).
func (s *Service) HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) error {
	ctx, done := s.gather(ctx)
	defer done()
	prov, err := s.Providers.Provider(provider)
	if err != nil {
		return paywire.Errorf(paywire.ENOTFOUND, "unknown provider")
	}
	verifier, ok := prov.(adapters.WebhookVerifier)
	if !ok {
		return paywire.Errorf(paywire.ENOTFOUND, "this provider sends no webhooks")
	}
	events, err := verifier.VerifyWebhook(header, body, s.now())
	if err != nil {
		return err
	}
	for _, we := range events {
		if err := s.providerEvent(ctx, provider, we); err != nil {
			if paywire.ErrorCode(err) == paywire.ENOTFOUND {
				s.logger().WarnContext(ctx, "webhook for an unknown reference", "provider", provider, "event", we.ID, "reference", we.Reference)
				continue
			}
			return err
		}
	}
	return nil
}

// providerEvent applies one verified webhook event.
func (s *Service) providerEvent(ctx context.Context, provider string, we adapters.WebhookEvent) error {
	typ, ok := webhookEvents[we.Type]
	if !ok {
		return paywire.Errorf(paywire.EINVALID, "unknown provider event type")
	}
	a, err := s.Attempts.AttemptByReference(ctx, provider, we.Reference)
	if err != nil {
		return paywire.Errorf(paywire.ENOTFOUND, "no payment has this provider reference")
	}
	if seen, err := s.Attempts.ProviderEventSeen(ctx, provider, we.ID); err != nil || seen {
		return err
	}
	p, err := s.Payments.Payment(ctx, a.MerchantID, a.PaymentID)
	if err != nil {
		return err
	}
	ev := event{Type: typ, Amount: we.Amount, Source: paywire.ProviderActor(provider), Provider: provider, Reference: we.Reference,
		Seen: &paywire.ProviderEvent{Provider: provider, EventID: we.ID, PaymentID: p.ID}}
	if st, ok := webhookAttempt[we.Type]; ok && a.Status.Open() {
		att := *a
		att.Status, att.Code = st, we.Code
		ev.Attempt = &att
	} else if ok && (st == paywire.AttemptDeclined || st == paywire.AttemptFailed || st == paywire.AttemptCancelled) {
		// A "not done" about an attempt decided already — by its own
		// answer (a soft decline or a failure the provider loop went past
		// to the next provider) or by an earlier event — is no news about
		// the payment, which may be at another provider now: the event is
		// marked seen and changes nothing.
		err := s.writeSideRows(ctx, p, event{Seen: ev.Seen}, nil)
		if paywire.ErrorCode(err) == paywire.ECONFLICT {
			return nil // seen meanwhile
		}
		return err
	}
	if typ == paywire.EventProviderCaptured && p.State != paywire.StateAuthorized {
		ev.Amount = 0 // a sale: the whole amount, as the payment was never authorized apart
	}
	_, err = s.transition(ctx, p, ev)
	if isNotApplicable(err) {
		s.logger().InfoContext(ctx, "late or duplicate provider event; nothing to change", "payment_id", p.ID, "provider", provider, "event", we.ID, "type", we.Type)
		return nil
	}
	return err
}

// outcome is the end user's next page for p: the merchant's page for its
// state, or none while it is pending (the pages show "processing").
func (s *Service) outcome(ctx context.Context, m *paywire.Merchant, p *paywire.Payment) *Outcome {
	o := &Outcome{PaymentID: p.ID, State: p.State}
	switch p.State {
	case paywire.StatePending, paywire.StateCreated:
		return o
	}
	o.RedirectURL, o.ToMerchant = ResultURL(m, p, s.now()), true
	return o
}

// ResultURL is the merchant's page for p's state with signed result
// parameters: paymentId, merchantReference, state, t (unix seconds) and
// signature, the hex HMAC-SHA256 keyed with the merchant's signing secret
// of "t.paymentId.merchantReference.state".
func ResultURL(m *paywire.Merchant, p *paywire.Payment, now time.Time) string {
	page := p.ReturnURLs.For(p.State)
	u, err := url.Parse(page)
	if err != nil || page == "" {
		return ""
	}
	t := strconv.FormatInt(now.Unix(), 10)
	state := strings.ToUpper(string(p.State))
	q := u.Query()
	q.Set("paymentId", p.ID)
	q.Set("merchantReference", p.MerchantReference)
	q.Set("state", state)
	q.Set("t", t)
	q.Set("signature", ResultSignature(m.SigningSecret, t, p.ID, p.MerchantReference, state))
	u.RawQuery = q.Encode()
	return u.String()
}

// ResultSignature signs result parameters; merchants compute the same to
// verify them.
func ResultSignature(secret, t, paymentID, reference, state string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "." + paymentID + "." + reference + "." + state))
	return hex.EncodeToString(mac.Sum(nil))
}

// summarize keeps what may be kept of a card: brand, BIN, last 4, expiry
// and a keyed fingerprint of the number.
func (s *Service) summarize(c *paywire.Card) *paywire.CardSummary {
	mac := hmac.New(sha256.New, s.cardKey())
	mac.Write([]byte(c.Number))
	return &paywire.CardSummary{
		Brand: c.Brand(), BIN: c.Number[:6], Last4: c.Number[len(c.Number)-4:],
		ExpiryMonth: c.ExpiryMonth, ExpiryYear: c.ExpiryYear, Fingerprint: hex.EncodeToString(mac.Sum(nil)),
	}
}

// cardKey keys card fingerprints: derived from the token key, so that one
// secret configures a node, and different from it.
func (s *Service) cardKey() []byte {
	mac := hmac.New(sha256.New, s.TokenKey)
	mac.Write([]byte("paywire card fingerprint"))
	return mac.Sum(nil)
}

// validateDetails checks what the end user entered, every field at once.
func validateDetails(d *Details, now time.Time) error {
	var fields []FieldError
	bad := func(field, reason string) { fields = append(fields, FieldError{Field: field, Reason: reason}) }
	switch d.Method {
	case paywire.MethodCard:
		c := d.Card
		if c == nil {
			c = &paywire.Card{}
			d.Card = c
		}
		switch {
		case c.Number == "":
			bad("card.number", "required")
		case !allDigits(c.Number):
			bad("card.number", "format")
		case len(c.Number) < 12 || len(c.Number) > 19:
			bad("card.number", "length")
		case !paywire.Luhn(c.Number):
			bad("card.number", "luhn")
		}
		switch {
		case c.ExpiryMonth == 0 || c.ExpiryYear == 0:
			bad("card.expiry", "required")
		case c.ExpiryMonth < 1 || c.ExpiryMonth > 12 || c.ExpiryYear < 2000 || c.ExpiryYear > now.Year()+20:
			bad("card.expiry", "format")
		case c.ExpiryYear < now.Year() || c.ExpiryYear == now.Year() && c.ExpiryMonth < int(now.Month()):
			bad("card.expiry", "expired")
		}
		switch {
		case c.CVC == "":
			bad("card.cvc", "required")
		case !allDigits(c.CVC) || len(c.CVC) < 3 || len(c.CVC) > 4:
			bad("card.cvc", "format")
		}
		switch {
		case strings.TrimSpace(c.Holder) == "":
			bad("card.holder", "required")
		case len(c.Holder) > 100:
			bad("card.holder", "length")
		}
	case paywire.MethodBankRedirect:
		if d.Bank == "" {
			bad("bank", "required")
		} else if !slices.ContainsFunc(Banks, func(b Bank) bool { return b.ID == d.Bank }) {
			bad("bank", "unknown")
		}
	case paywire.MethodEWallet:
		if d.Wallet == "" {
			bad("wallet", "required")
		} else if a, err := mail.ParseAddress(d.Wallet); err != nil || a.Address != d.Wallet || len(d.Wallet) > 254 {
			bad("wallet", "format")
		}
	default:
		bad("method", "unknown")
	}
	if d.Method != paywire.MethodCard {
		d.Card = nil // never carry a card number with another method
	}
	if len(fields) > 0 {
		return &DetailsError{Fields: fields}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
