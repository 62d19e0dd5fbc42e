// Package rules holds the expr rules of the default policy bundle, as data
// files, embedded into the binary so that they travel in the same bundle,
// under the same signature, as the Rego policies. It holds no Go logic
// beyond the embedding.
package rules
