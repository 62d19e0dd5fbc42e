package paywire

import "slices"

// State is where a payment is in its life. The zero State is not a state:
// nothing may be created or moved into it.
type State string

// The states of a payment.
const (
	StateCreated           State = "created"            // registered, the end user has not paid yet
	StatePending           State = "pending"            // sent to a provider, outcome not known yet
	StateReview            State = "review"             // held for manual review
	StateAuthorized        State = "authorized"         // funds reserved, not captured
	StateCompleted         State = "completed"          // money moved (captured deposit, paid-out withdrawal)
	StateRefused           State = "refused"            // declined by risk or by the provider
	StateCancelled         State = "cancelled"          // cancelled by the end user, merchant or back office
	StateFailed            State = "failed"             // a technical failure ended it
	StateExpired           State = "expired"            // nobody finished it in time, or the authorization lapsed
	StatePartiallyRefunded State = "partially_refunded" // part of the captured amount went back
	StateRefunded          State = "refunded"           // all of the captured amount went back
	StateChargedBack       State = "charged_back"       // the card holder's bank reversed it
)

// States lists every state in the order of a payment's usual life.
var States = []State{
	StateCreated, StatePending, StateReview, StateAuthorized, StateCompleted,
	StatePartiallyRefunded, StateRefunded, StateChargedBack,
	StateRefused, StateCancelled, StateFailed, StateExpired,
}

// transitions is the legal transition graph: from -> the states it may move
// to. A state with no entry is terminal. partially_refunded may repeat,
// because each further partial refund is a state change of its own.
var transitions = map[State][]State{
	StateCreated: {StatePending, StateReview, StateAuthorized, StateCompleted,
		StateRefused, StateCancelled, StateFailed, StateExpired},
	StatePending: {StateReview, StateAuthorized, StateCompleted,
		StateRefused, StateCancelled, StateFailed, StateExpired},
	// review -> refunded: a payment the provider captured at once (a bank
	// redirect), held for review after the money came in, and declined.
	StateReview: {StatePending, StateAuthorized, StateCompleted,
		StateRefused, StateCancelled, StateFailed, StateExpired, StateRefunded},
	StateAuthorized:        {StateReview, StateCompleted, StateCancelled, StateExpired},
	StateCompleted:         {StatePartiallyRefunded, StateRefunded, StateChargedBack},
	StatePartiallyRefunded: {StatePartiallyRefunded, StateRefunded, StateChargedBack},
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Terminal reports whether s is final: no move leads out of it.
func (s State) Terminal() bool { return s.Valid() && len(transitions[s]) == 0 }

// holdsCaptured reports whether a payment in state s may hold captured
// money: money that came in is held for review, completed or given back,
// never dropped by a refusal, a cancellation or an expiry.
func (s State) holdsCaptured() bool {
	switch s {
	case StateReview, StateCompleted, StatePartiallyRefunded, StateRefunded, StateChargedBack:
		return true
	}
	return false
}

// Next returns the states s may move to, in the table's order.
func (s State) Next() []State { return slices.Clone(transitions[s]) }

// CheckTransition returns nil if a payment in state from may move to state
// to, and otherwise an EILLEGALMOVE error that says why. A policy cannot
// override it: every component that changes a state calls it.
func CheckTransition(from, to State) error {
	switch {
	case !from.Valid():
		return Errorf(EILLEGALMOVE, "%q is not a payment state", truncate(string(from), 32))
	case !to.Valid():
		return Errorf(EILLEGALMOVE, "%q is not a payment state", truncate(string(to), 32))
	case to == StateCreated:
		return Errorf(EILLEGALMOVE, "a payment is created only once; %s cannot move back to created", from)
	case from.Terminal():
		return Errorf(EILLEGALMOVE, "payment is %s, which is final; it cannot move to %s", from, to)
	case !slices.Contains(transitions[from], to):
		return Errorf(EILLEGALMOVE, "a %s payment cannot move to %s; it may move to %s", from, to, joinStates(transitions[from]))
	}
	return nil
}

func joinStates(ss []State) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += string(s)
	}
	return out
}
