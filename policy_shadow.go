package paywire

import (
	"context"
	"time"
)

// PolicyShadow is one period during which a candidate revision was
// evaluated beside the active one on live traffic: every node decides
// again, off the request's path, what the active revision decided, with
// the candidate, and counts where they agree. It changes no decision.
type PolicyShadow struct {
	ID        int64 // increasing with every start
	Revision  int64 // the candidate
	StartedBy string
	StartedAt time.Time
	// StoppedBy and StoppedAt are zero while it runs. Activating the
	// candidate stops it (StopReason says so).
	StoppedBy  string
	StoppedAt  time.Time
	StopReason string
}

// Running reports whether the shadow still runs.
func (s *PolicyShadow) Running() bool { return s.StoppedAt.IsZero() }

// The results of one shadow comparison, and of work a node dropped.
const (
	ShadowAgree    = "agree"    // the candidate's outcome is the live one
	ShadowDisagree = "disagree" // it is another
	ShadowError    = "error"    // the candidate could not decide the input
	ShadowDropped  = "dropped"  // the node's shadow queue was full: not compared
)

// ShadowCount is how many decisions of a point had a result.
type ShadowCount struct {
	Point  string
	Result string // ShadowAgree, ShadowDisagree, ShadowError or ShadowDropped
	N      int64
}

// ShadowPointCounts are one decision point's comparisons by result.
type ShadowPointCounts struct {
	Point    string `json:"point"`
	Agree    int64  `json:"agree"`
	Disagree int64  `json:"disagree"`
	Error    int64  `json:"error"`
	Dropped  int64  `json:"dropped"`
}

// CountsByPoint folds counts into one row per point that has any, in the
// order of points.
func CountsByPoint(counts []ShadowCount, points []string) []ShadowPointCounts {
	out := []ShadowPointCounts{}
	for _, p := range points {
		row, seen := ShadowPointCounts{Point: p}, false
		for _, c := range counts {
			if c.Point != p {
				continue
			}
			seen = true
			switch c.Result {
			case ShadowAgree:
				row.Agree += c.N
			case ShadowDisagree:
				row.Disagree += c.N
			case ShadowError:
				row.Error += c.N
			case ShadowDropped:
				row.Dropped += c.N
			}
		}
		if seen {
			out = append(out, row)
		}
	}
	return out
}

// ShadowDisagreement is a live decision the candidate decided otherwise.
// Outcomes are engine.Outcome's words ("review", "sandbox>stripe").
type ShadowDisagreement struct {
	ID             int64 // increasing in insertion order
	Shadow         int64 // PolicyShadow.ID
	DecisionID     string
	PaymentID      string // empty for a decision before a payment
	MerchantID     string
	Point          string
	LiveRevision   string // the manifest revision that decided
	LiveOutcome    string
	ShadowRevision string
	ShadowOutcome  string
	At             time.Time // when the live decision was made
}

// ShadowFilter selects disagreements, newest first.
type ShadowFilter struct {
	Shadow     int64  // required: which shadow period
	Point      string // empty: every point
	MerchantID string // empty: every merchant
	Before     int64  // keyset: IDs below it; 0 for the newest
	Limit      int
}

// ShadowStore keeps the shadow setting every node follows, and what the
// nodes found. Starting and stopping are made with their audit entry in
// one transaction; callers check roles, the store checks the rules that do
// not depend on who asks.
type ShadowStore interface {
	// StartShadow makes revision the candidate every node shadows, by
	// by. Returns ENOTFOUND for an unknown revision, ECONFLICT when it is
	// not submitted or approved (the active one is neither) or another
	// shadow runs.
	StartShadow(ctx context.Context, revision int64, by string, audit *AuditEntry) (*PolicyShadow, error)

	// StopShadow stops the running shadow, by by. Returns ECONFLICT when
	// none runs.
	StopShadow(ctx context.Context, by string, audit *AuditEntry) (*PolicyShadow, error)

	// RunningShadow returns the running shadow, nil when none runs. It is
	// cheap: every node polls it.
	RunningShadow(ctx context.Context) (*PolicyShadow, error)

	// Shadows returns up to limit shadow periods, newest first.
	Shadows(ctx context.Context, limit int) ([]PolicyShadow, error)

	// RecordShadow adds counts to shadow's and stores its disagreements,
	// in one transaction: nodes write their results in batches.
	RecordShadow(ctx context.Context, shadow int64, counts []ShadowCount, disagreements []ShadowDisagreement) error

	// ShadowCounts returns shadow's counts by point and result, every
	// node's together.
	ShadowCounts(ctx context.Context, shadow int64) ([]ShadowCount, error)

	// ShadowDisagreements returns the disagreements f selects, newest
	// first. Returns EINVALID without f.Shadow.
	ShadowDisagreements(ctx context.Context, f ShadowFilter) ([]ShadowDisagreement, error)
}
