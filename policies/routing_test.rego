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

# The expr rules: data.rules.routing.rules in the bundle, data.routing.rules
# when `opa test policies/ rules/` loads rules/ as a root of its own.
rules := data.rules.routing.rules if {
	data.rules.routing.rules
} else := data.routing.rules

# hit(id) is the hit of a rule of rules/routing/data.yaml, with its effect.
hit(id) := {"id": id, "effect": r.effect} if {
	some r in rules
	r.id == id
}

decide(r, hits) := d if {
	d := routing.decision with input as object.union(base, {"request": r, "hits": hits})
}

no_route := {"providers": [], "experiment": "", "arm": ""}

# --- the first hit is the route ---------------------------------------------------

test_first_hit_is_the_route if {
	decide({}, [hit("card_gbp_acquirer_b"), hit("card_default")]) == {"providers": ["acquirer-b", "acquirer-a"]}
}

test_experiment_arms if {
	decide({}, [hit("acquirer_split_arm_a"), hit("acquirer_split_arm_b"), hit("card_default")]) == {
		"providers": ["acquirer-a", "acquirer-b"],
		"experiment": "acquirer-split",
		"arm": "a",
	}
	decide({}, [hit("acquirer_split_arm_b"), hit("card_default")]) == {
		"providers": ["acquirer-b", "acquirer-a"],
		"experiment": "acquirer-split",
		"arm": "b",
	}
}

test_effect_returned_as_stored if {
	h := {"id": "x", "effect": {"providers": ["p1", "p2", "p3"], "experiment": "e", "arm": "c"}}
	decide({}, [h]) == h.effect
}

test_other_methods if {
	decide({"method": "bank_redirect"}, [hit("bank_redirect_default")]).providers == ["sandbox-bank"]
	decide({"method": "ewallet"}, [hit("ewallet_default")]).providers == ["sandbox-wallet"]
}

# --- no route -------------------------------------------------------------------

test_no_hit_no_route if {
	decide({"method": "crypto"}, []) == no_route
}

test_risk_block_never_routed if {
	decide({"risk_action": "block", "risk_score": 100}, [hit("acquirer_split_arm_a")]) == no_route
	decide({"risk_action": "block"}, []) == no_route
}

test_risk_review_and_challenge_routed if {
	decide({"risk_action": "review", "risk_score": 65}, [hit("acquirer_split_arm_b")]).providers == ["acquirer-b", "acquirer-a"]
	decide({"risk_action": "challenge", "risk_score": 40}, [hit("card_default")]).providers == ["acquirer-a", "acquirer-b"]
	decide({"risk_action": ""}, [hit("card_default")]).providers == ["acquirer-a", "acquirer-b"]
}

# --- the rules' data: every effect a complete route -----------------------------

test_every_effect_is_a_route if {
	every r in rules {
		is_array(r.effect.providers)
		count(r.effect.providers) > 0
		count(r.effect.providers) == count({p | some p in r.effect.providers})
		every p in r.effect.providers {
			is_string(p)
			p != ""
		}
		every k, _ in r.effect {
			k in {"providers", "experiment", "arm"}
		}
		is_string(object.get(r.effect, "experiment", ""))
		is_string(object.get(r.effect, "arm", ""))

		# An experiment's rule names its arm, and only such a rule.
		no_experiment := object.get(r.effect, "experiment", "") == ""
		no_arm := object.get(r.effect, "arm", "") == ""
		no_experiment == no_arm
	}
}

test_every_rule_leads_with_its_method if {
	every r in rules {
		startswith(r.when, `request.method == "`)
	}
}

test_every_method_ends_with_its_catch_all if {
	every m in ["card", "bank_redirect", "ewallet"] {
		catch_all := sprintf(`request.method == "%s"`, [m])
		last := max([i | some i, r in rules; startswith(r.when, catch_all)])
		rules[last].when == catch_all
	}
}

test_card_routes_keep_both_acquirers if {
	# The fallbacks are part of every route: a card route lists both.
	card_routes := [r.effect.providers | some r in rules; startswith(r.when, `request.method == "card"`)]
	count(card_routes) > 0
	every providers in card_routes {
		{p | some p in providers} == {"acquirer-a", "acquirer-b"}
	}
}

test_acquirer_split_arms_split_the_experiment if {
	# Arm b, right after arm a, takes what arm a does not: first match.
	some i
	rules[i].id == "acquirer_split_arm_a"
	rules[i + 1].id == "acquirer_split_arm_b"
	rules[i].when == concat(" && ", [rules[i + 1].when, `bucket("acquirer-split-2026", request.customer.id) < 50`])
}
