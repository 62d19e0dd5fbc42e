// Package portal serves RedirectPayments, the hosted payment pages under
// /pay: the end user arrives with a signed token posted by the merchant's
// site, picks a payment method, enters card, bank or e-wallet details, and
// leaves for the provider's page or the merchant's Success, Error, Cancel,
// Refused or Pending page. The pages are server-rendered HTML with plain
// forms and no scripts; one embedded stylesheet is the only asset. The
// package owns the pages, their translations and their security headers.
// It must not keep card data: a card number and security code live in
// memory for one request, from the form to payment use cases behind the
// Checkouts interface, and are never logged, stored or written back into a
// page. It decides nothing about payments itself and never imports another
// transport.
package portal
