#!/usr/bin/env python3
"""What the metrics cost a step: REST CartPole steps per second with metrics on and with
--no-metrics, measured in the same run, one wrk connection each (scripts/bench/wrk_requests.lua,
the request pattern of scripts/bench/run_bench.py), in alternating rounds so that both see the
same machine. Prints each round and the ratio of the medians (metrics on / off).

    python3 scripts/bench_metrics.py --server .build/release/gym-server [--seconds 4] [--rounds 3]
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
sys.path.insert(0, HERE)
from e2e_support import Server  # noqa: E402

LUA = os.path.join(HERE, "bench", "wrk_requests.lua")


def steps_per_second(server, seconds, workdir):
    """One wrk run of `seconds` stepping one CartPole-v1 instance over one connection."""
    iid = requests.post(server.base + "/v1/envs/", json={"env_id": "CartPole-v1", "seed": 1}, timeout=10).json()["instance_id"]
    requests.post(f"{server.base}/v1/envs/{iid}/reset/", json={}, timeout=10).raise_for_status()
    ids = os.path.join(workdir, "ids")
    with open(ids, "w") as f:
        f.write(iid + "\n")
    out = subprocess.run(["wrk", "-t", "1", "-c", "1", "-d", f"{seconds}s", "-s", LUA, server.base, "--", "step", ids, "1"],
                         capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"RESULT requests=(\d+) duration_us=(\d+) .*status=(\d+) timeout=(\d+)", out.stdout)
    if not match:
        raise RuntimeError("wrk printed no result: " + out.stdout + out.stderr)
    requests_done, duration_us, bad_status, timeouts = map(int, match.groups())
    if bad_status or timeouts:
        raise RuntimeError(f"wrk saw {bad_status} non-2xx answers and {timeouts} timeouts")
    requests.post(f"{server.base}/v1/envs/{iid}/close/", timeout=10)
    return requests_done / (duration_us / 1e6)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench-metrics: wrk is needed (apt-get install wrk)")
        return 1
    workdir = tempfile.mkdtemp(prefix="gym-bench-metrics-")
    rates = {"on": [], "off": []}
    try:
        for round_number in range(args.rounds):
            for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                monitor = os.path.join(workdir, f"monitor-{mode}-{round_number}")
                server = Server(os.path.abspath(args.server), monitor, *(["--no-metrics"] if mode == "off" else []))
                try:
                    steps_per_second(server, 1, workdir)  # warm-up
                    rate = steps_per_second(server, args.seconds, workdir)
                    if mode == "on":
                        scraped = requests.get(server.base + "/metrics", timeout=10).text
                        assert "gym_steps_total{env_id=\"CartPole-v1\"}" in scraped, "metrics on, but no step counter"
                    else:
                        assert requests.get(server.base + "/metrics", timeout=10).status_code == 404
                finally:
                    server.stop()
                rates[mode].append(rate)
                print(f"bench-metrics: round {round_number + 1}, metrics {mode:3}: {rate:8.0f} steps/s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"bench-metrics: REST CartPole steps, 1 connection: metrics on {on:.0f}/s, --no-metrics {off:.0f}/s, "
          f"ratio on/off {on / off:.3f} ({(1 - on / off) * 100:+.1f}% cost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
