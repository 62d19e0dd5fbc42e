// Package rules will hold the expr rules of the default policy bundle, as
// data files with their test cases, embedded into the binary so that they
// travel in the same signed bundle as the Rego policies. It holds no Go
// logic beyond the embedding.
package rules
