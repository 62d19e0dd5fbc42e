package api

import (
	"encoding/xml"
	"errors"
	"strings"
	"time"
)

// The message types below mirror the XML Schema of the PaymentService WSDL
// (package api/wsdl) element for element, in schema order, so that what
// encoding/xml writes validates against it. Request types are named for the
// operation with a Request suffix; response types with a Response suffix.
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
//   - Times are DateTime values.
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
		return nil, errors.New("api: a DateTime was never set")
	}
	return []byte(t.UTC().Format(xsdDateTime)), nil
}

// UnmarshalText reads an xs:dateTime with a time zone ("Z" or "+01:00"),
// with or without fractional seconds, ignoring surrounding white space as
// the schema type does.
func (t *DateTime) UnmarshalText(b []byte) error {
	parsed, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return errors.New("api: not an xs:dateTime with a time zone")
	}
	t.Time = parsed
	return nil
}

// EndUser is the merchant's customer a payment is for.
type EndUser struct {
	ID       string `xml:"id"`
	Email    string `xml:"email,omitempty"`
	Country  string `xml:"country"`            // ISO 3166-1 alpha-2, upper case
	Language string `xml:"language,omitempty"` // BCP 47, e.g. "de-AT"
	IP       string `xml:"ip,omitempty"`
}

// ReturnURLs are the merchant pages the end user goes back to, by outcome.
type ReturnURLs struct {
	Success string `xml:"success"`
	Error   string `xml:"error"`
	Cancel  string `xml:"cancel"`
	Refused string `xml:"refused"`
	Pending string `xml:"pending"`
}

// PostField is one form field to post to a redirect URL.
type PostField struct {
	Name  string `xml:"name"`
	Value string `xml:"value"`
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
// hosted pages.
type GetRedirectDataRequest struct {
	XMLName           xml.Name   `xml:"urn:paywire:payment:1 getRedirectData"`
	MerchantReference string     `xml:"merchantReference"`
	Kind              string     `xml:"kind"`
	Amount            string     `xml:"amount"`
	Currency          string     `xml:"currency"`
	EndUser           EndUser    `xml:"endUser"`
	ReturnURLs        ReturnURLs `xml:"returnUrls"`
	PaymentMethod     string     `xml:"paymentMethod,omitempty"`
	NotificationURL   string     `xml:"notificationUrl,omitempty"`
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

// CreatePaymentRequest starts a payment from the merchant's backend.
type CreatePaymentRequest struct {
	XMLName           xml.Name `xml:"urn:paywire:payment:1 createPayment"`
	MerchantReference string   `xml:"merchantReference"`
	Kind              string   `xml:"kind"`
	Amount            string   `xml:"amount"`
	Currency          string   `xml:"currency"`
	EndUser           EndUser  `xml:"endUser"`
	PaymentMethod     string   `xml:"paymentMethod"`
	// SourcePaymentID names an earlier payment of the same end user whose
	// payment method is reused, e.g. the deposit whose card a withdrawal
	// pays out to.
	SourcePaymentID string `xml:"sourcePaymentId,omitempty"`
	NotificationURL string `xml:"notificationUrl,omitempty"`
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
// SOAPAction ListenerActionPrefix + "handlePaymentStateChangedEvent".
type HandlePaymentStateChangedEventRequest struct {
	XMLName           xml.Name `xml:"urn:paywire:payment:1 handlePaymentStateChangedEvent"`
	EventID           string   `xml:"eventId"`
	PaymentID         string   `xml:"paymentId"`
	MerchantReference string   `xml:"merchantReference"`
	PreviousState     string   `xml:"previousState,omitempty"`
	NewState          string   `xml:"newState"`
	Amount            string   `xml:"amount"` // the payment's amount
	Currency          string   `xml:"currency"`
	SequenceNumber    int64    `xml:"sequenceNumber"`
	OccurredAt        DateTime `xml:"occurredAt"`
}

// HandlePaymentStateChangedEventResponse is the merchant's answer. An
// absent or true Acknowledged means the event is handled; false asks for it
// again later.
type HandlePaymentStateChangedEventResponse struct {
	XMLName      xml.Name `xml:"urn:paywire:payment:1 handlePaymentStateChangedEventResponse"`
	Acknowledged *bool    `xml:"acknowledged,omitempty"`
}
