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
	ChargedBack       int64 // minor units of Amount.Currency reversed by the card holder's bank
	State             State
	Method            Method // empty until chosen
	Provider          string // the provider of the current attempt, empty until routed
	ProviderReference string
	Card              CardSummary
	EndUser           EndUser
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ExpiresAt         time.Time // zero when it does not expire
	Version           int64

	// The risk decision at submission: its score (0-100) and action;
	// empty before it ran.
	RiskScore  int
	RiskAction RiskAction

	// Set by the merchant when the payment starts.
	ReturnURLs        ReturnURLs // where the end user goes back to; empty for backend payments
	NotificationURL   string     // overrides the merchant's notification URL when set
	PreselectedMethod Method     // the method the merchant chose for the end user, if any
	SourcePaymentID   string     // a backend payment's earlier payment whose stored credential it reuses
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
	// Optional facts the merchant knows; empty (zero) when not given.
	DeviceID       string    // the merchant's device id or fingerprint
	BillingCountry string    // ISO 3166-1 alpha-2 of the billing address
	RegisteredAt   time.Time // when the end user registered with the merchant
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
	Type       EventType // what happened; empty for the creation event
	Amount     int64     // minor units moved by this change (capture, refund, chargeback); 0 when none
	Reason     string    // why, in words a back-office user can read
	Source     Actor     // who caused it
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
	case p.ChargedBack < 0:
		return Errorf(EINVALID, "the charged back amount cannot be negative")
	case p.Refunded+p.ChargedBack > p.Captured:
		return Errorf(EINVALID, "refunded and charged back amounts exceed the captured amount")
	case p.Captured > 0 && !p.State.holdsCaptured():
		return Errorf(EINVALID, "a payment in state %s cannot have captured money", p.State)
	case len(p.MerchantReference) > 128:
		return Errorf(EINVALID, "merchant reference is longer than 128 characters")
	case len(p.Card.BIN) > 8 || len(p.Card.Last4) > 4:
		// A card summary never holds more of the number than BIN and last 4.
		return Errorf(EINVALID, "card summary holds more than the BIN and the last four digits")
	}
	return nil
}

// StateChange is one change of a payment as the payment use cases computed
// it: the payment as it will be, and every row that must commit with it.
// The store writes the rows in one transaction, or none of them; it checks
// the move against the transition table and the payment's invariants and
// computes nothing else.
type StateChange struct {
	// Payment is the payment as it will be; nil for a change that writes
	// only the rows below. It is written only if the stored payment is
	// still at Version (compare-and-set), else nothing is written and the
	// error is ECONFLICT.
	Payment *Payment
	// Version is the version the change was computed from. With an Event,
	// Payment.Version is Version+1 and Payment.State the move's target.
	Version int64
	// Event is the move, appended to the history; nil when the change
	// moves nothing (a provider reference learnt, an attempt resolved).
	Event *Event
	// Notification tells the merchant of the move; nil when the workflow
	// did not ask to (notify_merchant).
	Notification *OutboxMessage
	// FollowUps are scheduled by the change.
	FollowUps []FollowUp
	// DoneFollowUp is the follow-up the change carries out (0: none). If
	// another worker carried it out meanwhile, nothing is written and the
	// error is ECONFLICT.
	DoneFollowUp int64
	// MootFollowUps are kinds of follow-up the change makes moot: the
	// payment's pending ones of these kinds are done with it, but for one
	// a worker holds (its lease not run out), which that worker finishes.
	// Needs Payment.
	MootFollowUps []FollowUpKind
	// Attempts are provider attempts written (new) or updated (status,
	// reference, code) with the change.
	Attempts []Attempt
	// ProviderEvent marks a provider's event seen: it commits with the
	// change it caused, so that an event that failed to apply is applied
	// on redelivery. Returns ECONFLICT when it was seen meanwhile.
	ProviderEvent *ProviderEvent
	// Idempotency stores the outcome of the merchant's idempotent request
	// with the change, so that a retry after a crash gets it.
	Idempotency *IdempotentResult
	// Audit records who made the change and why (a person's decision),
	// in its transaction.
	Audit *AuditEntry
	// Decisions are the records of the decisions that led to the change,
	// written with it: a request's decisions commit with what they
	// decided, in its one transaction. ID and CreatedAt are filled where
	// empty.
	Decisions []DecisionRecord
	// Approval records a person's approval of a payment held for review,
	// with the change it leads to (or alone, while more approvals are
	// needed). Returns ECONFLICT when its Seq was taken meanwhile (a
	// concurrent approval) or its approver approved the payment already.
	Approval *Approval
}

// Approval is one person's approval of a payment held for review. A
// withdrawal of a merchant that asks for two approvals needs two, by
// different people.
type Approval struct {
	PaymentID  string
	MerchantID string
	// Seq numbers the payment's approvals from 1, in the order they were
	// given.
	Seq      int
	Approver Actor
	Reason   string
	At       time.Time
}

// ProviderEvent identifies a provider's webhook event.
type ProviderEvent struct {
	Provider  string
	EventID   string
	PaymentID string
}

// IdempotentResult is the stored outcome of a merchant's idempotent
// request: the same request with the same key gets Result back.
type IdempotentResult struct {
	MerchantID  string
	Key         string
	RequestHash string
	Result      []byte
	// First marks the answer of a request that creates a payment without
	// claiming its key first: the change is refused with ECONFLICT when
	// the key is taken (a concurrent or earlier request with it won).
	First bool
}

// RiskResult is what the risk decision said of a payment.
type RiskResult struct {
	Score  int
	Action RiskAction
}

// PaymentStore keeps payments and their event history.
type PaymentStore interface {
	// CreatePayment stores a new payment (c.Payment, in state created,
	// version 1) with its creation event and the rows c carries. Returns
	// ECONFLICT if the merchant already has a payment with the same
	// merchant reference, EINVALID if the payment fails Validate.
	CreatePayment(ctx context.Context, c StateChange) error

	// Payment returns the merchant's payment with the given id. Returns
	// ENOTFOUND when there is none or it belongs to another merchant.
	Payment(ctx context.Context, merchantID, id string) (*Payment, error)

	// PaymentByReference returns the merchant's payment with the given
	// merchant reference, or ENOTFOUND.
	PaymentByReference(ctx context.Context, merchantID, reference string) (*Payment, error)

	// ApplyStateChange writes a change in one transaction. Returns
	// ENOTFOUND for an unknown payment (or one of another merchant),
	// ECONFLICT when the payment is no longer at c.Version (or a
	// follow-up or provider event was taken meanwhile), EILLEGALMOVE when
	// the transition table forbids the move and EINVALID when the result
	// would break an invariant (captured above authorized, refunded and
	// charged back above captured). Nothing is written on error. Only the
	// payment use cases call it.
	ApplyStateChange(ctx context.Context, c StateChange) error

	// PaymentsInState returns up to limit payments in state, oldest first,
	// of one merchant (merchantID "": of every merchant).
	PaymentsInState(ctx context.Context, merchantID string, state State, limit int) ([]*Payment, error)

	// Events returns the history of the merchant's payment in Seq order.
	// Returns ENOTFOUND as Payment does.
	Events(ctx context.Context, merchantID, paymentID string) ([]Event, error)

	// DepositMethods returns the methods, sorted, of the end user's deposits
	// with the merchant that were paid (authorized or further).
	DepositMethods(ctx context.Context, merchantID, endUserID string) ([]string, error)

	// PayoutSource returns the end user's latest deposit with the merchant
	// by method (with the card of fingerprint, when given) that was paid
	// and not charged back, and that its provider can pay out to again.
	// Returns ENOTFOUND when there is none.
	PayoutSource(ctx context.Context, merchantID, endUserID string, method Method, fingerprint string) (*Payment, error)

	// Approvals returns the approvals of the merchant's payment, in Seq
	// order (none for a payment nobody approved).
	Approvals(ctx context.Context, merchantID, paymentID string) ([]Approval, error)
}

// FollowUpKind says what a follow-up does when it falls due.
type FollowUpKind string

// Follow-up kinds.
const (
	FollowUpProcess             FollowUpKind = "process"              // take a created backend payment to its providers
	FollowUpStatusQuery         FollowUpKind = "status_query"         // ask the provider about an open attempt
	FollowUpPaymentExpiry       FollowUpKind = "payment_expiry"       // expire an unpaid payment and its redirect link
	FollowUpAuthorizationExpiry FollowUpKind = "authorization_expiry" // let an uncaptured authorization lapse
	FollowUpCapture             FollowUpKind = "capture"              // auto-capture an authorization
	FollowUpRemainderRelease    FollowUpKind = "remainder_release"    // release what a partial capture left reserved
	FollowUpReviewExpiry        FollowUpKind = "review_expiry"        // end a review nobody decided
)

// Follow-up statuses.
const (
	FollowUpPending = "pending"
	FollowUpDone    = "done"
	FollowUpFailed  = "failed" // given up after repeated errors: for a person
)

// FollowUp is something that must happen to a payment later. It is
// written in the transaction of the change that makes it due and claimed
// by a worker on any node when DueAt comes; a crashed worker's claim is
// due again when its lease ends.
type FollowUp struct {
	ID         int64
	PaymentID  string
	MerchantID string
	Kind       FollowUpKind
	AttemptID  string // the attempt a status query is about
	DueAt      time.Time
	Status     string
	Attempts   int // claims so far
	LastError  string
	CreatedAt  time.Time
}

// FollowUpStore claims and reschedules follow-ups; they are written and
// marked done only by state changes.
type FollowUpStore interface {
	// ClaimFollowUps leases up to limit due follow-ups — pending, due at
	// or before now, not leased or with an expired lease — to worker until
	// now+lease, oldest due first, and counts the claim. On PostgreSQL
	// rows are claimed with FOR UPDATE SKIP LOCKED.
	ClaimFollowUps(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]FollowUp, error)

	// RetryFollowUp releases a claimed follow-up, due again at next, with
	// the reason it could not be done now; failed gives it up for a
	// person. Returns ECONFLICT when worker no longer holds the lease.
	RetryFollowUp(ctx context.Context, id int64, worker string, next time.Time, lastError string, failed bool) error

	// FollowUps returns a merchant's payment's follow-ups, oldest first.
	FollowUps(ctx context.Context, merchantID, paymentID string) ([]FollowUp, error)

	// FollowUpBacklog counts pending follow-ups that are due at now.
	FollowUpBacklog(ctx context.Context, now time.Time) (int, error)
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

// Attempt is one call to a provider for a payment: an authorization or
// backend payment (routing may try several providers after a definite
// "not done"), or a capture, void or refund. Each has its own idempotency
// key towards the provider, the same for every retry of the same logical
// operation, so that no payment is taken twice.
type Attempt struct {
	ID             string
	PaymentID      string
	MerchantID     string
	N              int // 1, 2, ... per payment
	Operation      Operation
	Provider       string
	Amount         int64 // minor units the operation is for
	IdempotencyKey string
	Reference      string // the provider's reference, once known
	Status         AttemptStatus
	Code           string // the provider's reason code
	// Call is how the call that took the payment ended, written when it
	// returned ("" until then, and for other operations); Latency is its
	// duration, known when Call is set. Provider health counts them.
	Call      CallOutcome
	Latency   time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Operation is what an attempt asks of a provider.
type Operation string

// Operations.
const (
	OpAuthorize Operation = "authorize" // from the hosted pages
	OpPay       Operation = "pay"       // a backend payment on a stored credential
	OpCapture   Operation = "capture"
	OpVoid      Operation = "void"
	OpRefund    Operation = "refund"
)

// AttemptStore reads provider attempts and the provider events seen; both
// are written with state changes.
type AttemptStore interface {
	// Attempt returns an attempt by id, or ENOTFOUND.
	Attempt(ctx context.Context, id string) (*Attempt, error)

	// AttemptByReference returns the authorization or backend payment
	// attempt the provider knows by reference, or ENOTFOUND.
	AttemptByReference(ctx context.Context, provider, reference string) (*Attempt, error)

	// Attempts returns a merchant's payment's attempts in order.
	Attempts(ctx context.Context, merchantID, paymentID string) ([]Attempt, error)

	// ProviderEventSeen reports whether a provider's event was applied.
	ProviderEventSeen(ctx context.Context, provider, eventID string) (bool, error)
}
