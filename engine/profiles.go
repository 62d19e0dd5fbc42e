package engine

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Risk profiles are settings of the risk point that merchants choose by
// name (paywire.Merchant.RiskProfile), defined as bundle data
// (data.paywire.risk_profiles, reviewed and signed with the bundle):
//
//	default: standard            # the profile of a merchant that chose none
//	profiles:
//	  standard: {challenge: 30, review: 60, block: 80}
//	  high_ticket: {challenge: 40, review: 70, block: 85, off: [amount]}
//
// A profile's `off` lists rule groups (the `group` of the risk rules) that
// do not run for its merchants; its other settings reach the risk policies
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

// riskProfiles are a bundle's profiles by name, and the default.
type riskProfiles struct {
	fallback *riskProfile
	byName   map[string]*riskProfile
}

// named returns the profile called name ("": the default); nil when the
// bundle has no profiles, and an error when it has none of that name.
func (ps *riskProfiles) named(name string) (*riskProfile, error) {
	switch {
	case ps == nil && name == "":
		return nil, nil
	case ps == nil:
		return nil, fmt.Errorf("risk profile %q: the bundle has no risk profiles", name)
	case name == "":
		return ps.fallback, nil
	}
	if p, ok := ps.byName[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("risk profile %q is not in the bundle", name)
}

// readRiskProfiles compiles data.paywire.risk_profiles against the risk
// rules; nil when the bundle has none. A bundle is refused when the default
// names no profile, a profile switches off a group no rule has, or a
// setting is not a number, string or boolean.
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
		return nil, bad(" must be an object with default and profiles")
	}
	for k := range doc {
		if k != "default" && k != "profiles" {
			return nil, bad(": unknown key %q (want default and profiles; merchants choose their profile in their settings)", k)
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
	ps := &riskProfiles{byName: map[string]*riskProfile{}}
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
	return ps, nil
}

// RiskProfiles returns the names of the bundle's risk profiles, sorted, and
// the default's; none when the bundle has no profiles.
func (b *Bundle) RiskProfiles() (names []string, fallback string) {
	if b.profiles == nil {
		return nil, ""
	}
	return slices.Sorted(maps.Keys(b.profiles.byName)), b.profiles.fallback.name
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
