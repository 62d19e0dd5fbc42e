package listeners

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/payment"
)

// Payments is what the listeners need of the payment use cases.
type Payments interface {
	// ProviderEvent applies a verified webhook event; ENOTFOUND for a
	// reference no payment has.
	ProviderEvent(ctx context.Context, provider string, ev adapters.WebhookEvent) error
	// ConfirmReturn confirms an end user's return server-side and says
	// where they go.
	ConfirmReturn(ctx context.Context, provider, attemptID string) (*payment.Outcome, error)
}

// Handler serves provider webhooks and end users' returns from provider
// pages under /listeners/{provider}/.
type Handler struct {
	Payments  Payments
	Providers *adapters.Registry
	Logger    *slog.Logger
	Now       func() time.Time
}

// maxWebhookBytes bounds a webhook body.
const maxWebhookBytes = 256 << 10

// Mount adds the listeners' routes to r.
func (h *Handler) Mount(r chi.Router) {
	r.Post("/listeners/{provider}/webhook", h.webhook)
	r.Get("/listeners/{provider}/return", h.back)
	r.Post("/listeners/{provider}/return", h.back)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// webhook verifies a provider's signature over the raw body, then applies
// each event. It answers 2xx once the events are applied (or recognised as
// duplicates or as not ours), 401 for a bad signature, 503 when applying
// failed for a reason a redelivery may not meet.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "provider")
	prov, err := h.Providers.Provider(name)
	if err != nil {
		plain(w, http.StatusNotFound, "unknown provider")
		return
	}
	verifier, ok := prov.(adapters.WebhookVerifier)
	if !ok {
		plain(w, http.StatusNotFound, "this provider sends no webhooks")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			plain(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		plain(w, http.StatusBadRequest, "body could not be read")
		return
	}
	events, err := verifier.VerifyWebhook(r.Header, body, h.now())
	if err != nil {
		h.logger().Warn("webhook refused", "provider", name, "error", err)
		switch paywire.ErrorCode(err) {
		case paywire.EUNAUTHORIZED:
			plain(w, http.StatusUnauthorized, "signature not valid")
		default:
			plain(w, http.StatusBadRequest, "webhook not readable")
		}
		return
	}
	for _, ev := range events {
		err := h.Payments.ProviderEvent(r.Context(), name, ev)
		switch paywire.ErrorCode(err) {
		case "":
		case paywire.ENOTFOUND:
			// Not a payment of ours: acknowledged, or the provider
			// would deliver it forever.
			h.logger().Warn("webhook for an unknown reference", "provider", name, "event", ev.ID, "reference", ev.Reference)
		default:
			h.logger().Error("applying a webhook event", "provider", name, "event", ev.ID, "error", err)
			plain(w, http.StatusServiceUnavailable, "not applied; deliver again")
			return
		}
	}
	plain(w, http.StatusOK, "ok")
}

// back is the end user's return from a provider's page: the outcome is
// confirmed with the provider, never read from the request, and the end
// user goes to the merchant's page for it.
func (h *Handler) back(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "provider")
	attempt := r.URL.Query().Get("attempt")
	if attempt == "" || len(attempt) > 64 {
		page(w, http.StatusBadRequest, "This return link is not valid.")
		return
	}
	o, err := h.Payments.ConfirmReturn(r.Context(), name, attempt)
	if err != nil {
		if paywire.ErrorCode(err) == paywire.ENOTFOUND {
			page(w, http.StatusNotFound, "This return link is not valid.")
			return
		}
		h.logger().Error("confirming a return", "provider", name, "error", err)
		page(w, http.StatusServiceUnavailable, "Your payment could not be confirmed just now. Please try again in a moment.")
		return
	}
	if o.RedirectURL == "" {
		page(w, http.StatusOK, "Your payment is being processed.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, o.RedirectURL, http.StatusSeeOther)
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// page writes a minimal self-contained page: no scripts, no styles.
func page(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Paywire</title></head><body><main><p>"+msg+"</p></main></body></html>\n")
}
