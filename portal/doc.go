// Package portal will serve RedirectPayments, the hosted pages under /pay/
// where the end user picks a method, enters details and is sent back to the
// merchant's Success, Error, Cancel, Refused or Pending page. Card numbers
// pass through it in memory only. It calls the payment use cases and the
// engine; it never imports another transport.
package portal
