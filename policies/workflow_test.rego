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
	decide([hit("full_refund"), hit("partial_refund")]) == {
		"next_state": "refunded",
		"actions": ["refund", "notify_merchant"],
		"reason": "refunded",
	}
	decide([hit("provider_full_refund"), hit("provider_partial_refund")]) == {
		"next_state": "refunded",
		"actions": ["notify_merchant"],
		"reason": "refunded_at_provider",
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

test_a_no_move_decision_keeps_its_actions if {
	decide([hit("remainder_release")]) == {"next_state": "", "actions": ["void"], "reason": "remainder_released"}
}

# --- the rules' data: every move legal ------------------------------------------

# The transition table of state.go.
legal := {
	"created": {"pending", "review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"pending": {"review", "authorized", "completed", "refused", "cancelled", "failed", "expired"},
	"review": {"pending", "authorized", "completed", "refused", "cancelled", "failed", "expired", "refunded"},
	"authorized": {"review", "completed", "cancelled", "expired"},
	"completed": {"partially_refunded", "refunded", "charged_back"},
	"partially_refunded": {"partially_refunded", "refunded", "charged_back"},
}

# The event types of vocabulary.go (EventTypes).
events := {
	"submitted",
	"provider_pending", "provider_authorized", "provider_captured", "provider_declined",
	"provider_cancelled", "provider_error", "provider_refunded", "chargeback",
	"capture_requested", "cancel_requested", "refund_requested", "review_approved", "review_rejected", "review_expired",
	"capture_due", "payment_expired", "authorization_expired", "remainder_release",
}

# The actions of vocabulary.go (Actions).
actions := {"capture", "void", "refund", "notify_merchant", "hold_for_review", "schedule_expiry", "record_approval"}

# The rules that move nothing (next_state ""): their actions are carried out
# on the payment as it is (a release of a remainder, an approval recorded).
# Every other rule is a move.
no_move := {"remainder_release", "review_approval_recorded"}

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

test_every_event_type_has_a_rule if {
	{event_of(r) | some r in rules} == events
}

test_every_effect_is_a_decision if {
	every r in rules {
		object.keys(r.effect) == {"next_state", "actions", "reason"}
		is_string(r.effect.next_state)
		is_string(r.effect.reason)
		r.effect.reason != ""
		count(r.effect.actions) > 0
		every a in r.effect.actions {
			a in actions
		}
		count({a | some a in r.effect.actions}) == count(r.effect.actions)
	}
}

test_only_the_no_move_rules_move_nothing if {
	{r.id | some r in rules; r.effect.next_state == ""} == no_move
}

test_every_move_is_legal_from_every_state_its_rule_names if {
	every r in rules {
		every s in states_of(r) {
			moves_legally(r, s)
		}
	}
}

moves_legally(r, s) if r.effect.next_state in legal[s]

moves_legally(r, _) if r.id in no_move

test_every_move_notifies_the_merchant_last if {
	every r in rules {
		notifies_last(r)
	}
}

notifies_last(r) if {
	not r.id in no_move
	r.effect.actions[count(r.effect.actions) - 1] == "notify_merchant"
}

# A decision without a move tells the merchant of nothing: the payment core
# notifies only of a move.
notifies_last(r) if {
	r.id in no_move
	not "notify_merchant" in r.effect.actions
}

# --- the rules' data: actions the payment core admits ---------------------------

# paywire.MoneyAction: the action a move must carry because the move says
# money moved that only the action moves; "" when none is needed. The
# payment core refuses a decision that makes such a move without it.
default money_action(_, _, _) := ""

money_action(from, to, ev) := "capture" if {
	ev in {"capture_requested", "capture_due"}
	from == "authorized"
	to == "completed"
}

money_action(from, to, ev) := "void" if {
	ev in {"cancel_requested", "authorization_expired"}
	from == "authorized"
	to in {"cancelled", "expired"}
}

money_action(_, to, "refund_requested") := "refund" if to in {"refunded", "partially_refunded"}

# Money held for review and not kept (declined, or the merchant cancels) is
# given back.
money_action("review", "refunded", ev) := "refund" if ev in {"review_rejected", "cancel_requested"}

# admits(from, to, ev, a): the payment core carries out action a with the
# decision to move from `from` to `to` ("" for no move) on event ev, and
# refuses the decision otherwise.
admits(from, to, ev, "capture") if money_action(from, to, ev) == "capture"

admits(_, "authorized", _, "capture") # an auto-capture, scheduled with the move

admits(from, to, ev, "refund") if money_action(from, to, ev) == "refund"

admits(from, to, _, "void") if {
	from in {"authorized", "pending"}
	to in {"cancelled", "expired"}
}

# Ending the review of an authorization releases it.
admits("review", to, _, "void") if to in {"refused", "cancelled", "expired"}

admits(_, "", "remainder_release", "void")

# An approval that is not the last one needed is recorded without a move.
admits("review", "", "review_approved", "record_approval")

admits(_, "review", _, "hold_for_review")

admits(_, "authorized", _, "schedule_expiry")

admits(_, to, _, "notify_merchant") if to != ""

test_every_move_that_moves_money_carries_its_action if {
	every r in rules {
		every s in states_of(r) {
			carries_money_action(r, s)
		}
	}
}

carries_money_action(r, s) if money_action(s, r.effect.next_state, event_of(r)) == ""

carries_money_action(r, s) if money_action(s, r.effect.next_state, event_of(r)) in r.effect.actions

test_the_moves_that_move_money if {
	{r.id |
		some r in rules
		some s in states_of(r)
		money_action(s, r.effect.next_state, event_of(r)) != ""
	} == {
		"capture_requested", "capture_due", "cancel_authorized", "authorization_expired", "full_refund", "partial_refund",
		"review_rejected_refund", "cancel_review_captured",
	}
}

test_every_action_is_one_the_core_admits_with_its_move if {
	every r in rules {
		every s in states_of(r) {
			every a in r.effect.actions {
				admits(s, r.effect.next_state, event_of(r), a)
			}
		}
	}
}

test_every_move_into_review_holds_the_payment if {
	every r in rules {
		holds_if_into_review(r)
	}
}

holds_if_into_review(r) if r.effect.next_state != "review"

holds_if_into_review(r) if "hold_for_review" in r.effect.actions

# What an action schedules has a rule to carry it out: an auto-capture
# (capture with a move into authorized) falls due as capture_due, an
# authorization's expiry as authorization_expired, and what a partial
# capture left reserved is released by remainder_release, also after
# refunds.
test_follow_ups_have_their_rules if {
	every r in rules {
		follow_ups_apply(r)
	}
}

follow_ups_apply(r) if {
	not r.effect.next_state == "authorized"
	not captures(r)
}

follow_ups_apply(r) if {
	r.effect.next_state == "authorized"
	"capture" in r.effect.actions
	["capture_due", "authorized"] in moves
}

follow_ups_apply(r) if {
	r.effect.next_state == "authorized"
	"schedule_expiry" in r.effect.actions
	["authorization_expired", "authorized"] in moves
}

follow_ups_apply(r) if {
	captures(r)
	every s in {"completed", "partially_refunded", "refunded"} {
		["remainder_release", s] in moves
	}
}

captures(r) if {
	r.effect.next_state == "completed"
	"capture" in r.effect.actions
}

test_an_authorization_is_captured_or_expires if {
	every r in rules {
		authorization_ends(r)
	}
}

authorization_ends(r) if r.effect.next_state != "authorized"

authorization_ends(r) if count({"capture", "schedule_expiry"} & {a | some a in r.effect.actions}) == 1

# --- the rules' data: which events apply where ----------------------------------

# [event, state] for every state a rule names.
moves := {[event_of(r), s] | some r in rules; some s in states_of(r)}

# The events that apply in each state: anything else gives no transition
# (terminal states never move; a late provider event is ignored; a payment
# held for review waits for a person).
applies := {
	["submitted", "created"],
	["provider_pending", "created"],
	["provider_authorized", "created"], ["provider_authorized", "pending"],
	["provider_captured", "created"], ["provider_captured", "pending"], ["provider_captured", "authorized"],
	["provider_cancelled", "created"], ["provider_cancelled", "pending"],
	["provider_declined", "created"], ["provider_declined", "pending"],
	["provider_error", "created"], ["provider_error", "pending"],
	["provider_refunded", "completed"], ["provider_refunded", "partially_refunded"],
	["chargeback", "completed"], ["chargeback", "partially_refunded"],
	["review_approved", "review"],
	["review_rejected", "review"],
	["review_expired", "review"],
	["cancel_requested", "created"], ["cancel_requested", "pending"], ["cancel_requested", "review"],
	["cancel_requested", "authorized"],
	["capture_requested", "authorized"],
	["capture_due", "authorized"],
	["refund_requested", "completed"], ["refund_requested", "partially_refunded"],
	["remainder_release", "completed"], ["remainder_release", "partially_refunded"], ["remainder_release", "refunded"],
	["authorization_expired", "authorized"],
	["payment_expired", "created"], ["payment_expired", "pending"],
}

test_rules_cover_exactly_the_moves_that_apply if {
	moves == applies
}

test_conditional_moves_fall_back_to_a_plain_move if {
	# Where a move depends on more than the event and the state, a later
	# rule for the same event and (at least) the same states gives the plain
	# move; only a refund of nothing gives no transition.
	every i, _ in rules {
		falls_back(i)
	}
}

falls_back(i) if {
	some j, later in rules
	j >= i
	event_of(later) == event_of(rules[i])
	states_of(rules[i]) - states_of(later) == set()
	plain(later)
}

plain(r) if count(split(r.when, " && ")) == 2

# A refund's plain move: any amount above nothing.
plain(r) if {
	event_of(r) in {"refund_requested", "provider_refunded"}
	parts := split(r.when, " && ")
	count(parts) == 3
	trim_space(parts[2]) == "request.event.amount > 0"
}
