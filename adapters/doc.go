// Package adapters defines the provider capability interfaces — authorize,
// capture, void, refund, backend payments and payouts, status query,
// webhook verification and parsing, settlement report parsing — which each
// provider implements as far as it can (checked by type assertion), and the
// registry of configured providers. One subpackage per provider holds its
// mapping; adapters/sandbox is the built-in simulated provider. Adapters
// move money; they never decide routing or risk.
package adapters
