// Package adapters defines the provider capability interfaces (capture,
// cancel, refund so far; authorize, payout, status query, webhook verify and
// parse, settlement report parse follow with the hosted payment flow), which
// each provider implements as far as it can, and the registry of configured
// providers. One subpackage per provider holds its request and response
// mapping. Adapters move money; they never decide routing or risk.
package adapters
