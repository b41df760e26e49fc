{{/* Names ---------------------------------------------------------------------------------- */}}
{{- define "v2v.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "v2v.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "v2v.labels" -}}
app.kubernetes.io/name: {{ include "v2v.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "v2v.metaLabels" . }}
{{- end -}}

{{/* The labels that do not select: a pod template adds them to its selector labels. */}}
{{- define "v2v.metaLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: v2v-hub
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "worker") */}}
{{- define "v2v.selectorLabels" -}}
app.kubernetes.io/name: {{ include "v2v.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "v2v.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "v2v.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "v2v.secretName" -}}
{{- default (printf "%s-secrets" (include "v2v.fullname" .)) .Values.secrets.name -}}
{{- end -}}

{{- define "v2v.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "v2v.partnersConfigMap" -}}
{{- default (printf "%s-partners" (include "v2v.fullname" .)) .Values.partnerRegistry.existingConfigMap -}}
{{- end -}}
{{- define "v2v.profilesConfigMap" -}}
{{- default (printf "%s-profiles" (include "v2v.fullname" .)) .Values.profiles.existingConfigMap -}}
{{- end -}}
{{- define "v2v.policyConfigMap" -}}
{{- default (printf "%s-escalation-policy" (include "v2v.fullname" .)) .Values.escalationPolicy.existingConfigMap -}}
{{- end -}}

{{/* Configuration files: the repository's (files/), with values' additions and replacements. */}}
{{- define "v2v.partnerFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/partners/*.yaml" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- toYaml (merge (deepCopy .Values.partnerRegistry.files) $files) -}}
{{- end -}}

{{- define "v2v.profileFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/profiles/*.yaml" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- toYaml (merge (deepCopy .Values.profiles.files) $files) -}}
{{- end -}}

{{- define "v2v.policyFile" -}}
{{- default (.Files.Get "files/escalation_policy.yaml") .Values.escalationPolicy.content -}}
{{- end -}}

{{/* Kafka ------------------------------------------------------------------------------------ */}}
{{- define "v2v.kafkaProtocol" -}}
{{- $auth := .Values.kafka.authentication -}}
{{- if eq $auth "scram-sha-512" -}}SASL_SSL
{{- else if eq $auth "tls" -}}SSL
{{- else if eq $auth "none" -}}PLAINTEXT
{{- else -}}
{{- fail (printf "kafka.authentication must be scram-sha-512, tls or none, not %q" $auth) -}}
{{- end -}}
{{- end -}}

{{/* The V2V_* settings every component shares: (dict "ctx" $ "kafkaUser" "v2v-worker") */}}
{{- define "v2v.commonEnv" -}}
{{- $ := .ctx -}}
{{- $protocol := include "v2v.kafkaProtocol" $ -}}
- name: V2V_ENV
  value: {{ $.Values.environment | quote }}
- name: V2V_LOG_LEVEL
  value: {{ $.Values.logLevel | quote }}
- name: V2V_KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" $.Values.kafka.bootstrapServers | quote }}
- name: V2V_KAFKA_SECURITY_PROTOCOL
  value: {{ $protocol }}
- name: V2V_KAFKA_CONNECT_TIMEOUT_S
  value: {{ $.Values.kafka.connectTimeoutSeconds | quote }}
{{- if ne $protocol "PLAINTEXT" }}
- name: V2V_KAFKA_SSL_CA_LOCATION
  value: /etc/v2v/kafka-ca/ca.crt
- name: V2V_KAFKA_SSL_ENDPOINT_IDENTIFICATION
  value: {{ $.Values.kafka.sslEndpointIdentification | quote }}
{{- end }}
{{- if eq $protocol "SASL_SSL" }}
- name: V2V_KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: V2V_KAFKA_SASL_USERNAME
  value: {{ .kafkaUser | quote }}
- name: V2V_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .kafkaUser }}
      key: password
{{- else if eq $protocol "SSL" }}
- name: V2V_KAFKA_SSL_CERTIFICATE_LOCATION
  value: /etc/v2v/kafka-user/user.crt
- name: V2V_KAFKA_SSL_KEY_LOCATION
  value: /etc/v2v/kafka-user/user.key
{{- end }}
- name: V2V_APP_ID
  value: {{ $.Values.appId | quote }}
- name: V2V_TOPIC_PREFIX
  value: {{ $.Values.topics.prefix | quote }}
- name: V2V_TOPIC_PARTITIONS
  value: {{ $.Values.topics.partitions | quote }}
- name: V2V_TOPIC_REPLICATION
  value: {{ $.Values.topics.replication | quote }}
{{- with $.Values.partners }}
- name: V2V_PARTNERS
  value: {{ toJson . | quote }}
{{- end }}
- name: V2V_PARTNER_DIR
  value: /etc/v2v/partners
- name: V2V_PROFILE_DIR
  value: /etc/v2v/profiles
- name: V2V_ESCALATION_POLICY_FILE
  value: /etc/v2v/escalation-policy/escalation_policy.yaml
{{- if eq $.Values.environment "prod" }}
- name: V2V_AUTH_ISSUER
  value: {{ required "auth.issuer is required (the identity provider's issuer)" $.Values.auth.issuer | quote }}
- name: V2V_AUTH_JWKS_URL
  value: {{ required "auth.jwksUrl is required (the identity provider's JWKS endpoint)" $.Values.auth.jwksUrl | quote }}
{{- else }}
{{- with $.Values.auth.issuer }}
- name: V2V_AUTH_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $.Values.auth.jwksUrl }}
- name: V2V_AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: V2V_AUTH_AUDIENCE
  value: {{ $.Values.auth.audience | quote }}
- name: V2V_PSEUDONYM_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "v2v.secretName" $ }}
      key: pseudonym-key
- name: V2V_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "v2v.secretName" $ }}
      key: redis-url
{{- end -}}

{{/* Volumes and mounts every component shares: (dict "ctx" $ "kafkaUser" "v2v-worker") */}}
{{- define "v2v.commonVolumes" -}}
{{- $ := .ctx -}}
{{- $protocol := include "v2v.kafkaProtocol" $ -}}
- name: partners
  configMap:
    name: {{ include "v2v.partnersConfigMap" $ }}
- name: profiles
  configMap:
    name: {{ include "v2v.profilesConfigMap" $ }}
- name: escalation-policy
  configMap:
    name: {{ include "v2v.policyConfigMap" $ }}
- name: tmp
  emptyDir: {}
{{- if ne $protocol "PLAINTEXT" }}
- name: kafka-ca
  secret:
    secretName: {{ $.Values.kafka.clusterCaSecret.name }}
    items:
      - key: {{ $.Values.kafka.clusterCaSecret.key }}
        path: ca.crt
{{- end }}
{{- if eq $protocol "SSL" }}
- name: kafka-user
  secret:
    secretName: {{ .kafkaUser }}
    items:
      - {key: user.crt, path: user.crt}
      - {key: user.key, path: user.key}
{{- end }}
{{- end -}}

{{- define "v2v.commonMounts" -}}
{{- $protocol := include "v2v.kafkaProtocol" . -}}
- name: partners
  mountPath: /etc/v2v/partners
  readOnly: true
- name: profiles
  mountPath: /etc/v2v/profiles
  readOnly: true
- name: escalation-policy
  mountPath: /etc/v2v/escalation-policy
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if ne $protocol "PLAINTEXT" }}
- name: kafka-ca
  mountPath: /etc/v2v/kafka-ca
  readOnly: true
{{- end }}
{{- if eq $protocol "SSL" }}
- name: kafka-user
  mountPath: /etc/v2v/kafka-user
  readOnly: true
{{- end }}
{{- end -}}

{{/* Restart pods when their configuration changes. */}}
{{- define "v2v.configChecksum" -}}
{{- $config := list (include "v2v.partnerFiles" .) (include "v2v.profileFiles" .) (include "v2v.policyFile" .) -}}
checksum/config: {{ $config | toJson | sha256sum }}
{{- end -}}
