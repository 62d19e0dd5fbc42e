package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/paywire/paywire"
)

// Follow-ups: whatever must happen to a payment later is a row, written in
// the transaction of the change that makes it due (transition.go), and
// carried out here by a worker that runs on every node and claims due rows
// with a lease. A follow-up is carried out through the transition path,
// and marked done in the transaction of the change it causes; one that
// finds nothing to do is marked done alone. After a crash, every payment
// reaches a final state or a state a person must act on (review).

// FollowUpWorker carries out due follow-ups.
type FollowUpWorker struct {
	Service *Service
	// ID names the worker in leases; host name and process id when empty.
	ID string
	// Lease is how long a claim lasts; 2 minutes when zero. It must exceed
	// the time one follow-up takes (a few provider calls).
	Lease time.Duration
	// Poll is how often the worker looks for due follow-ups when it found
	// none; 1 second when zero.
	Poll time.Duration
	// MaxTries is how many claims a follow-up gets before it is given up
	// for a person; 30 when zero.
	MaxTries int
}

// Run claims and carries out due follow-ups until ctx ends.
func (w *FollowUpWorker) Run(ctx context.Context) error {
	id := w.ID
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d-followups", host, os.Getpid())
	}
	poll := w.Poll
	if poll <= 0 {
		poll = time.Second
	}
	for {
		n, err := w.RunOnce(ctx, id)
		if err != nil && ctx.Err() == nil {
			w.Service.logger().Warn("claiming follow-ups", "error", err)
		}
		if n > 0 {
			continue
		}
		t := time.NewTimer(poll + time.Duration(rand.Int64N(int64(poll)/4+1)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// RunOnce claims a batch of due follow-ups as worker and carries them out;
// it returns how many it claimed.
func (w *FollowUpWorker) RunOnce(ctx context.Context, worker string) (int, error) {
	s := w.Service
	lease := w.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	due, err := s.FollowUps.ClaimFollowUps(ctx, worker, s.now(), lease, 16)
	if err != nil {
		return 0, err
	}
	for _, f := range due {
		if ctx.Err() != nil {
			break // the lease lets another worker take the rest
		}
		err := s.RunFollowUp(ctx, f)
		if err == nil {
			continue
		}
		maxTries := w.MaxTries
		if maxTries <= 0 {
			maxTries = 30
		}
		failed := f.Attempts >= maxTries && !errors.Is(err, errStillOpen)
		if !errors.Is(err, errStillOpen) {
			s.logger().WarnContext(ctx, "follow-up not done; it will be tried again", "payment_id", f.PaymentID, "kind", string(f.Kind),
				"try", f.Attempts, "error", err)
		}
		next := s.now().Add(backoff(f.Attempts))
		if rerr := s.FollowUps.RetryFollowUp(context.WithoutCancel(ctx), f.ID, worker, next, paywire.ErrorMessage(err), failed); rerr != nil &&
			paywire.ErrorCode(rerr) != paywire.ECONFLICT {
			s.logger().ErrorContext(ctx, "rescheduling a follow-up", "payment_id", f.PaymentID, "error", rerr)
		}
		if failed {
			s.logger().ErrorContext(ctx, "follow-up given up; a person must look at the payment", "payment_id", f.PaymentID, "kind", string(f.Kind))
		}
	}
	return len(due), nil
}

// backoff is the pause before a follow-up's next try: 5 s doubling, at
// most an hour, with jitter.
func backoff(tries int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < tries && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// RunFollowUp carries out one follow-up. It returns nil when the follow-up
// is done (marked in the change it caused, or alone when there was nothing
// to do), errStillOpen while a provider has not decided, and any other
// error to be tried again.
func (s *Service) RunFollowUp(ctx context.Context, f paywire.FollowUp) error {
	ctx, flush := s.gather(ctx)
	defer flush()
	p, err := s.Payments.Payment(ctx, f.MerchantID, f.PaymentID)
	if err != nil {
		return err
	}
	if f.Kind == paywire.FollowUpCapture {
		_, err = s.captureDue(ctx, p, f)
		return err
	}
	done := func() error { return s.writeSideRows(ctx, p, event{FollowUp: f.ID}, nil) }
	on := func(typ paywire.EventType) error {
		_, err := s.transition(ctx, p, event{Type: typ, Source: paywire.ActorSystem, FollowUp: f.ID})
		if isNotApplicable(err) {
			return nil // marked done with the side rows
		}
		return err
	}
	switch f.Kind {
	case paywire.FollowUpAuthorizationExpiry:
		return on(paywire.EventAuthorizationExpired)
	case paywire.FollowUpRemainderRelease:
		return on(paywire.EventRemainderRelease)
	case paywire.FollowUpReviewExpiry:
		return on(paywire.EventReviewExpired)
	case paywire.FollowUpStatusQuery:
		att, err := s.Attempts.Attempt(ctx, f.AttemptID)
		if err != nil {
			return err
		}
		if !att.Status.Open() || p.State != paywire.StatePending {
			return done()
		}
		_, err = s.resolve(ctx, p, att, f.ID)
		return err
	case paywire.FollowUpPaymentExpiry:
		if p.State == paywire.StatePending {
			// Ask the provider first: it may have taken the payment.
			att, err := s.openAttempt(ctx, p)
			if err != nil {
				return err
			}
			if att != nil {
				p, err = s.resolve(ctx, p, att, 0)
				if errors.Is(err, errStillOpen) {
					// The provider has not decided. When it has the payment
					// waiting (the end user's 3-D Secure or bank page), the
					// expiry cancels it there. When nobody knows whether the
					// call reached it (no answer, and a status query that
					// could not tell), there would be nothing to cancel, and
					// an authorization it made would never be voided: the
					// payment waits, and the expiry is tried again with
					// backoff, until the provider can tell.
					if att, err = s.openAttempt(ctx, p); err != nil {
						return err
					}
					if att != nil && att.Status != paywire.AttemptPending {
						return errStillOpen
					}
				} else if err != nil {
					return err
				}
			}
		}
		return on(paywire.EventPaymentExpired)
	case paywire.FollowUpProcess:
		return s.finish(ctx, p, f)
	}
	return fmt.Errorf("unknown follow-up kind %q", f.Kind)
}

// captureDue carries out a capture follow-up on p, as read by the caller
// (a conflict reads it again), and returns the payment afterwards.
func (s *Service) captureDue(ctx context.Context, p *paywire.Payment, f paywire.FollowUp) (*paywire.Payment, error) {
	ctx, flush := s.gather(ctx)
	defer flush()
	next, err := s.transition(ctx, p, event{Type: paywire.EventCaptureDue, Source: paywire.ActorSystem, FollowUp: f.ID})
	if isNotApplicable(err) {
		return next, nil // marked done with the side rows
	}
	return next, err
}

// mootAfter returns the kinds of follow-up a move from one state to
// another makes moot, as RunFollowUp would find them when due: a status
// query asks only about a pending payment, and a process follow-up acts
// only on a created or pending one (an approval after a review schedules
// its own). The move marks them done, so that none is claimed, read and
// marked later for nothing (two a paid payment). Only a move out of
// created or pending has any to end. A payment expiry is not among them:
// what it does is the workflow's call.
func mootAfter(from, to paywire.State) []paywire.FollowUpKind {
	if (from != paywire.StateCreated && from != paywire.StatePending) || to == paywire.StatePending {
		return nil
	}
	return []paywire.FollowUpKind{paywire.FollowUpStatusQuery, paywire.FollowUpProcess}
}

// finish takes a payment whose processing was cut short (the process died)
// to where it belongs: a created backend payment is processed; a pending
// one with an open attempt is left to that attempt's status query; a
// pending one whose every attempt ended goes on to the providers not yet
// tried (a backend payment), or fails (the hosted pages' card details are
// gone with the process).
func (s *Service) finish(ctx context.Context, p *paywire.Payment, f paywire.FollowUp) error {
	// The work first, then the follow-up is marked done: if the work dies
	// too, the follow-up is due again.
	var err error
	switch {
	case p.State == paywire.StateCreated && p.SourcePaymentID != "":
		_, err = s.process(ctx, p, nil)
	case p.State == paywire.StatePending:
		var att *paywire.Attempt
		if att, err = s.openAttempt(ctx, p); err != nil || att != nil {
			break // an open attempt has its status query
		}
		if p.SourcePaymentID != "" {
			var src *paywire.Payment
			if src, err = s.Payments.Payment(ctx, p.MerchantID, p.SourcePaymentID); err == nil {
				_, err = s.payBackend(ctx, p, src, nil)
			}
			break
		}
		_, err = s.transition(ctx, p, event{Type: paywire.EventProviderError, Source: paywire.ActorSystem, FollowUp: f.ID})
		if isNotApplicable(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	return s.writeSideRows(ctx, p, event{FollowUp: f.ID}, nil)
}
