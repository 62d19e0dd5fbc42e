package sandbox

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// Methods the sandbox takes, as the hosted pages name them.
const (
	methodCard   = "card"
	methodBank   = "bank_redirect"
	methodWallet = "ewallet"
)

// hangFor is how long the timeout test card keeps the caller waiting when
// its context has no deadline.
const hangFor = 30 * time.Second

// maxIDLen bounds the identifiers a caller hands in.
const maxIDLen = 128

// Authorize takes a payment from the hosted pages. A card is decided by
// its number (see docs/sandbox.md): Approved, Declined, Failed, Pending
// with the 3-D Secure challenge page, Pending until a webhook, or no answer
// until ctx ends. A bank redirect is Pending with the bank login page; an
// e-wallet payment is Pending until its captured webhook. Returns EINVALID
// for a malformed request, EIDEMPOTENCY or EINPROGRESS for a reused key,
// and EUNAVAILABLE when ctx ends first.
func (a *Acquirer) Authorize(ctx context.Context, req adapters.AuthorizeRequest) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Authorize"
	if err := a.pause(ctx, op, a.cfg.Latency); err != nil {
		return adapters.Result{}, err
	}
	if err := validAuthorize(req); err != nil {
		err.Op = op
		return adapters.Result{}, err
	}
	last4 := ""
	if req.Card != nil {
		last4 = lastFour(req.Card.Number)
	}
	request := strings.Join([]string{"authorize", req.PaymentID, string(req.Kind), req.Amount.String(),
		req.Method, last4, req.Bank, req.Wallet, req.ReturnURL}, "\x00")
	return a.once(op, req.IdempotencyKey, request, func() (adapters.Result, error) {
		return a.authorize(ctx, op, req)
	})
}

func validAuthorize(req adapters.AuthorizeRequest) *paywire.Error {
	if err := validPayment(req.PaymentID, req.Amount); err != nil {
		return err
	}
	if req.ReturnURL != "" && returnOrigin(req.ReturnURL) == "" {
		return paywire.Errorf(paywire.EINVALID, "the return URL must be an absolute http or https URL")
	}
	switch req.Method {
	case methodCard:
		if req.Card == nil {
			return paywire.Errorf(paywire.EINVALID, "a card payment needs the card")
		}
	case methodBank:
		if req.Bank == "" || len(req.Bank) > maxIDLen {
			return paywire.Errorf(paywire.EINVALID, "a bank redirect needs the bank")
		}
		if req.ReturnURL == "" {
			return paywire.Errorf(paywire.EINVALID, "a bank redirect needs a return URL")
		}
	case methodWallet:
		if req.Wallet == "" || len(req.Wallet) > 254 {
			return paywire.Errorf(paywire.EINVALID, "an e-wallet payment needs the wallet account")
		}
	default:
		return paywire.Errorf(paywire.EINVALID, "the sandbox does not take method %q", truncate(req.Method, 32))
	}
	return nil
}

func validPayment(paymentID string, amount paywire.Money) *paywire.Error {
	if paymentID == "" || len(paymentID) > maxIDLen {
		return paywire.Errorf(paywire.EINVALID, "the payment id must have 1 to %d characters", maxIDLen)
	}
	if !amount.Currency.Payable() || amount.Amount <= 0 {
		return paywire.Errorf(paywire.EINVALID, "the amount must be positive, in a currency with a minor unit")
	}
	return nil
}

func (a *Acquirer) authorize(ctx context.Context, op string, req adapters.AuthorizeRequest) (adapters.Result, error) {
	r := &record{
		reference: newID("sbx_"),
		paymentID: req.PaymentID,
		kind:      req.Kind,
		method:    req.Method,
		amount:    req.Amount,
		created:   a.cfg.Now(),
		returnURL: req.ReturnURL,
	}
	switch req.Method {
	case methodBank:
		r.state, r.page, r.nonce, r.bank = stateBankLogin, "bank", newID(""), req.Bank
	case methodWallet:
		r.state, r.wallet = statePending, req.Wallet
	default:
		card := req.Card
		r.brand, r.last4 = brand(card.Number), lastFour(card.Number)
		if err := a.decideCard(ctx, op, r, card); err != nil {
			a.log.Warn("authorization timed out", "payment", r.paymentID, "card", r.brand+" "+r.last4)
			return adapters.Result{}, err
		}
	}

	a.mu.Lock()
	a.add(r)
	res := r.result(a.cfg.BaseURL, a.cfg.Name)
	a.mu.Unlock()

	switch {
	case r.state == statePending && r.method == methodWallet:
		a.later(r.reference, func(r *record) (adapters.WebhookEvent, bool) {
			r.state, r.captured = stateAuthorized, r.amount.Amount
			a.book(r, "capture", r.amount.Amount)
			return a.event(adapters.EventCaptured, r, r.amount.Amount), true
		})
	case r.state == statePending:
		a.later(r.reference, func(r *record) (adapters.WebhookEvent, bool) {
			r.state = stateAuthorized
			return a.event(adapters.EventAuthorized, r, r.amount.Amount), true
		})
	}
	a.log.Info("authorization", "payment", r.paymentID, "reference", r.reference, "method", r.method,
		"card", strings.TrimSpace(r.brand+" "+r.last4), "amount", r.amount.String(), "status", string(res.Status), "code", res.Code)
	return res, nil
}

// decideCard sets the card payment's state from its number, expiry and the
// approval rate. It returns an error only for the timeout card.
func (a *Acquirer) decideCard(ctx context.Context, op string, r *record, card *adapters.Card) error {
	decline := func(code string) { r.state, r.code = stateDeclined, code }
	if !luhnValid(card.Number) {
		decline("invalid_card")
		return nil
	}
	if card.ExpiryYear != 0 {
		now := a.cfg.Now()
		if card.ExpiryMonth < 1 || card.ExpiryMonth > 12 {
			decline("invalid_expiry")
			return nil
		}
		if card.ExpiryYear < now.Year() || (card.ExpiryYear == now.Year() && card.ExpiryMonth < int(now.Month())) {
			decline("expired_card")
			return nil
		}
	}
	switch testCards[card.Number] {
	case behaveApprove:
		r.state = stateAuthorized
	case behaveDoNotHonor:
		decline("do_not_honor")
	case behaveInsufficientFunds:
		decline("insufficient_funds")
	case behaveChallenge:
		if r.returnURL == "" {
			return &paywire.Error{Code: paywire.EINVALID, Op: op, Message: "a 3-D Secure challenge needs a return URL"}
		}
		r.state, r.page, r.nonce = stateChallenge, "challenge", newID("")
	case behaveProcessingError:
		r.state, r.code = stateFailed, "processing_error"
	case behaveTimeout:
		t := time.NewTimer(hangFor)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return &paywire.Error{Code: paywire.EUNAVAILABLE, Op: op, Err: ctx.Err(),
			Message: a.cfg.Name + " did not answer the authorization"}
	case behavePendingWebhook:
		r.state = statePending
	case behaveSoftDecline:
		decline("acquirer_declined")
		r.soft = true
	default:
		if approves(r.paymentID, a.cfg.ApprovalRate) {
			r.state = stateAuthorized
		} else {
			// The approval rate stands for this acquirer's own rules:
			// another acquirer may approve the same card.
			decline("acquirer_declined")
			r.soft = true
		}
	}
	return nil
}

// Capture captures an authorized payment, in one go or in parts; a zero
// amount captures what is left. Declines (invalid_state,
// amount_exceeds_authorized) what the authorization does not cover.
// Returns ENOTFOUND for a payment the instance does not hold and EINVALID
// for an amount in another currency.
func (a *Acquirer) Capture(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return a.operate(ctx, "capture", o, func(r *record, amount int64) (adapters.Result, error) {
		if r.state != stateAuthorized {
			return declined(r, "invalid_state", "the payment is not authorized"), nil
		}
		left := r.amount.Amount - r.captured
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return declined(r, "amount_exceeds_authorized", "the amount exceeds what is left of the authorization"), nil
		}
		r.captured += amount
		a.book(r, "capture", amount)
		return approved(r, "captured "+money(amount, r.amount.Currency)), nil
	})
}

// Void cancels an authorization before any capture, or a payment still
// waiting for the end user or a webhook. Voiding again is approved;
// anything else is declined (invalid_state). Returns ENOTFOUND for a
// payment the instance does not hold.
func (a *Acquirer) Void(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	o.Amount = paywire.Money{}
	return a.operate(ctx, "void", o, func(r *record, _ int64) (adapters.Result, error) {
		switch {
		case r.state == stateVoided:
			return approved(r, "already cancelled"), nil
		case r.state == stateAuthorized && r.captured == 0,
			r.state == stateChallenge, r.state == stateBankLogin, r.state == statePending:
			r.state, r.code = stateVoided, "cancelled"
			return approved(r, "cancelled"), nil
		}
		return declined(r, "invalid_state", "only an uncaptured authorization can be cancelled"), nil
	})
}

// Refund refunds captured money, in one go or in parts; a zero amount
// refunds what is left. Declines (invalid_state, amount_exceeds_captured)
// what the captures do not cover. Returns ENOTFOUND for a payment the
// instance does not hold and EINVALID for an amount in another currency.
func (a *Acquirer) Refund(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return a.operate(ctx, "refund", o, func(r *record, amount int64) (adapters.Result, error) {
		if r.kind == paywire.KindWithdrawal || r.captured == 0 {
			return declined(r, "invalid_state", "nothing was captured"), nil
		}
		left := r.captured - r.refunded - r.chargedBack
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return declined(r, "amount_exceeds_captured", "the amount exceeds what is left of the captures"), nil
		}
		r.refunded += amount
		a.book(r, "refund", amount)
		return approved(r, "refunded "+money(amount, r.amount.Currency)), nil
	})
}

// operate runs a follow-up operation on a payment under the instance's
// lock, once per idempotency key.
func (a *Acquirer) operate(ctx context.Context, name string, o adapters.Operation, fn func(r *record, amount int64) (adapters.Result, error)) (adapters.Result, error) {
	op := "sandbox/Acquirer." + strings.ToUpper(name[:1]) + name[1:]
	if err := a.pause(ctx, op, a.cfg.Latency); err != nil {
		return adapters.Result{}, err
	}
	request := strings.Join([]string{name, o.PaymentID, o.ProviderReference, o.Amount.String()}, "\x00")
	return a.once(op, o.IdempotencyKey, request, func() (adapters.Result, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		r, err := a.find(op, o.ProviderReference, o.PaymentID)
		if err != nil {
			return adapters.Result{}, err
		}
		if o.Amount.Amount < 0 || (o.Amount.Amount != 0 && o.Amount.Currency.Code != r.amount.Currency.Code) {
			return adapters.Result{}, &paywire.Error{Code: paywire.EINVALID, Op: op,
				Message: fmt.Sprintf("the amount must be positive and in %s", r.amount.Currency.Code)}
		}
		res, err := fn(r, o.Amount.Amount)
		if err == nil {
			a.log.Info(name, "payment", r.paymentID, "reference", r.reference, "status", string(res.Status),
				"code", res.Code, "message", res.Message)
		}
		return res, err
	})
}

// Pay makes a backend payment (a payout, a repeat deposit) on the stored
// credential of an earlier payment, SourceReference: approved, with the
// money moved at once, when this instance authorized that payment;
// declined (unknown_source) otherwise. Returns EINVALID for a malformed
// request, EIDEMPOTENCY or EINPROGRESS for a reused key, and EUNAVAILABLE
// when ctx ends first.
func (a *Acquirer) Pay(ctx context.Context, p adapters.Payment) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Pay"
	if err := a.pause(ctx, op, a.cfg.Latency); err != nil {
		return adapters.Result{}, err
	}
	if err := validPayment(p.PaymentID, p.Amount); err != nil {
		err.Op = op
		return adapters.Result{}, err
	}
	if !p.Kind.Valid() {
		return adapters.Result{}, &paywire.Error{Code: paywire.EINVALID, Op: op, Message: "the payment kind must be deposit or withdrawal"}
	}
	request := strings.Join([]string{"pay", p.PaymentID, string(p.Kind), p.Amount.String(), p.Method, p.SourceReference}, "\x00")
	return a.once(op, p.IdempotencyKey, request, func() (adapters.Result, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		r := &record{reference: newID("sbx_"), paymentID: p.PaymentID, kind: p.Kind, method: p.Method,
			amount: p.Amount, created: a.cfg.Now()}
		src := a.payments[p.SourceReference]
		if src != nil && src.state == stateAuthorized && src.chargedBack == 0 {
			r.brand, r.last4, r.bank, r.wallet = src.brand, src.last4, src.bank, src.wallet
			r.state, r.captured = stateAuthorized, p.Amount.Amount
			typ := "capture"
			if p.Kind == paywire.KindWithdrawal {
				typ = "payout"
			}
			a.book(r, typ, p.Amount.Amount)
		} else {
			r.state, r.code = stateDeclined, "unknown_source"
		}
		a.add(r)
		res := r.result(a.cfg.BaseURL, a.cfg.Name)
		a.log.Info("backend payment", "payment", r.paymentID, "reference", r.reference, "kind", string(r.kind),
			"amount", r.amount.String(), "status", string(res.Status), "code", res.Code)
		return res, nil
	})
}

// Status tells where a payment stands: Pending (with the page the end
// user must visit, if any), Approved once authorized or captured, Declined
// (also once cancelled), or Failed. Returns ENOTFOUND for a reference the
// instance does not hold and EUNAVAILABLE when ctx ends first.
func (a *Acquirer) Status(ctx context.Context, reference string) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Status"
	if err := a.pause(ctx, op, a.cfg.Latency); err != nil {
		return adapters.Result{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, err := a.find(op, reference, "")
	if err != nil {
		return adapters.Result{}, err
	}
	return r.result(a.cfg.BaseURL, a.cfg.Name), nil
}

// Chargeback simulates the card holder's bank reversing a payment: what is
// captured and not refunded is charged back, booked for the settlement
// report and told by a chargeback webhook. For demos and tests. Returns
// ENOTFOUND for an unknown reference and EINVALID when nothing is left to
// charge back.
func (a *Acquirer) Chargeback(reference string) error {
	const op = "sandbox/Acquirer.Chargeback"
	a.mu.Lock()
	r, err := a.find(op, reference, "")
	if err != nil {
		a.mu.Unlock()
		return err
	}
	left := r.captured - r.refunded - r.chargedBack
	if r.kind == paywire.KindWithdrawal || left <= 0 {
		a.mu.Unlock()
		return &paywire.Error{Code: paywire.EINVALID, Op: op, Message: "nothing captured is left to charge back"}
	}
	r.chargedBack += left
	a.book(r, "chargeback", left)
	ev := a.event(adapters.EventChargeback, r, left)
	a.mu.Unlock()
	a.log.Info("chargeback", "payment", ev.PaymentID, "reference", reference, "amount", ev.Amount)
	a.send(ev)
	return nil
}

// later runs outcome on the payment after WebhookDelay, if the payment is
// still pending then, and sends the webhook it returns.
func (a *Acquirer) later(reference string, outcome func(r *record) (adapters.WebhookEvent, bool)) {
	a.inflight.add()
	go func() {
		defer a.inflight.done()
		t := time.NewTimer(a.cfg.WebhookDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-a.ctx.Done():
			return
		}
		a.mu.Lock()
		r := a.payments[reference]
		if r == nil || r.state != statePending {
			a.mu.Unlock()
			return
		}
		ev, ok := outcome(r)
		a.mu.Unlock()
		if ok {
			a.log.Info("outcome", "payment", ev.PaymentID, "reference", reference, "event", ev.Type)
			a.send(ev)
		}
	}()
}

// book records a movement of money for the settlement report. a.mu must be
// held.
func (a *Acquirer) book(r *record, typ string, amount int64) {
	a.bookings = append(a.bookings, booking{reference: r.reference, paymentID: r.paymentID, typ: typ,
		amount: paywire.Money{Amount: amount, Currency: r.amount.Currency}, at: a.cfg.Now()})
}

// event describes something that happened to a payment, for a webhook.
func (a *Acquirer) event(typ string, r *record, amount int64) adapters.WebhookEvent {
	return adapters.WebhookEvent{ID: newID("evt_"), Type: typ, Reference: r.reference, PaymentID: r.paymentID,
		Amount: amount, Code: r.code, OccurredAt: a.cfg.Now().UTC().Truncate(time.Second)}
}

func approved(r *record, message string) adapters.Result {
	return adapters.Result{Status: adapters.Approved, Reference: r.reference, Message: message}
}

func declined(r *record, code, message string) adapters.Result {
	return adapters.Result{Status: adapters.Declined, Reference: r.reference, Code: code, Message: message}
}

func money(minor int64, c paywire.Currency) string {
	return paywire.Money{Amount: minor, Currency: c}.String()
}

// lastFour is what the sandbox keeps of a card number.
func lastFour(number string) string {
	if len(number) < 4 {
		return ""
	}
	return number[len(number)-4:]
}

// returnOrigin is the scheme://host[:port] of an absolute http(s) URL, in
// lower case and without a default port, "" for anything else (so nothing
// that could end a CSP directive reaches the header).
func returnOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	for _, c := range u.Host {
		ok := c == '.' || c == '-' || c == ':' || c == '[' || c == ']' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return ""
		}
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "http" && strings.HasSuffix(host, ":80")) || (u.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
