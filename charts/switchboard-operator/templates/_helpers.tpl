{{/*
Names are fixed, not derived from the release name: the ClusterRole and the CRD are
cluster-wide, so one release per cluster, and clusterrole.yaml and leader-election-role.yaml
stay static YAML that a test loads as it is (e2e/operator/restricted.ts).
*/}}
{{- define "switchboard-operator.name" -}}switchboard-operator{{- end }}

{{- define "switchboard-operator.selectorLabels" -}}
app.kubernetes.io/name: switchboard-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "switchboard-operator.labels" -}}
{{ include "switchboard-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "switchboard-operator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "switchboard-operator.dashboardNamespace" -}}
{{ .Values.dashboards.namespace | default .Release.Namespace }}
{{- end }}
