{{/*
Names. Kubernetes names are DNS labels: at most 63 characters, and the
suffixes added below ("-controller", "-invoker-admin", ...) must still fit, so
the base name is cut to 40.
*/}}
{{- define "flint.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "flint.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "flint.controller.fullname" -}}
{{- printf "%s-controller" (include "flint.fullname" .) }}
{{- end }}

{{/* The headless Service that governs the StatefulSet (stable pod DNS). */}}
{{- define "flint.controller.headless" -}}
{{- printf "%s-controller-headless" (include "flint.fullname" .) }}
{{- end }}

{{- define "flint.invoker.fullname" -}}
{{- printf "%s-invoker" (include "flint.fullname" .) }}
{{- end }}

{{- define "flint.invoker.admin" -}}
{{- printf "%s-invoker-admin" (include "flint.fullname" .) }}
{{- end }}

{{- define "flint.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flint.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flint.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller's API as the invokers and the test pod reach it. */}}
{{- define "flint.controller.url" -}}
{{- printf "http://%s:%v" (include "flint.controller.fullname" .) .Values.controller.service.port }}
{{- end }}

{{/*
Labels. selectorLabels never change after install (a Deployment's selector is
immutable), so they hold only the name, the instance and the component.
Call with (dict "ctx" $ "component" "controller").
*/}}
{{- define "flint.labels" -}}
helm.sh/chart: {{ include "flint.chart" .ctx }}
{{ include "flint.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: flint
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "flint.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flint.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "flint.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the pod must outlive the preStop sleep plus the
binary's own grace period, or Kubernetes kills it with SIGKILL while
invocations are still finishing. Call with (dict "grace" N "preStop" N "set" V).
*/}}
{{- define "flint.terminationGrace" -}}
{{- $floor := add .grace .preStop }}
{{- if kindIs "invalid" .set }}
{{- add $floor 15 }}
{{- else if le (int .set) (int $floor) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be larger than the preStop sleep plus graceSeconds (%v), or in-flight work is killed" .set $floor) }}
{{- else }}
{{- .set }}
{{- end }}
{{- end }}

{{/* Environment shared by both components: log filter and price plan. */}}
{{- define "flint.commonEnv" -}}
{{- with .Values.logFilter }}
- name: RUST_LOG
  value: {{ . | quote }}
{{- end }}
{{- $prices := dict "gbSecond" "FLINT_PRICE_GB_SECOND" "perMillionRequests" "FLINT_PRICE_PER_MILLION_REQUESTS" "billingGranularity" "FLINT_BILLING_GRANULARITY" "freeGbSeconds" "FLINT_FREE_GB_SECONDS" "freeRequests" "FLINT_FREE_REQUESTS" }}
{{- range $key := keys $prices | sortAlpha }}
{{- $value := index $.Values.pricing $key }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ index $prices $key }}
  {{- /* Numbers arrive as float64: print integers without an exponent. */}}
  value: {{ ternary ($value | int64 | toString) ($value | toString) (kindIs "float64" $value) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The pod's securityContext and the container's, shared by all pods. */}}
{{- define "flint.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "flint.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* An httpGet probe. Call with (dict "path" "/healthz" "port" "api" "timing" .Values.x.probes.liveness). */}}
{{- define "flint.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
periodSeconds: {{ .timing.periodSeconds }}
failureThreshold: {{ .timing.failureThreshold }}
timeoutSeconds: {{ .timing.timeoutSeconds }}
{{- end }}

{{/* host:port for a listener, bracketing IPv6 addresses. */}}
{{- define "flint.listen" -}}
{{- if contains ":" .host }}
{{- printf "[%s]:%v" .host .port }}
{{- else }}
{{- printf "%s:%v" .host .port }}
{{- end }}
{{- end }}

{{/* The Secret holding the cluster credential: the user's, or the chart's own. */}}
{{- define "flint.clusterToken.secretName" -}}
{{- default (printf "%s-cluster-token" (include "flint.fullname" .)) .Values.clusterToken.existingSecret }}
{{- end }}

{{/* FLINT_CLUSTER_TOKEN from that Secret, for the controller and the invokers. */}}
{{- define "flint.clusterToken.env" -}}
- name: FLINT_CLUSTER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "flint.clusterToken.secretName" . }}
      key: {{ .Values.clusterToken.secretKey }}
{{- end }}
