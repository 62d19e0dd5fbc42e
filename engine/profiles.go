package engine

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Risk profiles are per-merchant settings of the risk point, kept as bundle
// data (data.paywire.risk_profiles, reviewed and signed with the bundle):
//
//	default: standard            # the profile of a merchant not listed
//	profiles:
//	  standard: {challenge: 30, review: 60, block: 80}
//	  high_ticket: {challenge: 40, review: 70, block: 85, off: [amount]}
//	merchants:
//	  m_7f3a: high_ticket
//
// A profile's `off` lists rule groups (the `group` of the risk rules) that
// do not run for the merchant; its other settings reach the risk policies
// as input.profile, with its name. The profile is resolved once per
// decision by a map lookup, outside Rego: the policies read input.profile,
// and an input made of the hits and the profile alone is kept per profile
// like one made of the hits alone, so a profile costs a decision no more
// than a threshold comparison.

const profilesFile = "paywire/risk_profiles/data.yaml"

// riskProfile is one compiled profile.
type riskProfile struct {
	name string
	off  hitSet    // the rules its `off` groups switch off
	term *ast.Term // input.profile
	// inputs keeps {"hits": ..., "profile": ...} by the mask of the rules
	// that fired, as hitArrays keeps the hits.
	inputs sync.Map // uint64 -> ast.Value
	n      atomic.Int32
}

// offs reports whether rule i is switched off.
func (p *riskProfile) offs(i int) bool {
	if i < 64 {
		return p.off.mask&(1<<i) != 0
	}
	return slices.Contains(p.off.more, i)
}

// keptInput returns the input {hits, profile} for the rules that fired.
func (p *riskProfile) keptInput(fired *hitSet, hits *ast.Array) ast.Value {
	cacheable := fired.more == nil
	if cacheable {
		if v, ok := p.inputs.Load(fired.mask); ok {
			return v.(ast.Value)
		}
	}
	v := ast.NewObject([2]*ast.Term{hitsKey, ast.NewTerm(hits)}, [2]*ast.Term{profileKey, p.term})
	if cacheable && p.n.Load() < maxHitArrays {
		if _, loaded := p.inputs.LoadOrStore(fired.mask, v); !loaded {
			p.n.Add(1)
		}
	}
	return v
}

var profileKey = ast.StringTerm("profile")

// riskProfiles are a bundle's profiles: each merchant's, and the default.
type riskProfiles struct {
	fallback  *riskProfile
	merchants map[string]*riskProfile
	byName    map[string]*riskProfile
}

// of returns a merchant's profile; nil when the bundle has none.
func (ps *riskProfiles) of(merchant string) *riskProfile {
	if ps == nil {
		return nil
	}
	if p, ok := ps.merchants[merchant]; ok {
		return p
	}
	return ps.fallback
}

// readRiskProfiles compiles data.paywire.risk_profiles against the risk
// rules; nil when the bundle has none. A bundle is refused when the default
// or a merchant names no profile, a profile switches off a group no rule
// has, or a setting is not a number, string or boolean.
func readRiskProfiles(data map[string]any, rules []compiledRule) (*riskProfiles, error) {
	pw, _ := data["paywire"].(map[string]any)
	raw, ok := pw["risk_profiles"]
	if !ok {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return refuse(profilesFile, 0, "data.paywire.risk_profiles"+format, args...)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, bad(" must be an object with default, profiles and merchants")
	}
	for k := range doc {
		if k != "default" && k != "profiles" && k != "merchants" {
			return nil, bad(": unknown key %q (want default, profiles, merchants)", k)
		}
	}
	specs, ok := doc["profiles"].(map[string]any)
	if !ok || len(specs) == 0 {
		return nil, bad(".profiles must be an object of at least one profile")
	}
	groups := map[string][]int{}
	for i, r := range rules {
		if r.group != "" {
			groups[r.group] = append(groups[r.group], i)
		}
	}
	ps := &riskProfiles{merchants: map[string]*riskProfile{}, byName: map[string]*riskProfile{}}
	for name, v := range specs {
		if !ruleID.MatchString(name) {
			return nil, bad(".profiles: name %q must be lower_snake_case", name)
		}
		settings, ok := v.(map[string]any)
		if !ok {
			return nil, bad(".profiles.%s must be an object of settings", name)
		}
		p := &riskProfile{name: name}
		obj := ast.NewObject(ast.Item(ast.StringTerm("name"), ast.StringTerm(name)))
		off := []*ast.Term{}
		for _, k := range slices.Sorted(maps.Keys(settings)) {
			switch s := settings[k].(type) {
			case []any:
				if k != "off" {
					return nil, bad(".profiles.%s.%s: a setting is a number, a string or a boolean", name, k)
				}
				for _, g := range s {
					group, _ := g.(string)
					idx, ok := groups[group]
					if !ok {
						return nil, bad(".profiles.%s.off: no risk rule has group %q", name, g)
					}
					for _, i := range idx {
						p.off.add(i)
					}
					off = append(off, ast.StringTerm(group))
				}
			default:
				val, err := ast.InterfaceToValue(s)
				switch val.(type) {
				case ast.Number, ast.String, ast.Boolean:
				default:
					return nil, bad(".profiles.%s.%s: a setting is a number, a string or a boolean", name, k)
				}
				switch {
				case k == "off":
					return nil, bad(".profiles.%s.off must be a list of rule groups", name)
				case err != nil || k == "name":
					return nil, bad(".profiles.%s.%s: %s is not a setting", name, k, k)
				}
				obj.Insert(ast.StringTerm(k), ast.NewTerm(val))
			}
		}
		obj.Insert(ast.StringTerm("off"), ast.ArrayTerm(off...))
		p.term = ast.NewTerm(obj)
		ps.byName[name] = p
	}
	def, _ := doc["default"].(string)
	if ps.fallback = ps.byName[def]; ps.fallback == nil {
		return nil, bad(".default must name a profile (%q does not)", def)
	}
	if m, ok := doc["merchants"]; ok && m != nil {
		merchants, ok := m.(map[string]any)
		if !ok {
			return nil, bad(".merchants must be an object of merchant id: profile name")
		}
		for id, v := range merchants {
			name, _ := v.(string)
			p := ps.byName[name]
			if p == nil {
				return nil, bad(".merchants.%s: %v is not a profile", id, v)
			}
			ps.merchants[id] = p
		}
	}
	return ps, nil
}

// RiskProfile returns the name of the risk profile the bundle gives a
// merchant; "" when the bundle has no profiles.
func (b *Bundle) RiskProfile(merchant string) string {
	if p := b.profiles.of(merchant); p != nil {
		return p.name
	}
	return ""
}

// ruleGroup returns the group of a point's rule; "" when it has none or
// there is no such rule.
func (b *Bundle) ruleGroup(point, id string) string {
	for _, r := range b.points[point].rules {
		if r.id == id {
			return r.group
		}
	}
	return ""
}
