package paywire.risk_test

import data.paywire.risk

# The policy combines hits, so the tests give them explicitly: hit() builds
# one from a rule of rules/risk/data.yaml (its real effect), score_hit() a
# synthetic one. The expr rules' conditions are tested by the decision cases
# (engine/testdata/cases/risk.yaml).
base := {
	"request": {
		"payment_id": "pay-1",
		"merchant_id": "demo",
		"kind": "deposit",
		"amount": {"minor": 5000, "currency": "EUR", "exponent": 2},
		"method": "card",
		"card": {
			"brand": "visa", "bin": "411111", "last4": "1111", "country": "DE",
			"expiry_month": 12, "expiry_year": 2028, "fingerprint": "fp-1",
		},
		"customer": {
			"id": "cust-1", "email": "anna@example.com", "email_domain": "example.com",
			"country": "DE", "ip": "192.0.2.10", "ip_country": "DE", "language": "de",
		},
		"billing_country": "DE",
		"time": "2026-11-25T12:00:00Z",
	},
	"features": {
		"card_count_1h": 0, "card_count_24h": 0, "card_amount_24h": 0,
		"card_declines_24h": 0, "email_count_24h": 0, "ip_count_1h": 0,
		"customer_count_7d": 0, "customer_age_days": 100, "card_age_days": 100,
		"email_age_days": 100,
	},
	"hits": [],
}

# The expr rules: data.rules.risk.rules in the bundle, data.risk.rules when
# `opa test policies/ rules/` loads rules/ as a root of its own.
rules := data.rules.risk.rules if {
	data.rules.risk.rules
} else := data.risk.rules

hit(id) := {"id": id, "effect": r.effect} if {
	some r in rules
	r.id == id
}

score_hit(score, reason) := {"id": concat("_", ["rule", reason]), "effect": {"score": score, "reason": reason}}

# profile(name) is input.profile as the engine makes it from
# data.paywire.risk_profiles.
profile(name) := object.union(
	{"off": []},
	object.union(data.paywire.risk_profiles.profiles[name], {"name": name}),
)

decide(hits) := decide_for("standard", hits)

decide_for(name, hits) := d if {
	d := risk.decision with input as object.union(base, {"hits": hits, "profile": profile(name)})
}

# --- no hits ----------------------------------------------------------------

test_clean_payment_allowed if {
	decide([]) == {"score": 0, "action": "allow", "reasons": set()}
}

# --- the blocked BIN (rule blocked_bin, the first hit) --------------------------

test_blocked_bin_alone_decides if {
	decide([hit("blocked_bin")]) == {"score": 100, "action": "block", "reasons": ["blocked_bin"]}
	d := decide([hit("blocked_bin"), hit("high_amount"), hit("ip_card_country_mismatch")])
	d == {"score": 100, "action": "block", "reasons": ["blocked_bin"]}
}

test_blocked_bin_rule_is_first_and_looks_the_bin_up if {
	rules[0].id == "blocked_bin"
	rules[0].when == `in_list("blocked_bins", request.card.bin)`
	rules[0].effect == {"score": 100, "reason": "blocked_bin"}
	count(data.paywire.lists.blocked_bins) > 0
	not data.paywire.lists.blocked_bins["401288"] # watched, not blocked
}

test_blocked_bin_not_first_still_blocks if {
	# Were it not the first hit, its score alone would block.
	d := decide([hit("high_amount"), hit("blocked_bin")])
	d == {"score": 100, "action": "block", "reasons": {"blocked_bin", "high_amount"}}
}

# --- combining hits -------------------------------------------------------------

test_hits_add_scores_and_list_each_reason if {
	d := decide([hit("high_amount"), hit("ip_card_country_mismatch"), hit("disposable_email_domain")])
	d == {"score": 60, "action": "review", "reasons": {"disposable_email", "high_amount", "ip_country_mismatch"}}
}

test_rules_sharing_a_reason_add_their_scores if {
	d := decide([hit("card_declines_24h"), hit("card_declines_24h_many")])
	d == {"score": 50, "action": "challenge", "reasons": {"card_declines"}}
	d2 := decide([hit("high_risk_ip_country"), hit("high_risk_card_country")])
	d2 == {"score": 40, "action": "challenge", "reasons": {"high_risk_country"}}
}

test_same_effect_twice_counts_twice if {
	d := decide([score_hit(20, "x"), score_hit(20, "x")])
	d == {"score": 40, "action": "challenge", "reasons": {"x"}}
}

test_blocked_country_blocks_whatever_else_hit if {
	d := decide([hit("blocked_country"), hit("ip_card_country_mismatch")])
	d == {"score": 100, "action": "block", "reasons": {"blocked_country", "ip_country_mismatch"}}
	decide([hit("blocked_country")]).action == "block"
}

test_score_capped_at_100 if {
	decide([score_hit(70, "a"), score_hit(70, "b")]) == {"score": 100, "action": "block", "reasons": {"a", "b"}}
	decide([score_hit(100, "a"), score_hit(1, "b")]).score == 100
	decide([score_hit(60, "a"), score_hit(40, "b")]) == {"score": 100, "action": "block", "reasons": {"a", "b"}}
}

# --- actions ----------------------------------------------------------------------

expected_action(score) := "block" if {
	score >= 80
} else := "review" if {
	score >= 60
} else := "challenge" if {
	score >= 30
} else := "allow"

test_action_for_every_score if {
	every score in numbers.range(0, 100) {
		d := decide([score_hit(score, "r")])
		d.score == score
		d.action == expected_action(score)
	}
}

test_action_thresholds if {
	decide([score_hit(29, "r")]).action == "allow"
	decide([score_hit(30, "r")]).action == "challenge"
	decide([score_hit(59, "r")]).action == "challenge"
	decide([score_hit(60, "r")]).action == "review"
	decide([score_hit(79, "r")]).action == "review"
	decide([score_hit(80, "r")]).action == "block"
}

# --- risk profiles ------------------------------------------------------------

test_default_profile_is_standard if {
	data.paywire.risk_profiles["default"] == "standard"
}

test_every_profile_orders_its_thresholds if {
	every p in data.paywire.risk_profiles.profiles {
		is_number(p.challenge)
		0 < p.challenge
		p.challenge <= p.review
		p.review <= p.block
		p.block <= 100
	}
}

test_strict_profile_acts_sooner if {
	decide_for("strict", [score_hit(20, "r")]).action == "challenge"
	decide_for("strict", [score_hit(45, "r")]).action == "review"
	decide_for("strict", [score_hit(70, "r")]).action == "block"
	decide_for("strict", [score_hit(19, "r")]).action == "allow"
}

test_high_ticket_profile_acts_later if {
	decide_for("high_ticket", [score_hit(39, "r")]).action == "allow"
	decide_for("high_ticket", [score_hit(69, "r")]).action == "challenge"
	decide_for("high_ticket", [score_hit(89, "r")]).action == "review"
	decide_for("high_ticket", [score_hit(90, "r")]).action == "block"
}

test_a_profile_missing_a_threshold_blocks if {
	d := risk.decision with input as object.union(base, {"hits": [score_hit(5, "r")], "profile": {"name": "broken", "challenge": 30, "review": 60}})
	d.action == "block"
	d2 := risk.decision with input as object.union(base, {"hits": [], "profile": {"name": "none"}})
	d2.action == "block"
	d3 := risk.decision with input as object.union(base, {"hits": [], "profile": {"name": "upside_down", "challenge": 80, "review": 60, "block": 30}})
	d3.action == "block"
}

test_no_profile_blocks if {
	d := risk.decision with input as object.union(base, {"hits": []})
	d.action == "block"
}

test_blocked_bin_blocks_under_every_profile if {
	every name, _ in data.paywire.risk_profiles.profiles {
		decide_for(name, [hit("blocked_bin")]).action == "block"
	}
}

test_score_from_several_hits_reaches_block if {
	decide([score_hit(40, "a"), score_hit(40, "b")]).action == "block"
	decide([score_hit(40, "a"), score_hit(39, "b")]).action == "review"
}

# --- the rules' data ------------------------------------------------------------

test_enough_findings if {
	count(rules) >= 25
}

test_every_effect_is_a_score_and_a_reason if {
	every r in rules {
		count(r.effect) == 2
		is_number(r.effect.score)
		r.effect.score == round(r.effect.score)
		r.effect.score >= 0
		r.effect.score <= 100
		is_string(r.effect.reason)
		r.effect.reason != ""
	}
}

test_rule_ids_unique if {
	count(rules) == count({r.id | some r in rules})
}

test_hard_blocks_score_100 if {
	hard := [r | some r in rules; r.effect.reason in {"blocked_bin", "blocked_country"}]
	count(hard) == 2
	every r in hard {
		r.effect.score == 100
	}
}

test_rules_do_not_bind_with_let if {
	# A rule with `let` pays for its variables on every run.
	every r in rules {
		not regex.match(`(^|[^a-z_])let `, r.when)
	}
}
