#!/usr/bin/env bash
# GymMonitor benchmarks (release build): H.264 encode rate at 600x400, the caller's cost of
# recordStep when not filming / filming, and a long run of short episodes. Each line prints
# its ratio to a reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
GYM_BENCH=1 exec "${SWIFT:-swift}" test -c release --filter MonitorBenchmarks "$@"
