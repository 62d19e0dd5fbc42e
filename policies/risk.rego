# Risk: how risky is this payment?
#
# The expr rules (rules/risk/data.yaml) hold the conditions: every hit's
# effect is {score, reason}. This policy adds the one list lookup, the
# blocked BIN, and decides:
#   - a blocked BIN: score 100, block, reasons [blocked_bin];
#   - else score = min(100, sum of the hits' scores); action block on a
#     hard-block reason or at 80 and above, review at 60, challenge at 30,
#     else allow; reasons the hits' reasons, sorted, once each (rules that
#     share a reason add their scores).
#
# Speed: one lookup, one pass over the hits for the score and one for the
# reasons; no data subtree is read.
package paywire.risk

decision := {"score": 100, "action": "block", "reasons": ["blocked_bin"]} if {
	data.paywire.lists.blocked_bins[input.request.card.bin]
} else := {"score": score, "action": action(score, reasons), "reasons": sort(reasons)} if {
	score := min([100, sum([h.effect.score | some h in input.hits])])
	reasons := {h.effect.reason | some h in input.hits}
}

# blocked_bin and blocked_country are the hard-block reasons: they block
# whatever the score.
action(score, reasons) := "block" if {
	count(reasons & {"blocked_bin", "blocked_country"}) > 0
} else := "block" if {
	score >= 80
} else := "review" if {
	score >= 60
} else := "challenge" if {
	score >= 30
} else := "allow"
