package payment

import (
	"context"
	"fmt"
	"slices"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// CreateRequest is a backend payment (createPayment): no end user on our
// pages, the method and its stored credential taken from an earlier payment
// of the same end user — a withdrawal to the card they deposited with, or a
// repeat deposit.
type CreateRequest struct {
	MerchantReference string          `json:"merchantReference"`
	Kind              paywire.Kind    `json:"kind"`
	Amount            paywire.Money   `json:"amount"`
	EndUser           paywire.EndUser `json:"endUser"`
	PaymentMethod     string          `json:"paymentMethod"`
	SourcePaymentID   string          `json:"sourcePaymentId"`
	NotificationURL   string          `json:"notificationUrl,omitempty"`
}

// paidStates are the states of a payment whose credential may be reused.
var paidStates = []paywire.State{paywire.StateAuthorized, paywire.StateCompleted,
	paywire.StatePartiallyRefunded, paywire.StateRefunded}

// Create registers a backend payment and processes it: risk, the workflow's
// answer to the submission, routing, then the routed providers in order
// until one takes it (a technical failure falls back to the next; a
// decline is final). The payment it returns is in the state that reached:
// completed, pending, review, refused or failed. Returns EINVALID for a
// malformed request, an unknown or unsuitable source payment or a method
// not available; ECONFLICT when the merchant reference is taken.
func (s *Service) Create(ctx context.Context, merchantID, key string, req CreateRequest) (*paywire.Payment, error) {
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if err := validateOrder(req.MerchantReference, req.Kind, req.Amount, &req.EndUser); err != nil {
		return nil, err
	}
	if err := validateMethod(req.PaymentMethod, true); err != nil {
		return nil, err
	}
	if req.SourcePaymentID == "" {
		return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId is required: a backend payment reuses the method of an earlier payment of the end user")
	}
	if req.NotificationURL != "" {
		if err := CheckMerchantURL(m, "notificationUrl", req.NotificationURL); err != nil {
			return nil, err
		}
	}
	return idempotent(ctx, s, merchantID, key, req, func() (*paywire.Payment, error) {
		src, err := s.Payments.Payment(ctx, merchantID, req.SourcePaymentID)
		switch {
		case paywire.ErrorCode(err) == paywire.ENOTFOUND:
			return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId: no such payment")
		case err != nil:
			return nil, err
		case src.EndUser.ID != req.EndUser.ID:
			return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId: the payment is another end user's")
		case src.Method != req.PaymentMethod:
			return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId: the payment used %q, not %q", src.Method, req.PaymentMethod)
		case !slices.Contains(paidStates, src.State) || src.ProviderReference == "":
			return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId: the payment was not paid")
		}
		now := s.now()
		methods, err := s.availableMethods(ctx, merchantID, "", req.Kind, req.Amount, req.EndUser, req.PaymentMethod, now)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(methods, func(o engine.MethodOption) bool {
			return o.Method == req.PaymentMethod && req.Amount.Amount >= o.MinMinor && req.Amount.Amount <= o.MaxMinor
		}) {
			return nil, paywire.Errorf(paywire.EINVALID, "payment method %q is not available for this payment", req.PaymentMethod)
		}
		p := &paywire.Payment{
			MerchantID: merchantID, MerchantReference: req.MerchantReference, Kind: req.Kind, Amount: req.Amount,
			EndUser: req.EndUser, Method: req.PaymentMethod, Card: src.Card, NotificationURL: req.NotificationURL,
		}
		if err := s.Payments.CreatePayment(ctx, p); err != nil {
			if paywire.ErrorCode(err) == paywire.ECONFLICT {
				return nil, paywire.Errorf(paywire.ECONFLICT, "merchant reference %q is already used by another payment", req.MerchantReference)
			}
			return nil, err
		}
		return s.process(ctx, p, src)
	})
}

// process takes a created backend payment through risk, workflow and the
// routed providers.
func (s *Service) process(ctx context.Context, p *paywire.Payment, src *paywire.Payment) (*paywire.Payment, error) {
	now := s.now()
	risk, err := s.Engine.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{
		PaymentID: p.ID, MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: p.Method,
		Card: engine.Card{Brand: p.Card.Brand, BIN: p.Card.BIN, Last4: p.Card.Last4, ExpiryMonth: p.Card.ExpiryMonth,
			ExpiryYear: p.Card.ExpiryYear, Fingerprint: p.Card.Fingerprint},
		Customer: customer(p.EndUser),
		Time:     now,
	}})
	if err != nil {
		return nil, err
	}
	summary := engine.RiskSummary{Score: risk.Score, Action: string(risk.Action)}
	p, err = s.step(ctx, p, "submitted", 0, summary, paywire.StateChange{Risk: &paywire.RiskResult{Score: risk.Score, Action: string(risk.Action)}})
	if err != nil || p.State != paywire.StatePending {
		return p, err // refused by risk, or held for review
	}

	route, err := s.Engine.Route(ctx, engine.RouteInput{PaymentID: p.ID, Request: engine.RouteRequest{
		MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: p.Method,
		Card:      engine.RouteCard{Brand: p.Card.Brand, BIN: p.Card.BIN},
		Customer:  engine.RouteCustomer{ID: p.EndUser.ID, Country: p.EndUser.Country},
		RiskScore: risk.Score, RiskAction: string(risk.Action), Time: now,
	}})
	if err != nil {
		return nil, err
	}
	softDeclined := false
	for attempt, name := range route.Providers {
		prov, err := s.Providers.Provider(name)
		if err != nil {
			s.logger().Warn("routed provider is not configured", "payment", p.ID, "provider", name)
			continue
		}
		payer, ok := prov.(adapters.Payer)
		if !ok {
			s.logger().Warn("routed provider cannot take backend payments", "payment", p.ID, "provider", name)
			continue
		}
		res, err := payer.Pay(ctx, adapters.Payment{
			PaymentID: p.ID, Kind: p.Kind, Amount: p.Amount, Method: p.Method, EndUser: p.EndUser,
			SourceReference: src.ProviderReference, IdempotencyKey: fmt.Sprintf("%s-pay-%d", p.ID, attempt+1),
		})
		if err != nil {
			s.logger().Warn("provider failed; trying the next", "payment", p.ID, "provider", name, "error", err)
			continue
		}
		with := paywire.StateChange{Provider: name, ProviderReference: res.Reference}
		switch res.Status {
		case adapters.Approved:
			with.CaptureAmount = p.Amount.Amount // a backend payment moves the money in one step
			return s.step(ctx, p, "provider_captured", 0, summary, with)
		case adapters.Declined:
			if res.Soft {
				softDeclined = true
				continue
			}
			return s.step(ctx, p, "provider_declined", 0, summary, with)
		case adapters.Pending:
			// Still pending; the provider's webhook tells the outcome.
			p, _, err = s.Payments.ApplyStateChange(ctx, paywire.StateChange{PaymentID: p.ID, MerchantID: p.MerchantID,
				Version: p.Version, To: paywire.StatePending, Reason: "provider_pending", Source: "provider:" + name,
				Provider: name, ProviderReference: res.Reference})
			if paywire.ErrorCode(err) == paywire.EILLEGALMOVE {
				return s.Payments.Payment(ctx, p.MerchantID, p.ID)
			}
			return p, err
		}
		s.logger().Warn("provider failed; trying the next", "payment", p.ID, "provider", name, "status", res.Status, "code", res.Code)
	}
	if softDeclined {
		return s.step(ctx, p, "provider_declined", 0, summary, paywire.StateChange{})
	}
	return s.step(ctx, p, "provider_error", 0, summary, paywire.StateChange{})
}

// step applies the workflow's answer to an event, with the extra changes in
// with (provider and its reference). No transition leaves p as it is.
func (s *Service) step(ctx context.Context, p *paywire.Payment, event string, amount int64, risk engine.RiskSummary, with paywire.StateChange) (*paywire.Payment, error) {
	d, err := s.workflowWithRisk(ctx, p, event, amount, risk)
	if err != nil {
		return nil, err
	}
	if d.NextState == "" {
		return p, nil
	}
	source := "system"
	if with.Provider != "" {
		source = "provider:" + with.Provider
	}
	next, _, err := s.Payments.ApplyStateChange(ctx, paywire.StateChange{
		PaymentID: p.ID, MerchantID: p.MerchantID, Version: p.Version, To: d.NextState, Reason: d.Reason,
		Source: source, Provider: with.Provider, ProviderReference: with.ProviderReference,
		CaptureAmount: with.CaptureAmount, Risk: with.Risk,
	})
	return next, err
}
