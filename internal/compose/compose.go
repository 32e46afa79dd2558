// Package compose composes the subgraph schemas listed in router-config/subgraphs.yaml into the
// Cosmo router's execution configuration (router-config/config.json).
package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"
	composition "github.com/wundergraph/cosmo/composition-go"
	"github.com/wundergraph/cosmo/router/pkg/execution_config"

	"github.com/careslot/careslot/internal/config"
)

const (
	// SubgraphsFile is the subgraph list, relative to the repository root.
	SubgraphsFile = "router-config/subgraphs.yaml"
	// ConfigFile is the composed execution configuration, relative to the repository root.
	ConfigFile = "router-config/config.json"

	subscriptionProtocolWS        = "GRAPHQL_SUBSCRIPTION_PROTOCOL_WS"
	websocketSubprotocolTransport = "GRAPHQL_WEBSOCKET_SUBPROTOCOL_TRANSPORT_WS"
)

// Subgraph is one entry of router-config/subgraphs.yaml.
type Subgraph struct {
	// Name is the subgraph's name; the router's per-subgraph overrides use it.
	Name string `yaml:"name"`
	// RoutingURL is where the router sends queries and mutations (http://host:port/graphql).
	RoutingURL string `yaml:"routing_url"`
	// SubscriptionURL is where the router opens subscriptions (ws://host:port/graphql). When
	// empty it is RoutingURL with the scheme http→ws, https→wss.
	SubscriptionURL string `yaml:"subscription_url,omitempty"`
	// Schema is the path of the subgraph's federation-v2 SDL, relative to the repository root.
	Schema string `yaml:"schema"`
}

// List is the content of router-config/subgraphs.yaml.
type List struct {
	Subgraphs []Subgraph `yaml:"subgraphs"`
}

// LoadList reads and validates router-config/subgraphs.yaml under dir.
func LoadList(dir string) (List, error) {
	path := filepath.Join(dir, filepath.FromSlash(SubgraphsFile))
	raw, err := os.ReadFile(path)
	if err != nil {
		return List{}, fmt.Errorf("compose: read subgraph list: %w", err)
	}
	var list List
	if err := yaml.UnmarshalWithOptions(raw, &list, yaml.Strict()); err != nil {
		return List{}, fmt.Errorf("compose: parse %s: %w", SubgraphsFile, err)
	}
	if len(list.Subgraphs) == 0 {
		return List{}, fmt.Errorf("compose: %s lists no subgraphs", SubgraphsFile)
	}
	seen := make(map[string]bool, len(list.Subgraphs))
	for i := range list.Subgraphs {
		sg := &list.Subgraphs[i]
		if sg.Name == "" {
			return List{}, fmt.Errorf("compose: %s: subgraph #%d has no name", SubgraphsFile, i+1)
		}
		if seen[sg.Name] {
			return List{}, fmt.Errorf("compose: %s: subgraph %q listed twice", SubgraphsFile, sg.Name)
		}
		seen[sg.Name] = true
		if err := config.CheckURL(sg.RoutingURL, "http", "https"); err != nil {
			return List{}, fmt.Errorf("compose: subgraph %q: routing_url: %w", sg.Name, err)
		}
		if sg.SubscriptionURL == "" {
			sg.SubscriptionURL = config.WebSocketURL(sg.RoutingURL)
		}
		if err := config.CheckURL(sg.SubscriptionURL, "ws", "wss"); err != nil {
			return List{}, fmt.Errorf("compose: subgraph %q: subscription_url: %w", sg.Name, err)
		}
		if sg.Schema == "" {
			return List{}, fmt.Errorf("compose: subgraph %q: no schema path", sg.Name)
		}
		if filepath.IsAbs(sg.Schema) {
			return List{}, fmt.Errorf("compose: subgraph %q: schema path %q must be relative to the repository root", sg.Name, sg.Schema)
		}
	}
	return list, nil
}

// Compose reads router-config/subgraphs.yaml under dir (the repository root), composes the listed
// schemas (federation v2) and returns the router execution configuration: pretty-printed JSON with
// a trailing newline, byte-identical for identical input. Every subgraph subscribes over WebSocket
// with the graphql-transport-ws subprotocol. A listed schema file that is missing or empty is an
// error (composition-go would otherwise fetch the schema from the subgraph's URL).
func Compose(dir string) ([]byte, error) {
	list, err := LoadList(dir)
	if err != nil {
		return nil, err
	}
	subgraphs := make([]*composition.Subgraph, 0, len(list.Subgraphs))
	for _, sg := range list.Subgraphs {
		path := filepath.Join(dir, filepath.FromSlash(sg.Schema))
		sdl, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("compose: subgraph %q: schema file %s does not exist", sg.Name, sg.Schema)
			}
			return nil, fmt.Errorf("compose: subgraph %q: %w", sg.Name, err)
		}
		if len(bytes.TrimSpace(sdl)) == 0 {
			return nil, fmt.Errorf("compose: subgraph %q: schema file %s is empty", sg.Name, sg.Schema)
		}
		subgraphs = append(subgraphs, &composition.Subgraph{
			Name:                 sg.Name,
			URL:                  sg.RoutingURL,
			Schema:               string(sdl),
			SubscriptionURL:      sg.SubscriptionURL,
			SubscriptionProtocol: "ws",
		})
	}
	out, err := composition.BuildRouterConfiguration(subgraphs...)
	if err != nil {
		return nil, fmt.Errorf("compose: composition failed: %w", err)
	}
	return finish([]byte(out), len(subgraphs))
}

// finish sets the WebSocket subprotocol of every datasource, stamps a content-derived version and
// re-encodes the configuration deterministically (sorted keys, two-space indent).
func finish(raw []byte, wantDatasources int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("compose: decode composed configuration: %w", err)
	}
	engine, _ := root["engineConfig"].(map[string]any)
	if engine == nil {
		return nil, errors.New("compose: composed configuration has no engineConfig")
	}
	datasources, _ := engine["datasourceConfigurations"].([]any)
	if len(datasources) != wantDatasources {
		return nil, fmt.Errorf("compose: composed configuration has %d datasources, want %d", len(datasources), wantDatasources)
	}
	for i, ds := range datasources {
		dsm, _ := ds.(map[string]any)
		custom, _ := dsm["customGraphql"].(map[string]any)
		if custom == nil {
			return nil, fmt.Errorf("compose: datasource #%d has no customGraphql", i)
		}
		sub, _ := custom["subscription"].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			custom["subscription"] = sub
		}
		sub["protocol"] = subscriptionProtocolWS
		sub["websocketSubprotocol"] = websocketSubprotocolTransport
	}

	delete(root, "version")
	body, err := encode(root)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	root["version"] = hex.EncodeToString(sum[:8])
	body, err = encode(root)
	if err != nil {
		return nil, err
	}
	// The router must be able to load what we write.
	if _, err := execution_config.UnmarshalConfig(body); err != nil {
		return nil, fmt.Errorf("compose: the router cannot read the composed configuration: %w", err)
	}
	return body, nil
}

func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // Encode ends with a newline
		return nil, fmt.Errorf("compose: encode configuration: %w", err)
	}
	return buf.Bytes(), nil
}

// Write composes the configuration for the repository at repoRoot and writes
// router-config/config.json, leaving the file untouched when it is already up to date.
func Write(repoRoot string) error {
	out, err := Compose(repoRoot)
	if err != nil {
		return err
	}
	path := filepath.Join(repoRoot, filepath.FromSlash(ConfigFile))
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, out) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("compose: write %s: %w", ConfigFile, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("compose: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("compose: write %s: %w", ConfigFile, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("compose: write %s: %w", ConfigFile, err)
	}
	return nil
}
