# Workflow: given the payment's state and an event, the next state and the
# actions. Only moves the transition table of state.go allows are made; an
# event that does not apply to the state gives no transition (next_state "",
# actions [], reason not_applicable). Every transition notifies the
# merchant: notify_merchant comes last in its actions.
#
# Speed: each decision body is one (event type, state) pair written as two
# equalities, so the rule index evaluates only the matching body (or none:
# the default).
package paywire.workflow

default decision := {"next_state": "", "actions": [], "reason": "not_applicable"}

# submitted: the end user sent the details and risk has decided.
decision := {"next_state": "refused", "actions": ["notify_merchant"], "reason": "risk_block"} if {
	input.request.event.type == "submitted"
	input.request.state == "created"
	input.request.risk.action == "block"
}

decision := {"next_state": "review", "actions": ["hold_for_review", "notify_merchant"], "reason": "risk_review"} if {
	input.request.event.type == "submitted"
	input.request.state == "created"
	input.request.risk.action == "review"
}

decision := {"next_state": "pending", "actions": ["notify_merchant"], "reason": "submitted"} if {
	input.request.event.type == "submitted"
	input.request.state == "created"
	not input.request.risk.action in {"block", "review"}
}

# provider_pending: the provider took the payment, outcome not known yet.
decision := {"next_state": "pending", "actions": ["notify_merchant"], "reason": "provider_pending"} if {
	input.request.event.type == "provider_pending"
	input.request.state == "created"
}

# provider_authorized: funds reserved; captured at once when the merchant
# auto-captures and the risk score is at most its maximum, unless an expr
# rule hit vetoes it ({"no_auto_capture": true}); else the authorization's
# expiry is scheduled.
decision := authorized if {
	input.request.event.type == "provider_authorized"
	input.request.state == "created"
}

decision := authorized if {
	input.request.event.type == "provider_authorized"
	input.request.state == "pending"
}

authorized := {"next_state": "authorized", "actions": ["capture", "notify_merchant"], "reason": "auto_capture"} if {
	input.request.merchant.auto_capture == true
	input.request.risk.score <= input.request.merchant.auto_capture_max_score
	not no_auto_capture
} else := {"next_state": "authorized", "actions": ["schedule_expiry", "notify_merchant"], "reason": "authorized"}

no_auto_capture if {
	some h in input.hits
	h.effect.no_auto_capture == true
}

# provider_captured: the money moved.
decision := {"next_state": "completed", "actions": ["notify_merchant"], "reason": "captured"} if {
	input.request.event.type == "provider_captured"
	input.request.state == "created"
}

decision := {"next_state": "completed", "actions": ["notify_merchant"], "reason": "captured"} if {
	input.request.event.type == "provider_captured"
	input.request.state == "pending"
}

decision := {"next_state": "completed", "actions": ["notify_merchant"], "reason": "captured"} if {
	input.request.event.type == "provider_captured"
	input.request.state == "authorized"
}

# provider_declined, provider_error: before authorization only.
decision := {"next_state": "refused", "actions": ["notify_merchant"], "reason": "provider_declined"} if {
	input.request.event.type == "provider_declined"
	input.request.state == "created"
}

decision := {"next_state": "refused", "actions": ["notify_merchant"], "reason": "provider_declined"} if {
	input.request.event.type == "provider_declined"
	input.request.state == "pending"
}

decision := {"next_state": "failed", "actions": ["notify_merchant"], "reason": "provider_error"} if {
	input.request.event.type == "provider_error"
	input.request.state == "created"
}

decision := {"next_state": "failed", "actions": ["notify_merchant"], "reason": "provider_error"} if {
	input.request.event.type == "provider_error"
	input.request.state == "pending"
}

# review_approved, review_rejected: a person decided.
decision := {"next_state": "pending", "actions": ["notify_merchant"], "reason": "review_approved"} if {
	input.request.event.type == "review_approved"
	input.request.state == "review"
}

decision := {"next_state": "refused", "actions": ["notify_merchant"], "reason": "review_rejected"} if {
	input.request.event.type == "review_rejected"
	input.request.state == "review"
}

# cancel_requested: cancelling an authorization voids it.
decision := {"next_state": "cancelled", "actions": ["notify_merchant"], "reason": "cancelled"} if {
	input.request.event.type == "cancel_requested"
	input.request.state == "created"
}

decision := {"next_state": "cancelled", "actions": ["notify_merchant"], "reason": "cancelled"} if {
	input.request.event.type == "cancel_requested"
	input.request.state == "pending"
}

decision := {"next_state": "cancelled", "actions": ["notify_merchant"], "reason": "cancelled"} if {
	input.request.event.type == "cancel_requested"
	input.request.state == "review"
}

decision := {"next_state": "cancelled", "actions": ["void", "notify_merchant"], "reason": "cancelled"} if {
	input.request.event.type == "cancel_requested"
	input.request.state == "authorized"
}

# capture_requested: the merchant captures an authorization.
decision := {"next_state": "completed", "actions": ["capture", "notify_merchant"], "reason": "capture_requested"} if {
	input.request.event.type == "capture_requested"
	input.request.state == "authorized"
}

# refund_succeeded: refunded so far plus this refund against what was
# captured (the authorized amount when no capture was recorded).
decision := refund if {
	input.request.event.type == "refund_succeeded"
	input.request.state == "completed"
}

decision := refund if {
	input.request.event.type == "refund_succeeded"
	input.request.state == "partially_refunded"
}

refund := {"next_state": "refunded", "actions": ["notify_merchant"], "reason": "refunded"} if {
	input.request.event.amount > 0
	input.request.refunded + input.request.event.amount >= refundable
} else := {"next_state": "partially_refunded", "actions": ["notify_merchant"], "reason": "partially_refunded"} if {
	input.request.event.amount > 0
}

refundable := input.request.captured if {
	input.request.captured > 0
} else := input.request.amount.minor

# chargeback: the card holder's bank reversed the payment.
decision := {"next_state": "charged_back", "actions": ["notify_merchant"], "reason": "chargeback"} if {
	input.request.event.type == "chargeback"
	input.request.state == "completed"
}

decision := {"next_state": "charged_back", "actions": ["notify_merchant"], "reason": "chargeback"} if {
	input.request.event.type == "chargeback"
	input.request.state == "partially_refunded"
}

# authorization_expired: the reserved funds are released.
decision := {"next_state": "expired", "actions": ["void", "notify_merchant"], "reason": "authorization_expired"} if {
	input.request.event.type == "authorization_expired"
	input.request.state == "authorized"
}

# payment_expired: nobody finished the payment in time.
decision := {"next_state": "expired", "actions": ["notify_merchant"], "reason": "payment_expired"} if {
	input.request.event.type == "payment_expired"
	input.request.state == "created"
}

decision := {"next_state": "expired", "actions": ["notify_merchant"], "reason": "payment_expired"} if {
	input.request.event.type == "payment_expired"
	input.request.state == "pending"
}
