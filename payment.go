package paywire

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"sync"
	"time"
)

// Kind says which way the money goes.
type Kind string

// Kinds of payment. The zero Kind is invalid.
const (
	KindDeposit    Kind = "deposit"    // end user pays the merchant
	KindWithdrawal Kind = "withdrawal" // merchant pays the end user
)

// Valid reports whether k is a defined kind.
func (k Kind) Valid() bool { return k == KindDeposit || k == KindWithdrawal }

// Payment is one deposit or withdrawal of a merchant's end user.
//
// Amount is the amount asked for (and, once authorized, the authorized
// amount); Captured and Refunded count what has moved since, in the same
// currency. Version increases by one with every state change and equals the
// sequence number of the latest Event.
type Payment struct {
	ID                string
	MerchantID        string
	MerchantReference string
	Kind              Kind
	Amount            Money
	Captured          int64 // minor units of Amount.Currency
	Refunded          int64 // minor units of Amount.Currency
	State             State
	Method            string // "card", "bank_redirect", "ewallet", ... empty until chosen
	Provider          string // the provider of the current attempt, empty until routed
	ProviderReference string
	Card              CardSummary
	EndUser           EndUser
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ExpiresAt         time.Time // zero when it does not expire
	Version           int64

	// The risk decision at submission: its score (0-100) and action
	// ("allow", "challenge", "review", "block"); empty before it ran.
	RiskScore  int
	RiskAction string

	// Set by the merchant when the payment starts.
	ReturnURLs        ReturnURLs // where the end user goes back to; empty for backend payments
	NotificationURL   string     // overrides the merchant's notification URL when set
	PreselectedMethod string     // the method the merchant chose for the end user, if any
}

// ReturnURLs are the merchant's pages the end user is sent back to, one per
// outcome: completed/authorized -> Success, refused -> Refused, cancelled ->
// Cancel, failed/expired -> Error, pending/review -> Pending.
type ReturnURLs struct {
	Success string `json:"success"`
	Error   string `json:"error"`
	Cancel  string `json:"cancel"`
	Refused string `json:"refused"`
	Pending string `json:"pending"`
}

// For returns the page for a payment in state s.
func (u ReturnURLs) For(s State) string {
	switch s {
	case StateCompleted, StateAuthorized, StatePartiallyRefunded, StateRefunded:
		return u.Success
	case StateRefused:
		return u.Refused
	case StateCancelled:
		return u.Cancel
	case StatePending, StateReview, StateCreated:
		return u.Pending
	}
	return u.Error
}

// CardSummary is what may be kept of a card. The full card number and the
// CVV are never part of it: they exist only in memory between the hosted page
// and the provider adapter.
type CardSummary struct {
	Brand       string // "visa", "mastercard", ...
	BIN         string // first 6 digits
	Last4       string
	ExpiryMonth int
	ExpiryYear  int
	Fingerprint string // keyed HMAC of the card number, hex; for velocity, never reversible
}

// EndUser is the merchant's customer the payment is for.
type EndUser struct {
	ID       string // the merchant's id for the user
	Email    string
	Country  string // ISO 3166-1 alpha-2
	IP       string
	Language string // BCP 47, "en", "de-AT"
}

// Event is one state change in a payment's append-only history. Seq counts
// from 1 per payment without gaps; the event with Seq 1 records creation.
type Event struct {
	ID         string
	PaymentID  string
	MerchantID string
	Seq        int64
	From       State // empty for the creation event
	To         State
	Amount     int64  // minor units moved by this change (capture, refund); 0 when none
	Reason     string // why, in words a back-office user can read
	Source     string // who caused it: "merchant", "end_user", "provider:<name>", "admin:<user>", "system"
	OccurredAt time.Time
}

// Validate checks the invariants of a payment that every stored version
// must satisfy. Returns EINVALID with the first violation.
func (p *Payment) Validate() error {
	switch {
	case p.ID == "":
		return Errorf(EINVALID, "payment id is required")
	case p.MerchantID == "":
		return Errorf(EINVALID, "merchant is required")
	case !p.Kind.Valid():
		return Errorf(EINVALID, "kind must be deposit or withdrawal")
	case !p.Amount.Currency.Payable():
		return Errorf(EINVALID, "currency is required")
	case p.Amount.Amount <= 0:
		return Errorf(EINVALID, "amount must be greater than zero")
	case !p.State.Valid():
		return Errorf(EINVALID, "state %q is not a payment state", truncate(string(p.State), 32))
	case p.Captured < 0 || p.Refunded < 0:
		return Errorf(EINVALID, "captured and refunded amounts cannot be negative")
	case p.Captured > p.Amount.Amount:
		return Errorf(EINVALID, "captured amount exceeds the authorized amount")
	case p.Refunded > p.Captured:
		return Errorf(EINVALID, "refunded amount exceeds the captured amount")
	case len(p.MerchantReference) > 128:
		return Errorf(EINVALID, "merchant reference is longer than 128 characters")
	case len(p.Card.BIN) > 8 || len(p.Card.Last4) > 4:
		// A card summary never holds more of the number than BIN and last 4.
		return Errorf(EINVALID, "card summary holds more than the BIN and the last four digits")
	}
	return nil
}

// StateChange asks to move a payment to a new state. The store applies it
// only if the payment is still at Version (compare-and-set) and the move is
// legal, and records it as the next Event in the same transaction.
type StateChange struct {
	PaymentID  string
	MerchantID string // the tenant; a payment of another merchant is ENOTFOUND
	Version    int64  // the version the caller read
	To         State
	Reason     string
	Source     string

	// Optional changes made together with the move.
	Method            string       // set when not empty
	Provider          string       // set when not empty
	ProviderReference string       // set when not empty
	Card              *CardSummary // set when not nil (never a full card number)
	Risk              *RiskResult  // set when not nil
	CaptureAmount     int64        // added to Captured
	RefundAmount      int64        // added to Refunded
}

// RiskResult is what the risk decision said of a payment.
type RiskResult struct {
	Score  int
	Action string
}

// PaymentStore keeps payments and their event history.
type PaymentStore interface {
	// CreatePayment stores a new payment in state created, version 1, with
	// its creation event (Seq 1). It fills ID when empty and the timestamps.
	// Returns ECONFLICT if the merchant already has a payment with the same
	// merchant reference, EINVALID if the payment fails Validate.
	CreatePayment(ctx context.Context, p *Payment) error

	// Payment returns the merchant's payment with the given id. Returns
	// ENOTFOUND when there is none or it belongs to another merchant.
	Payment(ctx context.Context, merchantID, id string) (*Payment, error)

	// PaymentByReference returns the merchant's payment with the given
	// merchant reference, or ENOTFOUND.
	PaymentByReference(ctx context.Context, merchantID, reference string) (*Payment, error)

	// ApplyStateChange moves a payment and appends the event in one
	// transaction. Returns ENOTFOUND for an unknown payment (or one of
	// another merchant), ECONFLICT when the payment is no longer at
	// c.Version, EILLEGALMOVE when the transition table forbids the move and
	// EINVALID when the result would break an invariant (captured above
	// authorized, refunded above captured). Nothing is written on error.
	ApplyStateChange(ctx context.Context, c StateChange) (*Payment, *Event, error)

	// Events returns the history of the merchant's payment in Seq order.
	// Returns ENOTFOUND as Payment does.
	Events(ctx context.Context, merchantID, paymentID string) ([]Event, error)

	// DepositMethods returns the methods, sorted, of the end user's deposits
	// with the merchant that were paid (authorized or further).
	DepositMethods(ctx context.Context, merchantID, endUserID string) ([]string, error)
}

// NewID returns a random identifier with the given prefix: "pay_" followed
// by 26 lower-case base32 characters (128 random bits).
func NewID(prefix string) string {
	rb := randPool.Get().(*randBuf)
	if rb.n+16 > len(rb.b) {
		_, _ = rand.Read(rb.b[:]) // crypto/rand.Read never fails on supported platforms
		rb.n = 0
	}
	var text [26]byte
	idEncoding.Encode(text[:], rb.b[rb.n:rb.n+16])
	clear(rb.b[rb.n : rb.n+16])
	rb.n += 16
	randPool.Put(rb)
	return prefix + string(text[:])
}

// randBuf holds random bytes read ahead for identifiers: one read from the
// operating system serves 32 of them. Bytes are cleared once used.
type randBuf struct {
	b [512]byte
	n int // bytes used
}

var randPool = sync.Pool{New: func() any { return &randBuf{n: 512} }}

// idEncoding is base32 (RFC 4648) in lower case, without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Attempt is one try of a payment at a provider. A payment may need several
// (routing falls back after a technical failure); each has its own
// idempotency key towards the provider, so that no payment is taken twice.
type Attempt struct {
	ID             string
	PaymentID      string
	MerchantID     string
	N              int // 1, 2, ... per payment
	Provider       string
	IdempotencyKey string
	Reference      string // the provider's reference, once known
	Status         string // "started", then the provider's answer: "approved", "declined", "pending", "failed"
	Code           string // the provider's reason code
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// AttemptStore keeps provider attempts and the provider events seen.
type AttemptStore interface {
	// AddAttempt stores a new attempt and fills ID and the timestamps.
	// Returns ECONFLICT when the payment has an attempt with the same N.
	AddAttempt(ctx context.Context, a *Attempt) error

	// UpdateAttempt records the provider's answer (Reference, Status,
	// Code). Returns ENOTFOUND for an unknown attempt.
	UpdateAttempt(ctx context.Context, a *Attempt) error

	// Attempt returns an attempt by id, or ENOTFOUND.
	Attempt(ctx context.Context, id string) (*Attempt, error)

	// AttemptByReference returns the attempt the provider knows by
	// reference, or ENOTFOUND.
	AttemptByReference(ctx context.Context, provider, reference string) (*Attempt, error)

	// Attempts returns a merchant's payment's attempts in order.
	Attempts(ctx context.Context, merchantID, paymentID string) ([]Attempt, error)

	// SeenProviderEvent records a provider's event id and reports whether
	// it was new (false: a duplicate delivery).
	SeenProviderEvent(ctx context.Context, provider, eventID string) (bool, error)
}
