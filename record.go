package paywire

import (
	"context"
	"encoding/json"
	"time"
)

// DecisionRecord is the stored account of one decision of the engine: what it
// was asked (without card numbers), what it answered, under which bundle, and
// which rules fired.
type DecisionRecord struct {
	ID             string
	Point          string // "availability", "risk", "routing", "workflow"
	MerchantID     string
	PaymentID      string // empty when the decision precedes a payment
	BundleRevision string
	BundleHash     string
	Input          json.RawMessage
	Output         json.RawMessage
	RulesFired     json.RawMessage
	Duration       time.Duration
	CreatedAt      time.Time
}

// DecisionStore keeps decision records.
type DecisionStore interface {
	// SaveDecision stores a record and fills ID when empty and CreatedAt.
	SaveDecision(ctx context.Context, d *DecisionRecord) error

	// SaveDecisions stores records in one statement, filling ID and
	// CreatedAt where they are empty. A record whose ID is stored already
	// is that record, and is skipped: a request that could not tell
	// whether its change committed with its records writes them again,
	// and neither that nor the others written in the same statement fail.
	SaveDecisions(ctx context.Context, ds []DecisionRecord) error

	// Decisions returns the records of a payment, oldest first.
	Decisions(ctx context.Context, merchantID, paymentID string) ([]DecisionRecord, error)
}

// OutboxMessage is a notification to a merchant, written in the same
// transaction as the state change it reports and delivered later, at least
// once.
type OutboxMessage struct {
	ID            int64 // increasing in insertion order
	EventID       string
	MerchantID    string
	PaymentID     string
	Seq           int64 // the event's per-payment sequence number
	Payload       json.RawMessage
	Status        string // "pending", "delivered", "dead"
	Attempts      int
	NextAttemptAt time.Time
	LastError     string // why the last attempt failed, for people
	LockedBy      string // the worker holding the lease, while one does
	CreatedAt     time.Time
	DeliveredAt   time.Time // zero until delivered
	// PaymentNotificationURL is the payment's own notification URL (""
	// when the merchant's applies), given with the messages ClaimOutbox
	// returns, so that delivering them reads no payment.
	PaymentNotificationURL string
}

// Outbox statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead"
	// OutboxNoEndpoint: the merchant had no notification URL for the
	// payment (neither its own nor the account's), so nothing is sent and
	// no worker retries it; a resend makes it pending again, once the
	// merchant has a URL.
	OutboxNoEndpoint = "no_endpoint"
)

// NotificationPayload is the body of a state-change notification as the
// outbox stores it.
type NotificationPayload struct {
	EventID           string `json:"eventId"`
	PaymentID         string `json:"paymentId"`
	MerchantReference string `json:"merchantReference"`
	PreviousState     string `json:"previousState,omitempty"` // upper case, as the merchant API writes states: "PENDING"
	NewState          string `json:"newState"`
	Amount            string `json:"amount"`
	Currency          string `json:"currency"`
	Seq               int64  `json:"sequenceNumber"`
	OccurredAt        string `json:"occurredAt"`
}

// OutboxStore reads the outbox and records deliveries. Rows are written
// only by state changes.
type OutboxStore interface {
	// PendingOutbox returns up to limit pending messages, oldest first.
	PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error)

	// ClaimOutbox leases up to limit due messages — pending, next attempt
	// at or before now, not leased or with an expired lease — to worker
	// until now+lease, oldest first, and counts the attempt. On
	// PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED, so workers
	// on several nodes never hold the same message; a crashed worker's
	// claims are due again when their lease ends.
	ClaimOutbox(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)

	// DeliveredOutbox marks claimed messages delivered at, in one
	// statement. lost lists those of ids that worker no longer holds (the
	// message was claimed again after the lease ran out); they are left
	// as they are.
	DeliveredOutbox(ctx context.Context, ids []int64, worker string, at time.Time) (lost []int64, err error)

	// FailedOutbox records a failed attempt of a claimed message: due again
	// at next, or dead-lettered when dead. Returns ECONFLICT when worker
	// no longer holds the lease.
	FailedOutbox(ctx context.Context, id int64, worker string, lastError string, next time.Time, dead bool) error

	// NoEndpointOutbox records that a claimed message has nowhere to go
	// (the merchant has no notification URL): it waits with status
	// OutboxNoEndpoint, retried by no worker, until it is resent. Returns
	// ECONFLICT as FailedOutbox does.
	NoEndpointOutbox(ctx context.Context, id int64, worker string, lastError string) error

	// UndeliveredOutbox returns the merchant's messages created at or after
	// since that are not delivered — pending after a failed attempt, dead,
	// or without an endpoint — newest first, at most limit.
	UndeliveredOutbox(ctx context.Context, merchantID string, since time.Time, limit int) ([]OutboxMessage, error)

	// ResendOutbox makes the merchant's message due again at now, a dead
	// one or one without an endpoint included; a delivered one is sent once more. Returns ENOTFOUND
	// for an unknown message or another merchant's.
	ResendOutbox(ctx context.Context, merchantID string, id int64, now time.Time) error

	// OldestUndelivered returns when the oldest pending message was
	// created; zero when there is none.
	OldestUndelivered(ctx context.Context) (time.Time, error)
}

// AuditEntry is one line of the append-only audit log of who did what.
type AuditEntry struct {
	ID      int64 // increasing in insertion order
	At      time.Time
	Actor   string // "admin:alice", "merchant:demo", "system"
	Action  string // "merchant.create", "bundle.activate", ...
	Target  string
	Details json.RawMessage
}

// AuditLog is the append-only audit log.
type AuditLog interface {
	// Audit appends an entry and fills ID and At.
	Audit(ctx context.Context, e *AuditEntry) error

	// AuditEntries returns up to limit entries, newest first, with IDs
	// below before (0 for the newest).
	AuditEntries(ctx context.Context, before int64, limit int) ([]AuditEntry, error)
}

// IdempotencyStore keeps the results of idempotent requests per merchant and
// key, so that a retried request gets the first answer and executes nothing.
type IdempotencyStore interface {
	// ClaimIdempotencyKey claims key for the merchant's request whose
	// canonical form hashes to requestHash. It returns (nil, nil) when the
	// caller holds the claim and must execute the request, then call
	// SaveIdempotentResult or ReleaseIdempotencyKey; the stored result when
	// the same request completed before; EIDEMPOTENCY when the key was used
	// with a different request; EINPROGRESS while another caller holds the
	// claim. A claim older than the store's lease (a crashed caller) may be
	// taken over.
	ClaimIdempotencyKey(ctx context.Context, merchantID, key, requestHash string) ([]byte, error)

	// SaveIdempotentResult stores the result of the claimed request and
	// ends the claim. Returns ENOTFOUND when the caller holds no claim.
	SaveIdempotentResult(ctx context.Context, merchantID, key string, result []byte) error

	// IdempotentResult returns the request hash and stored result of the
	// merchant's key (result nil while a claim has none). Returns
	// ENOTFOUND for a key not used.
	IdempotentResult(ctx context.Context, merchantID, key string) (requestHash string, result []byte, err error)

	// ReleaseIdempotencyKey drops a claim whose request executed nothing
	// (it was refused before any change), so that a corrected retry may run.
	ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error
}
