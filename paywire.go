// Package paywire is the domain of the Paywire payment service: money and
// currencies, payments and their legal state transitions, the append-only
// event history, merchants, the error type with its codes, and the interfaces
// that the storage, engine and adapter packages implement.
//
// It imports only the standard library. Rules enforced here (the transition
// table, captured <= authorized, refunded <= captured) hold whatever a policy
// decides; no other package may override them.
package paywire
