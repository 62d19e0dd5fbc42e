package store

import (
	"context"
	"encoding/json"
	"strings"
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
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
	ExpiresAt         time.Time `bun:"expires_at,nullzero"`
	Version           int64     `bun:"version"`
	ReturnURLs        string    `bun:"return_urls"`
	NotificationURL   string    `bun:"notification_url"`
	PreselectedMethod string    `bun:"preselected_method"`
	RiskScore         int       `bun:"risk_score"`
	RiskAction        string    `bun:"risk_action"`
}

func toPaymentRow(p *paywire.Payment) *paymentRow {
	urls, _ := json.Marshal(p.ReturnURLs) // a struct of strings always marshals
	return &paymentRow{
		ReturnURLs: string(urls), NotificationURL: p.NotificationURL, PreselectedMethod: p.PreselectedMethod,
		RiskScore: p.RiskScore, RiskAction: p.RiskAction,
		ID: p.ID, MerchantID: p.MerchantID, MerchantReference: p.MerchantReference,
		Kind: string(p.Kind), Amount: p.Amount.Amount, Currency: p.Amount.Currency.Code,
		Captured: p.Captured, Refunded: p.Refunded, State: string(p.State),
		Method: p.Method, Provider: p.Provider, ProviderReference: p.ProviderReference,
		CardBrand: p.Card.Brand, CardBIN: p.Card.BIN, CardLast4: p.Card.Last4,
		CardExpiryMonth: p.Card.ExpiryMonth, CardExpiryYear: p.Card.ExpiryYear,
		CardFingerprint: p.Card.Fingerprint,
		EndUserID:       p.EndUser.ID, EndUserEmail: p.EndUser.Email, EndUserCountry: p.EndUser.Country,
		EndUserIP: p.EndUser.IP, EndUserLanguage: p.EndUser.Language,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, ExpiresAt: p.ExpiresAt, Version: p.Version,
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
		ReturnURLs: urls, NotificationURL: r.NotificationURL, PreselectedMethod: r.PreselectedMethod,
		RiskScore: r.RiskScore, RiskAction: r.RiskAction,
		ID: r.ID, MerchantID: r.MerchantID, MerchantReference: r.MerchantReference,
		Kind: paywire.Kind(r.Kind), Amount: paywire.Money{Amount: r.Amount, Currency: cur},
		Captured: r.Captured, Refunded: r.Refunded, State: paywire.State(r.State),
		Method: r.Method, Provider: r.Provider, ProviderReference: r.ProviderReference,
		Card: paywire.CardSummary{
			Brand: r.CardBrand, BIN: r.CardBIN, Last4: r.CardLast4,
			ExpiryMonth: r.CardExpiryMonth, ExpiryYear: r.CardExpiryYear, Fingerprint: r.CardFingerprint,
		},
		EndUser: paywire.EndUser{
			ID: r.EndUserID, Email: r.EndUserEmail, Country: r.EndUserCountry,
			IP: r.EndUserIP, Language: r.EndUserLanguage,
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
	Amount     int64     `bun:"amount"`
	Reason     string    `bun:"reason"`
	Source     string    `bun:"source"`
	OccurredAt time.Time `bun:"occurred_at"`
}

func (r *eventRow) event() paywire.Event {
	return paywire.Event{
		ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, Seq: r.Seq,
		From: paywire.State(r.FromState), To: paywire.State(r.ToState), Amount: r.Amount,
		Reason: r.Reason, Source: r.Source, OccurredAt: r.OccurredAt.UTC(),
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
func (db *DB) CreatePayment(ctx context.Context, p *paywire.Payment) error {
	const op = "store/DB.CreatePayment"
	now := db.now()
	if p.ID == "" {
		p.ID = paywire.NewID("pay_")
	}
	p.State, p.Version, p.Captured, p.Refunded = paywire.StateCreated, 1, 0, 0
	p.CreatedAt, p.UpdatedAt = now, now
	if err := p.Validate(); err != nil {
		return classify(op, err, "")
	}
	ev := &paywire.Event{
		ID: paywire.NewID("evt_"), PaymentID: p.ID, MerchantID: p.MerchantID, Seq: 1,
		To: paywire.StateCreated, Reason: "payment created", Source: "merchant", OccurredAt: now,
	}
	err := db.inTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(toPaymentRow(p)).Exec(ctx); err != nil {
			return err
		}
		return insertEvent(ctx, tx, p, ev)
	})
	return classify(op, err, "the merchant already has a payment with this merchant reference")
}

// insertEvent appends the event and its outbox notification.
func insertEvent(ctx context.Context, tx bun.Tx, p *paywire.Payment, ev *paywire.Event) error {
	row := &eventRow{
		ID: ev.ID, PaymentID: ev.PaymentID, MerchantID: ev.MerchantID, Seq: ev.Seq,
		FromState: string(ev.From), ToState: string(ev.To), Amount: ev.Amount,
		Reason: ev.Reason, Source: ev.Source, OccurredAt: ev.OccurredAt,
	}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return err
	}
	payload, err := json.Marshal(paywire.NotificationPayload{
		EventID: ev.ID, PaymentID: p.ID, MerchantReference: p.MerchantReference,
		PreviousState: strings.ToUpper(string(ev.From)), NewState: strings.ToUpper(string(ev.To)),
		Amount: p.Amount.Decimal(), Currency: p.Amount.Currency.Code,
		Seq: ev.Seq, OccurredAt: ev.OccurredAt.Format(time.RFC3339Nano),
	})
	if err != nil {
		return err
	}
	_, err = tx.NewInsert().Model(&outboxRow{
		EventID: ev.ID, MerchantID: p.MerchantID, PaymentID: p.ID, Seq: ev.Seq,
		Payload: string(payload), Status: paywire.OutboxPending,
		NextAttemptAt: ev.OccurredAt, CreatedAt: ev.OccurredAt,
	}).Exec(ctx)
	return err
}

// Payment implements paywire.PaymentStore.
func (db *DB) Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error) {
	row := new(paymentRow)
	err := db.bun.NewSelect().Model(row).Where("id = ? AND merchant_id = ?", id, merchantID).Scan(ctx)
	if err != nil {
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

// ApplyStateChange implements paywire.PaymentStore. The payment row is read
// and locked (FOR UPDATE on PostgreSQL; SQLite's immediate transaction holds
// the write lock), checked against the transition table and invariants,
// then updated with a compare-and-set on version, so that of two writers
// that read the same version exactly one wins.
func (db *DB) ApplyStateChange(ctx context.Context, c paywire.StateChange) (*paywire.Payment, *paywire.Event, error) {
	const op = "store/DB.ApplyStateChange"
	now := db.now()
	var p *paywire.Payment
	var ev *paywire.Event
	err := db.inTx(ctx, func(tx bun.Tx) error {
		row := new(paymentRow)
		q := tx.NewSelect().Model(row).Where("id = ? AND merchant_id = ?", c.PaymentID, c.MerchantID)
		if db.dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return notFound(op, err, "payment not found")
		}
		cur, err := row.payment()
		if err != nil {
			return err
		}
		if cur.Version != c.Version {
			return paywire.Errorf(paywire.ECONFLICT, "payment %s changed meanwhile (version %d, expected %d); read it again", cur.ID, cur.Version, c.Version)
		}
		if err := paywire.CheckTransition(cur.State, c.To); err != nil {
			return err
		}
		if c.CaptureAmount < 0 || c.RefundAmount < 0 {
			return paywire.Errorf(paywire.EINVALID, "capture and refund amounts cannot be negative")
		}
		next := *cur
		next.State, next.Version, next.UpdatedAt = c.To, cur.Version+1, now
		next.Captured += c.CaptureAmount
		next.Refunded += c.RefundAmount
		if c.Method != "" {
			next.Method = c.Method
		}
		if c.Provider != "" {
			next.Provider = c.Provider
		}
		if c.ProviderReference != "" {
			next.ProviderReference = c.ProviderReference
		}
		if c.Card != nil {
			next.Card = *c.Card
		}
		if c.Risk != nil {
			next.RiskScore, next.RiskAction = c.Risk.Score, c.Risk.Action
		}
		if err := next.Validate(); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model(toPaymentRow(&next)).
			Column("state", "version", "updated_at", "captured", "refunded", "method", "provider", "provider_reference",
				"card_brand", "card_bin", "card_last4", "card_expiry_month", "card_expiry_year", "card_fingerprint",
				"risk_score", "risk_action").
			Where("id = ? AND version = ?", cur.ID, cur.Version).
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return paywire.Errorf(paywire.ECONFLICT, "payment %s changed meanwhile; read it again", cur.ID)
		}
		ev = &paywire.Event{
			ID: paywire.NewID("evt_"), PaymentID: cur.ID, MerchantID: cur.MerchantID, Seq: next.Version,
			From: cur.State, To: c.To, Amount: c.CaptureAmount + c.RefundAmount,
			Reason: c.Reason, Source: c.Source, OccurredAt: now,
		}
		p = &next
		return insertEvent(ctx, tx, p, ev)
	})
	if err != nil {
		return nil, nil, classify(op, err, "payment changed meanwhile; read it again")
	}
	return p, ev, nil
}

// Events implements paywire.PaymentStore.
func (db *DB) Events(ctx context.Context, merchantID, paymentID string) ([]paywire.Event, error) {
	const op = "store/DB.Events"
	var rows []eventRow
	err := db.bun.NewSelect().Model(&rows).
		Where("payment_id = ? AND merchant_id = ?", paymentID, merchantID).
		Order("seq").Scan(ctx)
	if err != nil {
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

// DepositMethods implements paywire.PaymentStore.
func (db *DB) DepositMethods(ctx context.Context, merchantID, endUserID string) ([]string, error) {
	const op = "store/DB.DepositMethods"
	var methods []string
	err := db.bun.NewSelect().Table("payments").ColumnExpr("DISTINCT method").
		Where("merchant_id = ? AND end_user_id = ? AND kind = ? AND method <> ''", merchantID, endUserID, string(paywire.KindDeposit)).
		Where("state IN (?)", bun.In([]string{
			string(paywire.StateAuthorized), string(paywire.StateCompleted),
			string(paywire.StatePartiallyRefunded), string(paywire.StateRefunded),
		})).
		OrderExpr("method").
		Scan(ctx, &methods)
	if err != nil {
		return nil, classify(op, err, "")
	}
	return methods, nil
}
