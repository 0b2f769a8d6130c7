#!/usr/bin/env python3
"""In-process references for scripts/bench/run_bench.py, run with the Python of .venv/bench-vector.

  inprocess_reference.py vector --impl gymnasium|envpool --num-envs N --duration S [--warmup S]
      Steps CartPole-v1 vectorised over N environments with action 0 everywhere for S seconds:
      gymnasium.make_vec(..., vectorization_mode="sync") (SyncVectorEnv) or envpool.make(...,
      env_type="gymnasium", one worker thread per usable core, at most N). Prints one JSON line
      with batch_steps_per_s and env_steps_per_s.
  inprocess_reference.py memory --instances N
      Resident memory of N gymnasium.make("CartPole-v1") instances, each reset once, in this
      process: VmRSS after making them minus VmRSS before (gymnasium imported and one instance
      made and dropped first, so neither the import nor the first make is counted).
  inprocess_reference.py memory --vector N
      The same for one gymnasium.make_vec("CartPole-v1", num_envs=N, vectorization_mode="sync"),
      reset once.
"""
import argparse
import gc
import json
import os
import sys
import time


def vm_rss_bytes():
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def make_vector(impl, num_envs):
    import numpy as np

    if impl == "gymnasium":
        import gymnasium

        env = gymnasium.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync")
        env.reset(seed=0)
        actions = np.zeros(num_envs, dtype=np.int64)
        details = {"gymnasium": gymnasium.__version__, "class": type(env).__name__,
                   "autoreset_mode": str(getattr(env, "autoreset_mode", ""))}
        return env, actions, details
    if impl == "envpool":
        import envpool

        # One worker thread per usable core (what envpool picks by default on a machine whose
        # cores are all usable), written down so the figure says what it measured.
        threads = min(num_envs, len(os.sched_getaffinity(0)))
        env = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=num_envs, batch_size=num_envs,
                           num_threads=threads, seed=0)
        env.reset()
        actions = np.zeros(num_envs, dtype=np.int32)
        config = getattr(env, "config", {}) or {}
        details = {"envpool": envpool.__version__, "num_threads": threads,
                   "batch_size": config.get("batch_size"), "max_episode_steps": config.get("max_episode_steps")}
        return env, actions, details
    raise SystemExit(f"unknown --impl {impl!r}: gymnasium or envpool")


def run_vector(args):
    if args.num_envs < 1:
        raise SystemExit("--num-envs must be at least 1")
    if args.duration <= 0 or args.warmup < 0:
        raise SystemExit("--duration must be positive and --warmup not negative")
    env, actions, details = make_vector(args.impl, args.num_envs)
    observation, *_ = env.step(actions)
    if tuple(observation.shape) != (args.num_envs, 4):
        raise SystemExit(f"{args.impl}: observation shape {observation.shape}, expected ({args.num_envs}, 4)")
    step = env.step
    deadline = time.perf_counter() + args.warmup
    while time.perf_counter() < deadline:
        step(actions)
    batches = 0
    start = time.perf_counter()
    deadline = start + args.duration
    now = start
    while now < deadline:
        step(actions)
        batches += 1
        now = time.perf_counter()
    elapsed = now - start
    env.close()
    print(json.dumps({"impl": args.impl, "num_envs": args.num_envs, "batches": batches, "seconds": elapsed,
                      "batch_steps_per_s": batches / elapsed, "env_steps_per_s": batches * args.num_envs / elapsed,
                      "mean_batch_ms": elapsed / batches * 1000, "python": sys.version.split()[0], **details}))


def run_memory(args):
    if args.instances < 0 or args.vector < 0 or args.instances + args.vector < 1:
        raise SystemExit("give --instances N or --vector N (at least 1)")
    import gymnasium

    first = gymnasium.make("CartPole-v1")
    first.reset(seed=0)
    del first
    gc.collect()
    before = vm_rss_bytes()
    instances = []
    start = time.perf_counter()
    if args.vector:
        env = gymnasium.make_vec("CartPole-v1", num_envs=args.vector, vectorization_mode="sync")
        env.reset(seed=0)
        instances.append(env)
    for i in range(args.instances):
        env = gymnasium.make("CartPole-v1")
        env.reset(seed=i)
        instances.append(env)
    elapsed = time.perf_counter() - start
    gc.collect()
    time.sleep(0.5)
    after = vm_rss_bytes()
    print(json.dumps({"instances": args.instances, "vector": args.vector, "rss_before": before, "rss_after": after,
                      "rss_delta": after - before, "create_seconds": elapsed, "gymnasium": gymnasium.__version__,
                      "python": sys.version.split()[0]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    vector = sub.add_parser("vector", help="vector steps per second")
    vector.add_argument("--impl", required=True, choices=["gymnasium", "envpool"])
    vector.add_argument("--num-envs", type=int, required=True)
    vector.add_argument("--duration", type=float, required=True, help="seconds measured")
    vector.add_argument("--warmup", type=float, default=0.5, help="seconds stepped before measuring")
    memory = sub.add_parser("memory", help="resident memory of many instances")
    memory.add_argument("--instances", type=int, default=0, help="separate instances")
    memory.add_argument("--vector", type=int, default=0, help="the width of one vector")
    args = parser.parse_args()
    run_vector(args) if args.command == "vector" else run_memory(args)


if __name__ == "__main__":
    main()
