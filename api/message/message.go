// Package message holds the messages of Paywire's merchant API as they
// travel: the request and response types of PaymentService (SOAP, and the
// JSON API under /api/v1), the handlePaymentStateChangedEvent message
// Paywire sends to a merchant's PaymentServiceListener, the namespaces and
// the SOAPAction prefixes. The server (package api), the notification sender
// (package notify) and merchants' Go clients share these types, so that
// each message is defined once. The package holds data and its encoding
// only: it must not serve, send or decide anything, and imports nothing of
// Paywire but what a client needs.
package message

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"time"
)

// The SOAP message types below mirror the XML Schema of the PaymentService
// WSDL (package api/wsdl) element for element, in schema order, so that
// what encoding/xml writes validates against it. Request types are named
// for the operation with a Request suffix; response types with a Response
// suffix. Where the JSON API takes the same message, the type carries json
// tags too; the JSON API's other bodies are the types whose names end in
// JSON, at the end of this file.
//
// Conventions:
//   - Every request and response element is in PaymentNamespace. Child
//     elements carry no namespace in their tags: when marshalled they
//     inherit the parent's default namespace (elementFormDefault
//     "qualified"); when unmarshalled they match in any namespace.
//   - Enumerations are the upper-case strings of the schema: kinds DEPOSIT
//     and WITHDRAWAL, states CREATED ... CHARGED_BACK, HTTP methods GET and
//     POST.
//   - Amounts are decimal strings in major units ("12.34"), parsed and
//     formatted by the caller against the currency's exponent
//     (paywire.ParseMoney), never floats.
//   - Times are DateTime values in SOAP, and RFC 3339 strings in the JSON
//     API's own bodies.
//   - An optional element is omitted when its field is empty. Where absent
//     and empty must differ, the field is a pointer.

// Namespaces of Paywire's SOAP services. PaymentNamespace is the target
// namespace of every message and type, the listener's included;
// ListenerNamespace is that of the listener's WSDL definitions.
const (
	PaymentNamespace  = "urn:paywire:payment:1"
	ListenerNamespace = "urn:paywire:listener:1"
)

// The SOAPAction of an operation is its namespace, '#' and its name, e.g.
// "urn:paywire:payment:1#getRedirectData".
const (
	PaymentActionPrefix  = PaymentNamespace + "#"
	ListenerActionPrefix = ListenerNamespace + "#"
)

// StateChangedAction is the SOAPAction of the listener's one operation,
// handlePaymentStateChangedEvent.
const StateChangedAction = ListenerActionPrefix + "handlePaymentStateChangedEvent"

// DateTime is an xs:dateTime. It is written in UTC with millisecond
// precision, "2026-03-01T12:00:00.000Z", which every client stack parses
// without loss (JavaScript dates stop at milliseconds). It reads any
// xs:dateTime that carries a time zone; one without is refused, because its
// instant would be a guess. The zero DateTime is refused when marshalling,
// so that a time nobody set is never published as year 1.
type DateTime struct{ time.Time }

// xsdDateTime is the layout DateTime writes.
const xsdDateTime = "2006-01-02T15:04:05.000Z07:00"

// MarshalText writes t in UTC with milliseconds.
func (t DateTime) MarshalText() ([]byte, error) {
	if t.IsZero() {
		return nil, errors.New("message: a DateTime was never set")
	}
	return []byte(t.UTC().Format(xsdDateTime)), nil
}

// UnmarshalText reads an xs:dateTime with a time zone ("Z" or "+01:00"),
// with or without fractional seconds, ignoring surrounding white space as
// the schema type does.
func (t *DateTime) UnmarshalText(b []byte) error {
	parsed, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return errors.New("message: not an xs:dateTime with a time zone")
	}
	t.Time = parsed
	return nil
}

// MarshalJSON writes t as a JSON string, as MarshalText does. Without it
// the embedded time.Time's MarshalJSON would write nanoseconds and the
// original zone, so that the same message read differently in JSON.
func (t DateTime) MarshalJSON() ([]byte, error) {
	b, err := t.MarshalText()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads a JSON string as UnmarshalText does; null leaves t
// unchanged, as encoding/json does for other types.
func (t *DateTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("message: a time must be a JSON string")
	}
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return errors.New("message: a time must be an RFC 3339 date-time with a time zone")
	}
	return nil
}

// EndUser is the merchant's customer a payment is for.
type EndUser struct {
	ID       string `xml:"id" json:"id"`
	Email    string `xml:"email,omitempty" json:"email,omitempty"`
	Country  string `xml:"country" json:"country"`                       // ISO 3166-1 alpha-2, upper case
	Language string `xml:"language,omitempty" json:"language,omitempty"` // BCP 47, e.g. "de-AT"
	IP       string `xml:"ip,omitempty" json:"ip,omitempty"`
	// What else the merchant knows of the end user, for the risk checks;
	// each is optional. They follow the fields above in the schema, so
	// that requests without them stay valid.
	DeviceID       string    `xml:"deviceId,omitempty" json:"deviceId,omitempty"`             // the merchant's device id or fingerprint, at most 128 characters
	BillingCountry string    `xml:"billingCountry,omitempty" json:"billingCountry,omitempty"` // ISO 3166-1 alpha-2, upper case
	RegisteredAt   *DateTime `xml:"registeredAt,omitempty" json:"registeredAt,omitempty"`     // when the end user registered with the merchant
}

// ReturnURLs are the merchant pages the end user goes back to, by outcome.
type ReturnURLs struct {
	Success string `xml:"success" json:"success"`
	Error   string `xml:"error" json:"error"`
	Cancel  string `xml:"cancel" json:"cancel"`
	Refused string `xml:"refused" json:"refused"`
	Pending string `xml:"pending" json:"pending"`
}

// PostField is one form field to post to a redirect URL.
type PostField struct {
	Name  string `xml:"name" json:"name"`
	Value string `xml:"value" json:"value"`
}

// PostFields wraps the form fields of a redirect. The wrapper is always
// written, empty for a GET redirect, as the schema requires.
type PostFields struct {
	Field []PostField `xml:"field"`
}

// Payment is a payment as merchants see it.
type Payment struct {
	PaymentID         string   `xml:"paymentId"`
	MerchantReference string   `xml:"merchantReference"`
	Kind              string   `xml:"kind"`
	State             string   `xml:"state"`
	Amount            string   `xml:"amount"`
	Currency          string   `xml:"currency"`
	CapturedAmount    string   `xml:"capturedAmount"`
	RefundedAmount    string   `xml:"refundedAmount"`
	PaymentMethod     string   `xml:"paymentMethod,omitempty"`
	Provider          string   `xml:"provider,omitempty"`
	CreatedAt         DateTime `xml:"createdAt"`
	UpdatedAt         DateTime `xml:"updatedAt"`
	Version           int64    `xml:"version"`
}

// Event is one state change in a payment's history.
type Event struct {
	SequenceNumber int64    `xml:"sequenceNumber"`
	PreviousState  string   `xml:"previousState,omitempty"` // empty for the creation event
	NewState       string   `xml:"newState"`
	Amount         string   `xml:"amount,omitempty"` // what a capture or refund moved
	Reason         string   `xml:"reason,omitempty"`
	OccurredAt     DateTime `xml:"occurredAt"`
}

// Events wraps a payment's history. The wrapper is always written.
type Events struct {
	Event []Event `xml:"event"`
}

// PaymentMethod is a payment method offered to an end user, with the
// amounts it takes.
type PaymentMethod struct {
	Name      string `xml:"name"`
	MinAmount string `xml:"minAmount"`
	MaxAmount string `xml:"maxAmount"`
}

// PaymentMethods wraps the methods on offer. The wrapper is always written,
// empty when no method is available.
type PaymentMethods struct {
	Method []PaymentMethod `xml:"method"`
}

// GetRedirectDataRequest starts a payment that the end user finishes on the
// hosted pages. It is also the body of POST /api/v1/payments.
type GetRedirectDataRequest struct {
	XMLName           xml.Name   `xml:"urn:paywire:payment:1 getRedirectData" json:"-"`
	MerchantReference string     `xml:"merchantReference" json:"merchantReference"`
	Kind              string     `xml:"kind" json:"kind"`
	Amount            string     `xml:"amount" json:"amount"`
	Currency          string     `xml:"currency" json:"currency"`
	EndUser           EndUser    `xml:"endUser" json:"endUser"`
	ReturnURLs        ReturnURLs `xml:"returnUrls" json:"returnUrls"`
	PaymentMethod     string     `xml:"paymentMethod,omitempty" json:"paymentMethod,omitempty"`
	NotificationURL   string     `xml:"notificationUrl,omitempty" json:"notificationUrl,omitempty"`
}

// GetRedirectDataResponse says where to send the end user, and how.
type GetRedirectDataResponse struct {
	XMLName     xml.Name   `xml:"urn:paywire:payment:1 getRedirectDataResponse"`
	PaymentID   string     `xml:"paymentId"`
	RedirectURL string     `xml:"redirectUrl"`
	HTTPMethod  string     `xml:"httpMethod"`
	PostFields  PostFields `xml:"postFields"`
	ExpiresAt   DateTime   `xml:"expiresAt"`
}

// CreatePaymentRequest starts a payment from the merchant's backend. It is
// also the body of POST /api/v1/backend-payments.
type CreatePaymentRequest struct {
	XMLName           xml.Name `xml:"urn:paywire:payment:1 createPayment" json:"-"`
	MerchantReference string   `xml:"merchantReference" json:"merchantReference"`
	Kind              string   `xml:"kind" json:"kind"`
	Amount            string   `xml:"amount" json:"amount"`
	Currency          string   `xml:"currency" json:"currency"`
	EndUser           EndUser  `xml:"endUser" json:"endUser"`
	PaymentMethod     string   `xml:"paymentMethod" json:"paymentMethod"`
	// SourcePaymentID names an earlier payment of the same end user whose
	// payment method is reused, e.g. the deposit whose card a withdrawal
	// pays out to.
	SourcePaymentID string `xml:"sourcePaymentId,omitempty" json:"sourcePaymentId,omitempty"`
	NotificationURL string `xml:"notificationUrl,omitempty" json:"notificationUrl,omitempty"`
}

// CreatePaymentResponse returns the created payment.
type CreatePaymentResponse struct {
	XMLName xml.Name `xml:"urn:paywire:payment:1 createPaymentResponse"`
	Payment Payment  `xml:"payment"`
}

// CapturePaymentRequest captures an authorized payment.
type CapturePaymentRequest struct {
	XMLName   xml.Name `xml:"urn:paywire:payment:1 capturePayment"`
	PaymentID string   `xml:"paymentId"`
	// Amount is nil when the element is absent, which captures the whole
	// authorized amount. A present but empty element is not a full capture
	// but a malformed amount, which is why this field is a pointer.
	Amount *string `xml:"amount"`
}

// CapturePaymentResponse returns the payment after the capture.
type CapturePaymentResponse struct {
	XMLName xml.Name `xml:"urn:paywire:payment:1 capturePaymentResponse"`
	Payment Payment  `xml:"payment"`
}

// CancelPaymentRequest cancels a payment that has not completed.
type CancelPaymentRequest struct {
	XMLName   xml.Name `xml:"urn:paywire:payment:1 cancelPayment"`
	PaymentID string   `xml:"paymentId"`
}

// CancelPaymentResponse returns the payment after the cancellation.
type CancelPaymentResponse struct {
	XMLName xml.Name `xml:"urn:paywire:payment:1 cancelPaymentResponse"`
	Payment Payment  `xml:"payment"`
}

// RefundPaymentRequest refunds part or all of a captured payment.
type RefundPaymentRequest struct {
	XMLName   xml.Name `xml:"urn:paywire:payment:1 refundPayment"`
	PaymentID string   `xml:"paymentId"`
	Amount    string   `xml:"amount"`
	// RefundReference is the merchant's reference of the refund; a retry
	// with the same reference must not refund twice.
	RefundReference string `xml:"refundReference,omitempty"`
}

// RefundPaymentResponse returns the payment after the refund.
type RefundPaymentResponse struct {
	XMLName xml.Name `xml:"urn:paywire:payment:1 refundPaymentResponse"`
	Payment Payment  `xml:"payment"`
}

// GetPaymentDetailsRequest finds a payment by Paywire's id or by the
// merchant's reference. The schema makes them a choice: exactly one must be
// set, which the handler checks.
type GetPaymentDetailsRequest struct {
	XMLName           xml.Name `xml:"urn:paywire:payment:1 getPaymentDetails"`
	PaymentID         string   `xml:"paymentId,omitempty"`
	MerchantReference string   `xml:"merchantReference,omitempty"`
}

// GetPaymentDetailsResponse returns a payment with its history.
type GetPaymentDetailsResponse struct {
	XMLName xml.Name `xml:"urn:paywire:payment:1 getPaymentDetailsResponse"`
	Payment Payment  `xml:"payment"`
	Events  Events   `xml:"events"`
}

// GetAvailablePaymentMethodsRequest asks which payment methods an end user
// may use for a payment.
type GetAvailablePaymentMethodsRequest struct {
	XMLName   xml.Name `xml:"urn:paywire:payment:1 getAvailablePaymentMethods"`
	Kind      string   `xml:"kind"`
	Amount    string   `xml:"amount"`
	Currency  string   `xml:"currency"`
	Country   string   `xml:"country"`
	Language  string   `xml:"language,omitempty"`
	EndUserID string   `xml:"endUserId,omitempty"`
}

// GetAvailablePaymentMethodsResponse lists the methods on offer.
type GetAvailablePaymentMethodsResponse struct {
	XMLName xml.Name       `xml:"urn:paywire:payment:1 getAvailablePaymentMethodsResponse"`
	Methods PaymentMethods `xml:"methods"`
}

// HandlePaymentStateChangedEventRequest is what Paywire sends to a
// merchant's PaymentServiceListener when a payment changes state, with
// SOAPAction StateChangedAction. A merchant that takes JSON webhooks gets
// the same fields as a JSON object, with the same values.
type HandlePaymentStateChangedEventRequest struct {
	XMLName           xml.Name `xml:"urn:paywire:payment:1 handlePaymentStateChangedEvent" json:"-"`
	EventID           string   `xml:"eventId" json:"eventId"`
	PaymentID         string   `xml:"paymentId" json:"paymentId"`
	MerchantReference string   `xml:"merchantReference" json:"merchantReference"`
	PreviousState     string   `xml:"previousState,omitempty" json:"previousState,omitempty"` // empty for the creation
	NewState          string   `xml:"newState" json:"newState"`
	Amount            string   `xml:"amount" json:"amount"` // the payment's amount
	Currency          string   `xml:"currency" json:"currency"`
	SequenceNumber    int64    `xml:"sequenceNumber" json:"sequenceNumber"`
	OccurredAt        DateTime `xml:"occurredAt" json:"occurredAt"`
}

// HandlePaymentStateChangedEventResponse is the merchant's answer. An
// absent or true Acknowledged means the event is handled; false asks for it
// again later.
type HandlePaymentStateChangedEventResponse struct {
	XMLName      xml.Name `xml:"urn:paywire:payment:1 handlePaymentStateChangedEventResponse"`
	Acknowledged *bool    `xml:"acknowledged,omitempty"`
}

// The JSON API's own bodies: where the JSON API answers differently from
// SOAP (postFields and events without a wrapper, times in RFC 3339 to the
// second), it has types of its own, named for what they carry with the
// suffix JSON. api/openapi.json describes each.

// RedirectJSON answers POST /api/v1/payments: where to send the end user,
// and how.
type RedirectJSON struct {
	PaymentID   string      `json:"paymentId"`
	RedirectURL string      `json:"redirectUrl"`
	HTTPMethod  string      `json:"httpMethod"`
	PostFields  []PostField `json:"postFields"`
	ExpiresAt   string      `json:"expiresAt"`
}

// EventJSON is one state change in a payment's history.
type EventJSON struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	PreviousState  string `json:"previousState,omitempty"` // empty for the creation event
	NewState       string `json:"newState"`
	Amount         string `json:"amount,omitempty"` // what a capture or refund moved
	Reason         string `json:"reason,omitempty"`
	OccurredAt     string `json:"occurredAt"`
}

// PaymentJSON is a payment as the JSON API returns it; only
// GET /api/v1/payments/{id} includes its history.
type PaymentJSON struct {
	PaymentID         string      `json:"paymentId"`
	MerchantReference string      `json:"merchantReference"`
	Kind              string      `json:"kind"`
	State             string      `json:"state"`
	Amount            string      `json:"amount"`
	Currency          string      `json:"currency"`
	CapturedAmount    string      `json:"capturedAmount"`
	RefundedAmount    string      `json:"refundedAmount"`
	PaymentMethod     string      `json:"paymentMethod,omitempty"`
	Provider          string      `json:"provider,omitempty"`
	CreatedAt         string      `json:"createdAt"`
	UpdatedAt         string      `json:"updatedAt"`
	Version           int64       `json:"version"`
	Events            []EventJSON `json:"events,omitempty"`
}

// AmountJSON is the body of a capture (optional: without an amount the
// whole authorization is captured) and of a refund.
type AmountJSON struct {
	Amount string `json:"amount,omitempty"`
}

// MethodJSON is a payment method offered to an end user, with the amounts
// it takes.
type MethodJSON struct {
	Method    string `json:"method"`
	MinAmount string `json:"minAmount"`
	MaxAmount string `json:"maxAmount"`
}

// MethodsJSON answers GET /api/v1/payment-methods; Methods is empty, never
// null, when no method is available.
type MethodsJSON struct {
	Methods []MethodJSON `json:"methods"`
}

// NotificationJSON is a notification Paywire has not delivered yet, with
// the payload it keeps sending.
type NotificationJSON struct {
	ID             int64           `json:"id"`
	EventID        string          `json:"eventId"`
	PaymentID      string          `json:"paymentId"`
	SequenceNumber int64           `json:"sequenceNumber"`
	Status         string          `json:"status"` // pending or dead
	Attempts       int             `json:"attempts"`
	LastError      string          `json:"lastError,omitempty"`
	NextAttemptAt  string          `json:"nextAttemptAt,omitempty"` // for a pending one
	CreatedAt      string          `json:"createdAt"`
	Payload        json.RawMessage `json:"payload"`
}

// NotificationsJSON answers GET /api/v1/notifications.
type NotificationsJSON struct {
	Notifications []NotificationJSON `json:"notifications"`
}

// ResentJSON answers POST /api/v1/notifications/{id}/resend: the
// notification is pending again.
type ResentJSON struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// ErrorJSON is the body of every JSON error: a stable code to branch on
// and a message for people.
type ErrorJSON struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"requestId,omitempty"` // the Request-Id response header
	} `json:"error"`
}
