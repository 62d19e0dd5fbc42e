package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

// HealthTallies implements paywire.HealthStore. The calls are the
// attempts that took payments (authorize, pay) with a call outcome, started
// in the window (migration 0025's index on created_at), joined to their
// payments for the method; a window function keeps the newest r.Limit of
// each provider and method, so the rows read are bounded whatever the
// traffic.
func (db *DB) HealthTallies(ctx context.Context, r paywire.HealthRequest) ([]paywire.HealthTally, error) {
	const op = "store/DB.HealthTallies"
	if err := r.Validate(); err != nil {
		return nil, classify(op, err, "")
	}
	var rows []struct {
		Provider    string `bun:"provider"`
		Method      string `bun:"method"`
		CallOutcome string `bun:"call_outcome"`
		Status      string `bun:"status"`
		LatencyMS   *int64 `bun:"latency_ms"`
	}
	query := "SELECT provider, method, call_outcome, status, latency_ms FROM (" +
		"SELECT a.provider, p.method, a.call_outcome, a.status, a.latency_ms," +
		" ROW_NUMBER() OVER (PARTITION BY a.provider, p.method ORDER BY a.created_at DESC, a.id DESC) AS rn" +
		" FROM payment_attempts a JOIN payments p ON p.id = a.payment_id" +
		" WHERE a.created_at >= ? AND a.created_at < ? AND a.call_outcome IS NOT NULL" +
		" AND a.operation IN ('" + string(paywire.OpAuthorize) + "', '" + string(paywire.OpPay) + "')" +
		") c WHERE rn <= ?"
	if err := db.bun.NewRaw(query, db.timeArg(r.From), db.timeArg(r.To), r.Limit).Scan(ctx, &rows); err != nil {
		return nil, classify(op, err, "")
	}
	byPair := map[[2]string]*paywire.HealthTally{}
	var out []*paywire.HealthTally
	for _, row := range rows {
		key := [2]string{row.Provider, row.Method}
		t := byPair[key]
		if t == nil {
			t = &paywire.HealthTally{Provider: row.Provider, Method: paywire.Method(row.Method)}
			byPair[key] = t
			out = append(out, t)
		}
		t.Calls++
		if paywire.CallOutcome(row.CallOutcome) == paywire.CallError {
			t.Errors++
		}
		switch paywire.AttemptStatus(row.Status) {
		case paywire.AttemptApproved:
			t.Approved++
		case paywire.AttemptDeclined:
			t.Declined++
		}
		if row.LatencyMS != nil {
			t.Latencies = append(t.Latencies, *row.LatencyMS)
		}
	}
	tallies := make([]paywire.HealthTally, len(out))
	for i, t := range out {
		slices.Sort(t.Latencies)
		tallies[i] = *t
	}
	slices.SortFunc(tallies, func(a, b paywire.HealthTally) int {
		if c := strings.Compare(a.Provider, b.Provider); c != 0 {
			return c
		}
		return strings.Compare(string(a.Method), string(b.Method))
	})
	return tallies, nil
}

type providerHealthRow struct {
	bun.BaseModel `bun:"table:provider_health"`
	Provider      string    `bun:"provider,pk"`
	Method        string    `bun:"method,pk"`
	State         string    `bun:"state"`
	Since         time.Time `bun:"since"`
	Version       int64     `bun:"version"`
	Calls         int64     `bun:"calls"`
	Errors        int64     `bun:"errors"`
	ErrorRate     *float64  `bun:"error_rate"`
	ApprovalRate  *float64  `bun:"approval_rate"`
	LatencyP95MS  *int64    `bun:"latency_p95_ms"`
	Reason        string    `bun:"reason"`
}

// ProviderStates implements paywire.HealthStore.
func (db *DB) ProviderStates(ctx context.Context) ([]paywire.ProviderState, error) {
	var rows []providerHealthRow
	if err := db.bun.NewSelect().Model(&rows).Order("provider", "method").Scan(ctx); err != nil {
		return nil, classify("store/DB.ProviderStates", err, "")
	}
	out := make([]paywire.ProviderState, len(rows))
	for i, r := range rows {
		out[i] = paywire.ProviderState{Provider: r.Provider, Method: paywire.Method(r.Method), State: paywire.HealthState(r.State),
			Since: r.Since.UTC(), Version: r.Version, Calls: r.Calls, Errors: r.Errors, ErrorRate: r.ErrorRate,
			ApprovalRate: r.ApprovalRate, LatencyP95: r.LatencyP95MS, Reason: r.Reason}
	}
	return out, nil
}

// SetProviderState implements paywire.HealthStore.
func (db *DB) SetProviderState(ctx context.Context, s *paywire.ProviderState, audit *paywire.AuditEntry) (bool, error) {
	const op = "store/DB.SetProviderState"
	switch {
	case s.Provider == "" || len(s.Provider) > 64 || len(s.Method) > 64 || !auditText(s.Provider+string(s.Method)) || !auditText(s.Reason):
		return false, paywire.Errorf(paywire.EINVALID, "a provider state needs its provider, method and reason")
	case s.State != paywire.HealthHealthy && s.State != paywire.HealthDemoted:
		return false, paywire.Errorf(paywire.EINVALID, "a provider is healthy or demoted, not %q", s.State)
	case s.Version < 0:
		return false, paywire.Errorf(paywire.EINVALID, "a provider state's version is 0 or more")
	case audit == nil:
		return false, paywire.Errorf(paywire.EINVALID, "a provider state change needs its audit entry")
	}
	now := utc(db.now())
	row := &providerHealthRow{Provider: s.Provider, Method: string(s.Method), State: string(s.State), Since: now,
		Version: s.Version + 1, Calls: s.Calls, Errors: s.Errors, ErrorRate: s.ErrorRate, ApprovalRate: s.ApprovalRate,
		LatencyP95MS: s.LatencyP95, Reason: s.Reason}
	set := false
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var res interface{ RowsAffected() (int64, error) }
		var err error
		if s.Version == 0 {
			res, err = tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		} else {
			res, err = tx.NewUpdate().Model(row).
				Column("state", "since", "version", "calls", "errors", "error_rate", "approval_rate", "latency_p95_ms", "reason").
				Where("provider = ? AND method = ? AND version = ?", s.Provider, string(s.Method), s.Version).Exec(ctx)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		set = true
		return appendAudit(ctx, tx, now, audit)
	})
	if err != nil {
		return false, classify(op, err, "")
	}
	if set {
		s.Since, s.Version = now, row.Version
	}
	return set, nil
}

// ProviderTransitions implements paywire.HealthStore, by migration 0025's
// index on the audit log's action.
func (db *DB) ProviderTransitions(ctx context.Context, limit int) ([]paywire.AuditEntry, error) {
	if limit < 1 || limit > 1000 {
		return nil, paywire.Errorf(paywire.EINVALID, "read 1 to 1,000 transitions")
	}
	var rows []auditRow
	if err := db.bun.NewSelect().Model(&rows).Where("action IN (?)", bun.In([]string{paywire.AuditProviderDemote, paywire.AuditProviderRestore})).
		Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, classify("store/DB.ProviderTransitions", err, "")
	}
	return auditEntries(rows), nil
}
