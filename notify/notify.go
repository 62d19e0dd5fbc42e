// Package notify delivers the transactional outbox to merchants: every
// state change of a payment, written to the outbox in the transaction that
// made it, is sent to the merchant's PaymentServiceListener (SOAP) or JSON
// webhook, signed with the merchant's secret, and retried with backoff until
// it is acknowledged or too old. Delivery is at least once and in no
// guaranteed order; per-payment sequence numbers let merchants order and
// deduplicate. Workers on several nodes share the outbox through leases.
// The package reads the outbox (which gives each message's payment's own
// notification URL) and merchants through narrow interfaces; it must not
// change payments, and it must not import a transport: it writes the
// listener's message with the types of package api/message and the
// envelope codec api/soap, which serve nothing.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/paywire/paywire"
)

// Outbox is the part of paywire.OutboxStore that a Worker uses.
type Outbox interface {
	ClaimOutbox(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]paywire.OutboxMessage, error)
	DeliveredOutbox(ctx context.Context, ids []int64, worker string, at time.Time) (lost []int64, err error)
	FailedOutbox(ctx context.Context, id int64, worker string, lastError string, next time.Time, dead bool) error
	NoEndpointOutbox(ctx context.Context, id int64, worker string, lastError string) error
	OldestUndelivered(ctx context.Context) (time.Time, error)
}

// Merchants is the part of paywire.MerchantStore that a Worker uses: it
// reads the merchant's URL, format and signing secrets.
type Merchants interface {
	Merchant(ctx context.Context, id string) (*paywire.Merchant, error)
}

// Defaults of the Worker's settings.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultLease       = 60 * time.Second
	DefaultBatch       = 50
	DefaultConcurrency = 16
	DefaultPoll        = time.Second
	DefaultMaxAge      = 72 * time.Hour
	DefaultBackoffBase = 10 * time.Second
	DefaultBackoffCap  = time.Hour
)

// minBackoff is the shortest wait before a failed message is due again.
const minBackoff = time.Second

// maxLastError bounds the error a failed message keeps; it is shown to the
// merchant's people, so it is one line of text.
const maxLastError = 480

// recordTimeout bounds the store calls that record a result; they run even
// when the worker is stopping, so that a delivered notification is not sent
// again only because the process shut down.
const recordTimeout = 20 * time.Second

// Worker delivers outbox messages. Set the stores, and any setting that
// should differ from its default, before the first Run or Tick; then a
// Worker may be used from one goroutine at a time. Run several Workers (on
// one node or several) for more throughput: each claims its own messages.
type Worker struct {
	Outbox    Outbox
	Merchants Merchants

	// Client sends notifications. Nil: a client with a Timeout of
	// Timeout that keeps up to Concurrency connections to a host open
	// between deliveries (Go's default transport keeps 2: with more
	// deliveries in flight to one merchant, every other one connected
	// anew). Whatever the client, redirects are not followed: a 3xx is a
	// failed attempt, so that a notification never ends up at a host the
	// merchant did not configure.
	Client *http.Client

	// ID names the worker in the leases it takes; it must differ between
	// workers. Default: host name, process id and a random suffix.
	ID string

	// Timeout bounds one delivery, from connecting to the last byte of the
	// answer read. Default 10 s.
	Timeout time.Duration

	// Lease is how long a claimed message stays with this worker before
	// another may take it over. It must be longer than Timeout; a claim
	// takes no more messages than Concurrency workers can send within it.
	// Default 60 s.
	Lease time.Duration

	// Batch is the most messages claimed at once. Default 50.
	Batch int

	// Concurrency is how many deliveries run at the same time. Messages of
	// one payment are sent one after the other, oldest first. Default 16:
	// a delivery mostly waits (for the merchant, and for the database and
	// the CPU on a busy node), and with 4 a node starting 700 payments a
	// second delivered under 200 notifications a second while it did.
	Concurrency int

	// Poll is how long Run waits when nothing was due. Default 1 s.
	Poll time.Duration

	// MaxAge is how long after the state change a failing message is
	// retried; the first failure after it dead-letters the message.
	// Default 72 h.
	MaxAge time.Duration

	// BackoffBase and BackoffCap shape the wait after a failed attempt:
	// random in [0, min(BackoffCap, BackoffBase·2^(attempts-1))] (full
	// jitter), and at least 1 s. Defaults 10 s and 1 h.
	BackoffBase time.Duration
	BackoffCap  time.Duration

	// Rand draws the jitter; tests set it. Nil: the process's source.
	Rand mathrand.Source

	// Now returns the current time; tests replace it. Default time.Now.
	Now func() time.Time

	// Logger receives one line per failed attempt and per problem of the
	// worker itself. Default slog.Default().
	Logger *slog.Logger

	// Metrics, when set, count attempts and failures and track the age of
	// the oldest undelivered message.
	Metrics *Metrics

	once       sync.Once
	client     *http.Client
	claimLimit int
	randMu     sync.Mutex
	rand       *mathrand.Rand
}

// setup fills in the defaults once.
func (w *Worker) setup() {
	w.once.Do(func() {
		if w.Timeout <= 0 {
			w.Timeout = DefaultTimeout
		}
		if w.Lease <= 0 {
			w.Lease = DefaultLease
		}
		if w.Batch <= 0 {
			w.Batch = DefaultBatch
		}
		if w.Concurrency <= 0 {
			w.Concurrency = DefaultConcurrency
		}
		if w.Poll <= 0 {
			w.Poll = DefaultPoll
		}
		if w.MaxAge <= 0 {
			w.MaxAge = DefaultMaxAge
		}
		if w.BackoffBase <= 0 {
			w.BackoffBase = DefaultBackoffBase
		}
		if w.BackoffCap <= 0 {
			w.BackoffCap = DefaultBackoffCap
		}
		if w.BackoffCap < w.BackoffBase {
			w.BackoffCap = w.BackoffBase
		}
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Logger == nil {
			w.Logger = slog.Default()
		}
		if w.ID == "" {
			w.ID = defaultID()
		}
		if w.Rand != nil {
			w.rand = mathrand.New(w.Rand)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = w.Concurrency
		t.MaxIdleConns = max(t.MaxIdleConns, 4*w.Concurrency)
		c := http.Client{Timeout: w.Timeout, Transport: t}
		if w.Client != nil {
			c = *w.Client
		}
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		w.client = &c
		// Claim no more than the deliveries can finish within the lease
		// even if every one of them times out.
		rounds := max(int((w.Lease-minBackoff)/w.Timeout), 1)
		w.claimLimit = min(w.Batch, w.Concurrency*rounds)
	})
}

func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Run delivers messages until ctx is done: it claims a batch, delivers it,
// records the results, and claims again at once when the batch was not
// empty, otherwise after Poll. Deliveries in flight when ctx ends are
// abandoned without a result; their messages are due again when the lease
// runs out. Run returns nil when ctx is done, and an error only when the
// settings cannot work (Lease not longer than Timeout).
func (w *Worker) Run(ctx context.Context) error {
	w.setup()
	if w.Lease <= w.Timeout {
		return fmt.Errorf("notify: the lease (%s) must be longer than the delivery timeout (%s)", w.Lease, w.Timeout)
	}
	w.Logger.Info("notification worker started", "worker", w.ID, "lease", w.Lease, "batch", w.claimLimit, "concurrency", w.Concurrency)
	defer w.Logger.Info("notification worker stopped", "worker", w.ID)
	for ctx.Err() == nil {
		n, err := w.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.Error("notification round failed", "worker", w.ID, "error", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(w.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// Tick runs one round: it claims the messages that are due, delivers them
// and records each result. It returns how many messages it claimed, and an
// error when claiming failed or a result could not be recorded (a message
// whose result is lost is due again when its lease runs out). A lease lost
// to another worker is not an error: the other worker delivers the message,
// and the merchant may get it twice.
func (w *Worker) Tick(ctx context.Context) (int, error) {
	w.setup()
	now := w.Now()
	msgs, err := w.Outbox.ClaimOutbox(ctx, w.ID, now, w.Lease, w.claimLimit)
	if err != nil {
		return 0, fmt.Errorf("notify: claiming messages: %w", err)
	}
	var errs []error
	if len(msgs) > 0 {
		errs = w.deliverAll(ctx, msgs, now.Add(w.Lease))
	}
	if w.Metrics != nil && ctx.Err() == nil {
		oldest, err := w.Outbox.OldestUndelivered(ctx)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("notify: reading the oldest undelivered message: %w", err))
		case oldest.IsZero():
			w.Metrics.setOldest(0)
		default:
			w.Metrics.setOldest(w.Now().Sub(oldest))
		}
	}
	return len(msgs), errors.Join(errs...)
}

// round is what one Tick shares between its deliveries.
type round struct {
	leaseEnd time.Time

	mu        sync.Mutex
	merchants map[string]*merchantRead // read once a round, by the first delivery that needs it
	// unreachable holds the endpoints (scheme and host) that timed out or
	// could not be connected to in this round: further messages to them are
	// failed at once, so that one merchant's dead server does not hold up
	// everyone else's notifications for a timeout per message.
	unreachable map[string]*failure
	errs        []error
	// delivered are the deliveries not yet marked, since the oldest was
	// added: they are marked together (markBatch at a time, or when the
	// oldest has waited markWait, or at the round's end).
	delivered []paywire.OutboxMessage
	since     time.Time
}

// How deliveries are marked: together, in one statement, at most
// markBatch of them, none waiting much longer than markWait (unless every
// delivery of the round is still waiting for its merchant; the round's
// end marks them then). Until it is marked, a delivered message would be
// sent again if the process died.
const (
	markBatch = 32
	markWait  = 100 * time.Millisecond
)

func (w *Worker) deliverAll(ctx context.Context, msgs []paywire.OutboxMessage, leaseEnd time.Time) []error {
	r := &round{
		leaseEnd:    leaseEnd,
		merchants:   make(map[string]*merchantRead),
		unreachable: make(map[string]*failure),
	}
	// Group by payment, keeping the claim's order (oldest first), so that
	// a payment's notifications leave in sequence.
	var groups [][]paywire.OutboxMessage
	index := make(map[string]int)
	for _, m := range msgs {
		i, ok := index[m.PaymentID]
		if !ok {
			i = len(groups)
			index[m.PaymentID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], m)
	}
	work := make(chan []paywire.OutboxMessage)
	var wg sync.WaitGroup
	for range min(w.Concurrency, len(groups)) {
		wg.Go(func() {
			for g := range work {
				for _, m := range g {
					if ctx.Err() != nil {
						break
					}
					w.handle(ctx, r, m)
				}
			}
		})
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
	w.mark(ctx, r, r.take(true))
	return r.errs
}

// take returns the deliveries to mark now: all of them with all, else a
// batch when it is full or its oldest has waited long enough.
func (r *round) take(all bool) []paywire.OutboxMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.delivered) == 0 || !all && len(r.delivered) < markBatch && time.Since(r.since) < markWait {
		return nil
	}
	batch := r.delivered
	r.delivered = nil
	return batch
}

// mark records deliveries, in one statement.
func (w *Worker) mark(ctx context.Context, r *round, msgs []paywire.OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	lost, err := w.Outbox.DeliveredOutbox(rctx, ids, w.ID, w.Now())
	if err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, fmt.Errorf("notify: recording the delivery of %d outbox messages: %w", len(ids), err))
		r.mu.Unlock()
		return
	}
	for _, m := range msgs {
		if slices.Contains(lost, m.ID) {
			// The lease ran out and another worker claimed the message:
			// its result counts. The merchant may get it twice.
			w.Logger.Warn("notification result not recorded: another worker took the message over", "delivered", true,
				"worker", w.ID, "outbox_id", m.ID, "event_id", m.EventID, "payment_id", m.PaymentID, "seq", m.Seq)
			w.Metrics.lostLease()
			continue
		}
		w.Metrics.attempt(resultDelivered, "")
	}
}

// handle delivers one claimed message and records the result (a delivery
// with others, see round.take).
func (w *Worker) handle(ctx context.Context, r *round, m paywire.OutboxMessage) {
	log := w.Logger.With("worker", w.ID, "outbox_id", m.ID, "event_id", m.EventID, "payment_id", m.PaymentID, "seq", m.Seq)
	if start := w.Now(); start.Add(w.Timeout).After(r.leaseEnd) {
		// Sending now could outlast the lease, and another worker could
		// send it at the same time. Leave it to the lease.
		log.Warn("notification not sent: the lease would run out before the delivery timeout; it is due again when the lease ends")
		return
	}
	f := w.deliver(ctx, r, m)
	if f != nil && ctx.Err() != nil {
		log.Info("notification abandoned: the worker is stopping; it is due again when the lease ends")
		return
	}

	if f == nil {
		r.mu.Lock()
		if len(r.delivered) == 0 {
			r.since = time.Now()
		}
		r.delivered = append(r.delivered, m)
		r.mu.Unlock()
		w.mark(ctx, r, r.take(false))
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := w.Now()
	var err error
	switch {
	case f.nowhere:
		// Retrying cannot help until the merchant sets a URL, and then a
		// resend sends it.
		err = w.Outbox.NoEndpointOutbox(rctx, m.ID, w.ID, printable([]byte(f.Error()), maxLastError))
		if err == nil {
			log.Info("notification kept without sending: the merchant has no notification URL; a resend sends it")
			w.Metrics.attempt(resultNoEndpoint, f.reason)
		}
	default:
		dead := now.Sub(m.CreatedAt) >= w.MaxAge
		next := now.Add(w.backoff(m.Attempts))
		err = w.Outbox.FailedOutbox(rctx, m.ID, w.ID, printable([]byte(f.Error()), maxLastError), next, dead)
		if err == nil {
			result := resultFailed
			if dead {
				result = resultDead
				log.Error("notification dead-lettered: it failed for longer than the maximum age", "attempts", m.Attempts, "max_age", w.MaxAge, "error", f.Error())
			} else {
				log.Warn("notification failed; retrying later", "attempts", m.Attempts, "next_attempt", next, "error", f.Error())
			}
			w.Metrics.attempt(result, f.reason)
		}
	}
	switch {
	case err == nil:
	case paywire.ErrorCode(err) == paywire.ECONFLICT:
		// The lease ran out and another worker claimed the message: its
		// result counts. The merchant may get the notification twice.
		log.Warn("notification result not recorded: another worker took the message over", "delivered", false)
		w.Metrics.lostLease()
	default:
		r.mu.Lock()
		r.errs = append(r.errs, fmt.Errorf("notify: recording the result of outbox message %d: %w", m.ID, err))
		r.mu.Unlock()
	}
}

// deliver sends one message and returns nil when the merchant took it.
func (w *Worker) deliver(ctx context.Context, r *round, m paywire.OutboxMessage) *failure {
	mer, target, err := w.destination(ctx, r, m)
	if err != nil {
		return fail(reasonInternal, "%v", err)
	}
	if target == "" {
		f := fail(reasonNoURL, "no notification URL: neither the payment nor the merchant has one")
		f.nowhere = true
		return f
	}
	u, err := url.Parse(target)
	if err != nil {
		return fail(reasonNoURL, "the notification URL is not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fail(reasonNoURL, "the notification URL %q is not an http(s) URL", printable([]byte(u.Redacted()), 200))
	}
	endpoint := u.Scheme + "://" + u.Host
	r.mu.Lock()
	down := r.unreachable[endpoint]
	r.mu.Unlock()
	if down != nil {
		return fail(down.reason, "not sent: an earlier delivery to %s in the same round failed (%s)", endpoint, down.detail)
	}

	req, err := render(mer.NotificationFormat, m.Payload)
	if err != nil {
		return fail(reasonInternal, "%v", err)
	}
	f := w.post(ctx, target, mer, m, req)
	if f != nil && (f.reason == reasonTimeout || f.reason == reasonNetwork) && ctx.Err() == nil {
		r.mu.Lock()
		r.unreachable[endpoint] = f
		r.mu.Unlock()
	}
	return f
}

// destination reads the merchant and the URL to send to: the payment's own
// notification URL, or else the merchant's.
func (w *Worker) destination(ctx context.Context, r *round, m paywire.OutboxMessage) (*paywire.Merchant, string, error) {
	r.mu.Lock()
	read := r.merchants[m.MerchantID]
	if read == nil {
		read = &merchantRead{}
		r.merchants[m.MerchantID] = read
	}
	r.mu.Unlock()
	// The others wait for the first: one read a merchant a round, however
	// many of its notifications go out at once.
	read.once.Do(func() { read.m, read.err = w.Merchants.Merchant(ctx, m.MerchantID) })
	if read.err != nil {
		return nil, "", fmt.Errorf("reading merchant %s: %v", m.MerchantID, read.err)
	}
	if m.PaymentNotificationURL != "" {
		return read.m, m.PaymentNotificationURL, nil
	}
	return read.m, read.m.NotificationURL, nil
}

// merchantRead is a round's read of a merchant.
type merchantRead struct {
	once sync.Once
	m    *paywire.Merchant
	err  error
}

// post sends the request, signed, and judges the answer.
func (w *Worker) post(ctx context.Context, target string, mer *paywire.Merchant, m paywire.OutboxMessage, req *request) *failure {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(req.body))
	if err != nil {
		return fail(reasonNoURL, "the notification URL cannot be used: %v", err)
	}
	hr.Header.Set("Content-Type", req.contentType)
	if req.soapAction != "" {
		hr.Header.Set("SOAPAction", req.soapAction)
	}
	hr.Header.Set("User-Agent", "Paywire-Notifications/1")
	hr.Header.Set(EventIDHeader, m.EventID)
	hr.Header.Set(SequenceHeader, strconv.FormatInt(m.Seq, 10))
	hr.Header.Set(SignatureHeader, Sign([]string{mer.SigningSecret, mer.PreviousSigningSecret}, w.Now(), req.body))

	start := time.Now()
	resp, err := w.client.Do(hr)
	if err != nil {
		w.Metrics.delivery(time.Since(start))
		return transportFailure(err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	// Drain a little more so that the connection can be reused, but never
	// wait long for a merchant that keeps sending.
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponse)
	resp.Body.Close()
	w.Metrics.delivery(time.Since(start))
	if err != nil {
		return transportFailure(err)
	}
	return judge(mer.NotificationFormat, resp.StatusCode, body)
}

func transportFailure(err error) *failure {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fail(reasonTimeout, "no answer within the delivery timeout: %v", err)
	}
	return fail(reasonNetwork, "%v", err)
}

// backoff returns the wait after the attempts-th failed attempt.
func (w *Worker) backoff(attempts int) time.Duration {
	ceiling := w.BackoffBase
	for i := 1; i < attempts && ceiling < w.BackoffCap; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, w.BackoffCap)
	var d time.Duration
	if w.rand != nil {
		w.randMu.Lock()
		d = time.Duration(w.rand.Int64N(int64(ceiling) + 1))
		w.randMu.Unlock()
	} else {
		d = time.Duration(mathrand.Int64N(int64(ceiling) + 1))
	}
	return max(d, minBackoff)
}
