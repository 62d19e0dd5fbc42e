package rules

import "embed"

// FS holds the default bundle's expr rules, one data file per decision
// point; the bundle mounts it under rules/.
//
//go:embed */data.yaml
var FS embed.FS
