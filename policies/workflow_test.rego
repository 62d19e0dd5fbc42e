package paywire.workflow_test

import data.paywire.workflow

base := {
	"request": {
		"state": "created",
		"event": {"type": "submitted", "amount": 0},
		"kind": "deposit",
		"amount": {"minor": 10000, "currency": "EUR", "exponent": 2},
		"captured": 0,
		"refunded": 0,
		"method": "card",
		"provider": "acquirer-a",
		"risk": {"score": 10, "action": "allow"},
		"merchant": {"auto_capture": false, "auto_capture_max_score": 0},
		"authorized_age_seconds": 0,
		"time": "2026-11-25T12:00:00Z",
	},
	"features": {},
	"hits": [],
}

on(state, event) := object.union(base, {"request": {"state": state, "event": {"type": event}}})

with_req(i, r) := object.union(i, {"request": r})

decide(i) := d if {
	d := workflow.decision with input as i
}

move(state, actions, reason) := {"next_state": state, "actions": actions, "reason": reason}

none := {"next_state": "", "actions": [], "reason": "not_applicable"}

# --- submitted --------------------------------------------------------------

test_submitted_allow_pending if {
	decide(on("created", "submitted")) == move("pending", ["notify_merchant"], "submitted")
}

test_submitted_challenge_pending if {
	i := with_req(on("created", "submitted"), {"risk": {"score": 40, "action": "challenge"}})
	decide(i) == move("pending", ["notify_merchant"], "submitted")
}

test_submitted_review if {
	i := with_req(on("created", "submitted"), {"risk": {"score": 65, "action": "review"}})
	decide(i) == move("review", ["hold_for_review", "notify_merchant"], "risk_review")
}

test_submitted_block_refused if {
	i := with_req(on("created", "submitted"), {"risk": {"score": 100, "action": "block"}})
	decide(i) == move("refused", ["notify_merchant"], "risk_block")
}

test_submitted_twice_not_applicable if {
	decide(on("pending", "submitted")) == none
}

# --- provider events ------------------------------------------------------

test_provider_pending if {
	decide(on("created", "provider_pending")) == move("pending", ["notify_merchant"], "provider_pending")
	decide(on("pending", "provider_pending")) == none
}

auto(i, max) := with_req(i, {"merchant": {"auto_capture": true, "auto_capture_max_score": max}})

test_provider_authorized_auto_capture if {
	i := auto(on("pending", "provider_authorized"), 10)
	decide(i) == move("authorized", ["capture", "notify_merchant"], "auto_capture")
	decide(auto(on("created", "provider_authorized"), 50)).reason == "auto_capture"
}

test_provider_authorized_score_above_auto_capture_max if {
	i := auto(on("pending", "provider_authorized"), 9)
	decide(i) == move("authorized", ["schedule_expiry", "notify_merchant"], "authorized")
}

test_provider_authorized_no_auto_capture if {
	decide(on("pending", "provider_authorized")) == move("authorized", ["schedule_expiry", "notify_merchant"], "authorized")
}

test_provider_authorized_auto_capture_vetoed_by_hit if {
	i := object.union(auto(on("pending", "provider_authorized"), 50), {"hits": [{"id": "no_auto_capture_large_amount", "effect": {"no_auto_capture": true}}]})
	decide(i) == move("authorized", ["schedule_expiry", "notify_merchant"], "authorized")
}

test_provider_authorized_not_applicable if {
	decide(on("review", "provider_authorized")) == none
	decide(on("authorized", "provider_authorized")) == none
	decide(on("completed", "provider_authorized")) == none
}

test_provider_captured if {
	decide(on("authorized", "provider_captured")) == move("completed", ["notify_merchant"], "captured")
	decide(on("pending", "provider_captured")) == move("completed", ["notify_merchant"], "captured")
	decide(on("created", "provider_captured")) == move("completed", ["notify_merchant"], "captured")
	decide(on("completed", "provider_captured")) == none
}

test_provider_declined if {
	decide(on("pending", "provider_declined")) == move("refused", ["notify_merchant"], "provider_declined")
	decide(on("created", "provider_declined")).next_state == "refused"
	decide(on("authorized", "provider_declined")) == none
	decide(on("refused", "provider_declined")) == none
}

test_provider_error if {
	decide(on("pending", "provider_error")) == move("failed", ["notify_merchant"], "provider_error")
	decide(on("created", "provider_error")).next_state == "failed"
	decide(on("authorized", "provider_error")) == none
}

# --- review ---------------------------------------------------------------

test_review_approved if {
	decide(on("review", "review_approved")) == move("pending", ["notify_merchant"], "review_approved")
	decide(on("pending", "review_approved")) == none
}

test_review_rejected if {
	decide(on("review", "review_rejected")) == move("refused", ["notify_merchant"], "review_rejected")
	decide(on("pending", "review_rejected")) == none
}

# --- cancel and capture ---------------------------------------------------

test_cancel_open_payment if {
	every s in ["created", "pending", "review"] {
		decide(on(s, "cancel_requested")) == move("cancelled", ["notify_merchant"], "cancelled")
	}
}

test_cancel_authorized_voids if {
	decide(on("authorized", "cancel_requested")) == move("cancelled", ["void", "notify_merchant"], "cancelled")
}

test_cancel_completed_not_applicable if {
	decide(on("completed", "cancel_requested")) == none
	decide(on("cancelled", "cancel_requested")) == none
}

test_capture_requested if {
	decide(on("authorized", "capture_requested")) == move("completed", ["capture", "notify_merchant"], "capture_requested")
	decide(on("pending", "capture_requested")) == none
}

# --- refunds and chargebacks ----------------------------------------------

refund(state, captured, refunded, amount) := with_req(on(state, "refund_succeeded"), {"captured": captured, "refunded": refunded, "event": {"amount": amount}})

test_partial_refund if {
	decide(refund("completed", 10000, 0, 4000)) == move("partially_refunded", ["notify_merchant"], "partially_refunded")
	decide(refund("partially_refunded", 10000, 4000, 1000)) == move("partially_refunded", ["notify_merchant"], "partially_refunded")
}

test_full_refund if {
	decide(refund("completed", 10000, 0, 10000)) == move("refunded", ["notify_merchant"], "refunded")
	decide(refund("partially_refunded", 10000, 4000, 6000)) == move("refunded", ["notify_merchant"], "refunded")
}

test_refund_beyond_captured_is_refunded if {
	decide(refund("partially_refunded", 10000, 4000, 7000)).next_state == "refunded"
}

test_refund_nothing_captured_uses_amount if {
	decide(refund("completed", 0, 0, 4000)).next_state == "partially_refunded"
	decide(refund("completed", 0, 0, 10000)).next_state == "refunded"
}

test_refund_without_amount_not_applicable if {
	decide(refund("completed", 10000, 0, 0)) == none
}

test_refund_not_applicable if {
	decide(refund("authorized", 0, 0, 100)) == none
	decide(refund("refunded", 10000, 10000, 100)) == none
}

test_chargeback if {
	decide(on("completed", "chargeback")) == move("charged_back", ["notify_merchant"], "chargeback")
	decide(on("partially_refunded", "chargeback")) == move("charged_back", ["notify_merchant"], "chargeback")
	decide(on("refunded", "chargeback")) == none
	decide(on("charged_back", "chargeback")) == none
}

# --- expiry ---------------------------------------------------------------

test_authorization_expired if {
	i := with_req(on("authorized", "authorization_expired"), {"authorized_age_seconds": 604800})
	decide(i) == move("expired", ["void", "notify_merchant"], "authorization_expired")
	decide(on("pending", "authorization_expired")) == none
}

test_payment_expired if {
	decide(on("created", "payment_expired")) == move("expired", ["notify_merchant"], "payment_expired")
	decide(on("pending", "payment_expired")) == move("expired", ["notify_merchant"], "payment_expired")
	decide(on("review", "payment_expired")) == none
	decide(on("authorized", "payment_expired")) == none
}

test_unknown_event_not_applicable if {
	decide(on("pending", "something_else")) == none
}

# --- only legal moves -----------------------------------------------------

# The transition table of state.go.
legal := {
	"created": {"pending", "review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"pending": {"review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"review": {"pending", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"authorized": {"review", "completed", "cancelled", "expired"},
	"completed": {"partially_refunded", "refunded", "charged_back"},
	"partially_refunded": {"partially_refunded", "refunded", "charged_back"},
}

states := [
	"created", "pending", "review", "authorized", "completed", "partially_refunded",
	"refunded", "charged_back", "refused", "cancelled", "failed", "expired",
]

events := [
	"submitted", "provider_pending", "provider_authorized", "provider_captured",
	"provider_declined", "provider_error", "review_approved", "review_rejected",
	"cancel_requested", "capture_requested", "refund_succeeded", "chargeback",
	"authorization_expired", "payment_expired",
]

variants := [
	{},
	{"risk": {"score": 100, "action": "block"}},
	{"risk": {"score": 65, "action": "review"}},
	{"merchant": {"auto_capture": true, "auto_capture_max_score": 50}},
	{"captured": 10000, "event": {"amount": 4000}},
	{"captured": 10000, "refunded": 4000, "event": {"amount": 6000}},
]

legal_outcome(d, _) if d == none

legal_outcome(d, state) if {
	legal[state][d.next_state]
	d.actions[count(d.actions) - 1] == "notify_merchant"
	d.reason != ""
}

test_every_decision_is_a_legal_move if {
	every s in states {
		every e in events {
			every v in variants {
				legal_outcome(decide(with_req(on(s, e), v)), s)
			}
		}
	}
}

test_terminal_states_never_move if {
	every s in ["refunded", "charged_back", "refused", "cancelled", "failed", "expired"] {
		every e in events {
			decide(on(s, e)) == none
		}
	}
}
