#!/usr/bin/env bash
# Creates the Python virtualenvs the tests use, under an ignored folder (default .venv):
#   .venv/gymnasium  Gymnasium 1.4.0 + numpy + requests (+ pytest, six for openai's suite): the reference
#   .venv/gym021     old gym 0.21: the monitor files' reader (load_results)
# Each is made once; a marker file records that its install finished.
set -euo pipefail
root="${1:-.venv}"
py="${PYTHON:-python3}"
mkdir -p "$root"

# make_venv NAME "PACKAGES": $root/NAME with PACKAGES from PyPI. The marker file .done holds what
# was installed: a venv made for an older list is topped up.
make_venv() {
    local name="$1" want="$2"
    if [ "$(cat "$root/$name/.done" 2>/dev/null)" != "$want" ]; then
        [ -x "$root/$name/bin/pip" ] || "$py" -m venv "$root/$name"
        # shellcheck disable=SC2086
        "$root/$name/bin/pip" install -q --disable-pip-version-check $want
        echo "$want" > "$root/$name/.done"
    fi
}

make_venv gymnasium "gymnasium==1.4.0 numpy requests pytest six msgpack"
# .venv/browser  Playwright (drives Debian's chromium; downloads no browser) + websockets: scripts/test/browser_test.py
make_venv browser "playwright>=1.65 websockets>=13"
# .venv/schemathesis  schemathesis: a property-based fuzz of a live server against docs/openapi.json (scripts/test/fuzz_api.py)
make_venv schemathesis "schemathesis==4.32.5"
# .venv/bridge  the Python worker of bridged environments (bridge/): its protocol and equivalence tests
make_venv bridge "gymnasium==1.4.0 numpy box2d==2.3.10 pygame pytest"

if [ ! -f "$root/gym021/.done" ]; then
    rm -rf "$root/gym021"
    "$py" -m venv "$root/gym021"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check "setuptools<66" "wheel<0.40"
    "$root/gym021/bin/pip" install -q --disable-pip-version-check --no-build-isolation "gym==0.21.0"
    touch "$root/gym021/.done"
fi
