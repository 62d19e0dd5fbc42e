package engine

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// Benchmarks run on the default bundle with inputs that make several rules
// fire, so that they measure realistic work. Figures: docs/performance.md.

func benchEngine(b *testing.B) *Engine {
	b.Helper()
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		b.Fatal(err)
	}
	e := New(2)
	if _, err := e.Activate(context.Background(), files); err != nil {
		b.Fatal(err)
	}
	return e
}

var benchTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func benchAvailability() AvailabilityInput {
	return AvailabilityInput{Request: AvailabilityRequest{
		MerchantID: "demo", Kind: "deposit", Amount: Money{Minor: 25000, Currency: "EUR", Exponent: 2},
		Country: "DE", Language: "de", CustomerID: "cust-42", DepositMethods: []string{"card"}, Time: benchTime,
	}}
}

func benchRisk() RiskInput {
	return RiskInput{
		Request: RiskRequest{
			PaymentID: "pay_bench", MerchantID: "demo", Kind: "deposit",
			Amount: Money{Minor: 250000, Currency: "EUR", Exponent: 2}, Method: "card",
			Card: Card{Brand: "visa", BIN: "411111", Last4: "1111", Country: "US", ExpiryMonth: 12, ExpiryYear: 2028, Fingerprint: "fp_1"},
			Customer: Customer{ID: "cust-42", Email: "a@example.com", EmailDomain: "example.com", Country: "DE",
				IP: "192.0.2.10", IPCountry: "FR", Language: "de"},
			BillingCountry: "DE", Time: benchTime,
		},
		Features: Features{CardCount1h: Known(2), CardCount24h: Known(4), CardAmount24h: Known(400000), EmailCount24h: Known(3), IPCount1h: Known(2),
			CustomerCount7d: Known(5), CustomerAgeDays: Known(1), CardAgeDays: Known(0), EmailAgeDays: Known(1)},
	}
}

func benchRoute() RouteInput {
	return RouteInput{Request: RouteRequest{
		MerchantID: "demo", Kind: "deposit", Amount: Money{Minor: 250000, Currency: "EUR", Exponent: 2}, Method: "card",
		Card: RouteCard{Brand: "visa", BIN: "411111", Country: "US"}, Customer: RouteCustomer{ID: "cust-42", Country: "DE"},
		RiskScore: 35, RiskAction: "challenge", Time: benchTime,
	}}
}

func benchWorkflow() WorkflowInput {
	return WorkflowInput{Request: WorkflowRequest{
		State: "pending", Event: WorkflowEvent{Type: "provider_authorized"}, Kind: "deposit",
		Amount: Money{Minor: 250000, Currency: "EUR", Exponent: 2}, Method: "card", Provider: "acquirer-a",
		Risk: RiskSummary{Score: 10, Action: "allow"}, Merchant: MerchantSettings{AutoCapture: true, AutoCaptureMaxScore: 30},
		Time: benchTime,
	}}
}

func mustNotFail(b *testing.B, m Meta) {
	if m.FailedClosed {
		b.Fatalf("decision failed closed: %s", m.Error)
	}
}

func BenchmarkAvailability(b *testing.B) {
	e, in := benchEngine(b), benchAvailability()
	b.ReportAllocs()
	for b.Loop() {
		d, _ := e.Availability(context.Background(), in)
		mustNotFail(b, d.Meta)
	}
}

func BenchmarkRisk(b *testing.B) {
	e, in := benchEngine(b), benchRisk()
	b.ReportAllocs()
	for b.Loop() {
		d, _ := e.Risk(context.Background(), in)
		mustNotFail(b, d.Meta)
	}
}

func BenchmarkRoute(b *testing.B) {
	e, in := benchEngine(b), benchRoute()
	b.ReportAllocs()
	for b.Loop() {
		d, _ := e.Route(context.Background(), in)
		mustNotFail(b, d.Meta)
	}
}

func BenchmarkWorkflow(b *testing.B) {
	e, in := benchEngine(b), benchWorkflow()
	b.ReportAllocs()
	for b.Loop() {
		d, _ := e.Workflow(context.Background(), in)
		mustNotFail(b, d.Meta)
	}
}

// fullSet makes the four decisions a card payment meets.
func fullSet(e *Engine, av AvailabilityInput, ri RiskInput, ro RouteInput, wf WorkflowInput) Meta {
	ctx := context.Background()
	a, _ := e.Availability(ctx, av)
	r, _ := e.Risk(ctx, ri)
	p, _ := e.Route(ctx, ro)
	w, _ := e.Workflow(ctx, wf)
	for _, m := range []Meta{a.Meta, r.Meta, p.Meta, w.Meta} {
		if m.FailedClosed {
			return m
		}
	}
	return Meta{}
}

func BenchmarkFullSet(b *testing.B) {
	e := benchEngine(b)
	av, ri, ro, wf := benchAvailability(), benchRisk(), benchRoute(), benchWorkflow()
	b.ReportAllocs()
	for b.Loop() {
		mustNotFail(b, fullSet(e, av, ri, ro, wf))
	}
}

// BenchmarkFullSetParallel shares one engine between goroutines, as a
// node's request handlers do.
func BenchmarkFullSetParallel(b *testing.B) {
	e := benchEngine(b)
	av, ri, ro, wf := benchAvailability(), benchRisk(), benchRoute(), benchWorkflow()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m := fullSet(e, av, ri, ro, wf); m.FailedClosed {
				b.Error(m.Error)
				return
			}
		}
	})
}

// BenchmarkLatency is the latency harness: it times every full set and
// reports the percentiles and the allocations per set. Run it over 100k
// decisions with -bench Latency -benchtime 100000x.
func BenchmarkLatency(b *testing.B) {
	e := benchEngine(b)
	av, ri, ro, wf := benchAvailability(), benchRisk(), benchRoute(), benchWorkflow()
	durations := make([]time.Duration, 0, b.N)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		m := fullSet(e, av, ri, ro, wf)
		durations = append(durations, time.Since(start))
		mustNotFail(b, m)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	slices.Sort(durations)
	pct := func(p float64) float64 {
		return float64(durations[min(len(durations)-1, int(p*float64(len(durations))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/set")
	if os.Getenv("PAYWIRE_BENCH_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "%d full sets: p50 %.0fµs p99 %.0fµs p99.9 %.0fµs, %.0f allocs/set\n",
			b.N, pct(0.5), pct(0.99), pct(0.999), float64(after.Mallocs-before.Mallocs)/float64(b.N))
	}
}

// BenchmarkOverhead measures, in one run, the full set through the engine
// and the same work done by OPA's Eval and expr's Run alone: the Rego inputs
// are made fresh for every iteration outside the timed part (OPA converts
// what a policy reads during Eval, so that conversion counts as Eval). The
// difference is the engine's own overhead — building inputs, running the
// rules loop, validating answers, ids, timing, bookkeeping — reported as a
// share of the decision time.
func BenchmarkOverhead(b *testing.B) {
	e := benchEngine(b)
	bundle := e.Active()
	ctx := context.Background()
	av, ri, ro, wf := benchAvailability(), benchRisk(), benchRoute(), benchWorkflow()
	envs := map[string]any{PointAvailability: av, PointRisk: ri, PointRouting: ro, PointWorkflow: wf}
	fired := map[string]*hitSet{}
	for _, p := range Points {
		fired[p] = new(hitSet)
		for i := range bundle.points[p].rules {
			if out, _ := expr.Run(bundle.points[p].rules[i].program, envs[p]); out == true {
				fired[p].add(i)
			}
		}
	}
	// The inputs as the engine makes them (kept ones for points whose
	// policies read only the hits).
	inputs := func() map[string]ast.Value {
		pt := bundle.points
		return map[string]ast.Value{
			PointAvailability: pt[PointAvailability].input(fired[PointAvailability], nil, func(plan *inputPlan, h *ast.Array, prof *riskProfile) ast.Value {
				return regoInput(plan, availabilityAttrs, &av.Request, &av.Features, h, prof)
			}),
			PointRisk: pt[PointRisk].input(fired[PointRisk], must(bundle.profiles.named("")), func(plan *inputPlan, h *ast.Array, prof *riskProfile) ast.Value {
				return regoInput(plan, riskAttrs, &ri.Request, &ri.Features, h, prof)
			}),
			PointRouting: pt[PointRouting].input(fired[PointRouting], nil, func(plan *inputPlan, h *ast.Array, prof *riskProfile) ast.Value {
				return regoInput(plan, routeAttrs, &ro.Request, &ro.Features, h, prof)
			}),
			PointWorkflow: pt[PointWorkflow].input(fired[PointWorkflow], nil, func(plan *inputPlan, h *ast.Array, prof *riskProfile) ast.Value {
				return regoInput(plan, workflowAttrs, &wf.Request, &wf.Features, h, prof)
			}),
		}
	}
	var machine vm.VM
	var coreTime, fullTime time.Duration
	for b.Loop() {
		in := inputs()
		t0 := time.Now()
		for _, p := range Points {
			cp := bundle.points[p]
			for i := range cp.rules {
				_, _ = machine.Run(cp.rules[i].program, envs[p])
			}
			if _, err := bundle.eval(ctx, p, in[p], benchTime); err != nil {
				b.Fatal(err)
			}
		}
		coreTime += time.Since(t0)
		t1 := time.Now()
		mustNotFail(b, fullSet(e, av, ri, ro, wf))
		fullTime += time.Since(t1)
	}
	b.ReportMetric(float64(fullTime.Microseconds())/float64(b.N), "full-µs")
	b.ReportMetric(float64(coreTime.Microseconds())/float64(b.N), "eval+run-µs")
	b.ReportMetric(100*float64(fullTime-coreTime)/float64(fullTime), "overhead-%")
}

// BenchmarkParts splits each point's decision into its parts: the expr
// rules, building the Rego input, and evaluating the Rego entry point (with
// a new input each time, so OPA's conversion of what it reads is counted).
func BenchmarkParts(b *testing.B) {
	e := benchEngine(b)
	bun := e.Active()
	ctx := context.Background()
	av, ri, ro, wf := benchAvailability(), benchRisk(), benchRoute(), benchWorkflow()
	envs := map[string]any{PointAvailability: av, PointRisk: ri, PointRouting: ro, PointWorkflow: wf}
	plan := func(p string) *inputPlan { return bun.points[p].plan }
	profile := func(p string) *riskProfile {
		if p != PointRisk {
			return nil
		}
		return must(bun.profiles.named(""))
	}
	build := map[string]func(h *ast.Array) ast.Value{
		PointAvailability: func(h *ast.Array) ast.Value {
			return regoInput(plan(PointAvailability), availabilityAttrs, &av.Request, &av.Features, h, profile(PointAvailability))
		},
		PointRisk: func(h *ast.Array) ast.Value {
			return regoInput(plan(PointRisk), riskAttrs, &ri.Request, &ri.Features, h, profile(PointRisk))
		},
		PointRouting: func(h *ast.Array) ast.Value {
			return regoInput(plan(PointRouting), routeAttrs, &ro.Request, &ro.Features, h, profile(PointRouting))
		},
		PointWorkflow: func(h *ast.Array) ast.Value {
			return regoInput(plan(PointWorkflow), workflowAttrs, &wf.Request, &wf.Features, h, profile(PointWorkflow))
		},
	}
	for _, p := range Points {
		cp := bun.points[p]
		var fired hitSet
		for i := range cp.rules {
			if out, _ := expr.Run(cp.rules[i].program, envs[p]); out == true {
				fired.add(i)
			}
		}
		input := func() ast.Value {
			return cp.input(&fired, profile(p), func(_ *inputPlan, h *ast.Array, _ *riskProfile) ast.Value { return build[p](h) })
		}
		b.Run(p+"/expr", func(b *testing.B) {
			var machine vm.VM
			for b.Loop() {
				for i := range cp.rules {
					_, _ = machine.Run(cp.rules[i].program, envs[p])
				}
			}
		})
		b.Run(p+"/build", func(b *testing.B) {
			for b.Loop() {
				_ = input()
			}
		})
		b.Run(p+"/eval", func(b *testing.B) {
			for b.Loop() {
				if _, err := bun.eval(ctx, p, input(), benchTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("newid", func(b *testing.B) {
		for b.Loop() {
			_ = paywire.NewID("dec_")
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
