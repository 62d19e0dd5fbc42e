package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/notify"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Two workers, as on two nodes (on PostgreSQL; one on SQLite), deliver
// 1,000 events while payments are still changing state: every event
// arrives, none twice while the leases hold (a delivery takes far less
// than a lease), and each payment's sequence numbers are complete.
func TestConcurrentWorkers(t *testing.T) {
	t.Parallel()
	paywiretest.ForEachDatabase(t, func(t *testing.T, core *paywiretest.Env) {
		e := newEnv(t, core, notify.FormatJSON)
		e.clock.Run()
		const payments, events = 250, 1000 // created, pending, authorized, completed

		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		var logs syncBuffer
		var wg sync.WaitGroup
		regs := make(map[string]*prometheus.Registry)
		// Two nodes on PostgreSQL; SQLite runs one worker (one node), as
		// the operations guide says.
		nodes := []string{"node-a", "node-b"}
		if e.db.Dialect() != store.Postgres {
			nodes = nodes[:1]
		}
		for _, id := range nodes {
			w := e.worker(id)
			w.Now = nil
			w.Poll = 5 * time.Millisecond
			w.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			regs[id] = prometheus.NewRegistry()
			w.Metrics = notify.NewMetrics(regs[id])
			wg.Go(func() {
				if err := w.Run(runCtx); err != nil {
					t.Error(err)
				}
			})
		}

		want := make(map[string]int64)
		for i := range payments {
			p := e.pay("order-"+strconv.Itoa(i), paywire.StatePending, paywire.StateAuthorized, paywire.StateCompleted)
			want[p.ID] = 4
		}
		deadline := time.Now().Add(45 * time.Second)
		for len(e.pending()) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		wg.Wait()

		accepted := e.endpoint.accepted()
		seen := make(map[string]int)
		for _, ev := range accepted {
			seen[ev.EventID]++
		}
		duplicates := len(accepted) - len(seen)
		perWorker := ""
		for id, reg := range regs {
			perWorker += " " + id + ": " + strconv.FormatFloat(metricValue(t, reg, "paywire_notification_attempts_total", `result="delivered"`), 'f', 0, 64)
		}
		t.Logf("%d events, %d deliveries, %d duplicates; delivered by%s", len(seen), len(accepted), duplicates, perWorker)
		if len(seen) != events {
			t.Errorf("%d distinct events delivered, want %d; %d still pending", len(seen), events, len(e.pending()))
		}
		if duplicates != 0 {
			t.Errorf("%d duplicate deliveries while every lease held", duplicates)
		}
		checkOrderable(t, accepted, want)
		if s := logs.String(); s != "" {
			t.Errorf("the workers complained:\n%s", s)
		}
	}, startAt)
}
