#!/usr/bin/env bash
# Creates the Python virtualenvs the tests use, under an ignored folder (default .venv):
#   .venv/gymnasium  Gymnasium 1.4.0 + numpy + requests (+ pytest, six for openai's suite): the reference
#   .venv/gym021     old gym 0.21: the monitor files' reader (load_results)
# Each is made once; a marker file records that its install finished.
set -euo pipefail
root="${1:-.venv}"
py="${PYTHON:-python3}"
mkdir -p "$root"

# The marker holds what was installed: a venv made for an older list is topped up.
want="gymnasium==1.4.0 numpy requests pytest six msgpack"
if [ "$(cat "$root/gymnasium/.done" 2>/dev/null)" != "$want" ]; then
    [ -x "$root/gymnasium/bin/pip" ] || "$py" -m venv "$root/gymnasium"
    # shellcheck disable=SC2086
    "$root/gymnasium/bin/pip" install -q --disable-pip-version-check $want
    echo "$want" > "$root/gymnasium/.done"
fi

# .venv/browser  Playwright (drives Debian's chromium; downloads no browser) + websockets: scripts/browser_test.py
browser_want="playwright>=1.65 websockets>=13"
if [ "$(cat "$root/browser/.done" 2>/dev/null)" != "$browser_want" ]; then
    [ -x "$root/browser/bin/pip" ] || "$py" -m venv "$root/browser"
    # shellcheck disable=SC2086
    "$root/browser/bin/pip" install -q --disable-pip-version-check $browser_want
    echo "$browser_want" > "$root/browser/.done"
fi

if [ ! -f "$root/gym021/.done" ]; then
    rm -rf "$root/gym021"
    "$py" -m venv "$root/gym021"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check "setuptools<66" "wheel<0.40"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check --no-build-isolation "gym==0.21.0"
    touch "$root/gym021/.done"
fi
