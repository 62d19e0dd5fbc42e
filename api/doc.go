// Package api will serve PaymentService, the merchant API: SOAP with its
// WSDL (getRedirectData, createPayment, capture, cancel, refund, payment
// details, available methods) and the same operations as JSON under
// /api/v1, with merchant authentication, tenant isolation and
// idempotency. It calls the payment use cases and the engine; it never
// imports another transport.
package api
