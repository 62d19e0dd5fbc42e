// Package payment holds the use cases the transports call: start a payment
// for the hosted pages, create a backend payment, capture, cancel, refund,
// read a payment, list the methods an end user may use. Every choice is the
// decision engine's; every state change goes through the store's
// compare-and-set; every request that changes something may be made
// idempotent by a key.
package payment

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// Service runs the payment use cases. The fields are its dependencies,
// set by cmd/paywire; Service is safe for concurrent use.
type Service struct {
	Payments    paywire.PaymentStore
	Merchants   paywire.MerchantStore
	Idempotency paywire.IdempotencyStore
	Attempts    paywire.AttemptStore
	Outbox      paywire.OutboxStore
	Engine      *engine.Engine
	Providers   *adapters.Registry
	Logger      *slog.Logger

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
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Methods a payment may use.
var knownMethods = []string{"card", "bank_redirect", "ewallet"}

// StartRequest starts a payment the end user completes on the hosted pages
// (getRedirectData).
type StartRequest struct {
	MerchantReference string             `json:"merchantReference"`
	Kind              paywire.Kind       `json:"kind"`
	Amount            paywire.Money      `json:"amount"`
	EndUser           paywire.EndUser    `json:"endUser"`
	ReturnURLs        paywire.ReturnURLs `json:"returnUrls"`
	PaymentMethod     string             `json:"paymentMethod,omitempty"`
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
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if err := validateStart(m, &req); err != nil {
		return nil, err
	}
	return idempotent(ctx, s, merchantID, key, req, func() (*Redirect, error) {
		now := s.now()
		methods, err := s.availableMethods(ctx, m.ID, "", req.Kind, req.Amount, req.EndUser, req.PaymentMethod, now)
		if err != nil {
			return nil, err
		}
		if req.PaymentMethod != "" && !slices.ContainsFunc(methods, func(o engine.MethodOption) bool { return o.Method == req.PaymentMethod }) {
			return nil, paywire.Errorf(paywire.EINVALID, "payment method %q is not available for this payment", req.PaymentMethod)
		}
		if len(methods) == 0 {
			return nil, paywire.Errorf(paywire.EINVALID, "no payment method is available for this amount, currency and country")
		}
		ttl := s.RedirectTTL
		if ttl <= 0 {
			ttl = 15 * time.Minute
		}
		p := &paywire.Payment{
			MerchantID: m.ID, MerchantReference: req.MerchantReference, Kind: req.Kind, Amount: req.Amount,
			EndUser: req.EndUser, ReturnURLs: req.ReturnURLs, NotificationURL: req.NotificationURL,
			PreselectedMethod: req.PaymentMethod, ExpiresAt: now.Add(ttl).Truncate(time.Second),
		}
		if err := s.Payments.CreatePayment(ctx, p); err != nil {
			if paywire.ErrorCode(err) == paywire.ECONFLICT {
				return nil, paywire.Errorf(paywire.ECONFLICT, "merchant reference %q is already used by another payment", req.MerchantReference)
			}
			return nil, err
		}
		return &Redirect{
			PaymentID:  p.ID,
			URL:        s.PortalURL + "/pay",
			HTTPMethod: "POST",
			PostFields: []Field{{Name: "token", Value: SignToken(s.TokenKey, m.ID, p.ID, p.ExpiresAt)}},
			ExpiresAt:  p.ExpiresAt,
		}, nil
	})
}

var (
	referenceChars = regexp.MustCompile(`^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$`)
	countryCode    = regexp.MustCompile(`^[A-Z]{2}$`)
	languageTag    = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)
	emailAddress   = regexp.MustCompile(`^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$`)
)

// validateOrder checks what every new payment carries.
func validateOrder(reference string, kind paywire.Kind, amount paywire.Money, u *paywire.EndUser) error {
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
	}
	return nil
}

func validateMethod(method string, required bool) error {
	if method == "" && !required {
		return nil
	}
	if !slices.Contains(knownMethods, method) {
		return paywire.Errorf(paywire.EINVALID, "paymentMethod must be one of %s", strings.Join(knownMethods, ", "))
	}
	return nil
}

func validateStart(m *paywire.Merchant, req *StartRequest) error {
	if err := validateOrder(req.MerchantReference, req.Kind, req.Amount, &req.EndUser); err != nil {
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
	return s.availableMethods(ctx, merchantID, "", req.Kind, req.Amount, u, "", s.now())
}

func (s *Service) availableMethods(ctx context.Context, merchantID, paymentID string, kind paywire.Kind, amount paywire.Money, u paywire.EndUser, preselected string, now time.Time) ([]engine.MethodOption, error) {
	var deposits []string
	if u.ID != "" {
		var err error
		if deposits, err = s.Payments.DepositMethods(ctx, merchantID, u.ID); err != nil {
			return nil, err
		}
	}
	d, err := s.Engine.Availability(ctx, engine.AvailabilityInput{
		PaymentID: paymentID,
		Request: engine.AvailabilityRequest{
			MerchantID: merchantID, Kind: string(kind), Amount: engineMoney(amount),
			Country: u.Country, Language: u.Language, CustomerID: u.ID,
			DepositMethods: deposits, PreselectedMethod: preselected, Time: now,
		},
	})
	if err != nil {
		return nil, err
	}
	if d.FailedClosed {
		s.logger().Error("availability decision failed closed", "decision", d.DecisionID, "error", d.Error)
	}
	return d.Methods, nil
}

func engineMoney(m paywire.Money) engine.Money {
	return engine.Money{Minor: m.Amount, Currency: m.Currency.Code, Exponent: m.Currency.Exponent}
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

// workflow asks the engine what an event does to p.
func (s *Service) workflow(ctx context.Context, p *paywire.Payment, event string, amount int64) (engine.WorkflowDecision, error) {
	return s.workflowWithRisk(ctx, p, event, amount, engine.RiskSummary{})
}

// risk, when its Action is empty, is the payment's stored risk decision.
// The workflow also sees the merchant's auto-capture setting.
func (s *Service) workflowWithRisk(ctx context.Context, p *paywire.Payment, event string, amount int64, risk engine.RiskSummary) (engine.WorkflowDecision, error) {
	if risk.Action == "" {
		risk = engine.RiskSummary{Score: p.RiskScore, Action: p.RiskAction}
	}
	if risk.Action == "" {
		// No risk decision yet: as risky as can be, so that nothing
		// that depends on a low score (auto-capture) happens.
		risk.Score = 100
	}
	m, err := s.Merchants.Merchant(ctx, p.MerchantID)
	if err != nil {
		return engine.WorkflowDecision{}, err
	}
	var authorizedAge int64
	if p.State == paywire.StateAuthorized {
		authorizedAge = int64(s.now().Sub(p.UpdatedAt).Seconds())
	}
	d, err := s.Engine.Workflow(ctx, engine.WorkflowInput{
		PaymentID: p.ID, MerchantID: p.MerchantID,
		Request: engine.WorkflowRequest{
			State: string(p.State), Event: engine.WorkflowEvent{Type: event, Amount: amount},
			Kind: string(p.Kind), Amount: engineMoney(p.Amount), Captured: p.Captured, Refunded: p.Refunded,
			Method: p.Method, Provider: p.Provider, Risk: risk,
			Merchant:             engine.MerchantSettings{AutoCapture: m.AutoCapture, AutoCaptureMaxScore: m.AutoCaptureMaxScore},
			AuthorizedAgeSeconds: authorizedAge, Time: s.now(),
		},
	})
	if err != nil {
		return d, err
	}
	if d.FailedClosed {
		s.logger().Error("workflow decision failed closed", "payment", p.ID, "decision", d.DecisionID, "error", d.Error)
	}
	return d, nil
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

// provider returns the payment's provider with capability C.
func provider[C any](s *Service, p *paywire.Payment, what string) (C, error) {
	var zero C
	prov, err := s.Providers.Provider(p.Provider)
	if err != nil {
		return zero, err
	}
	c, ok := prov.(C)
	if !ok {
		return zero, paywire.Errorf(paywire.EFORBIDDEN, "provider %q cannot %s payments", p.Provider, what)
	}
	return c, nil
}

// providerOutcome turns a provider's answer to an operation into an error
// unless it approved.
func providerOutcome(what string, r adapters.Result, err error) error {
	if err != nil {
		return &paywire.Error{Code: paywire.EUNAVAILABLE, Message: "the provider did not complete the " + what + "; retry later", Err: err}
	}
	switch r.Status {
	case adapters.Approved:
		return nil
	case adapters.Declined:
		return providerRefusal{paywire.Errorf(paywire.EFORBIDDEN, "the provider refused the %s (%s)", what, r.Code)}
	}
	return paywire.Errorf(paywire.EUNAVAILABLE, "the provider did not complete the %s (%s); retry later", what, r.Status)
}

// Capture captures an authorized payment; amount is in major units, empty
// for the whole authorization. Returns EILLEGALMOVE when the payment cannot
// be captured in its state, EINVALID for an amount above what is left.
func (s *Service) Capture(ctx context.Context, merchantID, key, id, amount string) (*paywire.Payment, error) {
	return idempotent(ctx, s, merchantID, key, []string{"capture", id, amount}, func() (*paywire.Payment, error) {
		p, err := s.payment(ctx, merchantID, id)
		if err != nil {
			return nil, err
		}
		a, err := parseAmount(p, amount, p.Amount.Amount-p.Captured)
		if err != nil {
			return nil, err
		}
		if a > p.Amount.Amount-p.Captured {
			return nil, paywire.Errorf(paywire.EINVALID, "amount exceeds the authorized amount")
		}
		d, err := s.workflow(ctx, p, "capture_requested", a)
		if err != nil {
			return nil, err
		}
		if d.NextState == "" {
			return nil, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be captured", p.State)
		}
		if slices.Contains(d.Actions, "capture") {
			c, err := provider[adapters.Capturer](s, p, "capture")
			if err != nil {
				return nil, err
			}
			r, err := c.Capture(ctx, adapters.Operation{PaymentID: p.ID, ProviderReference: p.ProviderReference,
				Amount: paywire.Money{Amount: a, Currency: p.Amount.Currency}, IdempotencyKey: fmt.Sprintf("%s-capture-%d", p.ID, p.Version)})
			if err := providerOutcome("capture", r, err); err != nil {
				return nil, err
			}
		}
		p, _, err = s.Payments.ApplyStateChange(ctx, paywire.StateChange{
			PaymentID: p.ID, MerchantID: merchantID, Version: p.Version, To: d.NextState,
			Reason: d.Reason, Source: "merchant", CaptureAmount: a,
		})
		return p, err
	})
}

// Cancel cancels a payment that is not paid yet, or voids an
// authorization. Returns EILLEGALMOVE when the payment's state allows
// neither.
func (s *Service) Cancel(ctx context.Context, merchantID, key, id string) (*paywire.Payment, error) {
	return idempotent(ctx, s, merchantID, key, []string{"cancel", id}, func() (*paywire.Payment, error) {
		p, err := s.payment(ctx, merchantID, id)
		if err != nil {
			return nil, err
		}
		d, err := s.workflow(ctx, p, "cancel_requested", 0)
		if err != nil {
			return nil, err
		}
		if d.NextState == "" {
			return nil, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be cancelled", p.State)
		}
		if slices.Contains(d.Actions, "void") {
			v, err := provider[adapters.Voider](s, p, "cancel")
			if err != nil {
				return nil, err
			}
			r, err := v.Void(ctx, adapters.Operation{PaymentID: p.ID, ProviderReference: p.ProviderReference,
				Amount: p.Amount, IdempotencyKey: fmt.Sprintf("%s-void-%d", p.ID, p.Version)})
			if err := providerOutcome("cancellation", r, err); err != nil {
				return nil, err
			}
		}
		p, _, err = s.Payments.ApplyStateChange(ctx, paywire.StateChange{
			PaymentID: p.ID, MerchantID: merchantID, Version: p.Version, To: d.NextState,
			Reason: d.Reason, Source: "merchant",
		})
		return p, err
	})
}

// Refund refunds part or all of what was captured; refunds may repeat
// until the captured amount is refunded. Returns EILLEGALMOVE when the
// payment cannot be refunded in its state, EINVALID for an amount above
// what is left.
func (s *Service) Refund(ctx context.Context, merchantID, key, id, amount string) (*paywire.Payment, error) {
	if amount == "" {
		return nil, paywire.Errorf(paywire.EINVALID, "amount is required")
	}
	return idempotent(ctx, s, merchantID, key, []string{"refund", id, amount}, func() (*paywire.Payment, error) {
		p, err := s.payment(ctx, merchantID, id)
		if err != nil {
			return nil, err
		}
		if p.State != paywire.StateCompleted && p.State != paywire.StatePartiallyRefunded {
			return nil, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be refunded", p.State)
		}
		a, err := parseAmount(p, amount, 0)
		if err != nil {
			return nil, err
		}
		captured := p.Captured
		if captured == 0 && p.State == paywire.StateCompleted {
			captured = p.Amount.Amount // completed by the provider in one step (a sale)
		}
		if a > captured-p.Refunded {
			return nil, paywire.Errorf(paywire.EINVALID, "amount exceeds what is left to refund")
		}
		d, err := s.workflow(ctx, p, "refund_succeeded", a)
		if err != nil {
			return nil, err
		}
		if d.NextState == "" {
			return nil, paywire.Errorf(paywire.EILLEGALMOVE, "a payment in state %s cannot be refunded", p.State)
		}
		rf, err := provider[adapters.Refunder](s, p, "refund")
		if err != nil {
			return nil, err
		}
		r, err := rf.Refund(ctx, adapters.Operation{PaymentID: p.ID, ProviderReference: p.ProviderReference,
			Amount: paywire.Money{Amount: a, Currency: p.Amount.Currency}, IdempotencyKey: fmt.Sprintf("%s-refund-%d", p.ID, p.Version)})
		if err := providerOutcome("refund", r, err); err != nil {
			return nil, err
		}
		change := paywire.StateChange{
			PaymentID: p.ID, MerchantID: merchantID, Version: p.Version, To: d.NextState,
			Reason: d.Reason, Source: "merchant", RefundAmount: a,
		}
		if p.Captured == 0 {
			change.CaptureAmount = captured // record the sale's capture with its first refund
		}
		p, _, err = s.Payments.ApplyStateChange(ctx, change)
		return p, err
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
	_, err := idempotent(ctx, s, merchantID, key, []any{"resend", id}, func() (bool, error) {
		if err := s.Outbox.ResendOutbox(ctx, merchantID, id, s.now()); err != nil {
			return false, err
		}
		return true, nil
	})
	return err
}
