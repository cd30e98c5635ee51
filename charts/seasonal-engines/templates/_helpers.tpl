{{/* Names: <release>-seasonal-engines unless the release name already contains the chart's name. */}}
{{- define "seasonal-engines.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "seasonal-engines.fullname" -}}
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

{{- define "seasonal-engines.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seasonal-engines.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "seasonal-engines.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "seasonal-engines.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: seasonal-engines
{{- end }}

{{- define "seasonal-engines.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seasonal-engines.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Our image: the operator's container, and (passed as --builder-image) every build Job's init container. */}}
{{- define "seasonal-engines.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
RBAC rules: exactly the (group, resource, verb) triples in operator/seasonal_engines/adapters/api_usage.py
(a test renders the chart and compares). Namespaced resources go in a ClusterRole when the operator watches
all namespaces, or in a Role per watched namespace; cluster-scoped ones always in a ClusterRole.
*/}}
{{- define "seasonal-engines.namespacedRules" -}}
# InferenceServices: kopf watches them and patches annotations and the finalizer; the operator re-reads one
# after a conflicting status write and replaces its status
- apiGroups: ["seasonalengines.io"]
  resources: ["inferenceservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["seasonalengines.io"]
  resources: ["inferenceservices/status"]
  verbs: ["update"]
# OwnerReferencesPermissionEnforcement: owned objects with blockOwnerDeletion need this (no call uses it)
- apiGroups: ["seasonalengines.io"]
  resources: ["inferenceservices/finalizers"]
  verbs: ["update"]
# engine build Jobs and the ConfigMaps carrying their plans (server-side apply: patch, and create for an
# object that does not exist yet)
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "patch", "create"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["patch", "create"]
# the Triton Deployments and the Service (server-side apply)
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "patch", "create"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "patch", "create"]
# pods of build Jobs (waiting for a GPU?) and of new Triton generations (is each one's Triton ready?)
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# an Event for every decision (kopf posts core v1 Events)
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# kopf peering between replicas, per namespace
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["list", "watch", "patch"]
{{- end }}

{{- define "seasonal-engines.clusterRules" -}}
# kopf: namespaces to watch across, CRDs to discover, cluster-wide peering
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["list", "watch", "patch"]
{{- end }}

{{/* Fail early on combinations the schema cannot express in a friendly way. */}}
{{- define "seasonal-engines.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) .Values.operator.standalone }}
{{- fail "operator.replicas > 1 needs operator.standalone: false, so that the replicas elect one active operator through kopf peering" }}
{{- end }}
{{- end }}
