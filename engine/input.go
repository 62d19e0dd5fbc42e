package engine

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The Rego input is built as lazy objects over plain Go maps: OPA converts
// a value to AST only when a policy reads it, and policies read a few
// attributes of the many an input carries. Building every attribute as AST
// up front cost three times as much as a typical policy's reads.

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (m Money) fields() map[string]any {
	return map[string]any{"minor": m.Minor, "currency": m.Currency, "exponent": int64(m.Exponent)}
}

func (f *Features) fields() map[string]any {
	return map[string]any{
		"card_count_1h":     f.CardCount1h,
		"card_count_24h":    f.CardCount24h,
		"card_amount_24h":   f.CardAmount24h,
		"card_declines_24h": f.CardDeclines24h,
		"email_count_24h":   f.EmailCount24h,
		"ip_count_1h":       f.IPCount1h,
		"customer_count_7d": f.CustomerCount7d,
		"customer_age_days": f.CustomerAgeDays,
		"card_age_days":     f.CardAgeDays,
		"email_age_days":    f.EmailAgeDays,
	}
}

func strs(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func (r *AvailabilityRequest) fields() map[string]any {
	return map[string]any{
		"merchant_id":        r.MerchantID,
		"kind":               r.Kind,
		"amount":             r.Amount.fields(),
		"country":            r.Country,
		"language":           r.Language,
		"customer_id":        r.CustomerID,
		"deposit_methods":    strs(r.DepositMethods),
		"preselected_method": r.PreselectedMethod,
		"time":               timeText(r.Time),
	}
}

func (r *RiskRequest) fields() map[string]any {
	c, u := &r.Card, &r.Customer
	return map[string]any{
		"payment_id":  r.PaymentID,
		"merchant_id": r.MerchantID,
		"kind":        r.Kind,
		"amount":      r.Amount.fields(),
		"method":      r.Method,
		"card": map[string]any{
			"brand":        c.Brand,
			"bin":          c.BIN,
			"last4":        c.Last4,
			"country":      c.Country,
			"expiry_month": int64(c.ExpiryMonth),
			"expiry_year":  int64(c.ExpiryYear),
			"fingerprint":  c.Fingerprint,
		},
		"customer": map[string]any{
			"id":           u.ID,
			"email":        u.Email,
			"email_domain": u.EmailDomain,
			"country":      u.Country,
			"ip":           u.IP,
			"ip_country":   u.IPCountry,
			"language":     u.Language,
		},
		"billing_country": r.BillingCountry,
		"time":            timeText(r.Time),
	}
}

func (r *RouteRequest) fields() map[string]any {
	return map[string]any{
		"merchant_id": r.MerchantID,
		"kind":        r.Kind,
		"amount":      r.Amount.fields(),
		"method":      r.Method,
		"card":        map[string]any{"brand": r.Card.Brand, "bin": r.Card.BIN, "country": r.Card.Country},
		"customer":    map[string]any{"id": r.Customer.ID, "country": r.Customer.Country},
		"risk_score":  int64(r.RiskScore),
		"risk_action": r.RiskAction,
		"time":        timeText(r.Time),
	}
}

func (r *WorkflowRequest) fields() map[string]any {
	return map[string]any{
		"state":    r.State,
		"event":    map[string]any{"type": r.Event.Type, "amount": r.Event.Amount},
		"kind":     r.Kind,
		"amount":   r.Amount.fields(),
		"captured": r.Captured,
		"refunded": r.Refunded,
		"method":   r.Method,
		"provider": r.Provider,
		"risk":     map[string]any{"score": int64(r.Risk.Score), "action": r.Risk.Action},
		"merchant": map[string]any{
			"auto_capture":           r.Merchant.AutoCapture,
			"auto_capture_max_score": int64(r.Merchant.AutoCaptureMaxScore),
		},
		"authorized_age_seconds": r.AuthorizedAgeSeconds,
		"time":                   timeText(r.Time),
	}
}

// regoInput is {request, features, hits}; the hits are AST terms made when
// the bundle was compiled.
func regoInput(request, features map[string]any, hits []*ast.Term) ast.Value {
	return ast.LazyObject(map[string]any{
		"request":  request,
		"features": features,
		"hits":     ast.NewArray(hits...),
	})
}
