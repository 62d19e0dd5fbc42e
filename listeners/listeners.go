package listeners

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// Payments is what the listeners need of the payment use cases.
type Payments interface {
	// HandleWebhook verifies a provider's webhook with the provider and
	// applies its events: ENOTFOUND for an unknown provider,
	// EUNAUTHORIZED for a bad signature, EINVALID for a body it cannot
	// read.
	HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) error
	// ConfirmReturn confirms an end user's return server-side and says
	// where they go.
	ConfirmReturn(ctx context.Context, provider, attemptID string) (*payment.Outcome, error)
}

// Handler serves provider webhooks and end users' returns from provider
// pages under /listeners/{provider}/.
type Handler struct {
	Payments Payments
	Logger   *slog.Logger
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

// webhook verifies a provider's signature over the raw body, then applies
// each event. It answers 2xx once the events are applied (or recognised as
// duplicates or as not ours), 401 for a bad signature, 503 when applying
// failed for a reason a redelivery may not meet.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "provider")
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
	err = h.Payments.HandleWebhook(r.Context(), name, r.Header, body)
	if err == nil {
		plain(w, http.StatusOK, "ok")
		return
	}
	code, class, msg := paywire.Classify(err)
	switch {
	case code == paywire.EUNAUTHORIZED:
		h.logger().WarnContext(r.Context(), "webhook refused", "provider", name, "error", err)
		plain(w, http.StatusUnauthorized, "signature not valid")
	case class.Client:
		h.logger().WarnContext(r.Context(), "webhook refused", "provider", name, "error", err)
		plain(w, class.HTTPStatus, msg)
	default:
		// Not applied: the provider delivers it again, and the event is
		// applied then (it was not marked seen).
		h.logger().ErrorContext(r.Context(), "applying a webhook", "provider", name, "error", err)
		plain(w, http.StatusServiceUnavailable, "not applied; deliver again")
	}
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
		_, class, _ := paywire.Classify(err)
		if class.Client {
			page(w, class.HTTPStatus, "This return link is not valid.")
			return
		}
		h.logger().ErrorContext(r.Context(), "confirming a return", "provider", name, "error", err)
		page(w, class.HTTPStatus, "Your payment could not be confirmed just now. Please try again in a moment.")
		return
	}
	if o.RedirectURL == "" {
		page(w, http.StatusOK, "Your payment is being processed.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
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
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Paywire</title></head><body><main><p>"+msg+"</p></main></body></html>\n")
}
