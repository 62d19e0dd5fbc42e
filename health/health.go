// Package health keeps provider health: it computes how each provider
// fares with each method from the provider calls in the database (error
// rate, approval rate, latency), demotes a provider whose technical-error
// rate reaches the running bundle's threshold and restores it when it
// recovers, and holds what routing reads. Every node runs a Monitor; the
// states are rows every node shares, each transition written once, by
// compare-and-set, with its audit entry. It changes no payment and routes
// nothing: the engine routes demoted providers last.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Monitor computes the providers' health and moves their states. Check
// and Read may be called from one goroutine while ProviderHealth and
// Snapshot are called from any.
type Monitor struct {
	Store paywire.HealthStore
	// Policy returns the running bundle's health policy.
	Policy func() engine.HealthPolicy
	Now    func() time.Time
	Logger *slog.Logger

	snap atomic.Pointer[Snapshot]
}

// Snapshot is what a node knows of provider health: the figures of its
// last check and the states of its last read.
type Snapshot struct {
	// At is when the figures were computed; zero before the first check.
	At      time.Time
	Policy  engine.HealthPolicy
	Figures []paywire.HealthFigures // by provider, then method
	States  []paywire.ProviderState // the recorded states, by provider, then method
	// byMethod is what routing reads: method -> provider -> health.
	byMethod map[paywire.Method]map[string]engine.ProviderHealth
}

// Demoted counts the providers demoted with a method.
func (s *Snapshot) Demoted() int {
	n := 0
	for _, st := range s.States {
		if st.State == paywire.HealthDemoted {
			n++
		}
	}
	return n
}

// Snapshot returns what the node last computed and read; an empty one
// before the first check or read.
func (m *Monitor) Snapshot() *Snapshot {
	if s := m.snap.Load(); s != nil {
		return s
	}
	return &Snapshot{}
}

// ProviderHealth implements payment.HealthReader.
func (m *Monitor) ProviderHealth(method paywire.Method) map[string]engine.ProviderHealth {
	if s := m.snap.Load(); s != nil {
		return s.byMethod[method]
	}
	return nil
}

// Read reads the recorded states, so that a transition any node made
// reaches this node's routing.
func (m *Monitor) Read(ctx context.Context) error {
	states, err := m.Store.ProviderStates(ctx)
	if err != nil {
		return err
	}
	prev := m.Snapshot()
	m.publish(prev.At, prev.Policy, prev.Figures, states)
	return nil
}

// Check computes the figures of the policy's window from the calls in the
// database, moves the providers whose state they call for (once, whichever
// node checks), and publishes figures and states. It returns the
// transitions this check wrote.
func (m *Monitor) Check(ctx context.Context) ([]paywire.ProviderState, error) {
	now := m.Now()
	policy := m.Policy()
	states, err := m.Store.ProviderStates(ctx)
	if err != nil {
		return nil, err
	}
	tallies, err := m.Store.HealthTallies(ctx, paywire.HealthRequest{From: now.Add(-policy.Window), To: now, Limit: policy.MaxCalls})
	if err != nil {
		return nil, err
	}
	figures := make([]paywire.HealthFigures, len(tallies))
	for i, t := range tallies {
		figures[i] = t.Figures(policy.MinCalls)
	}
	recorded := map[[2]string]paywire.ProviderState{}
	for _, s := range states {
		recorded[key(s.Provider, s.Method)] = s
	}
	// Every provider with figures or a recorded state.
	pairs := map[[2]string]paywire.HealthFigures{}
	for _, f := range figures {
		pairs[key(f.Provider, f.Method)] = f
	}
	for k, s := range recorded {
		if _, ok := pairs[k]; !ok {
			pairs[k] = paywire.HealthFigures{Provider: s.Provider, Method: s.Method}
		}
	}
	var moved []paywire.ProviderState
	for k, f := range pairs {
		cur := recorded[k]
		to, reason := Next(f, cur, policy, now)
		if to == "" {
			continue
		}
		s := &paywire.ProviderState{Provider: f.Provider, Method: f.Method, State: to, Version: cur.Version,
			Calls: f.Calls, Errors: f.Errors, ErrorRate: f.ErrorRate, ApprovalRate: f.ApprovalRate, LatencyP95: f.LatencyP95, Reason: reason}
		ok, err := m.Store.SetProviderState(ctx, s, auditEntry(s, cur, f, policy))
		if err != nil {
			return moved, err
		}
		if !ok {
			continue // another node moved it first; the read below has its state
		}
		moved = append(moved, *s)
		log := m.Logger.InfoContext
		if to == paywire.HealthDemoted {
			log = m.Logger.WarnContext
		}
		log(ctx, "provider "+string(to)+"; routing puts demoted providers after the healthy ones",
			"provider", f.Provider, "method", f.Method, "reason", reason)
	}
	if len(moved) > 0 {
		if states, err = m.Store.ProviderStates(ctx); err != nil {
			return moved, err
		}
	}
	m.publish(now, policy, figures, states)
	return moved, nil
}

func key(provider string, method paywire.Method) [2]string {
	return [2]string{provider, string(method)}
}

// Next returns the state a provider with figures f, in recorded state cur
// (the zero state: healthy, none recorded), moves to under policy p at
// now, with the reason; "" when it stays. A healthy provider is demoted
// when its error rate (over at least p.MinCalls calls) reaches
// p.DemoteErrorRate. A demoted one is restored when the rate falls to
// p.RestoreErrorRate or below, or when, a window after its demotion, the
// window holds too few calls for a rate: the errors that demoted it have
// left the window and nothing newer says it still fails (it is demoted
// again after p.MinCalls more calls if it does). Between the two rates
// nothing moves. With demotion off a demoted provider is restored and
// none is demoted.
func Next(f paywire.HealthFigures, cur paywire.ProviderState, p engine.HealthPolicy, now time.Time) (paywire.HealthState, string) {
	if cur.State != paywire.HealthDemoted {
		if p.Demotion && f.ErrorRate != nil && *f.ErrorRate >= p.DemoteErrorRate {
			return paywire.HealthDemoted, fmt.Sprintf("technical-error rate %s of %d calls in the last %s, at or above the %s that demotes",
				percent(*f.ErrorRate), f.Calls, p.Window, percent(p.DemoteErrorRate))
		}
		return "", ""
	}
	switch {
	case !p.Demotion:
		return paywire.HealthHealthy, "demotion is off in the running policy bundle"
	case f.ErrorRate != nil && *f.ErrorRate <= p.RestoreErrorRate:
		return paywire.HealthHealthy, fmt.Sprintf("technical-error rate %s of %d calls in the last %s, at or below the %s that restores",
			percent(*f.ErrorRate), f.Calls, p.Window, percent(p.RestoreErrorRate))
	case f.ErrorRate == nil && !now.Before(cur.Since.Add(p.Window)):
		return paywire.HealthHealthy, fmt.Sprintf("%d calls in the last %s, fewer than the %d a rate needs, and demoted more than a window ago: the errors that demoted it have aged out",
			f.Calls, p.Window, p.MinCalls)
	}
	return "", ""
}

func auditEntry(s *paywire.ProviderState, cur paywire.ProviderState, f paywire.HealthFigures, p engine.HealthPolicy) *paywire.AuditEntry {
	action := paywire.AuditProviderRestore
	if s.State == paywire.HealthDemoted {
		action = paywire.AuditProviderDemote
	}
	from := cur.State
	if from == "" {
		from = paywire.HealthHealthy
	}
	details, _ := json.Marshal(map[string]any{
		"provider": s.Provider, "method": s.Method, "from": from, "to": s.State, "reason": s.Reason,
		"calls": f.Calls, "errors": f.Errors, "approved": f.Approved, "declined": f.Declined,
		"error_rate": f.ErrorRate, "approval_rate": f.ApprovalRate, "latency_p50_ms": f.LatencyP50, "latency_p95_ms": f.LatencyP95,
		"window": p.Window.String(), "min_calls": p.MinCalls, "max_calls": p.MaxCalls,
		"demote_error_rate": p.DemoteErrorRate, "restore_error_rate": p.RestoreErrorRate,
	})
	return &paywire.AuditEntry{Actor: string(paywire.ActorSystem), Action: action,
		Target: "provider:" + s.Provider + "/" + string(s.Method), Details: details}
}

// publish makes figures and states what ProviderHealth returns.
func (m *Monitor) publish(at time.Time, policy engine.HealthPolicy, figures []paywire.HealthFigures, states []paywire.ProviderState) {
	by := map[paywire.Method]map[string]engine.ProviderHealth{}
	entry := func(method paywire.Method) map[string]engine.ProviderHealth {
		if by[method] == nil {
			by[method] = map[string]engine.ProviderHealth{}
		}
		return by[method]
	}
	for _, f := range figures {
		entry(f.Method)[f.Provider] = engine.ProviderHealth{State: engine.HealthHealthy, Calls: f.Calls, Errors: f.Errors,
			ErrorRate: f.ErrorRate, ApprovalRate: f.ApprovalRate, LatencyP50: f.LatencyP50, LatencyP95: f.LatencyP95}
	}
	for _, s := range states {
		h, ok := entry(s.Method)[s.Provider]
		if !ok && at.IsZero() {
			// No figures were computed yet: the counts are unknown, and
			// only a demotion is worth telling routing.
			if s.State != paywire.HealthDemoted {
				continue
			}
		}
		h.State = string(s.State)
		entry(s.Method)[s.Provider] = h
	}
	m.snap.Store(&Snapshot{At: at, Policy: policy, Figures: figures, States: states, byMethod: by})
}

func percent(f float64) string { return fmt.Sprintf("%.1f %%", f*100) }
