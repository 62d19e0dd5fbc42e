package paywire.routing_test

import data.paywire.routing

base := {
	"request": {
		"merchant_id": "demo",
		"kind": "deposit",
		"amount": {"minor": 5000, "currency": "EUR", "exponent": 2},
		"method": "card",
		"card": {"brand": "visa", "bin": "411111", "country": "DE"},
		"customer": {"id": "cust-1", "country": "DE"},
		"risk_score": 10,
		"risk_action": "allow",
		"time": "2026-11-25T12:00:00Z",
	},
	"features": {},
	"hits": [],
}

in_(r, hits) := object.union(base, {"request": r, "hits": hits})

hit(effect) := {"id": "rule", "effect": effect}

arm_a := hit({"providers": ["acquirer-a", "acquirer-b"], "experiment": "acquirer-split", "arm": "a"})

arm_b := hit({"providers": ["acquirer-b", "acquirer-a"], "experiment": "acquirer-split", "arm": "b"})

test_first_hit_then_fallbacks if {
	d := routing.decision with input as in_({}, [hit({"providers": ["acquirer-b"]})])
	d == {"providers": ["acquirer-b", "acquirer-a"], "experiment": "", "arm": ""}
}

test_experiment_arm_a if {
	d := routing.decision with input as in_({}, [arm_a])
	d == {"providers": ["acquirer-a", "acquirer-b"], "experiment": "acquirer-split", "arm": "a"}
}

test_experiment_arm_b if {
	d := routing.decision with input as in_({}, [arm_b])
	d == {"providers": ["acquirer-b", "acquirer-a"], "experiment": "acquirer-split", "arm": "b"}
}

test_only_first_hit_counts if {
	d := routing.decision with input as in_({}, [hit({"providers": ["acquirer-b"]}), arm_a])
	d == {"providers": ["acquirer-b", "acquirer-a"], "experiment": "", "arm": ""}
}

test_fallbacks_already_listed_dropped if {
	d := routing.decision with input as in_({}, [hit({"providers": ["acquirer-b", "acquirer-a"]})])
	d.providers == ["acquirer-b", "acquirer-a"]
}

test_fallbacks_keep_their_order_after_the_rule_providers if {
	d := routing.decision with input as in_({}, [hit({"providers": ["acquirer-b", "acquirer-c"]})])
	d.providers == ["acquirer-b", "acquirer-c", "acquirer-a"]
}

test_provider_outside_fallbacks_kept_first if {
	d := routing.decision with input as in_({}, [hit({"providers": ["acquirer-c"]})])
	d.providers == ["acquirer-c", "acquirer-a", "acquirer-b"]
}

test_no_hits_fallbacks_only if {
	routing.decision == {"providers": ["acquirer-a", "acquirer-b"], "experiment": "", "arm": ""} with input as base
}

test_bank_redirect_and_ewallet_fallbacks if {
	d1 := routing.decision with input as in_({"method": "bank_redirect"}, [hit({"providers": ["sandbox-bank"]})])
	d1.providers == ["sandbox-bank"]
	d2 := routing.decision with input as in_({"method": "ewallet"}, [])
	d2.providers == ["sandbox-wallet"]
}

test_no_hits_no_fallbacks_no_route if {
	routing.decision == {"providers": [], "experiment": "", "arm": ""} with input as in_({"method": "crypto"}, [])
}

test_no_hits_risk_block_no_route if {
	routing.decision == {"providers": [], "experiment": "", "arm": ""} with input as in_({"risk_action": "block"}, [])
}

test_fallbacks_have_no_repeats if {
	every _, fs in data.paywire.config.routing.fallbacks {
		count(fs) == count({f | some f in fs})
	}
}

test_hit_without_providers_uses_fallbacks if {
	d := routing.decision with input as in_({}, [hit({"experiment": "x", "arm": "c"})])
	d == {"providers": ["acquirer-a", "acquirer-b"], "experiment": "x", "arm": "c"}
}

test_risk_block_never_routed if {
	d := routing.decision with input as in_({"risk_action": "block", "risk_score": 100}, [arm_a])
	d == {"providers": [], "experiment": "", "arm": ""}
}

test_risk_review_and_challenge_routed if {
	d1 := routing.decision with input as in_({"risk_action": "review", "risk_score": 65}, [arm_b])
	d1.providers == ["acquirer-b", "acquirer-a"]
	d2 := routing.decision with input as in_({"risk_action": "challenge", "risk_score": 40}, [])
	d2.providers == ["acquirer-a", "acquirer-b"]
}
