package engine

import (
	"encoding/json"
	"time"

	"github.com/paywire/paywire"
)

// The requests below are what policies see as input.request; their JSON
// and expr names are the attribute names of docs/policy-guide.md. None of
// them can hold a card number or CVV: they are built from a card summary.

// Money is an amount in minor units of a currency, as policies see it.
type Money struct {
	Minor    int64  `json:"minor" expr:"minor"`
	Currency string `json:"currency" expr:"currency"`
	Exponent int    `json:"exponent" expr:"exponent"`
}

// MoneyOf converts a domain amount.
func MoneyOf(m paywire.Money) Money {
	return Money{Minor: m.Amount, Currency: m.Currency.Code, Exponent: m.Currency.Exponent}
}

// AvailabilityRequest asks which methods an end user sees.
type AvailabilityRequest struct {
	MerchantID        string    `json:"merchant_id" expr:"merchant_id"`
	Kind              string    `json:"kind" expr:"kind"`
	Amount            Money     `json:"amount" expr:"amount"`
	Country           string    `json:"country" expr:"country"`
	Language          string    `json:"language" expr:"language"`
	CustomerID        string    `json:"customer_id" expr:"customer_id"`
	DepositMethods    []string  `json:"deposit_methods" expr:"deposit_methods"`
	PreselectedMethod string    `json:"preselected_method" expr:"preselected_method"`
	Time              time.Time `json:"time" expr:"time"`
}

// AvailabilityInput is the input of the availability decision.
type AvailabilityInput struct {
	Request  AvailabilityRequest `json:"request" expr:"request"`
	Features Features            `json:"features" expr:"features"`
	// PaymentID links the decision record to a payment, when there is one.
	PaymentID string `json:"-" expr:"-"`
}

// Card is the card summary policies see.
type Card struct {
	Brand       string `json:"brand" expr:"brand"`
	BIN         string `json:"bin" expr:"bin"`
	Last4       string `json:"last4" expr:"last4"`
	Country     string `json:"country,omitempty" expr:"country"` // issuing country, from the BIN table
	Type        string `json:"type,omitempty" expr:"type"`       // credit, debit or prepaid, from the BIN table
	ExpiryMonth int    `json:"expiry_month" expr:"expiry_month"`
	ExpiryYear  int    `json:"expiry_year" expr:"expiry_year"`
	Fingerprint string `json:"fingerprint" expr:"fingerprint"`
}

// Customer is the end user as risk policies see them.
type Customer struct {
	ID          string `json:"id" expr:"id"`
	Email       string `json:"email,omitempty" expr:"email"`
	EmailDomain string `json:"email_domain,omitempty" expr:"email_domain"`
	Country     string `json:"country" expr:"country"`
	IP          string `json:"ip,omitempty" expr:"ip"`
	IPCountry   string `json:"ip_country,omitempty" expr:"ip_country"` // from the IP database, when one is configured
	Language    string `json:"language" expr:"language"`
	DeviceID    string `json:"device_id,omitempty" expr:"device_id"`
	// RegisteredDays is the whole days since the end user registered with
	// the merchant, when the merchant said.
	RegisteredDays *int64 `json:"registered_days,omitempty" expr:"registered_days"`
}

// RiskRequest asks how risky a payment is.
type RiskRequest struct {
	PaymentID      string    `json:"payment_id" expr:"payment_id"`
	MerchantID     string    `json:"merchant_id" expr:"merchant_id"`
	Kind           string    `json:"kind" expr:"kind"`
	Amount         Money     `json:"amount" expr:"amount"`
	Method         string    `json:"method" expr:"method"`
	Card           Card      `json:"card" expr:"card"`
	Customer       Customer  `json:"customer" expr:"customer"`
	BillingCountry string    `json:"billing_country,omitempty" expr:"billing_country"`
	Time           time.Time `json:"time" expr:"time"`
}

// RiskInput is the input of the risk decision.
type RiskInput struct {
	Request  RiskRequest `json:"request" expr:"request"`
	Features Features    `json:"features" expr:"features"`
	// Profile is the merchant's risk profile (a name of the bundle's
	// data.paywire.risk_profiles; "" for its default). The engine resolves
	// it and hands the policies input.profile.
	Profile string `json:"profile,omitempty" expr:"-"`
}

// RouteCard is the card as routing policies see it.
type RouteCard struct {
	Brand   string `json:"brand" expr:"brand"`
	BIN     string `json:"bin" expr:"bin"`
	Country string `json:"country,omitempty" expr:"country"`
	Type    string `json:"type,omitempty" expr:"type"`
}

// RouteCustomer is the end user as routing policies see them.
type RouteCustomer struct {
	ID      string `json:"id" expr:"id"`
	Country string `json:"country" expr:"country"`
}

// RouteRequest asks which providers get a payment.
type RouteRequest struct {
	MerchantID string        `json:"merchant_id" expr:"merchant_id"`
	PaymentID  string        `json:"payment_id" expr:"payment_id"` // the sticky key of a payment-sticky experiment
	Kind       string        `json:"kind" expr:"kind"`
	Amount     Money         `json:"amount" expr:"amount"`
	Method     string        `json:"method" expr:"method"`
	Card       RouteCard     `json:"card" expr:"card"`
	Customer   RouteCustomer `json:"customer" expr:"customer"`
	RiskScore  int           `json:"risk_score" expr:"risk_score"`
	RiskAction string        `json:"risk_action" expr:"risk_action"`
	Time       time.Time     `json:"time" expr:"time"`
}

// RouteInput is the input of the routing decision.
type RouteInput struct {
	Request  RouteRequest `json:"request" expr:"request"`
	Features Features     `json:"features" expr:"features"`
	// ProviderHealth is how each provider fares with the payment's method,
	// by provider name; a provider the node knows nothing of is absent.
	ProviderHealth map[string]ProviderHealth `json:"provider_health,omitempty" expr:"provider_health"`
	PaymentID      string                    `json:"-" expr:"-"`
}

// WorkflowEvent is what happened to a payment.
type WorkflowEvent struct {
	Type   string `json:"type" expr:"type"`
	Amount int64  `json:"amount" expr:"amount"`
	// Source is who caused it: merchant, end_user, system,
	// provider:<name>, admin:<user> or operator:<channel>.
	Source string `json:"source" expr:"source"`
}

// RiskSummary is the latest risk decision, as workflow policies see it.
type RiskSummary struct {
	Score  int    `json:"score" expr:"score"`
	Action string `json:"action" expr:"action"`
}

// MerchantSettings are the merchant's settings that workflow policies use.
type MerchantSettings struct {
	AutoCapture         bool `json:"auto_capture" expr:"auto_capture"`
	AutoCaptureMaxScore int  `json:"auto_capture_max_score" expr:"auto_capture_max_score"`
	// WithdrawalApprovals is how many people must approve a withdrawal
	// before it is paid out (0, 1 or 2).
	WithdrawalApprovals int `json:"withdrawal_approvals" expr:"withdrawal_approvals"`
}

// WorkflowRequest asks what happens next to a payment.
type WorkflowRequest struct {
	State    string        `json:"state" expr:"state"`
	Event    WorkflowEvent `json:"event" expr:"event"`
	Kind     string        `json:"kind" expr:"kind"`
	Amount   Money         `json:"amount" expr:"amount"`
	Captured int64         `json:"captured" expr:"captured"`
	Refunded int64         `json:"refunded" expr:"refunded"`
	Method   string        `json:"method" expr:"method"`
	Provider string        `json:"provider" expr:"provider"`
	// Backend: the merchant made the payment with createPayment on an
	// earlier payment's credential (no end user present).
	Backend bool        `json:"backend" expr:"backend"`
	Risk    RiskSummary `json:"risk" expr:"risk"`
	// Approvals counts the people who approved the payment held for
	// review, the event's approver included (review_approved); 0 for
	// other events.
	Approvals            int              `json:"approvals" expr:"approvals"`
	Merchant             MerchantSettings `json:"merchant" expr:"merchant"`
	AuthorizedAgeSeconds int64            `json:"authorized_age_seconds" expr:"authorized_age_seconds"`
	Time                 time.Time        `json:"time" expr:"time"`
}

// WorkflowInput is the input of the workflow decision.
type WorkflowInput struct {
	Request   WorkflowRequest `json:"request" expr:"request"`
	Features  Features        `json:"features" expr:"features"`
	PaymentID string          `json:"-" expr:"-"`
	// MerchantID is for the decision record only; policies see the
	// merchant's settings.
	MerchantID string `json:"-" expr:"-"`
}

// Meta is what every decision carries besides its answer.
//
// A decision record's output leaves out the fields its columns hold (the
// id, the bundle, the rules fired, the duration): they are zero there, and
// a zero one is not written (a decision always has them; rules_fired is []
// when none fired).
type Meta struct {
	DecisionID     string        `json:"decision_id,omitzero"`
	BundleRevision string        `json:"bundle_revision,omitzero"`
	BundleHash     string        `json:"bundle_hash,omitzero"`
	RulesFired     []RuleHit     `json:"rules_fired,omitzero"`
	Duration       time.Duration `json:"duration_ns,omitzero"`
	// ListsVersion is the version of the live lists (risk_list_entries)
	// the decision saw; 0 when none were loaded.
	ListsVersion int64 `json:"lists_version,omitempty"`
	// FailedClosed is set when the policy gave no valid answer and the
	// point's fail-closed answer was used; Error says why.
	FailedClosed bool   `json:"failed_closed,omitempty"`
	Error        string `json:"error,omitempty"`
}

// recorded is m as a decision record's output keeps it: what none of the
// record's columns holds.
func (m Meta) recorded() Meta {
	return Meta{ListsVersion: m.ListsVersion, FailedClosed: m.FailedClosed, Error: m.Error}
}

// Basis returns what the decision was made under.
func (m Meta) Basis() Basis { return Basis{BundleHash: m.BundleHash, ListsVersion: m.ListsVersion} }

// RuleHit is an expr rule whose condition held, with its effect.
type RuleHit struct {
	ID     string          `json:"id"`
	Effect json.RawMessage `json:"effect"`
}

// MethodOption is one payment method an end user may use, with limits in
// minor units of the request's currency.
type MethodOption struct {
	Method   string `json:"method"`
	MinMinor int64  `json:"min_minor"`
	MaxMinor int64  `json:"max_minor"`
}

// AvailabilityDecision lists the methods in the order to show them. Fails
// closed to no methods.
type AvailabilityDecision struct {
	Methods []MethodOption `json:"methods"`
	Meta
}

// RiskAction is the domain's risk action: the zero RiskAction is not a
// permission.
type RiskAction = paywire.RiskAction

// Risk actions, as the domain names them.
const (
	RiskAllow     = paywire.RiskAllow
	RiskChallenge = paywire.RiskChallenge
	RiskReview    = paywire.RiskReview
	RiskBlock     = paywire.RiskBlock
)

// RiskDecision scores a payment. Fails closed to review.
type RiskDecision struct {
	Score   int        `json:"score"`
	Action  RiskAction `json:"action"`
	Reasons []string   `json:"reasons"`
	// Profile is the merchant's risk profile (data.paywire.risk_profiles)
	// the decision used; "" when the bundle has none.
	Profile string `json:"profile,omitempty"`
	Meta
}

// RouteDecision orders the providers to try. Fails closed to none, and an
// empty list means the payment cannot be routed.
type RouteDecision struct {
	Providers  []string `json:"providers"`
	Experiment string   `json:"experiment"`
	Arm        string   `json:"arm"`
	// StoppedArm is the arm the payment was assigned to when its
	// guardrail had stopped it: the payment took control's route, and Arm
	// is control.
	StoppedArm string `json:"stopped_arm,omitempty"`
	// Demoted are the route's providers demoted for failing (the input's
	// provider_health): the engine put them after the others.
	Demoted []string `json:"demoted,omitempty"`
	Meta
}

// WorkflowDecision says what happens next. NextState is empty when there is
// no transition (which is also the fail-closed answer); when set, it is a
// move the domain's transition table allows.
type WorkflowDecision struct {
	NextState paywire.State `json:"next_state"`
	Actions   []string      `json:"actions"`
	Reason    string        `json:"reason"`
	Meta
}

// Point names.
const (
	PointAvailability = "availability"
	PointRisk         = "risk"
	PointRouting      = "routing"
	PointWorkflow     = "workflow"
)

// Points lists the decision points in the order a payment meets them.
var Points = []string{PointAvailability, PointRisk, PointRouting, PointWorkflow}
