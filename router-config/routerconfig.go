// Package routerconfig holds the edge router's committed settings (router.yaml for the Cosmo
// router, edge.yaml for Careslot's own edge controls), embedded so the router runs from any
// working directory. The subgraph list (subgraphs.yaml) and the composed execution configuration
// (config.json) in this directory are read from disk by internal/compose and internal/router.
package routerconfig

import _ "embed"

// RouterYAML is router.yaml: the router's static settings.
//
//go:embed router.yaml
var RouterYAML []byte

// EdgeYAML is edge.yaml: rate limits, trusted proxies and WebSocket limits (internal/router/edge).
//
//go:embed edge.yaml
var EdgeYAML []byte
