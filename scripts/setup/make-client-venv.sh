#!/usr/bin/env bash
# The virtualenv of the Python client's tests (default .venv/client): clients/python installed as
# a user installs it (pip install ./clients/python, not editable) with its test extras.
#   scripts/setup/make-client-venv.sh [.venv/client]
# Its dependencies are installed once per version of clients/python/pyproject.toml (the marker
# file .done holds that file's hash); the package itself is rebuilt from the working tree on
# every call (no network: hatchling sits in the venv), so the tests never run a stale copy.
set -euo pipefail
venv="${1:-.venv/client}"
py="${PYTHON:-python3}"
client="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../clients/python" && pwd)"

want="$(sha256sum "$client/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$venv/.done" 2>/dev/null)" != "$want" ]; then
    [ -x "$venv/bin/pip" ] || "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "hatchling>=1.18" "$client[test]"
    echo "$want" > "$venv/.done"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall "$client"
