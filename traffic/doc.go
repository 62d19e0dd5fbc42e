// Package traffic drives Paywire from the outside, as merchants and their
// end users do: a merchant starts payments over the JSON API or SOAP
// getRedirectData (a quarter with its customer's method, passed on only
// when GET /api/v1/payment-methods offers it), reads and captures them; an end user's browser posts the
// redirect's form to the hosted pages, chooses a method, fills in the card,
// bank or e-wallet form, answers the provider's page (the sandbox's 3-D
// Secure challenge or bank login) and comes back to the merchant. Every
// HTTP exchange of a flow is timed, so that a load generator can reuse the
// same calls. Simulation runs many such flows at a chosen rate with a mix
// of end users, methods, amounts and test cards (`paywire simulate`); Load
// keeps a node as busy as a number of clients can with starts or whole
// flows for a measured period and reports throughput, failures and latency
// percentiles (`paywire loadgen`).
//
// It is a client: it speaks only the wire formats (package api/message and
// api/soap) and reads the pages as a browser would, and must not import the
// server's packages (payment, store, engine, portal).
package traffic
