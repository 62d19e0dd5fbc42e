package paywire

import (
	"context"
	"strings"
	"time"
)

// Risk features: what the payment history says about the card, e-mail, IP,
// customer and device of a payment being decided. They are computed from
// the store at decision time, so every node sees the same history.
//
// Unknown is not zero: a payment without an e-mail has no e-mail features
// (Known false), which is not the same as an e-mail seen zero times.
// Policies see the features of an unknown key as absent.
//
// Scope: cards, e-mail addresses, IP addresses and devices are counted
// across merchants (card testing and account takeover cross merchants, and
// a count discloses nothing of another merchant's payments); customer ids
// are the merchant's own, so customer features count that merchant's
// payments only.
//
// Bounded work: a FeatureStore reads at most FeatureCap of a key's newest
// payments, so that an attacker who makes more payments with a key does not
// make every later decision on it more expensive. A key with more is
// Capped: its counts are exact lower bounds, never silently smaller
// numbers (unknown is not zero).

// FeatureCap is how many of a key's newest payments a FeatureStore reads:
// of the last 7 days for a card, e-mail, IP or device; of the customer's
// whole history for a customer (CustomerSuccessful counts it). It is twice
// the highest threshold of the shipped risk rules (customer_count_7d >= 50),
// so that every shipped rule compares an exact count below its threshold,
// and a capped count (FeatureCap) is above all of them.
const FeatureCap = 100

// FeatureQuery names the keys of one payment whose features are wanted.
// Empty keys are unknown.
type FeatureQuery struct {
	MerchantID string
	// PaymentID is the payment being decided: never counted. Empty before
	// the payment exists (the availability decision of a new checkout).
	PaymentID string
	// At is the decision time: windows end here, ages are measured to it,
	// and payments created after it are not counted.
	At time.Time
	// Currency is the payment's: amounts are summed over payments in it.
	Currency string

	CardFingerprint string
	Email           string // compared case-insensitively
	IP              string
	CustomerID      string // the merchant's customer id
	DeviceID        string

	// DepositMethods asks, with CustomerID, also for the methods of the
	// customer's paid deposits (Features.DepositMethods), read with the
	// features rather than by a statement of their own.
	DepositMethods bool
}

// Window counts the payments of one key created in a time window ending at
// the query's At.
type Window struct {
	Attempted  int64 // payments created, whatever became of them
	Authorized int64 // in a paid state (PaidStates): authorized or after it
	Declined   int64 // refused or failed, not by a risk block
	Blocked    int64 // blocked by a risk decision (risk action block)
	// Amount sums the attempted payments in the query's currency, in its
	// minor units.
	Amount int64
	// Capped says the window holds every payment read of a Capped key: it
	// may hold more, so each figure above is a lower bound (Attempted is
	// FeatureCap). A window of a capped key with fewer payments is exact.
	Capped bool
}

// KeyFeatures are the features of one key.
type KeyFeatures struct {
	// Known says the key was given; every other field is meaningless
	// without it.
	Known bool
	H1    Window // the last hour
	H24   Window // the last 24 hours
	D7    Window // the last 7 days
	// FirstSeen is when the key's first payment was created; zero when the
	// key has no earlier payment (it is new: age 0). Exact, capped or not.
	FirstSeen time.Time
	// Capped says the key has FeatureCap payments read and may have more
	// (for a customer: ever, which CustomerSuccessful counts; for the other
	// keys: in the last 7 days). Which windows are lower bounds, each
	// window's Capped says; CustomerSuccessful, EmailCards24h and
	// IPCards24h are lower bounds too, the latter two when their key's H24
	// is capped.
	Capped bool
}

// Features are the features of one payment.
type Features struct {
	Card, Email, IP, Customer, Device KeyFeatures
	// Distinct card fingerprints used with the e-mail and with the IP in
	// the last 24 hours (known with their key).
	EmailCards24h, IPCards24h int64
	// CustomerSuccessful counts the customer's earlier payments that were
	// paid (ever; known with the customer; a lower bound when the customer
	// is Capped).
	CustomerSuccessful int64
	// DepositMethods, when the query asked for them and named a customer,
	// are what PaymentStore.DepositMethods returns: the methods, sorted, of
	// the customer's deposits with the merchant that were paid (ever, not
	// capped); nil when there are none or they were not asked for.
	DepositMethods []string
}

// FeatureStore computes features from the payment history.
type FeatureStore interface {
	Features(ctx context.Context, q FeatureQuery) (Features, error)
}

// EmailKey is an e-mail address as features compare it: trimmed, in lower
// case.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
