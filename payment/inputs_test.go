package payment

import (
	"reflect"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// unknownAttributes are the decision inputs' attributes Paywire cannot
// fill, by path from the input, with the reason. Every other attribute
// must be filled from the payment, the merchant, the event and the facts
// (features and enrichment); an attribute added to an input must be filled
// by its builder in inputs.go or listed here. Today every attribute is
// filled when its source knows it.
var unknownAttributes = map[string]string{}

// TestInputsAreFilled builds every decision point's input from a fully
// populated payment, merchant and event and checks that every attribute
// is filled, except the ones listed as unknown.
func TestInputsAreFilled(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	amount, _ := paywire.NewMoney(2500, "EUR")
	card := paywire.CardSummary{Brand: "visa", BIN: "424242", Last4: "4242", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "f1ngerpr1nt"}
	eu := paywire.EndUser{ID: "u1", Email: "u1@Example.com", Country: "DE", IP: "192.0.2.1", Language: "de",
		DeviceID: "dev-1", BillingCountry: "AT", RegisteredAt: now.AddDate(0, 0, -40)}
	everything := paywire.KeyFeatures{Known: true, FirstSeen: now.AddDate(0, 0, -3),
		H1:  paywire.Window{Attempted: 1, Authorized: 1, Declined: 1, Blocked: 1, Amount: 1},
		H24: paywire.Window{Attempted: 2, Authorized: 2, Declined: 2, Blocked: 2, Amount: 2},
		D7:  paywire.Window{Attempted: 3, Authorized: 3, Declined: 3, Blocked: 3, Amount: 3}}
	fx := facts{features: engine.FeaturesOf(paywire.Features{Card: everything, Email: everything, IP: everything, Customer: everything, Device: everything,
		EmailCards24h: 1, IPCards24h: 1, CustomerSuccessful: 1}, now), cardCountry: "US", cardType: "credit", ipCountry: "FR",
		health: map[string]engine.ProviderHealth{"acquirer-a": {State: engine.HealthHealthy, Calls: 1}}}
	p := &paywire.Payment{
		ID: "pay_1", MerchantID: "shop", MerchantReference: "order-1", Kind: paywire.KindDeposit, Amount: amount,
		Captured: 2000, Refunded: 300, ChargedBack: 100, State: paywire.StateAuthorized, Method: paywire.MethodCard,
		Provider: "acquirer-a", ProviderReference: "ref-1", Card: card, EndUser: eu,
		CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour), Version: 3,
		RiskScore: 35, RiskAction: paywire.RiskChallenge, PreselectedMethod: paywire.MethodCard,
		SourcePaymentID: "pay_0", // a backend payment
	}
	m := &paywire.Merchant{ID: "shop", Name: "Shop", AutoCapture: true, AutoCaptureMaxScore: 40, RiskProfile: "strict", WithdrawalApprovals: 2}
	// Every field of an event at once: an approval rides on a review's
	// approval only, but the builder reads it whatever the type.
	ev := event{Type: paywire.EventCaptureRequested, Amount: 1000, Source: paywire.ActorMerchant, Approval: &paywire.Approval{Seq: 1}}

	inputs := map[string]any{
		"AvailabilityInput": availabilityInput(p.MerchantID, p.ID, p.Kind, p.Amount, eu, []string{"card"}, p.PreselectedMethod, fx, now),
		"RiskInput":         riskInput(p, m, p.Method, &card, eu, fx, now),
		"RouteInput":        routeInput(p, paywire.RiskResult{Score: p.RiskScore, Action: p.RiskAction}, fx, now),
		"WorkflowInput":     workflowInput(p, m, ev, fx, now),
	}
	listed := map[string]bool{}
	for name, in := range inputs {
		walkInput(t, name, reflect.ValueOf(in), listed)
	}
	for path := range unknownAttributes {
		if !listed[path] {
			t.Errorf("%s is listed as unknown but is no attribute of an input (renamed or removed?)", path)
		}
	}

	// Spot checks of where attributes come from.
	risk := inputs["RiskInput"].(engine.RiskInput)
	if risk.Request.Customer.EmailDomain != "example.com" {
		t.Errorf("e-mail domain %q; want it in lower case", risk.Request.Customer.EmailDomain)
	}
	wf := inputs["WorkflowInput"].(engine.WorkflowInput)
	if wf.Request.Refunded != 400 || wf.Request.AuthorizedAgeSeconds != 3600 || wf.Request.Risk.Score != 35 {
		t.Errorf("workflow request %+v; want refunded and charged back together, the authorization's age, the payment's risk", wf.Request)
	}
}

// walkInput checks every attribute below v, at path: filled (not the zero
// value; a non-empty slice), or listed in unknownAttributes — and then
// not filled, so that the list stays true.
func walkInput(t *testing.T, path string, v reflect.Value, listed map[string]bool) {
	t.Helper()
	if reason, ok := unknownAttributes[path]; ok {
		listed[path] = true
		if !v.IsZero() {
			t.Errorf("%s is listed as unknown (%s) but is filled: take it off the list", path, reason)
		}
		return
	}
	switch {
	case v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(time.Time{}):
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			walkInput(t, path+"."+f.Name, v.Field(i), listed)
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty: fill it in inputs.go or list it as unknown", path)
		}
	case v.IsZero():
		t.Errorf("%s is not filled: fill it in inputs.go or list it as unknown", path)
	}
}
