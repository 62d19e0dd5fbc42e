// Package engine is Paywire's decision engine. It owns the four decision
// points — availability (which methods a user sees), risk (score, action and
// reasons), routing (ordered providers, A/B arms) and workflow (the next
// state and actions for an event) — each a method with typed input and
// output; the reading, signing and verification, compiling, caching and
// atomic activation of policy bundles (OPA Rego plus expr rules); and the
// decision records stored for every answer. It decides; it never changes a
// payment itself, and it never overrides the domain's transition table.
package engine
