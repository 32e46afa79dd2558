package helm

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Strict structs of the custom resources' published fields (Argo Rollouts argoproj.io/v1alpha1,
// external-secrets.io/v1), limited to what the chart may use: a field outside them fails the
// strict decode, so a typo or a field the CRD does not have cannot pass; the tests read the
// chart's promises from them. Their Go modules are not served here (Argo Rollouts) or drag a whole
// operator in (external-secrets). The published schemas themselves are checked too
// (crdschema_test.go, testdata/crds).

// Rollout is argoproj.io/v1alpha1 Rollout.
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              RolloutSpec `json:"spec"`
}

type RolloutSpec struct {
	Replicas                *int32                 `json:"replicas,omitempty"`
	Selector                *metav1.LabelSelector  `json:"selector"`
	Template                corev1.PodTemplateSpec `json:"template"`
	MinReadySeconds         int32                  `json:"minReadySeconds,omitempty"`
	RevisionHistoryLimit    *int32                 `json:"revisionHistoryLimit,omitempty"`
	Paused                  bool                   `json:"paused,omitempty"`
	ProgressDeadlineSeconds *int32                 `json:"progressDeadlineSeconds,omitempty"`
	Strategy                RolloutStrategy        `json:"strategy"`
}

type RolloutStrategy struct {
	Canary *CanaryStrategy `json:"canary,omitempty"`
}

type CanaryStrategy struct {
	CanaryService  string              `json:"canaryService,omitempty"`
	StableService  string              `json:"stableService,omitempty"`
	Steps          []CanaryStep        `json:"steps,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *intstr.IntOrString `json:"maxSurge,omitempty"`
}

type CanaryStep struct {
	SetWeight *int32           `json:"setWeight,omitempty"`
	Pause     *RolloutPause    `json:"pause,omitempty"`
	Analysis  *RolloutAnalysis `json:"analysis,omitempty"`
}

type RolloutPause struct {
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

type RolloutAnalysis struct {
	Templates []AnalysisTemplateRef `json:"templates"`
	Args      []AnalysisArgument    `json:"args,omitempty"`
}

type AnalysisTemplateRef struct {
	TemplateName string `json:"templateName"`
	ClusterScope bool   `json:"clusterScope,omitempty"`
}

type AnalysisArgument struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// AnalysisTemplate is argoproj.io/v1alpha1 AnalysisTemplate.
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

type AnalysisTemplateSpec struct {
	Metrics []Metric           `json:"metrics"`
	Args    []AnalysisArgument `json:"args,omitempty"`
}

type Metric struct {
	Name                  string              `json:"name"`
	Interval              string              `json:"interval,omitempty"`
	InitialDelay          string              `json:"initialDelay,omitempty"`
	Count                 *intstr.IntOrString `json:"count,omitempty"`
	SuccessCondition      string              `json:"successCondition,omitempty"`
	FailureCondition      string              `json:"failureCondition,omitempty"`
	FailureLimit          *intstr.IntOrString `json:"failureLimit,omitempty"`
	InconclusiveLimit     *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	Provider              MetricProvider      `json:"provider"`
}

type MetricProvider struct {
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
}

type PrometheusMetric struct {
	Address string `json:"address,omitempty"`
	Query   string `json:"query,omitempty"`
	Timeout *int64 `json:"timeout,omitempty"`
}

// ExternalSecret is external-secrets.io/v1 ExternalSecret.
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ExternalSecretSpec `json:"spec"`
}

type ExternalSecretSpec struct {
	SecretStoreRef  SecretStoreRef       `json:"secretStoreRef"`
	Target          ExternalSecretTarget `json:"target"`
	RefreshInterval *metav1.Duration     `json:"refreshInterval,omitempty"`
	Data            []ExternalSecretData `json:"data,omitempty"`
}

type SecretStoreRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

type ExternalSecretTarget struct {
	Name           string `json:"name,omitempty"`
	CreationPolicy string `json:"creationPolicy,omitempty"`
	DeletionPolicy string `json:"deletionPolicy,omitempty"`
	Immutable      bool   `json:"immutable,omitempty"`
}

type ExternalSecretData struct {
	SecretKey string                      `json:"secretKey"`
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`
}

type ExternalSecretDataRemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
	Version  string `json:"version,omitempty"`
}
