package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/payment"
)

//go:embed openapi.json
var openAPI []byte

// The JSON API: the same operations as the SOAP service, under /api/v1,
// with HTTP Basic authentication and Idempotency-Key headers.

func (h *Handler) mountJSON(r chi.Router) {
	r.Get("/api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	r.Group(func(r chi.Router) {
		r.Use(h.limitBody, h.basicAuth)
		r.Post("/api/v1/payments", h.json(h.startPayment))
		r.Post("/api/v1/backend-payments", h.json(h.createPayment))
		r.Get("/api/v1/payments/{id}", h.json(h.getPayment))
		r.Post("/api/v1/payments/{id}/capture", h.json(h.capturePayment))
		r.Post("/api/v1/payments/{id}/cancel", h.json(h.cancelPayment))
		r.Post("/api/v1/payments/{id}/refunds", h.json(h.refundPayment))
		r.Get("/api/v1/payment-methods", h.json(h.paymentMethods))
		r.Get("/api/v1/notifications", h.json(h.notifications))
		r.Post("/api/v1/notifications/{id}/resend", h.json(h.resendNotification))
	})
}

// limitBody bounds the body a handler may read.
func (h *Handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// basicAuth authenticates the merchant by HTTP Basic (user = merchant id).
func (h *Handler) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="paywire", charset="UTF-8"`)
			writeError(w, paywire.Errorf(paywire.EUNAUTHORIZED, "HTTP Basic authentication with the merchant id and API secret is required"))
			return
		}
		m, err := h.auth.authenticate(r, id, secret)
		if err != nil {
			h.logFailure(r, err)
			if paywire.ErrorCode(err) == paywire.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Basic realm="paywire", charset="UTF-8"`)
			}
			setRetryAfter(w, err)
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withMerchant(r.Context(), m)))
	})
}

// json adapts a handler that returns a status and a value, or an error.
func (h *Handler) json(fn func(r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code, v, err := fn(r)
		if err != nil {
			h.logFailure(r, err)
			writeError(w, err)
			return
		}
		writeJSON(w, code, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code, class, msg := paywire.Classify(err)
	var e message.ErrorJSON
	e.Error.Code, e.Error.Message = code, msg
	// The server's middleware has set the request's id on the response.
	e.Error.RequestID = w.Header().Get("Request-Id")
	writeJSON(w, class.HTTPStatus, e)
}

// decode reads a JSON body strictly: one object, no unknown fields.
func decode(r *http.Request, v any) error { return decodeBody(r, v, false) }

// decodeOptional is decode for a body that may be empty.
func decodeOptional(r *http.Request, v any) error { return decodeBody(r, v, true) }

func decodeBody(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return paywire.Errorf(paywire.ETOOLARGE, "the request body exceeds %d bytes", tooLarge.Limit)
		}
		return paywire.Errorf(paywire.EINVALID, "the request body could not be read")
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD and store it.
	if !utf8.Valid(body) {
		return paywire.Errorf(paywire.EINVALID, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return paywire.Errorf(paywire.EINVALID, "the request body is not valid JSON for this operation: %s", jsonProblem(err))
	}
	if dec.More() {
		return paywire.Errorf(paywire.EINVALID, "the request body holds more than one JSON value")
	}
	return checkText(v)
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + itoa(se.Offset)
	case errors.As(err, &te):
		return "wrong type for " + te.Field
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	// A message type's own error ("message: a time must be ...") reads
	// without the package's name.
	msg := strings.TrimPrefix(err.Error(), "message: ")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// idempotencyKey returns the request's Idempotency-Key as a store key.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	switch {
	case k == "":
		return "", nil
	case len(k) > 255:
		return "", paywire.Errorf(paywire.EINVALID, "the Idempotency-Key header is longer than 255 characters")
	}
	return "key:" + k, nil
}

// --- bodies -------------------------------------------------------------

// The bodies are the types of package api/message; the functions below
// fill them from the domain.

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func decimal(p *paywire.Payment, minor int64) string {
	return paywire.Money{Amount: minor, Currency: p.Amount.Currency}.Decimal()
}

func toPaymentJSON(p *paywire.Payment, events []paywire.Event) message.PaymentJSON {
	out := message.PaymentJSON{
		PaymentID: p.ID, MerchantReference: p.MerchantReference, Kind: kindText(p.Kind), State: stateText(p.State),
		Amount: p.Amount.Decimal(), Currency: p.Amount.Currency.Code,
		CapturedAmount: decimal(p, p.Captured), RefundedAmount: decimal(p, p.Refunded),
		PaymentMethod: string(p.Method), Provider: p.Provider,
		CreatedAt: timeText(p.CreatedAt), UpdatedAt: timeText(p.UpdatedAt), Version: p.Version,
	}
	for _, e := range events {
		ej := message.EventJSON{SequenceNumber: e.Seq, NewState: stateText(e.To), Reason: e.Reason, OccurredAt: timeText(e.OccurredAt)}
		if e.From != "" {
			ej.PreviousState = stateText(e.From)
		}
		if e.Amount != 0 {
			ej.Amount = decimal(p, e.Amount)
		}
		out.Events = append(out.Events, ej)
	}
	return out
}

// postFields returns the redirect's form fields as the JSON API writes
// them: null when there are none to post (a GET redirect).
func postFields(fs []payment.Field) []message.PostField {
	if fs == nil {
		return nil
	}
	out := make([]message.PostField, 0, len(fs))
	for _, f := range fs {
		out = append(out, message.PostField{Name: f.Name, Value: f.Value})
	}
	return out
}

// --- handlers -----------------------------------------------------------

func (h *Handler) startPayment(r *http.Request) (int, any, error) {
	var in message.GetRedirectDataRequest
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	amount, err := money(in.Amount, in.Currency)
	if err != nil {
		return 0, nil, err
	}
	req := payment.StartRequest{
		MerchantReference: in.MerchantReference, Kind: kindOf(in.Kind), Amount: amount,
		EndUser:    toEndUser(in.EndUser),
		ReturnURLs: paywire.ReturnURLs(in.ReturnURLs), PaymentMethod: paywire.Method(in.PaymentMethod), NotificationURL: in.NotificationURL,
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	if key == "" {
		key = "ref:" + in.MerchantReference
	}
	rd, err := h.Payments.Start(r.Context(), merchantOf(r.Context()).ID, key, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, message.RedirectJSON{PaymentID: rd.PaymentID, RedirectURL: rd.URL, HTTPMethod: rd.HTTPMethod,
		PostFields: postFields(rd.PostFields), ExpiresAt: timeText(rd.ExpiresAt)}, nil
}

func (h *Handler) createPayment(r *http.Request) (int, any, error) {
	var in message.CreatePaymentRequest
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	amount, err := money(in.Amount, in.Currency)
	if err != nil {
		return 0, nil, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	if key == "" {
		key = "ref:" + in.MerchantReference
	}
	p, err := h.Payments.Create(r.Context(), merchantOf(r.Context()).ID, key, payment.CreateRequest{
		MerchantReference: in.MerchantReference, Kind: kindOf(in.Kind), Amount: amount,
		EndUser:       toEndUser(in.EndUser),
		PaymentMethod: paywire.Method(in.PaymentMethod), SourcePaymentID: in.SourcePaymentID, NotificationURL: in.NotificationURL,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toPaymentJSON(p, nil), nil
}

func (h *Handler) getPayment(r *http.Request) (int, any, error) {
	d, err := h.Payments.Get(r.Context(), merchantOf(r.Context()).ID, chi.URLParam(r, "id"), "")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(d.Payment, d.Events), nil
}

func (h *Handler) capturePayment(r *http.Request) (int, any, error) {
	var in message.AmountJSON
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := h.Payments.Capture(r.Context(), merchantOf(r.Context()).ID, key, chi.URLParam(r, "id"), in.Amount)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(p, nil), nil
}

func (h *Handler) cancelPayment(r *http.Request) (int, any, error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := h.Payments.Cancel(r.Context(), merchantOf(r.Context()).ID, key, chi.URLParam(r, "id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(p, nil), nil
}

func (h *Handler) refundPayment(r *http.Request) (int, any, error) {
	var in message.AmountJSON
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := h.Payments.Refund(r.Context(), merchantOf(r.Context()).ID, key, chi.URLParam(r, "id"), in.Amount)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toPaymentJSON(p, nil), nil
}

func (h *Handler) paymentMethods(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	amount, err := money(q.Get("amount"), q.Get("currency"))
	if err != nil {
		return 0, nil, err
	}
	ms, err := h.Payments.AvailableMethods(r.Context(), merchantOf(r.Context()).ID, payment.MethodsRequest{
		Kind: kindOf(q.Get("kind")), Amount: amount, Country: q.Get("country"),
		Language: q.Get("language"), EndUserID: q.Get("endUserId"),
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, message.MethodsJSON{Methods: methodsJSON(ms, amount.Currency)}, nil
}

func methodsJSON(ms []engine.MethodOption, c paywire.Currency) []message.MethodJSON {
	out := make([]message.MethodJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, message.MethodJSON{Method: m.Method,
			MinAmount: paywire.Money{Amount: m.MinMinor, Currency: c}.Decimal(),
			MaxAmount: paywire.Money{Amount: m.MaxMinor, Currency: c}.Decimal()})
	}
	return out
}

// notifications lists the merchant's undelivered notifications of the
// last 30 days (status=undelivered is the only listing there is).
func (h *Handler) notifications(r *http.Request) (int, any, error) {
	if st := r.URL.Query().Get("status"); st != "" && st != "undelivered" {
		return 0, nil, paywire.Errorf(paywire.EINVALID, "status must be undelivered")
	}
	ns, err := h.Payments.Undelivered(r.Context(), merchantOf(r.Context()).ID, 500)
	if err != nil {
		return 0, nil, err
	}
	out := make([]message.NotificationJSON, 0, len(ns))
	for _, n := range ns {
		nj := message.NotificationJSON{ID: n.ID, EventID: n.EventID, PaymentID: n.PaymentID, SequenceNumber: n.Seq,
			Status: n.Status, Attempts: n.Attempts, LastError: n.LastError, CreatedAt: timeText(n.CreatedAt), Payload: n.Payload}
		if n.Status == paywire.OutboxPending {
			nj.NextAttemptAt = timeText(n.NextAttemptAt)
		}
		out = append(out, nj)
	}
	return http.StatusOK, message.NotificationsJSON{Notifications: out}, nil
}

func (h *Handler) resendNotification(r *http.Request) (int, any, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, paywire.Errorf(paywire.ENOTFOUND, "no such notification")
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return 0, nil, err
	}
	if err := h.Payments.Resend(r.Context(), merchantOf(r.Context()).ID, key, id); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, message.ResentJSON{ID: id, Status: paywire.OutboxPending}, nil
}
