package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// SignatureHeader carries a webhook's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>".
const SignatureHeader = "Sandbox-Signature"

// Webhook limits and pacing.
const (
	// SignatureTolerance is how far a webhook's timestamp may be from the
	// receiver's clock, either way.
	SignatureTolerance = 5 * time.Minute
	// MaxWebhookBody is the largest body VerifyWebhook reads.
	MaxWebhookBody = 64 << 10

	maxSignatureHeader = 1024
	deliveryAttempts   = 4
	firstRetryAfter    = 200 * time.Millisecond
	reorderHold        = 2 * time.Second
)

// webhook is a webhook's body on the wire.
type webhook struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Reference  string `json:"reference"`
	PaymentID  string `json:"paymentId"`
	Amount     int64  `json:"amount"`
	Code       string `json:"code"`
	OccurredAt string `json:"occurredAt"`
}

// send queues a webhook for delivery, held back for reordering as
// configured. Webhooks go out one at a time, in queue order.
func (a *Acquirer) send(ev adapters.WebhookEvent) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.inflight.add() // until delivered or given up
	if !a.cfg.ReorderWebhooks {
		a.push(ev)
		return
	}
	if a.held == nil {
		a.held = &ev
		a.heldGen++
		gen := a.heldGen
		a.holdStop = time.AfterFunc(reorderHold, func() { a.release(gen) }).Stop
		return
	}
	first := *a.held
	a.held = nil
	a.holdStop()
	a.push(ev)
	a.push(first)
}

// flushHeld queues a webhook held for reordering on its own.
func (a *Acquirer) flushHeld() { a.release(0) }

// release queues the held webhook on its own if it is the gen'th held (0:
// whichever), so that a hold timer that fires late leaves a newer one alone.
func (a *Acquirer) release(gen uint64) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if a.held != nil && (gen == 0 || gen == a.heldGen) {
		a.holdStop()
		a.push(*a.held)
		a.held = nil
	}
}

// push appends to the delivery queue and starts its worker if none runs.
// a.wmu must be held.
func (a *Acquirer) push(ev adapters.WebhookEvent) {
	a.queue = append(a.queue, ev)
	if !a.draining {
		a.draining = true
		go a.drain()
	}
}

// drain delivers the queue until it is empty.
func (a *Acquirer) drain() {
	for {
		a.wmu.Lock()
		if len(a.queue) == 0 {
			a.draining = false
			a.wmu.Unlock()
			return
		}
		ev := a.queue[0]
		a.queue = a.queue[1:]
		a.wmu.Unlock()
		a.deliver(ev)
		a.inflight.done()
	}
}

// deliver posts one webhook (twice with DuplicateWebhooks), retrying each
// copy a few times with growing pauses until the receiver answers 2xx.
func (a *Acquirer) deliver(ev adapters.WebhookEvent) {
	if a.cfg.WebhookURL == "" {
		return
	}
	body, err := json.Marshal(webhook{ID: ev.ID, Type: ev.Type, Reference: ev.Reference, PaymentID: ev.PaymentID,
		Amount: ev.Amount, Code: ev.Code, OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339)})
	if err != nil {
		a.log.Error("encoding a webhook", "event", ev.ID, "error", err)
		return
	}
	copies := 1
	if a.cfg.DuplicateWebhooks {
		copies = 2
	}
	for range copies {
		a.post(ev, body)
	}
}

func (a *Acquirer) post(ev adapters.WebhookEvent, body []byte) {
	pause := firstRetryAfter
	for attempt := 1; ; attempt++ {
		status, err := a.postOnce(body)
		if err == nil && status >= 200 && status < 300 {
			a.log.Debug("webhook delivered", "event", ev.ID, "type", ev.Type, "reference", ev.Reference, "attempt", attempt)
			return
		}
		if a.ctx.Err() != nil {
			return
		}
		if attempt == deliveryAttempts {
			a.log.Warn("webhook not delivered; giving up", "event", ev.ID, "type", ev.Type,
				"reference", ev.Reference, "status", status, "error", err)
			return
		}
		a.log.Info("webhook not delivered; retrying", "event", ev.ID, "attempt", attempt, "status", status, "error", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			return
		}
		pause *= 2
	}
}

func (a *Acquirer) postOnce(body []byte) (int, error) {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paywire-sandbox/"+a.cfg.Name)
	req.Header.Set(SignatureHeader, Sign(a.cfg.WebhookSecret, a.cfg.Now(), body))
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, nil
}

// Sign returns the Sandbox-Signature header value for body, signed at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks the Sandbox-Signature of a webhook over its raw body
// and reads its event. Any v1 value in the header may match (so that a
// secret can be rotated); the timestamp must be within SignatureTolerance
// of now. Returns EUNAUTHORIZED for a missing, malformed, wrong or stale
// signature, or when no secret is configured, and EINVALID for a body that
// is not one well-formed event (checked only once the signature holds).
func (a *Acquirer) VerifyWebhook(header http.Header, body []byte, now time.Time) ([]adapters.WebhookEvent, error) {
	const op = "sandbox/Acquirer.VerifyWebhook"
	unauthorized := func(msg string) ([]adapters.WebhookEvent, error) {
		return nil, &paywire.Error{Code: paywire.EUNAUTHORIZED, Op: op, Message: msg}
	}
	if len(a.cfg.WebhookSecret) == 0 {
		return unauthorized("no webhook secret is configured")
	}
	sig := header.Get(SignatureHeader)
	if sig == "" {
		return unauthorized("the " + SignatureHeader + " header is missing")
	}
	if len(sig) > maxSignatureHeader {
		return unauthorized("the " + SignatureHeader + " header is too long")
	}
	ts, macs, ok := parseSignature(sig)
	if !ok {
		return unauthorized("the " + SignatureHeader + " header is malformed")
	}
	if len(body) > MaxWebhookBody {
		return nil, &paywire.Error{Code: paywire.EINVALID, Op: op, Message: "the webhook body is too large"}
	}
	want := mac(a.cfg.WebhookSecret, ts, body)
	match := false
	for _, m := range macs {
		if hmac.Equal(m, want) {
			match = true
		}
	}
	if !match {
		return unauthorized("the webhook signature does not match")
	}
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if age := now.Sub(time.Unix(sec, 0)); age > SignatureTolerance || age < -SignatureTolerance {
		return unauthorized("the webhook signature is stale")
	}
	ev, err := parseWebhook(body)
	if err != nil {
		err.Op = op
		return nil, err
	}
	return []adapters.WebhookEvent{ev}, nil
}

// parseSignature splits "t=...,v1=...[,v1=...]". Unknown keys are skipped
// so that later schemes can be added beside v1.
func parseSignature(s string) (ts string, macs [][]byte, ok bool) {
	for part := range strings.SplitSeq(s, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, false
		}
		switch k {
		case "t":
			if ts != "" || v == "" || len(v) > 12 || !digits(v) {
				return "", nil, false
			}
			ts = v
		case "v1":
			m, err := hex.DecodeString(v)
			if err != nil || len(m) != sha256.Size {
				return "", nil, false
			}
			macs = append(macs, m)
		}
	}
	return ts, macs, ts != "" && len(macs) > 0
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// eventTypes are the types a sandbox webhook may carry.
var eventTypes = map[string]bool{
	adapters.EventAuthorized: true, adapters.EventCaptured: true, adapters.EventDeclined: true,
	adapters.EventFailed: true, adapters.EventRefunded: true, adapters.EventCancelled: true,
	adapters.EventChargeback: true,
}

// parseWebhook reads one event from a webhook body.
func parseWebhook(body []byte) (adapters.WebhookEvent, *paywire.Error) {
	invalid := func(msg string) (adapters.WebhookEvent, *paywire.Error) {
		return adapters.WebhookEvent{}, paywire.Errorf(paywire.EINVALID, "webhook: %s", msg)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var w webhook
	if err := dec.Decode(&w); err != nil {
		return invalid("the body is not a JSON event")
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return invalid("the body has more than one JSON value")
	}
	switch {
	case w.ID == "" || len(w.ID) > maxIDLen:
		return invalid("the event id must have 1 to 128 characters")
	case !eventTypes[w.Type]:
		return invalid("unknown event type")
	case w.Reference == "" || len(w.Reference) > maxIDLen:
		return invalid("the reference must have 1 to 128 characters")
	case len(w.PaymentID) > maxIDLen || len(w.Code) > maxIDLen:
		return invalid("paymentId and code have at most 128 characters")
	case w.Amount < 0:
		return invalid("the amount is negative")
	}
	at, err := time.Parse(time.RFC3339, w.OccurredAt)
	if err != nil {
		return invalid("occurredAt is not an RFC 3339 time")
	}
	return adapters.WebhookEvent{ID: w.ID, Type: w.Type, Reference: w.Reference, PaymentID: w.PaymentID,
		Amount: w.Amount, Code: w.Code, OccurredAt: at}, nil
}
