#!/usr/bin/env bash
# Render the Helm chart and validate every Kubernetes manifest of the repository, offline.
#
#   deploy/tools/deploy-check.sh HELM KUBECONFORM PYTHON      (make deploy-check builds the tools)
#
# 1. deploy/strimzi/{topics,users}.yaml are up to date with the hub's topics and partners;
# 2. `helm lint` and `helm template` of deploy/helm/v2v-hub with its defaults, with the
#    production-like values (ci/production-values.yaml) and with mutual TLS and a chart-made
#    Secret (every template branch that changes the output's shape);
# 3. kubeconform -strict on every rendered manifest and deploy/strimzi/*.yaml against the
#    vendored schemas in deploy/schemas/ (Kubernetes 1.34, Strimzi 1.2, prometheus-operator):
#    a kind without a schema fails, nothing is downloaded;
# 4. the same validation must reject deliberately broken manifests (deploy/tools/testdata/).
set -euo pipefail
HELM=${1:?helm binary}
KUBECONFORM=${2:?kubeconform binary}
PYTHON=${3:?python}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
CHART=deploy/helm/v2v-hub
OUT=.local/deploy-check
# The Kubernetes version of the vendored schemas (deploy/schemas/README.md).
KUBE_VERSION=1.34.4
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== strimzi resources up to date"
"$PYTHON" deploy/tools/strimzi_resources.py --check

# The chart has no default identity provider (outside V2V_ENV=dev the hub accepts none): the
# renders of the defaults name one, as every installation must.
IDP=(--set auth.issuer=https://idp.example.com/realms/v2v
  --set auth.jwksUrl=https://idp.example.com/realms/v2v/protocol/openid-connect/certs)

echo "== helm lint"
"$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" "${IDP[@]}" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$CHART/ci/production-values.yaml" >>"$OUT/lint.log" 2>&1 \
  || { cat "$OUT/lint.log"; exit 1; }

echo "== helm template"
render() { # name, extra helm arguments...
  local name=$1
  shift
  "$HELM" template v2v-hub "$CHART" --namespace v2v --kube-version "$KUBE_VERSION" "$@" >"$OUT/$name.yaml" 2>"$OUT/$name.log" \
    || { cat "$OUT/$name.log"; exit 1; }
  echo "   $name: $(grep -c '^kind:' "$OUT/$name.yaml") manifests"
}
render default "${IDP[@]}"
render production -f "$CHART/ci/production-values.yaml"
render mutual-tls "${IDP[@]}" --set kafka.authentication=tls --set secrets.create=true \
  --set secrets.values.pseudonymKey=ci-only --set secrets.values.redisUrl=redis://redis:6379/0 \
  --set secrets.values.signatureKey=ci-only --set secrets.values.auditSigningKey=ci-only \
  --set podMonitor.enabled=true

echo "== kubeconform"
"$ROOT/deploy/tools/kubeconform.sh" "$KUBECONFORM" -summary \
  "$OUT"/default.yaml "$OUT"/production.yaml "$OUT"/mutual-tls.yaml deploy/strimzi/*.yaml

echo "== kubeconform rejects broken manifests"
for broken in deploy/tools/testdata/broken-*.yaml; do
  if "$ROOT/deploy/tools/kubeconform.sh" "$KUBECONFORM" "$broken" >"$OUT/broken.log" 2>&1; then
    echo "kubeconform accepted $broken, which must fail validation" >&2
    exit 1
  fi
  echo "   rejected $broken: $(grep -m1 -o "at '.*\|could not find schema.*" "$OUT/broken.log")"
done
echo "deploy-check: OK"
