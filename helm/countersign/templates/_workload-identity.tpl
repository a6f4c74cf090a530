{{/*
Workload identity (values.workloadIdentity; docs/deploy.md, "Workload identity"): the pieces
deployment.yaml includes when the credential endpoint is on.
*/}}

{{- define "countersign.credentialsServiceName" -}}
{{ include "countersign.suffixed" (list . "credentials") }}
{{- end }}

{{/* Names in the endpoint's certificate: the credentials Service's, unless given. */}}
{{- define "countersign.credentialsTlsNames" -}}
{{- $w := .Values.workloadIdentity }}
{{- if $w.tlsNames }}{{ join "," $w.tlsNames }}{{ else }}
{{- $svc := include "countersign.credentialsServiceName" . }}
{{- printf "%s.%s.svc,%s.%s.svc.cluster.local,%s" $svc .Release.Namespace $svc .Release.Namespace $svc }}
{{- end }}
{{- end }}

{{- define "countersign.workloadIdentityPort" -}}
{{- if .Values.workloadIdentity.enabled }}
- name: credentials
  containerPort: {{ .Values.workloadIdentity.port }}
  protocol: TCP
{{- end }}
{{- end }}

{{- define "countersign.workloadIdentityEnv" -}}
{{- $w := .Values.workloadIdentity }}
{{- if $w.enabled }}
- name: COUNTERSIGN_OIDC_ISSUERS_FILE
  value: /etc/countersign/workload-identity/issuers.yaml
- name: COUNTERSIGN_CREDENTIALS_LISTEN
  value: {{ printf "%s:%d" .Values.listenAddress (int $w.port) | quote }}
- name: COUNTERSIGN_CREDENTIALS_TLS_NAMES
  value: {{ include "countersign.credentialsTlsNames" . | quote }}
- name: COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS
  value: {{ $w.credentialLifetimeSeconds | quote }}
{{- end }}
{{- end }}

{{- define "countersign.workloadIdentityVolumeMounts" -}}
{{- if .Values.workloadIdentity.enabled }}
- name: workload-identity
  mountPath: /etc/countersign/workload-identity
  readOnly: true
{{- end }}
{{- end }}

{{/*
The issuers file, and for the cluster's own issuer what countersign needs to read the API
server's JWKS (/openid/v1/jwks, which the system:service-account-issuer-discovery role lets
service accounts read): a short-lived token of countersign's own service account and the
cluster CA (kube-root-ca.crt, in every namespace). countersign's pod keeps
automountServiceAccountToken off; this token is for the API server alone.
*/}}
{{- define "countersign.workloadIdentityVolumes" -}}
{{- if .Values.workloadIdentity.enabled }}
- name: workload-identity
  projected:
    defaultMode: 288
    sources:
      - configMap:
          name: {{ include "countersign.suffixed" (list . "workload-identity") }}
          items:
            - key: issuers.yaml
              path: issuers.yaml
      {{- if .Values.workloadIdentity.kubernetesApi.enabled }}
      - serviceAccountToken:
          path: kube-api/token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: kube-api/ca.crt
      {{- end }}
{{- end }}
{{- end }}
