package paywire

import (
	"context"
	"time"
)

// ExperimentRequest asks for the tallies of a routing experiment's arms.
type ExperimentRequest struct {
	Experiment string
	// From and To bound the creation time of the payments counted:
	// From <= created < To. Both are required.
	From, To time.Time
	// MerchantID limits the tallies to one merchant; "" counts every
	// merchant's payments.
	MerchantID string
	// Latencies asks for the attempts' latencies too (a read of every
	// attempt of the payments counted); the guardrail needs none.
	Latencies bool
}

// Validate checks the request. Returns EINVALID with the first problem.
func (r *ExperimentRequest) Validate() error {
	if r.Experiment == "" || len(r.Experiment) > 64 {
		return Errorf(EINVALID, "an experiment's results need its name")
	}
	return checkPeriod("results", r.From, r.To, r.MerchantID)
}

// ArmTally counts the payments one arm of a routing experiment routed:
// those whose routing decision put them in the arm (Payment's
// routing_experiment and routing_arm).
//
// A payment is decided once the providers have answered: it is approved in
// a paid state (authorized, completed, refunded in part or whole, charged
// back) and not approved in any other final state (refused by the
// provider, failed, cancelled or expired on the way); one still created,
// pending or in review is in flight and counts in neither. Refunds and
// chargebacks after approval do not lower the approval rate; they are
// counted on their own.
type ArmTally struct {
	Arm         string
	Routed      int64 // every payment routed by the arm
	Decided     int64 // of which the providers answered for
	Approved    int64 // of which approved
	InFlight    int64 // routed, not decided yet
	Refunded    int64 // approved payments refunded, in part or whole
	ChargedBack int64 // approved payments charged back
	// Latencies are the durations of the arm's provider attempts that
	// ended with an answer (authorizations and payouts approved or
	// declined), from the attempt's start to its result, in milliseconds,
	// sorted: percentiles are read from it.
	Latencies []int64
}

// ArmStop is an arm of a routing experiment its guardrail stopped: from
// StoppedAt its payments take the control arm's route (and count as
// control's), on every node. An experiment is known by its name and salt,
// so a new salt (a restarted experiment) starts with no arm stopped.
type ArmStop struct {
	Experiment, Salt, Arm string
	StoppedAt             time.Time
	// Reason says why, with the figures the guardrail read.
	Reason string
}

// ArmStopStore keeps the stopped arms.
type ArmStopStore interface {
	// StopArm records s with its audit entry in one transaction; false,
	// and nothing written, when the arm is stopped already.
	StopArm(ctx context.Context, s *ArmStop, audit *AuditEntry) (bool, error)
	// ArmStops returns every stopped arm, oldest first.
	ArmStops(ctx context.Context) ([]ArmStop, error)
}
