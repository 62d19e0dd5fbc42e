package adapters

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/paywire/paywire"
)

// Status is a provider's answer to an operation.
type Status string

// Provider answers. The zero Status is not an approval.
const (
	Approved Status = "approved" // done
	Declined Status = "declined" // refused by the provider or the issuer; final
	Pending  Status = "pending"  // accepted; the outcome follows by webhook
	Failed   Status = "failed"   // the provider reports it did not do it (a technical error on its side); known not done
	// Cancelled: the end user (on the provider's page) or a void cancelled
	// it before the money moved; final, not a decline.
	Cancelled Status = "cancelled"
)

// Result is what a provider said about an operation.
type Result struct {
	Status    Status
	Reference string // the provider's id of the payment or operation
	Code      string // the provider's reason code, for declines and failures
	Message   string // the provider's words, safe to show to back-office users
	// RedirectURL, with Status Pending, is the provider's page the end user
	// must visit (3-D Secure challenge, bank login) before the outcome.
	RedirectURL string
	// Soft, with Status Declined, marks a decline another provider may not
	// share (this acquirer's own risk rules or limits, the issuer not
	// reachable through it): routing falls back to the next provider.
	Soft bool
	// Captured, with Status Approved, says the money moved (a sale, a bank
	// transfer, an e-wallet payment, a payout) rather than being reserved
	// for a later capture. It is the provider's word, never inferred from
	// the method.
	Captured bool
}

// ErrNotSent marks an error of a call that is known not to have reached
// the provider (the connection was refused, the request could not be
// built): the operation was not done, and another provider may be tried.
var ErrNotSent = errors.New("the request was not sent to the provider")

// Unknown reports whether err, returned by a provider call, leaves the
// outcome unknown: the provider may have done the operation although no
// answer came (a timeout, a connection lost after sending, a 5xx). Such an
// outcome is never taken as "not done": the attempt stays open, and the
// same provider is asked with the same key. Errors the provider answered
// with about the request itself (EINVALID, ENOTFOUND, EIDEMPOTENCY,
// EUNSUPPORTED) and ErrNotSent are known "not done".
func Unknown(err error) bool {
	if err == nil || errors.Is(err, ErrNotSent) {
		return false
	}
	switch paywire.ErrorCode(err) {
	case paywire.EINVALID, paywire.ENOTFOUND, paywire.EIDEMPOTENCY, paywire.EUNSUPPORTED:
		return false
	}
	return true
}

// Operation is a follow-up operation on a payment the provider holds.
type Operation struct {
	PaymentID         string
	ProviderReference string
	Amount            paywire.Money
	// IdempotencyKey identifies this operation towards the provider, so that
	// a retry never moves money twice.
	IdempotencyKey string
}

// Provider is a payment provider. What it can do is told by the capability
// interfaces it implements, checked by type assertion.
type Provider interface {
	Name() string
}

// Capturer captures authorized payments, fully or in part.
type Capturer interface {
	Capture(ctx context.Context, op Operation) (Result, error)
}

// Voider cancels authorizations.
type Voider interface {
	Void(ctx context.Context, op Operation) (Result, error)
}

// Refunder refunds captured payments, fully or in part, repeatedly.
type Refunder interface {
	Refund(ctx context.Context, op Operation) (Result, error)
}

// Registry holds the configured providers by name.
type Registry struct {
	byName map[string]Provider
}

// NewRegistry returns a registry of providers.
func NewRegistry(providers ...Provider) *Registry {
	r := &Registry{byName: map[string]Provider{}}
	for _, p := range providers {
		r.byName[p.Name()] = p
	}
	return r
}

// Provider returns the named provider. Returns EUNAVAILABLE when no provider
// of that name is configured.
func (r *Registry) Provider(name string) (Provider, error) {
	if r != nil {
		if p, ok := r.byName[name]; ok {
			return p, nil
		}
	}
	return nil, paywire.Errorf(paywire.EUNAVAILABLE, "provider %q is not configured", name)
}

// Names lists the configured providers, sorted.
func (r *Registry) Names() []string {
	var names []string
	if r != nil {
		for n := range r.byName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Payment is a payment as a provider is asked to process it.
type Payment struct {
	PaymentID string
	Kind      paywire.Kind
	Amount    paywire.Money
	Method    string
	EndUser   paywire.EndUser
	// SourceReference is the provider's reference of an earlier payment
	// whose stored credential this one reuses (a withdrawal to the card the
	// end user deposited with, a repeat deposit).
	SourceReference string
	IdempotencyKey  string
}

// Payer processes backend payments on a stored credential: merchant-
// initiated deposits and payouts.
type Payer interface {
	Pay(ctx context.Context, p Payment) (Result, error)
}

// AuthorizeRequest asks a provider to take a payment the end user
// submitted on the hosted pages: a card authorization, a bank redirect or
// an e-wallet payment.
type AuthorizeRequest struct {
	PaymentID string
	Kind      paywire.Kind
	Amount    paywire.Money
	Method    string
	EndUser   paywire.EndUser
	Card      *paywire.Card // for card payments
	Bank      string        // for bank redirects: the bank the end user chose
	Wallet    string        // for e-wallets: the end user's wallet account (an e-mail address)
	// ReturnURL is where the provider sends the end user back after its
	// own pages (3-D Secure challenge, bank login).
	ReturnURL string
	// ThreeDS asks the provider to authenticate the card holder (3-D
	// Secure), because risk decided to challenge the payment.
	ThreeDS        bool
	IdempotencyKey string
}

// Authorizer takes payments from the hosted pages. An Approved result means
// the funds are reserved (authorized); Pending with a RedirectURL means the
// end user must go to the provider's page first; Pending without one means
// the provider's webhook tells the outcome.
type Authorizer interface {
	Authorize(ctx context.Context, r AuthorizeRequest) (Result, error)
}

// StatusRequest names a payment at a provider: by the provider's
// reference when known, else by the idempotency key of the call that
// created it (an answer that never arrived has no reference).
type StatusRequest struct {
	Reference      string
	IdempotencyKey string
	PaymentID      string
}

// StatusQuerier tells what a provider knows of a payment, so that an end
// user's return is confirmed server-side, never from query parameters, and
// an unknown outcome is resolved with the provider that has it. Returns
// ENOTFOUND when the provider holds no such payment (a call that never
// reached it).
type StatusQuerier interface {
	Status(ctx context.Context, r StatusRequest) (Result, error)
}

// Event types a provider reports by webhook.
const (
	EventAuthorized = "authorized"
	EventCaptured   = "captured"
	EventDeclined   = "declined"
	EventFailed     = "failed"
	EventRefunded   = "refunded"
	EventCancelled  = "cancelled"
	EventChargeback = "chargeback"
)

// WebhookEvent is one event a provider reported.
type WebhookEvent struct {
	ID         string // the provider's event id, for deduplication
	Type       string // one of the Event constants
	Reference  string // the provider's payment reference
	PaymentID  string // ours, as the provider echoes it
	Amount     int64  // minor units, for captures, refunds and chargebacks
	Code       string // the provider's reason code
	OccurredAt time.Time
}

// WebhookVerifier checks a webhook's signature over the raw body and reads
// its events. Returns EUNAUTHORIZED for a missing, wrong or stale
// signature and EINVALID for a body it cannot read.
type WebhookVerifier interface {
	VerifyWebhook(header http.Header, body []byte, now time.Time) ([]WebhookEvent, error)
}

// SettlementLine is one line of a provider's settlement report.
type SettlementLine struct {
	Reference string
	PaymentID string
	Type      string // "capture", "refund", "chargeback", "fee"
	Amount    paywire.Money
	BookedAt  time.Time
}

// SettlementParser reads a provider's settlement report.
type SettlementParser interface {
	ParseSettlement(r io.Reader) ([]SettlementLine, error)
}
