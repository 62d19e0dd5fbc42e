package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	exprast "github.com/expr-lang/expr/ast"
)

// Provider health reaches routing two ways. The routing input carries how
// each provider fares with the payment's method (RouteInput.
// ProviderHealth, input.provider_health), which rules and policies may
// read. And a provider demoted for failing is put after the healthy ones
// in whatever route the policy gives, by the engine, which the decision
// says (RouteDecision.Demoted); a route is never emptied. Both come from
// the input, so a recorded decision replays the same.
//
// When a provider is demoted and restored is bundle data
// (data.paywire.provider_health), reviewed and activated with the bundle:
//
//	window: 15m              # the calls counted: those started this long ago at most
//	max_calls: 1000          # ... and at most this many of the newest, per provider and method
//	min_calls: 20            # the sample a rate needs; below it rates are unknown
//	demote_error_rate: 0.5   # demote at this technical-error rate or above
//	restore_error_rate: 0.2  # restore at this rate or below (less than demote_error_rate)
//	demotion: true           # false: figures only, nobody is demoted or restored

const healthFile = "paywire/provider_health/data.yaml"

// HealthPolicy is when providers are demoted and restored.
type HealthPolicy struct {
	Window           time.Duration `json:"window"`
	MaxCalls         int           `json:"max_calls"`
	MinCalls         int           `json:"min_calls"`
	DemoteErrorRate  float64       `json:"demote_error_rate"`
	RestoreErrorRate float64       `json:"restore_error_rate"`
	Demotion         bool          `json:"demotion"`
}

// DefaultHealthPolicy is the policy of a bundle without
// data.paywire.provider_health (the default bundle states the same).
var DefaultHealthPolicy = HealthPolicy{Window: 15 * time.Minute, MaxCalls: 1000, MinCalls: 20,
	DemoteErrorRate: 0.5, RestoreErrorRate: 0.2, Demotion: true}

// HealthPolicy returns the bundle's provider health policy.
func (b *Bundle) HealthPolicy() HealthPolicy { return b.health }

// Health states as routing policies see them.
const (
	HealthHealthy = "healthy"
	HealthDemoted = "demoted"
)

// ProviderHealth is how a provider fares with the payment's method over
// the health window, as routing policies see it. Counts are known when
// the provider is present; a rate or percentile from fewer calls than the
// policy's min_calls is unknown (absent).
type ProviderHealth struct {
	State        string   `json:"state" expr:"state"` // healthy or demoted
	Calls        int64    `json:"calls" expr:"calls"`
	Errors       int64    `json:"errors" expr:"errors"`
	ErrorRate    *float64 `json:"error_rate,omitempty" expr:"error_rate"`
	ApprovalRate *float64 `json:"approval_rate,omitempty" expr:"approval_rate"`
	LatencyP50   *int64   `json:"latency_p50_ms,omitempty" expr:"latency_p50_ms"`
	LatencyP95   *int64   `json:"latency_p95_ms,omitempty" expr:"latency_p95_ms"`
}

// fields is the Rego value: the known figures.
func (h *ProviderHealth) fields() map[string]any {
	o := map[string]any{"state": h.State, "calls": h.Calls, "errors": h.Errors}
	if h.ErrorRate != nil {
		o["error_rate"] = *h.ErrorRate
	}
	if h.ApprovalRate != nil {
		o["approval_rate"] = *h.ApprovalRate
	}
	if h.LatencyP50 != nil {
		o["latency_p50_ms"] = *h.LatencyP50
	}
	if h.LatencyP95 != nil {
		o["latency_p95_ms"] = *h.LatencyP95
	}
	return o
}

// known reports whether figure ("" for the entry itself) is known.
func (h *ProviderHealth) known(figure string) bool {
	switch figure {
	case "error_rate":
		return h.ErrorRate != nil
	case "approval_rate":
		return h.ApprovalRate != nil
	case "latency_p50_ms":
		return h.LatencyP50 != nil
	case "latency_p95_ms":
		return h.LatencyP95 != nil
	}
	return true
}

// healthObject is input.provider_health.
func healthObject(m map[string]ProviderHealth) map[string]any {
	o := make(map[string]any, len(m))
	for name, h := range m {
		o[name] = h.fields()
	}
	return o
}

// demoteRoute puts the route's demoted providers after the others, each
// side in its order, and names them in the decision.
func demoteRoute(d *RouteDecision, health map[string]ProviderHealth) {
	d.Demoted = nil
	if len(health) == 0 {
		return
	}
	var ok, demoted []string
	for _, p := range d.Providers {
		if h, found := health[p]; found && h.State == HealthDemoted {
			demoted = append(demoted, p)
		} else {
			ok = append(ok, p)
		}
	}
	if len(demoted) > 0 {
		d.Providers, d.Demoted = append(ok, demoted...), demoted
	}
}

// healthRead is a provider's figure an expr rule reads: the rule does not
// fire when it is unknown for the payment.
type healthRead struct {
	provider, figure string // figure "": the entry itself
}

// healthKnown reports whether every figure reads names is known in env
// (a routing input).
func healthKnown(env any, reads []healthRead) bool {
	in, ok := env.(RouteInput)
	if !ok {
		return false
	}
	for _, r := range reads {
		h, ok := in.ProviderHealth[r.provider]
		if !ok || !h.known(r.figure) {
			return false
		}
	}
	return true
}

// ruleHealthReads returns the provider figures a rule's tree reads. A rule
// must name the provider: provider_health["acquirer-a"].error_rate. Any
// other use of provider_health (a computed key, the map whole) is refused,
// so that no figure it reads is missed.
func ruleHealthReads(tree exprast.Node) ([]healthRead, error) {
	c := &healthCollector{}
	exprast.Walk(&tree, c)
	if c.idents != c.named {
		return nil, fmt.Errorf(`reads provider_health other than by a provider's name: write provider_health["<provider>"].<figure>`)
	}
	slices.SortFunc(c.reads, func(a, b healthRead) int {
		return strings.Compare(a.provider+"\x00"+a.figure, b.provider+"\x00"+b.figure)
	})
	return slices.Compact(c.reads), nil
}

type healthCollector struct {
	idents, named int // provider_health identifiers; of which indexed by a name
	reads         []healthRead
}

func (c *healthCollector) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.IdentifierNode:
		if n.Value == "provider_health" {
			c.idents++
		}
	case *exprast.MemberNode:
		// provider_health["p"]: the entry; provider_health["p"].figure: a
		// figure. Walk visits children first: a figure read replaces the
		// entry read it contains.
		if id, ok := n.Node.(*exprast.IdentifierNode); ok && id.Value == "provider_health" {
			if name, ok := n.Property.(*exprast.StringNode); ok {
				c.named++
				c.reads = append(c.reads, healthRead{provider: name.Value})
			}
			return
		}
		inner, ok := n.Node.(*exprast.MemberNode)
		if !ok {
			return
		}
		id, ok := inner.Node.(*exprast.IdentifierNode)
		name, named := inner.Property.(*exprast.StringNode)
		figure, isFigure := n.Property.(*exprast.StringNode)
		if !ok || id.Value != "provider_health" || !named || !isFigure {
			return
		}
		if i := slices.Index(c.reads, healthRead{provider: name.Value}); i >= 0 {
			c.reads = slices.Delete(c.reads, i, i+1)
		}
		c.reads = append(c.reads, healthRead{provider: name.Value, figure: figure.Value})
	}
}

// readHealthPolicy parses data.paywire.provider_health, when the bundle has
// it; else the default policy.
func readHealthPolicy(data map[string]any) (HealthPolicy, error) {
	pw, _ := data["paywire"].(map[string]any)
	raw, ok := pw["provider_health"]
	p := DefaultHealthPolicy
	if !ok {
		return p, nil
	}
	bad := func(format string, args ...any) error {
		return refuse(healthFile, 0, "data.paywire.provider_health"+format, args...)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return p, bad(" must be an object {window, max_calls, min_calls, demote_error_rate, restore_error_rate, demotion}")
	}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		v := doc[k]
		f, isNum := number(v)
		switch k {
		case "window":
			s, _ := v.(string)
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Minute || d > 24*time.Hour {
				return p, bad(".window must be a duration from 1m to 24h, such as 15m")
			}
			p.Window = d
		case "max_calls", "min_calls":
			if !isNum || f != float64(int(f)) || f < 1 || f > 100_000 {
				return p, bad(".%s must be a whole number from 1 to 100000", k)
			}
			if k == "max_calls" {
				p.MaxCalls = int(f)
			} else {
				p.MinCalls = int(f)
			}
		case "demote_error_rate", "restore_error_rate":
			if !isNum || f < 0 || f > 1 {
				return p, bad(".%s must be a rate from 0 to 1", k)
			}
			if k == "demote_error_rate" {
				p.DemoteErrorRate = f
			} else {
				p.RestoreErrorRate = f
			}
		case "demotion":
			b, ok := v.(bool)
			if !ok {
				return p, bad(".demotion must be true or false")
			}
			p.Demotion = b
		default:
			return p, bad(": unknown key %q (want window, max_calls, min_calls, demote_error_rate, restore_error_rate, demotion)", k)
		}
	}
	switch {
	case p.MinCalls > p.MaxCalls:
		return p, bad(": min_calls (%d) is more than max_calls (%d)", p.MinCalls, p.MaxCalls)
	case p.DemoteErrorRate <= 0:
		return p, bad(".demote_error_rate must be more than 0")
	case p.RestoreErrorRate >= p.DemoteErrorRate:
		return p, bad(": restore_error_rate (%g) must be below demote_error_rate (%g), or a provider near the threshold would flap", p.RestoreErrorRate, p.DemoteErrorRate)
	}
	return p, nil
}
