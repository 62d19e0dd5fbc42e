package notify_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/notify"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var ctx = context.Background()

// startAt stops every notify test's clock at the same time, shared by the
// store, the workers and the merchant's endpoint, which checks signature
// timestamps against it.
var startAt = paywiretest.FixedClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))

// How the merchant's endpoint answers.
type mode int

const (
	modeAck      mode = iota // 200 with acknowledged true (SOAP) or 204 (JSON)
	modeDown                 // 503
	modeFault                // 500 with a SOAP Fault
	modeFault200             // 200 with a SOAP Fault
	modeNotAck               // 200 with acknowledged false
	modeRedirect             // 302 to another host
	modeHangOnce             // the first request waits for release, later ones are acknowledged
)

// received is one request the merchant's endpoint got.
type received struct {
	Header   http.Header
	Body     []byte
	Event    paywire.NotificationPayload // decoded from either format
	Accepted bool                        // the answer meant "delivered"
	Remote   string                      // the sender's address: one per connection
}

// endpoint is a merchant's notification endpoint on a real listener. It
// checks every request's signature with the secrets the merchant holds.
type endpoint struct {
	t       *testing.T
	srv     *httptest.Server
	clock   *paywiretest.Clock
	secrets []string

	mu       sync.Mutex
	mode     mode
	redirect string
	got      []received
	hanging  chan struct{} // closed when a request waits in modeHangOnce
	release  chan struct{} // closed by the test to let it answer
	hung     bool
}

func newEndpoint(t *testing.T, c *paywiretest.Clock) *endpoint {
	e := &endpoint{t: t, clock: c, hanging: make(chan struct{}), release: make(chan struct{})}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(func() {
		e.mu.Lock()
		if e.hung {
			select {
			case <-e.release:
			default:
				close(e.release)
			}
		}
		e.mu.Unlock()
		e.srv.Close()
	})
	return e
}

func (e *endpoint) URL() string { return e.srv.URL + "/paywire/listener" }

func (e *endpoint) setMode(m mode) {
	e.mu.Lock()
	e.mode = m
	e.mu.Unlock()
}

func (e *endpoint) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// waitReceived returns what the endpoint received once it has n requests,
// or after a few seconds: a handler may still be finishing a request whose
// client has gone.
func (e *endpoint) waitReceived(n int) []received {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.received()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// accepted returns the events the endpoint acknowledged, in arrival order.
func (e *endpoint) accepted() []paywire.NotificationPayload {
	var out []paywire.NotificationPayload
	for _, r := range e.received() {
		if r.Accepted {
			out = append(out, r.Event)
		}
	}
	return out
}

// soapEvent reads the listener's request element in any namespace prefix.
type soapEvent struct {
	Body struct {
		Event struct {
			EventID           string `xml:"eventId"`
			PaymentID         string `xml:"paymentId"`
			MerchantReference string `xml:"merchantReference"`
			PreviousState     string `xml:"previousState"`
			NewState          string `xml:"newState"`
			Amount            string `xml:"amount"`
			Currency          string `xml:"currency"`
			SequenceNumber    int64  `xml:"sequenceNumber"`
			OccurredAt        string `xml:"occurredAt"`
		} `xml:"urn:paywire:payment:1 handlePaymentStateChangedEvent"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		e.t.Errorf("endpoint: reading the request: %v", err)
		return
	}
	if err := notify.Verify(r.Header.Get(notify.SignatureHeader), e.secrets, body, e.clock.Now(), time.Minute); err != nil {
		e.t.Errorf("endpoint: signature: %v", err)
	}
	rec := received{Header: r.Header.Clone(), Body: body, Remote: r.RemoteAddr}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	soap := ct == "text/xml"
	if soap {
		var env soapEvent
		if err := xml.Unmarshal(body, &env); err != nil {
			e.t.Errorf("endpoint: not a SOAP request: %v\n%s", err, body)
		}
		ev := env.Body.Event
		rec.Event = paywire.NotificationPayload{
			EventID: ev.EventID, PaymentID: ev.PaymentID, MerchantReference: ev.MerchantReference,
			PreviousState: ev.PreviousState, NewState: ev.NewState, Amount: ev.Amount, Currency: ev.Currency,
			Seq: ev.SequenceNumber, OccurredAt: ev.OccurredAt,
		}
	} else if err := json.Unmarshal(body, &rec.Event); err != nil {
		e.t.Errorf("endpoint: not JSON: %v\n%s", err, body)
	}

	e.mu.Lock()
	m := e.mode
	if m == modeHangOnce {
		if !e.hung {
			e.hung = true
			e.mu.Unlock()
			close(e.hanging)
			select {
			case <-e.release:
			case <-r.Context().Done():
			}
			e.mu.Lock()
		}
		m = modeAck
	}
	rec.Accepted = m == modeAck
	e.got = append(e.got, rec)
	redirect := e.redirect
	e.mu.Unlock()

	switch m {
	case modeAck:
		if soap {
			answerSOAP(w, 200, `<pw:handlePaymentStateChangedEventResponse xmlns:pw="urn:paywire:payment:1"><pw:acknowledged>true</pw:acknowledged></pw:handlePaymentStateChangedEventResponse>`)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	case modeDown:
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	case modeFault:
		answerSOAP(w, 500, `<soap:Fault><faultcode>soap:Server</faultcode><faultstring>order database locked</faultstring></soap:Fault>`)
	case modeFault200:
		answerSOAP(w, 200, `<soap:Fault><faultcode>soap:Client</faultcode><faultstring>unknown payment</faultstring></soap:Fault>`)
	case modeNotAck:
		answerSOAP(w, 200, `<handlePaymentStateChangedEventResponse xmlns="urn:paywire:payment:1"><acknowledged>false</acknowledged></handlePaymentStateChangedEventResponse>`)
	case modeRedirect:
		http.Redirect(w, r, redirect, http.StatusFound)
	}
}

func answerSOAP(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+body+`</soap:Body></soap:Envelope>`)
}

// env is a merchant with an endpoint, on a real store, under a fake clock.
type env struct {
	t        *testing.T
	core     *paywiretest.Env
	db       *store.DB
	clock    *paywiretest.Clock
	endpoint *endpoint
	merchant *paywire.Merchant
}

func newEnv(t *testing.T, core *paywiretest.Env, format string) *env {
	t.Helper()
	ep := newEndpoint(t, core.Clock)
	m := core.AddMerchant(&paywire.Merchant{
		ID: "m-notify", Name: "Notified Shop", NotificationURL: ep.URL(), NotificationFormat: format,
		ReturnURLPrefixes: []string{"https://shop.example/"},
	}, "")
	ep.secrets = []string{m.SigningSecret}
	return &env{t: t, core: core, db: core.DB, clock: core.Clock, endpoint: ep, merchant: m}
}

// sqliteEnv is an env on a new SQLite database.
func sqliteEnv(t *testing.T, format string) *env {
	return newEnv(t, paywiretest.New(t, startAt), format)
}

// worker returns a worker of the env with a fixed jitter source.
func (e *env) worker(id string) *notify.Worker {
	return &notify.Worker{
		Outbox: e.db, Merchants: e.db,
		ID: id, Now: e.clock.Now, Rand: mathrand.NewPCG(uint64(len(id)), 7),
		Logger: slog.New(slog.DiscardHandler),
	}
}

// pay creates a payment of the env's merchant and moves it through the
// states given; every state change, the creation included, is one
// notification.
func (e *env) pay(ref string, states ...paywire.State) *paywire.Payment {
	e.t.Helper()
	p := storetest.SeedPaymentValue(e.merchant.ID, ref)
	return e.payWith(p, states...)
}

func (e *env) payWith(p *paywire.Payment, states ...paywire.State) *paywire.Payment {
	e.t.Helper()
	p = e.core.CreatePayment(p)
	for _, s := range states {
		m := paywire.Move{To: s, Source: paywire.ProviderActor("sandbox"), Reason: "test"}
		if s == paywire.StateCompleted {
			m.Capture = p.Amount.Amount
		}
		p = e.core.Move(p, m)
	}
	return p
}

// outbox returns every message of the env's merchant that is not
// delivered, oldest first.
func (e *env) undelivered() []paywire.OutboxMessage {
	e.t.Helper()
	msgs, err := e.db.UndeliveredOutbox(ctx, e.merchant.ID, time.Time{}, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(msgs)
	return msgs
}

// pending returns the messages waiting for delivery, attempted or not.
func (e *env) pending() []paywire.OutboxMessage {
	e.t.Helper()
	msgs, err := e.db.PendingOutbox(ctx, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

// tick runs one round of w and fails the test on an error.
func (e *env) tick(w *notify.Worker) int {
	e.t.Helper()
	n, err := w.Tick(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// checkOrderable asserts what a merchant needs to order the events: for
// each payment, the distinct sequence numbers delivered are 1..n, n being
// the number of state changes the payment went through.
func checkOrderable(t *testing.T, got []paywire.NotificationPayload, want map[string]int64) {
	t.Helper()
	seqs := make(map[string][]int64)
	for _, ev := range got {
		seqs[ev.PaymentID] = append(seqs[ev.PaymentID], ev.Seq)
	}
	for id, n := range want {
		s := seqs[id]
		slices.Sort(s)
		s = slices.Compact(s)
		if int64(len(s)) != n || s[0] != 1 || s[len(s)-1] != n {
			t.Errorf("payment %s: delivered sequence numbers %v, want 1..%d", id, s, n)
		}
	}
	if len(seqs) != len(want) {
		t.Errorf("notifications for %d payments, want %d", len(seqs), len(want))
	}
}
