package paywire

import (
	"encoding/json"
	"strings"
	"time"
)

// Move is a state change as the payment use cases decided it: the target
// state, what caused it and the money it moved.
type Move struct {
	To     State
	Type   EventType
	Source Actor
	Reason string
	At     time.Time
	// Money moved by the move, in minor units of the payment's currency.
	Capture    int64
	Refund     int64
	Chargeback int64
}

// Moved returns the change that makes the move: the payment as it will be
// and its history event. Returns EILLEGALMOVE when the transition table
// forbids the move and EINVALID when the result breaks an invariant; the
// store checks both again when it writes the change.
func (p *Payment) Moved(m Move) (StateChange, error) {
	if err := CheckTransition(p.State, m.To); err != nil {
		return StateChange{}, err
	}
	if m.Capture < 0 || m.Refund < 0 || m.Chargeback < 0 {
		return StateChange{}, Errorf(EINVALID, "amounts moved cannot be negative")
	}
	next := *p
	next.State, next.Version, next.UpdatedAt = m.To, p.Version+1, m.At
	next.Captured += m.Capture
	next.Refunded += m.Refund
	next.ChargedBack += m.Chargeback
	if err := next.Validate(); err != nil {
		return StateChange{}, err
	}
	ev := &Event{
		ID: NewID("evt_"), PaymentID: p.ID, MerchantID: p.MerchantID, Seq: next.Version,
		From: p.State, To: m.To, Type: m.Type, Amount: m.Capture + m.Refund + m.Chargeback,
		Reason: m.Reason, Source: m.Source, OccurredAt: m.At,
	}
	return StateChange{Payment: &next, Version: p.Version, Event: ev}, nil
}

// Creation returns the change that stores a new payment: p in state
// created at version 1, with its creation event. It fills p's ID when
// empty and its timestamps.
func Creation(p *Payment, source Actor, at time.Time) StateChange {
	if p.ID == "" {
		p.ID = NewID("pay_")
	}
	p.State, p.Version, p.Captured, p.Refunded, p.ChargedBack = StateCreated, 1, 0, 0, 0
	p.CreatedAt, p.UpdatedAt = at, at
	ev := &Event{
		ID: NewID("evt_"), PaymentID: p.ID, MerchantID: p.MerchantID, Seq: 1,
		To: StateCreated, Reason: "payment created", Source: source, OccurredAt: at,
	}
	return StateChange{Payment: p, Version: 0, Event: ev}
}

// Notification is the outbox message that tells the merchant of ev, a
// move of p (p as it is after the move).
func Notification(p *Payment, ev *Event) *OutboxMessage {
	return notification(p, ev, OutboxPending)
}

// NotificationTo is Notification for the merchant m of p: when neither p
// nor m has a notification URL, the message is kept with status
// OutboxNoEndpoint instead of waiting to be sent.
func NotificationTo(m *Merchant, p *Payment, ev *Event) *OutboxMessage {
	status := OutboxPending
	if p.NotificationURL == "" && m.NotificationURL == "" {
		status = OutboxNoEndpoint
	}
	return notification(p, ev, status)
}

func notification(p *Payment, ev *Event, status string) *OutboxMessage {
	payload, _ := json.Marshal(NotificationPayload{ // a struct of strings and numbers always marshals
		EventID: ev.ID, PaymentID: p.ID, MerchantReference: p.MerchantReference,
		PreviousState: strings.ToUpper(string(ev.From)), NewState: strings.ToUpper(string(ev.To)),
		Amount: p.Amount.Decimal(), Currency: p.Amount.Currency.Code,
		Seq: ev.Seq, OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano),
	})
	return &OutboxMessage{
		EventID: ev.ID, MerchantID: p.MerchantID, PaymentID: p.ID, Seq: ev.Seq, Payload: payload,
		Status: status, NextAttemptAt: ev.OccurredAt, CreatedAt: ev.OccurredAt,
	}
}
