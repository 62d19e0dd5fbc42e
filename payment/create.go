package payment

import (
	"context"
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
	PaymentMethod     paywire.Method  `json:"paymentMethod"`
	SourcePaymentID   string          `json:"sourcePaymentId"`
	NotificationURL   string          `json:"notificationUrl,omitempty"`
}

// Create registers a backend payment and processes it: risk, the
// workflow's answer to the submission, routing, then the routed providers
// in the one provider loop. The payment it returns is in the state that
// reached: completed, pending, review, refused or failed. Returns EINVALID
// for a malformed request, an unknown or unsuitable source payment or a
// method not available; ECONFLICT when the merchant reference is taken.
// The outcome is stored with every change, and a follow-up finishes the
// payment if the process dies on the way.
func (s *Service) Create(ctx context.Context, merchantID, key string, req CreateRequest) (*paywire.Payment, error) {
	ctx, done := s.gather(ctx)
	defer done()
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if err := validateOrder(req.MerchantReference, req.Kind, req.Amount, &req.EndUser, s.now()); err != nil {
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
	return idempotentCreate(ctx, s, merchantID, key, req, func(idem *idemRequest) (*paywire.Payment, error) {
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
		case !src.State.Paid() || src.State == paywire.StateChargedBack || src.ProviderReference == "":
			return nil, paywire.Errorf(paywire.EINVALID, "sourcePaymentId: the payment was not paid")
		}
		now := s.now()
		methods, err := s.availableMethods(ctx, m, "", req.Kind, req.Amount, req.EndUser, req.PaymentMethod, now)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(methods, func(o engine.MethodOption) bool {
			return o.Method == string(req.PaymentMethod) && req.Amount.Amount >= o.MinMinor && req.Amount.Amount <= o.MaxMinor
		}) {
			return nil, paywire.Errorf(paywire.EINVALID, "payment method %q is not available for this payment", req.PaymentMethod)
		}
		p := &paywire.Payment{
			MerchantID: merchantID, MerchantReference: req.MerchantReference, Kind: req.Kind, Amount: req.Amount,
			EndUser: req.EndUser, Method: req.PaymentMethod, Card: src.Card, NotificationURL: req.NotificationURL,
			SourcePaymentID: src.ID,
		}
		c := paywire.Creation(p, paywire.ActorMerchant, now)
		c.Notification = paywire.NotificationTo(m, p, c.Event)
		c.FollowUps = []paywire.FollowUp{followUp(p, paywire.FollowUpProcess, now.Add(s.recoverAfter()))}
		if c.Idempotency, err = idem.answer(p, nil); err != nil {
			return nil, err
		}
		if err := s.create(ctx, c); err != nil {
			if paywire.ErrorCode(err) == paywire.ECONFLICT {
				return nil, paywire.Errorf(paywire.ECONFLICT, "merchant reference %q is already used by another payment", req.MerchantReference)
			}
			return nil, err
		}
		idem.committed()
		return s.process(ctx, p, idem)
	})
}

// process takes a created backend payment through risk, the workflow and
// the routed providers. idem, when set, is answered by every change.
func (s *Service) process(ctx context.Context, p *paywire.Payment, idem *idemRequest) (*paywire.Payment, error) {
	src, err := s.Payments.Payment(ctx, p.MerchantID, p.SourcePaymentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	m, err := s.Merchants.Merchant(ctx, p.MerchantID)
	if err != nil {
		return nil, err
	}
	fx, err := s.paymentFacts(ctx, engine.PointRisk, p, now)
	if err != nil {
		return nil, err
	}
	risk, err := s.Decider.Risk(ctx, riskInput(p, m, p.Method, &p.Card, p.EndUser, fx, now))
	if err != nil {
		return nil, err
	}
	p, err = s.transition(ctx, p, event{Type: paywire.EventSubmitted, Source: paywire.ActorMerchant, Idem: idem,
		Risk: &paywire.RiskResult{Score: risk.Score, Action: risk.Action}})
	if err != nil || p.State != paywire.StatePending {
		return p, err // refused by risk, or held for review
	}
	return s.payBackend(ctx, p, src, idem)
}

// payBackend sends a pending backend payment to its providers.
func (s *Service) payBackend(ctx context.Context, p, src *paywire.Payment, idem *idemRequest) (*paywire.Payment, error) {
	now := s.now()
	fx, err := s.paymentFacts(ctx, engine.PointRouting, p, now)
	if err != nil {
		return nil, err
	}
	route, err := s.Decider.Route(ctx, routeInput(p, paywire.RiskResult{Score: p.RiskScore, Action: p.RiskAction}, fx, now))
	if err != nil {
		return nil, err
	}
	t, err := s.takePayment(ctx, p, credentialRoute(route.Providers, src), paywire.OpPay, func(ctx context.Context, prov adapters.Provider, att *paywire.Attempt) (adapters.Result, error, bool) {
		payer, ok := prov.(adapters.Payer)
		if !ok {
			return adapters.Result{}, nil, false
		}
		res, err := payer.Pay(ctx, adapters.Payment{
			PaymentID: p.ID, Kind: p.Kind, Amount: p.Amount, Method: string(p.Method), EndUser: p.EndUser,
			SourceReference: src.ProviderReference, IdempotencyKey: att.IdempotencyKey,
		})
		return res, err, true
	})
	if err != nil {
		return nil, err
	}
	if idem != nil {
		// The answer to the request is the payment as it stands now.
		s.storeAnswer(ctx, t.Payment, idem)
	}
	return t.Payment, nil
}

// credentialRoute is the route of a backend payment on src's stored
// credential: only the provider that holds the credential can pay on it,
// whatever the routing decision listed (it is recorded all the same).
func credentialRoute(routed []string, src *paywire.Payment) []string {
	if src.Provider == "" {
		return routed
	}
	return []string{src.Provider}
}

// storeAnswer stores a request's outcome on its own (the last change did
// not carry it).
func (s *Service) storeAnswer(ctx context.Context, p *paywire.Payment, idem *idemRequest) {
	r, err := idem.answer(p, nil)
	if err == nil {
		err = s.commit(context.WithoutCancel(ctx), paywire.StateChange{Idempotency: r})
	}
	if err != nil {
		s.logger().ErrorContext(ctx, "storing an idempotent outcome", "payment_id", p.ID, "error", err)
	}
}
