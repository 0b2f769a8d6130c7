#!/usr/bin/env bash
# Builds the C++ agent, runs it, the Python CEM agent and the Python PPO agent (CleanRL style, on
# a vector instance) for a few seconds each against a gym-server, and fails unless each stepped
# the environment (and, with --server, unless the server's monitor recorded the CEM agent's
# episodes and a video).
#
#   examples/run_examples_test.sh http://127.0.0.1:5000 [seconds per agent, default 5]
#   examples/run_examples_test.sh --server .build/release/gym-server [seconds]
#
# --server starts that binary on free ports with a temporary monitor directory, and stops it.
# Needs: g++, make, libcurl4-openssl-dev, nlohmann-json3-dev (scripts/setup/install-deps.sh test), curl,
# and a Python with the client installed (pip install ./clients/python); PYTHON names it
# (default: python3).
set -euo pipefail

usage() {
    echo "usage: $0 (http://host:port | --server BINARY) [seconds]" >&2
    exit 2
}
binary=""
url=""
case "${1:-}" in
    --server) binary="${2:-}"; [[ -n "$binary" ]] || usage; shift 2 ;;
    http://* | https://*) url="$1"; shift ;;
    *) usage ;;
esac
seconds="${1:-5}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $1" >&2
    if [[ -n "${2:-}" && -f "$2" ]]; then
        echo "---- its output:" >&2
        tail -n 30 "$2" >&2
    fi
    exit 1
}

# The agents print "summary: steps=N episodes=E" last; a run passes if it exited 0 and N > 0.
stepped() {
    local log="$1" steps
    steps="$(grep -Eo '^summary: steps=[0-9]+' "$log" | tail -n 1 | cut -d= -f2 || true)"
    [[ -n "$steps" && "$steps" -gt 0 ]] && echo "$steps"
}

"$python" -c 'import gym_server_client' 2>"$work/import.log" ||
    fail "$python cannot import gym_server_client: pip install ./clients/python (or set PYTHON)" "$work/import.log"

if [[ -n "$binary" ]]; then
    [[ -x "$binary" ]] || fail "$binary is not an executable gym-server"
    read -r port files_port < <("$python" -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
')
    mkdir -p "$work/monitor"
    "$binary" --host 127.0.0.1 --port "$port" --files-port "$files_port" --monitor-dir "$work/monitor" \
        --log-level warning >"$work/server.log" 2>&1 &
    server_pid=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -fs "$url/v1/help" >/dev/null 2>&1 && break
        kill -0 "$server_pid" 2>/dev/null || fail "gym-server exited at start" "$work/server.log"
        sleep 0.1
    done
    curl -fs "$url/v1/help" >/dev/null 2>&1 || fail "gym-server did not answer at $url within 10 s" "$work/server.log"
    echo "== gym-server on $url (files on :$files_port, monitor in a temporary directory)"
fi

echo "== building the C++ agent"
make -s -C "$here/cpp" BUILD_DIR="$work/cpp" >"$work/build.log" 2>&1 || fail "the C++ agent did not build" "$work/build.log"

echo "== C++ agent, $seconds s against $url"
"$work/cpp/cartpole_agent" --url "$url" --seconds "$seconds" >"$work/cpp.log" 2>&1 || fail "the C++ agent exited with an error" "$work/cpp.log"
grep -E '^episode [0-9]+: return' "$work/cpp.log" | tail -n 3 || true
cpp_steps="$(stepped "$work/cpp.log")" || fail "the C++ agent did not step" "$work/cpp.log"
echo "   stepped $cpp_steps times"

echo "== Python agent (CEM), $seconds s against $url"
"$python" "$here/python/cem_cartpole.py" --url "$url" --seconds "$seconds" >"$work/python.log" 2>&1 ||
    fail "the Python agent exited with an error" "$work/python.log"
grep -E '^iteration' "$work/python.log" | tail -n 3 || true
python_steps="$(stepped "$work/python.log")" || fail "the Python agent did not step" "$work/python.log"
echo "   stepped $python_steps times"

echo "== Python agent (PPO, CleanRL style, 8 environments in one vector instance), $seconds s against $url"
"$python" "$here/python/cleanrl_style_ppo.py" --url "$url" --seconds "$seconds" >"$work/ppo.log" 2>&1 ||
    fail "the Python PPO agent exited with an error" "$work/ppo.log"
grep -E '^update' "$work/ppo.log" | tail -n 3 || true
ppo_steps="$(stepped "$work/ppo.log")" || fail "the Python PPO agent did not step" "$work/ppo.log"
echo "   stepped $ppo_steps times"

if [[ -n "$binary" ]]; then
    # The agent closed its instance, which finished the monitor: statistics and the first videos.
    id="$(grep -Eo 'is instance [0-9a-f]+' "$work/python.log" | head -n 1 | cut -d' ' -f3)"
    directory="$work/monitor/$id/simulation"
    stats="$(find "$directory" -name 'openaigym.episode_batch.*.stats.json' 2>/dev/null | head -n 1)"
    [[ -n "$id" && -n "$stats" ]] || fail "the server recorded no statistics for the Python agent (instance '$id')" "$work/python.log"
    episodes="$("$python" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["episode_lengths"]))' "$stats")"
    videos="$(find "$directory" -name 'openaigym.video.*.mp4' | wc -l)"
    [[ "$episodes" -gt 0 && "$videos" -gt 0 ]] || fail "the monitor recorded $episodes episodes and $videos videos" "$work/python.log"
    echo "   the server recorded $episodes episodes and $videos videos of it"
fi

echo "PASS: C++ agent $cpp_steps steps, Python CEM agent $python_steps steps, Python PPO agent $ppo_steps steps"
