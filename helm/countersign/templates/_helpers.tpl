{{/* Names */}}
{{- define "countersign.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "countersign.fullname" -}}
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

{{/* A name derived from the full name: "countersign.suffixed" (list . "review") */}}
{{- define "countersign.suffixed" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "countersign.fullname" $root | trunc (int (sub 62 (len (index . 1))))) (index . 1) | trimSuffix "-" }}
{{- end }}

{{- define "countersign.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "countersign.selectorLabels" -}}
app.kubernetes.io/name: {{ include "countersign.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The helm test pod's labels: apart from the selector labels, so no Service selects it. */}}
{{- define "countersign.testLabels" -}}
app.kubernetes.io/name: {{ include "countersign.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{- define "countersign.labels" -}}
helm.sh/chart: {{ include "countersign.chart" . }}
{{ include "countersign.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: countersign
{{- end }}

{{- define "countersign.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "countersign.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "countersign.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Secrets and ConfigMaps */}}

{{/* The chart's own Secret for a generated CA and server key. */}}
{{- define "countersign.keysSecretName" -}}
{{- include "countersign.fullname" . }}
{{- end }}

{{- define "countersign.generatesKeys" -}}
{{- if or (not .Values.ca.existingSecret) (not .Values.serverKey.existingSecret) }}true{{ end }}
{{- end }}

{{- define "countersign.agentsSecretName" -}}
{{- if .Values.agents.existingSecret }}
{{- .Values.agents.existingSecret }}
{{- else }}
{{- include "countersign.suffixed" (list . "agents") }}
{{- end }}
{{- end }}

{{/* The chart's Secret for notification URLs and the Redis URL, from values. */}}
{{- define "countersign.settingsSecretName" -}}
{{- include "countersign.suffixed" (list . "settings") }}
{{- end }}

{{- define "countersign.policiesConfigMapName" -}}
{{- default (include "countersign.suffixed" (list . "policies")) .Values.policies.existingConfigMap }}
{{- end }}

{{- define "countersign.caBundleName" -}}
{{- default (include "countersign.suffixed" (list . "ca")) .Values.caBundle.name }}
{{- end }}

{{/* Notification settings the chart stores itself: env name -> values key, for those set. */}}
{{- define "countersign.notifySettings" -}}
{{- $n := .Values.notifications }}
{{- $out := dict }}
{{- if not $n.existingSecret }}
{{- range $env, $key := dict "COUNTERSIGN_SLACK_WEBHOOK_URL" "slackWebhookUrl" "COUNTERSIGN_TEAMS_WEBHOOK_URL" "teamsWebhookUrl" "COUNTERSIGN_WEBHOOK_URL" "webhookUrl" "COUNTERSIGN_WEBHOOK_SECRET" "webhookSecret" "COUNTERSIGN_SLACK_BOT_TOKEN" "slackBotToken" "COUNTERSIGN_SLACK_SIGNING_SECRET" "slackSigningSecret" }}
{{- if index $n $key }}{{ $_ := set $out $env $key }}{{ end }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Redis */}}

{{/* "url-secret", "chart-secret", "password-secret", "no-auth" or "" (no Redis) */}}
{{- define "countersign.redisMode" -}}
{{- $r := .Values.redis }}
{{- if $r.existingUrlSecret.name }}url-secret
{{- else if not $r.host }}
{{- else if $r.auth.existingSecret }}password-secret
{{- else if $r.auth.password }}chart-secret
{{- else }}no-auth
{{- end }}
{{- end }}

{{/* The Redis URL with USERINFO in place of the credentials part ("" or "user:pw@"). */}}
{{- define "countersign.redisUrl" -}}
{{- $r := .root.Values.redis }}
{{- $scheme := ternary "rediss" "redis" $r.tls }}
{{- if eq ($r.topology | default "") "sentinel" }}
{{- printf "%s-sentinel://%s%s/%s" $scheme .userinfo $r.host $r.sentinel.masterName }}
{{- else if eq ($r.topology | default "") "cluster" }}
{{- printf "%s-cluster://%s%s" $scheme .userinfo $r.host }}
{{- else }}
{{- printf "%s://%s%s:%d/%d" $scheme .userinfo $r.host (int $r.port) (int $r.db) }}
{{- end }}
{{- end }}

{{- define "countersign.urlEscape" -}}
{{- urlquery . | replace "+" "%20" }}
{{- end }}

{{/* Review */}}

{{- define "countersign.reviewUrl" -}}
{{- if .Values.review.url }}
{{- .Values.review.url | trimSuffix "/" }}
{{- else if and .Values.review.ingress.enabled .Values.review.ingress.hosts }}
{{- $host := (first .Values.review.ingress.hosts).host }}
{{- $tls := false }}
{{- range .Values.review.ingress.tls }}{{ if has $host .hosts }}{{ $tls = true }}{{ end }}{{ end }}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host }}
{{- end }}
{{- end }}

{{/*
The settings countersign knows (src/config/config.ts SETTINGS); it refuses to start on any
other COUNTERSIGN_* variable, so extraEnv is checked against this list.
test/e2e/helm.test.ts checks that it matches SETTINGS.
*/}}
{{- define "countersign.knownSettings" -}}
COUNTERSIGN_LISTEN COUNTERSIGN_ADMIN_LISTEN COUNTERSIGN_ADMIN_TOKEN_FILE COUNTERSIGN_ADMIN_TOKEN COUNTERSIGN_ADMIN_URL COUNTERSIGN_DATA_DIR COUNTERSIGN_POLICY_DIR COUNTERSIGN_UPSTREAM_OVERRIDES COUNTERSIGN_UPSTREAM_CA_FILE COUNTERSIGN_STS_REGION COUNTERSIGN_STS_TIMEOUT_SECONDS COUNTERSIGN_LOG_LEVEL COUNTERSIGN_MAX_BODY_BYTES COUNTERSIGN_REDIS_URL COUNTERSIGN_REDIS_PREFIX COUNTERSIGN_REDIS_SENTINELS COUNTERSIGN_REDIS_MASTER_NAME COUNTERSIGN_REDIS_CLUSTER_NODES COUNTERSIGN_REDIS_USERNAME COUNTERSIGN_REDIS_PASSWORD COUNTERSIGN_REDIS_SENTINEL_USERNAME COUNTERSIGN_REDIS_SENTINEL_PASSWORD COUNTERSIGN_REDIS_TLS COUNTERSIGN_REDIS_MIN_REPLICAS COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS COUNTERSIGN_REVIEW_LISTEN COUNTERSIGN_REVIEW_URL COUNTERSIGN_REVIEW_IDENTITY_HEADER COUNTERSIGN_REVIEW_TRUSTED_PROXIES COUNTERSIGN_WEBHOOK_URL COUNTERSIGN_WEBHOOK_SECRET COUNTERSIGN_SLACK_WEBHOOK_URL COUNTERSIGN_TEAMS_WEBHOOK_URL COUNTERSIGN_SLACK_BOT_TOKEN COUNTERSIGN_SLACK_SIGNING_SECRET COUNTERSIGN_SLACK_CHANNEL COUNTERSIGN_SLACK_API_URL COUNTERSIGN_SHUTDOWN_GRACE_SECONDS COUNTERSIGN_AUDIT_SINK COUNTERSIGN_REVIEWER_TOKEN COUNTERSIGN_OIDC_ISSUER COUNTERSIGN_OIDC_AUDIENCES COUNTERSIGN_OIDC_JWKS_FILE COUNTERSIGN_OIDC_ISSUERS_FILE COUNTERSIGN_CREDENTIALS_LISTEN COUNTERSIGN_CREDENTIALS_TLS_NAMES COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS
{{- end }}

{{/* Checks of value combinations the schema cannot express; fails the render with a message. */}}
{{- define "countersign.validate" -}}
{{- $known := splitList " " (include "countersign.knownSettings" .) }}
{{- range .Values.extraEnv }}
{{- if and (hasPrefix "COUNTERSIGN_" .name) (not (has .name $known)) }}
{{- fail (printf "extraEnv: %s is not a countersign setting (countersign refuses to start on it); known: %s" .name (join ", " $known)) }}
{{- end }}
{{- end }}
{{- $grace := int (.Values.config.shutdownGraceSeconds | default 25) }}
{{- $needed := add (int .Values.preStopSleepSeconds) $grace 5 }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds + config.shutdownGraceSeconds + 5 = %d, or pods are killed before in-flight requests finish" (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- if and (eq (.Values.redis.topology | default "") "sentinel") (not .Values.redis.sentinel.masterName) }}
{{- fail "redis.topology=sentinel needs redis.sentinel.masterName, the primary's name as the Sentinels monitor it" }}
{{- end }}
{{- if and (eq .Values.config.auditSink "redis") (not (include "countersign.redisMode" .)) }}
{{- fail "config.auditSink=redis needs Redis (redis.host or redis.existingUrlSecret)" }}
{{- end }}
{{- if and (not (include "countersign.redisMode" .)) (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
{{- fail (printf "%s without Redis: each replica would keep its own approvals in memory, so a reviewer's decision on one replica would never release an agent held on another (and each would write its own audit file). Set redis.host or redis.existingUrlSecret, or replicaCount=1 without autoscaling" (ternary "autoscaling.enabled" (printf "replicaCount=%d" (int .Values.replicaCount)) .Values.autoscaling.enabled)) }}
{{- end }}
{{- if and .Values.dataVolume.existingClaim (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
{{- fail "dataVolume.existingClaim is for a single replica: one audit file cannot be shared by several writers (use Redis, where the audit log is a shared stream)" }}
{{- end }}
{{- if and .Values.review.identityHeader (not .Values.review.trustedProxies) }}
{{- fail "review.identityHeader needs review.trustedProxies: the header is believed only from those addresses" }}
{{- end }}
{{- if and .Values.review.trustedProxies (not .Values.review.identityHeader) }}
{{- fail "review.trustedProxies is set but review.identityHeader is not" }}
{{- end }}
{{- if and .Values.agents.registry .Values.agents.existingSecret }}
{{- fail "agents.registry and agents.existingSecret are alternatives: set one" }}
{{- end }}
{{- if and .Values.redis.caBundle.configMap .Values.redis.caBundle.secret }}
{{- fail "redis.caBundle: set configMap or secret, not both" }}
{{- end }}
{{- if and .Values.redis.auth.password .Values.redis.auth.existingSecret }}
{{- fail "redis.auth.password and redis.auth.existingSecret are alternatives: set one" }}
{{- end }}
{{- $n := .Values.notifications }}
{{- if and $n.existingSecret (or $n.slackWebhookUrl $n.teamsWebhookUrl $n.webhookUrl $n.webhookSecret $n.slackBotToken $n.slackSigningSecret) }}
{{- fail "notifications.existingSecret is set: leave the inline notification values empty (they would be ignored)" }}
{{- end }}
{{- if and .Values.policies.existingConfigMap .Values.policies.files }}
{{- fail "policies.existingConfigMap and policies.files are alternatives: set one" }}
{{- end }}
{{- end }}
