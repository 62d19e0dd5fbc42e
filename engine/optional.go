package engine

import (
	"fmt"
	"slices"
	"strings"

	exprast "github.com/expr-lang/expr/ast"
)

// Unknown is not zero. Some attributes may be unknown for a payment: every
// feature (nil in Features) and the request attributes listed below (the
// empty string). An expr rule that reads an attribute unknown for the
// payment being decided does not fire, whatever its condition says: it is
// not evaluated. Which attributes a rule reads is found when the bundle is
// compiled, from the rule's syntax tree; a rule must read request and
// features attributes by name (no computed keys), so that nothing it reads
// is missed. Rego policies see unknown attributes absent from the input.

// optionalAttr is an attribute a payment may lack: its path as rules write
// it, and how to tell it is unknown in an input of type T.
type optionalAttr[T any] struct {
	path    string
	unknown func(*T) bool
}

// optionals are a point's optional attributes; a point has at most 64.
type optionals[T any] []optionalAttr[T]

// mask returns the attributes among reads (a bit per attribute) unknown in
// in.
func (o optionals[T]) mask(in *T, reads uint64) uint64 {
	var m uint64
	for i := range o {
		if reads&(1<<i) != 0 && o[i].unknown(in) {
			m |= 1 << i
		}
	}
	return m
}

func (o optionals[T]) paths() []string {
	p := make([]string, len(o))
	for i := range o {
		p[i] = o[i].path
	}
	return p
}

// withFeatures lists every feature of the input's Features as optional,
// after the request attributes given.
func withFeatures[T any](features func(*T) *Features, request ...optionalAttr[T]) optionals[T] {
	o := optionals[T](request)
	for _, a := range featureAttrs {
		get := a.get
		o = append(o, optionalAttr[T]{path: "features." + a.name, unknown: func(in *T) bool { return get(features(in)) == nil }})
	}
	if len(o) > 64 {
		panic(fmt.Sprintf("engine: %d optional attributes; at most 64", len(o)))
	}
	return o
}

var (
	availabilityOptional = withFeatures(func(in *AvailabilityInput) *Features { return &in.Features })
	riskOptional         = withFeatures(func(in *RiskInput) *Features { return &in.Features },
		optionalAttr[RiskInput]{"request.card.country", func(in *RiskInput) bool { return in.Request.Card.Country == "" }},
		optionalAttr[RiskInput]{"request.card.type", func(in *RiskInput) bool { return in.Request.Card.Type == "" }},
		optionalAttr[RiskInput]{"request.customer.email", func(in *RiskInput) bool { return in.Request.Customer.Email == "" }},
		optionalAttr[RiskInput]{"request.customer.email_domain", func(in *RiskInput) bool { return in.Request.Customer.EmailDomain == "" }},
		optionalAttr[RiskInput]{"request.customer.ip", func(in *RiskInput) bool { return in.Request.Customer.IP == "" }},
		optionalAttr[RiskInput]{"request.customer.ip_country", func(in *RiskInput) bool { return in.Request.Customer.IPCountry == "" }},
		optionalAttr[RiskInput]{"request.customer.device_id", func(in *RiskInput) bool { return in.Request.Customer.DeviceID == "" }},
		optionalAttr[RiskInput]{"request.customer.registered_days", func(in *RiskInput) bool { return in.Request.Customer.RegisteredDays == nil }},
		optionalAttr[RiskInput]{"request.billing_country", func(in *RiskInput) bool { return in.Request.BillingCountry == "" }},
	)
	routeOptional = withFeatures(func(in *RouteInput) *Features { return &in.Features },
		optionalAttr[RouteInput]{"request.card.country", func(in *RouteInput) bool { return in.Request.Card.Country == "" }},
		optionalAttr[RouteInput]{"request.card.type", func(in *RouteInput) bool { return in.Request.Card.Type == "" }},
	)
	workflowOptional = withFeatures(func(in *WorkflowInput) *Features { return &in.Features })

	// optionalPaths are the optional attributes of each point, by bit.
	optionalPaths = map[string][]string{
		PointAvailability: availabilityOptional.paths(),
		PointRisk:         riskOptional.paths(),
		PointRouting:      routeOptional.paths(),
		PointWorkflow:     workflowOptional.paths(),
	}
)

// ruleReads returns the optional attributes (bits of paths) a rule's tree
// reads, or an error when it reads request or features attributes by a
// computed key or through $env.
func ruleReads(tree exprast.Node, paths []string) (uint64, error) {
	c := &pathCollector{}
	exprast.Walk(&tree, c)
	if c.err != nil {
		return 0, c.err
	}
	var reads uint64
	for _, got := range c.paths {
		for i, p := range paths {
			// A rule reading an object whole (request.card) reads every
			// optional attribute in it.
			if got == p || strings.HasPrefix(p, got+".") {
				reads |= 1 << i
			}
		}
	}
	return reads, nil
}

// pathCollector collects the longest member paths rooted at request or
// features: request.card.country, not also request.card.
type pathCollector struct {
	paths []string
	err   error
}

func (c *pathCollector) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.IdentifierNode:
		if n.Value == "$env" && c.err == nil {
			c.err = fmt.Errorf("reads $env: name the attributes instead")
		}
	case *exprast.MemberNode:
		path, ok := memberPath(n)
		if !ok {
			if root := rootIdent(n); (root == "request" || root == "features") && c.err == nil {
				c.err = fmt.Errorf("reads %s by a computed key: name the attribute", root)
			}
			return
		}
		if !strings.HasPrefix(path, "request.") && !strings.HasPrefix(path, "features.") {
			return
		}
		// Walk visits children first: a longer path replaces its prefix.
		c.paths = slices.DeleteFunc(c.paths, func(p string) bool { return strings.HasPrefix(path, p+".") })
		c.paths = append(c.paths, path)
	}
}

// memberPath spells a chain of constant member accesses on an identifier.
func memberPath(n *exprast.MemberNode) (string, bool) {
	prop, ok := n.Property.(*exprast.StringNode)
	if !ok {
		return "", false
	}
	switch base := n.Node.(type) {
	case *exprast.IdentifierNode:
		return base.Value + "." + prop.Value, true
	case *exprast.MemberNode:
		p, ok := memberPath(base)
		return p + "." + prop.Value, ok
	}
	return "", false
}

func rootIdent(n exprast.Node) string {
	for {
		switch x := n.(type) {
		case *exprast.MemberNode:
			n = x.Node
		case *exprast.IdentifierNode:
			return x.Value
		default:
			return ""
		}
	}
}
