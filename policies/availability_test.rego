package paywire.availability_test

import data.paywire.availability

base := {
	"request": {
		"merchant_id": "demo",
		"kind": "deposit",
		"amount": {"minor": 5000, "currency": "EUR", "exponent": 2},
		"country": "DE",
		"language": "de",
		"customer_id": "cust-1",
		"deposit_methods": [],
		"preselected_method": "",
		"time": "2026-11-25T12:00:00Z",
	},
	"features": {
		"card_count_1h": 0, "card_count_24h": 0, "card_amount_24h": 0,
		"card_declines_24h": 0, "email_count_24h": 0, "ip_count_1h": 0,
		"customer_count_7d": 3, "customer_age_days": 100, "card_age_days": 100,
		"email_age_days": 100,
	},
	"hits": [],
}

# The expr rules: data.rules.availability.rules in the bundle,
# data.availability.rules when `opa test policies/ rules/` loads rules/ as a
# root of its own.
rules := data.rules.availability.rules if {
	data.rules.availability.rules
} else := data.availability.rules

# hit(id) is the hit of a rule of rules/availability/data.yaml, with its
# effect. The rules' conditions are tested by the decision cases
# (engine/testdata/cases/availability.yaml).
hit(id) := {"id": id, "effect": r.effect} if {
	some r in rules
	r.id == id
}

marker := hit("preselected")

bank := hit("bank_redirect_first_deposit")

card := hit("card_deposit")

wallet := hit("ewallet_deposit")

decide(r, hits) := d if {
	d := availability.decision with input as object.union(base, {"request": r, "hits": hits})
}

methods_of(d) := [m.method | some m in d.methods]

card_eur := {"method": "card", "min_minor": 100, "max_minor": 1000000}

bank_eur := {"method": "bank_redirect", "min_minor": 100, "max_minor": 2500000}

wallet_eur := {"method": "ewallet", "min_minor": 100, "max_minor": 500000}

# --- the hits' entries for the currency, in hit order -----------------------------

test_three_methods_in_hit_order if {
	decide({}, [bank, card, wallet]) == {"methods": [bank_eur, card_eur, wallet_eur]}
	methods_of(decide({}, [card, bank, wallet])) == ["card", "bank_redirect", "ewallet"]
}

test_limits_of_the_request_currency if {
	decide({"amount": {"currency": "SEK"}}, [card, bank, wallet]) == {"methods": [
		{"method": "card", "min_minor": 1000, "max_minor": 11000000},
		{"method": "bank_redirect", "min_minor": 1000, "max_minor": 25000000},
		{"method": "ewallet", "min_minor": 1000, "max_minor": 5500000},
	]}
}

test_a_hit_without_the_currency_is_skipped if {
	# bank_redirect has no GBP limits (its rule does not hit for GBP).
	decide({"amount": {"currency": "GBP"}}, [bank, card, wallet]) == {"methods": [
		{"method": "card", "min_minor": 100, "max_minor": 850000},
		{"method": "ewallet", "min_minor": 100, "max_minor": 450000},
	]}
}

test_withdrawal_limits if {
	d := decide({"kind": "withdrawal"}, [hit("card_withdrawal"), hit("ewallet_withdrawal")])
	d == {"methods": [
		{"method": "card", "min_minor": 1000, "max_minor": 500000},
		{"method": "ewallet", "min_minor": 1000, "max_minor": 500000},
	]}
}

test_two_one_or_no_methods if {
	decide({}, [card, wallet]) == {"methods": [card_eur, wallet_eur]}
	decide({}, [wallet]) == {"methods": [wallet_eur]}
	decide({}, []) == {"methods": []}
}

# --- a preselected method -----------------------------------------------------------

test_preselected_and_offered_only_it if {
	decide({"preselected_method": "bank_redirect"}, [marker, bank, card, wallet]) == {"methods": [bank_eur]}
	decide({"preselected_method": "card"}, [marker, bank, card, wallet]) == {"methods": [card_eur]}
	decide({"preselected_method": "ewallet"}, [marker, bank, card, wallet]) == {"methods": [wallet_eur]}
	decide({"preselected_method": "ewallet"}, [marker, card, wallet]) == {"methods": [wallet_eur]}
}

test_preselected_not_offered_all_offered if {
	decide({"preselected_method": "bank_redirect"}, [marker, card, wallet]) == {"methods": [card_eur, wallet_eur]}
	decide({"preselected_method": "crypto"}, [marker, bank, card, wallet]) == {"methods": [bank_eur, card_eur, wallet_eur]}
	decide({"preselected_method": "card"}, [marker, wallet]) == {"methods": [wallet_eur]}
}

test_preselected_nothing_offered if {
	decide({"preselected_method": "card"}, [marker]) == {"methods": []}
}

# --- the rules' data ----------------------------------------------------------------

methods := {"card", "bank_redirect", "ewallet"}

method_rules := [r | some r in rules; r.id != "preselected"; not startswith(r.id, "hidden_")]

hiding_rules := [r | some r in rules; startswith(r.id, "hidden_")]

test_hiding_rules_hide_a_method_and_read_features if {
	count(hiding_rules) > 0
	every r in hiding_rules {
		object.keys(r.effect) == {"hide"}
		r.effect.hide in methods
		contains(r.when, "features.")
	}
}

test_preselected_marker_is_the_first_rule if {
	rules[0] == {
		"id": "preselected",
		"description": rules[0].description,
		"when": `request.preselected_method != ""`,
		"effect": {"preselected": true},
	}
	every r in method_rules {
		not r.effect.preselected
	}
}

test_every_effect_is_a_method_with_limits_per_currency if {
	every r in method_rules {
		object.keys(r.effect) == {"method", "limits"}
		r.effect.method in methods
		count(r.effect.limits) > 0
		every currency, entry in r.effect.limits {
			regex.match(`^[A-Z]{3}$`, currency)
			object.keys(entry) == {"method", "min_minor", "max_minor"}
			entry.method == r.effect.method
			entry.min_minor == round(entry.min_minor)
			entry.max_minor == round(entry.max_minor)
			entry.min_minor >= 0
			entry.min_minor <= entry.max_minor
		}
	}
}

# The amount tests of a rule's `when`, one per currency.
amount_tests(r) := {[m[1], to_number(m[2]), to_number(m[3])] |
	some m in regex.find_all_string_submatch_n(
		`\(request\.amount\.currency == "([A-Z]{3})" && request\.amount\.minor >= (\d+) && request\.amount\.minor <= (\d+)\)`,
		r.when, -1,
	)
}

test_limits_in_when_and_effect_agree if {
	every r in method_rules {
		amount_tests(r) == {[c, e.min_minor, e.max_minor] | some c, e in r.effect.limits}
	}
}

kind_of(r) := "deposit" if startswith(r.when, `request.kind == "deposit" && `)

kind_of(r) := "withdrawal" if startswith(r.when, `request.kind == "withdrawal" && `)

list_of(r) := "bank_redirect_first_countries" if startswith(r.id, "bank_redirect_first_")

list_of(r) := "bank_redirect_second_countries" if startswith(r.id, "bank_redirect_second_")

list_of(r) := "bank_redirect_last_countries" if startswith(r.id, "bank_redirect_last_")

list_of(r) := "card_countries" if startswith(r.id, "card_")

list_of(r) := "ewallet_countries" if startswith(r.id, "ewallet_")

test_every_rule_leads_with_its_kind_and_country_list if {
	every r in method_rules {
		r.id == concat("_", [trim_suffix(list_of(r), "_countries"), kind_of(r)])
		startswith(r.when, sprintf(`request.kind == "%s" && in_list("%s", request.country) && `, [kind_of(r), list_of(r)]))
	}
}

deposited_with_first(r) if kind_of(r) == "deposit"

deposited_with_first(r) if {
	kind_of(r) == "withdrawal"
	contains(r.when, sprintf(`&& "%s" in request.deposit_methods && `, [r.effect.method]))
}

test_withdrawals_only_to_methods_deposited_with if {
	every r in method_rules {
		deposited_with_first(r)
	}
}

test_display_order_per_kind if {
	every kind in ["deposit", "withdrawal"] {
		[r.id | some r in method_rules; kind_of(r) == kind] == [
			concat("_", ["bank_redirect_first", kind]),
			concat("_", ["card", kind]),
			concat("_", ["bank_redirect_second", kind]),
			concat("_", ["ewallet", kind]),
			concat("_", ["bank_redirect_last", kind]),
		]
	}
}

test_bank_redirect_rules_differ_only_in_position if {
	every kind in ["deposit", "withdrawal"] {
		first := [r | some r in rules; r.id == concat("_", ["bank_redirect_first", kind])][0]
		every pos in ["second", "last"] {
			other := [r | some r in rules; r.id == concat("_", ["bank_redirect", pos, kind])][0]
			other.effect == first.effect
			replace(other.when, concat("", ["bank_redirect_", pos, "_countries"]), "X") == replace(first.when, "bank_redirect_first_countries", "X")
		}
	}
}

# --- the catalogue (data.paywire.lists) ---------------------------------------------

catalogue := {
	"card_countries", "ewallet_countries",
	"bank_redirect_first_countries", "bank_redirect_second_countries", "bank_redirect_last_countries",
}

test_a_country_lists_bank_redirect_in_one_position_at_most if {
	lists := data.paywire.lists
	count(object.keys(lists.bank_redirect_first_countries) & object.keys(lists.bank_redirect_second_countries)) == 0
	count(object.keys(lists.bank_redirect_first_countries) & object.keys(lists.bank_redirect_last_countries)) == 0
	count(object.keys(lists.bank_redirect_second_countries) & object.keys(lists.bank_redirect_last_countries)) == 0
}

test_catalogue_lists_are_countries if {
	every name in catalogue {
		count(data.paywire.lists[name]) > 0
		every c, v in data.paywire.lists[name] {
			regex.match(`^[A-Z]{2}$`, c)
			v == true
		}
	}
}

test_no_blocked_country_is_served if {
	every name in catalogue {
		every c, _ in data.paywire.lists.blocked_countries {
			not data.paywire.lists[name][c]
		}
	}
}
