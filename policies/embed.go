package policies

import "embed"

// FS holds the default bundle's manifest, Rego modules (with their tests),
// data documents and decision cases (cases/<point>/<set>/data.yaml: inputs
// with the decisions they must give, which `paywire policy test` decides),
// as the bundle's root.
//
//go:embed .manifest *.rego paywire cases
var FS embed.FS
