package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// The one transition path. Every event — the end user's submission, a
// provider's answer or webhook, the merchant's capture, cancel or refund, a
// review, a follow-up falling due — goes through transition: the workflow
// decision is asked, every action it returns is carried out (money actions
// through the provider before the move), and the change is applied by
// compare-and-set with everything that must commit with it, retrying on a
// conflict with the payment read again.

// event is something that happened to a payment, with what must commit
// with the change it causes.
type event struct {
	Type   paywire.EventType
	Amount int64 // minor units the event is about: a capture, refund or chargeback; 0 for "all"
	Source paywire.Actor

	// A provider's answer: the provider and its reference of the payment,
	// and the attempt the answer resolves (written with the change).
	Provider  string
	Reference string
	Attempt   *paywire.Attempt

	// The end user's submission.
	Method paywire.Method
	Card   *paywire.CardSummary
	Risk   *paywire.RiskResult
	// SourcePaymentID binds a submitted withdrawal that needs approval to
	// the earlier deposit whose credential pays it out after the approval.
	SourcePaymentID string

	Seen      *paywire.ProviderEvent // a provider event applied with the change
	FollowUp  int64                  // the follow-up the change carries out
	FollowUps []paywire.FollowUp     // scheduled with the change
	Idem      *idemRequest           // the merchant's idempotent request, answered by the change
	Audit     *paywire.AuditEntry    // a person's decision: who and why, written with the change
	// Approval is a person's approval of a payment held for review
	// (review_approved): counted with the earlier ones for the workflow,
	// and written with the change.
	Approval *paywire.Approval
	// OpKey names the logical operation for the provider's idempotency
	// keys of the money actions the event leads to; the same for every
	// retry of the same request.
	OpKey string
}

// errNotApplicable says the workflow has no move and no action for an
// event in the payment's state.
var errNotApplicable = errors.New("the event does not apply to the payment's state")

// maxConflicts bounds how often a change is recomputed after losing a
// compare-and-set.
const maxConflicts = 8

// transition applies ev to p through the workflow and returns the payment
// as it is afterwards. Returns errNotApplicable (wrapped) when the
// workflow has nothing to do (the side rows of ev — a provider event
// seen, a follow-up done, an attempt resolved — are written all the
// same); EDECLINED when the provider refused a money action;
// EUNAVAILABLE when its outcome is unknown; EINTERNAL when the decision
// is one the core must refuse (an unknown action, money moved without the
// action that moves it).
func (s *Service) transition(ctx context.Context, p *paywire.Payment, ev event) (*paywire.Payment, error) {
	done := map[paywire.Action]*paywire.Attempt{} // money actions carried out, kept across conflicts
	for range maxConflicts {
		next, atOnce, err := s.transitionOnce(ctx, p, ev, done)
		if err == nil {
			return s.dueNow(ctx, next, atOnce), nil
		}
		if paywire.ErrorCode(err) != paywire.ECONFLICT {
			return next, err
		}
		if ev.Seen != nil {
			if seen, serr := s.Attempts.ProviderEventSeen(ctx, ev.Seen.Provider, ev.Seen.EventID); serr == nil && seen {
				return s.Payments.Payment(ctx, p.MerchantID, p.ID) // applied by a concurrent delivery
			}
		}
		if ev.FollowUp != 0 && !s.followUpPending(ctx, p, ev.FollowUp) {
			return s.Payments.Payment(ctx, p.MerchantID, p.ID) // carried out by another worker
		}
		if p, err = s.Payments.Payment(ctx, p.MerchantID, p.ID); err != nil {
			return nil, err
		}
	}
	return nil, paywire.Errorf(paywire.EUNAVAILABLE, "the payment keeps changing; retry later")
}

func (s *Service) transitionOnce(ctx context.Context, p *paywire.Payment, ev event, done map[paywire.Action]*paywire.Attempt) (*paywire.Payment, []paywire.FollowUp, error) {
	m, err := s.Merchants.Merchant(ctx, p.MerchantID)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if ev.Approval != nil {
		// This approval is the next of the payment's, by someone who has
		// not approved it yet. Read on every try: after a conflict the
		// count may have grown.
		if ev.Approval, err = s.nextApproval(ctx, p, *ev.Approval, now); err != nil {
			return nil, nil, err
		}
	}
	fx, err := s.paymentFacts(ctx, engine.PointWorkflow, p, now)
	if err != nil {
		return nil, nil, err
	}
	d, err := s.Decider.Workflow(ctx, workflowInput(p, m, ev, fx, now))
	if err != nil {
		return nil, nil, err
	}
	if d.FailedClosed {
		s.logger().ErrorContext(ctx, "workflow decision failed closed", "payment_id", p.ID, "decision", d.DecisionID, "error", d.Error)
	}
	actions := make([]paywire.Action, len(d.Actions))
	for i, a := range d.Actions {
		actions[i] = paywire.Action(a)
	}
	if err := checkDecision(p, d.NextState, ev.Type, actions); err != nil {
		s.logger().ErrorContext(ctx, "workflow decision refused", "payment_id", p.ID, "decision", d.DecisionID, "error", err)
		return nil, nil, &paywire.Error{Code: paywire.EINTERNAL, Message: "the payment cannot be processed now", Err: err}
	}
	if d.NextState == "" && len(actions) == 0 {
		return p, nil, s.writeSideRows(ctx, p, ev, fmt.Errorf("%w: %s on %s", errNotApplicable, ev.Type, p.State))
	}

	var c paywire.StateChange
	if d.NextState != "" {
		mv := paywire.Move{To: d.NextState, Type: ev.Type, Source: ev.Source, Reason: d.Reason, At: now}
		if err := moneyOf(p, ev, &mv); err != nil {
			return nil, nil, err
		}
		if c, err = p.Moved(mv); err != nil {
			return nil, nil, err
		}
	} else {
		same := *p
		c = paywire.StateChange{Payment: &same, Version: p.Version}
	}
	next := c.Payment
	applyEventFields(next, ev)

	// Money actions that the move itself is (capture, void, refund) go to
	// the provider first; each attempt is written before the call.
	for _, a := range actions {
		if !moneyMovesFirst(p, d.NextState, ev.Type, a) {
			continue
		}
		att, err := s.moneyAction(ctx, p, ev, a, c, done)
		if att != nil {
			c.Attempts = append(c.Attempts, *att)
		}
		if err != nil {
			if paywire.ErrorCode(err) == paywire.EDECLINED && ev.Idem != nil {
				// The provider refused: the request executed, and its
				// outcome is final.
				s.answerDeclined(ctx, p, ev, att, err)
			}
			return nil, nil, err
		}
	}

	// What the actions ask for with the move.
	atOnce := -1 // the follow-up this request carries out at once, by index
	for _, a := range actions {
		switch a {
		case paywire.ActionNotifyMerchant:
			if c.Event != nil {
				c.Notification = paywire.NotificationTo(m, next, c.Event)
			}
		case paywire.ActionScheduleExpiry:
			c.FollowUps = append(c.FollowUps, followUp(next, paywire.FollowUpAuthorizationExpiry, now.Add(m.AuthorizationExpiry())))
		case paywire.ActionHoldForReview:
			// A review nobody decides ends after the merchant's review
			// expiry, at the latest when an authorization would lapse:
			// funds are not held longer for it.
			c.FollowUps = append(c.FollowUps, followUp(next, paywire.FollowUpReviewExpiry, now.Add(m.ReviewExpiry())))
		case paywire.ActionCapture:
			if d.NextState == paywire.StateAuthorized {
				// An auto-capture, after the merchant's capture delay.
				// Without one, this request carries it out at once
				// (dueNow), and the follow-up falls due only when the
				// request has had time to: the worker does not capture
				// beside it, and takes over when it failed or its
				// process died.
				due := now.Add(m.CaptureDelay)
				if m.CaptureDelay <= 0 {
					due, atOnce = now.Add(s.atOnceGrace()), len(c.FollowUps)
				}
				c.FollowUps = append(c.FollowUps, followUp(next, paywire.FollowUpCapture, due))
			}
		}
	}
	if c.Event != nil && c.Event.Type.IsCapture() && next.Captured < next.Amount.Amount && p.State == paywire.StateAuthorized {
		// A partial capture: the rest of the authorization is released.
		c.FollowUps = append(c.FollowUps, followUp(next, paywire.FollowUpRemainderRelease, now))
	}
	s.withSideRows(&c, ev)
	if c.Event != nil {
		c.MootFollowUps = mootAfter(p.State, next.State)
	}
	if c.Audit != nil {
		withStates(c.Audit, p, next)
	}
	c.Approval = ev.Approval
	if ev.Idem != nil {
		if c.Idempotency, err = ev.Idem.answer(next, nil); err != nil {
			return nil, nil, err
		}
	}
	if err := s.commit(ctx, c); err != nil {
		return nil, nil, err
	}
	ev.Idem.committed()
	if c.Event != nil {
		s.logger().InfoContext(ctx, "payment moved", "payment_id", next.ID, "merchant_id", next.MerchantID, "from", string(p.State),
			"to", string(next.State), "event", string(ev.Type), "reason", d.Reason)
	}
	if atOnce >= 0 {
		return next, []paywire.FollowUp{c.FollowUps[atOnce]}, nil
	}
	return next, nil, nil
}

// atOnceGrace is how long a follow-up its request carries out at once
// (an auto-capture without a delay) is left to that request before the
// worker takes it: the provider call's deadline and the pause a status
// query leaves after one (statusQueryDelay).
func (s *Service) atOnceGrace() time.Duration {
	return s.providerTimeout() + statusQueryDelay
}

// followUpPending reports whether p's follow-up id is still to be done;
// true when that cannot be read (the change's compare-and-set decides).
func (s *Service) followUpPending(ctx context.Context, p *paywire.Payment, id int64) bool {
	fs, err := s.FollowUps.FollowUps(ctx, p.MerchantID, p.ID)
	if err != nil {
		return true
	}
	for _, f := range fs {
		if f.ID == id {
			return f.Status == paywire.FollowUpPending
		}
	}
	return true
}

// dueNow carries out at once the follow-ups a change left to its request
// (an auto-capture without a delay), so that the end user coming back
// sees the payment as it will be; the worker does them, atOnceGrace
// later, if this fails or the process dies first. It returns the payment
// as it is afterwards.
func (s *Service) dueNow(ctx context.Context, p *paywire.Payment, atOnce []paywire.FollowUp) *paywire.Payment {
	for _, f := range atOnce {
		if f.ID == 0 {
			continue // not written
		}
		// p is the payment as this change wrote it: no need to read it
		// again (a change made meanwhile fails the compare-and-set, and the
		// transition reads it then).
		next, err := s.captureDue(ctx, p, f)
		if err != nil {
			s.logger().WarnContext(ctx, "auto-capture not done at once; the follow-up worker will", "payment_id", p.ID, "error", err)
		}
		if next != nil {
			p = next
		} else if err != nil {
			if read, rerr := s.Payments.Payment(ctx, p.MerchantID, p.ID); rerr == nil {
				p = read
			}
		}
	}
	return p
}

// commit writes a change: the one place that hands changes to the store.
// Every change of a payment is computed by transition (or, for rows that
// move nothing — an attempt before its call, an answer stored on its own —
// by the helpers beside it) and written here.
func (s *Service) commit(ctx context.Context, c paywire.StateChange) error {
	pending := engine.PendingFrom(ctx)
	recs := pending.Take()
	c.Decisions = append(c.Decisions, recs...)
	if err := s.Payments.ApplyStateChange(ctx, c); err != nil {
		pending.Restore(recs)
		return err
	}
	if s.Metrics != nil && c.Event != nil && c.Payment != nil {
		s.Metrics.Transition(c.Event.From, c.Event.To, c.Payment.Method, c.Payment.Provider)
	}
	return nil
}

// create writes a new payment: the one place that hands creations to the
// store, and tells Metrics of the payment's first state. The decisions the
// request made before (which methods the payment is offered) are the
// payment's: they are stored with it, linked to it.
func (s *Service) create(ctx context.Context, c paywire.StateChange) error {
	pending := engine.PendingFrom(ctx)
	recs := pending.Take()
	for _, r := range recs {
		if r.PaymentID == "" && r.MerchantID == c.Payment.MerchantID {
			r.PaymentID = c.Payment.ID
		}
		c.Decisions = append(c.Decisions, r)
	}
	if err := s.Payments.CreatePayment(ctx, c); err != nil {
		pending.Restore(recs)
		return err
	}
	if s.Metrics != nil && c.Event != nil && c.Payment != nil {
		s.Metrics.Transition(c.Event.From, c.Event.To, c.Payment.Method, c.Payment.Provider)
	}
	return nil
}

// observeCall tells Metrics of a provider call started at start, whose
// answer resolveAttempt has put in att.
func (s *Service) observeCall(att *paywire.Attempt, op paywire.Operation, start time.Time) {
	if s.Metrics != nil {
		s.Metrics.ProviderCall(att.Provider, op, string(att.Status), time.Since(start))
	}
}

// checkDecision refuses what no policy may decide: an unknown action, a
// move of money without the action that moves it, an action the move does
// not admit.
func checkDecision(p *paywire.Payment, to paywire.State, ev paywire.EventType, actions []paywire.Action) error {
	for _, a := range actions {
		if !a.Valid() {
			return fmt.Errorf("unknown action %q", a)
		}
	}
	if to != "" {
		if err := paywire.CheckTransition(p.State, to); err != nil {
			return err
		}
	}
	if need := paywire.MoneyAction(p.State, to, ev); need != "" && !slices.Contains(actions, need) {
		return fmt.Errorf("%s -> %s on %s moves money, but the decision has no %s action", p.State, to, ev, need)
	}
	if to == paywire.StateReview && !slices.Contains(actions, paywire.ActionHoldForReview) {
		return fmt.Errorf("a move into review must hold the payment for review")
	}
	for _, a := range actions {
		switch a {
		case paywire.ActionHoldForReview:
			if to != paywire.StateReview {
				return fmt.Errorf("hold_for_review goes only with a move into review")
			}
		case paywire.ActionScheduleExpiry:
			if to != paywire.StateAuthorized {
				return fmt.Errorf("schedule_expiry goes only with a move into authorized")
			}
		case paywire.ActionCapture:
			if to != paywire.StateAuthorized && paywire.MoneyAction(p.State, to, ev) != paywire.ActionCapture {
				return fmt.Errorf("capture goes with a capture (authorized -> completed) or a move into authorized")
			}
		case paywire.ActionRefund:
			if paywire.MoneyAction(p.State, to, ev) != paywire.ActionRefund {
				return fmt.Errorf("refund goes only with a requested refund or a declined review of captured money")
			}
		case paywire.ActionVoid:
			switch {
			case p.State == paywire.StateAuthorized && (to == paywire.StateCancelled || to == paywire.StateExpired):
			case p.State == paywire.StatePending && (to == paywire.StateCancelled || to == paywire.StateExpired):
			case p.State == paywire.StateReview && p.Provider != "" && (to == paywire.StateRefused || to == paywire.StateCancelled || to == paywire.StateExpired):
			case to == "" && ev == paywire.EventRemainderRelease:
			default:
				return fmt.Errorf("void goes with cancelling or expiring a payment not captured, ending a review of an authorization, or releasing a remainder")
			}
		case paywire.ActionNotifyMerchant:
			if to == "" {
				return fmt.Errorf("notify_merchant needs a move to tell of")
			}
		case paywire.ActionRecordApproval:
			if to != "" || ev != paywire.EventReviewApproved || p.State != paywire.StateReview {
				return fmt.Errorf("record_approval goes only without a move, with an approval of a payment in review")
			}
		}
	}
	return nil
}

// moneyMovesFirst reports whether action a is carried out at the provider
// before the move is written: the move records what the action did.
func moneyMovesFirst(p *paywire.Payment, to paywire.State, ev paywire.EventType, a paywire.Action) bool {
	switch a {
	case paywire.ActionCapture, paywire.ActionRefund:
		return paywire.MoneyAction(p.State, to, ev) == a
	case paywire.ActionVoid:
		return true
	}
	return false
}

// moneyOf fills the money a move moves from the event, honouring the
// event's amount (0: all that is left).
func moneyOf(p *paywire.Payment, ev event, mv *paywire.Move) error {
	left := func(avail int64) (int64, error) {
		if ev.Amount < 0 || ev.Amount > avail {
			return 0, paywire.Errorf(paywire.EINVALID, "the amount exceeds what is left (%s)", paywire.Money{Amount: avail, Currency: p.Amount.Currency})
		}
		if ev.Amount == 0 {
			return avail, nil
		}
		return ev.Amount, nil
	}
	var err error
	switch {
	case ev.Type.IsCapture() && mv.To == paywire.StateCompleted,
		ev.Type == paywire.EventProviderCaptured && mv.To == paywire.StateReview:
		// The money came in: the payment completes, or is held for review
		// with it (a bank redirect pays at once).
		mv.Capture, err = left(p.Amount.Amount - p.Captured)
	case (ev.Type == paywire.EventReviewRejected || ev.Type == paywire.EventCancelRequested) && mv.To == paywire.StateRefunded:
		mv.Refund = p.Captured - p.Refunded - p.ChargedBack
	case ev.Type == paywire.EventRefundRequested || ev.Type == paywire.EventProviderRefunded:
		mv.Refund, err = left(p.Captured - p.Refunded - p.ChargedBack)
	case ev.Type == paywire.EventChargeback:
		mv.Chargeback, err = left(p.Captured - p.Refunded - p.ChargedBack)
	}
	return err
}

// applyEventFields sets what the event tells of the payment besides its
// state.
func applyEventFields(next *paywire.Payment, ev event) {
	if ev.Method != "" {
		next.Method = ev.Method
	}
	if ev.Card != nil {
		next.Card = *ev.Card
	}
	if ev.Risk != nil {
		next.RiskScore, next.RiskAction = ev.Risk.Score, ev.Risk.Action
	}
	if ev.Provider != "" {
		next.Provider = ev.Provider
	}
	if ev.Reference != "" {
		next.ProviderReference = ev.Reference
	}
	if ev.SourcePaymentID != "" {
		next.SourcePaymentID = ev.SourcePaymentID
	}
}

// nextApproval returns a as the next approval of p, held for review:
// numbered after the approvals given so far. Returns EFORBIDDEN when a's
// approver approved p already: another person must.
func (s *Service) nextApproval(ctx context.Context, p *paywire.Payment, a paywire.Approval, now time.Time) (*paywire.Approval, error) {
	given, err := s.Payments.Approvals(ctx, p.MerchantID, p.ID)
	if err != nil {
		return nil, err
	}
	for _, g := range given {
		if g.Approver == a.Approver {
			return nil, paywire.Errorf(paywire.EFORBIDDEN, "%s approved payment %s already: another person must approve it", a.Approver, p.ID)
		}
	}
	a.PaymentID, a.MerchantID, a.Seq, a.At = p.ID, p.MerchantID, len(given)+1, now
	return &a, nil
}

// withStates adds the payment before and after a change to the details
// (an object) of the audit entry written with it.
func withStates(a *paywire.AuditEntry, before, after *paywire.Payment) {
	d := map[string]any{}
	if len(a.Details) > 0 && json.Unmarshal(a.Details, &d) != nil {
		d = map[string]any{"details": a.Details}
	}
	d["before"], d["after"] = auditState(before), auditState(after)
	a.Details, _ = json.Marshal(d)
}

// auditState is what a change does to a payment, for the audit log.
func auditState(p *paywire.Payment) map[string]any {
	m := func(minor int64) string { return paywire.Money{Amount: minor, Currency: p.Amount.Currency}.String() }
	return map[string]any{"state": p.State, "captured": m(p.Captured), "refunded": m(p.Refunded), "version": p.Version}
}

// withSideRows adds the rows an event brings to its change.
func (s *Service) withSideRows(c *paywire.StateChange, ev event) {
	if ev.Attempt != nil {
		c.Attempts = append(c.Attempts, *ev.Attempt)
	}
	c.ProviderEvent = ev.Seen
	c.DoneFollowUp = ev.FollowUp
	if ev.Audit != nil {
		a := *ev.Audit // each try of the change writes its own
		c.Audit = &a
	}
	c.FollowUps = append(c.FollowUps, ev.FollowUps...)
}

// writeSideRows writes an event's rows when it moves nothing, and returns
// why (cause); a conflict is returned for the caller to retry.
func (s *Service) writeSideRows(ctx context.Context, p *paywire.Payment, ev event, cause error) error {
	var c paywire.StateChange
	if ev.Provider != "" && p.ProviderReference == "" && ev.Reference != "" && !p.State.Terminal() {
		same := *p
		applyEventFields(&same, event{Provider: ev.Provider, Reference: ev.Reference})
		c.Payment, c.Version = &same, p.Version
	}
	s.withSideRows(&c, ev)
	if c.Payment == nil && len(c.Attempts) == 0 && c.ProviderEvent == nil && c.DoneFollowUp == 0 && len(c.FollowUps) == 0 {
		return cause
	}
	if err := s.commit(ctx, c); err != nil {
		return err
	}
	return cause
}

// followUp is a follow-up of p due at.
func followUp(p *paywire.Payment, kind paywire.FollowUpKind, at time.Time) paywire.FollowUp {
	return paywire.FollowUp{PaymentID: p.ID, MerchantID: p.MerchantID, Kind: kind, DueAt: at}
}

// moneyAction carries out a capture, void or refund at the payment's
// provider. The attempt is written (started) before the call, with a key
// that is the same for every retry of the same logical operation, and
// returned with the provider's answer for the change to write. Returns
// EDECLINED when the provider refused, EUNAVAILABLE when the outcome is
// unknown (the attempt stays open: a retry with the same key asks again),
// EUNSUPPORTED when the provider cannot do it.
func (s *Service) moneyAction(ctx context.Context, p *paywire.Payment, ev event, a paywire.Action, c paywire.StateChange, done map[paywire.Action]*paywire.Attempt) (*paywire.Attempt, error) {
	if att, ok := done[a]; ok {
		return att, nil // carried out before a conflict: the move records it
	}
	// A void releases what is reserved and not captured: the whole
	// authorization, or a partial capture's remainder.
	op, amount := paywire.OpVoid, p.Amount.Amount-p.Captured
	switch a {
	case paywire.ActionCapture:
		op, amount = paywire.OpCapture, c.Payment.Captured-p.Captured
	case paywire.ActionRefund:
		op, amount = paywire.OpRefund, c.Payment.Refunded-p.Refunded
	}
	if p.Provider == "" {
		if a == paywire.ActionVoid && p.State != paywire.StateAuthorized {
			return nil, nil // nothing reached a provider: nothing to cancel there
		}
		return nil, paywire.Errorf(paywire.EUNSUPPORTED, "the payment has no provider to %s it", a)
	}
	prov, err := s.Providers.Provider(p.Provider)
	if err != nil {
		return nil, err
	}
	var call func(ctx context.Context, o adapters.Operation) (adapters.Result, error)
	switch op {
	case paywire.OpCapture:
		if x, ok := prov.(adapters.Capturer); ok {
			call = x.Capture
		}
	case paywire.OpRefund:
		if x, ok := prov.(adapters.Refunder); ok {
			call = x.Refund
		}
	case paywire.OpVoid:
		if x, ok := prov.(adapters.Voider); ok {
			call = x.Void
		}
	}
	if call == nil {
		return nil, paywire.Errorf(paywire.EUNSUPPORTED, "provider %s cannot %s payments", p.Provider, a)
	}
	att, err := s.startAttempt(ctx, p, op, p.Provider, amount, operationKey(p, op, ev.OpKey), false)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.providerTimeout())
	defer cancel()
	start := time.Now()
	res, err := call(cctx, adapters.Operation{PaymentID: p.ID, ProviderReference: p.ProviderReference,
		Amount: paywire.Money{Amount: amount, Currency: p.Amount.Currency}, IdempotencyKey: att.IdempotencyKey})
	resolveAttempt(att, res, err)
	s.observeCall(att, op, start)
	switch {
	case att.Status == paywire.AttemptApproved:
		done[a] = att
		return att, nil
	case att.Status == paywire.AttemptDeclined, att.Status == paywire.AttemptCancelled:
		return att, &paywire.Error{Code: paywire.EDECLINED, Message: fmt.Sprintf("the provider declined the %s (%s)", op, res.Code)}
	case att.Status == paywire.AttemptFailed:
		return att, &paywire.Error{Code: paywire.EUNAVAILABLE, Message: fmt.Sprintf("the provider could not %s the payment now; retry later", op), Err: err}
	}
	// Unknown: the provider may have done it. The attempt stays open; the
	// same key asks again.
	s.recordAttempt(ctx, att)
	return att, &paywire.Error{Code: paywire.EUNAVAILABLE, Message: fmt.Sprintf("the provider did not answer the %s; retry later with the same idempotency key", op), Err: err}
}

// operationKey is the provider idempotency key of an operation: a payment
// has one capture and one void, so theirs depend on the payment alone (two
// concurrent capture requests are one capture at the provider); a
// refund's depends on the request (the merchant's idempotency key, or a
// new one per request without it).
func operationKey(p *paywire.Payment, op paywire.Operation, opKey string) string {
	switch op {
	case paywire.OpCapture, paywire.OpVoid:
		return p.ID + "-" + string(op)
	}
	if opKey == "" {
		opKey = paywire.NewID("")
	}
	sum := sha256.Sum256([]byte(opKey))
	return p.ID + "-" + string(op) + "-" + hex.EncodeToString(sum[:8])
}

// answerDeclined stores a declined money action's attempt and the
// request's outcome: a retry gets the same refusal without asking again.
func (s *Service) answerDeclined(ctx context.Context, p *paywire.Payment, ev event, att *paywire.Attempt, cause error) {
	c := paywire.StateChange{}
	if att != nil {
		c.Attempts = []paywire.Attempt{*att}
	}
	var err error
	if c.Idempotency, err = ev.Idem.answer(nil, cause); err == nil {
		if err = s.commit(context.WithoutCancel(ctx), c); err == nil {
			ev.Idem.committed()
		}
	}
	if err != nil {
		s.logger().ErrorContext(ctx, "storing a declined operation", "payment_id", p.ID, "error", err)
	}
}

// recordAttempt writes an attempt's status on its own, logging failure: the
// attempt is open either way, and its follow-up resolves it.
func (s *Service) recordAttempt(ctx context.Context, att *paywire.Attempt) {
	if err := s.commit(context.WithoutCancel(ctx), paywire.StateChange{Attempts: []paywire.Attempt{*att}}); err != nil {
		s.logger().ErrorContext(ctx, "recording a provider attempt", "payment_id", att.PaymentID, "attempt", att.ID, "error", err)
	}
}

// workflowRisk is the risk the workflow sees: the event's, else the
// payment's; without a risk decision, as risky as can be, so that nothing
// that depends on a low score (auto-capture) happens.
func workflowRisk(p *paywire.Payment, ev event) engine.RiskSummary {
	if ev.Risk != nil {
		return engine.RiskSummary{Score: ev.Risk.Score, Action: string(ev.Risk.Action)}
	}
	if p.RiskAction == "" {
		return engine.RiskSummary{Score: 100}
	}
	return engine.RiskSummary{Score: p.RiskScore, Action: string(p.RiskAction)}
}

// isNotApplicable reports whether err says the workflow had nothing to do.
func isNotApplicable(err error) bool { return errors.Is(err, errNotApplicable) }

// gather makes the decisions of a request wait to be written with the
// change they lead to (engine.Pending), so that the request commits once,
// and returns the context that carries them and the function that writes,
// at the end of the request, the records no change took: decisions whose
// request failed or changed nothing. Without s.Decisions the engine's
// recorder stores each decision at once. Nested calls share the outer
// request's Pending.
func (s *Service) gather(ctx context.Context) (context.Context, func()) {
	if s.Decisions == nil {
		return ctx, func() {}
	}
	ctx, p, fresh := engine.WithPending(ctx, s.now)
	if !fresh {
		return ctx, func() {}
	}
	return ctx, func() {
		recs := p.Take()
		if len(recs) == 0 {
			return
		}
		if err := s.Decisions.SaveDecisions(context.WithoutCancel(ctx), recs); err != nil {
			s.logger().ErrorContext(ctx, "storing decision records", "decisions", len(recs), "error", err)
		}
	}
}
