package paywire.risk_test

import data.paywire.risk

# A clean card payment; the expr rules' conditions are tested by the
# decision cases (engine/testdata/cases/risk.yaml), so hits are given here.
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

with_hits(h) := object.union(base, {"hits": h})

with_card(c, h) := object.union(base, {"request": {"card": c}, "hits": h})

hit(score, reason) := {"id": concat("_", ["rule", reason]), "effect": {"score": score, "reason": reason}}

decide(i) := d if {
	d := risk.decision with input as i
}

# --- no hits --------------------------------------------------------------

test_clean_payment_allowed if {
	decide(base) == {"score": 0, "action": "allow", "reasons": []}
}

# --- blocked BIN (the policy's own lookup) --------------------------------

test_blocked_bin if {
	decide(with_card({"bin": "400666"}, [])) == {"score": 100, "action": "block", "reasons": ["blocked_bin"]}
}

test_every_blocked_bin_blocks if {
	every bin, _ in data.paywire.lists.blocked_bins {
		decide(with_card({"bin": bin}, [])).action == "block"
	}
}

test_blocked_bin_overrides_the_hits if {
	d := decide(with_card({"bin": "999999"}, [hit(15, "ip_country_mismatch"), hit(20, "high_amount")]))
	d == {"score": 100, "action": "block", "reasons": ["blocked_bin"]}
}

test_blocked_bin_whatever_the_method if {
	i := object.union(base, {"request": {"method": "ewallet", "card": {"bin": "510999"}}})
	decide(i).action == "block"
}

test_watched_bin_is_not_blocked if {
	decide(with_card({"bin": "401288"}, [])).action == "allow"
}

test_empty_bin_not_blocked if {
	i := object.union(base, {"request": {"method": "bank_redirect", "card": {"bin": ""}}})
	decide(i) == {"score": 0, "action": "allow", "reasons": []}
}

# --- combining hits -------------------------------------------------------

test_hits_add_scores_and_reasons_sorted if {
	d := decide(with_hits([hit(20, "high_amount"), hit(15, "ip_country_mismatch"), hit(25, "disposable_email")]))
	d == {"score": 60, "action": "review", "reasons": ["disposable_email", "high_amount", "ip_country_mismatch"]}
}

test_repeated_reason_listed_once_scores_added if {
	d := decide(with_hits([hit(20, "card_declines"), hit(30, "card_declines")]))
	d == {"score": 50, "action": "challenge", "reasons": ["card_declines"]}
}

test_same_effect_twice_counts_twice if {
	d := decide(with_hits([hit(20, "high_risk_country"), hit(20, "high_risk_country")]))
	d == {"score": 40, "action": "challenge", "reasons": ["high_risk_country"]}
}

test_hit_without_reason_only_scores if {
	d := decide(with_hits([{"id": "x", "effect": {"score": 30}}]))
	d == {"score": 30, "action": "challenge", "reasons": []}
}

test_hit_without_score_only_gives_its_reason if {
	d := decide(with_hits([{"id": "x", "effect": {"reason": "note"}}]))
	d == {"score": 0, "action": "allow", "reasons": ["note"]}
}

test_score_capped_at_100 if {
	d := decide(with_hits([hit(70, "a"), hit(70, "b")]))
	d == {"score": 100, "action": "block", "reasons": ["a", "b"]}
}

# --- hard blocks from hits ------------------------------------------------

test_hard_block_reason_blocks_at_low_score if {
	decide(with_hits([hit(0, "blocked_country")])) == {"score": 0, "action": "block", "reasons": ["blocked_country"]}
	d := decide(with_hits([hit(10, "blocked_bin"), hit(20, "high_amount")]))
	d == {"score": 30, "action": "block", "reasons": ["blocked_bin", "high_amount"]}
}

test_blocked_country_hit_blocks if {
	d := decide(with_hits([hit(100, "blocked_country"), hit(15, "ip_country_mismatch")]))
	d == {"score": 100, "action": "block", "reasons": ["blocked_country", "ip_country_mismatch"]}
}

# --- action thresholds ----------------------------------------------------

action_at(n) := a if {
	d := decide(with_hits([hit(n, "r")]))
	d.score == n
	a := d.action
}

test_action_thresholds if {
	action_at(0) == "allow"
	action_at(29) == "allow"
	action_at(30) == "challenge"
	action_at(59) == "challenge"
	action_at(60) == "review"
	action_at(79) == "review"
	action_at(80) == "block"
	action_at(100) == "block"
}

test_score_from_several_hits_reaches_block if {
	decide(with_hits([hit(40, "a"), hit(40, "b")])).action == "block"
	decide(with_hits([hit(40, "a"), hit(39, "b")])).action == "review"
}

# --- output shape ---------------------------------------------------------

test_output_shape if {
	every hs in [[], [hit(5, "x")], [hit(50, "x"), hit(50, "y")]] {
		d := decide(with_hits(hs))
		is_number(d.score)
		d.score >= 0
		d.score <= 100
		d.action in {"allow", "challenge", "review", "block"}
		is_array(d.reasons)
		count(d.reasons) == count({r | some r in d.reasons})
	}
}
