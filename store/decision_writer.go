package store

import (
	"context"
	"sync"
	"time"

	"github.com/paywire/paywire"
)

// DecisionWriter writes decision records the way a database writes its
// log, by group commit: every SaveDecisions call returns once its records
// are committed, and the calls that arrive while a write is in flight are
// written together by the next one, in one statement and one commit. Under
// load the decisions of many requests (hosted pages shown, requests
// refused after deciding) cost one commit instead of one each; alone, a
// call costs what DB.SaveDecisions does. Nothing waits in memory past its
// caller: a record is either committed when SaveDecisions returns nil, or
// its caller gets the error. Safe for concurrent use; it embeds the DB for
// every other method of paywire.DecisionStore.
type DecisionWriter struct {
	*DB

	mu      sync.Mutex
	writing bool
	queue   []waiting
}

// waiting is one call's records and where its answer goes.
type waiting struct {
	ds   []paywire.DecisionRecord
	done chan error
}

// maxDecisionBatch bounds the records one statement writes (a call with
// more is written alone).
const maxDecisionBatch = 256

// NewDecisionWriter returns a DecisionWriter writing to db.
func NewDecisionWriter(db *DB) *DecisionWriter { return &DecisionWriter{DB: db} }

// SaveDecisions implements paywire.DecisionStore: it returns when ds are
// committed (with the records of other calls), or with the error of the
// statement that held them. Returns EINVALID, and writes nothing, when a
// record's input, output or rules are not JSON.
func (w *DecisionWriter) SaveDecisions(ctx context.Context, ds []paywire.DecisionRecord) error {
	const op = "store/DecisionWriter.SaveDecisions"
	if len(ds) == 0 {
		return nil
	}
	// Refused alone, so that a bad record never fails another's batch.
	if _, err := decisionRows(ds, w.now()); err != nil {
		return classify(op, err, "")
	}
	done := make(chan error, 1)
	w.mu.Lock()
	w.queue = append(w.queue, waiting{ds: ds, done: done})
	lead := !w.writing
	w.writing = true
	w.mu.Unlock()
	if lead {
		// One writer at a time, until the queue is empty: calls that
		// arrive meanwhile are its next batch.
		go w.write()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The records are written all the same; the caller stops waiting.
		return classify(op, ctx.Err(), "")
	}
}

// write commits the queue, a batch of calls at a time, until it is empty.
func (w *DecisionWriter) write() {
	for {
		w.mu.Lock()
		queue := w.queue
		w.queue = nil
		if len(queue) == 0 {
			w.writing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		for len(queue) > 0 {
			n, records := 0, []paywire.DecisionRecord(nil)
			for n < len(queue) && (n == 0 || len(records)+len(queue[n].ds) <= maxDecisionBatch) {
				records = append(records, queue[n].ds...)
				n++
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.DB.SaveDecisions(ctx, records)
			cancel()
			for _, c := range queue[:n] {
				c.done <- err
			}
			queue = queue[n:]
		}
	}
}
