{{/* Environment of coordinator pods: blob store side, and the job they start (or resume) once the cluster is up. */}}
{{- define "moe-cluster.coordinatorEnv" -}}
{{- if eq .Values.blobs.mode "shared" }}
- name: MOE_Blobs__Directory
  value: "/blobs"
{{- else if eq .Values.blobs.mode "s3" }}
{{- include "moe-cluster.s3Env" . }}
{{- else }}
- name: MOE_Blobs__ServeUrl
  value: {{ printf "%s://0.0.0.0:%v" (ternary "https" "http" .Values.tls.enabled) .Values.blobs.httpPort | quote }}
{{- if .Values.blobs.maxUploadBytes }}
- name: MOE_Blobs__MaxUploadBytes
  value: {{ .Values.blobs.maxUploadBytes | quote }}
{{- end }}
- name: MOE_Blobs__Token
  valueFrom:
    secretKeyRef:
      name: {{ default (include "moe-cluster.component" (dict "root" . "component" "blobs")) .Values.blobs.existingSecret }}
      key: token
{{- end }}
{{- if .Values.job.enabled }}
- name: MOE_Job__JobId
  value: {{ .Values.job.id | quote }}
- name: MOE_Job__Preset
  value: {{ .Values.job.preset | quote }}
- name: MOE_Job__Rounds
  value: {{ .Values.job.rounds | quote }}
- name: MOE_Job__InnerSteps
  value: {{ .Values.job.innerSteps | quote }}
- name: MOE_Job__OverlapSteps
  value: {{ .Values.job.overlapSteps | quote }}
- name: MOE_Job__Quorum
  value: {{ .Values.job.quorum | quote }}
- name: MOE_Job__DeltaPrecision
  value: {{ .Values.job.deltaPrecision | quote }}
{{- if not (kindIs "invalid" .Values.job.slices) }}
- name: MOE_Job__Slices
  value: {{ .Values.job.slices | quote }}
{{- end }}
{{- range $key, $value := .Values.job.shape }}
- name: {{ printf "MOE_Job__%s" $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment of trainer pods: local trainer actors, device, and where the blobs are. */}}
{{- define "moe-cluster.trainerEnv" -}}
- name: MOE_Trainer__Count
  value: {{ ternary .Values.trainer.gpu.count .Values.trainer.trainersPerPod .Values.trainer.gpu.enabled | quote }}
- name: MOE_Trainer__Device
  value: {{ ternary "cuda" "cpu" .Values.trainer.gpu.enabled | quote }}
{{- if eq .Values.blobs.mode "shared" }}
- name: MOE_Blobs__Directory
  value: "/blobs"
{{- else if eq .Values.blobs.mode "s3" }}
{{- include "moe-cluster.s3Env" . }}
{{- else }}
- name: MOE_Blobs__Kind
  value: "Http"
- name: MOE_Blobs__Url
  value: {{ printf "%s://%s:%v" (ternary "https" "http" .Values.tls.enabled) (include "moe-cluster.component" (dict "root" . "component" "blobs")) .Values.blobs.httpPort | quote }}
- name: MOE_Blobs__Token
  valueFrom:
    secretKeyRef:
      name: {{ default (include "moe-cluster.component" (dict "root" . "component" "blobs")) .Values.blobs.existingSecret }}
      key: token
{{- end }}
{{- end -}}

{{/* Every node pod's blob store in blobs.mode=s3: the bucket, and the keys from a Secret unless the pods have their own. */}}
{{- define "moe-cluster.s3Env" -}}
{{- $s3 := .Values.blobs.s3 }}
- name: MOE_Blobs__Kind
  value: "S3"
- name: MOE_Blobs__S3__Bucket
  value: {{ required "blobs.s3.bucket is required when blobs.mode is s3" $s3.bucket | quote }}
- name: MOE_Blobs__S3__Prefix
  value: {{ $s3.prefix | quote }}
{{- with $s3.endpoint }}
- name: MOE_Blobs__S3__Endpoint
  value: {{ . | quote }}
{{- end }}
{{- with $s3.region }}
- name: MOE_Blobs__S3__Region
  value: {{ . | quote }}
{{- end }}
- name: MOE_Blobs__S3__PathStyle
  value: {{ $s3.pathStyle | quote }}
- name: MOE_Blobs__S3__ChunkedUploads
  value: {{ $s3.chunkedUploads | quote }}
- name: MOE_Blobs__S3__ChecksumsWhenRequired
  value: {{ $s3.checksumsWhenRequired | quote }}
{{- with $s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: accessKeyId
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: secretAccessKey
{{- end }}
{{- end -}}

{{/* Trainer resources, with the GPU request added when trainer.gpu.enabled. */}}
{{- define "moe-cluster.trainerResources" -}}
{{- $resources := deepCopy .Values.trainer.resources }}
{{- if .Values.trainer.gpu.enabled }}
{{- $limits := default dict $resources.limits }}
{{- $_ := set $limits "nvidia.com/gpu" .Values.trainer.gpu.count }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toYaml $resources }}
{{- end -}}

{{/* Prometheus scrape annotations, when no ServiceMonitor is rendered. */}}
{{- define "moe-cluster.serviceMonitorEnabled" -}}
{{- if eq (toString .Values.metrics.serviceMonitor.enabled) "auto" -}}
{{- .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" -}}
{{- else -}}
{{- .Values.metrics.serviceMonitor.enabled -}}
{{- end -}}
{{- end -}}

{{- define "moe-cluster.scrapeAnnotations" -}}
{{- if ne (include "moe-cluster.serviceMonitorEnabled" .) "true" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.ports.management | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}
