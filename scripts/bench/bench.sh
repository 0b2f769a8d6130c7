#!/usr/bin/env bash
# `make bench`: every benchmark, each printing ratios against a reference measured in the same run.
#   1. frames: rasterise + PNG per environment vs Gymnasium + pygame + Pillow (scripts/bench/bench_render.sh);
#      our deflate vs libdeflate and zlib on the same frames (scripts/bench/bench_deflate.sh)
#   2. the monitor: H.264 encode rate, recordStep cost filming / not filming (scripts/bench/monitor_bench.sh)
#   3. the API: REST steps per second, plain / render: true / with a monitor recording (scripts/bench/bench_api.py)
#   4. a shared server: latency under load, the load test, WebSocket against REST (scripts/bench/bench_service.py)
#   5. gym-server beside Flask, nginx, Gymnasium and EnvPool: the targets of issue 11 (scripts/bench/run_bench.py)
#   6. what the metrics cost: REST steps per second with metrics on and with --no-metrics (scripts/bench/bench_metrics.py);
#      and what the access log costs at 16 connections (the same script, --part access-log)
#   7. the bridge: CartPole-v1 per step native, through a Python worker, and in-process Gymnasium
#      (Tests/GymServerTests/BridgeBenchmark.swift; needs .venv/bridge, made by make venv)
#   8. trainers: SB3 PPO/DQN through gym-server against in process, bridged LunarLander x8 against
#      AsyncVectorEnv x8 and a bridged step against a native one (scripts/bench/bench_trainers.py,
#      in .venv/sb3); the Python client's step
#      against a plain socket's (scripts/bench/bench_client.py)
# The reference Python (Gymnasium 1.4.0, pygame, Pillow) lives in .venv/bench, made here once.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=".venv/bench"
if [ ! -f "$venv/.done" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "gymnasium==1.4.0" pygame numpy pillow
    touch "$venv/.done"
fi
swift build -c release --product gym-server

echo "=== 1. frames"
PYTHON="$PWD/$venv/bin/python" scripts/bench/bench_render.sh
scripts/bench/bench_deflate.sh
echo "=== 2. monitor"
scripts/bench/monitor_bench.sh 2>&1 | grep -E '^(bench|monitor-bench)|ratio|frames/s|ns|µs' || true
echo "=== 3. API"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
"$venv/bin/python" scripts/bench/bench_api.py --server .build/release/gym-server
# Long episodes (Pendulum: 200 steps) with the monitor root on tmpfs: the cost of recording
# itself, without the per-episode and per-frame file creations of the disk.
if [ -d /dev/shm ]; then
    "$venv/bin/python" scripts/bench/bench_api.py --server .build/release/gym-server --env Pendulum-v1 --action '[0.0]' --monitor-parent /dev/shm
fi

echo "=== 4. a shared server: latency under load, the load test, WebSocket against REST"
swift build -c release --product gym-load
"$venv/bin/python" scripts/bench/bench_service.py --server .build/release/gym-server --load .build/release/gym-load

echo "=== 5. gym-server beside Flask, nginx, Gymnasium and EnvPool (written to docs/PERFORMANCE.md)"
# openai's Flask server is the reference of the REST figures; its code is never committed here.
# GYM_HTTP_API_DIR points at a copy; else a clone is tried once into .tmp/ (no network: skipped,
# and the run says so).
gym_http_api="${GYM_HTTP_API_DIR:-}"
if [ -z "$gym_http_api" ]; then
    if [ ! -d .tmp/gym-http-api/.git ]; then
        mkdir -p .tmp
        timeout 60 git clone -q --depth 1 https://github.com/openai/gym-http-api .tmp/gym-http-api 2>/dev/null \
            || rm -rf .tmp/gym-http-api
    fi
    [ -d .tmp/gym-http-api/.git ] && gym_http_api=.tmp/gym-http-api
fi
python3 scripts/bench/run_bench.py --server .build/release/gym-server ${gym_http_api:+--gym-http-api "$gym_http_api"}
python3 scripts/bench/render_performance.py

echo "=== 6. the metrics: REST CartPole steps with metrics on and with --no-metrics, one connection"
python3 scripts/bench/bench_metrics.py --server .build/release/gym-server
echo "=== 6b. the access log: REST CartPole steps with --access-log FILE and without, 16 connections (target: at most 15% fewer)"
python3 scripts/bench/bench_metrics.py --server .build/release/gym-server --part access-log --connections 16

echo "=== 7. the bridge: what a Python worker adds to a step"
if [ -x .venv/bridge/bin/python ]; then
    GYM_BENCH=1 GYM_TEST_PYTHON="$PWD/.venv/bridge/bin/python" swift test -c release --filter BridgeBenchmark 2>&1 | grep -E 'bridge-bench' || true
else
    echo "skipped: .venv/bridge is missing (make venv makes it)"
fi

echo "=== 8. trainers: Stable-Baselines3 through gym-server against the same runs in process, bridged LunarLander-v3 x8 against AsyncVectorEnv x8, a bridged step against a native one"
scripts/setup/make-sb3-venv.sh .venv/sb3
.venv/sb3/bin/python scripts/bench/bench_trainers.py --server .build/release/gym-server
echo "=== 8b. the Python client's step against a plain socket's (the floor), REST and WebSocket"
scripts/setup/make-client-venv.sh .venv/client
# Twice: with every read blocking at once (a plain socket as it comes, the floor the target was
# set against), then with the client's default (every read, floors' too, polling up to 200 µs).
.venv/client/bin/python scripts/bench/bench_client.py --server .build/release/gym-server --spin-us 0
.venv/client/bin/python scripts/bench/bench_client.py --server .build/release/gym-server
echo "=== 9. a fleet: what HAProxy adds to a step's p50, 3 replicas behind it against one replica direct at 48 connections (docs/SCALING.md)"
python3 scripts/bench/bench_cluster.py --server .build/release/gym-server
