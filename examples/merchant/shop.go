// Package merchant is a demo merchant shop that integrates Paywire the way
// a merchant does (docs/integration.md): its product page asks for the
// available payment methods and starts payments with getRedirectData over
// SOAP, its PaymentMethodSelection page lets the customer choose, it sends
// the customer to Paywire's pages, its Success / Error / Cancel / Refused /
// Pending pages verify the signed result and confirm it with
// getPaymentDetails, and its PaymentServiceListener endpoint keeps the
// notifications it receives. `paywire serve --demo` serves it under /shop/;
// cmd/shop runs it on its own.
package merchant

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
)

//go:embed templates/*.html templates/shop.css
var files embed.FS

var pages = template.Must(template.ParseFS(files, "templates/*.html"))

// Shop is the demo merchant.
type Shop struct {
	// PaywireURL is Paywire's base URL (the SOAP endpoint is
	// PaywireURL + "/soap/PaymentService").
	PaywireURL string
	// BaseURL is the shop's own public base URL, without a trailing slash;
	// its result pages are under it.
	BaseURL       string
	MerchantID    string
	Secret        string // the merchant's API secret
	SigningSecret string // verifies the result parameters on return
	Client        *http.Client
	Logger        *slog.Logger

	mu            sync.Mutex
	notifications []Notification
}

// Notification is one handlePaymentStateChangedEvent the shop received.
type Notification struct {
	ReceivedAt time.Time
	Event      message.HandlePaymentStateChangedEventRequest
}

// Product is what the shop sells.
type Product struct {
	Name     string
	Amount   string
	Currency string
}

var product = Product{Name: "Paywire T-shirt", Amount: "25.00", Currency: "EUR"}

// Handler serves the shop. It expects its paths without the prefix it is
// mounted at (use http.StripPrefix).
func (s *Shop) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /shop.css", s.css)
	mux.HandleFunc("POST /methods", s.methods)
	mux.HandleFunc("POST /checkout", s.checkout)
	for _, page := range []string{"success", "error", "cancel", "refused", "pending"} {
		mux.HandleFunc("GET /"+page, s.result(page))
	}
	mux.HandleFunc("POST /listener", s.listener)
	mux.HandleFunc("GET /notifications", s.showNotifications)
	return secure(mux)
}

// secure sets the headers every shop page carries: no scripts anywhere, and
// forms may post to the shop and to Paywire.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		next.ServeHTTP(w, r)
	})
}

func (s *Shop) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Shop) render(w http.ResponseWriter, code int, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self' "+s.PaywireURL+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	if data == nil {
		data = map[string]any{}
	}
	data["Base"] = s.BaseURL
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.logger().Error("rendering a shop page", "page", name, "error", err)
	}
}

func (s *Shop) css(w http.ResponseWriter, r *http.Request) {
	b, _ := files.ReadFile("templates/shop.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(b)
}

func (s *Shop) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "home.html", map[string]any{"Product": product})
}

// methods is the PaymentMethodSelection page: the methods Paywire offers
// for this customer, from getAvailablePaymentMethods.
func (s *Shop) methods(w http.ResponseWriter, r *http.Request) {
	country, lang := r.FormValue("country"), r.FormValue("language")
	var out message.GetAvailablePaymentMethodsResponse
	err := s.call(r.Context(), "getAvailablePaymentMethods", message.GetAvailablePaymentMethodsRequest{
		Kind: "DEPOSIT", Amount: product.Amount, Currency: product.Currency, Country: country, Language: lang,
	}, &out)
	if err != nil {
		s.failure(w, err)
		return
	}
	s.render(w, http.StatusOK, "methods.html", map[string]any{
		"Product": product, "Country": country, "Language": lang, "Methods": out.Methods.Method,
	})
}

// checkout starts the payment with getRedirectData and shows the form that
// takes the customer to Paywire.
func (s *Shop) checkout(w http.ResponseWriter, r *http.Request) {
	order := "order-" + randomHex(6)
	var out message.GetRedirectDataResponse
	err := s.call(r.Context(), "getRedirectData", message.GetRedirectDataRequest{
		MerchantReference: order, Kind: "DEPOSIT", Amount: product.Amount, Currency: product.Currency,
		EndUser: message.EndUser{ID: "customer-" + r.FormValue("country"), Email: "customer@example.com",
			Country: r.FormValue("country"), Language: r.FormValue("language")},
		ReturnURLs: message.ReturnURLs{Success: s.BaseURL + "/success", Error: s.BaseURL + "/error",
			Cancel: s.BaseURL + "/cancel", Refused: s.BaseURL + "/refused", Pending: s.BaseURL + "/pending"},
		PaymentMethod:   r.FormValue("method"),
		NotificationURL: s.BaseURL + "/listener",
	}, &out)
	if err != nil {
		s.failure(w, err)
		return
	}
	s.render(w, http.StatusOK, "redirect.html", map[string]any{"Order": order, "Redirect": out})
}

// result is one of the merchant's result pages. It checks the signature of
// the parameters, then asks Paywire for the payment, as the integration
// manual says: never trust query parameters alone.
func (s *Shop) result(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id, ref, state, t, sig := q.Get("paymentId"), q.Get("merchantReference"), q.Get("state"), q.Get("t"), q.Get("signature")
		if !s.validSignature(id, ref, state, t, sig) {
			s.render(w, http.StatusBadRequest, "result.html", map[string]any{"Page": page, "Invalid": true})
			return
		}
		var out message.GetPaymentDetailsResponse
		if err := s.call(r.Context(), "getPaymentDetails", message.GetPaymentDetailsRequest{PaymentID: id}, &out); err != nil {
			s.failure(w, err)
			return
		}
		s.render(w, http.StatusOK, "result.html", map[string]any{"Page": page, "Payment": out.Payment, "Events": out.Events.Event})
	}
}

// validSignature checks result parameters signed with the merchant's
// signing secret: hex HMAC-SHA256 of "t.paymentId.merchantReference.state".
func (s *Shop) validSignature(id, ref, state, t, sig string) bool {
	if id == "" || t == "" || sig == "" {
		return false
	}
	if ts, err := strconv.ParseInt(t, 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Hour {
		return false
	}
	mac := hmac.New(sha256.New, []byte(s.SigningSecret))
	mac.Write([]byte(t + "." + id + "." + ref + "." + state))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

// listener is the shop's PaymentServiceListener: it answers
// handlePaymentStateChangedEvent and keeps what it received.
func (s *Shop) listener(w http.ResponseWriter, r *http.Request) {
	req, err := soap.Decode(r.Body, 0)
	if err != nil {
		var se *soap.Error
		if errors.As(err, &se) {
			_ = soap.WriteFault(w, se.Version, se.Fault())
			return
		}
		_ = soap.WriteFault(w, soap.V11, soap.Fault{Code: "MALFORMED_REQUEST", Message: "not a SOAP request", Client: true})
		return
	}
	var ev message.HandlePaymentStateChangedEventRequest
	if req.Name.Local != "handlePaymentStateChangedEvent" || xml.Unmarshal(req.Body, &ev) != nil {
		_ = soap.WriteFault(w, req.Version, soap.Fault{Code: "UNKNOWN_OPERATION", Message: "this listener handles handlePaymentStateChangedEvent", Client: true})
		return
	}
	s.mu.Lock()
	s.notifications = append(s.notifications, Notification{ReceivedAt: time.Now().UTC(), Event: ev})
	s.mu.Unlock()
	yes := true
	_ = soap.WriteResponse(w, req.Version, message.HandlePaymentStateChangedEventResponse{Acknowledged: &yes})
}

// Notifications returns what the listener received, oldest first.
func (s *Shop) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.notifications...)
}

func (s *Shop) showNotifications(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "notifications.html", map[string]any{"Notifications": s.Notifications()})
}

func (s *Shop) failure(w http.ResponseWriter, err error) {
	s.logger().Warn("a Paywire call failed", "error", err)
	s.render(w, http.StatusBadGateway, "failure.html", map[string]any{"Error": err.Error()})
}

// call sends one SOAP 1.1 request with WS-Security and decodes the answer;
// a fault is a *soap.FaultError.
func (s *Shop) call(ctx context.Context, op string, in, out any) error {
	return soap.Call(ctx, s.Client, s.PaywireURL+"/soap/PaymentService", message.PaymentActionPrefix+op, s.MerchantID, s.Secret, in, out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
