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
	CreatedAt     time.Time
}

// Outbox statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead"
)

// NotificationPayload is the body of a state-change notification as the
// outbox stores it.
type NotificationPayload struct {
	EventID           string `json:"eventId"`
	PaymentID         string `json:"paymentId"`
	MerchantReference string `json:"merchantReference"`
	PreviousState     State  `json:"previousState,omitempty"`
	NewState          State  `json:"newState"`
	Amount            string `json:"amount"`
	Currency          string `json:"currency"`
	Seq               int64  `json:"sequenceNumber"`
	OccurredAt        string `json:"occurredAt"`
}

// OutboxStore reads the outbox. Rows are written only by state changes.
type OutboxStore interface {
	// PendingOutbox returns up to limit pending messages, oldest first.
	PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error)
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

	// ReleaseIdempotencyKey drops a claim whose request executed nothing
	// (it was refused before any change), so that a corrected retry may run.
	ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error
}
