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

test_experiment_chosen_by_its_rule if {
	# The rule names the experiment; the engine assigns the arm.
	h := {"id": "x", "effect": {"experiment": "e"}}
	decide({}, [h, hit("card_default")]) == {"experiment": "e"}
}

test_effect_returned_as_stored if {
	h := {"id": "x", "effect": {"providers": ["p1", "p2", "p3"]}}
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
	decide({"risk_action": "block", "risk_score": 100}, [hit("acquirer_split")]) == no_route
	decide({"risk_action": "block"}, []) == no_route
}

test_risk_review_and_challenge_routed if {
	decide({"risk_action": "review", "risk_score": 65}, [{"id": "x", "effect": {"experiment": "e"}}]).experiment == "e"
	decide({"risk_action": "challenge", "risk_score": 40}, [hit("card_default")]).providers == ["acquirer-a", "acquirer-b"]
	decide({"risk_action": ""}, [hit("card_default")]).providers == ["acquirer-a", "acquirer-b"]
}

# --- the rules' data: every effect a complete route -----------------------------

experiments := {x.name: x | some x in data.paywire.experiments.experiments}

test_every_effect_is_a_route if {
	every r in rules {
		route_or_experiment(r.effect)
	}
}

# A route: a non-empty list of distinct providers, and nothing else.
route_or_experiment(e) if {
	object.keys(e) == {"providers"}
	count(e.providers) > 0
	count(e.providers) == count({p | some p in e.providers})
	every p in e.providers {
		is_string(p)
		p != ""
	}
}

# Or the name of a defined experiment, alone.
route_or_experiment(e) if {
	object.keys(e) == {"experiment"}
	experiments[e.experiment]
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
	# The fallbacks are part of every route, an experiment's arms included:
	# a card route lists both acquirers.
	card_rules := [r | some r in rules; startswith(r.when, `request.method == "card"`)]
	plain := [r.effect.providers | some r in card_rules; r.effect.providers]
	arms := [a.providers |
		some r in card_rules
		some a in experiments[r.effect.experiment].arms
	]
	card_routes := array.concat(plain, arms)
	count(card_routes) > 0
	every providers in card_routes {
		{p | some p in providers} == {"acquirer-a", "acquirer-b"}
	}
}

test_experiment_arms_add_up if {
	every x in experiments {
		sum([a.weight | some a in x.arms]) == 100
		x.control in {a.name | some a in x.arms}
	}
}
