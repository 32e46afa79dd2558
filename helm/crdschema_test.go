package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The custom resources the chart renders are validated against the OpenAPI schemas their
// projects publish in their CRDs (testdata/crds, see its README), as the API server would with
// strict field validation: besides types, enums, patterns and required fields, a field the CRD
// does not declare is refused (the API server would drop it, so a misspelt field silently does
// nothing in a cluster).

var (
	crdSchemasOnce sync.Once
	crdSchemas     map[string]*jsonschema.Schema // "<apiVersion> <kind>" → schema
	crdSchemasErr  error
)

// schemaFor returns the published schema of a custom resource kind, or nil for a built-in one.
func schemaFor(t *testing.T, apiVersion, kind string) *jsonschema.Schema {
	t.Helper()
	crdSchemasOnce.Do(func() { crdSchemas, crdSchemasErr = loadCRDSchemas(filepath.Join("testdata", "crds")) })
	if crdSchemasErr != nil {
		t.Fatal(crdSchemasErr)
	}
	return crdSchemas[apiVersion+" "+kind]
}

// loadCRDSchemas compiles the openAPIV3Schema of every served version of every CRD in dir.
func loadCRDSchemas(dir string) (map[string]*jsonschema.Schema, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var crd struct {
			Kind string `json:"kind"`
			Spec struct {
				Group    string `json:"group"`
				Names    struct{ Kind string }
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(js, &crd); err != nil || crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: not a CustomResourceDefinition (%v)", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || len(v.Schema.OpenAPIV3Schema) == 0 {
				continue
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(v.Schema.OpenAPIV3Schema))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			structural(doc)
			c := jsonschema.NewCompiler()
			// A CRD schema is an OpenAPI 3.0 schema object: draft 4 semantics, plus the
			// extensions structural() translates.
			c.DefaultDraft(jsonschema.Draft4)
			url := "file:///" + filepath.Base(f) + "/" + v.Name
			if err := c.AddResource(url, doc); err != nil {
				return nil, err
			}
			sch, err := c.Compile(url)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = sch
		}
	}
	return out, nil
}

// structural makes a CRD's structural schema say in JSON Schema what the API server enforces
// through its extensions: an object node with declared properties and no
// x-kubernetes-preserve-unknown-fields accepts no other field; `nullable` admits null. Only the
// structural nodes (properties, items, additionalProperties) are changed, never the branches of
// anyOf/allOf/oneOf, which may only restate properties declared beside them.
func structural(node any) {
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	if m["nullable"] == true {
		if t, ok := m["type"].(string); ok {
			m["type"] = []any{t, "null"}
		}
	}
	props, hasProps := m["properties"].(map[string]any)
	if hasProps && m["x-kubernetes-preserve-unknown-fields"] != true && m["additionalProperties"] == nil {
		m["additionalProperties"] = false
	}
	for _, p := range props {
		structural(p)
	}
	structural(m["items"])
	structural(m["additionalProperties"])
}

// validateCR validates one rendered custom resource (JSON) against its published schema.
func validateCR(t *testing.T, raw []byte) (validated bool, err error) {
	t.Helper()
	var head struct{ APIVersion, Kind string }
	if err := json.Unmarshal(raw, &head); err != nil {
		return false, err
	}
	sch := schemaFor(t, head.APIVersion, head.Kind)
	if sch == nil {
		return false, nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return false, err
	}
	return true, sch.Validate(inst)
}

// customKinds are the kinds whose schema is not a k8s.io/api Go type.
var customKinds = []string{"Rollout", "AnalysisTemplate", "ExternalSecret", "ServiceMonitor", "PrometheusRule"}

func TestCustomResourcesMatchTheirPublishedSchemas(t *testing.T) {
	validated := map[string]int{}
	for _, r := range all(t) {
		for _, m := range r.All {
			ok, err := validateCR(t, m.Raw)
			if err != nil {
				t.Errorf("%s/%s: %s %s does not match its CRD's schema: %v", r.Service, r.Env, m.Kind, m.Name, err)
			}
			if ok {
				validated[m.Kind]++
			}
		}
	}
	t.Logf("validated against published schemas: %v", validated)
	for _, kind := range customKinds {
		if validated[kind] == 0 {
			t.Errorf("no %s validated against its published schema (validated: %v)", kind, validated)
		}
	}
	for kind := range validated {
		if !strings.Contains(strings.Join(customKinds, " "), kind) {
			t.Errorf("%s validated by a CRD schema: add it to customKinds", kind)
		}
	}
}

// A manifest the published schemas refuse: a misspelt field, a wrong type, a missing required
// field, a value outside an enum, each on a resource the chart renders.
func TestBrokenCustomResourcesFailTheirSchemas(t *testing.T) {
	byKind := map[string][]byte{}
	for _, r := range all(t) {
		for _, m := range r.All {
			if _, ok := byKind[m.Kind]; !ok {
				byKind[m.Kind] = m.Raw
			}
		}
	}
	for _, c := range []struct {
		name, kind string
		breakIt    func(obj map[string]any)
		wantInErr  string
	}{
		{"misspelt canary step field", "Rollout", func(o map[string]any) {
			steps := dig(o, "spec", "strategy", "canary", "steps").([]any)
			steps[0].(map[string]any)["setWeigth"] = 10
		}, "setWeigth"},
		{"weight as text", "Rollout", func(o map[string]any) {
			steps := dig(o, "spec", "strategy", "canary", "steps").([]any)
			steps[0].(map[string]any)["setWeight"] = "ten"
		}, "setWeight"},
		{"container without its name", "Rollout", func(o map[string]any) {
			delete(dig(o, "spec", "template", "spec", "containers").([]any)[0].(map[string]any), "name")
		}, "name"},
		{"misspelt pod security field", "Rollout", func(o map[string]any) {
			dig(o, "spec", "template", "spec", "securityContext").(map[string]any)["runAsNonroot"] = true
		}, "runAsNonroot"},
		{"metric without provider", "AnalysisTemplate", func(o map[string]any) {
			delete(dig(o, "spec", "metrics").([]any)[0].(map[string]any), "provider")
		}, "provider"},
		{"unknown metric provider field", "AnalysisTemplate", func(o map[string]any) {
			dig(o, "spec", "metrics").([]any)[0].(map[string]any)["provider"].(map[string]any)["prometheus"].(map[string]any)["adress"] = "http://x"
		}, "adress"},
		{"remote key misspelt", "ExternalSecret", func(o map[string]any) {
			ref := dig(o, "spec", "data").([]any)[0].(map[string]any)["remoteRef"].(map[string]any)
			ref["keyy"] = ref["key"]
			delete(ref, "key")
		}, "key"},
		{"creation policy outside its enum", "ExternalSecret", func(o map[string]any) {
			dig(o, "spec", "target").(map[string]any)["creationPolicy"] = "Sometimes"
		}, "creationPolicy"},
		{"endpoint field misspelt", "ServiceMonitor", func(o map[string]any) {
			dig(o, "spec", "endpoints").([]any)[0].(map[string]any)["intervall"] = "30s"
		}, "intervall"},
		{"rule without expression", "PrometheusRule", func(o map[string]any) {
			g := dig(o, "spec", "groups").([]any)[0].(map[string]any)
			delete(g["rules"].([]any)[0].(map[string]any), "expr")
		}, "expr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, ok := byKind[c.kind]
			if !ok {
				t.Fatalf("the chart renders no %s", c.kind)
			}
			if _, err := validateCR(t, raw); err != nil {
				t.Fatalf("the rendered %s already fails: %v", c.kind, err)
			}
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			c.breakIt(obj)
			broken, _ := json.Marshal(obj)
			ok, err := validateCR(t, broken)
			if !ok || err == nil {
				t.Fatalf("a %s with %s passed its schema", c.kind, c.name)
			}
			if !strings.Contains(err.Error(), c.wantInErr) {
				t.Errorf("error does not name %q: %v", c.wantInErr, err)
			}
		})
	}
}

func dig(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		cur = cur.(map[string]any)[p]
	}
	return cur
}
