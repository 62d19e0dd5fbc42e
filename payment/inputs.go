package payment

import (
	"context"
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

// Enrichment tells what a card's BIN and an IP address say: the card's
// issuing country and type (credit, debit, prepaid), the IP's country; ""
// when unknown.
type Enrichment interface {
	Card(bin string) (country, cardType string)
	IPCountry(ip string) string
}

// facts are what Paywire knows of a payment's keys besides the payment
// itself: the features of its history and what the enrichment tables say.
// The zero facts know nothing.
type facts struct {
	features                         engine.Features
	cardCountry, cardType, ipCountry string
	// health is how the providers fare with the payment's method, for
	// routing; nil: unknown.
	health map[string]engine.ProviderHealth
	// history tells whether features were read: then deposits are the
	// customer's deposit methods when the query asked for them.
	history  bool
	deposits []string
}

// facts gathers what a decision at point reads about the keys of q (its
// card's BIN is bin): features only when the active bundle reads them at
// that point, for they cost queries.
func (s *Service) facts(ctx context.Context, point string, q paywire.FeatureQuery, bin string) (facts, error) {
	var fx facts
	if s.Enrichment != nil {
		if bin != "" {
			fx.cardCountry, fx.cardType = s.Enrichment.Card(bin)
		}
		if q.IP != "" {
			fx.ipCountry = s.Enrichment.IPCountry(q.IP)
		}
	}
	if s.Features == nil {
		return fx, nil
	}
	keys := s.Decider.FeatureKeys(point)
	if keys == 0 {
		return fx, nil
	}
	// Only the keys the decision reads are counted; the others stay
	// unknown. The customer's deposit methods come with the customer's.
	if !keys.Has(engine.FeatureCard) {
		q.CardFingerprint = ""
	}
	if !keys.Has(engine.FeatureEmail) {
		q.Email = ""
	}
	if !keys.Has(engine.FeatureIP) {
		q.IP = ""
	}
	if !keys.Has(engine.FeatureCustomer) && !q.DepositMethods {
		q.CustomerID = ""
	}
	if !keys.Has(engine.FeatureDevice) {
		q.DeviceID = ""
	}
	f, err := s.Features.Features(ctx, q)
	if err != nil {
		return facts{}, err
	}
	fx.features = engine.FeaturesOf(f, q.At)
	fx.history, fx.deposits = true, f.DepositMethods
	return fx, nil
}

// featureQuery names the keys of a payment (paymentID "" before it exists)
// whose features a decision at time at reads.
func featureQuery(merchantID, paymentID string, currency paywire.Currency, fingerprint string, eu paywire.EndUser, at time.Time) paywire.FeatureQuery {
	return paywire.FeatureQuery{
		MerchantID: merchantID, PaymentID: paymentID, At: at, Currency: currency.Code,
		CardFingerprint: fingerprint, Email: eu.Email, IP: eu.IP, CustomerID: eu.ID, DeviceID: eu.DeviceID,
	}
}

// paymentFacts are the facts of a stored payment at point: at routing,
// with the providers' health for its method.
func (s *Service) paymentFacts(ctx context.Context, point string, p *paywire.Payment, now time.Time) (facts, error) {
	fx, err := s.facts(ctx, point, featureQuery(p.MerchantID, p.ID, p.Amount.Currency, p.Card.Fingerprint, p.EndUser, now), p.Card.BIN)
	if err == nil && point == engine.PointRouting && s.Health != nil {
		fx.health = s.Health.ProviderHealth(p.Method)
	}
	return fx, err
}

// availabilityInput asks which methods an end user sees; paymentID is ""
// before the payment exists.
func availabilityInput(merchantID, paymentID string, kind paywire.Kind, amount paywire.Money, u paywire.EndUser, deposits []string, preselected paywire.Method, fx facts, now time.Time) engine.AvailabilityInput {
	return engine.AvailabilityInput{
		PaymentID: paymentID, Features: fx.features,
		Request: engine.AvailabilityRequest{
			MerchantID: merchantID, Kind: string(kind), Amount: engineMoney(amount),
			Country: u.Country, Language: u.Language, CustomerID: u.ID,
			DepositMethods: deposits, PreselectedMethod: string(preselected), Time: now,
		},
	}
}

// riskInput asks how risky p is, paid with method and the card summary
// (nil for other methods), from the end user eu, under the merchant m's
// risk profile.
func riskInput(p *paywire.Payment, m *paywire.Merchant, method paywire.Method, card *paywire.CardSummary, eu paywire.EndUser, fx facts, now time.Time) engine.RiskInput {
	var c engine.Card
	if card != nil {
		c = engine.Card{Brand: card.Brand, BIN: card.BIN, Last4: card.Last4, ExpiryMonth: card.ExpiryMonth,
			ExpiryYear: card.ExpiryYear, Fingerprint: card.Fingerprint, Country: fx.cardCountry, Type: fx.cardType}
	}
	var registered *int64
	if !eu.RegisteredAt.IsZero() {
		registered = engine.Known(max(0, int64(now.Sub(eu.RegisteredAt)/(24*time.Hour))))
	}
	domain := ""
	if i := strings.LastIndexByte(eu.Email, '@'); i >= 0 {
		domain = strings.ToLower(eu.Email[i+1:])
	}
	return engine.RiskInput{Profile: m.RiskProfile, Request: engine.RiskRequest{
		PaymentID: p.ID, MerchantID: p.MerchantID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: string(method),
		Card: c,
		Customer: engine.Customer{ID: eu.ID, Email: eu.Email, EmailDomain: domain, Country: eu.Country, IP: eu.IP, Language: eu.Language,
			IPCountry: fx.ipCountry, DeviceID: eu.DeviceID, RegisteredDays: registered},
		BillingCountry: eu.BillingCountry,
		Time:           now,
	}, Features: fx.features}
}

// routeInput asks which providers get p, after risk.
func routeInput(p *paywire.Payment, risk paywire.RiskResult, fx facts, now time.Time) engine.RouteInput {
	return engine.RouteInput{PaymentID: p.ID, Features: fx.features, ProviderHealth: fx.health, Request: engine.RouteRequest{
		MerchantID: p.MerchantID, PaymentID: p.ID, Kind: string(p.Kind), Amount: engineMoney(p.Amount), Method: string(p.Method),
		Card:      engine.RouteCard{Brand: p.Card.Brand, BIN: p.Card.BIN, Country: fx.cardCountry, Type: fx.cardType},
		Customer:  engine.RouteCustomer{ID: p.EndUser.ID, Country: p.EndUser.Country},
		RiskScore: risk.Score, RiskAction: string(risk.Action), Time: now,
	}}
}

// workflowInput asks what ev does to p, for merchant m.
func workflowInput(p *paywire.Payment, m *paywire.Merchant, ev event, fx facts, now time.Time) engine.WorkflowInput {
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
	approvals := 0
	if ev.Approval != nil {
		approvals = ev.Approval.Seq
	}
	return engine.WorkflowInput{
		PaymentID: p.ID, MerchantID: p.MerchantID, Features: fx.features,
		Request: engine.WorkflowRequest{
			State: string(p.State), Event: engine.WorkflowEvent{Type: string(ev.Type), Amount: ev.Amount, Source: string(ev.Source)},
			Kind: string(p.Kind), Amount: engineMoney(p.Amount), Captured: p.Captured, Refunded: p.Refunded + p.ChargedBack,
			Method: string(method), Provider: provider, Backend: p.SourcePaymentID != "" || ev.SourcePaymentID != "", Risk: workflowRisk(p, ev),
			Approvals: approvals,
			Merchant: engine.MerchantSettings{AutoCapture: m.AutoCapture, AutoCaptureMaxScore: m.AutoCaptureMaxScore,
				WithdrawalApprovals: m.WithdrawalApprovals},
			AuthorizedAgeSeconds: authorizedAge, Time: now,
		},
	}
}
