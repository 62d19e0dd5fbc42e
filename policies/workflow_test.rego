package paywire.workflow_test

import data.paywire.workflow

base := {
	"request": {
		"state": "pending",
		"event": {"type": "provider_authorized", "amount": 0},
		"kind": "deposit",
		"amount": {"minor": 10000, "currency": "EUR", "exponent": 2},
		"captured": 0,
		"refunded": 0,
		"method": "card",
		"provider": "acquirer-a",
		"risk": {"score": 10, "action": "allow"},
		"merchant": {"auto_capture": true, "auto_capture_max_score": 30},
		"authorized_age_seconds": 0,
		"time": "2026-11-25T12:00:00Z",
	},
	"features": {},
	"hits": [],
}

# The expr rules: data.rules.workflow.rules in the bundle,
# data.workflow.rules when `opa test policies/ rules/` loads rules/ as a root
# of its own.
rules := data.rules.workflow.rules if {
	data.rules.workflow.rules
} else := data.workflow.rules

# hit(id) is the hit of a rule of rules/workflow/data.yaml, with its effect.
hit(id) := {"id": id, "effect": r.effect} if {
	some r in rules
	r.id == id
}

decide(hits) := d if {
	d := workflow.decision with input as object.union(base, {"hits": hits})
}

none := {"next_state": "", "actions": [], "reason": "not_applicable"}

# --- the first hit is the move --------------------------------------------------

test_first_hit_is_the_move if {
	decide([hit("auto_capture"), hit("provider_authorized")]) == {
		"next_state": "authorized",
		"actions": ["capture", "notify_merchant"],
		"reason": "auto_capture",
	}
	decide([hit("no_auto_capture_large_amount"), hit("auto_capture"), hit("provider_authorized")]) == {
		"next_state": "authorized",
		"actions": ["schedule_expiry", "notify_merchant"],
		"reason": "authorized",
	}
}

test_effect_returned_as_stored if {
	every r in rules {
		decide([hit(r.id)]) == r.effect
	}
}

test_no_hit_no_transition if {
	decide([]) == none
}

# --- the rules' data: every move legal ------------------------------------------

# The transition table of state.go.
legal := {
	"created": {"pending", "review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"pending": {"review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"review": {"pending", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"authorized": {"review", "completed", "cancelled", "expired"},
	"completed": {"partially_refunded", "refunded", "charged_back"},
	"partially_refunded": {"partially_refunded", "refunded", "charged_back"},
}

events := {
	"submitted", "provider_pending", "provider_authorized", "provider_captured",
	"provider_declined", "provider_error", "review_approved", "review_rejected",
	"cancel_requested", "capture_requested", "refund_succeeded", "chargeback",
	"authorization_expired", "payment_expired",
}

actions := {"capture", "void", "notify_merchant", "hold_for_review", "schedule_expiry", "refund"}

# The event type a rule's `when` leads with.
event_of(r) := m[0][1] if {
	m := regex.find_all_string_submatch_n(`^request\.event\.type == "([a-z_]+)"`, r.when, -1)
	count(m) == 1
}

# The states a rule's `when` names: request.state == "s" or
# request.state in ["s1", "s2"], exactly one of them.
states_of(r) := {m[0][1]} if {
	m := regex.find_all_string_submatch_n(`request\.state == "([a-z_]+)"`, r.when, -1)
	count(m) == 1
	not contains(r.when, "request.state in")
} else := {s | some s in json.unmarshal(concat("", ["[", m[0][1], "]"]))} if {
	m := regex.find_all_string_submatch_n(`request\.state in \[([^\]]*)\]`, r.when, -1)
	count(m) == 1
	not contains(r.when, "request.state ==")
}

test_every_rule_names_one_event_and_its_states if {
	every r in rules {
		event_of(r) in events
		count(states_of(r)) > 0
	}
}

test_every_move_is_legal_from_every_state_its_rule_names if {
	every r in rules {
		every s in states_of(r) {
			r.effect.next_state in legal[s]
		}
	}
}

test_every_move_notifies_the_merchant_last if {
	every r in rules {
		object.keys(r.effect) == {"next_state", "actions", "reason"}
		is_string(r.effect.reason)
		r.effect.reason != ""
		every a in r.effect.actions {
			a in actions
		}
		r.effect.actions[count(r.effect.actions) - 1] == "notify_merchant"
	}
}

# The events that apply in each state: anything else gives no transition
# (terminal states never move; a late provider event is ignored).
applies := {
	["submitted", "created"],
	["provider_pending", "created"],
	["provider_authorized", "created"], ["provider_authorized", "pending"],
	["provider_captured", "created"], ["provider_captured", "pending"], ["provider_captured", "authorized"],
	["provider_declined", "created"], ["provider_declined", "pending"],
	["provider_error", "created"], ["provider_error", "pending"],
	["review_approved", "review"],
	["review_rejected", "review"],
	["cancel_requested", "created"], ["cancel_requested", "pending"], ["cancel_requested", "review"],
	["cancel_requested", "authorized"],
	["capture_requested", "authorized"],
	["refund_succeeded", "completed"], ["refund_succeeded", "partially_refunded"],
	["chargeback", "completed"], ["chargeback", "partially_refunded"],
	["authorization_expired", "authorized"],
	["payment_expired", "created"], ["payment_expired", "pending"],
}

test_rules_cover_exactly_the_moves_that_apply if {
	{[event_of(r), s] | some r in rules; some s in states_of(r)} == applies
}

test_conditional_moves_fall_back_to_a_plain_move if {
	# Where a move depends on more than the event and the state, a later
	# rule for the same event and states gives the plain move; only a refund
	# of nothing gives no transition.
	every i, _ in rules {
		falls_back(i)
	}
}

falls_back(i) if event_of(rules[i]) == "refund_succeeded"

falls_back(i) if {
	some j, later in rules
	j >= i
	event_of(later) == event_of(rules[i])
	states_of(later) == states_of(rules[i])
	count(split(later.when, " && ")) == 2
}
