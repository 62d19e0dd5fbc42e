# Risk: how risky is this payment?
#
# The expr rules (rules/risk/data.yaml) hold the findings: every hit's effect
# is {score, reason}. The first rule, blocked_bin, looks the card's BIN up
# in data.paywire.lists.blocked_bins. This policy decides:
#   - a blocked BIN (the first hit): score 100, block, reasons [blocked_bin]
#     alone, whatever else hit;
#   - else score = min(100, sum of the hits' scores), the action for the
#     score by the merchant's risk profile (input.profile, from
#     data.paywire.risk_profiles: allow below `challenge`, challenge below
#     `review`, review below `block`, else block) and the hits' reasons, once
#     each (rules that share a reason add their scores). A finding that must
#     block whatever else hit (blocked_country) carries score 100.
#
# A profile without one of the thresholds, or with them out of order, blocks
# every payment (the last branch): a mistake in the data fails closed.
#
# Speed: no data read. The engine resolves the profile and keeps the input
# {hits, profile} per profile and combination of hits; the blocked BIN is an
# indexed test of the first hit; one pass over the hits for the score and one
# for the reasons (a set: the engine returns it sorted); at most three
# comparisons for the action after two for the profile.
package paywire.risk

decision := {"score": 100, "action": "block", "reasons": ["blocked_bin"]} if {
	input.hits[0].effect.reason == "blocked_bin"
} else := {"score": score, "action": action(score), "reasons": {r | r := input.hits[_].effect.reason}} if {
	# sum with an output argument: one expression fewer than score := sum(...)
	sum([s | s := input.hits[_].effect.score], score)
	score <= 100

	# the profile's thresholds are there and in order
	input.profile.challenge <= input.profile.review
	input.profile.review <= input.profile.block
} else := {"score": 100, "action": "block", "reasons": {r | r := input.hits[_].effect.reason}}

# action is the action for a score under the merchant's profile.
action(score) := "allow" if {
	score < input.profile.challenge
} else := "challenge" if {
	score < input.profile.review
} else := "review" if {
	score < input.profile.block
} else := "block"
