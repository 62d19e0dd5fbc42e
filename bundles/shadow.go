package bundles

import (
	"context"
	"fmt"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// Who may start and stop a shadow: those who write or approve policies,
// and administrators.
var shadowRoles = []paywire.Role{paywire.RoleRiskAnalyst, paywire.RoleCompliance, paywire.RoleAdmin}

// StartShadow makes a submitted or approved revision the candidate every
// node decides beside the active one, on live traffic, off the request's
// path; who holds the risk_analyst, compliance or admin role. With a
// verification key nodes load only a revision that verifies, so a
// revision not yet approved (signed) is refused (EINVALID). Audited as
// policy_bundle.shadow_start.
func (s *Service) StartShadow(ctx context.Context, rev int64, who string) (*paywire.PolicyShadow, error) {
	const op = "bundles/Service.StartShadow"
	if _, err := s.user(ctx, op, who, shadowRoles...); err != nil {
		return nil, err
	}
	if s.Shadows == nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EUNAVAILABLE, Message: "shadowing is not set up here"}
	}
	b, err := s.Store.Bundle(ctx, rev)
	if err != nil {
		return nil, err
	}
	if b.State != paywire.BundleSubmitted && b.State != paywire.BundleApproved {
		return nil, &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: fmt.Sprintf("revision %d is %s: only a submitted or approved revision shadows the active one", rev, b.State)}
	}
	// What every node will check before it decides with the revision.
	if _, err := Compile(ctx, b, s.Verification); err != nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("nodes would refuse revision %d: %v", rev, err), Err: err}
	}
	active, err := s.Store.ActiveBundleRevision(ctx)
	if err != nil {
		return nil, err
	}
	a, err := audit("policy_bundle.shadow_start", who, map[string]any{"revision": rev, "hash": b.Hash, "active": active})
	if err != nil {
		return nil, err
	}
	return s.Shadows.StartShadow(ctx, rev, who, a)
}

// StopShadow stops the running shadow; who holds the risk_analyst,
// compliance or admin role. ECONFLICT when none runs. Audited as
// policy_bundle.shadow_stop.
func (s *Service) StopShadow(ctx context.Context, who string) (*paywire.PolicyShadow, error) {
	const op = "bundles/Service.StopShadow"
	if _, err := s.user(ctx, op, who, shadowRoles...); err != nil {
		return nil, err
	}
	if s.Shadows == nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EUNAVAILABLE, Message: "shadowing is not set up here"}
	}
	running, err := s.Shadows.RunningShadow(ctx)
	if err != nil {
		return nil, err
	}
	if running == nil {
		return nil, &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: "no revision shadows the active one"}
	}
	a, err := audit("policy_bundle.shadow_stop", who, map[string]any{"revision": running.Revision, "shadow": running.ID})
	if err != nil {
		return nil, err
	}
	return s.Shadows.StopShadow(ctx, who, a)
}

// ShadowStatus is a shadow period and what the nodes found in it.
type ShadowStatus struct {
	// Shadow is the running period, or the latest one when none runs; nil
	// when no revision ever shadowed.
	Shadow *paywire.PolicyShadow
	// Active is the active revision (0: the built-in bundle).
	Active int64
	// Counts are Shadow's, by point and result, every node's together.
	Counts []paywire.ShadowCount
	// Recent are Shadow's newest disagreements.
	Recent []paywire.ShadowDisagreement
	// Earlier are the periods before Shadow, newest first.
	Earlier []paywire.PolicyShadow
}

// Total returns the count of a result over every point.
func (st ShadowStatus) Total(result string) int64 {
	var n int64
	for _, c := range st.Counts {
		if c.Result == result {
			n += c.N
		}
	}
	return n
}

// ShadowStatus returns the running (or latest) shadow period, or period
// id when it is not 0, with its counts and up to recent newest
// disagreements, for anyone who may read the registry. ENOTFOUND for an
// unknown id.
func (s *Service) ShadowStatus(ctx context.Context, id int64, recent int) (ShadowStatus, error) {
	const op = "bundles/Service.ShadowStatus"
	if s.Shadows == nil {
		return ShadowStatus{}, &paywire.Error{Op: op, Code: paywire.EUNAVAILABLE, Message: "shadowing is not set up here"}
	}
	var st ShadowStatus
	var err error
	if st.Active, err = s.Store.ActiveBundleRevision(ctx); err != nil {
		return st, err
	}
	all, err := s.Shadows.Shadows(ctx, 20)
	if err != nil {
		return st, err
	}
	for i := range all {
		switch {
		case st.Shadow == nil && (id == 0 || all[i].ID == id):
			st.Shadow = &all[i]
		case st.Shadow != nil:
			st.Earlier = append(st.Earlier, all[i])
		}
	}
	if st.Shadow == nil {
		if id != 0 {
			return st, &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: fmt.Sprintf("there is no recent shadow period %d", id)}
		}
		return st, nil
	}
	if st.Counts, err = s.Shadows.ShadowCounts(ctx, st.Shadow.ID); err != nil {
		return st, err
	}
	if recent > 0 {
		if st.Recent, err = s.Shadows.ShadowDisagreements(ctx, paywire.ShadowFilter{Shadow: st.Shadow.ID, Limit: recent}); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Disagreements returns the disagreements f selects, newest first (a
// page: pass the last ID as f.Before for the next), for anyone who may
// read the registry. Without f.Shadow, the running or latest period's.
func (s *Service) Disagreements(ctx context.Context, f paywire.ShadowFilter) ([]paywire.ShadowDisagreement, error) {
	const op = "bundles/Service.Disagreements"
	if s.Shadows == nil {
		return nil, &paywire.Error{Op: op, Code: paywire.EUNAVAILABLE, Message: "shadowing is not set up here"}
	}
	if f.Shadow == 0 {
		latest, err := s.Shadows.Shadows(ctx, 1)
		if err != nil {
			return nil, err
		}
		if len(latest) == 0 {
			return []paywire.ShadowDisagreement{}, nil
		}
		f.Shadow = latest[0].ID
	}
	if f.Point != "" {
		switch f.Point {
		case engine.PointAvailability, engine.PointRisk, engine.PointRouting, engine.PointWorkflow:
		default:
			return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: fmt.Sprintf("%q is not a decision point (availability, risk, routing, workflow)", f.Point)}
		}
	}
	return s.Shadows.ShadowDisagreements(ctx, f)
}
