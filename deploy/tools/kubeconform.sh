#!/usr/bin/env bash
# kubeconform with the repository's vendored schemas only (deploy/schemas/README.md): strict
# (unknown and duplicate fields fail), a kind without a schema fails, nothing is downloaded.
#
#   deploy/tools/kubeconform.sh KUBECONFORM [kubeconform options] FILE...
set -euo pipefail
KUBECONFORM=${1:?kubeconform binary}
shift
SCHEMAS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../schemas" && pwd)
exec "$KUBECONFORM" -strict \
  -schema-location "$SCHEMAS/kubernetes/v1.34.4-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
  -schema-location "$SCHEMAS/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
  "$@"
