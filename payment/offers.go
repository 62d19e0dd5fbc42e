package payment

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// A payment's pages show the methods of one availability decision: the
// one made when the payment was created (recorded with it), or, when this
// node has none of it any more, one made at a page view. The selection, the
// details form and the submission then agree on what was offered, and
// a checkout makes one decision record instead of one per page. The
// decision is decided again once it is offerTTL old, or when the active
// bundle or the live lists changed since (a rollout or a blocked customer
// applies at the next page); the merchant's own switches (Merchant.Offers)
// apply to every page, for they are read anew.

// offerTTL is how long a payment's pages reuse its availability decision.
const offerTTL = 2 * time.Minute

// offerMemoSize bounds the decisions kept: about 300 bytes each.
const offerMemoSize = 32768

type offer struct {
	methods []engine.MethodOption // as decided, before the merchant's switches
	basis   engine.Basis
	at      time.Time
}

// OfferMemo keeps the availability decision of the payments this node
// decided recently, for their pages (Service.Offers). Safe for concurrent
// use.
type OfferMemo struct {
	cache *lru.Cache[string, offer]
}

// NewOfferMemo returns an empty memo of up to 32,768 payments' decisions.
func NewOfferMemo() *OfferMemo {
	c, err := lru.New[string, offer](offerMemoSize)
	if err != nil {
		panic(err) // only for a size below one
	}
	return &OfferMemo{cache: c}
}

func offerKey(merchantID, paymentID string) string { return merchantID + "/" + paymentID }

// get returns the methods decided for a payment if they were decided under
// basis less than offerTTL before now. A nil memo has none.
func (o *OfferMemo) get(merchantID, paymentID string, basis engine.Basis, now time.Time) ([]engine.MethodOption, bool) {
	if o == nil {
		return nil, false
	}
	f, ok := o.cache.Get(offerKey(merchantID, paymentID))
	if !ok || f.basis != basis {
		return nil, false
	}
	if age := now.Sub(f.at); age < 0 || age >= offerTTL {
		return nil, false
	}
	return f.methods, true
}

// put keeps d, decided at at, for the payment. A decision that failed
// closed is not kept: the next page asks again. A nil memo keeps nothing.
func (o *OfferMemo) put(merchantID, paymentID string, d engine.AvailabilityDecision, at time.Time) {
	if o == nil || d.FailedClosed || d.BundleHash == "" {
		return
	}
	o.cache.Add(offerKey(merchantID, paymentID), offer{methods: d.Methods, basis: d.Basis(), at: at})
}

// paymentMethods returns the methods p's pages offer, in the order to show
// them: its availability decision as kept, or a new one.
func (s *Service) paymentMethods(ctx context.Context, m *paywire.Merchant, p *paywire.Payment, now time.Time) ([]engine.MethodOption, error) {
	if ms, ok := s.Offers.get(m.ID, p.ID, s.Decider.Basis(), now); ok {
		return offered(m, ms), nil
	}
	d, err := s.decideMethods(ctx, m, p.ID, p.Kind, p.Amount, p.EndUser, p.PreselectedMethod, now)
	if err != nil {
		return nil, err
	}
	s.Offers.put(m.ID, p.ID, d, now)
	return offered(m, d.Methods), nil
}

// offered returns the methods of ms the merchant offers, in a slice of its
// own: a method the merchant turned off is never offered, whatever the
// policies answered.
func offered(m *paywire.Merchant, ms []engine.MethodOption) []engine.MethodOption {
	out := make([]engine.MethodOption, 0, len(ms))
	for _, o := range ms {
		if m.Offers(paywire.Method(o.Method)) {
			out = append(out, o)
		}
	}
	return out
}
