"""What the bridge adds to a step: an environment stepped in a tight loop through
gym_server_worker.py (with the tests' Python client, over pipes) against Gymnasium in-process,
measured in the same run.

    /work/main/.venv/bridge/bin/python bridge/bench_worker.py [--steps 20000] [--env CartPole-v1]

Prints, per step:
- the in-process step (the reference);
- the worker's Python cost: its step handler (decode the action, step, encode the answer) run
  in this process with the pipe replaced by a list, minus the in-process step: no system calls;
- the round trip of a bare Python echo process over the same kind of pipes: the floor that
  the operating system sets (wake-ups on a VM cost far more than on bare metal);
- the round trip through the worker over pipes (client encode, write, worker, write, client
  decode), the client's CPU and the worker's CPU (user + system from /proc/<pid>/stat), whose
  excess over the in-process step is the bridge's whole cost in the worker, system calls included;
- frames: a render in-process against a render through the worker (the frame crosses the pipe).
Timing belongs here, not in the tests; the machine is shared, so each figure is the best of a few
rounds.
"""

import argparse
import importlib.util
import json
import os
import struct
import subprocess
import sys
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # as the worker sets it, for a fair render
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tests"))
from worker_client import WORKER_PATH, Layout, WorkerClient  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/<pid>/stat (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_actions(env_id, steps, seed):
    space = gym.make(env_id).action_space
    space.seed(seed)
    actions = [space.sample() for _ in range(steps)]
    return [int(a) for a in actions] if isinstance(space, gym.spaces.Discrete) else actions


def in_process(env_id, actions):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    step, reset = env.step, env.reset
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            reset()
    result = time.perf_counter() - start_wall, time.process_time() - start_cpu
    env.close()
    return result


class ListChannel:
    """The worker's channel with the pipe replaced by keeping the last answer's parts."""

    def __init__(self):
        self.parts = None

    def send_parts(self, parts):
        self.parts = parts

    def send(self, kind, payload=b""):
        self.parts = [bytes([kind]), payload]


def worker_handler_in_process(env_id, actions):
    """The worker's own step handler with no pipe: what its Python code costs per step."""
    spec = importlib.util.spec_from_file_location("gym_server_worker", WORKER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    channel = ListChannel()
    worker = module.Worker(channel, gym, np)
    worker.make(b"M" + json.dumps({"env_id": env_id}).encode())
    layout = Layout(json.loads(channel.parts[1])["action_space"])
    bodies = [b"S" + layout.encode(a) for a in actions]
    worker.reset(b'R{"seed":0}')
    step, reset, flags = worker.step, worker.reset, struct.Struct("<IBBB").unpack_from
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        step(body)
        _, _, terminated, truncated = flags(channel.parts[0])
        if terminated or truncated:
            reset(b"R")
    result = time.perf_counter() - start_wall, time.process_time() - start_cpu
    worker.env.close()
    return result


def through_worker(env_id, actions):
    with WorkerClient() as client:
        client.make(env_id)
        encoded = [client.act_layout.encode(a) for a in actions]
        client.reset(seed=0)
        step_raw, reset = client.step_raw, client.reset
        pid = client.process.pid
        start_worker = cpu_seconds(pid)
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for action in encoded:
            _, _, terminated, truncated, _, _ = step_raw(action)
            if terminated or truncated:
                reset()
        wall, client_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
        worker_cpu = cpu_seconds(pid) - start_worker
        client.close()
    return wall, client_cpu, worker_cpu


ECHO = """
import os
while True:
    data = os.read(0, 65536)
    if not data:
        break
    os.write(1, data)
"""


def pipe_floor(count):
    """The round trip of a 40-byte message through a Python process that only echoes it: what
    the operating system's pipes and wake-ups cost here, with no protocol at all."""
    process = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, bufsize=0)
    write, read = process.stdin.fileno(), process.stdout.fileno()
    message = bytes(40)
    start = time.perf_counter()
    for _ in range(count):
        os.write(write, message)
        os.read(read, 65536)
    result = (time.perf_counter() - start,)
    process.stdin.close()
    process.wait()
    return result


def frames(env_id, count):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(count):
        frame = env.render()
    local = (time.perf_counter() - start) / count
    env.close()
    with WorkerClient() as client:
        client.make(env_id)
        client.reset(seed=0)
        start = time.perf_counter()
        for _ in range(count):
            remote = client.render()
        through = (time.perf_counter() - start) / count
        client.close()
    assert remote.shape == frame.shape
    return local, through, frame.shape


def best(results):
    """Each figure's minimum over the rounds (the machine is shared: the least disturbed)."""
    return tuple(min(column) for column in zip(*results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--frames", type=int, default=200, help="renders to time (0: none)")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many runs of each")
    args = parser.parse_args()
    actions = make_actions(args.env, args.steps, seed=1)
    us = 1e6 / args.steps
    runs = {"local": [], "handler": [], "remote": [], "floor": []}
    for _ in range(args.rounds):  # interleaved, so that a slow spell of the machine hits all four
        runs["local"].append(in_process(args.env, actions))
        runs["handler"].append(worker_handler_in_process(args.env, actions))
        runs["remote"].append(through_worker(args.env, actions))
        runs["floor"].append(pipe_floor(args.steps))
    local, handler, remote, floor = (best(runs[k]) for k in ("local", "handler", "remote", "floor"))

    print("%s, %d steps, best of %d; python %s, gymnasium %s, numpy %s"
          % (args.env, args.steps, args.rounds, sys.version.split()[0], gym.__version__, np.__version__))
    print("  in-process step (reference)           %7.2f us" % (local[0] * us))
    print("  worker step handler, no pipe          %7.2f us   bridge's Python cost: %+.2f us (%.2fx)"
          % (handler[0] * us, (handler[0] - local[0]) * us, handler[0] / local[0]))
    print("  round trip through the worker         %7.2f us   added: %+.2f us (%.2fx)"
          % (remote[0] * us, (remote[0] - local[0]) * us, remote[0] / local[0]))
    print("  pipe round trip, echo process only    %7.2f us   (the operating system's part)" % (floor[0] * us))
    print("    CPU per step: client %.2f us; worker %.2f us = the step (%.2f us in-process) %+.2f us"
          % (remote[1] * us, remote[2] * us, local[1] * us, (remote[2] - local[1]) * us))
    if args.frames:
        local_frame, remote_frame, shape = frames(args.env, args.frames)
        print("  render %s in-process              %7.0f us" % ("x".join(map(str, shape)), local_frame * 1e6))
        print("  render through the worker             %7.0f us   added: %+.0f us (%.2fx)"
              % (remote_frame * 1e6, (remote_frame - local_frame) * 1e6, remote_frame / local_frame))


if __name__ == "__main__":
    main()
