#!/usr/bin/env bash
# Installs the Debian packages gym-server needs to build, run and test, if any is missing.
#   scripts/setup/install-deps.sh run    build and run: libpng, libavcodec/libavformat/libswscale, pkg-config
#   scripts/setup/install-deps.sh test   also ffmpeg (ffprobe), python3-venv, chromium for the browser tests,
#                                  prometheus (a real server scrapes gym-server in scripts/test/e2e_metrics_test.py),
#                                  g++, make, libcurl and nlohmann/json for the C++ example agent,
#                                  libdeflate for the deflate benchmark, haproxy for the fleet's tests
#   scripts/setup/install-deps.sh cluster  build and run, and haproxy and python3 (make cluster)
set -euo pipefail
mode="${1:-run}"
packages=(pkg-config libpng-dev libavcodec-dev libavformat-dev libswscale-dev libavutil-dev zlib1g-dev)
if [ "$mode" = test ]; then
    packages+=(ffmpeg python3-venv python3-pip chromium curl wrk prometheus)
    packages+=(g++ make libcurl4-openssl-dev nlohmann-json3-dev)
    # libdeflate, loaded with dlopen by the deflate benchmark (scripts/bench/bench_deflate.sh) only.
    packages+=(libdeflate0)
fi
if [ "$mode" = test ] || [ "$mode" = cluster ]; then
    # The fleet's front (make cluster, make test-cluster, docs/SCALING.md).
    packages+=(haproxy python3)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libx264 comes with libavcodec's runtime package; check the encoder is really there.
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "Installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
