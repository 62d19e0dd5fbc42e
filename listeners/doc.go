// Package listeners will serve ProviderListeners: provider webhooks (with
// the signature verified over the raw body and duplicates dropped) and end
// users returning from provider sites, whose outcome it confirms server-side
// before sending them on to the merchant. It calls the payment use cases;
// it never imports another transport.
package listeners
