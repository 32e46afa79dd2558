{{/* careslot.podTemplate: the pod of a Deployment or a Rollout. Takes dict "v" $v "root" $. */}}
{{- define "careslot.podTemplate" -}}
{{- $v := .v -}}
{{- $root := .root -}}
{{- $router := eq $v.service "router" -}}
metadata:
  labels:
    {{- include "careslot.labels" . | nindent 4 }}
  annotations:
    {{- if $router }}
    # A new supergraph (router-config/config.json) changes this and rolls the router.
    checksum/router-config: {{ $v.routerConfig.executionConfig | sha256sum }}
    {{- end }}
    {{- if $v.countries }}
    checksum/countries: {{ $v.countries | sha256sum }}
    {{- end }}
    {{- if $v.secrets.env }}
    checksum/secret-refs: {{ toJson $v.secrets.env | sha256sum }}
    {{- end }}
spec:
  serviceAccountName: {{ include "careslot.name" $v }}
  # IRSA mounts its own projected token; nothing here talks to the Kubernetes API.
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  securityContext:
    {{- include "careslot.podSecurityContext" . | nindent 4 }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  topologySpreadConstraints:
    - maxSkew: {{ $v.topologySpread.maxSkew }}
      topologyKey: {{ $v.topologySpread.zoneKey }}
      whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "careslot.selector" $v | nindent 10 }}
      matchLabelKeys: [{{ if $v.canary.enabled }}rollouts-pod-template-hash{{ else }}pod-template-hash{{ end }}]
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "careslot.selector" $v | nindent 10 }}
      matchLabelKeys: [{{ if $v.canary.enabled }}rollouts-pod-template-hash{{ else }}pod-template-hash{{ end }}]
  containers:
    - name: careslot
      image: {{ include "careslot.image" $v | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- if $router }}
      args: [router, -config, /etc/careslot/router/config.json]
      {{- else }}
      args: [serve, {{ $v.service }}]
      {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.ports.http }}
          protocol: TCP
        - name: metrics
          containerPort: {{ $v.ports.metrics }}
          protocol: TCP
      env:
        - name: {{ upper $v.service }}_ADDR
          value: {{ printf "0.0.0.0:%d" (int $v.ports.http) | quote }}
        - name: {{ upper $v.service }}_METRICS_ADDR
          value: {{ printf "0.0.0.0:%d" (int $v.ports.metrics) | quote }}
        {{- include "careslot.platformEnv" . | nindent 8 }}
      startupProbe:
        httpGet: {path: {{ $v.probes.livenessPath }}, port: http}
        periodSeconds: {{ $v.probes.periodSeconds }}
        failureThreshold: {{ $v.probes.startupFailureThreshold }}
      livenessProbe:
        httpGet: {path: {{ $v.probes.livenessPath }}, port: http}
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      readinessProbe:
        httpGet: {path: {{ $v.probes.readinessPath }}, port: http}
        periodSeconds: {{ $v.probes.periodSeconds }}
        timeoutSeconds: 3
        failureThreshold: 2
      lifecycle:
        preStop:
          sleep: {seconds: {{ $v.preStopSleepSeconds }}}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- include "careslot.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $router }}
        - name: router-config
          mountPath: /etc/careslot/router
          readOnly: true
        {{- end }}
        {{- if $v.countries }}
        - name: countries
          mountPath: /etc/careslot/countries
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
    {{- if $router }}
    - name: router-config
      configMap:
        name: {{ include "careslot.name" $v }}-config
    {{- end }}
    {{- if $v.countries }}
    - name: countries
      configMap:
        name: {{ include "careslot.name" $v }}-countries
    {{- end }}
{{- end -}}
