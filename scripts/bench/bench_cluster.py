#!/usr/bin/env python3
"""What the fleet's front costs and what replicas give (docs/SCALING.md), measured on loopback in
one run, with wrk and scripts/bench/wrk_requests.lua (REST CartPole-v1 steps, one instance per
connection):

1. A step's p50 through HAProxy against the same replica directly, one connection, in
   alternating rounds (target: the front adds at most 30 µs).
2. Steps per second at --connections (48) of REPLICAS replicas behind HAProxy against one
   replica directly, in alternating rounds.

    python3 scripts/bench/bench_cluster.py --server .build/release/gym-server [--replicas 3]
        [--seconds 4] [--rounds 3] [--connections 48]

Ports: the fleet on 15000/18000 (replicas from 15001/18001), the lone server on a free port.
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
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from cluster import Cluster  # noqa: E402
from e2e_support import Server  # noqa: E402

LUA = os.path.join(HERE, "wrk_requests.lua")


def wrk(base, ids, seconds, workdir):
    """(steps per second, p50 µs) of wrk stepping `ids` through `base`, a connection per id."""
    ids_file = os.path.join(workdir, "ids")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")
    c = str(len(ids))
    out = subprocess.run(["wrk", "-t", c, "-c", c, "-d", f"{seconds}s", "-s", LUA, base, "--", "step", ids_file, c],
                         capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) .*status=(\d+) timeout=(\d+)", out.stdout)
    if not match:
        raise RuntimeError("wrk printed no result: " + out.stdout + out.stderr)
    done, duration_us, p50, bad, timeouts = map(int, match.groups())
    if bad or timeouts:
        raise RuntimeError(f"wrk saw {bad} non-2xx answers and {timeouts} timeouts through {base}")
    return done / (duration_us / 1e6), p50


def make_instances(base, count):
    ids = []
    for _ in range(count):
        iid = requests.post(base + "/v1/envs/", json={"env_id": "CartPole-v1", "seed": 1}, timeout=10).json()["instance_id"]
        requests.post(f"{base}/v1/envs/{iid}/reset/", json={}, timeout=10).raise_for_status()
        ids.append(iid)
    return ids


def close_all(base, ids):
    for iid in ids:
        requests.post(f"{base}/v1/envs/{iid}/close/", timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=48)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench-cluster: wrk is needed (apt-get install wrk)")
        return 1
    workdir = tempfile.mkdtemp(prefix="gym-bench-cluster-")
    try:
        with Cluster(args.server, replicas=args.replicas, monitor_root=os.path.join(workdir, "fleet"),
                     api_port=15000, files_port=18000, base_api_port=15001, base_files_port=18001) as cluster:
            lone = Server(os.path.abspath(args.server), os.path.join(workdir, "lone"), port=None)
            try:
                # 1. One instance, one connection: the same replica directly and through the front.
                [iid] = make_instances(cluster.front_url, 1)
                replica = int(iid[:2], 16)
                direct = cluster.replica_url(replica)
                p50 = {"front": [], "direct": []}
                for r in range(args.rounds):
                    for mode in ("front", "direct") if r % 2 == 0 else ("direct", "front"):
                        rate, median = wrk(cluster.front_url if mode == "front" else direct, [iid], args.seconds, workdir)
                        p50[mode].append(median)
                        print(f"bench-cluster latency round {r + 1} {mode:6s}: p50 {median} µs, {rate:,.0f} steps/s", flush=True)
                close_all(cluster.front_url, [iid])
                added = statistics.median(p50["front"]) - statistics.median(p50["direct"])

                # 2. Many connections: the fleet through its front against one replica alone.
                fleet_ids = make_instances(cluster.front_url, args.connections)
                spread = {}
                for i in fleet_ids:
                    spread[i[:2]] = spread.get(i[:2], 0) + 1
                lone_ids = make_instances(lone.base, args.connections)
                rates = {"fleet": [], "lone": []}
                for r in range(args.rounds):
                    for mode in ("fleet", "lone") if r % 2 == 0 else ("lone", "fleet"):
                        base, ids = (cluster.front_url, fleet_ids) if mode == "fleet" else (lone.base, lone_ids)
                        rate, median = wrk(base, ids, args.seconds, workdir)
                        rates[mode].append(rate)
                        print(f"bench-cluster throughput round {r + 1} {mode:5s}: {rate:,.0f} steps/s (p50 {median} µs)", flush=True)
                close_all(cluster.front_url, fleet_ids)
                close_all(lone.base, lone_ids)
            finally:
                lone.stop()
        fleet_rate, lone_rate = statistics.median(rates["fleet"]), statistics.median(rates["lone"])
        cores = os.cpu_count()
        print(f"bench-cluster: the front adds {added:.0f} µs to a step's p50 "
              f"({statistics.median(p50['front']):.0f} through HAProxy, {statistics.median(p50['direct']):.0f} direct; target at most 30)")
        print(f"bench-cluster: {args.replicas} replicas behind HAProxy {fleet_rate:,.0f} steps/s, one replica direct {lone_rate:,.0f}, "
              f"at {args.connections} connections: {fleet_rate / lone_rate:.2f}x on {cores} cores shared by the replicas, HAProxy and wrk "
              f"(instances per replica: {', '.join(f'{k}: {v}' for k, v in sorted(spread.items()))})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
