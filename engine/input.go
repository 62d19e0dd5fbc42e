package engine

import (
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The Rego input is built as lazy objects over plain Go maps: OPA converts
// a value to AST only when a policy reads it. And it holds only what the
// point's policies can read: when a bundle is compiled, every reference to
// input in the rules each entry point depends on is collected (imports are
// resolved by then), and the input of each decision is built with just
// those attributes. A
// reference the analysis cannot narrow — input as a whole, or an attribute
// chosen by a computed key — makes the whole part (or the whole input)
// present, so a policy never misses what it reads.

// inputPlan is what of the input a point's policies read.
type inputPlan struct {
	all   bool                 // input itself is read (or by a computed key)
	parts map[string]*partPlan // "request", "features", "hits", ... as read
	kept  bool                 // nothing but input.hits and input.profile is read
}

// partPlan is what of one part (input.request, input.features) is read.
type partPlan struct {
	all  bool     // the part itself is read, or by a computed key
	keys []string // otherwise: the attributes read, sorted
}

var wholePart = &partPlan{all: true}

// part returns what is read of a part of the input, nil when nothing is.
func (p *inputPlan) part(name string) *partPlan {
	if p.all {
		return wholePart
	}
	return p.parts[name]
}

// planInput collects the references to input in the rules a point's entry
// point depends on, directly or through other rules and functions (OPA's
// dependency graph, which counts a reference with a computed key as
// depending on every rule it may reach). The targets of `with` are skipped:
// `with input as ...` replaces the input rather than reading it; the
// replacing value is still searched.
func planInput(c *ast.Compiler, entry ast.Ref) *inputPlan {
	plan := &inputPlan{parts: map[string]*partPlan{}}
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.With:
			vis.Walk(x.Value)
			return true
		case ast.Ref:
			plan.add(x)
		}
		return false
	})
	seen := map[*ast.Rule]bool{}
	todo := c.GetRulesExact(entry)
	for len(todo) > 0 {
		r := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[r] {
			continue
		}
		seen[r] = true
		vis.Walk(r)
		for dep := range c.Graph.Dependencies(r) {
			if d, ok := dep.(*ast.Rule); ok {
				todo = append(todo, d)
			}
		}
		// The graph keys an else branch's dependencies by the branch.
		if r.Else != nil {
			todo = append(todo, r.Else)
		}
	}
	plan.kept = !plan.all
	for name, p := range plan.parts {
		slices.Sort(p.keys)
		p.keys = slices.Compact(p.keys)
		plan.kept = plan.kept && (name == "hits" || name == "profile")
	}
	return plan
}

func (p *inputPlan) add(r ast.Ref) {
	if !r[0].Equal(ast.InputRootDocument) {
		return
	}
	if len(r) == 1 {
		p.all = true
		return
	}
	name, ok := r[1].Value.(ast.String)
	if !ok {
		p.all = true
		return
	}
	part := p.parts[string(name)]
	if part == nil {
		part = &partPlan{}
		p.parts[string(name)] = part
	}
	if len(r) == 2 {
		part.all = true
		return
	}
	key, ok := r[2].Value.(ast.String)
	if !ok {
		part.all = true
		return
	}
	part.keys = append(part.keys, string(key))
}

// attrs are the attributes of one input part: each key with the function
// that gives its value.
type attrs[T any] map[string]func(*T) any

// object builds the attributes of v that sel reads; an attribute whose
// value is nil (unknown) is absent.
func (a attrs[T]) object(v *T, sel *partPlan) map[string]any {
	if sel.all {
		o := make(map[string]any, len(a))
		for k, get := range a {
			if x := get(v); x != nil {
				o[k] = x
			}
		}
		return o
	}
	o := make(map[string]any, len(sel.keys))
	for _, k := range sel.keys {
		if get, ok := a[k]; ok {
			if x := get(v); x != nil {
				o[k] = x
			}
		}
	}
	return o
}

// putKnown adds to o each key of kv (key, value, key, value ...) whose
// value is known (not empty), and returns o.
func putKnown(o map[string]any, kv ...string) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			o[kv[i]] = kv[i+1]
		}
	}
	return o
}

// optionalText is s, or nil (absent) when s is empty (unknown).
func optionalText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// input returns a decision's Rego input: a kept one when the policies
// read only the hits and the profile, else the one build makes.
func (p *compiledPoint) input(fired *hitSet, prof *riskProfile, build func(*inputPlan, *ast.Array, *riskProfile) ast.Value) ast.Value {
	hv := p.hitValues(fired)
	switch {
	case p.plan.kept && prof != nil && p.plan.part("profile") != nil:
		return prof.keptInput(fired, hv.array)
	case p.plan.kept:
		return hv.input
	}
	return build(p.plan, hv.array, prof)
}

// regoInput is {request, features, hits, profile}, each present only when
// the bundle reads it (and the merchant has a profile); the hits and the
// profile are AST terms made when the bundle was compiled.
func regoInput[R any](plan *inputPlan, request attrs[R], r *R, f *Features, hits *ast.Array, prof *riskProfile) ast.Value {
	return ast.LazyObject(regoParts(plan, request, r, f, hits, prof))
}

// regoParts are the parts of regoInput, for a point that adds its own.
func regoParts[R any](plan *inputPlan, request attrs[R], r *R, f *Features, hits *ast.Array, prof *riskProfile) map[string]any {
	top := make(map[string]any, 5)
	if sel := plan.part("request"); sel != nil {
		top["request"] = request.object(r, sel)
	}
	if sel := plan.part("features"); sel != nil {
		top["features"] = featureObject(f, sel)
	}
	if plan.part("hits") != nil {
		top["hits"] = hits
	}
	if prof != nil && plan.part("profile") != nil {
		top["profile"] = prof.term.Value
	}
	return top
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (m Money) fields() map[string]any {
	return map[string]any{"minor": m.Minor, "currency": m.Currency, "exponent": int64(m.Exponent)}
}

func strs(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

var availabilityAttrs = attrs[AvailabilityRequest]{
	"merchant_id":        func(r *AvailabilityRequest) any { return r.MerchantID },
	"kind":               func(r *AvailabilityRequest) any { return r.Kind },
	"amount":             func(r *AvailabilityRequest) any { return r.Amount.fields() },
	"country":            func(r *AvailabilityRequest) any { return r.Country },
	"language":           func(r *AvailabilityRequest) any { return r.Language },
	"customer_id":        func(r *AvailabilityRequest) any { return r.CustomerID },
	"deposit_methods":    func(r *AvailabilityRequest) any { return strs(r.DepositMethods) },
	"preselected_method": func(r *AvailabilityRequest) any { return r.PreselectedMethod },
	"time":               func(r *AvailabilityRequest) any { return timeText(r.Time) },
}

var riskAttrs = attrs[RiskRequest]{
	"payment_id":  func(r *RiskRequest) any { return r.PaymentID },
	"merchant_id": func(r *RiskRequest) any { return r.MerchantID },
	"kind":        func(r *RiskRequest) any { return r.Kind },
	"amount":      func(r *RiskRequest) any { return r.Amount.fields() },
	"method":      func(r *RiskRequest) any { return r.Method },
	"card": func(r *RiskRequest) any {
		c := &r.Card
		return putKnown(map[string]any{
			"brand":        c.Brand,
			"bin":          c.BIN,
			"last4":        c.Last4,
			"expiry_month": int64(c.ExpiryMonth),
			"expiry_year":  int64(c.ExpiryYear),
			"fingerprint":  c.Fingerprint,
		}, "country", c.Country, "type", c.Type)
	},
	"customer": func(r *RiskRequest) any {
		u := &r.Customer
		o := putKnown(map[string]any{
			"id":       u.ID,
			"country":  u.Country,
			"language": u.Language,
		}, "email", u.Email, "email_domain", u.EmailDomain, "ip", u.IP, "ip_country", u.IPCountry, "device_id", u.DeviceID)
		if u.RegisteredDays != nil {
			o["registered_days"] = *u.RegisteredDays
		}
		return o
	},
	"billing_country": func(r *RiskRequest) any { return optionalText(r.BillingCountry) },
	"time":            func(r *RiskRequest) any { return timeText(r.Time) },
}

var routeAttrs = attrs[RouteRequest]{
	"merchant_id": func(r *RouteRequest) any { return r.MerchantID },
	"payment_id":  func(r *RouteRequest) any { return r.PaymentID },
	"kind":        func(r *RouteRequest) any { return r.Kind },
	"amount":      func(r *RouteRequest) any { return r.Amount.fields() },
	"method":      func(r *RouteRequest) any { return r.Method },
	"card": func(r *RouteRequest) any {
		return putKnown(map[string]any{"brand": r.Card.Brand, "bin": r.Card.BIN}, "country", r.Card.Country, "type", r.Card.Type)
	},
	"customer": func(r *RouteRequest) any {
		return map[string]any{"id": r.Customer.ID, "country": r.Customer.Country}
	},
	"risk_score":  func(r *RouteRequest) any { return int64(r.RiskScore) },
	"risk_action": func(r *RouteRequest) any { return r.RiskAction },
	"time":        func(r *RouteRequest) any { return timeText(r.Time) },
}

var workflowAttrs = attrs[WorkflowRequest]{
	"state": func(r *WorkflowRequest) any { return r.State },
	"event": func(r *WorkflowRequest) any {
		return map[string]any{"type": r.Event.Type, "amount": r.Event.Amount, "source": r.Event.Source}
	},
	"kind":     func(r *WorkflowRequest) any { return r.Kind },
	"amount":   func(r *WorkflowRequest) any { return r.Amount.fields() },
	"captured": func(r *WorkflowRequest) any { return r.Captured },
	"refunded": func(r *WorkflowRequest) any { return r.Refunded },
	"method":   func(r *WorkflowRequest) any { return r.Method },
	"provider": func(r *WorkflowRequest) any { return r.Provider },
	"backend":  func(r *WorkflowRequest) any { return r.Backend },
	"risk": func(r *WorkflowRequest) any {
		return map[string]any{"score": int64(r.Risk.Score), "action": r.Risk.Action}
	},
	"merchant": func(r *WorkflowRequest) any {
		return map[string]any{
			"auto_capture":           r.Merchant.AutoCapture,
			"auto_capture_max_score": int64(r.Merchant.AutoCaptureMaxScore),
		}
	},
	"authorized_age_seconds": func(r *WorkflowRequest) any { return r.AuthorizedAgeSeconds },
	"time":                   func(r *WorkflowRequest) any { return timeText(r.Time) },
}

// featureObject builds the features sel reads; unknown ones are absent.
func featureObject(f *Features, sel *partPlan) map[string]any {
	o := make(map[string]any, len(featureAttrs))
	for i := range featureAttrs {
		a := &featureAttrs[i]
		if !sel.all && !slices.Contains(sel.keys, a.name) {
			continue
		}
		if v := a.get(f); v != nil {
			o[a.name] = v
		}
	}
	return o
}
