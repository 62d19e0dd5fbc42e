// Package policies holds the Rego modules of the default policy bundle
// (data.paywire.availability, .risk, .routing and .workflow) with their
// _test.rego files, embedded into the binary. It holds no Go logic beyond
// the embedding.
package policies
