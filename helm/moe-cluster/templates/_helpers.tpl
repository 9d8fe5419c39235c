{{/* Names: every object is called RELEASE-moe-cluster[-COMPONENT], cut to the 63 characters Kubernetes allows. */}}
{{- define "moe-cluster.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "moe-cluster.component" -}}
{{- printf "%s-%s" (include "moe-cluster.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every pod of the release carries: the bootstrap's pod label selector matches these. */}}
{{- define "moe-cluster.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "moe-cluster.labels" -}}
{{ include "moe-cluster.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (coordinator, trainer, postgresql): call with (dict "root" $ "component" "x"). */}}
{{- define "moe-cluster.componentSelectorLabels" -}}
{{ include "moe-cluster.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "moe-cluster.componentLabels" -}}
{{ include "moe-cluster.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "moe-cluster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "moe-cluster.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "moe-cluster.image" -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "%s-%s" .Chart.AppVersion .Values.image.variant) .Values.image.tag) -}}
{{- end -}}

{{/* The Secret and key holding the Npgsql connection string (in-chart PostgreSQL or an external one). */}}
{{- define "moe-cluster.persistenceSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- default (include "moe-cluster.component" (dict "root" . "component" "postgresql")) .Values.postgresql.existingSecret -}}
{{- else -}}
{{- required "postgresql.external.existingSecret is required when postgresql.enabled is false" .Values.postgresql.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "moe-cluster.requiredContactPoints" -}}
{{- default .Values.coordinator.replicas .Values.bootstrap.requiredContactPoints -}}
{{- end -}}
