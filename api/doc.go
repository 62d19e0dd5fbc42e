// Package api serves PaymentService, the merchant API: SOAP 1.1 and 1.2
// with its WSDL (getRedirectData, createPayment, capturePayment,
// cancelPayment, refundPayment, getPaymentDetails,
// getAvailablePaymentMethods) and the same operations as JSON under /api/v1
// with an OpenAPI document, with merchant authentication (HTTP Basic or
// WS-Security UsernameToken), tenant isolation, idempotency and one table
// from error codes to HTTP statuses and SOAP fault codes. It calls the
// payment use cases; it never imports another transport. Its subpackages
// serve nothing, so that clients may import them: message holds the
// request and response types and namespaces, soap is the envelope codec,
// wsdl holds the WSDL documents.
package api
