package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/paywire/paywire"
)

// Engine answers the four decision questions from the active bundle. It is
// safe for concurrent use: a decision reads the active bundle once and
// keeps it to the end, so activating another bundle never disturbs a
// decision in flight.
type Engine struct {
	active atomic.Pointer[Bundle]
	cache  *lru.Cache[string, *Bundle]
	mu     sync.Mutex              // serialises compilation and activation
	lists  atomic.Pointer[ListSet] // the live lists (SetLists)
	// stopped are the experiment arms their guardrail stopped
	// (SetStoppedArms), by armKey.
	stopped atomic.Pointer[map[string]bool]

	// Recorder stores a record of every decision; nil records nothing.
	Recorder Recorder

	// Verification, when set, is the key every bundle loaded must be
	// signed with (see CompileVerified). Set it before the first Load.
	Verification *Verification

	// Shadow, when set, decides every live decision again with its
	// candidate, off the request's path (see Shadow). Set it before the
	// first decision.
	Shadow *Shadow
}

// New returns an engine with no active bundle. It keeps up to cacheSize
// compiled bundles, by content hash, so that re-activating a recent
// revision (a rollback) does not compile it again.
func New(cacheSize int) *Engine {
	c, err := lru.New[string, *Bundle](max(cacheSize, 1))
	if err != nil {
		panic(err) // only for a size < 1, excluded above
	}
	return &Engine{cache: c}
}

// Load compiles files (or takes the compiled bundle with the same content
// hash from the cache) without activating it.
func (e *Engine) Load(ctx context.Context, files Files) (*Bundle, error) {
	// A bundle verified under a key is cached apart from one compiled
	// without verification (the signature file is part of the hash).
	key := files.Hash()
	if e.Verification != nil {
		key = "verified:" + e.Verification.KeyID + ":" + key
	}
	if b, ok := e.cache.Get(key); ok {
		return b, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.cache.Get(key); ok {
		return b, nil
	}
	b, err := compile(ctx, files, e.Verification, &e.lists)
	if err != nil {
		return nil, err
	}
	e.cache.Add(key, b)
	return b, nil
}

// Activate loads files and makes them the active bundle. When the bundle is
// refused, the active bundle stays active and the error says why.
func (e *Engine) Activate(ctx context.Context, files Files) (*Bundle, error) {
	b, err := e.Load(ctx, files)
	if err != nil {
		return nil, err
	}
	e.active.Store(b)
	return b, nil
}

// FeatureKeys returns the keys whose features the active bundle's rules
// or policies of point read, so that a caller computes only those (none:
// no features). All before the first activation: a caller cannot know.
func (e *Engine) FeatureKeys(point string) FeatureKeys {
	b := e.active.Load()
	if b == nil || b.points[point] == nil {
		return AllFeatureKeys
	}
	keys := b.points[point].featureKeys
	// A candidate in shadow must see what it reads too: an input without
	// it would make it disagree for nothing.
	if t := e.shadowing(); t != nil {
		if sp := t.bundle.points[point]; sp == nil {
			keys = AllFeatureKeys
		} else {
			keys |= sp.featureKeys
		}
	}
	return keys
}

// Active returns the active bundle, or nil before the first activation.
func (e *Engine) Active() *Bundle { return e.active.Load() }

// Basis is what a decision is made under: the bundle and the version of
// the live lists. Two decisions of one input under one Basis answer alike,
// but for what moved with time (the request's time, the features).
type Basis struct {
	BundleHash   string
	ListsVersion int64
}

// Basis returns what a decision starting now is made under; the zero
// Basis before the first activation.
func (e *Engine) Basis() Basis {
	b := e.active.Load()
	if b == nil {
		return Basis{}
	}
	return Basis{BundleHash: b.Hash, ListsVersion: e.lists.Load().Version()}
}

// Availability decides which methods an end user sees. A missing or invalid
// policy answer gives no methods.
func (e *Engine) Availability(ctx context.Context, in AvailabilityInput) (AvailabilityDecision, error) {
	d := availability(ctx, e.active.Load(), in)
	if e.Recorder != nil {
		rd := d
		rd.Meta = d.Meta.recorded()
		if err := e.record(ctx, PointAvailability, in.Request.MerchantID, in.PaymentID, in, rd, d.Meta); err != nil {
			return d, err
		}
	}
	if t := e.shadowing(); t != nil {
		e.Shadow.offer(t, PointAvailability, in.Request.MerchantID, in.PaymentID, in, d, d.Meta)
	}
	return d, nil
}

func availability(ctx context.Context, b *Bundle, in AvailabilityInput) AvailabilityDecision {
	var d AvailabilityDecision
	env := any(in)
	res, run := decide(ctx, b, PointAvailability, env, "", func(reads uint64) uint64 { return availabilityOptional.mask(&in, reads) }, func(plan *inputPlan, hits *ast.Array, prof *riskProfile) ast.Value {
		return regoInput(plan, availabilityAttrs, &in.Request, &in.Features, hits, prof)
	})
	if run.err == nil {
		d.Methods, run.err = parseAvailability(res, in.Request.Amount)
	}
	if run.err != nil {
		d.Methods = []MethodOption{}
	}
	d.Meta = run.meta()
	return d
}

// Risk scores a payment. A missing or invalid policy answer gives action
// review with score 100 and reason policy_error.
func (e *Engine) Risk(ctx context.Context, in RiskInput) (RiskDecision, error) {
	d := risk(ctx, e.active.Load(), in)
	if e.Recorder != nil {
		rd := d
		rd.Meta = d.Meta.recorded()
		if err := e.record(ctx, PointRisk, in.Request.MerchantID, in.Request.PaymentID, in, rd, d.Meta); err != nil {
			return d, err
		}
	}
	if t := e.shadowing(); t != nil {
		e.Shadow.offer(t, PointRisk, in.Request.MerchantID, in.Request.PaymentID, in, d, d.Meta)
	}
	return d, nil
}

func risk(ctx context.Context, b *Bundle, in RiskInput) RiskDecision {
	var d RiskDecision
	env := any(in)
	res, run := decide(ctx, b, PointRisk, env, in.Profile, func(reads uint64) uint64 { return riskOptional.mask(&in, reads) }, func(plan *inputPlan, hits *ast.Array, prof *riskProfile) ast.Value {
		return regoInput(plan, riskAttrs, &in.Request, &in.Features, hits, prof)
	})
	if run.err == nil {
		d.Score, d.Action, d.Reasons, run.err = parseRisk(res)
	}
	if run.err != nil {
		d.Score, d.Action, d.Reasons = 100, RiskReview, []string{"policy_error"}
	}
	d.Profile = in.Profile
	if run.profile != nil {
		d.Profile = run.profile.name
	}
	d.Meta = run.meta()
	return d
}

// Route orders the providers for a payment. A missing or invalid policy
// answer gives no provider: the caller fails the payment with no_route.
func (e *Engine) Route(ctx context.Context, in RouteInput) (RouteDecision, error) {
	b := e.active.Load()
	d := route(ctx, b, in)
	if stopped := e.stopped.Load(); stopped != nil && d.Arm != "" {
		if x := b.experiment(d.Experiment); x != nil && (*stopped)[armKey(x.Name, x.Salt, d.Arm)] {
			// The guardrail stopped the arm: its payments go by control.
			c := x.ControlArm()
			d.StoppedArm, d.Arm, d.Providers = d.Arm, c.Name, slices.Clone(c.Providers)
			demoteRoute(&d, in.ProviderHealth)
		}
	}
	if e.Recorder != nil {
		rd := d
		rd.Meta = d.Meta.recorded()
		if err := e.record(ctx, PointRouting, in.Request.MerchantID, in.PaymentID, in, rd, d.Meta); err != nil {
			return d, err
		}
	}
	if t := e.shadowing(); t != nil {
		e.Shadow.offer(t, PointRouting, in.Request.MerchantID, in.PaymentID, in, d, d.Meta)
	}
	return d, nil
}

func route(ctx context.Context, b *Bundle, in RouteInput) RouteDecision {
	var d RouteDecision
	env := any(in)
	res, run := decide(ctx, b, PointRouting, env, "", func(reads uint64) uint64 { return routeOptional.mask(&in, reads) }, func(plan *inputPlan, hits *ast.Array, prof *riskProfile) ast.Value {
		top := regoParts(plan, routeAttrs, &in.Request, &in.Features, hits, prof)
		if plan.part("provider_health") != nil {
			top["provider_health"] = healthObject(in.ProviderHealth)
		}
		return ast.LazyObject(top)
	})
	if run.err == nil {
		d.Providers, d.Experiment, d.Arm, run.err = parseRoute(res)
	}
	if run.err == nil && d.Providers == nil && d.Experiment != "" {
		d.Providers, d.Experiment, d.Arm, run.err = b.routeExperiment(&in.Request, d.Experiment)
	}
	if run.err != nil {
		d.Providers, d.Experiment, d.Arm = []string{}, "", ""
	}
	demoteRoute(&d, in.ProviderHealth)
	d.Meta = run.meta()
	return d
}

// Workflow decides what follows an event. A missing or invalid policy
// answer, or one the domain's transition table forbids, gives no
// transition.
func (e *Engine) Workflow(ctx context.Context, in WorkflowInput) (WorkflowDecision, error) {
	d := workflow(ctx, e.active.Load(), in)
	if e.Recorder != nil {
		rd := d
		rd.Meta = d.Meta.recorded()
		if err := e.record(ctx, PointWorkflow, in.MerchantID, in.PaymentID, in, rd, d.Meta); err != nil {
			return d, err
		}
	}
	if t := e.shadowing(); t != nil {
		e.Shadow.offer(t, PointWorkflow, in.MerchantID, in.PaymentID, in, d, d.Meta)
	}
	return d, nil
}

func workflow(ctx context.Context, b *Bundle, in WorkflowInput) WorkflowDecision {
	var d WorkflowDecision
	env := any(in)
	res, run := decide(ctx, b, PointWorkflow, env, "", func(reads uint64) uint64 { return workflowOptional.mask(&in, reads) }, func(plan *inputPlan, hits *ast.Array, prof *riskProfile) ast.Value {
		return regoInput(plan, workflowAttrs, &in.Request, &in.Features, hits, prof)
	})
	if run.err == nil {
		d.NextState, d.Actions, d.Reason, run.err = parseWorkflow(res, paywire.State(in.Request.State))
	}
	if run.err != nil {
		d.NextState, d.Actions, d.Reason = "", []string{}, "policy_error"
	}
	d.Meta = run.meta()
	return d
}

// run is the bookkeeping of one decision.
type run struct {
	id      string
	bundle  *Bundle
	lists   int64        // the live lists' version
	profile *riskProfile // the merchant's risk profile, for risk decisions
	hits    []RuleHit
	start   time.Time
	err     error
}

func (r *run) meta() Meta {
	m := Meta{DecisionID: r.id, RulesFired: r.hits, Duration: time.Since(r.start), ListsVersion: r.lists}
	if r.bundle != nil {
		m.BundleRevision, m.BundleHash = r.bundle.Revision, r.bundle.Hash
	}
	if r.err != nil {
		m.FailedClosed, m.Error = true, r.err.Error()
	}
	return m
}

// decide runs b's expr rules of point on env (the input by value, boxed once:
// expr reads the fields of a struct value fastest, as compiled), skipping
// those that read an attribute unknown for the payment (unknown returns
// which of the attributes read are), then its
// Rego entry point on the input that build makes from the hits, and returns
// the raw result.
func decide(ctx context.Context, b *Bundle, point string, env any, profile string, unknown func(reads uint64) uint64, build func(*inputPlan, *ast.Array, *riskProfile) ast.Value) (*ast.Term, run) {
	r := run{id: paywire.NewID("dec_"), start: time.Now(), hits: []RuleHit{}}
	r.bundle = b
	if b == nil {
		r.err = fmt.Errorf("no policy bundle is active")
		return nil, r
	}
	p := b.points[point]
	if point == PointRisk {
		if r.profile, r.err = b.profiles.named(profile); r.err != nil {
			return nil, r // fails closed: a merchant's thresholds are never guessed
		}
	}
	var fired hitSet
	machine := vmPool.Get().(*vm.VM)
	defer vmPool.Put(machine)
	var missing uint64
	if p.reads != 0 {
		missing = unknown(p.reads)
	}
	for i := range p.rules {
		rule := &p.rules[i]
		if rule.reads&missing != 0 || (rule.health != nil && !healthKnown(env, rule.health)) {
			continue // it reads an attribute unknown for this payment
		}
		if r.profile != nil && r.profile.offs(i) {
			continue // the merchant's profile switches its group off
		}
		out, err := machine.Run(rule.program, env)
		if err != nil {
			r.err = fmt.Errorf("rule %s: %v", rule.id, oneLine(err.Error()))
			return nil, r
		}
		if out == true {
			fired.add(i)
		}
	}
	r.hits = make([]RuleHit, 0, fired.len())
	fired.each(func(i int) {
		r.hits = append(r.hits, RuleHit{ID: p.rules[i].id, Effect: p.rules[i].effect})
	})
	// Rego's paywire.in_list reads one live list set for the whole evaluation.
	live := b.lists.live.Load()
	r.lists = live.Version()
	t, err := b.eval(withLists(ctx, b.lists.bundle, live), point, p.input(&fired, r.profile, build), inputTime(env))
	if err != nil {
		r.err = err
	}
	return t, r
}

// eval evaluates a point's entry point on input at time now.
func (b *Bundle) eval(ctx context.Context, point string, input ast.Value, now time.Time) (*ast.Term, error) {
	q := topdown.NewQuery(b.points[point].query).
		WithCompiler(b.compiler).
		WithStore(b.store).
		WithTransaction(b.txn).
		WithInput(ast.NewTerm(input)).
		WithTime(now).
		WithStrictBuiltinErrors(true).
		WithMetrics(noMetrics)
	if ctx.Done() != nil {
		c := topdown.NewCancel()
		q = q.WithCancel(c)
		defer context.AfterFunc(ctx, c.Cancel)()
	}
	rs, err := q.Run(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %v", entryPoint(point), oneLine(err.Error()))
	case len(rs) == 0:
		return nil, fmt.Errorf("%s is undefined for this input", entryPoint(point))
	}
	t := rs[0][decisionVar]
	if t == nil {
		return nil, fmt.Errorf("%s gave no value", entryPoint(point))
	}
	return t, nil
}

// vmPool holds expr machines for reuse: a machine runs one program at a
// time, and a fresh one per rule would allocate its stack every time.
var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// noMetrics is OPA's metrics recorder that records nothing; the engine
// times decisions itself.
var noMetrics = metrics.NoOp()

// inputTime is the decision's time, which Rego's time.now_ns also returns:
// a decision never reads the clock.
func inputTime(env any) time.Time {
	switch in := env.(type) {
	case AvailabilityInput:
		return in.Request.Time
	case RiskInput:
		return in.Request.Time
	case RouteInput:
		return in.Request.Time
	case WorkflowInput:
		return in.Request.Time
	}
	return time.Time{}
}
