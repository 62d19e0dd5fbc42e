package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type paymentRow struct {
	bun.BaseModel `bun:"table:payments"`

	ID                string    `bun:"id,pk"`
	MerchantID        string    `bun:"merchant_id"`
	MerchantReference string    `bun:"merchant_reference"`
	Kind              string    `bun:"kind"`
	Amount            int64     `bun:"amount"`
	Currency          string    `bun:"currency"`
	Captured          int64     `bun:"captured"`
	Refunded          int64     `bun:"refunded"`
	ChargedBack       int64     `bun:"charged_back"`
	State             string    `bun:"state"`
	Method            string    `bun:"method"`
	Provider          string    `bun:"provider"`
	ProviderReference string    `bun:"provider_reference"`
	CardBrand         string    `bun:"card_brand"`
	CardBIN           string    `bun:"card_bin"`
	CardLast4         string    `bun:"card_last4"`
	CardExpiryMonth   int       `bun:"card_expiry_month"`
	CardExpiryYear    int       `bun:"card_expiry_year"`
	CardFingerprint   string    `bun:"card_fingerprint"`
	EndUserID         string    `bun:"end_user_id"`
	EndUserEmail      string    `bun:"end_user_email"`
	EndUserCountry    string    `bun:"end_user_country"`
	EndUserIP         string    `bun:"end_user_ip"`
	EndUserLanguage   string    `bun:"end_user_language"`
	EndUserDeviceID   string    `bun:"end_user_device_id"`
	EndUserBilling    string    `bun:"end_user_billing_country"`
	EndUserRegistered time.Time `bun:"end_user_registered_at,nullzero"`
	EndUserEmailKey   string    `bun:"end_user_email_key"`
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
	ExpiresAt         time.Time `bun:"expires_at,nullzero"`
	Version           int64     `bun:"version"`
	ReturnURLs        string    `bun:"return_urls"`
	NotificationURL   string    `bun:"notification_url"`
	PreselectedMethod string    `bun:"preselected_method"`
	SourcePaymentID   string    `bun:"source_payment_id"`
	RiskScore         int       `bun:"risk_score"`
	RiskAction        string    `bun:"risk_action"`
}

func toPaymentRow(p *paywire.Payment) *paymentRow {
	urls, _ := json.Marshal(p.ReturnURLs) // a struct of strings always marshals
	return &paymentRow{
		ReturnURLs: string(urls), NotificationURL: p.NotificationURL, PreselectedMethod: string(p.PreselectedMethod), SourcePaymentID: p.SourcePaymentID,
		RiskScore: p.RiskScore, RiskAction: string(p.RiskAction),
		ID: p.ID, MerchantID: p.MerchantID, MerchantReference: p.MerchantReference,
		Kind: string(p.Kind), Amount: p.Amount.Amount, Currency: p.Amount.Currency.Code,
		Captured: p.Captured, Refunded: p.Refunded, ChargedBack: p.ChargedBack, State: string(p.State),
		Method: string(p.Method), Provider: p.Provider, ProviderReference: p.ProviderReference,
		CardBrand: p.Card.Brand, CardBIN: p.Card.BIN, CardLast4: p.Card.Last4,
		CardExpiryMonth: p.Card.ExpiryMonth, CardExpiryYear: p.Card.ExpiryYear,
		CardFingerprint: p.Card.Fingerprint,
		EndUserID:       p.EndUser.ID, EndUserEmail: p.EndUser.Email, EndUserCountry: p.EndUser.Country,
		EndUserIP: p.EndUser.IP, EndUserLanguage: p.EndUser.Language,
		EndUserDeviceID: p.EndUser.DeviceID, EndUserBilling: p.EndUser.BillingCountry, EndUserRegistered: p.EndUser.RegisteredAt,
		EndUserEmailKey: paywire.EmailKey(p.EndUser.Email),
		CreatedAt:       p.CreatedAt, UpdatedAt: p.UpdatedAt, ExpiresAt: p.ExpiresAt, Version: p.Version,
	}
}

func (r *paymentRow) payment() (*paywire.Payment, error) {
	cur, err := paywire.LookupCurrency(r.Currency)
	if err != nil {
		// A stored payment in an unknown currency means the table of codes
		// lost one the data still uses; that is our fault, not the caller's.
		return nil, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err}
	}
	var urls paywire.ReturnURLs
	if r.ReturnURLs != "" {
		if err := json.Unmarshal([]byte(r.ReturnURLs), &urls); err != nil {
			return nil, &paywire.Error{Code: paywire.EINTERNAL, Message: "internal error", Err: err}
		}
	}
	return &paywire.Payment{
		ReturnURLs: urls, NotificationURL: r.NotificationURL, PreselectedMethod: paywire.Method(r.PreselectedMethod), SourcePaymentID: r.SourcePaymentID,
		RiskScore: r.RiskScore, RiskAction: paywire.RiskAction(r.RiskAction),
		ID: r.ID, MerchantID: r.MerchantID, MerchantReference: r.MerchantReference,
		Kind: paywire.Kind(r.Kind), Amount: paywire.Money{Amount: r.Amount, Currency: cur},
		Captured: r.Captured, Refunded: r.Refunded, ChargedBack: r.ChargedBack, State: paywire.State(r.State),
		Method: paywire.Method(r.Method), Provider: r.Provider, ProviderReference: r.ProviderReference,
		Card: paywire.CardSummary{
			Brand: r.CardBrand, BIN: r.CardBIN, Last4: r.CardLast4,
			ExpiryMonth: r.CardExpiryMonth, ExpiryYear: r.CardExpiryYear, Fingerprint: r.CardFingerprint,
		},
		EndUser: paywire.EndUser{
			ID: r.EndUserID, Email: r.EndUserEmail, Country: r.EndUserCountry,
			IP: r.EndUserIP, Language: r.EndUserLanguage,
			DeviceID: r.EndUserDeviceID, BillingCountry: r.EndUserBilling, RegisteredAt: utcOrZero(r.EndUserRegistered),
		},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), ExpiresAt: utcOrZero(r.ExpiresAt),
		Version: r.Version,
	}, nil
}

type eventRow struct {
	bun.BaseModel `bun:"table:payment_events"`

	ID         string    `bun:"id,pk"`
	PaymentID  string    `bun:"payment_id"`
	MerchantID string    `bun:"merchant_id"`
	Seq        int64     `bun:"seq"`
	FromState  string    `bun:"from_state"`
	ToState    string    `bun:"to_state"`
	Type       string    `bun:"type"`
	Amount     int64     `bun:"amount"`
	Reason     string    `bun:"reason"`
	Source     string    `bun:"source"`
	OccurredAt time.Time `bun:"occurred_at"`
}

func (r *eventRow) event() paywire.Event {
	return paywire.Event{
		ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, Seq: r.Seq,
		From: paywire.State(r.FromState), To: paywire.State(r.ToState), Type: paywire.EventType(r.Type), Amount: r.Amount,
		Reason: r.Reason, Source: paywire.Actor(r.Source), OccurredAt: r.OccurredAt.UTC(),
	}
}

type outboxRow struct {
	bun.BaseModel `bun:"table:outbox"`

	ID            int64     `bun:"id,pk,autoincrement"`
	EventID       string    `bun:"event_id"`
	MerchantID    string    `bun:"merchant_id"`
	PaymentID     string    `bun:"payment_id"`
	Seq           int64     `bun:"seq"`
	Payload       string    `bun:"payload"`
	Status        string    `bun:"status"`
	Attempts      int       `bun:"attempts"`
	NextAttemptAt time.Time `bun:"next_attempt_at"`
	LockedUntil   time.Time `bun:"locked_until,nullzero"`
	LockedBy      string    `bun:"locked_by"`
	LastError     string    `bun:"last_error"`
	CreatedAt     time.Time `bun:"created_at"`
	DeliveredAt   time.Time `bun:"delivered_at,nullzero"`
}

func (r *outboxRow) message() paywire.OutboxMessage {
	return paywire.OutboxMessage{
		ID: r.ID, EventID: r.EventID, MerchantID: r.MerchantID, PaymentID: r.PaymentID, Seq: r.Seq,
		Payload: json.RawMessage(r.Payload), Status: r.Status, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt.UTC(), LastError: r.LastError, LockedBy: r.LockedBy,
		CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utcOrZero(r.DeliveredAt),
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// CreatePayment implements paywire.PaymentStore.
func (db *DB) CreatePayment(ctx context.Context, c paywire.StateChange) error {
	const op = "store/DB.CreatePayment"
	p := c.Payment
	switch {
	case p == nil || c.Event == nil:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a new payment needs its creation event"}
	case p.State != paywire.StateCreated || p.Version != 1 || p.Captured != 0 || p.Refunded != 0 || p.ChargedBack != 0:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a new payment is created, at version 1, with nothing moved"}
	case c.Event.Seq != 1 || c.Event.To != paywire.StateCreated || c.Event.PaymentID != p.ID:
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "the creation event must be the payment's first"}
	}
	if err := p.Validate(); err != nil {
		return classify(op, err, "")
	}
	if db.dialect == Postgres {
		if done, err := db.createInOneTrip(ctx, c); done || err != nil {
			return classify(op, err, "the merchant already has a payment with this merchant reference")
		}
	}
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(toPaymentRow(p)).Exec(ctx); err != nil {
			return err
		}
		return writeWith(ctx, tx, db.now(), c)
	})
	return classify(op, err, "the merchant already has a payment with this merchant reference")
}

// writeWith writes the rows that commit with a change: the decisions
// that led to it, its event, the merchant's notification, follow-ups scheduled and carried out, attempts,
// the provider event seen and the idempotent outcome.
func writeWith(ctx context.Context, tx bun.Tx, now time.Time, c paywire.StateChange) error {
	// The decisions first after the payment: inserting a routing decision
	// copies its experiment and arm onto the payment (migration 0014).
	if len(c.Decisions) > 0 {
		if err := insertDecisions(ctx, tx, now, c.Decisions); err != nil {
			return err
		}
	}
	if ev := c.Event; ev != nil {
		if _, err := tx.NewInsert().Model(toEventRow(ev)).Exec(ctx); err != nil {
			return err
		}
	}
	if a := c.Audit; a != nil {
		if err := appendAudit(ctx, tx, now, a); err != nil {
			return err
		}
	}
	if a := c.Approval; a != nil {
		if _, err := tx.NewInsert().Model(&approvalRow{
			PaymentID: a.PaymentID, MerchantID: a.MerchantID, Seq: a.Seq, Approver: string(a.Approver),
			Reason: a.Reason, ApprovedAt: utc(a.At),
		}).Exec(ctx); err != nil {
			return err
		}
	}
	if n := c.Notification; n != nil {
		if _, err := tx.NewInsert().Model(toOutboxRow(n)).Exec(ctx); err != nil {
			return err
		}
	}
	if c.DoneFollowUp != 0 {
		res, err := followUpDone(tx, c.DoneFollowUp, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return paywire.Errorf(paywire.ECONFLICT, "the follow-up was carried out meanwhile")
		}
	}
	if len(c.MootFollowUps) > 0 && c.Payment != nil {
		if _, err := followUpsMoot(tx, c.Payment.ID, c.MootFollowUps, c.DoneFollowUp, now).Exec(ctx); err != nil {
			return err
		}
	}
	for i := range c.FollowUps {
		f := &c.FollowUps[i]
		row := toFollowUpRow(f, now)
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return err
		}
		// The caller learns the id (the change's slice is the caller's),
		// to carry out a follow-up that is due at once.
		f.ID, f.Status, f.CreatedAt = row.ID, paywire.FollowUpPending, now
	}
	for i := range c.Attempts {
		if _, err := attemptUpsert(tx, toAttemptRow(&c.Attempts[i], now)).Exec(ctx); err != nil {
			return err
		}
	}
	if e := c.ProviderEvent; e != nil {
		res, err := providerEventSeen(tx, e, now).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return paywire.Errorf(paywire.ECONFLICT, "the provider event was applied meanwhile")
		}
	}
	if r := c.Idempotency; r != nil {
		// First: a unique violation says the key is taken (ECONFLICT).
		if _, err := idempotencyInsert(tx, r, now).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// paymentUpdate is the compare-and-set of c.Payment: written only if the
// stored payment is still at c.Version and in the state the move starts
// from.
func paymentUpdate(db bun.IDB, c *paywire.StateChange) *bun.UpdateQuery {
	p := c.Payment
	from := p.State
	if c.Event != nil {
		from = c.Event.From
	}
	row := toPaymentRow(p)
	row.UpdatedAt = utc(p.UpdatedAt)
	return db.NewUpdate().Model(row).
		Column("state", "version", "updated_at", "captured", "refunded", "charged_back", "method", "provider",
			"provider_reference", "card_brand", "card_bin", "card_last4", "card_expiry_month", "card_expiry_year",
			"card_fingerprint", "risk_score", "risk_action", "source_payment_id").
		Where("id = ? AND merchant_id = ? AND version = ? AND state = ?", p.ID, p.MerchantID, c.Version, string(from))
}

// paymentMissed says why c's compare-and-set wrote nothing: the payment
// does not exist (ENOTFOUND), or it changed meanwhile (ECONFLICT).
func paymentMissed(ctx context.Context, db bun.IDB, c *paywire.StateChange) error {
	p := c.Payment
	var exists int
	if err := db.NewSelect().Table("payments").ColumnExpr("count(*)").
		Where("id = ? AND merchant_id = ?", p.ID, p.MerchantID).Scan(ctx, &exists); err != nil {
		return err
	}
	if exists == 0 {
		return paywire.Errorf(paywire.ENOTFOUND, "payment not found")
	}
	return paywire.Errorf(paywire.ECONFLICT, "payment %s changed meanwhile (expected version %d); read it again", p.ID, c.Version)
}

// followUpDone marks a pending follow-up carried out.
func followUpDone(db bun.IDB, id int64, now time.Time) *bun.UpdateQuery {
	return db.NewUpdate().Model((*followUpRow)(nil)).
		Set("status = ?", paywire.FollowUpDone).Set("done_at = ?", now).
		Set("locked_by = ''").Set("locked_until = NULL").
		Where("id = ? AND status = ?", id, paywire.FollowUpPending)
}

// followUpsMoot marks done the payment's pending follow-ups of kinds that
// no worker holds, but for the one the change carries out (done), which
// its own statement marks.
func followUpsMoot(db bun.IDB, paymentID string, kinds []paywire.FollowUpKind, done int64, now time.Time) *bun.UpdateQuery {
	return db.NewUpdate().Model((*followUpRow)(nil)).
		Set("status = ?", paywire.FollowUpDone).Set("done_at = ?", now).
		Where("payment_id = ? AND status = ? AND kind IN (?) AND id <> ?", paymentID, paywire.FollowUpPending, bun.In(kinds), done).
		Where("(locked_until IS NULL OR locked_until <= ?)", now)
}

// providerEventSeen marks a provider's event seen, unless it was.
func providerEventSeen(db bun.IDB, e *paywire.ProviderEvent, now time.Time) *bun.InsertQuery {
	return db.NewInsert().Model(&providerEventRow{Provider: e.Provider, EventID: e.EventID, PaymentID: e.PaymentID, ReceivedAt: now}).
		On("CONFLICT DO NOTHING")
}

func toEventRow(ev *paywire.Event) *eventRow {
	return &eventRow{
		ID: ev.ID, PaymentID: ev.PaymentID, MerchantID: ev.MerchantID, Seq: ev.Seq,
		FromState: string(ev.From), ToState: string(ev.To), Type: string(ev.Type), Amount: ev.Amount,
		Reason: ev.Reason, Source: string(ev.Source), OccurredAt: utc(ev.OccurredAt),
	}
}

// toOutboxRow is a new notification's row: pending, or kept without an
// endpoint.
func toOutboxRow(n *paywire.OutboxMessage) *outboxRow {
	status := paywire.OutboxPending
	if n.Status == paywire.OutboxNoEndpoint {
		status = n.Status
	}
	return &outboxRow{
		EventID: n.EventID, MerchantID: n.MerchantID, PaymentID: n.PaymentID, Seq: n.Seq,
		Payload: string(n.Payload), Status: status,
		NextAttemptAt: utc(n.NextAttemptAt), CreatedAt: utc(n.CreatedAt),
	}
}

func toFollowUpRow(f *paywire.FollowUp, now time.Time) *followUpRow {
	return &followUpRow{
		PaymentID: f.PaymentID, MerchantID: f.MerchantID, Kind: string(f.Kind), AttemptID: f.AttemptID,
		DueAt: utc(f.DueAt), Status: paywire.FollowUpPending, CreatedAt: now,
	}
}

// attemptUpsert writes a new attempt, or its status, reference and code.
func attemptUpsert(db bun.IDB, row *attemptRow) *bun.InsertQuery {
	return db.NewInsert().Model(row).
		On("CONFLICT (id) DO UPDATE").
		Set("reference = EXCLUDED.reference").Set("status = EXCLUDED.status").
		Set("code = EXCLUDED.code").Set("updated_at = EXCLUDED.updated_at").
		// A call's outcome and latency are written once, when it returns;
		// a write that does not carry them keeps them.
		Set("call_outcome = COALESCE(?TableAlias.call_outcome, EXCLUDED.call_outcome)").
		Set("latency_ms = COALESCE(?TableAlias.latency_ms, EXCLUDED.latency_ms)")
}

// idempotencyInsert stores a request's outcome: the first under its key
// (a taken key is a unique violation), or over its claim.
func idempotencyInsert(db bun.IDB, r *paywire.IdempotentResult, now time.Time) *bun.InsertQuery {
	text := string(r.Result)
	q := db.NewInsert().
		Model(&idempotencyRow{MerchantID: r.MerchantID, Key: r.Key, RequestHash: r.RequestHash, Result: &text, ClaimedAt: now, CompletedAt: now})
	if !r.First {
		q = q.On("CONFLICT (merchant_id, key) DO UPDATE").
			Set("result = EXCLUDED.result").Set("completed_at = EXCLUDED.completed_at")
	}
	return q
}

// Payment implements paywire.PaymentStore.
func (db *DB) Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error) {
	row := new(paymentRow)
	if err := db.scanPrepared(ctx, db.reads.payment, row, id, merchantID); err != nil {
		return nil, notFound("store/DB.Payment", err, "payment not found")
	}
	return row.payment()
}

// PaymentByReference implements paywire.PaymentStore.
func (db *DB) PaymentByReference(ctx context.Context, merchantID, reference string) (*paywire.Payment, error) {
	row := new(paymentRow)
	err := db.bun.NewSelect().Model(row).Where("merchant_id = ? AND merchant_reference = ?", merchantID, reference).Scan(ctx)
	if err != nil {
		return nil, notFound("store/DB.PaymentByReference", err, "payment not found")
	}
	return row.payment()
}

// notFound classifies err, with a specific message for a missing row.
func notFound(op string, err error, msg string) error {
	err = classify(op, err, "")
	if e, ok := err.(*paywire.Error); ok && e.Code == paywire.ENOTFOUND && e.Message == "not found" {
		e.Message = msg
	}
	return err
}

// ApplyStateChange implements paywire.PaymentStore. The payment is written
// with a compare-and-set on its version (and, for a move, its state), so
// that of two writers that read the same version exactly one wins; the
// move is checked against the transition table and the result against the
// payment's invariants first, whatever the caller decided.
func (db *DB) ApplyStateChange(ctx context.Context, c paywire.StateChange) error {
	const op = "store/DB.ApplyStateChange"
	if p := c.Payment; p != nil {
		if ev := c.Event; ev != nil {
			if err := paywire.CheckTransition(ev.From, p.State); err != nil {
				return classify(op, err, "")
			}
			if ev.To != p.State || ev.Seq != c.Version+1 || p.Version != c.Version+1 || ev.PaymentID != p.ID {
				return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "the event does not describe the move"}
			}
		} else if p.Version != c.Version {
			return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a change without a move keeps the version"}
		}
		if err := p.Validate(); err != nil {
			return classify(op, err, "")
		}
	} else if c.Event != nil {
		return &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a move needs the payment"}
	}
	if db.dialect == Postgres {
		if done, err := db.applyInOneTrip(ctx, c); done || err != nil {
			return classify(op, err, "payment changed meanwhile; read it again")
		}
	}
	now := db.now()
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if c.Payment != nil {
			res, err := paymentUpdate(tx, &c).Exec(ctx)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return paymentMissed(ctx, tx, &c)
			}
		}
		return writeWith(ctx, tx, now, c)
	})
	if err != nil {
		return classify(op, err, "payment changed meanwhile; read it again")
	}
	return nil
}

// PaymentsInState implements paywire.PaymentStore.
func (db *DB) PaymentsInState(ctx context.Context, merchantID string, state paywire.State, limit int) ([]*paywire.Payment, error) {
	const op = "store/DB.PaymentsInState"
	var rows []paymentRow
	q := db.bun.NewSelect().Model(&rows).Where("state = ?", string(state)).OrderExpr("created_at, id").Limit(int64(max(1, min(limit, 1000))))
	if merchantID != "" {
		q = q.Where("merchant_id = ?", merchantID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]*paywire.Payment, 0, len(rows))
	for i := range rows {
		p, err := rows[i].payment()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Events implements paywire.PaymentStore.
func (db *DB) Events(ctx context.Context, merchantID, paymentID string) ([]paywire.Event, error) {
	const op = "store/DB.Events"
	var rows []eventRow
	if err := db.scanPrepared(ctx, db.reads.events, &rows, paymentID, merchantID); err != nil {
		return nil, classify(op, err, "")
	}
	if len(rows) == 0 {
		// Every payment has its creation event, so none means no such
		// payment for this merchant.
		return nil, &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "payment not found"}
	}
	out := make([]paywire.Event, len(rows))
	for i := range rows {
		out[i] = rows[i].event()
	}
	return out, nil
}

// PayoutSource implements paywire.PaymentStore.
func (db *DB) PayoutSource(ctx context.Context, merchantID, endUserID string, method paywire.Method, fingerprint string) (*paywire.Payment, error) {
	const op = "store/DB.PayoutSource"
	row := new(paymentRow)
	q := db.bun.NewSelect().Model(row).
		Where("merchant_id = ? AND end_user_id = ? AND kind = ? AND method = ?", merchantID, endUserID, string(paywire.KindDeposit), string(method)).
		Where("state IN (?) AND state <> ? AND provider_reference <> ''", bun.In(paywire.PaidStates), string(paywire.StateChargedBack)).
		OrderExpr("created_at DESC, id DESC").Limit(1)
	if fingerprint != "" {
		q = q.Where("card_fingerprint = ?", fingerprint)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(op, err, "no deposit to pay out to")
	}
	return row.payment()
}

// DepositMethods implements paywire.PaymentStore.
func (db *DB) DepositMethods(ctx context.Context, merchantID, endUserID string) ([]string, error) {
	const op = "store/DB.DepositMethods"
	var methods []string
	err := db.bun.NewSelect().Table("payments").ColumnExpr("DISTINCT method").
		Where("merchant_id = ? AND end_user_id = ? AND kind = ? AND method <> ''", merchantID, endUserID, string(paywire.KindDeposit)).
		Where("state IN (?)", bun.In(paywire.PaidStates)).
		OrderExpr("method").
		Scan(ctx, &methods)
	if err != nil {
		return nil, classify(op, err, "")
	}
	return methods, nil
}
