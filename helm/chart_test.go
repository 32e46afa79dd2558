package helm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// workload is the pod-owning object of a release: a Deployment, or an Argo Rollout.
type workload struct {
	Kind, Name string
	Selector   *metav1.LabelSelector
	Replicas   *int32
	Pod        corev1.PodTemplateSpec
	Rollout    *Rollout
}

func workloadOf(t *testing.T, r rendered) workload {
	t.Helper()
	deps, rolls := r.kinds("Deployment"), r.kinds("Rollout")
	if len(deps)+len(rolls) != 1 {
		t.Fatalf("%s/%s: %d Deployments and %d Rollouts, want one workload", r.Service, r.Env, len(deps), len(rolls))
	}
	if len(deps) == 1 {
		d := deps[0].Obj.(*appsv1.Deployment)
		return workload{Kind: "Deployment", Name: d.Name, Selector: d.Spec.Selector, Replicas: d.Spec.Replicas, Pod: d.Spec.Template}
	}
	ro := rolls[0].Obj.(*Rollout)
	return workload{Kind: "Rollout", Name: ro.Name, Selector: ro.Spec.Selector, Replicas: ro.Spec.Replicas, Pod: ro.Spec.Template, Rollout: ro}
}

// selects reports whether a label selector picks the pod.
func selects(t *testing.T, sel *metav1.LabelSelector, pod corev1.PodTemplateSpec) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(pod.Labels))
}

func name(service string) string { return "careslot-" + service }

func TestEveryServiceAndEnvironmentRendersStrictly(t *testing.T) {
	for _, r := range all(t) {
		want := map[string]int{"Service": 1, "ServiceAccount": 1, "HorizontalPodAutoscaler": 1,
			"PodDisruptionBudget": 1, "NetworkPolicy": 1, "ServiceMonitor": 1}
		if canaryServices[r.Service] && r.Env == "prod" {
			want["Rollout"], want["AnalysisTemplate"] = 1, 1
		} else {
			want["Deployment"] = 1
		}
		if postgresServices[r.Service] {
			want["Job"] = 1
			want["NetworkPolicy"] = 2 // the migration's own
			want["ExternalSecret"] = 2
		} else {
			want["ExternalSecret"] = 1 // Redis (and OpenSearch) credentials
		}
		if r.Service == "router" {
			want["ConfigMap"] = 2 // the supergraph and the Grafana dashboard
			want["PrometheusRule"] = 1
		}
		got := map[string]int{}
		for _, m := range r.All {
			got[m.Kind]++
			if m.Kind == "Secret" {
				t.Errorf("%s/%s renders a Secret %s: secrets come from ExternalSecrets only", r.Service, r.Env, m.Name)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s/%s renders %v, want %v", r.Service, r.Env, got, want)
		}
	}
}

func TestWorkloadIsCanaryOnlyForSensitiveServicesInProd(t *testing.T) {
	for _, r := range all(t) {
		w := workloadOf(t, r)
		wantRollout := r.Env == "prod" && canaryServices[r.Service]
		if (w.Kind == "Rollout") != wantRollout {
			t.Errorf("%s/%s: workload %s", r.Service, r.Env, w.Kind)
			continue
		}
		if w.Name != name(r.Service) || !selects(t, w.Selector, w.Pod) {
			t.Errorf("%s/%s: %s %s does not select its own pods", r.Service, r.Env, w.Kind, w.Name)
		}
		if w.Replicas != nil {
			t.Errorf("%s/%s: replicas %d set beside an HPA", r.Service, r.Env, *w.Replicas)
		}
		if !wantRollout {
			d := r.one(t, "Deployment").Obj.(*appsv1.Deployment)
			if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
				t.Errorf("%s/%s: strategy %+v, want a rolling update that keeps every pod until its successor is ready", r.Service, r.Env, d.Spec.Strategy)
			}
			continue
		}
		c := w.Rollout.Spec.Strategy.Canary
		if c == nil || len(c.Steps) < 3 {
			t.Fatalf("%s/%s: canary %+v", r.Service, r.Env, c)
		}
		if c.Steps[0].SetWeight == nil || *c.Steps[0].SetWeight != 10 {
			t.Errorf("%s/%s: first step %+v, want setWeight 10", r.Service, r.Env, c.Steps[0])
		}
		if c.Steps[1].Pause == nil || c.Steps[1].Pause.Duration == nil {
			t.Errorf("%s/%s: second step %+v, want a timed pause", r.Service, r.Env, c.Steps[1])
		}
		at := r.one(t, "AnalysisTemplate").Obj.(*AnalysisTemplate)
		if a := c.Steps[2].Analysis; a == nil || len(a.Templates) != 1 || a.Templates[0].TemplateName != at.Name {
			t.Errorf("%s/%s: third step %+v, want the analysis %s", r.Service, r.Env, c.Steps[2], at.Name)
		}
		// Every later weight is followed by the analysis again before it goes on.
		for i, s := range c.Steps {
			if s.SetWeight != nil && i > 0 && (i+2 >= len(c.Steps) || c.Steps[i+2].Analysis == nil) {
				t.Errorf("%s/%s: step %d (weight %d) is not followed by an analysis", r.Service, r.Env, i, *s.SetWeight)
			}
		}
		checkAnalysis(t, r, at)
	}
}

func checkAnalysis(t *testing.T, r rendered, at *AnalysisTemplate) {
	t.Helper()
	sel := fmt.Sprintf(`wg_subgraph_name="%s"`, r.Service)
	var sawErrors, sawP99 bool
	for _, m := range at.Spec.Metrics {
		p := m.Provider.Prometheus
		if p == nil || !strings.HasPrefix(p.Address, "http") || !strings.Contains(p.Query, sel) {
			t.Errorf("%s/%s: metric %s queries %+v, want Prometheus on the router's %s metrics", r.Service, r.Env, m.Name, p, sel)
			continue
		}
		if m.SuccessCondition == "" || m.Count == nil || m.Interval == "" {
			t.Errorf("%s/%s: metric %s has no condition, count or interval", r.Service, r.Env, m.Name)
		}
		switch {
		case strings.Contains(p.Query, "router_http_requests_error_total") && strings.Contains(p.Query, "router_http_requests_total"):
			sawErrors = true
		case strings.Contains(p.Query, "histogram_quantile(0.99") && strings.Contains(p.Query, "router_http_request_duration_milliseconds_bucket"):
			sawP99 = true
		}
	}
	if !sawErrors || !sawP99 {
		t.Errorf("%s/%s: analysis judges error rate %v, p99 %v; want both", r.Service, r.Env, sawErrors, sawP99)
	}
}

func TestServiceExposesHTTPAndMetrics(t *testing.T) {
	for _, r := range all(t) {
		w := workloadOf(t, r)
		svc := r.one(t, "Service").Obj.(*corev1.Service)
		if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.Pod) || svc.Name != name(r.Service) {
			t.Errorf("%s/%s: Service %s does not select the pods", r.Service, r.Env, svc.Name)
		}
		ports := map[string]int32{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = p.Port
		}
		if ports["http"] == 0 || ports["metrics"] == 0 || ports["http"] == ports["metrics"] {
			t.Errorf("%s/%s: Service ports %v, want http and a separate metrics port", r.Service, r.Env, ports)
		}
	}
}

func TestAutoscalingOnCPUAndMemory(t *testing.T) {
	bounds := map[string][2]int32{"booking/prod": {3, 20}, "search/prod": {3, 30}}
	for _, r := range all(t) {
		w := workloadOf(t, r)
		hpa := r.one(t, "HorizontalPodAutoscaler").Obj.(*autoscalingv2.HorizontalPodAutoscaler)
		ref := hpa.Spec.ScaleTargetRef
		wantAPI := map[string]string{"Deployment": "apps/v1", "Rollout": "argoproj.io/v1alpha1"}[w.Kind]
		if ref.Kind != w.Kind || ref.Name != w.Name || ref.APIVersion != wantAPI {
			t.Errorf("%s/%s: HPA targets %+v, want %s %s", r.Service, r.Env, ref, w.Kind, w.Name)
		}
		targets := map[corev1.ResourceName]int32{}
		for _, m := range hpa.Spec.Metrics {
			if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
				t.Errorf("%s/%s: HPA metric %+v", r.Service, r.Env, m)
				continue
			}
			targets[m.Resource.Name] = *m.Resource.Target.AverageUtilization
		}
		if targets[corev1.ResourceCPU] != 70 || targets[corev1.ResourceMemory] != 80 || len(targets) != 2 {
			t.Errorf("%s/%s: HPA targets %v, want cpu 70 %% and memory 80 %%", r.Service, r.Env, targets)
		}
		min, max := *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas
		if min < 1 || min > max {
			t.Errorf("%s/%s: HPA %d–%d", r.Service, r.Env, min, max)
		}
		if r.Env == "prod" && min < 3 {
			t.Errorf("%s/%s: HPA min %d: prod keeps one pod per zone at least", r.Service, r.Env, min)
		}
		if b, ok := bounds[r.Service+"/"+r.Env]; ok && (min != b[0] || max != b[1]) {
			t.Errorf("%s/%s: HPA %d–%d, want %d–%d", r.Service, r.Env, min, max, b[0], b[1])
		}
	}
}

func TestDisruptionBudgetAndZoneSpread(t *testing.T) {
	for _, r := range all(t) {
		w := workloadOf(t, r)
		pdb := r.one(t, "PodDisruptionBudget").Obj.(*policyv1.PodDisruptionBudget)
		if !selects(t, pdb.Spec.Selector, w.Pod) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("%s/%s: PDB %+v", r.Service, r.Env, pdb.Spec)
		}
		var zone *corev1.TopologySpreadConstraint
		for i, c := range w.Pod.Spec.TopologySpreadConstraints {
			if c.TopologyKey == "topology.kubernetes.io/zone" {
				zone = &w.Pod.Spec.TopologySpreadConstraints[i]
			}
		}
		if zone == nil || zone.MaxSkew != 1 || !selects(t, zone.LabelSelector, w.Pod) {
			t.Errorf("%s/%s: zone spread %+v", r.Service, r.Env, zone)
			continue
		}
		if want := map[string]corev1.UnsatisfiableConstraintAction{"prod": corev1.DoNotSchedule, "staging": corev1.ScheduleAnyway}[r.Env]; zone.WhenUnsatisfiable != want {
			t.Errorf("%s/%s: zone spread %s, want %s", r.Service, r.Env, zone.WhenUnsatisfiable, want)
		}
		hash := map[string]string{"Deployment": "pod-template-hash", "Rollout": "rollouts-pod-template-hash"}[w.Kind]
		if !slices.Equal(zone.MatchLabelKeys, []string{hash}) {
			t.Errorf("%s/%s: zone spread per revision by %v, want %s", r.Service, r.Env, zone.MatchLabelKeys, hash)
		}
	}
}

func TestSearchRunsOnItsOwnNodeGroup(t *testing.T) {
	for _, r := range all(t) {
		pod := workloadOf(t, r).Pod.Spec
		tolerates := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == "workload" && tol.Value == "search" && tol.Effect == corev1.TaintEffectNoSchedule
		})
		onSearch := pod.NodeSelector["workload"] == "search"
		if r.Service == "search" != (onSearch && tolerates) || (r.Service != "search" && (onSearch || tolerates)) {
			t.Errorf("%s/%s: nodeSelector %v tolerations %v", r.Service, r.Env, pod.NodeSelector, pod.Tolerations)
		}
	}
}

func TestServiceAccountWithIRSA(t *testing.T) {
	for _, r := range all(t) {
		sa := r.one(t, "ServiceAccount").Obj.(*corev1.ServiceAccount)
		pod := workloadOf(t, r).Pod.Spec
		if pod.ServiceAccountName != sa.Name {
			t.Errorf("%s/%s: pods use %q, chart makes %q", r.Service, r.Env, pod.ServiceAccountName, sa.Name)
		}
		role := sa.Annotations["eks.amazonaws.com/role-arn"]
		if r.Env == "prod" && (!strings.HasPrefix(role, "arn:aws:iam::") || !strings.HasSuffix(role, ":role/careslot-prod-"+r.Service)) {
			t.Errorf("%s/%s: IRSA role %q", r.Service, r.Env, role)
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken ||
			pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s/%s: a Kubernetes API token is mounted", r.Service, r.Env)
		}
	}
}

func TestPodsAreHardened(t *testing.T) {
	for _, r := range all(t) {
		pods := []corev1.PodTemplateSpec{workloadOf(t, r).Pod}
		for _, j := range r.kinds("Job") {
			pods = append(pods, j.Obj.(*batchv1.Job).Spec.Template)
		}
		for _, pod := range pods {
			checkHardened(t, r.Service+"/"+r.Env, pod.Spec)
		}
	}
}

func checkHardened(t *testing.T, where string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 1000 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v", where, psc)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: shares a host namespace", where)
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 1000 ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Privileged == nil || *sc.Privileged ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: container %s security context %+v", where, c.Name, sc)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
			if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
				t.Errorf("%s: container %s %s request %s limit %s", where, c.Name, res, req.String(), lim.String())
			}
		}
		if strings.HasSuffix(c.Image, ":latest") || !strings.HasPrefix(c.Image, testRepo) {
			t.Errorf("%s: image %q", where, c.Image)
		}
		if strings.Contains(where, "/prod") && !strings.HasSuffix(c.Image, "@"+testDigest) {
			t.Errorf("%s: prod image %q is not pinned by digest", where, c.Image)
		}
		for _, e := range c.Env {
			if v := strings.ToLower(e.Value); strings.Contains(v, "postgres://") || strings.Contains(v, "password") ||
				strings.Contains(v, "rediss://") || strings.Contains(v, "redis://") {
				t.Errorf("%s: %s carries a credential inline", where, e.Name)
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s: %s from %+v", where, e.Name, e.ValueFrom)
			}
		}
		// A read-only root filesystem needs somewhere writable.
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
			t.Errorf("%s: container %s has no writable /tmp", where, c.Name)
		}
	}
}

func TestProbes(t *testing.T) {
	for _, r := range all(t) {
		pod := workloadOf(t, r).Pod.Spec
		if len(pod.Containers) != 1 {
			t.Fatalf("%s/%s: %d containers", r.Service, r.Env, len(pod.Containers))
		}
		c := pod.Containers[0]
		live, ready := "/healthz", "/readyz"
		if r.Service == "router" {
			live, ready = "/health/live", "/health/ready" // the Cosmo router's own
		}
		for probeName, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			want := live
			if probeName == "readiness" {
				want = ready
			}
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
				t.Errorf("%s/%s: %s probe %+v, want GET %s on http", r.Service, r.Env, probeName, p, want)
			}
		}
		args := strings.Join(c.Args, " ")
		wantArgs := "serve " + r.Service
		if r.Service == "router" {
			wantArgs = "router -config /etc/careslot/router/config.json"
		}
		if args != wantArgs {
			t.Errorf("%s/%s: args %q, want %q", r.Service, r.Env, args, wantArgs)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		up := strings.ToUpper(r.Service)
		if env[up+"_ADDR"] != "0.0.0.0:8080" || env[up+"_METRICS_ADDR"] != "0.0.0.0:9090" {
			t.Errorf("%s/%s: listens on %q, metrics on %q", r.Service, r.Env, env[up+"_ADDR"], env[up+"_METRICS_ADDR"])
		}
		for _, s := range subgraphs {
			if want := fmt.Sprintf("http://careslot-%s.%s.svc:8080", s, namespace); env[strings.ToUpper(s)+"_INTERNAL_URL"] != want {
				t.Errorf("%s/%s: %s_INTERNAL_URL %q, want %q", r.Service, r.Env, strings.ToUpper(s), env[strings.ToUpper(s)+"_INTERNAL_URL"], want)
			}
		}
		if env["KAFKA_BROKERS"] == "" || env["OIDC_JWKS_URL"] == "" || env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "" {
			t.Errorf("%s/%s: platform settings missing: %v", r.Service, r.Env, env)
		}
	}
}

func TestMigrationJobRunsBeforeInstallAndUpgrade(t *testing.T) {
	for _, r := range all(t) {
		jobs := r.kinds("Job")
		if !postgresServices[r.Service] {
			if len(jobs) != 0 {
				t.Errorf("%s/%s: migration Job for a service without PostgreSQL", r.Service, r.Env)
			}
			continue
		}
		if len(jobs) != 1 || !jobs[0].Hook {
			t.Fatalf("%s/%s: migration jobs %v", r.Service, r.Env, jobs)
		}
		j := jobs[0].Obj.(*batchv1.Job)
		if hooks := strings.Split(j.Annotations["helm.sh/hook"], ","); !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
			t.Errorf("%s/%s: job hooks %q", r.Service, r.Env, j.Annotations["helm.sh/hook"])
		}
		c := j.Spec.Template.Spec.Containers[0]
		if strings.Join(c.Args, " ") != "migrate "+r.Service || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s/%s: job runs %q (restart %s)", r.Service, r.Env, c.Args, j.Spec.Template.Spec.RestartPolicy)
		}
		if c.Image != workloadOf(t, r).Pod.Spec.Containers[0].Image {
			t.Errorf("%s/%s: the job migrates with %s, the pods run %s", r.Service, r.Env, c.Image, workloadOf(t, r).Pod.Spec.Containers[0].Image)
		}
		// The job's credentials exist before it: an ExternalSecret hook of lower weight.
		dbEnv := "DATABASE_URL_" + strings.ToUpper(r.Service)
		var secretName string
		for _, e := range c.Env {
			if e.Name == dbEnv && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secretName = e.ValueFrom.SecretKeyRef.Name
			}
		}
		var found bool
		for _, m := range r.kinds("ExternalSecret") {
			es := m.Obj.(*ExternalSecret)
			if es.Spec.Target.Name == secretName && m.Hook && weight(es.Annotations) < weight(j.Annotations) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s/%s: the job's %s comes from %q, which no earlier ExternalSecret hook makes", r.Service, r.Env, dbEnv, secretName)
		}
		// Job pods are not the service's pods.
		if selects(t, workloadOf(t, r).Selector, j.Spec.Template) {
			t.Errorf("%s/%s: the Service and PDB select the migration's pods", r.Service, r.Env)
		}
	}
}

func weight(annotations map[string]string) int {
	var w int
	fmt.Sscan(annotations["helm.sh/hook-weight"], &w)
	return w
}

func TestSecretsAreExternalSecretReferences(t *testing.T) {
	for _, r := range all(t) {
		made := map[string]*ExternalSecret{}
		for _, m := range r.kinds("ExternalSecret") {
			es := m.Obj.(*ExternalSecret)
			if es.Spec.SecretStoreRef.Name == "" || es.Spec.SecretStoreRef.Kind == "" || len(es.Spec.Data) == 0 {
				t.Errorf("%s/%s: ExternalSecret %s: %+v", r.Service, r.Env, es.Name, es.Spec)
			}
			for _, d := range es.Spec.Data {
				if !strings.HasPrefix(d.RemoteRef.Key, "careslot/"+r.Env+"/") {
					t.Errorf("%s/%s: %s reads %q, outside the environment's keys", r.Service, r.Env, d.SecretKey, d.RemoteRef.Key)
				}
			}
			made[es.Spec.Target.Name] = es
		}
		// Every secret a pod reads is one an ExternalSecret writes, with that key.
		pods := []corev1.PodTemplateSpec{workloadOf(t, r).Pod}
		for _, j := range r.kinds("Job") {
			pods = append(pods, j.Obj.(*batchv1.Job).Spec.Template)
		}
		for _, pod := range pods {
			for _, e := range pod.Spec.Containers[0].Env {
				if e.ValueFrom == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				es := made[ref.Name]
				if es == nil || !slices.ContainsFunc(es.Spec.Data, func(d ExternalSecretData) bool { return d.SecretKey == ref.Key }) {
					t.Errorf("%s/%s: %s reads secret %s key %s, which no ExternalSecret provides", r.Service, r.Env, e.Name, ref.Name, ref.Key)
				}
			}
		}
	}
}

func TestServiceMonitorScrapesTheMetricsPort(t *testing.T) {
	for _, r := range all(t) {
		sm := r.one(t, "ServiceMonitor").Obj.(*monitoringv1.ServiceMonitor)
		svc := r.one(t, "Service").Obj.(*corev1.Service)
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Matches(labels.Set(svc.Labels)) || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
			t.Errorf("%s/%s: ServiceMonitor selects %v in %v, Service labels %v", r.Service, r.Env, sm.Spec.Selector, sm.Spec.NamespaceSelector, svc.Labels)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("%s/%s: endpoints %+v", r.Service, r.Env, sm.Spec.Endpoints)
		}
	}
}

func TestRouterConfigIsAConfigMapWhoseChecksumRollsTheRouter(t *testing.T) {
	supergraph := readFile(t, filepath.Join("..", "router-config", "config.json"))
	for _, e := range environments {
		r := renderedAll["router/"+e]
		if r.Service == "" {
			all(t)
			r = renderedAll["router/"+e]
		}
		var cm *corev1.ConfigMap
		for _, m := range r.kinds("ConfigMap") {
			if c := m.Obj.(*corev1.ConfigMap); c.Data["config.json"] != "" {
				cm = c
			}
		}
		if cm == nil || cm.Data["config.json"] != string(supergraph) {
			t.Fatalf("router/%s: no ConfigMap with router-config/config.json", e)
		}
		pod := workloadOf(t, r).Pod
		sum := sha256.Sum256(supergraph)
		if got := pod.Annotations["checksum/router-config"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("router/%s: checksum annotation %q, want the supergraph's sha256", e, got)
		}
		if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool {
			return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name
		}) {
			t.Errorf("router/%s: the pods do not mount %s", e, cm.Name)
		}
	}
	// A new supergraph gives new pods.
	changed := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(changed, append(slices.Clone(supergraph), ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := render("router", "prod", renderOpts{SetFile: []string{"routerConfig.executionConfig=" + changed}})
	if err != nil {
		t.Fatal(err)
	}
	before := workloadOf(t, renderedAll["router/prod"]).Pod.Annotations["checksum/router-config"]
	if after := workloadOf(t, r).Pod.Annotations["checksum/router-config"]; after == before {
		t.Error("a changed supergraph leaves the router's pod template unchanged")
	}
}

func TestValuesMistakesFailWithAClearMessage(t *testing.T) {
	cases := []struct {
		name, service, env string
		opts               renderOpts
		want               []string
	}{
		{"unknown key", "booking", "prod", renderOpts{Set: []string{"autoscaling.minReplica=3"}}, []string{"minReplica"}},
		{"unknown top-level key", "search", "staging", renderOpts{Set: []string{"replicaCount=3"}}, []string{"replicaCount"}},
		{"unknown key in an environment block", "booking", "prod", renderOpts{Set: []string{"environments.prod.cpu=1"}}, []string{"cpu"}},
		{"missing image", "booking", "staging", renderOpts{NoImage: true}, []string{"repository"}},
		{"latest tag", "patient", "staging", renderOpts{Set: []string{"image.tag=latest"}}, []string{"latest"}},
		{"no tag nor digest", "patient", "staging", renderOpts{Set: []string{"image.tag="}}, []string{"image.tag or image.digest is required"}},
		{"prod without digest", "booking", "prod", renderOpts{Set: []string{"image.digest="}}, []string{"image.digest is required in prod"}},
		{"malformed digest", "booking", "prod", renderOpts{Set: []string{"image.digest=sha256:abc"}}, []string{"digest"}},
		{"unknown service", "booking", "prod", renderOpts{Set: []string{"service=billing"}}, []string{"service"}},
		{"no environment file", "booking", "prod", renderOpts{Set: []string{"environment=qa"}}, []string{"environment"}},
		{"router without supergraph", "router", "prod", renderOpts{SetFile: []string{"routerConfig.executionConfig=" + emptyFile(t)}}, []string{"routerConfig.executionConfig is required"}},
		{"store without CIDRs", "booking", "staging", renderOpts{Files: []string{valuesFile(t, "network: {cidrs: {postgres: []}}")}}, []string{"network.cidrs.postgres is required"}},
		{"collector port not the endpoint's", "booking", "prod", renderOpts{Set: []string{"monitoring.otlp.port=4317"}}, []string{"monitoring.otlp.port is 4317"}},
		{"collector namespace not the endpoint's", "search", "staging", renderOpts{Set: []string{"monitoring.otlp.namespace=observability"}}, []string{"monitoring.otlp.namespace is observability"}},
		{"collector port not a number", "search", "staging", renderOpts{Set: []string{"monitoring.otlp.port=otlp"}}, []string{"port"}},
		{"HPA bounds reversed", "notification", "staging", renderOpts{Set: []string{"autoscaling.minReplicas=5", "autoscaling.maxReplicas=2"}}, []string{"minReplicas"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(c.service, c.env, c.opts)
			if err == nil {
				t.Fatalf("rendered; want an error mentioning %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func valuesFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func emptyFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlertsAndDashboardShipWithTheRouterRelease(t *testing.T) {
	for _, r := range all(t) {
		rules := r.kinds("PrometheusRule")
		if r.Service != "router" {
			if len(rules) != 0 {
				t.Errorf("%s/%s: alert rules outside the router release (they would be loaded once per service)", r.Service, r.Env)
			}
			continue
		}
		pr := rules[0].Obj.(*monitoringv1.PrometheusRule)
		alerts := map[string]string{}
		for _, g := range pr.Spec.Groups {
			for _, rule := range g.Rules {
				alerts[rule.Alert] = rule.Expr.String()
			}
		}
		for alert, metric := range map[string]string{
			"CareslotOutboxEventsWaiting": "careslot_outbox_oldest_age_seconds",
			"CareslotConsumerLagging":     "careslot_kafka_consumer_lag",
			"CareslotRouter5xx":           "router_http_requests_total",
			"CareslotBookingSlow":         "careslot_graphql_operation_duration_seconds_bucket",
		} {
			if !strings.Contains(alerts[alert], metric) {
				t.Errorf("%s/%s: alert %s is %q, want it on %s", r.Service, r.Env, alert, alerts[alert], metric)
			}
		}
		var dash struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		var found bool
		for _, m := range r.kinds("ConfigMap") {
			cm := m.Obj.(*corev1.ConfigMap)
			if raw, ok := cm.Data["careslot.json"]; ok {
				found = true
				if cm.Labels["grafana_dashboard"] != "1" {
					t.Errorf("%s/%s: dashboard ConfigMap labels %v", r.Service, r.Env, cm.Labels)
				}
				if err := json.Unmarshal([]byte(raw), &dash); err != nil || len(dash.Panels) == 0 {
					t.Errorf("%s/%s: dashboard: %v, %d panels", r.Service, r.Env, err, len(dash.Panels))
				}
			}
		}
		if !found {
			t.Errorf("%s/%s: no dashboard ConfigMap", r.Service, r.Env)
		}
	}
}
