{{/* The prefix of every object's name. */}}
{{- define "aurora.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aurora.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "aurora.selector" (list . "vault") */}}
{{- define "aurora.selector" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "aurora.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{- define "aurora.vaultInternal" -}}{{ include "aurora.fullname" . }}-vault-internal{{- end -}}

{{/* The address the app, the agent and the CSI provider use: the client Service, or an external Vault. */}}
{{- define "aurora.vaultAddr" -}}
{{- if .Values.vault.external.address -}}
{{- .Values.vault.external.address -}}
{{- else -}}
{{- printf "http://%s-vault.%s.svc:8200" (include "aurora.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* One Vault pod's stable address through the headless Service. */}}
{{- define "aurora.vaultPodAddr" -}}
{{- $root := index . 0 -}}
{{- printf "http://%s-vault-%d.%s.%s.svc:8200" (include "aurora.fullname" $root) (index . 1) (include "aurora.vaultInternal" $root) $root.Release.Namespace -}}
{{- end -}}

{{- define "aurora.initSecretName" -}}
{{- default (printf "%s-vault-init" (include "aurora.fullname" .)) .Values.vaultInit.initSecretName -}}
{{- end -}}

{{- define "aurora.postgresSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- required "postgresql.auth.existingSecret is required: create a Secret with key `password` (docs/kubernetes.md) and name it here" .Values.postgresql.auth.existingSecret -}}
{{- else -}}
{{- required "postgresql.external.existingSecret is required with postgresql.enabled=false" .Values.postgresql.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
"true" when Vault's database secrets engine issues the app's PostgreSQL users: the chart's own PostgreSQL and
the chart's own Vault (vault-init configures the engine), and postgresql.vaultDatabaseEngine.enabled.
*/}}
{{- define "aurora.databaseEngine" -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.vaultDatabaseEngine.enabled (not .Values.vault.external.address) -}}true{{- end -}}
{{- end -}}

{{/* The app's SECRETS_CONFIG: name -> {path, scope}, from .Values.secrets. */}}
{{- define "aurora.secretsConfig" -}}
{{- $out := dict -}}
{{- range .Values.secrets -}}
{{- $_ := set $out .objectName (dict "path" (printf "/run/vault-secrets/%s" .objectName) "scope" .scope) -}}
{{- end -}}
{{- dict "secret" $out | toPrettyJson -}}
{{- end -}}
