{{/*
careslot.values: the effective values, the service's `environments.<environment>` block merged
over everything else. Every template starts with
  {{- $v := include "careslot.values" . | fromYaml }}
(an override can raise or set a value; like every Helm merge it cannot set false, 0 or "").
*/}}
{{- define "careslot.values" -}}
{{- $envs := .Values.environments | default dict -}}
{{- $over := index $envs (.Values.environment | default "") | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .Values) (deepCopy $over)) -}}
{{- end -}}

{{/* careslot.name: the resources' name, careslot-<service>; fixed so services find each other. */}}
{{- define "careslot.name" -}}
careslot-{{ .service }}
{{- end -}}

{{/* careslot.selector: the labels pods are selected by. */}}
{{- define "careslot.selector" -}}
app.kubernetes.io/name: careslot
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* careslot.labels: every resource's labels. Takes dict "v" $v "root" $. */}}
{{- define "careslot.labels" -}}
{{ include "careslot.selector" .v }}
app.kubernetes.io/part-of: careslot
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
careslot.io/environment: {{ .v.environment }}
{{- end -}}

{{/* careslot.isSubgraph: "true" for the six subgraphs, "" for the router. */}}
{{- define "careslot.isSubgraph" -}}
{{- if ne .service "router" }}true{{ end -}}
{{- end -}}

{{/* careslot.image: repository@digest, or repository:tag; never latest. */}}
{{- define "careslot.image" -}}
{{- $img := .image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else if $img.requireDigest -}}
{{- fail (printf "image.digest is required in %s: deploy the digest `make image` printed (build/image/digest), e.g. --set image.digest=sha256:…" .environment) -}}
{{- else if not $img.tag -}}
{{- fail "image.tag or image.digest is required (a version, never latest)" -}}
{{- else if eq $img.tag "latest" -}}
{{- fail "image.tag must not be latest: pin a version or a digest" -}}
{{- else -}}
{{ $img.repository }}:{{ $img.tag }}
{{- end -}}
{{- end -}}

{{/* careslot.secretName: the Secret that external-secrets writes for the service. */}}
{{- define "careslot.secretName" -}}
careslot-{{ .service }}-env
{{- end -}}

{{/* careslot.podSecurityContext and careslot.containerSecurityContext: every container runs as
UID 1000 with nothing it does not need. */}}
{{- define "careslot.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "careslot.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* careslot.platformEnv: the environment every careslot process of this release gets.
Takes dict "v" $v "root" $. */}}
{{- define "careslot.platformEnv" -}}
{{- $v := .v -}}
{{- $ns := $v.platform.namespace | default .root.Release.Namespace -}}
{{- range $s := list "practitioner" "patient" "search" "availability" "booking" "notification" }}
- name: {{ upper $s }}_INTERNAL_URL
  value: {{ printf "http://careslot-%s.%s.svc:%d" $s $ns (int $v.ports.http) | quote }}
{{- end }}
{{- with $v.platform.kafkaBrokers }}
- name: KAFKA_BROKERS
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.kafkaTopicPrefix }}
- name: KAFKA_TOPIC_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.redisClusterAddrs }}
- name: REDIS_CLUSTER_ADDRS
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.oidc.issuer }}
- name: OIDC_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.oidc.jwksURL }}
- name: OIDC_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.oidc.audience }}
- name: OIDC_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- with $v.platform.awsRegion }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ $v.platform.logLevel | quote }}
- name: CARESLOT_DATA_DIR
  value: /tmp/careslot
{{- with $v.platform.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ include "careslot.name" $v | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "deployment.environment.name=%s,service.namespace=careslot" $v.environment | quote }}
{{- end }}
{{- if $v.countries }}
- name: COUNTRIES_FILE
  value: /etc/careslot/countries/countries.yaml
{{- end }}
{{- range $name := keys $v.env | sortAlpha }}
- name: {{ $name }}
  value: {{ index $v.env $name | toString | quote }}
{{- end }}
{{- range $name := keys $v.secrets.env | sortAlpha }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "careslot.secretName" $v }}
      key: {{ $name }}
{{- end }}
{{- end -}}
