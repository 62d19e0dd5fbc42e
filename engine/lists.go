package engine

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/paywire/paywire"
)

// ListSet is the live lists: the list entries kept in the database that
// are in effect, as the nodes load them (see Engine.SetLists). It is
// immutable once built. expr's in_list(name, value) and Rego's
// paywire.in_list(name, value) answer true when the bundle's
// data.paywire.lists or the live lists hold the value.
type ListSet struct {
	types    map[string]paywire.ListType
	values   map[string]map[string]struct{}
	prefixes map[string][]netip.Prefix // the CIDR entries of ip lists
	entries  int
	version  int64
}

// NewListSet builds the live lists from entries, leaving out those expired
// at now. version is the store's lists version they were read at.
func NewListSet(entries []paywire.ListEntry, version int64, now time.Time) *ListSet {
	s := &ListSet{types: map[string]paywire.ListType{}, values: map[string]map[string]struct{}{},
		prefixes: map[string][]netip.Prefix{}, version: version}
	for _, e := range entries {
		if !e.Active(now) {
			continue
		}
		s.entries++
		s.types[e.List] = e.Type
		if e.Type == paywire.ListIP && strings.Contains(e.Value, "/") {
			if p, err := netip.ParsePrefix(e.Value); err == nil {
				s.prefixes[e.List] = append(s.prefixes[e.List], p.Masked())
				continue
			}
		}
		set := s.values[e.List]
		if set == nil {
			set = map[string]struct{}{}
			s.values[e.List] = set
		}
		set[e.Value] = struct{}{}
	}
	return s
}

// Len returns the number of entries in effect.
func (s *ListSet) Len() int {
	if s == nil {
		return 0
	}
	return s.entries
}

// Version returns the store's lists version the set was read at.
func (s *ListSet) Version() int64 {
	if s == nil {
		return 0
	}
	return s.version
}

// Has reports whether list name holds value. The value is compared as the
// list's type keeps values (e-mail addresses and domains in lower case,
// countries in upper case); an address is on an ip list when it is listed
// or in one of the list's prefixes. A nil set holds nothing.
func (s *ListSet) Has(name, value string) bool {
	if s == nil || value == "" {
		return false
	}
	typ, ok := s.types[name]
	if !ok {
		return false
	}
	switch typ {
	case paywire.ListEmail, paywire.ListEmailDomain:
		value = strings.ToLower(strings.TrimSpace(value))
	case paywire.ListCountry:
		value = strings.ToUpper(value)
	case paywire.ListIP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return false
		}
		a = a.Unmap()
		if _, ok := s.values[name][a.String()]; ok {
			return true
		}
		for _, p := range s.prefixes[name] {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	_, ok = s.values[name][value]
	return ok
}

// SetLists makes s the live lists of every decision that starts after it,
// whichever bundle is active: no bundle is rebuilt or re-activated. nil
// clears them.
func (e *Engine) SetLists(s *ListSet) { e.lists.Store(s) }

// Lists returns the live lists, nil before the first SetLists.
func (e *Engine) Lists() *ListSet { return e.lists.Load() }

// listLookup answers in_list for a bundle: its own lists
// (data.paywire.lists) first, then the live lists. live is the engine's
// (for a bundle compiled on its own, one nobody sets).
type listLookup struct {
	bundle map[string]map[string]bool
	live   *atomic.Pointer[ListSet]
}

func (l listLookup) has(name, value string) bool {
	return l.bundle[name][value] || l.live.Load().Has(name, value)
}

// regoLists is what paywire.in_list of one Rego evaluation reads: the
// bundle's lists and the live lists as the decision loaded them.
type regoLists struct {
	bundle map[string]map[string]bool
	live   *ListSet
}

type regoListsKey struct{}

// withLists returns ctx carrying the lists paywire.in_list reads.
func withLists(ctx context.Context, bundle map[string]map[string]bool, live *ListSet) context.Context {
	return context.WithValue(ctx, regoListsKey{}, &regoLists{bundle: bundle, live: live})
}

// inListBuiltin is Rego's paywire.in_list(name, value): true when the
// bundle's data.paywire.lists[name] or the live list name holds value (an
// address in a listed prefix, for ip lists). Policies read live lists only
// through it: data.paywire.lists holds the bundle's lists alone.
var inListBuiltin = &ast.Builtin{
	Name:             "paywire.in_list",
	Description:      "Reports whether the bundle's list or the live list name holds value.",
	Decl:             types.NewFunction(types.Args(types.Named("name", types.S), types.Named("value", types.S)), types.Named("result", types.B)),
	Nondeterministic: true, // the live lists change without the bundle
}

func init() {
	ast.RegisterBuiltin(inListBuiltin)
	topdown.RegisterBuiltinFunc(inListBuiltin.Name, func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
		name, ok1 := operands[0].Value.(ast.String)
		value, ok2 := operands[1].Value.(ast.String)
		if !ok1 || !ok2 {
			return iter(ast.InternedTerm(false))
		}
		l, _ := bctx.Context.Value(regoListsKey{}).(*regoLists)
		if l == nil {
			return iter(ast.InternedTerm(false))
		}
		return iter(ast.InternedTerm(l.bundle[string(name)][string(value)] || l.live.Has(string(name), string(value))))
	})
}
