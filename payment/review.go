package payment

import (
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/paywire/paywire"
)

// Review is a person's decision on a payment held for review: approve
// takes it on (an authorization held for review becomes authorized, and is
// captured when the merchant auto-captures; money a provider captured at
// once completes; a backend payment goes to its providers), decline
// refuses it (an authorization is voided, captured money refunded). Who decided
// and why are recorded in the audit log with the change, and the event's
// source is who. An approval is recorded as the payment's next; when the
// workflow wants more (a withdrawal of a merchant that asks for two
// approvals), the payment stays in review and is returned as it is.
// Returns ECONFLICT for a payment not in review, EFORBIDDEN when who
// approved it already.
func (s *Service) Review(ctx context.Context, merchantID, paymentID string, approve bool, who paywire.Actor, why string) (*paywire.Payment, error) {
	ctx, done := s.gather(ctx)
	defer done()
	switch {
	case who == "":
		return nil, paywire.Errorf(paywire.EINVALID, "a review decision needs who made it")
	case why == "" || utf8.RuneCountInString(why) > 500 || !paywire.ValidText(why):
		return nil, paywire.Errorf(paywire.EINVALID, "reason must be 1 to 500 characters of text")
	}
	p, err := s.Payments.Payment(ctx, merchantID, paymentID)
	if err != nil {
		return nil, err
	}
	if p.State != paywire.StateReview {
		return nil, paywire.Errorf(paywire.ECONFLICT, "payment %s is %s, not in review", p.ID, p.State)
	}
	typ, action := paywire.EventReviewRejected, "payment.review.decline"
	if approve {
		typ, action = paywire.EventReviewApproved, "payment.review.approve"
	}
	details, _ := json.Marshal(map[string]string{"merchantId": merchantID, "reason": why, "from": string(p.State)})
	audit := &paywire.AuditEntry{Actor: string(who), Action: action, Target: p.ID, Details: details}
	// A declined review of captured money is refunded under one key for
	// every try: a retry after a crash asks the provider again, it does not
	// refund twice.
	ev := event{Type: typ, Source: who, Audit: audit, OpKey: "review-" + p.ID}
	if approve {
		ev.Approval = &paywire.Approval{Approver: who, Reason: why}
		if p.SourcePaymentID != "" {
			// An approved backend payment goes on to its providers: if the
			// process dies first, this follow-up takes it there.
			ev.FollowUps = []paywire.FollowUp{followUp(p, paywire.FollowUpProcess, s.now().Add(s.recoverAfter()))}
		}
	}
	next, err := s.transition(ctx, p, ev)
	if isNotApplicable(err) {
		return nil, paywire.Errorf(paywire.ECONFLICT, "the workflow has no move for this review decision")
	}
	if err != nil {
		return nil, err
	}
	if next.State == paywire.StatePending && next.SourcePaymentID != "" {
		// An approved backend payment goes on to its providers.
		src, err := s.Payments.Payment(ctx, next.MerchantID, next.SourcePaymentID)
		if err != nil {
			return next, err
		}
		return s.payBackend(ctx, next, src, nil)
	}
	return next, nil
}

// ReviewQueue lists payments held for review, oldest first, across
// merchants (merchantID "": all).
func (s *Service) ReviewQueue(ctx context.Context, merchantID string, limit int) ([]*paywire.Payment, error) {
	return s.Payments.PaymentsInState(ctx, merchantID, paywire.StateReview, limit)
}
