#!/usr/bin/env bash
# GymMonitor benchmarks (release build), at 600x400 on CartPole-like and gradient frames:
# RGB->YUV conversion per frame (ours, incremental and full, against libswscale); the writer's
# convert + encode time per frame now against the old path (libswscale, CRF 23); the caller's
# cost of recordStep when not filming / filming (bytes copied or an array kept); CPU per filmed
# frame through the recorder, sustained and paced, and over short episodes all filmed (one
# encoder going on from video to video), against the old path; and a long run of short
# episodes without video. Each line prints its ratio to a reference measured in the same run. Other
# processes on the machine move these figures by 20% or more: compare ratios, run twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
GYM_BENCH=1 exec "${SWIFT:-swift}" test -c release --filter MonitorBenchmarks "$@"
