package engine

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The functions here build the Rego input as AST values directly, so that
// no request is converted through JSON or reflection on the hot path.

func str(s string) *ast.Term { return ast.StringTerm(s) }

// num returns an integer term; small integers are shared, not allocated.
func num(n int64) *ast.Term { return ast.InternedTerm(n) }

func timeTerm(t time.Time) *ast.Term { return ast.StringTerm(t.UTC().Format(time.RFC3339Nano)) }

func strArray(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

// keys holds one shared term per attribute name of the inputs, made once,
// so that building an input allocates only for its values.
var keys = map[string]*ast.Term{}

func key(k string) *ast.Term {
	if t, ok := keys[k]; ok {
		return t
	}
	return ast.StringTerm(k)
}

func init() {
	for _, k := range []string{
		"request", "features", "hits", "minor", "currency", "exponent",
		"card_count_1h", "card_count_24h", "card_amount_24h", "card_declines_24h", "email_count_24h",
		"ip_count_1h", "customer_count_7d", "customer_age_days", "card_age_days", "email_age_days",
		"merchant_id", "kind", "amount", "country", "language", "customer_id", "deposit_methods",
		"preselected_method", "time", "payment_id", "method", "card", "brand", "bin", "last4",
		"expiry_month", "expiry_year", "fingerprint", "customer", "id", "email", "email_domain", "ip",
		"ip_country", "billing_country", "risk_score", "risk_action", "state", "event", "type",
		"captured", "refunded", "provider", "risk", "score", "action", "merchant", "auto_capture",
		"auto_capture_max_score", "authorized_age_seconds",
	} {
		keys[k] = ast.StringTerm(k)
	}
}

func item(k string, v *ast.Term) [2]*ast.Term { return [2]*ast.Term{key(k), v} }

func obj(items ...[2]*ast.Term) *ast.Term { return ast.ObjectTerm(items...) }

func (m Money) term() *ast.Term {
	return obj(item("minor", num(m.Minor)), item("currency", str(m.Currency)), item("exponent", num(int64(m.Exponent))))
}

func (f *Features) term() *ast.Term {
	return obj(
		item("card_count_1h", num(f.CardCount1h)),
		item("card_count_24h", num(f.CardCount24h)),
		item("card_amount_24h", num(f.CardAmount24h)),
		item("card_declines_24h", num(f.CardDeclines24h)),
		item("email_count_24h", num(f.EmailCount24h)),
		item("ip_count_1h", num(f.IPCount1h)),
		item("customer_count_7d", num(f.CustomerCount7d)),
		item("customer_age_days", num(f.CustomerAgeDays)),
		item("card_age_days", num(f.CardAgeDays)),
		item("email_age_days", num(f.EmailAgeDays)),
	)
}

func (r *AvailabilityRequest) term() *ast.Term {
	return obj(
		item("merchant_id", str(r.MerchantID)),
		item("kind", str(r.Kind)),
		item("amount", r.Amount.term()),
		item("country", str(r.Country)),
		item("language", str(r.Language)),
		item("customer_id", str(r.CustomerID)),
		item("deposit_methods", strArray(r.DepositMethods)),
		item("preselected_method", str(r.PreselectedMethod)),
		item("time", timeTerm(r.Time)),
	)
}

func (r *RiskRequest) term() *ast.Term {
	c, u := &r.Card, &r.Customer
	return obj(
		item("payment_id", str(r.PaymentID)),
		item("merchant_id", str(r.MerchantID)),
		item("kind", str(r.Kind)),
		item("amount", r.Amount.term()),
		item("method", str(r.Method)),
		item("card", obj(
			item("brand", str(c.Brand)),
			item("bin", str(c.BIN)),
			item("last4", str(c.Last4)),
			item("country", str(c.Country)),
			item("expiry_month", num(int64(c.ExpiryMonth))),
			item("expiry_year", num(int64(c.ExpiryYear))),
			item("fingerprint", str(c.Fingerprint)),
		)),
		item("customer", obj(
			item("id", str(u.ID)),
			item("email", str(u.Email)),
			item("email_domain", str(u.EmailDomain)),
			item("country", str(u.Country)),
			item("ip", str(u.IP)),
			item("ip_country", str(u.IPCountry)),
			item("language", str(u.Language)),
		)),
		item("billing_country", str(r.BillingCountry)),
		item("time", timeTerm(r.Time)),
	)
}

func (r *RouteRequest) term() *ast.Term {
	return obj(
		item("merchant_id", str(r.MerchantID)),
		item("kind", str(r.Kind)),
		item("amount", r.Amount.term()),
		item("method", str(r.Method)),
		item("card", obj(item("brand", str(r.Card.Brand)), item("bin", str(r.Card.BIN)), item("country", str(r.Card.Country)))),
		item("customer", obj(item("id", str(r.Customer.ID)), item("country", str(r.Customer.Country)))),
		item("risk_score", num(int64(r.RiskScore))),
		item("risk_action", str(r.RiskAction)),
		item("time", timeTerm(r.Time)),
	)
}

func (r *WorkflowRequest) term() *ast.Term {
	return obj(
		item("state", str(r.State)),
		item("event", obj(item("type", str(r.Event.Type)), item("amount", num(r.Event.Amount)))),
		item("kind", str(r.Kind)),
		item("amount", r.Amount.term()),
		item("captured", num(r.Captured)),
		item("refunded", num(r.Refunded)),
		item("method", str(r.Method)),
		item("provider", str(r.Provider)),
		item("risk", obj(item("score", num(int64(r.Risk.Score))), item("action", str(r.Risk.Action)))),
		item("merchant", obj(
			item("auto_capture", ast.BooleanTerm(r.Merchant.AutoCapture)),
			item("auto_capture_max_score", num(int64(r.Merchant.AutoCaptureMaxScore))),
		)),
		item("authorized_age_seconds", num(r.AuthorizedAgeSeconds)),
		item("time", timeTerm(r.Time)),
	)
}

// regoInput is {request, features, hits}.
func regoInput(request, features *ast.Term, hits []*ast.Term) ast.Value {
	return ast.NewObject(
		item("request", request),
		item("features", features),
		item("hits", ast.ArrayTerm(hits...)),
	)
}
