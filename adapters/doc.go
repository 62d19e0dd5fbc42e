// Package adapters will define the provider capability interfaces
// (authorize, capture, cancel, refund, payout, status query, webhook verify
// and parse, settlement report parse), which each provider implements as far
// as it can; one subpackage per provider holds its request and response
// mapping, and adapters/sandbox is the built-in simulated provider. Adapters
// move money; they never decide routing or risk.
package adapters
