package adapters

import (
	"context"
	"sort"

	"github.com/paywire/paywire"
)

// Status is a provider's answer to an operation.
type Status string

// Provider answers. The zero Status is not an approval.
const (
	Approved Status = "approved" // done
	Declined Status = "declined" // refused by the provider or the issuer; final
	Pending  Status = "pending"  // accepted; the outcome follows by webhook
	Failed   Status = "failed"   // a technical error; the operation may be retried
)

// Result is what a provider said about an operation.
type Result struct {
	Status    Status
	Reference string // the provider's id of the payment or operation
	Code      string // the provider's reason code, for declines and failures
	Message   string // the provider's words, safe to show to back-office users
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
