package payment

import (
	"strings"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// The decision inputs, one builder per decision point, used by every
// caller: what a policy reads is built here from the payment and nowhere
// else. Attributes Paywire cannot know yet are left unknown on purpose and
// listed in inputs_test.go, which checks that every other attribute is
// filled from the payment.

func engineMoney(m paywire.Money) engine.Money { return engine.MoneyOf(m) }

// availabilityInput asks which methods an end user sees; paymentID is ""
// before the payment exists.
func availabilityInput(merchantID, paymentID string, kind paywire.Kind, amount paywire.Money, u paywire.EndUser, deposits []string, preselected paywire.Method, now time.Time) engine.AvailabilityInput {
	return engine.AvailabilityInput{
		PaymentID: paymentID,
		Request: engine.AvailabilityRequest{
			MerchantID: merchantID, Kind: string(kind), Amount: engineMoney(amount),
			Country: u.Country, Language: u.Language, CustomerID: u.ID,
			DepositMethods: deposits, PreselectedMethod: string(preselected), Time: now,
		},
	}
}

// riskInput asks how risky p is, paid with method and the card summary
// (nil for other methods), from the end user eu.
func riskInput(p *paywire.Payment, method paywire.Method, card *paywire.CardSummary, eu paywire.EndUser, now time.Time) engine.RiskInput {
	var c engine.Card
	if card != nil {
		c = engine.Card{Brand: card.Brand, BIN: card.BIN, Last4: card.Last4, ExpiryMonth: card.ExpiryMonth,
			ExpiryYear: card.ExpiryYear, Fingerprint: card.Fingerprint}
	}
	domain := ""
	if i := strings.LastIndexByte(eu.Email, '@'); i >= 0 {
		domain = strings.ToLower(eu.Email[i+1:])
	}
	return engine.RiskInput{Request: engine.RiskRequest{
		PaymentID: p.ID, MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: string(method),
		Card:     c,
		Customer: engine.Customer{ID: eu.ID, Email: eu.Email, EmailDomain: domain, Country: eu.Country, IP: eu.IP, Language: eu.Language},
		Time:     now,
	}}
}

// routeInput asks which providers get p, after risk.
func routeInput(p *paywire.Payment, risk paywire.RiskResult, now time.Time) engine.RouteInput {
	return engine.RouteInput{PaymentID: p.ID, Request: engine.RouteRequest{
		MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: string(p.Method),
		Card:      engine.RouteCard{Brand: p.Card.Brand, BIN: p.Card.BIN},
		Customer:  engine.RouteCustomer{ID: p.EndUser.ID, Country: p.EndUser.Country},
		RiskScore: risk.Score, RiskAction: string(risk.Action), Time: now,
	}}
}

// workflowInput asks what ev does to p, for merchant m.
func workflowInput(p *paywire.Payment, m *paywire.Merchant, ev event, now time.Time) engine.WorkflowInput {
	var authorizedAge int64
	if p.State == paywire.StateAuthorized {
		authorizedAge = int64(now.Sub(p.UpdatedAt).Seconds())
	}
	method := p.Method
	if ev.Method != "" {
		method = ev.Method
	}
	provider := p.Provider
	if ev.Provider != "" {
		provider = ev.Provider
	}
	return engine.WorkflowInput{
		PaymentID: p.ID, MerchantID: p.MerchantID,
		Request: engine.WorkflowRequest{
			State: string(p.State), Event: engine.WorkflowEvent{Type: string(ev.Type), Amount: ev.Amount},
			Kind: string(p.Kind), Amount: engineMoney(p.Amount), Captured: p.Captured, Refunded: p.Refunded + p.ChargedBack,
			Method: string(method), Provider: provider, Risk: workflowRisk(p, ev),
			Merchant:             engine.MerchantSettings{AutoCapture: m.AutoCapture, AutoCaptureMaxScore: m.AutoCaptureMaxScore},
			AuthorizedAgeSeconds: authorizedAge, Time: now,
		},
	}
}
