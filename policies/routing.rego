# Routing: which providers, in which fallback order.
#
# Routing expr rules are first match, and each rule's effect is a complete
# route: {providers, experiment, arm}, every provider to try in order,
# fallbacks included (experiment and arm may be left out: they read as "").
# The first hit's effect is the decision. A payment that risk blocked is
# never routed, and no hit (a method without a catch-all rule) is no route.
#
# Speed: one indexed test and the effect returned as the rule stores it.
package paywire.routing

default decision := {"providers": [], "experiment": "", "arm": ""}

decision := {"providers": [], "experiment": "", "arm": ""} if {
	input.request.risk_action == "block"
} else := input.hits[0].effect
