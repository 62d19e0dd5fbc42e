package engine

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// hitSet is the set of a point's rules that fired, by index. Points with up
// to 64 rules (all of the default bundle's) use the mask alone.
type hitSet struct {
	mask uint64
	more []int // indexes from 64 on
}

func (h *hitSet) add(i int) {
	if i < 64 {
		h.mask |= 1 << i
		return
	}
	h.more = append(h.more, i)
}

func (h *hitSet) len() int { return bits.OnesCount64(h.mask) + len(h.more) }

func (h *hitSet) each(f func(i int)) {
	for m := h.mask; m != 0; m &= m - 1 {
		f(bits.TrailingZeros64(m))
	}
	for _, i := range h.more {
		f(i)
	}
}

// maxHitArrays bounds the hit arrays a point keeps.
const maxHitArrays = 4096

// hitArrays keeps the input.hits arrays of the combinations of rules that
// fired. A point's rules fire in a few combinations, and an array (which
// hashes its elements when it is made) is cheaper to look up than to make.
// AST values are immutable once made, so decisions share them.
//
// When a point's policies read nothing of the input but input.hits, the
// whole input is a function of the rules that fired, and is kept as well.
type hitArrays struct {
	m sync.Map // uint64 mask -> *hitValues
	n atomic.Int32
}

type hitValues struct {
	array *ast.Array
	input ast.Value // {"hits": array}
}

var hitsKey = ast.StringTerm("hits")

// hitValues returns input.hits for the rules in h, in rule order, and the
// input that holds nothing else.
func (p *compiledPoint) hitValues(h *hitSet) *hitValues {
	cacheable := h.more == nil
	if cacheable {
		if v, ok := p.hitArrays.m.Load(h.mask); ok {
			return v.(*hitValues)
		}
	}
	terms := make([]*ast.Term, 0, h.len())
	h.each(func(i int) { terms = append(terms, p.rules[i].hit) })
	a := ast.NewArray(terms...)
	v := &hitValues{array: a, input: ast.NewObject([2]*ast.Term{hitsKey, ast.NewTerm(a)})}
	if cacheable && p.hitArrays.n.Load() < maxHitArrays {
		if _, loaded := p.hitArrays.m.LoadOrStore(h.mask, v); !loaded {
			p.hitArrays.n.Add(1)
		}
	}
	return v
}

// hitsArray returns input.hits for the rules in h.
func (p *compiledPoint) hitsArray(h *hitSet) *ast.Array { return p.hitValues(h).array }
