package paywire

import (
	"context"
	"time"
)

// BacktestState is where a backtest job is: queued until a worker claims
// it, running while one holds its lease, then done (its report complete)
// or failed (its error says why). The zero state is not a state.
type BacktestState string

// The backtest states.
const (
	BacktestQueued  BacktestState = "queued"
	BacktestRunning BacktestState = "running"
	BacktestDone    BacktestState = "done"
	BacktestFailed  BacktestState = "failed"
)

// Backtest is one evaluation of a candidate bundle revision over the
// decisions recorded in a window: each decision's stored input is decided
// again with the candidate and compared with what was decided then. It is
// a row, claimed by a worker on any node with a lease and advanced batch by
// batch from its cursor, so that a node that dies mid-job leaves it to
// another.
type Backtest struct {
	ID       string `json:"id"`
	Revision int64  `json:"revision"` // the candidate
	By       string `json:"by"`       // the back-office username that started it
	// From and To bound the decisions' created_at: From <= t < To.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Points, when any, are the decision points replayed; all otherwise.
	Points []string `json:"points,omitempty"`
	// MerchantID, when set, keeps the merchant's decisions only.
	MerchantID string `json:"merchantId,omitempty"`

	State BacktestState `json:"state"`
	// Total is the number of decisions in the window when the job was
	// started; Done how many of them were replayed.
	Total int64 `json:"total"`
	Done  int64 `json:"done"`
	// CursorAt and CursorID are the last decision replayed (created_at,
	// id): the job continues after it.
	CursorAt time.Time `json:"cursorAt,omitzero"`
	CursorID string    `json:"cursorId,omitempty"`
	// LeaseOwner is the worker running the job, until LeaseExpires.
	LeaseOwner   string    `json:"leaseOwner,omitempty"`
	LeaseExpires time.Time `json:"leaseExpires,omitzero"`
	// Report holds the counts of the decisions replayed so far; complete
	// when the job is done.
	Report BacktestReport `json:"report"`
	Error  string         `json:"error,omitempty"` // why it failed

	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// BacktestReport is what a backtest found, per decision point.
type BacktestReport struct {
	Points []BacktestPoint `json:"points"`
}

// BacktestPoint counts one decision point's replayed decisions.
type BacktestPoint struct {
	Point     string `json:"point"`
	Decisions int64  `json:"decisions"` // replayed
	Changed   int64  `json:"changed"`   // decided otherwise by the candidate
	// Unreadable counts stored inputs the candidate could not decide: an
	// input that no longer fits the point's schema (inputs are read
	// strictly) or a broken record.
	Unreadable int64 `json:"unreadable"`
	// Changes are the ways decisions changed, most frequent first.
	Changes []BacktestChange `json:"changes"`
}

// BacktestChange is one way decisions changed, e.g. risk allow -> review,
// with what became of the payments they were about.
type BacktestChange struct {
	From  string `json:"from"` // engine.Outcome of the recorded decision
	To    string `json:"to"`   // engine.Outcome of the candidate's
	Count int64  `json:"count"`
	// Outcomes counts the payments' states as they are now (refused,
	// refunded, charged_back, ...); "no payment" for a decision that
	// preceded one, "unknown" for a payment not found.
	Outcomes map[string]int64 `json:"outcomes"`
	// Sample is a few of the changed decisions, the first met in the
	// window, to open.
	Sample []BacktestSample `json:"sample"`
}

// BacktestSample is one changed decision of a backtest.
type BacktestSample struct {
	DecisionID string    `json:"decisionId"`
	MerchantID string    `json:"merchantId"`
	PaymentID  string    `json:"paymentId,omitempty"`
	At         time.Time `json:"at"`
}

// BacktestStore keeps backtest jobs.
type BacktestStore interface {
	// CreateBacktest stores b as a queued job with its audit entry in one
	// transaction, counting the decisions of its window as its Total; b's
	// ID, State, Total and CreatedAt are filled. Returns EINVALID for an
	// empty window or without who started it, ENOTFOUND for an unknown
	// revision.
	CreateBacktest(ctx context.Context, b *Backtest, audit *AuditEntry) error

	// Backtest returns a job with its report, or ENOTFOUND.
	Backtest(ctx context.Context, id string) (*Backtest, error)

	// Backtests returns up to limit jobs, newest first, with their reports.
	Backtests(ctx context.Context, limit int) ([]Backtest, error)

	// ClaimBacktest leases the oldest job that is queued, or running with
	// an expired lease (its worker died), to worker until now+lease and
	// marks it running; nil when there is none. On PostgreSQL the row is
	// claimed with FOR UPDATE SKIP LOCKED.
	ClaimBacktest(ctx context.Context, worker string, now time.Time, lease time.Duration) (*Backtest, error)

	// BacktestDecisions returns up to limit of the job's decisions after
	// its cursor, in (created_at, id) order.
	BacktestDecisions(ctx context.Context, b *Backtest, limit int) ([]DecisionRecord, error)

	// AdvanceBacktest stores b's Done, cursor, Report, State (running,
	// done or failed) and Error, and extends the lease to leaseUntil while
	// it runs, in one transaction, if worker still holds the lease and
	// the job's Done is still done (the count it read): otherwise
	// ECONFLICT, and nothing is written, so that a batch is never counted
	// twice.
	AdvanceBacktest(ctx context.Context, b *Backtest, worker string, done int64, leaseUntil time.Time) error

	// PaymentStates returns the current state of each payment of ids that
	// exists, by id.
	PaymentStates(ctx context.Context, ids []string) (map[string]State, error)
}
