# Routing: which providers, in which fallback order.
#
# Routing expr rules are first match: the first hit's providers come first,
# then data.paywire.config.routing.fallbacks[method] without the providers
# already listed (a rule lists each provider once). experiment and arm come
# from the first hit's effect ("" when absent). No hit: the fallbacks alone.
# A payment risk blocked is never routed: no providers.
package paywire.routing

default decision := {"providers": [], "experiment": "", "arm": ""}

decision := {
	"providers": array.concat(first, [f |
		some f in data.paywire.config.routing.fallbacks[input.request.method]
		not f in first
	]),
	"experiment": object.get(effect, "experiment", ""),
	"arm": object.get(effect, "arm", ""),
} if {
	input.request.risk_action != "block"
	effect := input.hits[0].effect
	first := object.get(effect, "providers", [])
}

decision := {"providers": fallbacks, "experiment": "", "arm": ""} if {
	input.request.risk_action != "block"
	count(input.hits) == 0
	fallbacks := data.paywire.config.routing.fallbacks[input.request.method]
}
