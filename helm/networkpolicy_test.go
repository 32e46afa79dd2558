package helm

import (
	"maps"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// storePorts are the TCP ports a backing store is reached on.
var storePorts = map[int32]string{5432: "postgres", 6379: "redis", 9092: "kafka", 9094: "kafka", 9096: "kafka", 9098: "kafka", 443: "https or opensearch"}

// wantStores is what each process may reach outside the cluster (besides HTTPS: the JWKS, AWS).
var wantStores = map[string][]string{
	"practitioner": {"postgres", "kafka"},
	"patient":      {"postgres", "kafka"},
	"booking":      {"postgres", "redis", "kafka"},
	"notification": {"postgres", "kafka"},
	"availability": {"redis", "kafka"},
	"search":       {"redis", "kafka"},
	"router":       {"redis"},
}

func TestNetworkPolicyPerService(t *testing.T) {
	policies := map[string]map[string]*networkingv1.NetworkPolicy{} // env → service → policy
	for _, r := range all(t) {
		var np *networkingv1.NetworkPolicy
		for _, m := range r.kinds("NetworkPolicy") {
			if !m.Hook {
				np = m.Obj.(*networkingv1.NetworkPolicy)
			}
		}
		if np == nil {
			t.Fatalf("%s/%s: no NetworkPolicy", r.Service, r.Env)
		}
		if policies[r.Env] == nil {
			policies[r.Env] = map[string]*networkingv1.NetworkPolicy{}
		}
		policies[r.Env][r.Service] = np
		w := workloadOf(t, r)
		if !selects(t, &np.Spec.PodSelector, w.Pod) ||
			!slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
			t.Errorf("%s/%s: policy does not govern the pods both ways: %+v", r.Service, r.Env, np.Spec)
		}
		for _, in := range np.Spec.Ingress {
			if len(in.Ports) != 1 {
				t.Errorf("%s/%s: ingress rule %+v opens %d ports", r.Service, r.Env, in, len(in.Ports))
				continue
			}
			switch in.Ports[0].Port.IntVal {
			case 8080:
				if r.Service == "router" {
					continue // the edge: reached by the load balancer
				}
				if len(in.From) == 0 || !slices.ContainsFunc(in.From, func(p networkingv1.NetworkPolicyPeer) bool { return component(p) == "router" }) {
					t.Errorf("%s/%s: http reachable from %+v, want the router", r.Service, r.Env, in.From)
				}
				for _, p := range in.From {
					if component(p) == "" || p.NamespaceSelector != nil || p.IPBlock != nil {
						t.Errorf("%s/%s: http reachable from %+v: only careslot pods of this namespace", r.Service, r.Env, p)
					}
				}
			case 9090:
				if len(in.From) != 1 || in.From[0].NamespaceSelector == nil || in.From[0].PodSelector != nil ||
					in.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
					t.Errorf("%s/%s: metrics reachable from %+v, want the monitoring namespace only", r.Service, r.Env, in.From)
				}
			default:
				t.Errorf("%s/%s: ingress on port %v", r.Service, r.Env, in.Ports[0].Port)
			}
		}
		stores := map[string]bool{}
		collector := false
		for _, out := range np.Spec.Egress {
			if len(out.To) == 0 || len(out.Ports) == 0 {
				t.Errorf("%s/%s: egress rule %+v allows everything somewhere", r.Service, r.Env, out)
				continue
			}
			for _, p := range out.To {
				switch {
				case isCollector(p):
					if len(out.Ports) != 1 || out.Ports[0].Port.IntVal != otlpPort || *out.Ports[0].Protocol != "TCP" {
						t.Errorf("%s/%s: egress to the collector's namespace on %+v, want TCP %d only", r.Service, r.Env, out.Ports, otlpPort)
					}
					collector = true
				case p.IPBlock != nil:
					for _, port := range out.Ports {
						s, ok := storePorts[port.Port.IntVal]
						if !ok {
							t.Errorf("%s/%s: egress to %s on %v", r.Service, r.Env, p.IPBlock.CIDR, port.Port)
						}
						stores[s] = true
					}
				case component(p) != "":
				case p.NamespaceSelector != nil && p.PodSelector != nil && p.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
				default:
					t.Errorf("%s/%s: egress to %+v", r.Service, r.Env, p)
				}
			}
		}
		// Both environments send traces (platform.otlpEndpoint): the spans must be able to leave.
		if !collector {
			t.Errorf("%s/%s: no egress to the OpenTelemetry collector (%s:%d)", r.Service, r.Env, otlpNamespace, otlpPort)
		}
		for _, s := range wantStores[r.Service] {
			if !stores[s] {
				t.Errorf("%s/%s: no egress to %s", r.Service, r.Env, s)
			}
		}
		if !stores["https or opensearch"] {
			t.Errorf("%s/%s: no HTTPS egress (JWKS)", r.Service, r.Env)
		}
		if stores["postgres"] != postgresServices[r.Service] {
			t.Errorf("%s/%s: PostgreSQL egress %v", r.Service, r.Env, stores["postgres"])
		}
	}
	// Whoever a service may call lets it in, and nobody else does.
	for env, byService := range policies {
		for caller, np := range byService {
			for _, out := range np.Spec.Egress {
				for _, p := range out.To {
					callee := component(p)
					if callee == "" {
						continue
					}
					if !admits(byService[callee], caller) {
						t.Errorf("%s: %s may call %s, whose policy does not let it in", env, caller, callee)
					}
				}
			}
		}
		for callee, np := range byService {
			for caller := range byService {
				if admits(np, caller) && caller != "router" && callee != "router" && !calls(byService[caller], callee) {
					t.Errorf("%s: %s admits %s, which never calls it", env, callee, caller)
				}
			}
		}
		if !calls(byService["router"], "booking") || len(egressComponents(byService["router"])) != len(subgraphs) {
			t.Errorf("%s: the router reaches %v, want every subgraph", env, egressComponents(byService["router"]))
		}
	}
}

// The OpenTelemetry collector platform.otlpEndpoint names in values-staging/prod.yaml.
const (
	otlpNamespace = "monitoring"
	otlpPort      = 4318
)

// isCollector reports whether a peer is the collector's namespace (any of its pods, or those
// monitoring.otlp.podLabels name).
func isCollector(p networkingv1.NetworkPolicyPeer) bool {
	return p.IPBlock == nil && p.NamespaceSelector != nil && len(p.NamespaceSelector.MatchExpressions) == 0 &&
		len(p.NamespaceSelector.MatchLabels) == 1 && p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == otlpNamespace &&
		(p.PodSelector == nil || p.PodSelector.MatchLabels["k8s-app"] != "kube-dns")
}

// Without an OTLP endpoint no egress to the collector is rendered; with podLabels the rule is
// narrowed to the collector's pods.
func TestCollectorEgressOnlyWhenTracesAreOn(t *testing.T) {
	for _, c := range []struct {
		name      string
		opts      renderOpts
		want      bool
		podLabels map[string]string
	}{
		{"traces off", renderOpts{Set: []string{"platform.otlpEndpoint="}}, false, nil},
		{"collector pods named", renderOpts{Set: []string{"monitoring.otlp.podLabels.app\\.kubernetes\\.io/name=opentelemetry-collector"}},
			true, map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}},
		{"another collector", renderOpts{Set: []string{"platform.otlpEndpoint=http://collector.tracing.svc.cluster.local:4317", "monitoring.otlp.namespace=tracing", "monitoring.otlp.port=4317"}}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := render("booking", "prod", c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var np *networkingv1.NetworkPolicy
			for _, m := range r.kinds("NetworkPolicy") {
				if !m.Hook {
					np = m.Obj.(*networkingv1.NetworkPolicy)
				}
			}
			var found []networkingv1.NetworkPolicyEgressRule
			for _, out := range np.Spec.Egress {
				for _, p := range out.To {
					if p.NamespaceSelector != nil && (p.PodSelector == nil || p.PodSelector.MatchLabels["k8s-app"] != "kube-dns") {
						found = append(found, out)
					}
				}
			}
			if !c.want {
				if len(found) != 0 {
					t.Fatalf("traces off, yet egress %+v", found)
				}
				return
			}
			if len(found) != 1 || len(found[0].To) != 1 || len(found[0].Ports) != 1 {
				t.Fatalf("egress to the collector: %+v, want one rule", found)
			}
			peer, port := found[0].To[0], found[0].Ports[0].Port.IntVal
			if strings.Contains(c.name, "another") {
				if peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "tracing" || port != 4317 {
					t.Fatalf("egress to %+v on %d, want namespace tracing on 4317", peer, port)
				}
				return
			}
			if !isCollector(peer) || port != otlpPort {
				t.Fatalf("egress to %+v on %d", peer, port)
			}
			var got map[string]string
			if peer.PodSelector != nil {
				got = peer.PodSelector.MatchLabels
			}
			if !maps.Equal(got, c.podLabels) {
				t.Fatalf("collector pods %v, want %v", got, c.podLabels)
			}
		})
	}
}

func component(p networkingv1.NetworkPolicyPeer) string {
	if p.PodSelector == nil || p.PodSelector.MatchLabels["app.kubernetes.io/name"] != "careslot" {
		return ""
	}
	return p.PodSelector.MatchLabels["app.kubernetes.io/component"]
}

func admits(np *networkingv1.NetworkPolicy, caller string) bool {
	for _, in := range np.Spec.Ingress {
		if len(in.Ports) == 1 && in.Ports[0].Port.IntVal == 8080 {
			if len(in.From) == 0 {
				return true
			}
			for _, p := range in.From {
				if component(p) == caller {
					return true
				}
			}
		}
	}
	return false
}

func calls(np *networkingv1.NetworkPolicy, callee string) bool {
	return slices.Contains(egressComponents(np), callee)
}

func egressComponents(np *networkingv1.NetworkPolicy) []string {
	var out []string
	for _, e := range np.Spec.Egress {
		for _, p := range e.To {
			if c := component(p); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}
