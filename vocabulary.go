package paywire

import (
	"slices"
	"strings"
)

// The domain's words as types. Each zero value is invalid, so that a field
// nobody set fails closed instead of meaning something.

// Method is a way to pay.
type Method string

// Payment methods.
const (
	MethodCard         Method = "card"
	MethodBankRedirect Method = "bank_redirect"
	MethodEWallet      Method = "ewallet"
)

// Methods lists every method, in the order pages show them by default.
var Methods = []Method{MethodCard, MethodBankRedirect, MethodEWallet}

// Valid reports whether m is a defined method.
func (m Method) Valid() bool { return slices.Contains(Methods, m) }

// MethodNames returns the methods as one comma-separated string, for
// messages.
func MethodNames() string {
	names := make([]string, len(Methods))
	for i, m := range Methods {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// EventType is what happened to a payment, as the workflow decision is
// asked about it. Every event that may change a payment has a type here.
type EventType string

// Event types.
const (
	// The end user submitted the details and risk has decided.
	EventSubmitted EventType = "submitted"

	// A provider's answer or webhook.
	EventProviderPending    EventType = "provider_pending"
	EventProviderAuthorized EventType = "provider_authorized"
	EventProviderCaptured   EventType = "provider_captured"
	EventProviderDeclined   EventType = "provider_declined"
	EventProviderCancelled  EventType = "provider_cancelled"
	EventProviderError      EventType = "provider_error"
	EventProviderRefunded   EventType = "provider_refunded"
	EventChargeback         EventType = "chargeback"

	// The merchant or a back-office user asks.
	EventCaptureRequested EventType = "capture_requested"
	EventCancelRequested  EventType = "cancel_requested"
	EventRefundRequested  EventType = "refund_requested"
	EventReviewApproved   EventType = "review_approved"
	EventReviewRejected   EventType = "review_rejected"
	EventReviewExpired    EventType = "review_expired"

	// A follow-up fell due.
	EventCaptureDue           EventType = "capture_due"
	EventPaymentExpired       EventType = "payment_expired"
	EventAuthorizationExpired EventType = "authorization_expired"
	EventRemainderRelease     EventType = "remainder_release"
)

// EventTypes lists every event type.
var EventTypes = []EventType{
	EventSubmitted,
	EventProviderPending, EventProviderAuthorized, EventProviderCaptured, EventProviderDeclined,
	EventProviderCancelled, EventProviderError, EventProviderRefunded, EventChargeback,
	EventCaptureRequested, EventCancelRequested, EventRefundRequested, EventReviewApproved, EventReviewRejected, EventReviewExpired,
	EventCaptureDue, EventPaymentExpired, EventAuthorizationExpired, EventRemainderRelease,
}

// Valid reports whether t is a defined event type.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// IsCapture reports whether t captures money: asked by the merchant, due
// as an auto-capture, or reported by the provider.
func (t EventType) IsCapture() bool {
	return t == EventCaptureRequested || t == EventCaptureDue || t == EventProviderCaptured
}

// Action is something a workflow decision asks to be done with a move.
type Action string

// Actions. Capture, void and refund move money at the provider; the others
// are carried out by Paywire.
const (
	ActionCapture        Action = "capture"         // capture the authorization (now, or as a follow-up when the move enters authorized)
	ActionVoid           Action = "void"            // release reserved funds, or cancel what the provider still holds
	ActionRefund         Action = "refund"          // refund the event's amount
	ActionNotifyMerchant Action = "notify_merchant" // tell the merchant of the move
	ActionHoldForReview  Action = "hold_for_review" // the move puts the payment in the review queue
	ActionScheduleExpiry Action = "schedule_expiry" // the authorization lapses after the merchant's authorization expiry
	ActionRecordApproval Action = "record_approval" // an approval is recorded without a move: more are needed
)

// Actions lists every action.
var Actions = []Action{ActionCapture, ActionVoid, ActionRefund, ActionNotifyMerchant, ActionHoldForReview, ActionScheduleExpiry, ActionRecordApproval}

// Valid reports whether a is a defined action.
func (a Action) Valid() bool { return slices.Contains(Actions, a) }

// RiskAction is what to do about a payment's risk. The zero RiskAction is
// not a permission: anything but RiskAllow and RiskChallenge stops a
// payment before a provider sees it.
type RiskAction string

// Risk actions.
const (
	RiskAllow     RiskAction = "allow"
	RiskChallenge RiskAction = "challenge" // the provider is asked for 3-D Secure
	RiskReview    RiskAction = "review"
	RiskBlock     RiskAction = "block"
)

// Valid reports whether a is a defined risk action.
func (a RiskAction) Valid() bool {
	return a == RiskAllow || a == RiskChallenge || a == RiskReview || a == RiskBlock
}

// Actor is who caused a change: "merchant", "end_user", "system",
// "provider:<name>" or "admin:<user>".
type Actor string

// Actors without a name.
const (
	ActorMerchant Actor = "merchant"
	ActorEndUser  Actor = "end_user"
	ActorSystem   Actor = "system"
)

// ProviderActor is the actor for a provider's answer or webhook.
func ProviderActor(name string) Actor { return Actor("provider:" + name) }

// OperatorActor is the actor for the platform operator, by the channel
// used: "cli" or "api".
func OperatorActor(channel string) Actor { return Actor("operator:" + channel) }

// AdminActor is the actor for a back-office user.
func AdminActor(user string) Actor { return Actor("admin:" + user) }

// AttemptStatus is where one call to a provider stands.
type AttemptStatus string

// Attempt statuses. Only AttemptStarted and AttemptUnknown are open: the
// outcome is not known, and the attempt is resolved by asking the same
// provider with the same key, never by trying another.
const (
	AttemptStarted   AttemptStatus = "started"   // written before the call
	AttemptUnknown   AttemptStatus = "unknown"   // no answer (timeout, lost connection, 5xx): the provider may have done it
	AttemptPending   AttemptStatus = "pending"   // accepted; the outcome follows (webhook, end user's page)
	AttemptApproved  AttemptStatus = "approved"  // done
	AttemptDeclined  AttemptStatus = "declined"  // refused; final
	AttemptCancelled AttemptStatus = "cancelled" // cancelled at the provider (end user, void)
	AttemptFailed    AttemptStatus = "failed"    // known not done (refused before acceptance, a technical error the provider reported)
)

// Open reports whether the attempt's outcome is still to be learnt.
func (s AttemptStatus) Open() bool {
	return s == AttemptStarted || s == AttemptUnknown || s == AttemptPending
}

// Paid reports whether a payment in state s has had money reserved or moved:
// authorized, or captured and possibly refunded or charged back since.
func (s State) Paid() bool {
	switch s {
	case StateAuthorized, StateCompleted, StatePartiallyRefunded, StateRefunded, StateChargedBack:
		return true
	}
	return false
}

// PaidStates lists the states for which Paid is true.
var PaidStates = []State{StateAuthorized, StateCompleted, StatePartiallyRefunded, StateRefunded, StateChargedBack}

// MoneyAction returns the action that must come with a move of a payment
// from one state to another on an event, because the move says money moved
// that only the action moves; "" when none is needed (a provider reporting
// what it did, or a move that moves no money). A workflow decision that
// makes such a move without the action is refused: a policy cannot mark a
// payment captured, voided or refunded that nobody captured, voided or
// refunded.
func MoneyAction(from, to State, ev EventType) Action {
	switch ev {
	case EventCaptureRequested, EventCaptureDue:
		if from == StateAuthorized && to == StateCompleted {
			return ActionCapture
		}
	case EventCancelRequested, EventAuthorizationExpired:
		if from == StateAuthorized && (to == StateCancelled || to == StateExpired) {
			return ActionVoid
		}
		if ev == EventCancelRequested && from == StateReview && to == StateRefunded {
			return ActionRefund
		}
	case EventRefundRequested:
		if to == StateRefunded || to == StatePartiallyRefunded {
			return ActionRefund
		}
	case EventReviewRejected:
		// Money held for review and not kept (declined, or the merchant
		// cancels) is given back.
		if from == StateReview && to == StateRefunded {
			return ActionRefund
		}
	}
	return ""
}
