package notify_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/wsdl"
	"github.com/paywire/paywire/api/wsdl/wsdltest"
	"github.com/paywire/paywire/notify"
)

func TestJSONWebhook(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	e.pay("order-1", paywire.StatePending, paywire.StateAuthorized)
	stored := e.pending()
	if n := e.tick(e.worker("w1")); n != 3 {
		t.Fatalf("claimed %d messages, want 3", n)
	}
	got := e.endpoint.received()
	if len(got) != 3 {
		t.Fatalf("the merchant got %d notifications, want 3", len(got))
	}
	for i, r := range got {
		m := stored[i] // one payment's notifications leave in sequence
		var want paywire.NotificationPayload
		if err := json.Unmarshal(m.Payload, &want); err != nil {
			t.Fatal(err)
		}
		// The body is the stored payload, with occurredAt written in UTC
		// with milliseconds.
		occurred, _ := time.Parse(time.RFC3339Nano, want.OccurredAt)
		want.OccurredAt = occurred.UTC().Format("2006-01-02T15:04:05.000Z")
		wantBody, _ := json.Marshal(want)
		if string(r.Body) != string(wantBody) {
			t.Errorf("notification %d:\n got %s\nwant %s", i, r.Body, wantBody)
		}
		for h, v := range map[string]string{
			"Content-Type":         "application/json",
			notify.EventIDHeader:   m.EventID,
			notify.SequenceHeader:  strconv.FormatInt(m.Seq, 10),
			"SOAPAction":           "",
			"User-Agent":           "Paywire-Notifications/1",
			notify.SignatureHeader: notify.Sign(e.endpoint.secrets, e.clock.Now(), r.Body),
		} {
			if got := r.Header.Get(h); got != v {
				t.Errorf("notification %d: header %s = %q, want %q", i, h, got, v)
			}
		}
	}
	if got[0].Event.PreviousState != "" || got[0].Event.NewState != "CREATED" || got[2].Event.PreviousState != "PENDING" || got[2].Event.NewState != "AUTHORIZED" {
		t.Errorf("states: %+v, %+v", got[0].Event, got[2].Event)
	}
	if p := e.pending(); len(p) != 0 {
		t.Errorf("%d messages still pending after delivery", len(p))
	}
}

func TestSOAPListener(t *testing.T) {
	e := sqliteEnv(t, notify.FormatSOAP)
	p := e.pay("order-1", paywire.StatePending, paywire.StateCompleted, paywire.StatePartiallyRefunded)
	e.tick(e.worker("w1"))
	got := e.endpoint.received()
	if len(got) != 4 {
		t.Fatalf("the listener got %d notifications, want 4", len(got))
	}
	for i, r := range got {
		if ct := r.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if a := r.Header.Get("SOAPAction"); a != `"urn:paywire:listener:1#handlePaymentStateChangedEvent"` {
			t.Errorf("SOAPAction %q", a)
		}
		var env struct {
			Body struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
		}
		if err := xml.Unmarshal(r.Body, &env); err != nil {
			t.Fatal(err)
		}
		if err := wsdltest.Validate(t, wsdl.ListenerSchema(), env.Body.Inner); err != nil {
			t.Errorf("notification %d does not validate against the listener's schema: %v\n%s", i, err, r.Body)
		}
		ev := r.Event
		if ev.PaymentID != p.ID || ev.MerchantReference != "order-1" || ev.Amount != "10.00" || ev.Currency != "EUR" || ev.Seq != int64(i+1) {
			t.Errorf("notification %d: %+v", i, ev)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev.OccurredAt); err != nil {
			t.Errorf("occurredAt %q is not UTC with milliseconds", ev.OccurredAt)
		}
	}
	states := []string{got[0].Event.PreviousState, got[0].Event.NewState, got[3].Event.PreviousState, got[3].Event.NewState}
	if strings.Join(states, " ") != " CREATED COMPLETED PARTIALLY_REFUNDED" {
		t.Errorf("states %q", states)
	}
	if strings.Contains(string(got[0].Body), "previousState") {
		t.Errorf("the creation event has a previousState:\n%s", got[0].Body)
	}
}

// While a merchant's secret rotates, each notification carries a v1 value
// per secret, and a merchant still on the old secret accepts it.
func TestSignatureRotation(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	m := &paywire.Merchant{ID: "m-rotating", Name: "Rotating", NotificationURL: e.endpoint.URL(), NotificationFormat: notify.FormatJSON,
		PreviousSigningSecret: "whsec_previous"}
	if err := e.db.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	e.endpoint.secrets = []string{"whsec_previous"} // the merchant has not switched yet
	e.payWith(seedPayment(m.ID, "order-1"))
	e.tick(e.worker("w1"))
	got := e.endpoint.received()
	if len(got) != 1 || !got[0].Accepted {
		t.Fatalf("received %+v", got)
	}
	h := got[0].Header.Get(notify.SignatureHeader)
	if strings.Count(h, "v1=") != 2 {
		t.Errorf("signature %q, want two v1 values", h)
	}
	for _, s := range []string{m.SigningSecret, m.PreviousSigningSecret} {
		if err := notify.Verify(h, []string{s}, got[0].Body, e.clock.Now(), 0); err != nil {
			t.Errorf("with one of the secrets: %v", err)
		}
	}
}

func seedPayment(merchantID, ref string) *paywire.Payment {
	amt, _ := paywire.NewMoney(1000, "EUR")
	return &paywire.Payment{
		MerchantID: merchantID, MerchantReference: ref, Kind: paywire.KindDeposit, Amount: amt,
		EndUser: paywire.EndUser{ID: "u1", Country: "DE"},
	}
}

// A merchant that answers with a fault, acknowledged=false, an error status
// or a redirect has not taken the notification: it comes again after the
// backoff, and is delivered once the merchant answers properly.
func TestFailedAnswersAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		mode   mode
		err    string
	}{
		{"SOAP fault with 500", notify.FormatSOAP, modeFault, "fault: HTTP 500, SOAP Fault: soap:Server order database locked"},
		{"SOAP fault with 200", notify.FormatSOAP, modeFault200, "fault: SOAP Fault: soap:Client unknown payment"},
		{"acknowledged false", notify.FormatSOAP, modeNotAck, "not_acknowledged: "},
		{"503 SOAP", notify.FormatSOAP, modeDown, "status: HTTP 503 Service Unavailable: maintenance"},
		{"503 JSON", notify.FormatJSON, modeDown, "status: HTTP 503 Service Unavailable: maintenance"},
		{"redirect SOAP", notify.FormatSOAP, modeRedirect, "status: HTTP 302 Found"},
		{"redirect JSON", notify.FormatJSON, modeRedirect, "status: HTTP 302 Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sqliteEnv(t, tc.format)
			var elsewhere atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
			defer other.Close()
			e.endpoint.redirect = other.URL + "/listener"
			e.endpoint.setMode(tc.mode)
			e.pay("order-1")
			w := e.worker("w1")

			e.tick(w)
			u := e.undelivered()
			if len(u) != 1 || u[0].Attempts != 1 || !strings.HasPrefix(u[0].LastError, tc.err) {
				t.Fatalf("after the failure: %+v, want last error %q", u, tc.err)
			}
			now := e.clock.Now()
			if next := u[0].NextAttemptAt; next.Before(now.Add(time.Second)) || next.After(now.Add(notify.DefaultBackoffBase)) {
				t.Errorf("next attempt at %s, want within [1s, %s] of %s", next, notify.DefaultBackoffBase, now)
			}
			if n := e.tick(w); n != 0 {
				t.Errorf("claimed %d before the backoff ended", n)
			}

			e.endpoint.setMode(modeAck)
			e.clock.Add(notify.DefaultBackoffBase)
			if n := e.tick(w); n != 1 {
				t.Fatalf("claimed %d after the backoff, want 1", n)
			}
			if u := e.undelivered(); len(u) != 0 {
				t.Errorf("undelivered after the retry: %+v", u)
			}
			if got := len(e.endpoint.accepted()); got != 1 {
				t.Errorf("%d notifications accepted, want 1", got)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("a redirect was followed %d times", n)
			}
		})
	}
}

// The merchant's endpoint is down for 72 hours while payments go on
// changing state. Once it is back, every event arrives, and the sequence
// numbers let the merchant put each payment's events in order.
func TestEndpointDown72Hours(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, notify.FormatSOAP)
	e.endpoint.setMode(modeDown)
	w := e.worker("w1")
	w.MaxAge = 96 * time.Hour
	w2 := e.worker("w22") // a second node, taking turns
	w2.MaxAge = w.MaxAge

	const payments = 4
	var ps []*paywire.Payment
	for i := range payments {
		ps = append(ps, e.pay("order-"+strconv.Itoa(i), paywire.StatePending))
	}
	start := e.clock.Now()
	later := map[time.Duration]paywire.State{24 * time.Hour: paywire.StateAuthorized, 48 * time.Hour: paywire.StateCompleted}
	const step = 10 * time.Minute
	for i := 0; e.clock.Now().Sub(start) < 72*time.Hour; i++ {
		if s, ok := later[e.clock.Now().Sub(start)]; ok {
			for j, p := range ps {
				m := paywire.Move{To: s, Source: paywire.ProviderActor("sandbox")}
				if s == paywire.StateCompleted {
					m.Capture = p.Amount.Amount
				}
				ps[j] = e.core.Move(p, m)
			}
		}
		worker := w
		if i%2 == 1 {
			worker = w2
		}
		for e.tick(worker) > 0 {
		}
		e.clock.Add(step)
	}
	down := len(e.endpoint.received())
	if a := e.endpoint.accepted(); len(a) != 0 || down == 0 {
		t.Fatalf("while down: %d attempts, %d accepted", down, len(a))
	}
	if dead := deadCount(t, e); dead != 0 {
		t.Fatalf("%d messages dead-lettered within MaxAge", dead)
	}

	e.endpoint.setMode(modeAck)
	up := e.clock.Now()
	for len(e.pending()) > 0 {
		if e.clock.Now().Sub(up) > notify.DefaultBackoffCap+step {
			t.Fatalf("%d messages still pending %s after the endpoint came back", len(e.pending()), e.clock.Now().Sub(up))
		}
		for e.tick(w) > 0 {
		}
		e.clock.Add(step)
	}
	t.Logf("%d attempts while down for 72 h; all delivered %s after the endpoint came back", down, e.clock.Now().Sub(up))

	want := make(map[string]int64)
	for _, p := range ps {
		want[p.ID] = 4 // created, pending, authorized, completed
	}
	accepted := e.endpoint.accepted()
	checkOrderable(t, accepted, want)
	if len(accepted) != payments*4 {
		t.Errorf("%d notifications accepted, want %d (each once)", len(accepted), payments*4)
	}
}

func deadCount(t *testing.T, e *env) int {
	t.Helper()
	n := 0
	for _, m := range e.undelivered() {
		if m.Status == paywire.OutboxDead {
			n++
		}
	}
	return n
}

// With the default MaxAge of 72 hours, an endpoint down for longer makes
// the messages dead letters: no more attempts, until someone resends one.
func TestDeadLetterAfterMaxAge(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, notify.FormatJSON)
	e.endpoint.setMode(modeDown)
	w := e.worker("w1")
	e.pay("order-1", paywire.StatePending)
	e.pay("order-2")
	start := e.clock.Now()
	for e.clock.Now().Sub(start) < 80*time.Hour {
		for e.tick(w) > 0 {
		}
		e.clock.Add(15 * time.Minute)
	}
	u := e.undelivered()
	if len(u) != 3 || deadCount(t, e) != 3 {
		t.Fatalf("after 80 hours down: %+v", u)
	}
	for _, m := range u {
		if !strings.HasPrefix(m.LastError, "status: HTTP 503") || m.Attempts < 10 {
			t.Errorf("dead message %d: %d attempts, last error %q", m.ID, m.Attempts, m.LastError)
		}
	}
	attempts := len(e.endpoint.received())

	e.endpoint.setMode(modeAck)
	e.clock.Add(time.Hour)
	if n := e.tick(w); n != 0 {
		t.Errorf("claimed %d dead messages", n)
	}
	if got := len(e.endpoint.received()); got != attempts {
		t.Errorf("dead messages were sent again")
	}
	if err := e.db.ResendOutbox(ctx, e.merchant.ID, u[0].ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := e.tick(w); n != 1 {
		t.Fatalf("claimed %d after a resend, want 1", n)
	}
	if a := e.endpoint.accepted(); len(a) != 1 || a[0].EventID != u[0].EventID {
		t.Errorf("accepted after the resend: %+v", a)
	}
}

// Without a URL a message is kept as no_endpoint after one attempt, and
// no worker tries it again; a resend once the merchant has a URL delivers
// it. A payment's own URL overrides the merchant's.
func TestNotificationURL(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	none := &paywire.Merchant{ID: "m-no-url", Name: "No URL", NotificationFormat: notify.FormatJSON}
	if err := e.db.CreateMerchant(ctx, none); err != nil {
		t.Fatal(err)
	}
	e.endpoint.secrets = append(e.endpoint.secrets, none.SigningSecret)
	// Written pending: the merchant's URL was removed after the change.
	e.payWith(seedPayment(none.ID, "no-url"))
	own := seedPayment(none.ID, "own-url")
	own.NotificationURL = e.endpoint.URL()
	own = e.payWith(own)
	w := e.worker("w1")
	e.tick(w)

	u, err := e.db.UndeliveredOutbox(ctx, none.ID, time.Time{}, 10)
	if err != nil || len(u) != 1 || u[0].Status != paywire.OutboxNoEndpoint || u[0].Attempts != 1 || !strings.HasPrefix(u[0].LastError, "no_url: no notification URL") {
		t.Fatalf("without a URL: %+v, %v", u, err)
	}
	if a := e.endpoint.accepted(); len(a) != 1 || a[0].PaymentID != own.ID {
		t.Errorf("with the payment's own URL: %+v", a)
	}
	e.clock.Add(24 * time.Hour)
	if n := e.tick(w); n != 0 {
		t.Errorf("a message without an endpoint was claimed again (%d)", n)
	}

	none.NotificationURL = e.endpoint.URL()
	if err := e.db.UpdateMerchant(ctx, none, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ResendOutbox(ctx, none.ID, u[0].ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := e.tick(w); n != 1 {
		t.Fatalf("claimed %d after the resend, want 1", n)
	}
	if a := e.endpoint.accepted(); len(a) != 2 || a[1].EventID != u[0].EventID {
		t.Errorf("accepted after the resend: %+v", a)
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	m := &paywire.Merchant{ID: "m-gone", Name: "Gone", NotificationURL: closed.URL + "/hook", NotificationFormat: notify.FormatJSON}
	if err := e.db.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	e.payWith(seedPayment(m.ID, "a"))
	e.payWith(seedPayment(m.ID, "b"))
	w := e.worker("w1")
	w.Concurrency = 1
	e.tick(w)
	msgs, err := e.db.UndeliveredOutbox(ctx, m.ID, time.Time{}, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("undelivered: %+v, %v", msgs, err)
	}
	// The first attempt finds the endpoint unreachable; the second message
	// of the round is not sent there again.
	if !strings.HasPrefix(msgs[1].LastError, "network: ") || !strings.HasPrefix(msgs[0].LastError, "network: not sent: an earlier delivery to") {
		t.Errorf("last errors %q, %q", msgs[1].LastError, msgs[0].LastError)
	}
}

func TestTimeout(t *testing.T) {
	e := sqliteEnv(t, notify.FormatSOAP)
	e.endpoint.setMode(modeHangOnce) // never released: the worker must give up
	e.pay("order-1")
	w := e.worker("w1")
	w.Timeout = 300 * time.Millisecond
	start := time.Now()
	e.tick(w)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the round took %s with a timeout of %s", d, w.Timeout)
	}
	if u := e.undelivered(); len(u) != 1 || !strings.HasPrefix(u[0].LastError, "timeout: ") {
		t.Errorf("undelivered: %+v", u)
	}
}

// A worker that dies in the middle of a delivery records nothing; when its
// lease runs out, another worker delivers the message. The merchant may
// get it twice: delivery is at least once.
func TestKilledWorker(t *testing.T) {
	e := sqliteEnv(t, notify.FormatSOAP)
	e.endpoint.setMode(modeHangOnce)
	p := e.pay("order-1")
	a, b := e.worker("a"), e.worker("b")

	actx, kill := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := a.Tick(actx); done <- err }()
	<-e.endpoint.hanging
	kill()
	if err := <-done; err != nil {
		t.Fatalf("the killed worker's round: %v", err)
	}
	pend := e.pending()
	if len(pend) != 1 || pend[0].LastError != "" {
		t.Fatalf("after the kill: %+v", pend)
	}
	if n := e.tick(b); n != 0 {
		t.Fatalf("another worker claimed a leased message")
	}
	e.clock.Add(notify.DefaultLease + time.Second)
	if n := e.tick(b); n != 1 {
		t.Fatalf("after the lease another worker claimed %d messages, want 1", n)
	}
	if len(e.pending()) != 0 {
		t.Error("not delivered after the lease")
	}
	got := e.endpoint.waitReceived(2)
	if len(got) != 2 || got[0].Event.EventID != got[1].Event.EventID || got[0].Event.PaymentID != p.ID {
		t.Errorf("the merchant got %d requests, want the same event twice", len(got))
	}
}

// A worker whose lease ran out while the merchant was slow finds another
// worker has taken over: its result is dropped without an error.
func TestLostLease(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	e.endpoint.setMode(modeHangOnce)
	e.pay("order-1")
	reg := prometheus.NewRegistry()
	a, b := e.worker("a"), e.worker("b")
	a.Metrics = notify.NewMetrics(reg)

	done := make(chan error)
	go func() { _, err := a.Tick(ctx); done <- err }()
	<-e.endpoint.hanging
	e.clock.Add(notify.DefaultLease + time.Second)
	if n := e.tick(b); n != 1 {
		t.Fatalf("b claimed %d messages, want 1", n)
	}
	close(e.endpoint.release)
	if err := <-done; err != nil {
		t.Errorf("a lost lease is an error: %v", err)
	}
	if len(e.pending()) != 0 {
		t.Error("not delivered")
	}
	if got := len(e.endpoint.accepted()); got != 2 {
		t.Errorf("%d deliveries, want 2 (one per worker)", got)
	}
	if lost := metricValue(t, reg, "paywire_notification_lease_lost_total", ""); lost != 1 {
		t.Errorf("lease lost %v times, want 1", lost)
	}
}

// One claim takes no more messages than can be sent within the lease even
// if every delivery times out.
func TestClaimFitsTheLease(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	for i := range 30 {
		e.pay("order-" + strconv.Itoa(i))
	}
	w := e.worker("w1")
	w.Concurrency = 4
	if n := e.tick(w); n != 20 { // 4 at a time, 5 timeouts of 10 s within the default lease of 60 s
		t.Errorf("claimed %d 4 at a time, want 20", n)
	}
	w2 := e.worker("w2")
	w2.Lease, w2.Timeout, w2.Concurrency = 25*time.Second, 10*time.Second, 2
	if n := e.tick(w2); n != 4 {
		t.Errorf("claimed %d with a lease of 25 s, want 4", n)
	}
	w3 := e.worker("w3")
	w3.Lease, w3.Timeout = 5*time.Second, 10*time.Second
	if err := w3.Run(ctx); err == nil {
		t.Error("Run accepts a lease shorter than the timeout")
	}
}

// TestDeliveriesReuseConnections: the worker keeps its connections to a
// merchant open between deliveries, as many as it sends at once, so a
// busy merchant is not connected to anew for each notification.
func TestDeliveriesReuseConnections(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	w := e.worker("w1")
	w.Concurrency = 8
	for round := range 3 {
		for i := range 24 {
			e.pay(fmt.Sprintf("order-%d-%d", round, i))
		}
		if n := e.tick(w); n != 24 {
			t.Fatalf("round %d: claimed %d messages, want 24", round, n)
		}
	}
	got := e.endpoint.received()
	conns := map[string]bool{}
	for _, r := range got {
		conns[r.Remote] = true
	}
	// A delivery may start just before another's connection is back in
	// the pool, and dial: a few more than Concurrency. Go's default
	// transport, which keeps 2 idle, made 35 here.
	if limit := w.Concurrency * 3 / 2; len(got) != 72 || len(conns) > limit {
		t.Fatalf("%d notifications over %d connections; want 72 over at most %d", len(got), len(conns), limit)
	}
	t.Logf("72 notifications over %d connections", len(conns))
}

// countingOutbox counts the statements that mark deliveries.
type countingOutbox struct {
	notify.Outbox
	mu           sync.Mutex
	calls, marks int
}

func (c *countingOutbox) DeliveredOutbox(ctx context.Context, ids []int64, worker string, at time.Time) ([]int64, error) {
	c.mu.Lock()
	c.calls++
	c.marks += len(ids)
	c.mu.Unlock()
	return c.Outbox.DeliveredOutbox(ctx, ids, worker, at)
}

// countingMerchants counts the merchant reads.
type countingMerchants struct {
	notify.Merchants
	reads atomic.Int64
}

func (c *countingMerchants) Merchant(ctx context.Context, id string) (*paywire.Merchant, error) {
	c.reads.Add(1)
	return c.Merchants.Merchant(ctx, id)
}

// TestDeliveriesMarkedTogether: a round's deliveries are marked a batch
// at a time, not one statement each, and every one is marked; their
// merchant is read once for the round, not by each delivery.
func TestDeliveriesMarkedTogether(t *testing.T) {
	e := sqliteEnv(t, notify.FormatJSON)
	for i := range 40 {
		e.pay(fmt.Sprintf("order-%d", i))
	}
	w := e.worker("w1")
	counter := &countingOutbox{Outbox: e.db}
	w.Outbox = counter
	merchants := &countingMerchants{Merchants: e.db}
	w.Merchants = merchants
	if n := e.tick(w); n != 40 {
		t.Fatalf("claimed %d messages, want 40", n)
	}
	if p := e.pending(); len(p) != 0 {
		t.Fatalf("%d messages still pending after delivery", len(p))
	}
	// 40 deliveries: at least two batches (32 at most each); more when
	// one waited markWait for the others.
	if counter.marks != 40 || counter.calls < 2 || counter.calls > 10 {
		t.Fatalf("%d deliveries marked in %d statements; want 40 in 2 to 10", counter.marks, counter.calls)
	}
	if n := merchants.reads.Load(); n != 1 {
		t.Errorf("the merchant was read %d times in the round; want once", n)
	}
	t.Logf("40 deliveries marked in %d statements", counter.calls)
}
