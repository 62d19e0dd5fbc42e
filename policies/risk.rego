# Risk: how risky is this payment?
#
# The expr rules (rules/risk/data.yaml) hold the findings: every hit's effect
# is {score, reason}. The first rule, blocked_bin, looks the card's BIN up
# in data.paywire.lists.blocked_bins. This policy decides:
#   - a blocked BIN (the first hit): score 100, block, reasons [blocked_bin]
#     alone, whatever else hit;
#   - else score = min(100, sum of the hits' scores), the action for the
#     score (block from 80, review from 60, challenge from 30, else allow:
#     the table below) and the hits' reasons, once each (rules that share a
#     reason add their scores). A finding that must block whatever else hit
#     (blocked_country) carries score 100.
#
# Speed: no data read and no comparison. The blocked BIN is an indexed test
# of the first hit; one pass over the hits for the score and one for the
# reasons (a set: the engine returns it sorted); the action is the score's
# entry in a constant table (a score above 100 has none, so the last branch
# gives 100 and block).
package paywire.risk

decision := {"score": 100, "action": "block", "reasons": ["blocked_bin"]} if {
	input.hits[0].effect.reason == "blocked_bin"
} else := {
	"score": score, "action": [
		"allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", # 0-9
		"allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", # 10-19
		"allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", # 20-29
		"challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", # 30-39
		"challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", # 40-49
		"challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", "challenge", # 50-59
		"review", "review", "review", "review", "review", "review", "review", "review", "review", "review", # 60-69
		"review", "review", "review", "review", "review", "review", "review", "review", "review", "review", # 70-79
		"block", "block", "block", "block", "block", "block", "block", "block", "block", "block", # 80-89
		"block", "block", "block", "block", "block", "block", "block", "block", "block", "block", # 90-99
		"block", # 100
	][score],
	"reasons": {r | r := input.hits[_].effect.reason},
} if {
	# sum with an output argument: one expression fewer than score := sum(...)
	sum([s | s := input.hits[_].effect.score], score)
} else := {"score": 100, "action": "block", "reasons": {r | r := input.hits[_].effect.reason}}
