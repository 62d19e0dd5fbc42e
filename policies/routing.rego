# Routing: which providers, in which fallback order.
#
# Routing expr rules are first match, and each rule's effect is a complete
# route: {providers}, every provider to try in order, fallbacks included,
# or {experiment}, the name of a routing experiment (data.paywire.
# experiments), whose arm the engine assigns and whose arm's providers
# become the route. The first hit's effect is the decision. A payment that
# risk blocked is never routed, and no hit (a method without a catch-all
# rule) is no route.
#
# Speed: one indexed test and the effect returned as the rule stores it.
package paywire.routing

default decision := {"providers": [], "experiment": "", "arm": ""}

decision := {"providers": [], "experiment": "", "arm": ""} if {
	input.request.risk_action == "block"
} else := input.hits[0].effect
