// Package helm tests the appointment-service chart: every service × environment rendered with
// Helm's own SDK (the `helm template` path), every manifest decoded strictly into its Kubernetes
// Go type (or, for the Argo Rollouts and external-secrets kinds, a strict struct of the published
// CRD's fields), every custom resource validated against its project's published CRD schema
// (crdschema_test.go), and each promise of the chart checked on the result.
package helm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	chartDir   = "appointment-service"
	namespace  = "careslot"
	testDigest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
	testRepo   = "123456789012.dkr.ecr.eu-west-3.amazonaws.com/careslot"
	kubeVer    = "v1.33.0"
)

var (
	subgraphs    = []string{"practitioner", "patient", "search", "availability", "booking", "notification"}
	services     = append(append([]string{}, subgraphs...), "router")
	environments = []string{"staging", "prod"}
	// Services with a PostgreSQL store (a migration Job).
	postgresServices = map[string]bool{"practitioner": true, "patient": true, "booking": true, "notification": true}
	// Services released as Argo Rollouts canaries in prod.
	canaryServices = map[string]bool{"booking": true, "availability": true, "patient": true}
)

// manifest is one rendered document, decoded.
type manifest struct {
	Kind, Name string
	Hook       bool
	Obj        any
	Raw        []byte
}

// release is a rendered release: its manifests by kind.
type rendered struct {
	Service, Env string
	All          []manifest
}

func (r rendered) kinds(kind string) []manifest {
	var out []manifest
	for _, m := range r.All {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func (r rendered) one(t *testing.T, kind string) manifest {
	t.Helper()
	ms := r.kinds(kind)
	if len(ms) != 1 {
		t.Fatalf("%s/%s: %d %s manifests, want 1", r.Service, r.Env, len(ms), kind)
	}
	return ms[0]
}

// renderOpts are the extra flags of one render.
type renderOpts struct {
	Set     []string // --set
	SetFile []string // --set-file
	Files   []string // -f, after values-<service>.yaml and values-<env>.yaml
	NoImage bool     // leave image.repository out
}

// render runs `helm template <service> appointment-service -f values-<service>.yaml
// -f values-<env>.yaml` with an image and, for the router, the composed configuration.
func render(service, env string, o renderOpts) (rendered, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return rendered{}, err
	}
	opts := values.Options{
		ValueFiles: append([]string{
			filepath.Join(chartDir, "values-"+service+".yaml"),
			filepath.Join(chartDir, "values-"+env+".yaml"),
		}, o.Files...),
		FileValues: o.SetFile,
	}
	if !o.NoImage {
		opts.Values = append(opts.Values, "image.repository="+testRepo, "image.tag=0.1.0")
		if env == "prod" {
			opts.Values = append(opts.Values, "image.digest="+testDigest)
		}
	}
	opts.Values = append(opts.Values, o.Set...)
	if service == "router" && len(o.SetFile) == 0 {
		opts.FileValues = []string{"routerConfig.executionConfig=" + filepath.Join("..", "router-config", "config.json")}
	}
	vals, err := opts.MergeValues(getter.All(cli.New()))
	if err != nil {
		return rendered{}, err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = service
	install.Namespace = namespace
	kv, err := common.ParseKubeVersion(kubeVer)
	if err != nil {
		return rendered{}, err
	}
	install.KubeVersion = kv
	rel, err := install.Run(ch, vals)
	if err != nil {
		return rendered{}, err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return rendered{}, fmt.Errorf("release of type %T", rel)
	}
	out := rendered{Service: service, Env: env}
	docs, err := decodeAll([]byte(r.Manifest), false)
	if err != nil {
		return rendered{}, err
	}
	out.All = append(out.All, docs...)
	for _, h := range r.Hooks {
		docs, err := decodeAll([]byte(h.Manifest), true)
		if err != nil {
			return rendered{}, fmt.Errorf("hook %s: %w", h.Name, err)
		}
		out.All = append(out.All, docs...)
	}
	return out, nil
}

// typed is the Go type each kind decodes into.
func typed(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, nil
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &monitoringv1.PrometheusRule{}, nil
	case "argoproj.io/v1alpha1 Rollout":
		return &Rollout{}, nil
	case "argoproj.io/v1alpha1 AnalysisTemplate":
		return &AnalysisTemplate{}, nil
	case "external-secrets.io/v1 ExternalSecret":
		return &ExternalSecret{}, nil
	}
	return nil, fmt.Errorf("no Go type for %s %s (the chart must not render kinds the tests do not know)", apiVersion, kind)
}

// decodeAll splits a manifest stream and decodes every document strictly: an unknown or
// misspelt field, a duplicate key or a wrong type fails.
func decodeAll(stream []byte, hook bool) ([]manifest, error) {
	var out []manifest
	for _, doc := range splitDocuments(stream) {
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		if string(js) == "null" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &head); err != nil {
			return nil, err
		}
		obj, err := typed(head.APIVersion, head.Kind)
		if err != nil {
			return nil, err
		}
		strictErrs, err := kjson.UnmarshalStrict(js, obj)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
		}
		if len(strictErrs) > 0 {
			return nil, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, errors.Join(strictErrs...))
		}
		out = append(out, manifest{Kind: head.Kind, Name: head.Metadata.Name, Hook: hook, Obj: obj, Raw: js})
	}
	return out, nil
}

// splitDocuments splits a YAML stream at its document separators.
func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	var cur []string
	for _, line := range strings.Split(string(stream), "\n") {
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, []byte(strings.Join(cur, "\n")))
}

// renderAll renders every service × environment once per test binary.
var renderedAll = map[string]rendered{}

func all(t *testing.T) []rendered {
	t.Helper()
	var out []rendered
	for _, s := range services {
		for _, e := range environments {
			key := s + "/" + e
			r, ok := renderedAll[key]
			if !ok {
				var err error
				r, err = render(s, e, renderOpts{})
				if err != nil {
					t.Fatalf("render %s: %v", key, err)
				}
				renderedAll[key] = r
			}
			out = append(out, r)
		}
	}
	return out
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
