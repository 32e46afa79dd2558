package compose

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const practitionerSDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])

type Query {
  practitioner(id: ID!): Practitioner
}

type Practitioner @key(fields: "id") {
  id: ID!
  name: String!
}
`

const availabilitySDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  slots(practitionerId: ID!): [Slot!]!
}

type Subscription {
  slotsChanged(practitionerId: ID!): [Slot!]!
}

type Slot {
  id: ID!
  practitioner: Practitioner!
}

type Practitioner @key(fields: "id") {
  id: ID!
  slots: [Slot!]!
}
`

const twoSubgraphs = `subgraphs:
  - name: practitioner
    routing_url: http://127.0.0.1:4001/graphql
    subscription_url: ws://127.0.0.1:4001/graphql
    schema: schema/practitioner.graphqls
  - name: availability
    routing_url: http://127.0.0.1:4004/graphql
    schema: schema/availability.graphqls
`

func writeRepo(t *testing.T, list string, schemas map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, content string) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(SubgraphsFile, list)
	for name, sdl := range schemas {
		write("schema/"+name+".graphqls", sdl)
	}
	return dir
}

func TestCompose(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, twoSubgraphs, map[string]string{
		"practitioner": practitionerSDL,
		"availability": availabilitySDL,
	})

	out, err := Compose(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, []byte("}\n")) {
		t.Errorf("output does not end with a newline")
	}
	again, err := Compose(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Errorf("composing the same input twice gave different output")
	}

	var cfg struct {
		Version      string `json:"version"`
		EngineConfig struct {
			DatasourceConfigurations []struct {
				ID            string `json:"id"`
				CustomGraphql struct {
					Fetch struct {
						URL struct {
							StaticVariableContent string `json:"staticVariableContent"`
						} `json:"url"`
					} `json:"fetch"`
					Subscription struct {
						Enabled bool `json:"enabled"`
						URL     struct {
							StaticVariableContent string `json:"staticVariableContent"`
						} `json:"url"`
						Protocol             string `json:"protocol"`
						WebsocketSubprotocol string `json:"websocketSubprotocol"`
					} `json:"subscription"`
				} `json:"customGraphql"`
			} `json:"datasourceConfigurations"`
			GraphqlSchema string `json:"graphqlSchema"`
		} `json:"engineConfig"`
		Subgraphs []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			RoutingURL string `json:"routingUrl"`
		} `json:"subgraphs"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version == "" {
		t.Errorf("no version")
	}
	if len(cfg.Subgraphs) != 2 || cfg.Subgraphs[0].Name != "practitioner" || cfg.Subgraphs[1].Name != "availability" {
		t.Fatalf("subgraphs = %+v, want practitioner and availability", cfg.Subgraphs)
	}
	if got := cfg.Subgraphs[1].RoutingURL; got != "http://127.0.0.1:4004/graphql" {
		t.Errorf("availability routing URL = %q", got)
	}
	ds := cfg.EngineConfig.DatasourceConfigurations
	if len(ds) != 2 {
		t.Fatalf("%d datasources, want 2", len(ds))
	}
	wantWS := []string{"ws://127.0.0.1:4001/graphql", "ws://127.0.0.1:4004/graphql"}
	for i, d := range ds {
		sub := d.CustomGraphql.Subscription
		if sub.WebsocketSubprotocol != "GRAPHQL_WEBSOCKET_SUBPROTOCOL_TRANSPORT_WS" {
			t.Errorf("datasource %d: websocketSubprotocol = %q", i, sub.WebsocketSubprotocol)
		}
		if sub.Protocol != "GRAPHQL_SUBSCRIPTION_PROTOCOL_WS" {
			t.Errorf("datasource %d: protocol = %q", i, sub.Protocol)
		}
		if sub.URL.StaticVariableContent != wantWS[i] {
			t.Errorf("datasource %d: subscription URL = %q, want %q", i, sub.URL.StaticVariableContent, wantWS[i])
		}
	}
	for _, want := range []string{"slotsChanged", "type Practitioner", "name: String!", "slots: [Slot!]!"} {
		if !strings.Contains(cfg.EngineConfig.GraphqlSchema, want) {
			t.Errorf("federated schema lacks %q", want)
		}
	}
	if !strings.Contains(string(out), `"websocketSubprotocol": "GRAPHQL_WEBSOCKET_SUBPROTOCOL_TRANSPORT_WS"`) {
		t.Errorf("output lacks the graphql-transport-ws subprotocol")
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, twoSubgraphs, map[string]string{
		"practitioner": practitionerSDL,
		"availability": availabilitySDL,
	})
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ConfigFile)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Compose(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("written configuration differs from Compose output")
	}
}

func TestComposeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		list    string
		schemas map[string]string
		want    string
	}{
		{
			name:    "missing schema file",
			list:    twoSubgraphs,
			schemas: map[string]string{"practitioner": practitionerSDL},
			want:    `subgraph "availability": schema file schema/availability.graphqls does not exist`,
		},
		{
			name:    "empty schema file",
			list:    twoSubgraphs,
			schemas: map[string]string{"practitioner": practitionerSDL, "availability": "\n"},
			want:    "is empty",
		},
		{
			name:    "unknown key",
			list:    "subgraphs:\n  - name: a\n    routing_url: http://127.0.0.1:1/graphql\n    schema: schema/a.graphqls\n    colour: red\n",
			schemas: map[string]string{"a": practitionerSDL},
			want:    "colour",
		},
		{
			name:    "duplicate name",
			list:    "subgraphs:\n  - name: a\n    routing_url: http://127.0.0.1:1/graphql\n    schema: schema/a.graphqls\n  - name: a\n    routing_url: http://127.0.0.1:2/graphql\n    schema: schema/a.graphqls\n",
			schemas: map[string]string{"a": practitionerSDL},
			want:    "listed twice",
		},
		{
			name:    "bad routing URL",
			list:    "subgraphs:\n  - name: a\n    routing_url: 127.0.0.1:1/graphql\n    schema: schema/a.graphqls\n",
			schemas: map[string]string{"a": practitionerSDL},
			want:    "routing_url",
		},
		{
			name:    "composition error",
			list:    "subgraphs:\n  - name: a\n    routing_url: http://127.0.0.1:1/graphql\n    schema: schema/a.graphqls\n",
			schemas: map[string]string{"a": "type Query { a: Nope }\n"},
			want:    "composition failed",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, tc.list, tc.schemas)
			_, err := Compose(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCommittedConfigIsFresh fails when router-config/config.json is not what Compose makes from
// the committed subgraph list and schemas; run `make generate` to refresh it.
func TestCommittedConfigIsFresh(t *testing.T) {
	root := repoRoot(t)
	committed, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ConfigFile)))
	if os.IsNotExist(err) {
		t.Skipf("%s not generated yet", ConfigFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Compose(root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, fresh) {
		t.Fatalf("%s is stale; regenerate it (make generate)", ConfigFile)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
