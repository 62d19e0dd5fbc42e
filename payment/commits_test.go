package payment_test

import (
	"context"
	"sync"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// commits counts the writes of the payment store and of the decision
// store: each is a commit of its own.
type commits struct {
	paywire.PaymentStore
	paywire.DecisionStore

	mu        sync.Mutex
	changes   int // CreatePayment and ApplyStateChange calls that committed
	carried   int // decision records written with a change
	alone     int // SaveDecision calls: a commit per decision
	leftovers int // records written by SaveDecisions after the request
	batches   int // SaveDecisions calls
	reads     int // Payment calls
}

func (c *commits) Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.PaymentStore.Payment(ctx, merchantID, id)
}

func (c *commits) CreatePayment(ctx context.Context, sc paywire.StateChange) error {
	err := c.PaymentStore.CreatePayment(ctx, sc)
	c.count(err, len(sc.Decisions))
	return err
}

func (c *commits) ApplyStateChange(ctx context.Context, sc paywire.StateChange) error {
	err := c.PaymentStore.ApplyStateChange(ctx, sc)
	c.count(err, len(sc.Decisions))
	return err
}

func (c *commits) count(err error, decisions int) {
	if err != nil {
		return
	}
	c.mu.Lock()
	c.changes++
	c.carried += decisions
	c.mu.Unlock()
}

func (c *commits) SaveDecision(ctx context.Context, d *paywire.DecisionRecord) error {
	c.mu.Lock()
	c.alone++
	c.mu.Unlock()
	return c.DecisionStore.SaveDecision(ctx, d)
}

func (c *commits) SaveDecisions(ctx context.Context, ds []paywire.DecisionRecord) error {
	c.mu.Lock()
	c.batches++
	c.leftovers += len(ds)
	c.mu.Unlock()
	return c.DecisionStore.SaveDecisions(ctx, ds)
}

func (c *commits) reset() {
	c.mu.Lock()
	c.changes, c.carried, c.alone, c.leftovers, c.batches, c.reads = 0, 0, 0, 0, 0, 0
	c.mu.Unlock()
}

// recordingEngine is an engine with the default bundle whose decisions
// are recorded in rec, as cmd/paywire runs it.
func recordingEngine(t *testing.T, rec paywire.DecisionStore) *engine.Engine {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(1)
	if _, err := eng.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	eng.Recorder = engine.StoreRecorder{Store: rec}
	return eng
}

// decisionRows counts the stored decision records.
func decisionRows(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.db.Bun().NewSelect().Table("decisions").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestOneCommitPerRequest: a request's decisions are written with the
// change they lead to, so that starting a payment commits once; the
// decisions of a request that changes nothing are written after it, in one
// statement; none is lost either way.
func TestOneCommitPerRequest(t *testing.T) {
	e := newHosted(t)
	c := &commits{PaymentStore: e.s.Payments, DecisionStore: e.db}
	e.s.Payments, e.s.Decisions = c, c
	e.pin.Decider = recordingEngine(t, c)

	tok, id := e.start("shop", "one-1", 5000)
	if c.changes != 1 || c.carried != 1 || c.alone != 0 || c.batches != 0 {
		t.Errorf("a start: %d changes carrying %d decisions, %d decisions alone, %d batches; want 1 change with its availability decision",
			c.changes, c.carried, c.alone, c.batches)
	}
	if n := decisionRows(t, e.env); n != 1 {
		t.Errorf("%d decision records stored after a start, want 1", n)
	}
	// The start's availability decision is the payment's.
	if ds, err := e.db.Decisions(ctx, "shop", id); err != nil || len(ds) != 1 || ds[0].Point != engine.PointAvailability {
		t.Errorf("the payment's decisions after its start: %v (%v), want its availability decision", ds, err)
	}

	// Submission: risk, routing and workflow decisions, each written
	// with the change it led to; the methods are the start's.
	c.reset()
	if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
		t.Fatal(err)
	}
	ds, err := e.db.Decisions(ctx, "shop", id)
	if err != nil {
		t.Fatal(err)
	}
	points := map[string]int{}
	for _, d := range ds {
		points[d.Point]++
	}
	if points[engine.PointAvailability] != 1 || points[engine.PointRisk] != 1 || points[engine.PointRouting] != 1 || points[engine.PointWorkflow] == 0 {
		t.Errorf("the payment's decisions by point: %v", points)
	}
	if c.alone != 0 || c.carried+c.leftovers != len(ds)-1+points[""] || c.carried == 0 {
		t.Errorf("a submission: %d decisions with changes, %d alone, %d after the request; the payment has %d",
			c.carried, c.alone, c.leftovers, len(ds))
	}
	if c.changes == 0 || c.changes > len(e.events(e.get("shop", id)))+1 {
		t.Errorf("a submission committed %d changes", c.changes)
	}

	// A request refused after its decision changed nothing: its decision
	// is stored all the same, once, in one statement.
	c.reset()
	before := decisionRows(t, e.env)
	req := startRequest("shop", "one-2", 5_000_000) // 50,000.00 EUR: more than cards take
	req.PaymentMethod = paywire.MethodCard
	if _, err := e.s.Start(ctx, "shop", "ref:one-2", req); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Fatalf("a start with a method not offered: %v", err)
	}
	if c.changes != 0 || c.alone != 0 || c.batches != 1 || c.leftovers != 1 || decisionRows(t, e.env) != before+1 {
		t.Errorf("a refused start: %d changes, %d decisions alone, %d batches of %d; stored %d -> %d",
			c.changes, c.alone, c.batches, c.leftovers, before, decisionRows(t, e.env))
	}

	// Without a decision store for what is left, every decision is
	// stored at once, as before.
	c.reset()
	e.s.Decisions = nil
	e.start("shop", "one-3", 5000)
	if c.changes != 1 || c.carried != 0 || c.alone != 1 {
		t.Errorf("without Decisions: %d changes carrying %d, %d alone", c.changes, c.carried, c.alone)
	}
}

// TestPendingDecisionsSurviveConflicts: decisions taken by a change that
// was refused go with the change written instead.
func TestPendingDecisionsSurviveConflicts(t *testing.T) {
	e := newHosted(t)
	c := &commits{PaymentStore: e.s.Payments, DecisionStore: e.db}
	e.s.Payments, e.s.Decisions = c, c
	e.pin.Decider = recordingEngine(t, c)
	e.start("shop", "conflict-1", 5000)
	// The second start with another request under the same reference
	// is refused when it commits (the key is taken): its decision stays
	// and is written after the request.
	c.reset()
	before := decisionRows(t, e.env)
	req := startRequest("shop", "conflict-1", 6000)
	_, err := e.s.Start(ctx, "shop", "other-key", req)
	if code := paywire.ErrorCode(err); code != paywire.ECONFLICT {
		t.Fatalf("a second payment with a taken reference: %v", err)
	}
	if got := decisionRows(t, e.env); got != before+1 || c.leftovers != 1 {
		t.Errorf("the refused creation's decision: stored %d -> %d, %d after the request", before, got, c.leftovers)
	}
	var _ payment.Decider = e.pin
}

// TestNotificationsWithoutEndpoint: a change of a payment whose merchant
// has no notification URL keeps its notification as no_endpoint, for no
// worker to retry; with the account's URL, or the payment's own, it is
// pending.
func TestNotificationsWithoutEndpoint(t *testing.T) {
	e := newEnv(t)
	e.merchant(paywire.Merchant{ID: "hooked", NotificationURL: "https://hooked.example/notify"})
	statuses := func(merchantID, ref, notificationURL string) map[string]int {
		t.Helper()
		req := startRequest(merchantID, ref, 5000)
		req.NotificationURL = notificationURL
		rd, err := e.s.Start(ctx, merchantID, "", req)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := e.db.OutboxOf(ctx, merchantID, rd.PaymentID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, m := range msgs {
			out[m.Status]++
		}
		return out
	}
	if got := statuses("shop", "ne-1", ""); got[paywire.OutboxNoEndpoint] != 1 || len(got) != 1 {
		t.Errorf("a merchant without a URL: %v", got)
	}
	if got := statuses("shop", "ne-2", "https://shop.example/own-hook"); got[paywire.OutboxPending] != 1 || len(got) != 1 {
		t.Errorf("a payment with its own URL: %v", got)
	}
	if got := statuses("hooked", "ne-3", ""); got[paywire.OutboxPending] != 1 || len(got) != 1 {
		t.Errorf("a merchant with a URL: %v", got)
	}
	if msgs, err := e.db.PendingOutbox(ctx, 100); err != nil || len(msgs) != 2 {
		t.Errorf("the workers' queue holds %d messages (%v), want the 2 with a URL", len(msgs), err)
	}
}

// TestAutoCaptureReadsNothingMore: a capture due at once (auto-capture)
// is carried out on the payment the authorization's change wrote, and
// the end user is answered with the payment the capture's change wrote:
// the submission reads the payment once, for the form, as one that is
// left authorized does. A capture that loses its compare-and-set to a
// change made meanwhile reads it then, and the worker's capture reads it.
func TestAutoCaptureReadsNothingMore(t *testing.T) {
	e := newHosted(t)
	c := &commits{PaymentStore: e.s.Payments, DecisionStore: e.db}
	e.s.Payments = c
	e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 100})

	for _, m := range []string{"shop", "eager"} {
		tok := e.startFor(t, m, "reads-"+m)
		c.reset()
		o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]paywire.State{"shop": paywire.StateAuthorized, "eager": paywire.StateCompleted}[m]
		if o.State != want || c.reads != 1 {
			t.Errorf("%s: a submission left the payment %s and read it %d times; want %s, 1 read", m, o.State, c.reads, want)
		}
		if p := e.get(m, o.PaymentID); p.State != want {
			t.Errorf("%s: stored %s, want %s", m, p.State, want)
		}
	}
}
