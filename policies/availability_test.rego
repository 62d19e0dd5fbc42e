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

req(r) := object.union(base, {"request": r})

hide(m) := {"id": concat("_", ["hide", m]), "effect": {"hide": m}}

methods_of(i) := [o.method | some o in d.methods] if {
	d := availability.decision with input as i
}

card_eur := {"method": "card", "min_minor": 100, "max_minor": 1000000}

bank_eur := {"method": "bank_redirect", "min_minor": 100, "max_minor": 2500000}

wallet_eur := {"method": "ewallet", "min_minor": 100, "max_minor": 500000}

# --- catalogue, limits and order ------------------------------------------

test_germany_eur_all_methods_bank_first if {
	availability.decision == {"methods": [bank_eur, card_eur, wallet_eur]} with input as base
}

test_default_order_where_no_bank_redirect if {
	availability.decision == {"methods": [card_eur, wallet_eur]} with input as req({"country": "FR"})
}

test_sweden_sek_limits_and_order if {
	i := req({"country": "SE", "amount": {"minor": 50000, "currency": "SEK"}})
	availability.decision == {"methods": [
		{"method": "card", "min_minor": 1000, "max_minor": 11000000},
		{"method": "bank_redirect", "min_minor": 1000, "max_minor": 25000000},
		{"method": "ewallet", "min_minor": 1000, "max_minor": 5500000},
	]} with input as i
}

test_norway_key_is_a_country_not_a_boolean if {
	methods_of(req({"country": "NO", "amount": {"minor": 50000, "currency": "NOK"}})) == ["card", "ewallet"]
}

test_currency_not_supported_by_method if {
	# GBP: no bank_redirect limits.
	methods_of(req({"country": "DE", "amount": {"currency": "GBP"}})) == ["card", "ewallet"]
}

test_unknown_currency_no_methods if {
	availability.decision == {"methods": []} with input as req({"amount": {"currency": "HUF"}})
}

test_country_not_served if {
	availability.decision == {"methods": []} with input as req({"country": "BR"})
}

test_blocked_country_no_methods if {
	availability.decision == {"methods": []} with input as req({"country": "KP", "preselected_method": "card"})
}

test_amount_above_a_method_maximum if {
	methods_of(req({"amount": {"minor": 500001}})) == ["bank_redirect", "card"]
	methods_of(req({"amount": {"minor": 500000}})) == ["bank_redirect", "card", "ewallet"]
	methods_of(req({"amount": {"minor": 1000001}})) == ["bank_redirect"]
}

test_amount_below_minimum if {
	methods_of(req({"amount": {"minor": 99}})) == []
	methods_of(req({"amount": {"minor": 100}})) == ["bank_redirect", "card", "ewallet"]
}

test_amount_zero_below_every_minimum if {
	methods_of(req({"amount": {"minor": 0}})) == []
}

test_unknown_kind if {
	methods_of(req({"kind": "refund"})) == []
}

# --- expr rule hits ---------------------------------------------------------

test_hit_hides_method if {
	i := object.union(base, {"hits": [hide("bank_redirect")]})
	availability.decision == {"methods": [card_eur, wallet_eur]} with input as i
}

test_hits_hide_several if {
	i := object.union(base, {"hits": [hide("bank_redirect"), hide("card")]})
	methods_of(i) == ["ewallet"]
}

test_hit_without_hide_ignored if {
	i := object.union(base, {"hits": [{"id": "other", "effect": {"note": "x"}}]})
	methods_of(i) == ["bank_redirect", "card", "ewallet"]
}

# --- withdrawals ----------------------------------------------------------

test_withdrawal_only_to_deposit_methods_with_payout_limits if {
	i := req({"kind": "withdrawal", "deposit_methods": ["ewallet", "card"]})
	availability.decision == {"methods": [
		{"method": "card", "min_minor": 1000, "max_minor": 500000},
		{"method": "ewallet", "min_minor": 1000, "max_minor": 500000},
	]} with input as i
}

test_withdrawal_below_payout_minimum if {
	methods_of(req({"kind": "withdrawal", "deposit_methods": ["card"], "amount": {"minor": 999}})) == []
}

test_withdrawal_without_deposits_no_methods if {
	methods_of(req({"kind": "withdrawal"})) == []
}

test_deposit_ignores_deposit_methods if {
	methods_of(req({"deposit_methods": ["card"]})) == ["bank_redirect", "card", "ewallet"]
}

# --- preselected method ---------------------------------------------------

test_preselected_available_only_it if {
	availability.decision == {"methods": [wallet_eur]} with input as req({"preselected_method": "ewallet"})
}

test_preselected_hidden_falls_back_to_all if {
	i := object.union(req({"preselected_method": "bank_redirect"}), {"hits": [hide("bank_redirect")]})
	methods_of(i) == ["card", "ewallet"]
}

test_preselected_not_offered_in_country_falls_back if {
	methods_of(req({"country": "FR", "preselected_method": "bank_redirect"})) == ["card", "ewallet"]
}

test_preselected_unknown_method_falls_back if {
	methods_of(req({"preselected_method": "crypto"})) == ["bank_redirect", "card", "ewallet"]
}

test_preselected_withdrawal_must_be_a_deposit_method if {
	i := req({"kind": "withdrawal", "deposit_methods": ["card"], "preselected_method": "ewallet"})
	methods_of(i) == ["card"]
}

# --- the catalogue's data ------------------------------------------------------

methods := {"card", "bank_redirect", "ewallet"}

test_limits_well_formed if {
	every kind, by_currency in data.paywire.config.availability.limits {
		kind in {"deposit", "withdrawal"}
		every cur, by_method in by_currency {
			count(cur) == 3
			every m, lim in by_method {
				m in methods
				lim.method == m
				is_number(lim.min_minor)
				is_number(lim.max_minor)
				lim.min_minor >= 0
				lim.min_minor <= lim.max_minor
				count(lim) == 3
			}
		}
	}
}

test_every_country_lists_known_methods_once if {
	every c, ms in data.paywire.config.availability.countries {
		count(c) == 2
		count(ms) == count({m | some m in ms})
		every m in ms {
			m in methods
		}
	}
}

test_no_blocked_country_is_served if {
	every c, _ in data.paywire.lists.blocked_countries {
		not data.paywire.config.availability.countries[c]
	}
}
