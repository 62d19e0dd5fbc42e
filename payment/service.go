// Package payment holds the use cases the transports call: start a payment
// for the hosted pages, create a backend payment, capture, cancel, refund,
// read a payment, list the methods an end user may use, apply a provider's
// webhook, and the worker that carries out follow-ups. It is the only
// package that changes a payment: every change goes through one
// transition path (transition.go) and every provider call through one
// provider loop (providers.go). Every choice is the decision engine's;
// every request that changes something may be made idempotent by a key,
// its outcome stored with the change.
package payment

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// Decider is what the use cases ask the decision engine; *engine.Engine
// implements it, and tests may pin a decision.
type Decider interface {
	Availability(ctx context.Context, in engine.AvailabilityInput) (engine.AvailabilityDecision, error)
	Risk(ctx context.Context, in engine.RiskInput) (engine.RiskDecision, error)
	Route(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error)
	Workflow(ctx context.Context, in engine.WorkflowInput) (engine.WorkflowDecision, error)
	// FeatureKeys returns the keys whose features decisions at point
	// read.
	FeatureKeys(point string) engine.FeatureKeys
	// Basis returns what a decision starting now is made under.
	Basis() engine.Basis
}

var _ Decider = (*engine.Engine)(nil)

// HealthReader tells how the providers fare with a method, by provider
// name, as this node last read it (the provider health loop's figures and
// the states every node shares through the database). The map is not
// changed after it is returned; nil: nothing is known.
type HealthReader interface {
	ProviderHealth(method paywire.Method) map[string]engine.ProviderHealth
}

// Metrics receives what operators count: every committed state change and
// every provider call with its outcome (an attempt status, or "unsupported")
// and duration. Implementations must be safe for concurrent use and fast.
type Metrics interface {
	Transition(from, to paywire.State, method paywire.Method, provider string)
	ProviderCall(provider string, op paywire.Operation, outcome string, d time.Duration)
}

// Service runs the payment use cases. The fields are its dependencies,
// set by cmd/paywire; Service is safe for concurrent use.
type Service struct {
	Payments    paywire.PaymentStore
	Merchants   paywire.MerchantStore
	Idempotency paywire.IdempotencyStore
	Attempts    paywire.AttemptStore
	Outbox      paywire.OutboxStore
	FollowUps   paywire.FollowUpStore
	Decider     Decider
	// Features computes risk features from the payment history; nil:
	// every feature is unknown.
	Features paywire.FeatureStore
	// Decisions stores the decision records of a request that no change
	// carried (see gather); nil: the engine's recorder stores every
	// decision at once, in a commit of its own.
	Decisions paywire.DecisionStore
	// Enrichment knows BINs and IP addresses; nil: their countries are
	// unknown.
	Enrichment Enrichment
	// Health tells routing how the providers fare; nil: unknown.
	Health    HealthReader
	Providers *adapters.Registry
	Logger    *slog.Logger
	// Metrics is told of state changes and provider calls; nil: nothing
	// is recorded.
	Metrics Metrics
	// ProviderTimeout bounds one provider call; 20 s when zero.
	ProviderTimeout time.Duration
	// RecoverAfter is when a submitted payment's process follow-up falls
	// due: longer than a provider loop takes, so that it finds the payment
	// decided or waiting at a provider unless the process died; 3 minutes
	// when zero.
	RecoverAfter time.Duration

	// PortalURL is the public base URL of the service, without a trailing
	// slash: redirects go to PortalURL + "/pay", providers send end users
	// back to PortalURL + "/listeners/<provider>/return".
	PortalURL string
	// TokenKey signs redirect tokens (at least 32 random bytes).
	TokenKey []byte
	// RedirectTTL is how long a redirect stays valid; 15 minutes when zero.
	RedirectTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Offers keeps payments' availability decisions for their pages
	// (payment/offers.go); nil: every page decides anew.
	Offers *OfferMemo
}

// now is the time a use case records: UTC, to the microsecond, which both
// databases keep exactly, so that an answer computed before a change is
// written equals the payment read back after it.
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// StartRequest starts a payment the end user completes on the hosted pages
// (getRedirectData).
type StartRequest struct {
	MerchantReference string             `json:"merchantReference"`
	Kind              paywire.Kind       `json:"kind"`
	Amount            paywire.Money      `json:"amount"`
	EndUser           paywire.EndUser    `json:"endUser"`
	ReturnURLs        paywire.ReturnURLs `json:"returnUrls"`
	PaymentMethod     paywire.Method     `json:"paymentMethod,omitempty"`
	NotificationURL   string             `json:"notificationUrl,omitempty"`
}

// Redirect tells the merchant where to send the end user.
type Redirect struct {
	PaymentID  string    `json:"paymentId"`
	URL        string    `json:"redirectUrl"`
	HTTPMethod string    `json:"httpMethod"` // "POST": the token travels in the body, not in URLs and logs
	PostFields []Field   `json:"postFields"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// Field is one form field the redirect posts.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Start registers a payment and returns the redirect to the hosted pages.
// key makes the request idempotent (the transports pass "ref:" + the
// merchant reference, or the client's Idempotency-Key). Returns EINVALID
// for a malformed request, a return URL off the allowlist or a method not
// available; ECONFLICT when the merchant reference is taken;
// EIDEMPOTENCY / EINPROGRESS as the idempotency store says.
func (s *Service) Start(ctx context.Context, merchantID, key string, req StartRequest) (*Redirect, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if err := validateStart(m, &req, s.now()); err != nil {
		return nil, err
	}
	ttl := s.RedirectTTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	return idempotentCreate(ctx, s, merchantID, key, req, func(idem *idemRequest) (*Redirect, error) {
		r, err := s.register(ctx, m, req, paywire.ActorMerchant, ttl, idem, func(r *Redirect) any { return r })
		return r, err
	})
}

// register creates the payment of req for the hosted pages, by source,
// expiring with its link after ttl, and returns its redirect. idem, when
// set, is answered in the creation's transaction with what answer makes
// of the redirect.
func (s *Service) register(ctx context.Context, m *paywire.Merchant, req StartRequest, source paywire.Actor, ttl time.Duration, idem *idemRequest, answer func(*Redirect) any) (*Redirect, error) {
	now := s.now()
	d, err := s.decideMethods(ctx, m, "", req.Kind, req.Amount, req.EndUser, req.PaymentMethod, now)
	if err != nil {
		return nil, err
	}
	methods := offered(m, d.Methods)
	if req.PaymentMethod != "" && !slices.ContainsFunc(methods, func(o engine.MethodOption) bool { return o.Method == string(req.PaymentMethod) }) {
		return nil, paywire.Errorf(paywire.EINVALID, "payment method %q is not available for this payment", req.PaymentMethod)
	}
	if len(methods) == 0 {
		return nil, paywire.Errorf(paywire.EINVALID, "no payment method is available for this amount, currency and country")
	}
	p := &paywire.Payment{
		MerchantID: m.ID, MerchantReference: req.MerchantReference, Kind: req.Kind, Amount: req.Amount,
		EndUser: req.EndUser, ReturnURLs: req.ReturnURLs, NotificationURL: req.NotificationURL,
		PreselectedMethod: req.PaymentMethod, ExpiresAt: now.Add(ttl).Truncate(time.Second),
	}
	c := paywire.Creation(p, source, now)
	c.Notification = paywire.NotificationTo(m, p, c.Event)
	if source != paywire.ActorMerchant {
		// A person's payment (an operator's manual payment) is audited
		// with its creation.
		details, _ := json.Marshal(map[string]any{"merchantId": m.ID, "merchantReference": p.MerchantReference,
			"kind": p.Kind, "amount": p.Amount.String(), "endUserId": p.EndUser.ID, "linkExpiresAt": p.ExpiresAt})
		c.Audit = &paywire.AuditEntry{Actor: string(source), Action: "payment.create_manual", Target: p.ID, Details: details}
	}
	// The payment and its redirect link expire together.
	c.FollowUps = []paywire.FollowUp{followUp(p, paywire.FollowUpPaymentExpiry, p.ExpiresAt)}
	r := &Redirect{
		PaymentID:  p.ID,
		URL:        s.PortalURL + "/pay",
		HTTPMethod: "POST",
		PostFields: []Field{{Name: "token", Value: SignToken(s.TokenKey, m.ID, p.ID, p.ExpiresAt)}},
		ExpiresAt:  p.ExpiresAt,
	}
	if idem != nil {
		if c.Idempotency, err = idem.answerWith(answer(r)); err != nil {
			return nil, err
		}
	}
	if err := s.create(ctx, c); err != nil {
		if paywire.ErrorCode(err) == paywire.ECONFLICT {
			return nil, paywire.Errorf(paywire.ECONFLICT, "merchant reference %q is already used by another payment", req.MerchantReference)
		}
		return nil, err
	}
	idem.committed()
	// The payment's pages show what its creation was decided with.
	s.Offers.put(m.ID, p.ID, d, now)
	return r, nil
}

// ManualRequest is a payment an operator creates in the back office for a
// merchant's end user, who pays it on the hosted pages through a link the
// operator sends them.
type ManualRequest struct {
	MerchantReference string          `json:"merchantReference"`
	Kind              paywire.Kind    `json:"kind"`
	Amount            paywire.Money   `json:"amount"`
	EndUser           paywire.EndUser `json:"endUser"`
	PaymentMethod     paywire.Method  `json:"paymentMethod,omitempty"`
	// ValidFor is how long the link works: MinLinkValidity to
	// MaxLinkValidity.
	ValidFor time.Duration `json:"validFor"`
}

// PaymentLink is the link of a manual payment: it opens the hosted pages
// for that payment until it expires, and pays it once (after the end
// user's submission it shows where the payment stands).
type PaymentLink struct {
	PaymentID string    `json:"paymentId"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// How long a payment link may work.
const (
	MinLinkValidity = time.Hour
	MaxLinkValidity = 7 * 24 * time.Hour
)

// LinkPath is where a payment link opens the hosted pages, followed by
// the link's token.
const LinkPath = "/pay/link/"

// StartManual creates a payment for a merchant's end user on an operator's
// behalf (who, named in its history) and returns its link. The payment has
// no return URLs: the hosted pages show its outcome themselves; the
// merchant is notified of every change as for its own payments. key makes
// the request idempotent (a form sent twice gets the same link). Returns
// EINVALID for a malformed request or no method available, ECONFLICT when
// the merchant reference is taken.
func (s *Service) StartManual(ctx context.Context, who paywire.Actor, merchantID, key string, req ManualRequest) (*PaymentLink, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if who == "" {
		return nil, paywire.Errorf(paywire.EINVALID, "a manual payment needs who creates it")
	}
	if req.ValidFor < MinLinkValidity || req.ValidFor > MaxLinkValidity {
		return nil, paywire.Errorf(paywire.EINVALID, "a payment link works for 1 hour to 7 days")
	}
	if err := validateOrder(req.MerchantReference, req.Kind, req.Amount, &req.EndUser, s.now()); err != nil {
		return nil, err
	}
	if err := validateMethod(req.PaymentMethod, false); err != nil {
		return nil, err
	}
	start := StartRequest{MerchantReference: req.MerchantReference, Kind: req.Kind, Amount: req.Amount, EndUser: req.EndUser, PaymentMethod: req.PaymentMethod}
	linkOf := func(r *Redirect) *PaymentLink {
		return &PaymentLink{PaymentID: r.PaymentID, URL: s.PortalURL + LinkPath + r.PostFields[0].Value, ExpiresAt: r.ExpiresAt}
	}
	return idempotentCreate(ctx, s, merchantID, key, req, func(idem *idemRequest) (*PaymentLink, error) {
		r, err := s.register(ctx, m, start, who, req.ValidFor, idem, func(r *Redirect) any { return linkOf(r) })
		if err != nil {
			return nil, err
		}
		return linkOf(r), nil
	})
}

var (
	referenceChars = regexp.MustCompile(`^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$`)
	countryCode    = regexp.MustCompile(`^[A-Z]{2}$`)
	languageTag    = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)
	emailAddress   = regexp.MustCompile(`^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$`)
)

// clockSkew is how far ahead of ours a merchant's clock may be: a time
// the merchant gives is in the future only beyond it.
const clockSkew = time.Minute

// validateOrder checks what every new payment carries, at now.
func validateOrder(reference string, kind paywire.Kind, amount paywire.Money, u *paywire.EndUser, now time.Time) error {
	switch {
	case reference == "" || len(reference) > 128 || !referenceChars.MatchString(reference):
		return paywire.Errorf(paywire.EINVALID, "merchantReference must be 1 to 128 printable ASCII characters")
	case !kind.Valid():
		return paywire.Errorf(paywire.EINVALID, "kind must be DEPOSIT or WITHDRAWAL")
	case !amount.Currency.Payable():
		return paywire.Errorf(paywire.EINVALID, "currency must be an ISO 4217 currency code")
	case amount.Amount <= 0:
		return paywire.Errorf(paywire.EINVALID, "amount must be greater than zero")
	case u.ID == "" || len(u.ID) > 128:
		return paywire.Errorf(paywire.EINVALID, "endUser.id must be 1 to 128 characters")
	case !countryCode.MatchString(u.Country):
		return paywire.Errorf(paywire.EINVALID, "endUser.country must be an ISO 3166-1 alpha-2 code in capitals")
	case u.Email != "" && (len(u.Email) > 254 || !emailAddress.MatchString(u.Email)):
		return paywire.Errorf(paywire.EINVALID, "endUser.email is not an e-mail address")
	case u.Language != "" && !languageTag.MatchString(u.Language):
		return paywire.Errorf(paywire.EINVALID, "endUser.language must be a language tag such as en or de-AT")
	case u.IP != "" && net.ParseIP(u.IP) == nil:
		return paywire.Errorf(paywire.EINVALID, "endUser.ip is not an IP address")
	case utf8.RuneCountInString(u.DeviceID) > 128:
		return paywire.Errorf(paywire.EINVALID, "endUser.deviceId is longer than 128 characters")
	case u.BillingCountry != "" && !countryCode.MatchString(u.BillingCountry):
		return paywire.Errorf(paywire.EINVALID, "endUser.billingCountry must be an ISO 3166-1 alpha-2 code in capitals")
	case u.RegisteredAt.After(now.Add(clockSkew)):
		return paywire.Errorf(paywire.EINVALID, "endUser.registeredAt is in the future")
	}
	return nil
}

func validateMethod(method paywire.Method, required bool) error {
	if method == "" && !required {
		return nil
	}
	if !method.Valid() {
		return paywire.Errorf(paywire.EINVALID, "paymentMethod must be one of %s", paywire.MethodNames())
	}
	return nil
}

func validateStart(m *paywire.Merchant, req *StartRequest, now time.Time) error {
	if err := validateOrder(req.MerchantReference, req.Kind, req.Amount, &req.EndUser, now); err != nil {
		return err
	}
	if err := validateMethod(req.PaymentMethod, false); err != nil {
		return err
	}
	u := req.ReturnURLs
	for _, r := range []struct{ name, url string }{
		{"returnUrls.success", u.Success}, {"returnUrls.error", u.Error}, {"returnUrls.cancel", u.Cancel},
		{"returnUrls.refused", u.Refused}, {"returnUrls.pending", u.Pending},
	} {
		if r.url == "" {
			return paywire.Errorf(paywire.EINVALID, "%s is required", r.name)
		}
		if err := CheckMerchantURL(m, r.name, r.url); err != nil {
			return err
		}
	}
	if req.NotificationURL != "" {
		return CheckMerchantURL(m, "notificationUrl", req.NotificationURL)
	}
	return nil
}

// MethodsRequest asks which methods an end user may use.
type MethodsRequest struct {
	Kind      paywire.Kind
	Amount    paywire.Money
	Country   string
	Language  string
	EndUserID string
}

// AvailableMethods returns the methods the engine makes available, in the
// order to show them. Returns EINVALID for a malformed request.
func (s *Service) AvailableMethods(ctx context.Context, merchantID string, req MethodsRequest) ([]engine.MethodOption, error) {
	ctx, done := s.gather(ctx)
	defer done()
	switch {
	case !req.Kind.Valid():
		return nil, paywire.Errorf(paywire.EINVALID, "kind must be DEPOSIT or WITHDRAWAL")
	case !req.Amount.Currency.Payable() || req.Amount.Amount <= 0:
		return nil, paywire.Errorf(paywire.EINVALID, "amount must be greater than zero, in an ISO 4217 currency")
	case !countryCode.MatchString(req.Country):
		return nil, paywire.Errorf(paywire.EINVALID, "country must be an ISO 3166-1 alpha-2 code in capitals")
	case req.Language != "" && !languageTag.MatchString(req.Language):
		return nil, paywire.Errorf(paywire.EINVALID, "language must be a language tag such as en or de-AT")
	case len(req.EndUserID) > 128:
		return nil, paywire.Errorf(paywire.EINVALID, "endUserId is longer than 128 characters")
	}
	u := paywire.EndUser{ID: req.EndUserID, Country: req.Country, Language: req.Language}
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	return s.availableMethods(ctx, m, "", req.Kind, req.Amount, u, "", s.now())
}

// availableMethods returns the methods the merchant's end user u may pay
// with, in the order to show them, deciding them anew.
func (s *Service) availableMethods(ctx context.Context, m *paywire.Merchant, paymentID string, kind paywire.Kind, amount paywire.Money, u paywire.EndUser, preselected paywire.Method, now time.Time) ([]engine.MethodOption, error) {
	d, err := s.decideMethods(ctx, m, paymentID, kind, amount, u, preselected, now)
	if err != nil {
		return nil, err
	}
	return offered(m, d.Methods), nil
}

// decideMethods is the availability decision for the merchant's end user
// u; paymentID is "" before the payment exists.
func (s *Service) decideMethods(ctx context.Context, m *paywire.Merchant, paymentID string, kind paywire.Kind, amount paywire.Money, u paywire.EndUser, preselected paywire.Method, now time.Time) (engine.AvailabilityDecision, error) {
	merchantID := m.ID
	q := featureQuery(merchantID, paymentID, amount.Currency, "", u, now)
	q.DepositMethods = true
	fx, err := s.facts(ctx, engine.PointAvailability, q, "")
	if err != nil {
		return engine.AvailabilityDecision{}, err
	}
	// The customer's deposit methods come with the features, in the same
	// statement; a bundle that reads no features at availability has them
	// read alone.
	deposits := fx.deposits
	if !fx.history && u.ID != "" {
		if deposits, err = s.Payments.DepositMethods(ctx, merchantID, u.ID); err != nil {
			return engine.AvailabilityDecision{}, err
		}
	}
	d, err := s.Decider.Availability(ctx, availabilityInput(merchantID, paymentID, kind, amount, u, deposits, preselected, fx, now))
	if err != nil {
		return engine.AvailabilityDecision{}, err
	}
	if d.FailedClosed {
		s.logger().ErrorContext(ctx, "availability decision failed closed", "decision", d.DecisionID, "error", d.Error)
	}
	return d, nil
}

// PaymentDetails is a payment with its history.
type PaymentDetails struct {
	Payment *paywire.Payment
	Events  []paywire.Event
}

// Get returns the merchant's payment by id, or by merchant reference when
// id is empty. Returns ENOTFOUND when the merchant has no such payment.
func (s *Service) Get(ctx context.Context, merchantID, id, reference string) (*PaymentDetails, error) {
	var p *paywire.Payment
	var err error
	switch {
	case len(id) > 64 || len(reference) > 128:
		return nil, paywire.Errorf(paywire.ENOTFOUND, "no such payment")
	case id != "" && reference == "":
		p, err = s.Payments.Payment(ctx, merchantID, id)
	case id == "" && reference != "":
		p, err = s.Payments.PaymentByReference(ctx, merchantID, reference)
	default:
		return nil, paywire.Errorf(paywire.EINVALID, "give either paymentId or merchantReference")
	}
	if err != nil {
		if paywire.ErrorCode(err) == paywire.ENOTFOUND {
			return nil, paywire.Errorf(paywire.ENOTFOUND, "no such payment")
		}
		return nil, err
	}
	evs, err := s.Payments.Events(ctx, merchantID, p.ID)
	if err != nil {
		return nil, err
	}
	return &PaymentDetails{Payment: p, Events: evs}, nil
}

func (s *Service) payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error) {
	if id == "" {
		return nil, paywire.Errorf(paywire.EINVALID, "paymentId is required")
	}
	if len(id) > 64 {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "no such payment")
	}
	p, err := s.Payments.Payment(ctx, merchantID, id)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "no such payment")
	}
	return p, err
}

// parseAmount reads an optional amount in the payment's currency; empty is
// def.
func parseAmount(p *paywire.Payment, text string, def int64) (int64, error) {
	if text == "" {
		return def, nil
	}
	m, err := paywire.ParseMoney(text, p.Amount.Currency.Code)
	if err != nil {
		return 0, err
	}
	if m.Amount <= 0 {
		return 0, paywire.Errorf(paywire.EINVALID, "amount must be greater than zero")
	}
	return m.Amount, nil
}

// Capture captures an authorized payment; amount is in major units, empty
// for the whole authorization (a partial capture releases the rest).
// Returns EILLEGALMOVE when the payment cannot be captured in its state,
// EINVALID for an amount above what is left, EDECLINED when the provider
// refuses, EUNAVAILABLE when its answer is unknown (retry with the same
// key: the provider is asked with the same key again).
func (s *Service) Capture(ctx context.Context, merchantID, key, id, amount string) (*paywire.Payment, error) {
	return s.CaptureAs(ctx, Operator{}, merchantID, key, id, amount)
}

// Operator is a person acting on a merchant's payment in the back office:
// who (named in the payment's history) and why. The zero Operator is the
// merchant itself.
type Operator struct {
	Actor  paywire.Actor
	Reason string
}

// CaptureAs is Capture asked for by an operator: the payment's history
// names them, and the audit log has their reason with the payment before
// and after, written in the change's transaction.
func (s *Service) CaptureAs(ctx context.Context, by Operator, merchantID, key, id, amount string) (*paywire.Payment, error) {
	return s.merchantRequest(ctx, by, merchantID, key, id, []string{"capture", id, amount}, paywire.EventCaptureRequested, "captured", func(p *paywire.Payment) (int64, error) {
		if p.State != paywire.StateAuthorized {
			return 0, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be captured", p.State)
		}
		a, err := parseAmount(p, amount, 0)
		if err != nil {
			return 0, err
		}
		if a > p.Amount.Amount-p.Captured {
			return 0, paywire.Errorf(paywire.EINVALID, "amount exceeds the authorized amount")
		}
		return a, nil
	})
}

// Cancel cancels a payment that is not paid yet, or voids an
// authorization. Returns EILLEGALMOVE when the payment's state allows
// neither, EDECLINED when the provider refuses the void.
func (s *Service) Cancel(ctx context.Context, merchantID, key, id string) (*paywire.Payment, error) {
	return s.CancelAs(ctx, Operator{}, merchantID, key, id)
}

// CancelAs is Cancel asked for by an operator, as CaptureAs.
func (s *Service) CancelAs(ctx context.Context, by Operator, merchantID, key, id string) (*paywire.Payment, error) {
	return s.merchantRequest(ctx, by, merchantID, key, id, []string{"cancel", id}, paywire.EventCancelRequested, "cancelled", nil)
}

// Refund refunds part or all of what was captured; refunds may repeat
// until the captured amount is refunded. Returns EILLEGALMOVE when the
// payment cannot be refunded in its state, EINVALID for an amount above
// what is left, EDECLINED when the provider refuses. The provider is asked
// with a key made from the idempotency key: the same refund retried is
// the same refund at the provider.
func (s *Service) Refund(ctx context.Context, merchantID, key, id, amount string) (*paywire.Payment, error) {
	return s.RefundAs(ctx, Operator{}, merchantID, key, id, amount)
}

// RefundAs is Refund asked for by an operator, as CaptureAs.
func (s *Service) RefundAs(ctx context.Context, by Operator, merchantID, key, id, amount string) (*paywire.Payment, error) {
	if amount == "" {
		return nil, paywire.Errorf(paywire.EINVALID, "amount is required")
	}
	return s.merchantRequest(ctx, by, merchantID, key, id, []string{"refund", id, amount}, paywire.EventRefundRequested, "refunded", func(p *paywire.Payment) (int64, error) {
		if p.State != paywire.StateCompleted && p.State != paywire.StatePartiallyRefunded {
			// Only captured money can go back (the transition table).
			return 0, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be refunded", p.State)
		}
		a, err := parseAmount(p, amount, 0)
		if err != nil {
			return 0, err
		}
		if a > p.Captured-p.Refunded-p.ChargedBack {
			return 0, paywire.Errorf(paywire.EINVALID, "amount exceeds what is left to refund")
		}
		return a, nil
	})
}

// merchantRequest runs a merchant's request on a payment (or an
// operator's, on the merchant's behalf) through the transition path,
// idempotent by key.
func (s *Service) merchantRequest(ctx context.Context, by Operator, merchantID, key, id string, request []string, typ paywire.EventType, verb string, amountOf func(*paywire.Payment) (int64, error)) (*paywire.Payment, error) {
	ctx, done := s.gather(ctx)
	defer done()
	who := paywire.ActorMerchant
	if by.Actor != "" {
		if by.Reason == "" || utf8.RuneCountInString(by.Reason) > 500 || !paywire.ValidText(by.Reason) {
			return nil, paywire.Errorf(paywire.EINVALID, "reason must be 1 to 500 characters of text")
		}
		who = by.Actor
	}
	return idempotent(ctx, s, merchantID, key, request, func(idem *idemRequest) (*paywire.Payment, error) {
		p, err := s.payment(ctx, merchantID, id)
		if err != nil {
			return nil, err
		}
		ev := event{Type: typ, Source: who, Idem: idem, OpKey: key}
		if by.Actor != "" {
			d := map[string]any{"merchantId": merchantID, "reason": by.Reason, "key": key}
			if len(request) > 2 && request[2] != "" {
				d["amount"] = request[2] + " " + p.Amount.Currency.Code
			}
			details, _ := json.Marshal(d)
			ev.Audit = &paywire.AuditEntry{Actor: string(who), Action: "payment." + request[0], Target: id, Details: details}
		}
		if key != "" {
			ev.OpKey = merchantID + "/" + key
		}
		if amountOf != nil {
			if ev.Amount, err = amountOf(p); err != nil {
				return nil, err
			}
		}
		next, err := s.transition(ctx, p, ev)
		if isNotApplicable(err) {
			// The state the workflow refused: after a conflict, the one
			// read again, not the one read first.
			if next != nil {
				p = next
			}
			return nil, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be %s", p.State, verb)
		}
		return next, err
	})
}

// Notification is a state-change notification of a merchant's payment, as
// the outbox keeps it.
type Notification = paywire.OutboxMessage

// UndeliveredWindow is how far back undelivered notifications are listed.
const UndeliveredWindow = 30 * 24 * time.Hour

// Undelivered lists the merchant's notifications of the last 30 days that
// did not reach it yet (failed at least once, or given up), newest first.
func (s *Service) Undelivered(ctx context.Context, merchantID string, limit int) ([]Notification, error) {
	if s.Outbox == nil {
		return nil, paywire.Errorf(paywire.EUNAVAILABLE, "notifications are not available")
	}
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	return s.Outbox.UndeliveredOutbox(ctx, merchantID, s.now().Add(-UndeliveredWindow), limit)
}

// Resend makes one of the merchant's notifications due again now.
// Returns ENOTFOUND for an unknown notification or another merchant's.
func (s *Service) Resend(ctx context.Context, merchantID, key string, id int64) error {
	if s.Outbox == nil {
		return paywire.Errorf(paywire.EUNAVAILABLE, "notifications are not available")
	}
	_, err := idempotent(ctx, s, merchantID, key, []any{"resend", id}, func(*idemRequest) (bool, error) {
		if err := s.Outbox.ResendOutbox(ctx, merchantID, id, s.now()); err != nil {
			return false, err
		}
		return true, nil
	})
	return err
}
