package payment

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
// EUNAUTHORIZED for a tampered or unknown token, EFORBIDDEN for an
// expired one.
func (s *Service) OpenRedirect(ctx context.Context, token string) (*Checkout, error) {
	m, p, err := s.open(ctx, token)
	if err != nil {
		return nil, err
	}
	c := &Checkout{
		Token: token, PaymentID: p.ID, MerchantID: m.ID, MerchantName: m.Name, MerchantReference: p.MerchantReference,
		Kind: p.Kind, Amount: p.Amount, Language: p.EndUser.Language, Preselected: p.PreselectedMethod,
		ExpiresAt: p.ExpiresAt, State: p.State, ReturnOrigins: origins(p.ReturnURLs),
	}
	if p.State == paywire.StateCreated {
		if c.Methods, err = s.availableMethods(ctx, m.ID, p.ID, p.Kind, p.Amount, p.EndUser, p.PreselectedMethod, s.now()); err != nil {
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
// Refused fields come back as a *DetailsError; a method not offered is
// EINVALID.
func (s *Service) Submit(ctx context.Context, token string, d Details) (*Outcome, error) {
	m, p, err := s.open(ctx, token)
	if err != nil {
		return nil, err
	}
	if p.State != paywire.StateCreated {
		return nil, paywire.Errorf(paywire.ECONFLICT, "this payment was submitted already")
	}
	now := s.now()
	methods, err := s.availableMethods(ctx, m.ID, p.ID, p.Kind, p.Amount, p.EndUser, p.PreselectedMethod, now)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(methods, func(o engine.MethodOption) bool {
		return o.Method == d.Method && p.Amount.Amount >= o.MinMinor && p.Amount.Amount <= o.MaxMinor
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
	risk, err := s.Engine.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{
		PaymentID: p.ID, MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: d.Method,
		Card: riskCard(card), Customer: customer(eu), Time: now,
	}})
	if err != nil {
		return nil, err
	}
	summary := engine.RiskSummary{Score: risk.Score, Action: string(risk.Action)}
	wf, err := s.workflowWithRisk(ctx, p, "submitted", 0, summary)
	if err != nil {
		return nil, err
	}
	if wf.NextState == "" {
		return nil, paywire.Errorf(paywire.EUNAVAILABLE, "the payment cannot be processed now")
	}
	p, _, err = s.Payments.ApplyStateChange(ctx, paywire.StateChange{
		PaymentID: p.ID, MerchantID: p.MerchantID, Version: p.Version, To: wf.NextState, Reason: wf.Reason,
		Source: "end_user", Method: d.Method, Card: card,
		Risk: &paywire.RiskResult{Score: risk.Score, Action: string(risk.Action)},
	})
	if paywire.ErrorCode(err) == paywire.ECONFLICT {
		return nil, paywire.Errorf(paywire.ECONFLICT, "this payment was submitted already")
	} else if err != nil {
		return nil, err
	}
	if p.State != paywire.StatePending {
		return s.outcome(ctx, m, p), nil // refused by risk, or held for review
	}

	route, err := s.Engine.Route(ctx, engine.RouteInput{PaymentID: p.ID, Request: engine.RouteRequest{
		MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: d.Method,
		Card:      routeCard(card),
		Customer:  engine.RouteCustomer{ID: eu.ID, Country: eu.Country},
		RiskScore: risk.Score, RiskAction: string(risk.Action), Time: now,
	}})
	if err != nil {
		return nil, err
	}
	softDeclined := false
	for i, name := range route.Providers {
		prov, err := s.Providers.Provider(name)
		if err != nil {
			s.logger().Warn("routed provider is not configured", "payment", p.ID, "provider", name)
			continue
		}
		auth, ok := prov.(adapters.Authorizer)
		if !ok {
			continue
		}
		a := &paywire.Attempt{PaymentID: p.ID, MerchantID: p.MerchantID, N: i + 1, Provider: name,
			IdempotencyKey: fmt.Sprintf("%s-%d", p.ID, i+1)}
		if err := s.Attempts.AddAttempt(ctx, a); err != nil {
			return nil, err
		}
		res, err := auth.Authorize(ctx, adapters.AuthorizeRequest{
			PaymentID: p.ID, Kind: p.Kind, Amount: p.Amount, Method: d.Method, EndUser: eu,
			Card: d.Card, Bank: d.Bank, Wallet: d.Wallet,
			ReturnURL:      s.PortalURL + "/listeners/" + url.PathEscape(name) + "/return?attempt=" + url.QueryEscape(a.ID),
			IdempotencyKey: a.IdempotencyKey,
		})
		if err != nil {
			res = adapters.Result{Status: adapters.Failed, Code: "error"}
			s.logger().Warn("provider failed; trying the next", "payment", p.ID, "provider", name, "error", err)
		}
		a.Reference, a.Status, a.Code = res.Reference, string(res.Status), res.Code
		if err := s.Attempts.UpdateAttempt(ctx, a); err != nil {
			return nil, err
		}
		switch res.Status {
		case adapters.Approved:
			p, err = s.providerEvent(ctx, p, name, res.Reference, adapters.EventAuthorized, 0, summary)
			if err != nil {
				return nil, err
			}
			return s.outcome(ctx, m, p), nil
		case adapters.Declined:
			if res.Soft {
				softDeclined = true
				s.logger().Info("soft decline; trying the next provider", "payment", p.ID, "provider", name, "code", res.Code)
				continue
			}
			p, err = s.providerEvent(ctx, p, name, res.Reference, adapters.EventDeclined, 0, summary)
			if err != nil {
				return nil, err
			}
			return s.outcome(ctx, m, p), nil
		case adapters.Pending:
			o := &Outcome{PaymentID: p.ID, State: p.State, RedirectURL: res.RedirectURL}
			return o, nil
		}
		s.logger().Warn("provider failed; trying the next", "payment", p.ID, "provider", name, "code", res.Code)
	}
	// Every provider was tried: refused when one of them declined,
	// failed when none could take the payment.
	last := "provider_error"
	if softDeclined {
		last = "provider_declined"
	}
	p, err = s.step(ctx, p, last, 0, summary, paywire.StateChange{})
	if err != nil {
		return nil, err
	}
	return s.outcome(ctx, m, p), nil
}

// workflowEvents maps provider events to the workflow's event types.
var workflowEvents = map[string]string{
	adapters.EventAuthorized: "provider_authorized",
	adapters.EventCaptured:   "provider_captured",
	adapters.EventDeclined:   "provider_declined",
	adapters.EventFailed:     "provider_error",
	adapters.EventChargeback: "chargeback",
}

// providerEvent applies what a provider said about p through the workflow,
// and carries out the capture the workflow may ask for (auto-capture).
func (s *Service) providerEvent(ctx context.Context, p *paywire.Payment, provider, reference, event string, amount int64, risk engine.RiskSummary) (*paywire.Payment, error) {
	wfEvent, ok := workflowEvents[event]
	if !ok {
		return p, nil
	}
	d, err := s.workflowWithRisk(ctx, p, wfEvent, amount, risk)
	if err != nil || d.NextState == "" {
		return p, err // a late or duplicate event moves nothing
	}
	change := paywire.StateChange{
		PaymentID: p.ID, MerchantID: p.MerchantID, Version: p.Version, To: d.NextState, Reason: d.Reason,
		Source: "provider:" + provider, Provider: provider, ProviderReference: reference,
	}
	if event == adapters.EventCaptured {
		change.CaptureAmount = p.Amount.Amount - p.Captured
	}
	next, _, err := s.Payments.ApplyStateChange(ctx, change)
	if err != nil {
		return nil, err
	}
	if slices.Contains(d.Actions, "capture") && next.State == paywire.StateAuthorized {
		return s.autoCapture(ctx, next, risk)
	}
	return next, nil
}

// autoCapture captures an authorization the workflow asked to capture at
// once. A failed capture leaves the payment authorized, for the merchant or
// a retry to capture.
func (s *Service) autoCapture(ctx context.Context, p *paywire.Payment, risk engine.RiskSummary) (*paywire.Payment, error) {
	c, err := provider[adapters.Capturer](s, p, "capture")
	if err != nil {
		s.logger().Warn("auto-capture impossible", "payment", p.ID, "error", err)
		return p, nil
	}
	res, err := c.Capture(ctx, adapters.Operation{PaymentID: p.ID, ProviderReference: p.ProviderReference,
		Amount: p.Amount, IdempotencyKey: fmt.Sprintf("%s-capture-%d", p.ID, p.Version)})
	if err := providerOutcome("capture", res, err); err != nil {
		s.logger().Warn("auto-capture failed", "payment", p.ID, "error", err)
		return p, nil
	}
	return s.providerEvent(ctx, p, p.Provider, p.ProviderReference, adapters.EventCaptured, p.Amount.Amount, risk)
}

// CancelRedirect cancels a token's payment for the end user, if its state
// allows, and returns the merchant's page for the state it is in.
func (s *Service) CancelRedirect(ctx context.Context, token string) (*Outcome, error) {
	m, p, err := s.open(ctx, token)
	if err != nil && paywire.ErrorCode(err) != paywire.EFORBIDDEN {
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
	d, err := s.workflow(ctx, p, "cancel_requested", 0)
	if err != nil {
		return nil, err
	}
	if d.NextState != "" && !slices.Contains(d.Actions, "void") {
		next, _, err := s.Payments.ApplyStateChange(ctx, paywire.StateChange{
			PaymentID: p.ID, MerchantID: p.MerchantID, Version: p.Version, To: d.NextState,
			Reason: "cancelled by the end user", Source: "end_user",
		})
		if err == nil {
			p = next
		} else if paywire.ErrorCode(err) != paywire.ECONFLICT {
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
	prov, err := s.Providers.Provider(provider)
	if err != nil {
		return nil, err
	}
	if q, ok := prov.(adapters.StatusQuerier); ok && a.Reference != "" && p.State == paywire.StatePending {
		res, err := q.Status(ctx, a.Reference)
		if err != nil {
			s.logger().Warn("provider status unavailable; the webhook will tell", "payment", p.ID, "error", err)
		} else {
			event := map[adapters.Status]string{adapters.Approved: adapters.EventAuthorized, adapters.Declined: adapters.EventDeclined}[res.Status]
			if event == adapters.EventAuthorized && p.Method != "card" {
				// Bank redirects and e-wallets have no separate capture:
				// approved means the money moved.
				event = adapters.EventCaptured
			}
			if event != "" {
				if next, err := s.providerEventRetry(ctx, p, provider, a.Reference, event, 0); err == nil {
					p = next
				} else {
					return nil, err
				}
			}
		}
	}
	// The end user has left our pages: whatever the state, they go back to
	// the merchant (pending and review to its Pending page).
	return &Outcome{PaymentID: p.ID, State: p.State, RedirectURL: ResultURL(m, p, s.now()), ToMerchant: true}, nil
}

// ProviderEvent applies a provider's webhook event to the payment of the
// attempt it refers to. Duplicate deliveries are recognised by the event id
// and ignored; events for unknown references are ENOTFOUND.
func (s *Service) ProviderEvent(ctx context.Context, provider string, ev adapters.WebhookEvent) error {
	a, err := s.Attempts.AttemptByReference(ctx, provider, ev.Reference)
	if err != nil {
		return paywire.Errorf(paywire.ENOTFOUND, "no payment has this provider reference")
	}
	fresh, err := s.Attempts.SeenProviderEvent(ctx, provider, ev.ID)
	if err != nil || !fresh {
		return err
	}
	p, err := s.Payments.Payment(ctx, a.MerchantID, a.PaymentID)
	if err != nil {
		return err
	}
	_, err = s.providerEventRetry(ctx, p, provider, ev.Reference, ev.Type, ev.Amount)
	return err
}

// providerEventRetry applies a provider event, reading the payment again
// when it changed meanwhile (a webhook and the end user's return race).
func (s *Service) providerEventRetry(ctx context.Context, p *paywire.Payment, provider, reference, event string, amount int64) (*paywire.Payment, error) {
	for range 5 {
		next, err := s.providerEvent(ctx, p, provider, reference, event, amount, engine.RiskSummary{})
		if paywire.ErrorCode(err) != paywire.ECONFLICT {
			return next, err
		}
		if p, err = s.Payments.Payment(ctx, p.MerchantID, p.ID); err != nil {
			return nil, err
		}
	}
	return nil, paywire.Errorf(paywire.EUNAVAILABLE, "the payment keeps changing; retry later")
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
func (s *Service) summarize(c *adapters.Card) *paywire.CardSummary {
	mac := hmac.New(sha256.New, s.cardKey())
	mac.Write([]byte(c.Number))
	return &paywire.CardSummary{
		Brand: Brand(c.Number), BIN: c.Number[:6], Last4: c.Number[len(c.Number)-4:],
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

// Brand tells a card's brand from its number's leading digits.
func Brand(number string) string {
	prefix := func(n int) int {
		v, _ := strconv.Atoi(number[:n])
		return v
	}
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case len(number) >= 2 && prefix(2) >= 51 && prefix(2) <= 55, len(number) >= 4 && prefix(4) >= 2221 && prefix(4) <= 2720:
		return "mastercard"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case strings.HasPrefix(number, "6011"), strings.HasPrefix(number, "65"):
		return "discover"
	}
	return "other"
}

// validateDetails checks what the end user entered, every field at once.
func validateDetails(d *Details, now time.Time) error {
	var fields []FieldError
	bad := func(field, reason string) { fields = append(fields, FieldError{Field: field, Reason: reason}) }
	switch d.Method {
	case "card":
		c := d.Card
		if c == nil {
			c = &adapters.Card{}
			d.Card = c
		}
		switch {
		case c.Number == "":
			bad("card.number", "required")
		case !allDigits(c.Number):
			bad("card.number", "format")
		case len(c.Number) < 12 || len(c.Number) > 19:
			bad("card.number", "length")
		case !Luhn(c.Number):
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
	case "bank_redirect":
		if d.Bank == "" {
			bad("bank", "required")
		} else if !slices.ContainsFunc(Banks, func(b Bank) bool { return b.ID == d.Bank }) {
			bad("bank", "unknown")
		}
	case "ewallet":
		if d.Wallet == "" {
			bad("wallet", "required")
		} else if a, err := mail.ParseAddress(d.Wallet); err != nil || a.Address != d.Wallet || len(d.Wallet) > 254 {
			bad("wallet", "format")
		}
	default:
		bad("method", "unknown")
	}
	if d.Method != "card" {
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

// Luhn reports whether a number of digits passes the Luhn check.
func Luhn(number string) bool {
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func riskCard(c *paywire.CardSummary) engine.Card {
	if c == nil {
		return engine.Card{}
	}
	return engine.Card{Brand: c.Brand, BIN: c.BIN, Last4: c.Last4, ExpiryMonth: c.ExpiryMonth, ExpiryYear: c.ExpiryYear, Fingerprint: c.Fingerprint}
}

func routeCard(c *paywire.CardSummary) engine.RouteCard {
	if c == nil {
		return engine.RouteCard{}
	}
	return engine.RouteCard{Brand: c.Brand, BIN: c.BIN}
}

func customer(u paywire.EndUser) engine.Customer {
	domain := ""
	if i := strings.LastIndexByte(u.Email, '@'); i >= 0 {
		domain = strings.ToLower(u.Email[i+1:])
	}
	return engine.Customer{ID: u.ID, Email: u.Email, EmailDomain: domain, Country: u.Country, IP: u.IP, Language: u.Language}
}
