package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// The one provider loop, for payments from the hosted pages and from the
// merchant's backend alike. Each call is an attempt row written before the
// call, with an idempotency key that is the same for every retry of the
// same call and a status-query follow-up that resolves it if the process
// dies during the call. The loop falls back to the next routed provider
// only after a definite "not done" (a soft decline, a failure the provider
// reported, a request it refused before accepting it); an unknown outcome
// (timeout, lost connection, 5xx) ends the loop with the attempt open, and
// a status query to the same provider with the same key resolves it. A hard
// decline is final.

// maxAttempts bounds the providers one payment is tried at.
const maxAttempts = 3

// take is one call that takes a payment at a provider: Authorize from the
// hosted pages, Pay from the backend. ok is false when the provider cannot
// take it (the capability is missing).
type take func(ctx context.Context, prov adapters.Provider, att *paywire.Attempt) (res adapters.Result, err error, ok bool)

// taken is where a payment stands after the loop: the payment, and the
// answer of the last call (a provider page to send the end user to).
type taken struct {
	Payment *paywire.Payment
	Result  adapters.Result
}

// takePayment tries the routed providers in order until one takes p (a
// pending payment). op is OpAuthorize or OpPay.
func (s *Service) takePayment(ctx context.Context, p *paywire.Payment, route []string, op paywire.Operation, call take) (*taken, error) {
	existing, err := s.Attempts.Attempts(ctx, p.MerchantID, p.ID)
	if err != nil {
		return nil, err
	}
	tried := 0
	softDeclined := false
	for _, name := range route {
		if tried == maxAttempts {
			break
		}
		if slices.ContainsFunc(existing, func(a paywire.Attempt) bool {
			return a.Provider == name && (a.Operation == paywire.OpAuthorize || a.Operation == paywire.OpPay)
		}) {
			continue // tried before a restart: not again
		}
		prov, err := s.Providers.Provider(name)
		if err != nil {
			s.logger().WarnContext(ctx, "routed provider is not configured", "payment_id", p.ID, "provider", name)
			continue
		}
		att, err := s.startAttempt(ctx, p, op, name, p.Amount.Amount, "", true)
		if err != nil {
			return nil, err
		}
		tried++
		cctx, cancel := context.WithTimeout(ctx, s.providerTimeout())
		start := time.Now()
		res, callErr, ok := call(cctx, prov, att)
		cancel()
		if !ok {
			att.Status, att.Code = paywire.AttemptFailed, "unsupported"
			s.recordAttempt(ctx, att)
			s.logger().WarnContext(ctx, "routed provider cannot take this payment", "payment_id", p.ID, "provider", name)
			continue
		}
		resolveAttempt(att, res, callErr)
		att.Call, att.Latency = callOutcome(res, callErr), time.Since(start)
		s.observeCall(att, op, start)
		switch att.Status {
		case paywire.AttemptDeclined:
			if res.Soft {
				softDeclined = true
				s.recordAttempt(ctx, att)
				s.logger().InfoContext(ctx, "soft decline; trying the next provider", "payment_id", p.ID, "provider", name, "code", res.Code)
				continue
			}
		case paywire.AttemptFailed:
			s.recordAttempt(ctx, att)
			s.logger().WarnContext(ctx, "provider did not take the payment; trying the next", "payment_id", p.ID, "provider", name, "code", att.Code, "error", callErr)
			continue
		case paywire.AttemptUnknown:
			s.recordAttempt(ctx, att)
			s.logger().WarnContext(ctx, "provider outcome unknown; its status will be asked", "payment_id", p.ID, "provider", name, "error", callErr)
			return &taken{Payment: p, Result: res}, nil
		}
		next, err := s.applyAnswer(ctx, p, att, res, 0)
		if err != nil {
			return nil, err
		}
		return &taken{Payment: next, Result: res}, nil
	}
	// Every provider was tried: refused when one of them declined, failed
	// when none could take the payment.
	ev := event{Type: paywire.EventProviderError, Source: paywire.ActorSystem}
	if softDeclined {
		ev.Type = paywire.EventProviderDeclined
	}
	next, err := s.transition(ctx, p, ev)
	if err != nil {
		return nil, err
	}
	return &taken{Payment: next}, nil
}

// applyAnswer applies a provider's definite answer about an attempt that
// takes a payment (its call's result, or a status query's) and writes the
// attempt with it; followUp is the follow-up carried out, if any. A
// pending answer moves nothing, but the payment learns its provider and
// reference.
func (s *Service) applyAnswer(ctx context.Context, p *paywire.Payment, att *paywire.Attempt, res adapters.Result, followUp int64) (*paywire.Payment, error) {
	ev := event{Source: paywire.ProviderActor(att.Provider), Provider: att.Provider, Reference: att.Reference, Attempt: att, FollowUp: followUp}
	switch att.Status {
	case paywire.AttemptApproved:
		ev.Type = paywire.EventProviderAuthorized
		if res.Captured {
			ev.Type = paywire.EventProviderCaptured
		}
	case paywire.AttemptDeclined:
		ev.Type = paywire.EventProviderDeclined
	case paywire.AttemptCancelled:
		ev.Type = paywire.EventProviderCancelled
	case paywire.AttemptFailed:
		ev.Type = paywire.EventProviderError
	case paywire.AttemptPending:
		ev.Type = paywire.EventProviderPending
	default:
		return p, s.writeSideRows(ctx, p, ev, nil)
	}
	next, err := s.transition(ctx, p, ev)
	if isNotApplicable(err) {
		return s.Payments.Payment(ctx, p.MerchantID, p.ID)
	}
	return next, err
}

// startAttempt writes an attempt before its call: started, with a
// status-query follow-up when resolve is set (an authorization or backend
// payment, whose outcome must be learnt if the process dies during the
// call). A retry of the same logical operation (the same key) reuses its
// attempt. key "" is "<payment>-<n>".
func (s *Service) startAttempt(ctx context.Context, p *paywire.Payment, op paywire.Operation, provider string, amount int64, key string, resolve bool) (*paywire.Attempt, error) {
	for range maxConflicts {
		existing, err := s.Attempts.Attempts(ctx, p.MerchantID, p.ID)
		if err != nil {
			return nil, err
		}
		n := len(existing) + 1
		if key == "" {
			key = fmt.Sprintf("%s-%d", p.ID, n)
		}
		if i := slices.IndexFunc(existing, func(a paywire.Attempt) bool { return a.IdempotencyKey == key && a.Provider == provider }); i >= 0 {
			a := existing[i]
			return &a, nil
		}
		att := &paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: p.MerchantID, N: n, Operation: op,
			Provider: provider, Amount: amount, IdempotencyKey: key, Status: paywire.AttemptStarted}
		c := paywire.StateChange{Attempts: []paywire.Attempt{*att}}
		if resolve {
			f := followUp(p, paywire.FollowUpStatusQuery, s.now().Add(s.providerTimeout()+statusQueryDelay))
			f.AttemptID = att.ID
			c.FollowUps = []paywire.FollowUp{f}
		}
		err = s.commit(ctx, c)
		if paywire.ErrorCode(err) == paywire.ECONFLICT {
			if key == fmt.Sprintf("%s-%d", p.ID, n) {
				key = "" // another attempt took n: the next one
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return att, nil
	}
	return nil, paywire.Errorf(paywire.EUNAVAILABLE, "the payment keeps changing; retry later")
}

// statusQueryDelay is how long after a call's deadline its status is first
// asked, when the call's answer was not written.
const statusQueryDelay = 30 * time.Second

// resolveAttempt records a provider's answer (or its absence) on an
// attempt.
func resolveAttempt(att *paywire.Attempt, res adapters.Result, err error) {
	if res.Reference != "" {
		att.Reference = res.Reference
	}
	if err != nil {
		att.Code = paywire.ErrorCode(err)
		if adapters.Unknown(err) {
			att.Status = paywire.AttemptUnknown
		} else {
			att.Status = paywire.AttemptFailed
		}
		return
	}
	att.Code = res.Code
	switch res.Status {
	case adapters.Approved:
		att.Status = paywire.AttemptApproved
	case adapters.Declined:
		att.Status = paywire.AttemptDeclined
	case adapters.Cancelled:
		att.Status = paywire.AttemptCancelled
	case adapters.Pending:
		att.Status = paywire.AttemptPending
	case adapters.Failed:
		att.Status = paywire.AttemptFailed
	default:
		att.Status = paywire.AttemptUnknown
	}
}

// callOutcome is how a call that takes a payment ended, as provider
// health counts it: an answer about the payment, a refusal of the request
// itself, or a technical error (no answer, a 5xx, the provider not
// reachable, or a failure it reported).
func callOutcome(res adapters.Result, err error) paywire.CallOutcome {
	switch {
	case err == nil && res.Status == adapters.Failed:
		return paywire.CallError
	case err == nil && (res.Status == adapters.Approved || res.Status == adapters.Declined || res.Status == adapters.Pending || res.Status == adapters.Cancelled):
		return paywire.CallAnswered
	case err == nil: // an answer that says nothing known
		return paywire.CallError
	case adapters.Unknown(err) || errors.Is(err, adapters.ErrNotSent):
		return paywire.CallError
	}
	return paywire.CallRefused
}

// opStatus names a status query in provider call metrics; it is not an
// attempt's operation.
const opStatus paywire.Operation = "status"

// errStillOpen says a provider has not decided yet.
var errStillOpen = paywire.Errorf(paywire.EUNAVAILABLE, "the provider has not decided yet")

// resolve asks the provider about an open attempt that takes p and applies
// the answer; followUp is the follow-up that asked (done with the change).
// Returns errStillOpen while the outcome is pending or unknown.
func (s *Service) resolve(ctx context.Context, p *paywire.Payment, att *paywire.Attempt, followUp int64) (*paywire.Payment, error) {
	prov, err := s.Providers.Provider(att.Provider)
	if err != nil {
		return nil, err
	}
	q, ok := prov.(adapters.StatusQuerier)
	if !ok {
		return nil, paywire.Errorf(paywire.EUNSUPPORTED, "provider %s cannot be asked for a payment's status", att.Provider)
	}
	cctx, cancel := context.WithTimeout(ctx, s.providerTimeout())
	start := time.Now()
	res, err := q.Status(cctx, adapters.StatusRequest{Reference: att.Reference, IdempotencyKey: att.IdempotencyKey, PaymentID: p.ID})
	cancel()
	a := *att
	switch {
	case paywire.ErrorCode(err) == paywire.ENOTFOUND:
		// The call never reached the provider: known not done.
		a.Status, a.Code = paywire.AttemptFailed, "not_received"
	default:
		resolveAttempt(&a, res, err)
	}
	s.observeCall(&a, opStatus, start)
	if a.Status.Open() {
		if a.Reference != att.Reference || a.Status != att.Status {
			if err := s.writeSideRows(ctx, p, event{Provider: a.Provider, Reference: a.Reference, Attempt: &a}, nil); err != nil {
				return nil, err
			}
		}
		return p, errStillOpen
	}
	return s.applyAnswer(ctx, p, &a, res, followUp)
}

// openAttempt returns p's latest attempt that takes the payment and is
// still open, or nil.
func (s *Service) openAttempt(ctx context.Context, p *paywire.Payment) (*paywire.Attempt, error) {
	atts, err := s.Attempts.Attempts(ctx, p.MerchantID, p.ID)
	if err != nil {
		return nil, err
	}
	for i := len(atts) - 1; i >= 0; i-- {
		a := atts[i]
		if (a.Operation == paywire.OpAuthorize || a.Operation == paywire.OpPay) && a.Status.Open() {
			return &a, nil
		}
	}
	return nil, nil
}

func (s *Service) providerTimeout() time.Duration {
	if s.ProviderTimeout > 0 {
		return s.ProviderTimeout
	}
	return 20 * time.Second
}
