// Package listeners serves ProviderListeners: providers' webhooks
// (signature verified over the raw body, events deduplicated by the
// provider's event id and applied through the payment use cases and the
// engine's workflow decision) and end users' returns from provider pages
// (3-D Secure, bank login), whose outcome is confirmed with the provider
// server-side before the end user is sent to the merchant's page.
package listeners
