package paywire

import (
	"context"
	"time"
)

// Provider health: how each provider fares with each method over a rolling
// window of its calls, read from the attempts in the database, and whether
// it is demoted (routed after the healthy providers) for failing.

// CallOutcome is how a provider call that takes a payment (an
// authorization or a backend payment) ended, as provider health counts
// it: it is written once, when the call returns, and a later status query
// or webhook that settles the attempt never changes it.
type CallOutcome string

// Call outcomes. The zero CallOutcome is a call that has not returned (or
// was never made: the provider lacked the capability).
const (
	// CallAnswered: the provider answered about the payment (approved,
	// declined, pending, cancelled).
	CallAnswered CallOutcome = "answered"
	// CallRefused: the provider refused the request itself (invalid,
	// unsupported, not found, idempotency conflict): an answer about the
	// request, not a failure of the provider.
	CallRefused CallOutcome = "refused"
	// CallError: a technical error: no answer (timeout, connection lost),
	// a 5xx, the provider not reachable, or a failure the provider
	// reported on its side.
	CallError CallOutcome = "error"
)

// HealthState is whether a provider is routed as the policies say or
// demoted for failing with a method.
type HealthState string

// Health states. A provider with no state recorded is healthy.
const (
	HealthHealthy HealthState = "healthy"
	HealthDemoted HealthState = "demoted"
)

// The audit actions of health transitions; the audit log is their
// history.
const (
	AuditProviderDemote  = "provider.demote"
	AuditProviderRestore = "provider.restore"
)

// HealthRequest asks for the provider calls of a window.
type HealthRequest struct {
	// From and To bound the start of the calls counted: From <= start < To.
	From, To time.Time
	// Limit is how many of the newest calls of each provider and method
	// are read at most (1-100,000): the work is bounded whatever the
	// traffic.
	Limit int
}

// Validate checks the request. Returns EINVALID with the first problem.
func (r *HealthRequest) Validate() error {
	switch {
	case r.From.IsZero() || r.To.IsZero() || !r.From.Before(r.To):
		return Errorf(EINVALID, "provider health needs a window: a start before its end")
	case r.To.Sub(r.From) > 7*24*time.Hour:
		return Errorf(EINVALID, "provider health reads at most 7 days")
	case r.Limit < 1 || r.Limit > 100_000:
		return Errorf(EINVALID, "provider health reads 1 to 100,000 calls per provider and method")
	}
	return nil
}

// HealthTally counts the calls of one provider with one method that took
// payments (authorizations and backend payments) and returned within a
// window, at most the request's Limit of the newest.
type HealthTally struct {
	Provider string
	Method   Method
	Calls    int64 // calls that returned
	Errors   int64 // of which ended with a technical error (CallError)
	// Approved and Declined count the calls' attempts by where they stand
	// now: a call that timed out and was later found approved is an error
	// and an approval.
	Approved, Declined int64
	// Latencies are the calls' durations in milliseconds, sorted.
	Latencies []int64
}

// HealthFigures are a provider's figures with a method. Counts are always
// known; a rate or percentile from fewer calls than the minimum sample is
// unknown (nil), never zero.
type HealthFigures struct {
	Provider string
	Method   Method
	Calls    int64
	Errors   int64
	Approved int64
	Declined int64
	// ErrorRate is Errors / Calls, with at least the minimum sample of
	// calls.
	ErrorRate *float64
	// ApprovalRate is Approved / (Approved + Declined), with at least the
	// minimum sample of decided calls.
	ApprovalRate *float64
	// LatencyP50 and LatencyP95 are the calls' median and 95th percentile
	// durations in milliseconds, with at least the minimum sample of calls.
	LatencyP50, LatencyP95 *int64
}

// Figures computes t's figures; minSample (at least 1) is the sample a
// rate or percentile needs.
func (t HealthTally) Figures(minSample int) HealthFigures {
	minSample = max(minSample, 1)
	f := HealthFigures{Provider: t.Provider, Method: t.Method, Calls: t.Calls, Errors: t.Errors, Approved: t.Approved, Declined: t.Declined}
	if t.Calls >= int64(minSample) {
		r := float64(t.Errors) / float64(t.Calls)
		f.ErrorRate = &r
	}
	if d := t.Approved + t.Declined; d >= int64(minSample) {
		r := float64(t.Approved) / float64(d)
		f.ApprovalRate = &r
	}
	if n := len(t.Latencies); n >= minSample {
		p50, p95 := Percentile(t.Latencies, 0.50), Percentile(t.Latencies, 0.95)
		f.LatencyP50, f.LatencyP95 = &p50, &p95
	}
	return f
}

// Percentile returns the q-quantile (0-1) of sorted, a non-empty sorted
// slice, by the nearest-rank method: the smallest value at least a
// fraction q of the values are at or below.
func Percentile(sorted []int64, q float64) int64 {
	n := len(sorted)
	rank := int(q*float64(n) + 0.999999999) // ceil, without float noise
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ProviderState is the recorded health state of a provider with a method
// and the figures that moved it there.
type ProviderState struct {
	Provider string
	Method   Method
	State    HealthState
	Since    time.Time
	// Version increases with each transition; 0 for a provider with no
	// state recorded (healthy). A transition names the version it saw.
	Version int64
	// The figures at the transition.
	Calls, Errors           int64
	ErrorRate, ApprovalRate *float64
	LatencyP95              *int64
	// Reason says why, with the figures and thresholds.
	Reason string
}

// HealthStore counts provider calls and keeps the providers' health
// states.
type HealthStore interface {
	// HealthTallies counts the calls of r's window by provider and method,
	// ordered by provider then method; a pair with no call has no tally.
	// Returns EINVALID for an invalid request.
	HealthTallies(ctx context.Context, r HealthRequest) ([]HealthTally, error)

	// ProviderStates returns every recorded state, by provider then
	// method.
	ProviderStates(ctx context.Context) ([]ProviderState, error)

	// SetProviderState records s as the provider's state with its audit
	// entry, in one transaction, when the recorded state is still the
	// version s.Version names (0: none recorded); it fills Since and
	// Version. False, and nothing written, when another transition came
	// first.
	SetProviderState(ctx context.Context, s *ProviderState, audit *AuditEntry) (bool, error)

	// ProviderTransitions returns up to limit transitions from the audit
	// log (actions provider.demote and provider.restore), newest first.
	ProviderTransitions(ctx context.Context, limit int) ([]AuditEntry, error)
}
