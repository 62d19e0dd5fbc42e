package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paywire/paywire/api/message"
	"github.com/paywire/paywire/api/soap"
)

// maxBody bounds every answer a client reads.
const maxBody = 1 << 20

// Merchant is a merchant's server talking to Paywire's merchant API with
// its credentials. Its methods are safe for concurrent use.
type Merchant struct {
	// BaseURL is Paywire's base URL ("http://127.0.0.1:8080").
	BaseURL string
	ID      string // the merchant id
	Secret  string // its API secret
	// HTTP sends the requests; nil is a client with a 30 s timeout.
	HTTP *http.Client
}

// APIError is an error answer of the JSON API: its status and the stable
// code and message of its body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Redirect is where a started payment sends the end user: a form of
// Fields posted to URL.
type Redirect struct {
	PaymentID string
	URL       string
	Method    string // POST
	Fields    url.Values
	ExpiresAt time.Time
}

func (m *Merchant) client() *http.Client {
	if m.HTTP != nil {
		return m.HTTP
	}
	return defaultClient
}

var defaultClient = &http.Client{Timeout: 30 * time.Second}

// StartJSON starts a payment with POST /api/v1/payments. key is the
// Idempotency-Key; empty uses the merchant reference, as the API does.
func (m *Merchant) StartJSON(ctx context.Context, req message.GetRedirectDataRequest, key string) (*Redirect, error) {
	var out message.RedirectJSON
	if err := m.do(ctx, http.MethodPost, "/api/v1/payments", key, req, &out); err != nil {
		return nil, err
	}
	r := &Redirect{PaymentID: out.PaymentID, URL: out.RedirectURL, Method: out.HTTPMethod, Fields: url.Values{}}
	for _, f := range out.PostFields {
		r.Fields.Add(f.Name, f.Value)
	}
	r.ExpiresAt, _ = time.Parse(time.RFC3339, out.ExpiresAt)
	return r, nil
}

// StartSOAP starts a payment with the SOAP operation getRedirectData,
// authenticated by a WS-Security UsernameToken. A fault is a
// *soap.FaultError.
func (m *Merchant) StartSOAP(ctx context.Context, req message.GetRedirectDataRequest) (*Redirect, error) {
	var out message.GetRedirectDataResponse
	if err := soap.Call(ctx, m.client(), m.endpoint("/soap/PaymentService"), message.PaymentActionPrefix+"getRedirectData",
		m.ID, m.Secret, req, &out); err != nil {
		return nil, err
	}
	r := &Redirect{PaymentID: out.PaymentID, URL: out.RedirectURL, Method: out.HTTPMethod, Fields: url.Values{}, ExpiresAt: out.ExpiresAt.Time}
	for _, f := range out.PostFields.Field {
		r.Fields.Add(f.Name, f.Value)
	}
	return r, nil
}

// Payment reads a payment with GET /api/v1/payments/{id}.
func (m *Merchant) Payment(ctx context.Context, id string) (*message.PaymentJSON, error) {
	var out message.PaymentJSON
	if err := m.do(ctx, http.MethodGet, "/api/v1/payments/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Methods lists the methods Paywire offers for a payment like req, with
// GET /api/v1/payment-methods, as a checkout that lets its customers
// choose does before it passes their choice on.
func (m *Merchant) Methods(ctx context.Context, req message.GetRedirectDataRequest) ([]string, error) {
	q := url.Values{"kind": {req.Kind}, "amount": {req.Amount}, "currency": {req.Currency},
		"country": {req.EndUser.Country}, "language": {req.EndUser.Language}, "endUserId": {req.EndUser.ID}}
	var out message.MethodsJSON
	if err := m.do(ctx, http.MethodGet, "/api/v1/payment-methods?"+q.Encode(), "", nil, &out); err != nil {
		return nil, err
	}
	ms := make([]string, len(out.Methods))
	for i, o := range out.Methods {
		ms[i] = o.Method
	}
	return ms, nil
}

// Capture captures an authorized payment in full with POST
// /api/v1/payments/{id}/capture under the idempotency key key.
func (m *Merchant) Capture(ctx context.Context, id, key string) (*message.PaymentJSON, error) {
	var out message.PaymentJSON
	if err := m.do(ctx, http.MethodPost, "/api/v1/payments/"+url.PathEscape(id)+"/capture", key, message.AmountJSON{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *Merchant) endpoint(path string) string { return strings.TrimRight(m.BaseURL, "/") + path }

// do sends one JSON API request and decodes its answer into out; an error
// answer is an *APIError.
func (m *Merchant) do(ctx context.Context, method, path, key string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.endpoint(path), body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(m.ID, m.Secret)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := m.client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e message.ErrorJSON
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return &APIError{Status: res.StatusCode, Code: "http_" + fmt.Sprint(res.StatusCode), Message: strings.TrimSpace(string(b[:min(len(b), 200)]))}
		}
		return &APIError{Status: res.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %v", method, path, err)
	}
	return nil
}
