// Package routerconfig holds the edge router's committed settings (router.yaml), embedded so the
// router runs from any working directory. The subgraph list (subgraphs.yaml) and the composed
// execution configuration (config.json) in this directory are read from disk by internal/compose
// and internal/router.
package routerconfig

import _ "embed"

// RouterYAML is router.yaml: the router's static settings.
//
//go:embed router.yaml
var RouterYAML []byte
