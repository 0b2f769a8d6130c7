#!/usr/bin/env bash
# The virtualenv of the Kubernetes manifests' offline check (default .venv/k8s): kubernetes-validate,
# which bundles the Kubernetes API's JSON schemas (no cluster and no network at validation time),
# and PyYAML (one of its dependencies) to read the manifests.
#   scripts/setup/make-k8s-venv.sh [.venv/k8s]
# Made once: the marker file .done holds what was installed, and a venv whose marker matches and
# whose kubernetes_validate imports is left as it is; a venv made for an older pin is topped up.
# Used by scripts/test/validate_kubernetes.py (deploy/kubernetes/).
set -euo pipefail
venv="${1:-.venv/k8s}"
py="${PYTHON:-python3}"

# The pin: the schema versions the manifests are checked against come with it
# (scripts/test/validate_kubernetes.py names the Kubernetes version it validates for).
KUBERNETES_VALIDATE_VERSION="1.37.0"
want="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

if [ "$(cat "$venv/.done" 2>/dev/null)" = "$want" ] \
    && "$venv/bin/python" -c "import kubernetes_validate, yaml" 2>/dev/null; then
    exit 0
fi
[ -x "$venv/bin/pip" ] || "$py" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$want"
"$venv/bin/python" -c "import kubernetes_validate, yaml"
echo "$want" > "$venv/.done"
