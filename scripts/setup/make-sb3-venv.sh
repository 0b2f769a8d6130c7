#!/usr/bin/env bash
# The virtualenv of the Stable-Baselines3 tests and trainer benchmark (default .venv/sb3): CPU-only
# torch, stable-baselines3, gymnasium 1.4.0 (what the project compares against), pytest, and
# clients/python installed as a user installs it, with its [sb3,test] extras.
#   scripts/setup/make-sb3-venv.sh [.venv/sb3]
#
# torch is the CPU build (about 750 MB installed, against several GB for PyPI's CUDA build and its
# nvidia-* packages): torch==$TORCH_VERSION taken from pip's find-links when the machine has the
# wheel there, else from PyTorch's CPU index (TORCH_INDEX_URL). Everything else comes from PyPI.
# The dependencies are installed once per version of this script and of
# clients/python/pyproject.toml (the marker file .done holds their hash); the package itself is
# rebuilt from the working tree on every call (no network: hatchling sits in the venv), so the
# tests never run a stale copy.
set -euo pipefail
venv="${1:-.venv/sb3}"
py="${PYTHON:-python3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
client="$(cd "$here/../../clients/python" && pwd)"

# The pins: what the tests and the benchmark were run with.
TORCH_VERSION="2.13.0+cpu"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
SB3_VERSION="2.9.2"
GYMNASIUM_VERSION="1.4.0"

want="$(cat "$client/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ "$(cat "$venv/.done" 2>/dev/null)" != "$want" ]; then
    [ -x "$venv/bin/pip" ] || "$py" -m venv "$venv"
    pip=("$venv/bin/pip" install -q --disable-pip-version-check)
    # torch alone first, without its dependencies: a "+cpu" build is on no PyPI page, so it comes
    # from a local wheel (pip's find-links) or from PyTorch's CPU index. The next install then
    # keeps it (it satisfies the pin) and brings its dependencies from PyPI.
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch') != '$TORCH_VERSION')" 2>/dev/null; then
        if ! "${pip[@]}" --no-deps --no-index "torch==$TORCH_VERSION" 2>/dev/null; then
            echo "make-sb3-venv: torch==$TORCH_VERSION is not in a local wheel directory; fetching it from $TORCH_INDEX_URL" >&2
            "${pip[@]}" --no-deps --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
        fi
    fi
    "${pip[@]}" "hatchling>=1.18" "torch==$TORCH_VERSION" "stable-baselines3==$SB3_VERSION" \
        "gymnasium==$GYMNASIUM_VERSION" "$client[sb3,test]"
    "$venv/bin/python" -c "import torch, stable_baselines3, gymnasium"
    echo "$want" > "$venv/.done"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall "$client"
