package sandbox

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
)

// Methods the sandbox takes, as the hosted pages name them.
const (
	methodCard   = string(paywire.MethodCard)
	methodBank   = string(paywire.MethodBankRedirect)
	methodWallet = string(paywire.MethodEWallet)
)

// hangFor is how long the timeout test card keeps the caller waiting when
// its context has no deadline.
const hangFor = 30 * time.Second

// maxIDLen bounds the identifiers a caller hands in; maxKeyLen the
// idempotency keys.
const (
	maxIDLen  = 128
	maxKeyLen = 255
)

// Authorize takes a payment from the hosted pages. A card is decided by
// its number (see docs/sandbox.md): Approved, Declined, Failed, Pending
// with the 3-D Secure challenge page (also for a card that would be
// approved when ThreeDS asks for authentication), Pending until the
// provider's own outcome, or authorized without an answer until ctx ends.
// A bank redirect is Pending with the bank login page; an e-wallet payment
// is Pending until it is captured. Returns EINVALID for a malformed
// request, EIDEMPOTENCY or EINPROGRESS for a reused key, and EUNAVAILABLE
// when ctx ends first or the provider's database fails.
func (a *Acquirer) Authorize(ctx context.Context, req adapters.AuthorizeRequest) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Authorize"
	c := a.conduct(a.cfg.Now())
	if err := a.pause(ctx, op, c.latency); err != nil {
		return adapters.Result{}, err
	}
	if err := validAuthorize(req); err != nil {
		err.Op = op
		return adapters.Result{}, err
	}
	last4 := ""
	if req.Card != nil {
		last4 = req.Card.Last4()
	}
	request := strings.Join([]string{"authorize", req.PaymentID, string(req.Kind), req.Amount.String(),
		req.Method, last4, req.Bank, req.Wallet, req.ReturnURL, strconv.FormatBool(req.ThreeDS)}, "\x00")
	return a.once(ctx, op, req.IdempotencyKey, request, func(ctx context.Context, tx bun.Tx, fx *after) (adapters.Result, error) {
		return a.authorize(ctx, tx, fx, op, req, c)
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

// newRecord is a payment as a call starts it.
func (a *Acquirer) newRecord(paymentID string, kind paywire.Kind, method string, amount paywire.Money, key string) *record {
	return &record{
		Provider:       a.cfg.Name,
		Reference:      newID("sbx_"),
		PaymentID:      paymentID,
		Kind:           kind,
		Method:         method,
		Amount:         amount.Amount,
		Currency:       amount.Currency.Code,
		Created:        a.now(),
		IdempotencyKey: key,
	}
}

// pending makes r wait for an outcome that happens WebhookDelay from now.
func (a *Acquirer) pending(r *record, o outcome) {
	r.State, r.DueAt, r.DueOutcome = statePending, a.now().Add(a.cfg.WebhookDelay), o
}

func (a *Acquirer) authorize(ctx context.Context, tx bun.Tx, fx *after, op string, req adapters.AuthorizeRequest, c conduct) (adapters.Result, error) {
	r := a.newRecord(req.PaymentID, req.Kind, req.Method, req.Amount, req.IdempotencyKey)
	r.ReturnURL = req.ReturnURL
	mishap := c.mishap(a.cfg.Name, req.PaymentID)
	switch {
	case mishap == mishapError:
		// A technical error before the payment was accepted: nothing
		// done, whatever the card.
		r.State, r.Code = stateFailed, "processing_error"
		if req.Card != nil {
			r.Brand, r.Last4 = req.Card.Brand(), req.Card.Last4()
		}
	case req.Method == methodBank:
		r.State, r.Page, r.Nonce, r.Bank = stateBankLogin, "bank", newID(""), req.Bank
	case req.Method == methodWallet:
		r.Wallet = req.Wallet
		a.pending(r, outcomeCapture)
	default:
		r.Brand, r.Last4 = req.Card.Brand(), req.Card.Last4()
		if err := a.decideCard(r, req.Card, req.ThreeDS, c); err != nil {
			err.Op = op
			return adapters.Result{}, err
		}
	}
	if r.State == statePending {
		fx.later(r)
	}
	if err := a.insert(ctx, tx, r); err != nil {
		return adapters.Result{}, err
	}
	res := r.result(a.cfg.BaseURL, a.cfg.Name)
	switch {
	case r.Behaviour == behaveTimeout:
		fx.hang = true
		a.log.WarnContext(ctx, "authorization done; its answer will not arrive", "payment_id", r.PaymentID, "reference", r.Reference,
			"card", r.Brand+" "+r.Last4)
	case mishap == mishapLost:
		fx.lost = true
		a.log.WarnContext(ctx, "authorization done; its answer is lost", "payment_id", r.PaymentID, "reference", r.Reference,
			"status", string(res.Status))
	}
	a.log.InfoContext(ctx, "authorization", "payment_id", r.PaymentID, "reference", r.Reference, "method", r.Method,
		"card", strings.TrimSpace(r.Brand+" "+r.Last4), "amount", r.money().String(), "status", string(res.Status), "code", res.Code)
	return res, nil
}

// decideCard sets the card payment's state from its number, expiry, the
// approval rate and whether 3-D Secure is asked for. It returns an error
// only for a challenge without a way back.
func (a *Acquirer) decideCard(r *record, card *paywire.Card, threeDS bool, c conduct) *paywire.Error {
	decline := func(code string) { r.State, r.Code = stateDeclined, code }
	challenge := func() *paywire.Error {
		if r.ReturnURL == "" {
			return paywire.Errorf(paywire.EINVALID, "a 3-D Secure challenge needs a return URL")
		}
		r.State, r.Page, r.Nonce = stateChallenge, "challenge", newID("")
		return nil
	}
	// approve authorizes, unless risk asked for 3-D Secure: then the card
	// holder is challenged first.
	approve := func() *paywire.Error {
		if threeDS {
			return challenge()
		}
		r.State = stateAuthorized
		return nil
	}
	if !paywire.Luhn(card.Number) {
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
	r.Behaviour = testCards[card.Number]
	switch r.Behaviour {
	case behaveApprove:
		return approve()
	case behaveDoNotHonor:
		decline("do_not_honor")
	case behaveInsufficientFunds:
		decline("insufficient_funds")
	case behaveChallenge:
		return challenge()
	case behaveProcessingError:
		r.State, r.Code = stateFailed, "processing_error"
	case behaveTimeout:
		// Authorized, but the caller never hears so (settle withholds
		// the answer): the provider timeout after success a platform must
		// resolve by Status.
		r.State = stateAuthorized
	case behavePendingWebhook:
		a.pending(r, outcomeAuthorize)
	case behaveSoftDecline:
		decline("acquirer_declined")
		r.Soft = true
	default:
		if approves(r.PaymentID, c.approval) {
			return approve()
		}
		if c.hard {
			// Declined for good: no other provider is asked.
			decline("do_not_honor")
			return nil
		}
		// The approval rate stands for this acquirer's own rules:
		// another acquirer may approve the same card.
		decline("acquirer_declined")
		r.Soft = true
	}
	return nil
}

// Capture captures an authorized payment, in one go or in parts; a zero
// amount captures what is left. Declines (invalid_state,
// amount_exceeds_authorized) what the authorization does not cover.
// Returns ENOTFOUND for a payment the instance does not hold and EINVALID
// for an amount in another currency.
func (a *Acquirer) Capture(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return a.operate(ctx, "capture", o, func(ctx context.Context, tx bun.Tx, _ *after, r *record, amount int64) (adapters.Result, error) {
		if r.State != stateAuthorized {
			return declined(r, "invalid_state", "the payment is not authorized"), nil
		}
		left := r.Amount - r.Captured - r.Released
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return declined(r, "amount_exceeds_authorized", "the amount exceeds what is left of the authorization"), nil
		}
		r.Captured += amount
		if err := a.book(ctx, tx, r, "capture", amount, a.now()); err != nil {
			return adapters.Result{}, err
		}
		res := approved(r, "captured "+money(amount, r.Currency))
		res.Captured = true
		return res, nil
	})
}

// Void cancels an authorization before any capture, or a payment still
// waiting for the end user or the provider's outcome; of a partly
// captured authorization it releases what is left. Voiding again, or a
// payment the end user cancelled, is approved; anything else is declined
// (invalid_state). Returns ENOTFOUND for a payment the instance does not
// hold.
func (a *Acquirer) Void(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	o.Amount = paywire.Money{}
	return a.operate(ctx, "void", o, func(ctx context.Context, tx bun.Tx, fx *after, r *record, _ int64) (adapters.Result, error) {
		left := r.Amount - r.Captured - r.Released
		switch {
		case r.State == stateVoided, r.State == stateCancelled:
			return approved(r, "already cancelled"), nil
		case r.State == stateAuthorized && r.Captured == 0 && r.Released == 0,
			r.State == stateChallenge, r.State == stateBankLogin, r.State == statePending:
			r.State, r.Code = stateVoided, "cancelled"
			r.DueAt, r.DueOutcome = time.Time{}, outcomeNone
			fx.ended = append(fx.ended, r.Reference)
			return approved(r, "cancelled"), nil
		case r.State == stateAuthorized && r.Captured > 0 && left > 0:
			r.Released += left
			return approved(r, "released "+money(left, r.Currency)), nil
		case r.State == stateAuthorized && r.Released > 0 && left == 0:
			return approved(r, "already released"), nil
		}
		return declined(r, "invalid_state", "nothing of the authorization is left to cancel"), nil
	})
}

// Refund refunds captured money, in one go or in parts; a zero amount
// refunds what is left. Declines (invalid_state, amount_exceeds_captured)
// what the captures do not cover. Returns ENOTFOUND for a payment the
// instance does not hold and EINVALID for an amount in another currency.
func (a *Acquirer) Refund(ctx context.Context, o adapters.Operation) (adapters.Result, error) {
	return a.operate(ctx, "refund", o, func(ctx context.Context, tx bun.Tx, _ *after, r *record, amount int64) (adapters.Result, error) {
		if r.Kind == paywire.KindWithdrawal || r.Captured == 0 {
			return declined(r, "invalid_state", "nothing was captured"), nil
		}
		left := r.Captured - r.Refunded - r.ChargedBack
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return declined(r, "amount_exceeds_captured", "the amount exceeds what is left of the captures"), nil
		}
		r.Refunded += amount
		if err := a.book(ctx, tx, r, "refund", amount, a.now()); err != nil {
			return adapters.Result{}, err
		}
		return approved(r, "refunded "+money(amount, r.Currency)), nil
	})
}

// operate runs a follow-up operation on a payment in one transaction that
// locks it, once per idempotency key.
func (a *Acquirer) operate(ctx context.Context, name string, o adapters.Operation,
	fn func(ctx context.Context, tx bun.Tx, fx *after, r *record, amount int64) (adapters.Result, error)) (adapters.Result, error) {
	op := "sandbox/Acquirer." + strings.ToUpper(name[:1]) + name[1:]
	if err := a.pause(ctx, op, a.conduct(a.cfg.Now()).latency); err != nil {
		return adapters.Result{}, err
	}
	request := strings.Join([]string{name, o.PaymentID, o.ProviderReference, o.Amount.String()}, "\x00")
	return a.once(ctx, op, o.IdempotencyKey, request, func(ctx context.Context, tx bun.Tx, fx *after) (adapters.Result, error) {
		r, err := a.lock(ctx, tx, lookup{reference: o.ProviderReference, paymentID: o.PaymentID}, fx)
		if err != nil {
			return adapters.Result{}, err
		}
		if r == nil {
			return adapters.Result{}, a.notFound(op, o.ProviderReference, o.PaymentID)
		}
		if o.Amount.Amount < 0 || (o.Amount.Amount != 0 && o.Amount.Currency.Code != r.Currency) {
			return adapters.Result{}, &paywire.Error{Code: paywire.EINVALID, Op: op,
				Message: fmt.Sprintf("the amount must be positive and in %s", r.Currency)}
		}
		res, err := fn(ctx, tx, fx, r, o.Amount.Amount)
		if err != nil {
			return adapters.Result{}, err
		}
		if err := a.save(ctx, tx, r); err != nil {
			return adapters.Result{}, err
		}
		a.log.InfoContext(ctx, name, "payment_id", r.PaymentID, "reference", r.Reference, "status", string(res.Status),
			"code", res.Code, "message", res.Message)
		return res, nil
	})
}

func (a *Acquirer) notFound(op, reference, paymentID string) *paywire.Error {
	what := reference
	if what == "" {
		what = paymentID
	}
	return &paywire.Error{Code: paywire.ENOTFOUND, Op: op,
		Message: fmt.Sprintf("%s holds no payment %q", a.cfg.Name, truncate(what, maxIDLen))}
}

// Pay makes a backend payment (a payout, a repeat deposit) on the stored
// credential of an earlier payment, SourceReference: approved, with the
// money moved at once, when this instance authorized that payment;
// declined (unknown_source) otherwise. The source's test card carries
// over: on 4000000000000077 the payment is Pending and moves the money
// after WebhookDelay; on 4000000000000010 it is done but answered with
// EUNAVAILABLE when ctx ends. Returns EINVALID for a malformed request,
// EIDEMPOTENCY or EINPROGRESS for a reused key, and EUNAVAILABLE when ctx
// ends first.
func (a *Acquirer) Pay(ctx context.Context, p adapters.Payment) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Pay"
	c := a.conduct(a.cfg.Now())
	if err := a.pause(ctx, op, c.latency); err != nil {
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
	return a.once(ctx, op, p.IdempotencyKey, request, func(ctx context.Context, tx bun.Tx, fx *after) (adapters.Result, error) {
		r := a.newRecord(p.PaymentID, p.Kind, p.Method, p.Amount, p.IdempotencyKey)
		mishap := c.mishap(a.cfg.Name, p.PaymentID)
		var src *record
		if p.SourceReference != "" && mishap != mishapError {
			var err error
			if src, err = a.lock(ctx, tx, lookup{reference: p.SourceReference}, fx); err != nil {
				return adapters.Result{}, err
			}
		}
		switch {
		case mishap == mishapError:
			r.State, r.Code = stateFailed, "processing_error" // nothing done
		case src == nil || src.State != stateAuthorized || src.ChargedBack > 0:
			r.State, r.Code = stateDeclined, "unknown_source"
		case src.Behaviour == behavePendingWebhook:
			r.Brand, r.Last4, r.Bank, r.Wallet, r.Behaviour = src.Brand, src.Last4, src.Bank, src.Wallet, src.Behaviour
			a.pending(r, outcomeCapture)
			fx.later(r)
		default:
			r.Brand, r.Last4, r.Bank, r.Wallet, r.Behaviour = src.Brand, src.Last4, src.Bank, src.Wallet, src.Behaviour
			r.State, r.Captured, r.Sale = stateAuthorized, r.Amount, true
			if err := a.book(ctx, tx, r, bookingType(r.Kind), r.Amount, r.Created); err != nil {
				return adapters.Result{}, err
			}
			// The timeout card's credential: the payment is done, its
			// answer lost.
			fx.hang = src.Behaviour == behaveTimeout
		}
		fx.lost = mishap == mishapLost && !fx.hang
		if err := a.insert(ctx, tx, r); err != nil {
			return adapters.Result{}, err
		}
		res := r.result(a.cfg.BaseURL, a.cfg.Name)
		a.log.InfoContext(ctx, "backend payment", "payment_id", r.PaymentID, "reference", r.Reference, "kind", string(r.Kind),
			"amount", r.money().String(), "status", string(res.Status), "code", res.Code)
		return res, nil
	})
}

// Status tells where a payment stands: Pending (with the page the end
// user must visit, if any), Approved once authorized or captured (Captured
// when the approval moved the whole amount at once), Declined, Cancelled
// (by the end user on the provider's page, or by a void), or Failed. It
// finds the payment by its reference or, when that is unknown, by the
// idempotency key of the Authorize or Pay call that created it; with a
// PaymentID, only a payment of that id. Returns EINVALID when the request
// names neither, ENOTFOUND when the instance holds no such payment (the
// call never reached it) and EUNAVAILABLE when ctx ends first.
func (a *Acquirer) Status(ctx context.Context, req adapters.StatusRequest) (adapters.Result, error) {
	const op = "sandbox/Acquirer.Status"
	if err := a.pause(ctx, op, a.conduct(a.cfg.Now()).latency); err != nil {
		return adapters.Result{}, err
	}
	if req.Reference == "" && req.IdempotencyKey == "" {
		return adapters.Result{}, &paywire.Error{Code: paywire.EINVALID, Op: op,
			Message: "a status query names the payment by reference or by idempotency key"}
	}
	var res adapters.Result
	fx := &after{}
	err := a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) error {
		var r *record
		var err error
		if req.Reference != "" {
			r, err = a.lock(ctx, tx, lookup{reference: req.Reference, paymentID: req.PaymentID}, fx)
		}
		if r == nil && err == nil && req.IdempotencyKey != "" {
			r, err = a.lock(ctx, tx, lookup{idempotencyKey: req.IdempotencyKey, paymentID: req.PaymentID}, fx)
		}
		if err != nil {
			return err
		}
		if r == nil {
			return a.notFound(op, req.Reference, req.IdempotencyKey)
		}
		res = r.result(a.cfg.BaseURL, a.cfg.Name)
		return nil
	})
	if err != nil {
		return adapters.Result{}, err
	}
	a.dispatch(fx)
	return res, nil
}

// Chargeback simulates the card holder's bank reversing a payment: amount
// (in the payment's currency; 0 means all) of what is captured and not
// refunded or charged back is charged back, booked for the settlement
// report and told by a chargeback webhook with that amount. For demos and
// tests. Returns ENOTFOUND for an unknown reference and EINVALID for an
// amount beyond what is left.
func (a *Acquirer) Chargeback(ctx context.Context, reference string, amount int64) error {
	return a.reverse(ctx, "sandbox/Acquirer.Chargeback", reference, amount, "chargeback", adapters.EventChargeback,
		func(r *record, amount int64) { r.ChargedBack += amount })
}

// RefundFromProvider simulates a refund started at the provider, not by
// Paywire (by the provider's support desk, say): amount (0 means all) of
// what is captured and not refunded or charged back is refunded, booked
// and told by a refunded webhook with that amount. For demos and tests.
// Returns ENOTFOUND for an unknown reference and EINVALID for an amount
// beyond what is left.
func (a *Acquirer) RefundFromProvider(ctx context.Context, reference string, amount int64) error {
	return a.reverse(ctx, "sandbox/Acquirer.RefundFromProvider", reference, amount, "refund", adapters.EventRefunded,
		func(r *record, amount int64) { r.Refunded += amount })
}

// reverse takes captured money back on the provider's side.
func (a *Acquirer) reverse(ctx context.Context, op, reference string, amount int64, typ, event string, apply func(*record, int64)) error {
	fx := &after{}
	err := a.inTx(ctx, op, func(ctx context.Context, tx bun.Tx) error {
		if reference == "" {
			return a.notFound(op, reference, "")
		}
		r, err := a.lock(ctx, tx, lookup{reference: reference}, fx)
		if err != nil {
			return err
		}
		if r == nil {
			return a.notFound(op, reference, "")
		}
		left := r.Captured - r.Refunded - r.ChargedBack
		if r.Kind == paywire.KindWithdrawal || left <= 0 {
			return paywire.Errorf(paywire.EINVALID, "nothing captured is left to take back")
		}
		if amount == 0 {
			amount = left
		}
		if amount < 0 || amount > left {
			return paywire.Errorf(paywire.EINVALID, "the amount must be positive and at most %s", money(left, r.Currency))
		}
		apply(r, amount)
		if err := a.book(ctx, tx, r, typ, amount, a.now()); err != nil {
			return err
		}
		if err := a.save(ctx, tx, r); err != nil {
			return err
		}
		fx.event(a.event(event, r, amount))
		a.log.InfoContext(ctx, typ, "payment_id", r.PaymentID, "reference", reference, "amount", money(amount, r.Currency))
		return nil
	})
	if err != nil {
		return err
	}
	a.dispatch(fx)
	return nil
}

// later arms the timer that brings in a payment's outcome when it is due
// and sends its webhook, unless a read has brought it in first (the
// reader sends the webhook then). The timer is this node's only: if the
// node stops, the outcome still happens at the next read.
func (a *Acquirer) later(d dueOutcome) {
	ctx, stop := context.WithCancel(a.ctx)
	a.tmu.Lock()
	if old := a.timers[d.reference]; old != nil {
		old()
	}
	a.timers[d.reference] = stop
	a.tmu.Unlock()
	a.inflight.add()
	go func() {
		defer a.inflight.done()
		defer a.forget(ctx, d.reference)
		t := time.NewTimer(max(0, d.at.Sub(a.cfg.Now())))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		fx := &after{}
		err := a.inTx(ctx, "sandbox/Acquirer.later", func(ctx context.Context, tx bun.Tx) error {
			_, err := a.lock(ctx, tx, lookup{reference: d.reference}, fx)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				a.log.WarnContext(ctx, "bringing in an outcome; the next read will", "reference", d.reference, "error", err)
			}
			return
		}
		a.dispatch(fx)
	}()
}

// forget drops the timer of a reference once it has ended, if it is still
// the one armed.
func (a *Acquirer) forget(ctx context.Context, reference string) {
	a.tmu.Lock()
	defer a.tmu.Unlock()
	if stop := a.timers[reference]; stop != nil && ctx.Err() == nil {
		stop()
		delete(a.timers, reference)
	}
}

// settled stops the timer of a payment whose outcome has come in.
func (a *Acquirer) settled(reference string) {
	a.tmu.Lock()
	defer a.tmu.Unlock()
	if stop := a.timers[reference]; stop != nil {
		stop()
		delete(a.timers, reference)
	}
}

// event describes something that happened to a payment now, for a webhook.
func (a *Acquirer) event(typ string, r *record, amount int64) adapters.WebhookEvent {
	return a.eventAt(typ, r, amount, a.now())
}

// eventAt describes something that happened to a payment at a given time.
func (a *Acquirer) eventAt(typ string, r *record, amount int64, at time.Time) adapters.WebhookEvent {
	return adapters.WebhookEvent{ID: newID("evt_"), Type: typ, Reference: r.Reference, PaymentID: r.PaymentID,
		Amount: amount, Code: r.Code, OccurredAt: at.UTC().Truncate(time.Second)}
}

func approved(r *record, message string) adapters.Result {
	return adapters.Result{Status: adapters.Approved, Reference: r.Reference, Message: message}
}

func declined(r *record, code, message string) adapters.Result {
	return adapters.Result{Status: adapters.Declined, Reference: r.Reference, Code: code, Message: message}
}

func money(minor int64, currency string) string {
	return moneyOf(minor, currency).String()
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
