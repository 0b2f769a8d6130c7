#!/usr/bin/env python3
"""`make bench`, part 4: gym-server as a shared service, measured by the compiled client gym-load
(the same code for every transport), each figure next to its reference from the same run.

  * latency: p50/p99 of plain steps on one connection, idle, then while 16 other clients step with
    render: true and a monitor filming every episode (blocking work must not stall other clients);
  * load: 64 clients, 10,000 steps each, half on instances of their own and half sharing four, with
    monitors recording: no error, no lost step, resident memory back near its start;
  * compare: steps per second and p50 over one WebSocket (Gymie's protocol) against REST over one
    keep-alive connection.

    python scripts/bench/bench_service.py --server .build/release/gym-server --load .build/release/gym-load
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test"))
from e2e_support import run_gym_load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    server, load = os.path.abspath(args.server), os.path.abspath(args.load)
    failures = 0
    failures += run_gym_load(server, load, ["latency", "--requests", "5000", "--load-clients", "16"]).returncode != 0
    failures += run_gym_load(server, load, ["load", "--clients", str(args.clients), "--steps", str(args.steps), "--shared", "4", "--film", "2"]).returncode != 0
    failures += run_gym_load(server, load, ["compare", "--requests", "20000"]).returncode != 0
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
