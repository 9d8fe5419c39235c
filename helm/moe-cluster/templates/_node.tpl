{{/*
The container of a cluster node, shared by coordinator and trainer pods. Call with
(dict "root" $ "component" "coordinator|trainer" "roles" (list ...) "env" (list of extra env entries) "resources" ...).
Everything is configured through MOE_Section__Key variables (see docs/cli.md in the repository); secrets come
only from Secrets.
*/}}
{{- define "moe-cluster.nodeContainer" -}}
- name: node
  image: {{ include "moe-cluster.image" .root }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: ["node"]
  ports:
    - name: remoting
      containerPort: {{ .root.Values.ports.remoting }}
    - name: management
      containerPort: {{ .root.Values.ports.management }}
  env:
    - name: MOE_Node__SystemName
      value: {{ .root.Values.clusterName | quote }}
    - name: MOE_Node__Hostname
      value: "0.0.0.0"
    - name: MOE_Node__PublicHostname
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: MOE_Node__Port
      value: {{ .root.Values.ports.remoting | quote }}
    - name: MOE_Node__HttpUrl
      value: {{ printf "http://0.0.0.0:%v" .root.Values.ports.management | quote }}
    - name: MOE_Node__DataDirectory
      value: "/data"
    {{- range $i, $role := .roles }}
    - name: {{ printf "MOE_Node__Roles__%d" $i }}
      value: {{ $role | quote }}
    {{- end }}
    - name: MOE_Discovery__Method
      value: "Kubernetes"
    - name: MOE_Discovery__PodLabelSelector
      value: {{ printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,moe-cluster/node=true" .root.Chart.Name .root.Release.Name | quote }}
    - name: MOE_Discovery__RequiredContactPoints
      value: {{ include "moe-cluster.requiredContactPoints" .root | quote }}
    - name: MOE_Persistence__Provider
      value: "PostgreSql"
    - name: MOE_Persistence__ConnectionString
      valueFrom:
        secretKeyRef:
          name: {{ include "moe-cluster.persistenceSecret" .root }}
          key: {{ .root.Values.postgresql.external.secretKey }}
    {{- if .root.Values.tls.enabled }}
    - name: MOE_Node__Tls__CertificatePath
      value: {{ printf "/etc/moe/tls/%s" .root.Values.tls.certificateKey | quote }}
    - name: MOE_Node__Tls__CertificatePassword
      valueFrom:
        secretKeyRef:
          name: {{ required "tls.existingSecret is required when tls.enabled is true" .root.Values.tls.existingSecret }}
          key: {{ .root.Values.tls.passwordKey }}
          optional: true # a certificate file without a password needs no password key
    {{- end }}
    {{- with .env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  startupProbe:
    httpGet:
      path: /healthz
      port: management
    periodSeconds: 2
    failureThreshold: 60
  livenessProbe:
    httpGet:
      path: /healthz
      port: management
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: management
    periodSeconds: 5
    failureThreshold: 2
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: /data
    - name: tmp
      mountPath: /tmp
    {{- if eq .root.Values.blobs.mode "shared" }}
    - name: blobs
      mountPath: /blobs
    {{- end }}
    {{- if .root.Values.tls.enabled }}
    - name: tls
      mountPath: /etc/moe/tls
      readOnly: true
    {{- end }}
{{- end -}}

{{/* Volumes every node pod has besides its data volume. */}}
{{- define "moe-cluster.nodeVolumes" -}}
- name: tmp
  emptyDir: {}
{{- if eq .Values.blobs.mode "shared" }}
- name: blobs
  persistentVolumeClaim:
    claimName: {{ default (include "moe-cluster.component" (dict "root" . "component" "blobs")) .Values.blobs.shared.existingClaim }}
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .Values.tls.existingSecret }}
    items:
      - key: {{ .Values.tls.certificateKey }}
        path: {{ .Values.tls.certificateKey }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by node pods. */}}
{{- define "moe-cluster.nodePodSettings" -}}
serviceAccountName: {{ include "moe-cluster.serviceAccountName" . }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
