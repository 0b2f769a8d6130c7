#!/usr/bin/env python3
"""What an optional part of the server costs a step: REST CartPole steps per second with it and
without it, measured in the same run, in alternating rounds so that both see the same machine
(wrk with scripts/bench/wrk_requests.lua, the request pattern of scripts/bench/run_bench.py; one
instance per connection). Prints each round and the ratio of the medians (with / without).

    python3 scripts/bench/bench_metrics.py --server .build/release/gym-server [--seconds 4] [--rounds 3]
        [--part metrics|access-log] [--connections 1]

--part metrics:     metrics on (the default) against --no-metrics.
--part access-log:  --access-log FILE (a file on disk, every line written) against none; the
                    file must hold one line per step answered, which is checked.
--part build --against OTHER_BINARY:
                    this build (--server) against another (say, the commit before a change), both
                    with their defaults: a change's cost on the step path, side by side.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test"))
from e2e_support import Server  # noqa: E402

LUA = os.path.join(HERE, "wrk_requests.lua")


def steps_per_second(server, seconds, workdir, connections=1):
    """One wrk run of `seconds` stepping CartPole-v1 instances, one per connection. Returns the
    rate and the number of requests."""
    ids = []
    for _ in range(connections):
        iid = requests.post(server.base + "/v1/envs/", json={"env_id": "CartPole-v1", "seed": 1}, timeout=10).json()["instance_id"]
        requests.post(f"{server.base}/v1/envs/{iid}/reset/", json={}, timeout=10).raise_for_status()
        ids.append(iid)
    ids_file = os.path.join(workdir, "ids")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")
    c = str(connections)
    out = subprocess.run(["wrk", "-t", c, "-c", c, "-d", f"{seconds}s", "-s", LUA, server.base, "--", "step", ids_file, c],
                         capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"RESULT requests=(\d+) duration_us=(\d+) .*status=(\d+) timeout=(\d+)", out.stdout)
    if not match:
        raise RuntimeError("wrk printed no result: " + out.stdout + out.stderr)
    requests_done, duration_us, bad_status, timeouts = map(int, match.groups())
    if bad_status or timeouts:
        raise RuntimeError(f"wrk saw {bad_status} non-2xx answers and {timeouts} timeouts")
    for iid in ids:
        requests.post(f"{server.base}/v1/envs/{iid}/close/", timeout=10)
    return requests_done / (duration_us / 1e6), requests_done


# part -> (label with, label without, the server's arguments with it, without it)
PARTS = {
    "metrics": ("metrics on", "--no-metrics", lambda workdir: [], lambda workdir: ["--no-metrics"]),
    "access-log": ("access log", "no log", lambda workdir: ["--access-log", os.path.join(workdir, "access.log")], lambda workdir: []),
    "build": ("this build", "other build", lambda workdir: [], lambda workdir: []),
}


def check(part, mode, server, workdir, steps):
    """That the part was really on (or off) in the run just made."""
    if part == "build":
        return
    if part == "metrics":
        if mode == "on":
            scraped = requests.get(server.base + "/metrics", timeout=10).text
            assert "gym_steps_total{env_id=\"CartPole-v1\"}" in scraped, "metrics on, but no step counter"
        else:
            assert requests.get(server.base + "/metrics", timeout=10).status_code == 404
    elif mode == "on":
        log = os.path.join(workdir, "access.log")
        with open(log) as f:
            lines = sum(1 for line in f if "/step/ 200 " in line)
        assert lines >= steps, f"the access log holds {lines} step lines for {steps} steps"
        os.remove(log)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part", choices=sorted(PARTS), default="metrics")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--against", help="with --part build: the other binary")
    args = parser.parse_args()
    if (args.part == "build") != (args.against is not None):
        parser.error("--part build and --against go together")
    if not shutil.which("wrk"):
        print("bench-metrics: wrk is needed (apt-get install wrk)")
        return 1
    with_label, without_label, with_args, without_args = PARTS[args.part]
    name = f"bench-{args.part}"
    workdir = tempfile.mkdtemp(prefix=f"gym-{name}-")
    rates = {"on": [], "off": []}
    try:
        for round_number in range(args.rounds):
            for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                monitor = os.path.join(workdir, f"monitor-{mode}-{round_number}")
                extra = with_args(workdir) if mode == "on" else without_args(workdir)
                binary = args.against if mode == "off" and args.against else args.server
                server = Server(os.path.abspath(binary), monitor, *extra)
                try:
                    steps_per_second(server, 1, workdir, args.connections)  # warm-up
                    rate, steps = steps_per_second(server, args.seconds, workdir, args.connections)
                    if args.part == "metrics":
                        check(args.part, mode, server, workdir, steps)
                finally:
                    server.stop()
                if args.part == "access-log":  # the last lines are written as the server stops
                    check(args.part, mode, server, workdir, steps)
                rates[mode].append(rate)
                label = with_label if mode == "on" else without_label
                print(f"{name}: round {round_number + 1}, {label:12}: {rate:8.0f} steps/s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"{name}: REST CartPole steps, {args.connections} connection(s): {with_label} {on:.0f}/s, {without_label} {off:.0f}/s, "
          f"ratio {on / off:.3f} ({(1 - on / off) * 100:+.1f}% cost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
