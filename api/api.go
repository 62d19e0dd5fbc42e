package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// Handler serves PaymentService: SOAP under /soap, JSON under /api/v1.
type Handler struct {
	Payments  *payment.Service
	Merchants paywire.MerchantStore
	Logger    *slog.Logger
	// BaseURL is the public base URL of this service (for the WSDL's
	// endpoint addresses), without a trailing slash.
	BaseURL string
	// MaxDepth bounds the nesting of XML elements in a SOAP request.
	MaxDepth int
	// MaxBodyBytes bounds request bodies; 1 MiB when zero.
	MaxBodyBytes int64
	// SecretKey keys the hashes of API secrets (credential.Keyed); every
	// node must use the same. Nil: credential.DevelopmentKey.
	SecretKey []byte
	// AuthLimits bound failed authentications and slow verifications.
	AuthLimits AuthLimits

	auth *authenticator
}

// Mount adds the API's routes to r.
func (h *Handler) Mount(r chi.Router) {
	auth, err := newAuthenticator(h.Merchants, h.SecretKey, h.AuthLimits, func(ctx context.Context, msg string, args ...any) {
		h.logger().WarnContext(ctx, msg, args...)
	})
	if err != nil {
		panic("api: " + err.Error()) // a wiring mistake: cmd/paywire derives a 32-byte key
	}
	h.auth = auth
	if h.MaxDepth <= 0 {
		h.MaxDepth = 32
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = 1 << 20
	}
	h.mountSOAP(r)
	h.mountJSON(r)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// logFailure logs errors that are ours (internal, unavailable), with their
// cause; clients only ever see the safe message.
func (h *Handler) logFailure(r *http.Request, err error) {
	switch paywire.ErrorCode(err) {
	case paywire.EINTERNAL, paywire.EUNAVAILABLE:
		h.logger().ErrorContext(r.Context(), "merchant API request failed", "path", r.URL.Path, "error", err)
	}
}

type merchantKey struct{}

// withMerchant returns ctx carrying the authenticated merchant.
func withMerchant(ctx context.Context, m *paywire.Merchant) context.Context {
	return context.WithValue(ctx, merchantKey{}, m)
}

func merchantOf(ctx context.Context) *paywire.Merchant {
	m, _ := ctx.Value(merchantKey{}).(*paywire.Merchant)
	return m
}

// kindOf reads DEPOSIT / WITHDRAWAL.
func kindOf(s string) paywire.Kind {
	switch s {
	case "DEPOSIT":
		return paywire.KindDeposit
	case "WITHDRAWAL":
		return paywire.KindWithdrawal
	}
	return ""
}

func kindText(k paywire.Kind) string { return strings.ToUpper(string(k)) }

func stateText(s paywire.State) string { return strings.ToUpper(string(s)) }

// money parses an amount in major units in the given currency.
func money(amount, currency string) (paywire.Money, error) {
	if amount == "" {
		return paywire.Money{}, paywire.Errorf(paywire.EINVALID, "amount is required")
	}
	if len(currency) != 3 {
		return paywire.Money{}, paywire.Errorf(paywire.EINVALID, "currency must be an ISO 4217 currency code")
	}
	return paywire.ParseMoney(amount, currency)
}
