# Availability: which methods an end user sees, in which order, with which
# limits (minor units of the request's currency).
#
# The expr rules (rules/availability/data.yaml) decide everything else: each
# method hit offers one method ({method, limits}), the hits come in display
# order and a method hits at most once. This policy lists the method hits'
# limit entries for the request's currency, in hit order. When the merchant
# preselected a method, the first hit is the marker {preselected: true}: if
# a method hit offers the preselected method, that method alone; else every
# offered method (the marker has no limits, so the list skips it).
#
# Speed: one comprehension over the hits, which are few, and the entries
# returned as the rules store them; the preselection branch is skipped by
# the rule index unless the first hit is the marker.
package paywire.availability

default decision := {"methods": []}

# hidden are the methods a hiding rule ({hide: method}) takes off the list.
hidden contains h.effect.hide if some h in input.hits

decision := {"methods": [entry]} if {
	input.hits[0].effect.preselected == true
	some h in input.hits
	h.effect.method == input.request.preselected_method
	not hidden[h.effect.method]
	entry := h.effect.limits[input.request.amount.currency]
} else := {"methods": [entry |
	some h in input.hits
	not hidden[h.effect.method]
	entry := h.effect.limits[currency]
]} if {
	currency := input.request.amount.currency
}
