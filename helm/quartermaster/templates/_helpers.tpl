{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "quartermaster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, else <release>-<chart name> (just the
release name when it already contains the chart name). Truncated to 63 characters (DNS label).
*/}}
{{- define "quartermaster.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The namespace every namespaced resource goes to.
*/}}
{{- define "quartermaster.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
chart label value: name-version.
*/}}
{{- define "quartermaster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource's metadata: commonLabels, then the chart's own labels, which win over a
commonLabels key of the same name (the selector labels must stay what the selectors match, and
managed-by what Helm checks). Built as one dict and rendered once, so no key can appear twice.
*/}}
{{- define "quartermaster.labels" -}}
{{- $chart := dict "helm.sh/chart" (include "quartermaster.chart" .) "app.kubernetes.io/managed-by" .Release.Service }}
{{- $_ := set $chart "app.kubernetes.io/version" ((default .Chart.AppVersion .Values.image.tag) | toString | trunc 63 | trimSuffix "-") }}
{{- $_ = set $chart "app.kubernetes.io/component" "broker" }}
{{- $_ = set $chart "app.kubernetes.io/part-of" "quartermaster" }}
{{- $labels := mustMergeOverwrite (deepCopy (default (dict) .Values.commonLabels)) $chart (include "quartermaster.selectorLabels" . | fromYaml) }}
{{- toYaml $labels }}
{{- end }}

{{/*
Labels of the pod template: commonLabels, then podLabels over them, then the chart's component
and part-of, then the selector labels, which win over everything (the Deployment's selector is
immutable and must match its pods). No helm.sh/chart or app.kubernetes.io/version: they change
with every chart or app release and would only be noise on the pods. One dict, rendered once.
*/}}
{{- define "quartermaster.podLabels" -}}
{{- $labels := mustMergeOverwrite (deepCopy (default (dict) .Values.commonLabels)) (deepCopy (default (dict) .Values.podLabels)) (dict "app.kubernetes.io/component" "broker" "app.kubernetes.io/part-of" "quartermaster") (include "quartermaster.selectorLabels" . | fromYaml) }}
{{- toYaml $labels }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable). Rendered with
toYaml, so a release name YAML would read as a number (123, 1e3) stays a string.
*/}}
{{- define "quartermaster.selectorLabels" -}}
{{- toYaml (dict "app.kubernetes.io/name" (include "quartermaster.name" .) "app.kubernetes.io/instance" .Release.Name) }}
{{- end }}

{{/*
Annotations of every resource (commonAnnotations), as a block to nest under metadata.annotations;
empty when there are none.
*/}}
{{- define "quartermaster.annotations" -}}
{{- with .Values.commonAnnotations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
The service account's name.
*/}}
{{- define "quartermaster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "quartermaster.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: [registry/]repository(@digest|:tag), tag defaulting to the appVersion.
*/}}
{{- define "quartermaster.image" -}}
{{- $repository := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The ConfigMap holding the Cedar policies: the user's, or the chart's.
*/}}
{{- define "quartermaster.policiesConfigMapName" -}}
{{- if .Values.policies.existingConfigMap }}
{{- .Values.policies.existingConfigMap }}
{{- else }}
{{- printf "%s-policies" (include "quartermaster.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The data of the chart's policy ConfigMap, as YAML: the files of files/policies/ the broker reads
from its policy directory (schema.cedarschema and *.cedar, src/policy/policy_set.ts readPolicyDir;
not policy_tests.yaml, the `quartermaster policy test` cases), with policies.files added or
replacing them by name. A policies.files name the broker would not read fails the render.
*/}}
{{- define "quartermaster.isPolicyFile" -}}
{{- if or (eq . "schema.cedarschema") (hasSuffix ".cedar" .) }}true{{ end }}
{{- end }}
{{- define "quartermaster.policyFiles" -}}
{{- $files := dict }}
{{- range $path, $_ := .Files.Glob "files/policies/*" }}
{{- if include "quartermaster.isPolicyFile" (base $path) }}
{{- $_ := set $files (base $path) ($.Files.Get $path) }}
{{- end }}
{{- end }}
{{- range $name, $content := .Values.policies.files }}
{{- if not (include "quartermaster.isPolicyFile" $name) }}
{{- fail (printf "policies.files: %q is neither schema.cedarschema nor a .cedar file, and the broker reads nothing else from its policy directory" $name) }}
{{- end }}
{{- $_ := set $files $name $content }}
{{- end }}
{{- if not (hasKey $files "schema.cedarschema") }}
{{- fail "the policy ConfigMap needs schema.cedarschema (files/policies/ or policies.files)" }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/*
Where the broker finds its config file and its policies (inside the container).
*/}}
{{- define "quartermaster.configPath" -}}/etc/quartermaster/config.yaml{{- end }}
{{- define "quartermaster.policyDir" -}}/etc/quartermaster/policies{{- end }}

{{/*
The name of the port /metrics is scraped on: its own listener's, or the API's.
*/}}
{{- define "quartermaster.metricsPortName" -}}
{{- if .Values.metricsListener.enabled }}metrics{{ else }}http{{ end }}
{{- end }}

{{/*
The broker's config file: .Values.config (deep-copied) with exactly these keys set by the chart —
  mode: production
  server.host: 0.0.0.0
  server.port: .Values.containerPorts.http
  policy.dir: /etc/quartermaster/policies
  server.metricsListener: {host: 0.0.0.0, port: .Values.containerPorts.metrics}, only when
    .Values.metricsListener.enabled (config.server.metricsListener itself is refused, so the
    Service, probes and ServiceMonitor always agree with the broker about its ports).
Everything else is the user's and is validated by the broker at boot.
*/}}
{{- define "quartermaster.brokerConfig" -}}
{{- if not (kindIs "map" .Values.config) }}
{{- fail "config must be an object: the broker's configuration file (docs/configuration.md)" }}
{{- end }}
{{- $config := deepCopy .Values.config }}
{{- $server := dict }}
{{- if hasKey $config "server" }}
{{- if not (kindIs "map" $config.server) }}
{{- fail "config.server must be an object" }}
{{- end }}
{{- $server = $config.server }}
{{- end }}
{{- if hasKey $server "metricsListener" }}
{{- fail "config.server.metricsListener is set by the chart: use metricsListener.enabled and containerPorts.metrics instead" }}
{{- end }}
{{- $_ := set $server "host" "0.0.0.0" }}
{{- $_ = set $server "port" (int .Values.containerPorts.http) }}
{{- if .Values.metricsListener.enabled }}
{{- $_ = set $server "metricsListener" (dict "host" "0.0.0.0" "port" (int .Values.containerPorts.metrics)) }}
{{- end }}
{{- $_ = set $config "server" $server }}
{{- $policy := dict }}
{{- if hasKey $config "policy" }}
{{- if not (kindIs "map" $config.policy) }}
{{- fail "config.policy must be an object" }}
{{- end }}
{{- $policy = $config.policy }}
{{- end }}
{{- $_ = set $policy "dir" (include "quartermaster.policyDir" .) }}
{{- $_ = set $config "policy" $policy }}
{{- $_ = set $config "mode" "production" }}
{{- toYaml $config }}
{{- end }}

{{/*
The broker's shutdownGraceSeconds (its default, 20, when the config does not set it).
*/}}
{{- define "quartermaster.shutdownGraceSeconds" -}}
{{- $grace := 20 }}
{{- if and (kindIs "map" .Values.config) (hasKey .Values.config "server") (kindIs "map" .Values.config.server) (hasKey .Values.config.server "shutdownGraceSeconds") }}
{{- $grace = int .Values.config.server.shutdownGraceSeconds }}
{{- end }}
{{- $grace }}
{{- end }}

{{/*
Volume names of a secret mount: the Secret volume, and the emptyDir its files are copied into.
*/}}
{{- define "quartermaster.secretVolumeName" -}}
{{- printf "secret-%s" .name }}
{{- end }}
{{- define "quartermaster.secretCopyVolumeName" -}}
{{- printf "secret-%s-files" .name }}
{{- end }}

{{/*
Checks of values the schema cannot express; fails the render with a message.
*/}}
{{- define "quartermaster.validate" -}}
{{- $grace := int (include "quartermaster.shutdownGraceSeconds" .) }}
{{- $preStop := int .Values.lifecycle.preStopSleepSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add $grace $preStop) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed lifecycle.preStopSleepSeconds (%d) + config.server.shutdownGraceSeconds (%d): the kubelet would kill the broker in the middle of its drain" (int .Values.terminationGracePeriodSeconds) $preStop $grace) }}
{{- end }}
{{- $names := dict }}
{{- $paths := dict }}
{{- range .Values.secretMounts }}
{{- if hasKey $names .name }}
{{- fail (printf "secretMounts: the name %q is used twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- if hasKey $paths .mountPath }}
{{- fail (printf "secretMounts: the mountPath %q is used twice" .mountPath) }}
{{- end }}
{{- $_ = set $paths .mountPath true }}
{{- $p := trimSuffix "/" .mountPath }}
{{- if or (eq $p "/etc/quartermaster") (hasPrefix "/etc/quartermaster/" $p) (eq $p "/tmp") (hasPrefix "/tmp/" $p) (eq $p "/app") (hasPrefix "/app/" $p) }}
{{- fail (printf "secretMounts: mountPath %q would hide the broker's config, policies, /tmp or code" .mountPath) }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.metricsListener.enabled) }}
{{- fail "ingress.enabled needs metricsListener.enabled: true, else /metrics (unauthenticated) is served on the http port the ingress exposes" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if eq .name "PORT" }}
{{- fail "extraEnv: PORT would override config.server.port behind the chart's probes, Service and NetworkPolicy; set containerPorts.http instead" }}
{{- end }}
{{- end }}
{{- if and .Values.metricsListener.enabled (eq (int .Values.containerPorts.http) (int .Values.containerPorts.metrics)) }}
{{- fail "containerPorts.metrics must differ from containerPorts.http when metricsListener.enabled" }}
{{- end }}
{{- end }}
