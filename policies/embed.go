package policies

import "embed"

// FS holds the default bundle's manifest, Rego modules (with their tests)
// and data documents, as the bundle's root.
//
//go:embed .manifest *.rego paywire
var FS embed.FS
