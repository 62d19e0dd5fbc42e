# Availability: which methods an end user sees, in which order, with which
# limits (minor units of the request's currency).
#
# Offered: the methods data.paywire.config.availability.countries lists for
# the end user's country, in that order, that
#   - have limits for the request's kind and currency
#     (data.paywire.config.availability.limits[kind][currency][method]),
#   - allow the amount (min_minor <= amount <= max_minor),
#   - no expr rule hit hides ({"hide": method}),
#   - for a withdrawal: the end user has deposited with before.
# If the merchant preselected one of them, it is the only one.
#
# Speed: two small data reads per request (never a large subtree), one
# pass over at most three methods, the limit entries returned as stored;
# the rule index picks the kind's body.
package paywire.availability

# Methods hidden by expr rule hits.
hidden := {m | some h in input.hits; m := h.effect.hide}

offered := [lim |
	limits := data.paywire.config.availability.limits.deposit[input.request.amount.currency]
	some m in data.paywire.config.availability.countries[input.request.country]
	lim := limits[m]
	lim.min_minor <= input.request.amount.minor
	input.request.amount.minor <= lim.max_minor
	not m in hidden
] if {
	input.request.kind == "deposit"
}

offered := [lim |
	limits := data.paywire.config.availability.limits.withdrawal[input.request.amount.currency]
	some m in data.paywire.config.availability.countries[input.request.country]
	m in input.request.deposit_methods
	lim := limits[m]
	lim.min_minor <= input.request.amount.minor
	input.request.amount.minor <= lim.max_minor
	not m in hidden
] if {
	input.request.kind == "withdrawal"
}

# No methods when the kind, country or currency is not served.
default decision := {"methods": []}

decision := {"methods": [o]} if {
	input.request.preselected_method != ""
	some o in offered
	o.method == input.request.preselected_method
} else := {"methods": offered}
