#!/usr/bin/env bash
# Creates the Python virtualenvs the tests use, under an ignored folder (default .venv):
#   .venv/gymnasium  Gymnasium 1.4.0 + numpy + requests: the reference the server is compared with
#   .venv/gym021     old gym 0.21: the monitor files' reader (load_results)
# Each is made once; a marker file records that its install finished.
set -euo pipefail
root="${1:-.venv}"
py="${PYTHON:-python3}"
mkdir -p "$root"

if [ ! -f "$root/gymnasium/.done" ]; then
    rm -rf "$root/gymnasium"
    "$py" -m venv "$root/gymnasium"
    "$root/gymnasium/bin/pip" install -q --disable-pip-version-check "gymnasium==1.4.0" numpy requests
    touch "$root/gymnasium/.done"
fi

if [ ! -f "$root/gym021/.done" ]; then
    rm -rf "$root/gym021"
    "$py" -m venv "$root/gym021"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check "setuptools<66" "wheel<0.40"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check --no-build-isolation "gym==0.21.0"
    touch "$root/gym021/.done"
fi
