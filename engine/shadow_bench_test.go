package engine

import (
	"context"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

type discardShadow struct{}

func (discardShadow) RecordShadow(context.Context, int64, []paywire.ShadowCount, []paywire.ShadowDisagreement) error {
	return nil
}

// BenchmarkShadowOverhead measures what a shadow costs the live risk
// decision, in one run: the same decisions on an engine without a shadow
// and on one whose shadow compares each (queue 1024, a candidate that
// differs in one rule), in alternating chunks, so that both see the same
// machine. It reports each one's ns per decision (live-ns/op,
// shadowed-ns/op) and their ratio.
//
//	path:   the queued inputs are taken off the queue and not decided: the
//	        cost on the request's path alone (boxing the input and the
//	        decision, a channel send)
//	worker: one worker decides them, as on a node: the path plus the
//	        worker's CPU and garbage beside the live decisions (the live
//	        loop runs flat out, so the worker may fall behind: dropped/op)
func BenchmarkShadowOverhead(b *testing.B) {
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		b.Fatal(err)
	}
	candidateFiles := with(files, "rules/risk/data.yaml", string(files["rules/risk/data.yaml"])+
		"\n  - id: bench_probe\n    group: amount\n    description: differs\n    when: request.amount.minor == 1\n    effect: {score: 1, reason: probe}\n")
	for _, mode := range []string{"path", "worker"} {
		b.Run(mode, func(b *testing.B) {
			live, shadowed := benchEngine(b), benchEngine(b)
			candidate, err := shadowed.Load(context.Background(), candidateFiles)
			if err != nil {
				b.Fatal(err)
			}
			s := NewShadow(1024, 1)
			s.Recorder = discardShadow{}
			shadowed.Shadow = s
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			if mode == "path" {
				go func() {
					defer close(done)
					for {
						select {
						case <-ctx.Done():
							return
						case <-s.jobs:
							s.pending.Add(-1)
						}
					}
				}()
			} else {
				go func() { defer close(done); s.Run(ctx) }()
			}
			defer func() { cancel(); <-done }()
			s.SetCandidate(1, candidate)

			in := benchRisk()
			const chunk = 32
			var off, on time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += chunk {
				n := min(chunk, b.N-i)
				start := time.Now()
				for range n {
					d, _ := live.Risk(context.Background(), in)
					mustNotFail(b, d.Meta)
				}
				mid := time.Now()
				for range n {
					d, _ := shadowed.Risk(context.Background(), in)
					mustNotFail(b, d.Meta)
				}
				off += mid.Sub(start)
				on += time.Since(mid)
			}
			b.StopTimer()
			b.ReportMetric(float64(off.Nanoseconds())/float64(b.N), "live-ns/op")
			b.ReportMetric(float64(on.Nanoseconds())/float64(b.N), "shadowed-ns/op")
			b.ReportMetric(float64(on)/float64(off), "ratio")
			if mode == "worker" {
				b.ReportMetric(float64(s.Dropped())/float64(b.N), "dropped/op")
			}
		})
	}
}
