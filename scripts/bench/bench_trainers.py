#!/usr/bin/env python3
"""Trainers on gym-server against the same trainers in process: wall time, side by side.

Stable-Baselines3 (each run twice with the same seed: through ``gym_server_client.sb3.make_vec_env``,
N environments in one vector instance of a server this script starts, and through SB3's own
``make_vec_env``, a DummyVecEnv of N Gymnasium environments in process):

    PPO CartPole-v1, n_envs=4 and n_envs=16 (16,384 timesteps, n_steps 128)
    DQN FrozenLake-v1 (10,000 timesteps)
    PPO Pendulum-v1, n_envs=4 (8,192 timesteps, n_steps 512)

The two sides are measured in turns (which goes first alternates by round), after one short
unmeasured run of each; a round's ratio is gym-server's wall time of ``learn()`` over in
process's, and the figure is the median of the rounds' ratios (each round's pair ran back to back,
so a slower moment of a shared machine weighs on both), printed beside both median times. The two
runs must give the same episodes and weights: each line says whether they did.

For the CartPole cases a third run in each round, for reference: in process again, with one
round trip per vector step to an echo process over a loopback TCP socket (a message the size of
gym-server's answer, written and read back before each step, waited for as the client
waits for gym-server's: transport.SpinWait). It is what an environment behind
any socket pays on this machine (the exchange, and the trainer's own work slowed after each wait
for it), with nothing done on the other side: gym-server's run can only be faster than in
process where its environments cost the trainer less than that.

Bridged (with --bridge-python, a Python with gymnasium[box2d]; default .venv/bridge/bin/python):
LunarLander-v3 x8 as a vector instance over one connection of a server started with --python
(its sub-environments spread over --vector-worker-processes workers, by default one per core),
against Gymnasium's AsyncVectorEnv x8 run by that same Python: env-steps per second, seeded
random actions. Both sides make their environments with no render mode (gym-server's workers
switch one on only when a frame is first asked for, and none is here). And one bridged CartPole-v1 step over HTTP against a native one, on the same
server over one keep-alive plain socket each (interleaved blocks): the p50 of each, and what the
bridge adds (target: within 100 µs).

    .venv/sb3/bin/python scripts/bench/bench_trainers.py --server /tmp/gym-server-bin/gym-server
    .venv/sb3/bin/python scripts/bench/bench_trainers.py --server BINARY --quick     # a short run

Needs stable-baselines3 and torch: scripts/setup/make-sb3-venv.sh makes .venv/sb3 with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    workdir: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_server(binary: str, python: str | None) -> Server:
    workdir = tempfile.mkdtemp(prefix="bench-trainers-")
    log = Path(workdir) / "server.log"
    port, files_port = free_ports(2)
    arguments = [binary, "--host", "127.0.0.1", "--port", str(port), "--files-port", str(files_port),
                 "--monitor-dir", str(Path(workdir) / "monitor"), "--log-level", "warning"]
    if python:
        arguments += ["--python", python]
    with open(log, "w") as out:
        process = subprocess.Popen(arguments, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={k: v for k, v in os.environ.items() if k != "GYM_SERVER_PYTHON"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/v1/help", timeout=1) as answer:
                if answer.status == 200:
                    return Server(process, url, workdir, log)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"gym-server ({binary}) did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")


# ---- Stable-Baselines3 ------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    algorithm: str
    env_id: str
    n_envs: int
    timesteps: int
    quick_timesteps: int
    kwargs: dict
    warmup: int  # timesteps of an unmeasured run on each side first (torch's and the server's first calls)
    target: float | None = None
    echo: bool = False  # also run in process with an echo round trip a step, for reference
    times: dict[str, list[float]] = field(default_factory=lambda: {"server": [], "in process": []})
    identical: list[bool] = field(default_factory=list)


CASES = [
    Case("SB3 PPO CartPole n_envs=4", "PPO", "CartPole-v1", 4, 16_384, 4_096, {"n_steps": 128}, 1_024, 1.25, echo=True),
    Case("SB3 PPO CartPole n_envs=16", "PPO", "CartPole-v1", 16, 16_384, 4_096, {"n_steps": 128}, 2_048, 1.0, echo=True),
    Case("SB3 DQN FrozenLake n_envs=1", "DQN", "FrozenLake-v1", 1, 10_000, 3_000, {"learning_starts": 1_000}, 1_200),
    Case("SB3 PPO Pendulum n_envs=4", "PPO", "Pendulum-v1", 4, 8_192, 2_048, {"n_steps": 512}, 2_048),
]


ECHO_SERVER = r"""
import socket, sys
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
connection, _ = listener.accept()
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    data = connection.recv(65536)
    if not data:
        break
    connection.sendall(data)
"""


class Echo:
    """An echo process over loopback TCP: one exchange of ``size`` bytes a call."""

    def __init__(self, size: int) -> None:
        from gym_server_client.transport import SpinWait, spin_budget

        self.process = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
        port = int(self.process.stdout.readline())
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.message = b"x" * size
        self.wait = SpinWait(spin_budget())  # waiting for the echo as the client waits for the server

    def exchange(self) -> None:
        self.wait.sending()
        self.sock.sendall(self.message)
        have = 0
        while have < len(self.message):
            have += len(self.wait.recv(self.sock, 65536))

    def close(self) -> None:
        self.sock.close()
        self.process.wait(timeout=10)


def train(case: Case, timesteps: int, url: str | None, threads: int, echo: Echo | None = None) -> tuple[float, list, dict]:
    """One learn() run: its wall time, Monitor's episodes (return, length) and the weights; with
    ``echo``, in process with an echo round trip before every vector step."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    from gym_server_client.sb3 import make_vec_env

    torch.set_num_threads(threads)
    if url is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = sb3_make_vec_env(case.env_id, n_envs=case.n_envs, seed=0)
    else:
        env = make_vec_env(case.env_id, n_envs=case.n_envs, seed=0, url=url)
    if echo is not None:
        step_wait = env.step_wait

        def step_wait_after_echo():
            echo.exchange()
            return step_wait()

        env.step_wait = step_wait_after_echo
    model = getattr(stable_baselines3, case.algorithm)("MlpPolicy", env, seed=0, device="cpu", **case.kwargs)
    start = time.perf_counter()
    model.learn(timesteps)
    seconds = time.perf_counter() - start
    episodes = [(e["r"], e["l"]) for e in model.ep_info_buffer]
    weights = model.policy.state_dict()
    env.close()
    return seconds, episodes, weights


def bench_sb3(case: Case, url: str, rounds: int, quick: bool, threads: int) -> None:
    import torch

    timesteps = case.quick_timesteps if quick else case.timesteps
    for side_url in (url, None):
        train(case, case.warmup, side_url, threads)
    # gym-server's answer to a vector step of n CartPoles (its head and MessagePack body): ~310
    # bytes and 27 a sub-environment (291 bytes of body for 4, 616 for 16).
    echo = Echo(310 + 27 * case.n_envs) if case.echo else None
    try:
        for r in range(rounds):
            sides = [("server", url), ("in process", None)]
            if r % 2:
                sides.reverse()
            results = {}
            for name, side_url in sides:
                seconds, episodes, weights = train(case, timesteps, side_url, threads)
                case.times[name].append(seconds)
                results[name] = (episodes, weights)
            (e1, w1), (e2, w2) = results["server"], results["in process"]
            case.identical.append(e1 == e2 and list(w1) == list(w2) and all(torch.equal(w1[k], w2[k]) for k in w2))
            echoed = ""
            if echo is not None:
                case.times.setdefault("echo", []).append(train(case, timesteps, None, threads, echo)[0])
                echoed = f", in process with an echo round trip a step {case.times['echo'][-1]:.2f} s"
            print(f"   {case.label} round {r}: gym-server {case.times['server'][-1]:.2f} s, "
                  f"in process {case.times['in process'][-1]:.2f} s{echoed}", flush=True)
    finally:
        if echo is not None:
            echo.close()


def report_sb3(case: Case, quick: bool) -> str:
    server, local = statistics.median(case.times["server"]), statistics.median(case.times["in process"])
    ratios = [s / l for s, l in zip(case.times["server"], case.times["in process"])]
    ratio = statistics.median(ratios)
    timesteps = case.quick_timesteps if quick else case.timesteps
    target = f" (target <= {case.target}x)" if case.target is not None else ""
    verdict = "" if case.target is None else ("  MET" if ratio <= case.target else "  NOT MET")
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    same = "identical episodes and weights" if all(case.identical) else "RESULTS DIFFER"
    echoed = ""
    if case.times.get("echo"):
        echo_ratio = statistics.median(e / l for e, l in zip(case.times["echo"], case.times["in process"]))
        echoed = (f"\n    for reference, in process with an echo round trip a step: {echo_ratio:.2f}x in process "
                  f"({statistics.median(case.times['echo']):.2f} s)")
    return (f"{case.label}: {ratio:.2f}x in-process wall time{target}{verdict}\n"
            f"    {timesteps:,} timesteps: gym-server {server:.2f} s, in process {local:.2f} s "
            f"(medians of {len(ratios)} rounds; the figure is the median of the rounds' ratios {rounds}); {same}{echoed}")


# ---- bridged LunarLander ------------------------------------------------------------------------------

# Run by the bridge's Python: Gymnasium's AsyncVectorEnv x8 in process, the same seeded actions.
ASYNC_REFERENCE = r"""
import json, sys, time
import gymnasium as gym
import numpy as np
num_envs, steps, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
envs = gym.make_vec("LunarLander-v3", num_envs=num_envs, vectorization_mode="async")
envs.reset(seed=0)
actions = np.random.default_rng(0).integers(0, 4, size=(warmup + steps, num_envs))
for a in actions[:warmup]:
    envs.step(a)
start = time.perf_counter()
for a in actions[warmup:]:
    envs.step(a)
seconds = time.perf_counter() - start
envs.close()
print(json.dumps({"seconds": seconds}))
"""


def bridged_remote(url: str, num_envs: int, steps: int, warmup: int) -> float:
    from gym_server_client import RemoteVectorEnv

    envs = RemoteVectorEnv("LunarLander-v3", num_envs, url=url)
    try:
        envs.reset(seed=0)
        actions = np.random.default_rng(0).integers(0, 4, size=(warmup + steps, num_envs))
        for a in actions[:warmup]:
            envs.step(a)
        start = time.perf_counter()
        for a in actions[warmup:]:
            envs.step(a)
        return time.perf_counter() - start
    finally:
        envs.close()


def bridged_reference(python: str, num_envs: int, steps: int, warmup: int) -> float:
    answer = subprocess.run([python, "-c", ASYNC_REFERENCE, str(num_envs), str(steps), str(warmup)],
                            capture_output=True, text=True, check=True)
    return json.loads(answer.stdout.strip().splitlines()[-1])["seconds"]


def bench_bridge(url: str, python: str, rounds: int, quick: bool) -> str:
    num_envs, warmup = 8, 20
    steps = 300 if quick else 2_000
    rates: dict[str, list[float]] = {"server": [], "in process": []}
    for r in range(rounds):
        sides = ["server", "in process"] if r % 2 == 0 else ["in process", "server"]
        for side in sides:
            if side == "server":
                seconds = bridged_remote(url, num_envs, steps, warmup)
            else:
                seconds = bridged_reference(python, num_envs, steps, warmup)
            rates[side].append(num_envs * steps / seconds)
        print(f"   bridged LunarLander-v3 x{num_envs} round {r}: gym-server {rates['server'][-1]:,.0f} env-steps/s, "
              f"AsyncVectorEnv {rates['in process'][-1]:,.0f} env-steps/s", flush=True)
    server, local = statistics.median(rates["server"]), statistics.median(rates["in process"])
    ratios = [s / l for s, l in zip(rates["server"], rates["in process"])]
    ratio = statistics.median(ratios)
    verdict = "  MET" if ratio >= 1.0 else "  NOT MET"
    by_round = ", ".join(f"{r:.2f}" for r in ratios)
    return (f"bridged LunarLander-v3 x{num_envs}, one connection: {ratio:.2f}x AsyncVectorEnv x{num_envs}'s env-steps/s "
            f"(target >= 1.0x){verdict}\n"
            f"    {steps:,} vector steps: gym-server {server:,.0f} env-steps/s, in process {local:,.0f} env-steps/s "
            f"(medians of {len(ratios)} rounds; the figure is the median of the rounds' ratios {by_round})")


def plain_step_times(url: str, body: dict, count: int) -> list[float]:
    """Per-step seconds of ``count`` steps of a CartPole-v1 instance made with ``body``, over one
    keep-alive socket (the request written once, the answer read by its Content-Length); reset
    when the episode ends (not timed); the instance closed after."""
    host, port = url.removeprefix("http://").split(":")
    made = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{url}/v1/envs/", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})).read())
    instance = made["instance_id"]
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(route: str, data: bytes) -> bytes:
        return (f"POST /v1/envs/{instance}/{route}/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode() + data

    buffer = b""

    def exchange(message: bytes) -> bytes:
        nonlocal buffer
        sock.sendall(message)
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += sock.recv(65536)
        buffer = rest[length:]
        return rest[:length]

    step, reset = request("step", b'{"action": 0}'), request("reset", b"{}")
    exchange(reset)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        answer = exchange(step)
        times.append(time.perf_counter() - start)
        if b'"done": true' in answer:
            exchange(reset)
    exchange(request("close", b""))
    sock.close()
    return times


def bench_bridged_step(url: str, quick: bool) -> str:
    """A bridged CartPole-v1 step over HTTP against a native one: p50s and the difference."""
    rounds, per_block = (3, 300) if quick else (5, 1_000)
    native: list[float] = []
    bridged: list[float] = []
    for r in range(rounds):
        for body, into in (({"env_id": "CartPole-v1"}, native), ({"env_id": "CartPole-v1", "backend": "gymnasium"}, bridged))[:: 1 if r % 2 == 0 else -1]:
            into.extend(plain_step_times(url, body, per_block))
    p50_native, p50_bridged = statistics.median(native) * 1e6, statistics.median(bridged) * 1e6
    added = p50_bridged - p50_native
    verdict = "  MET" if added <= 100 else "  NOT MET"
    return (f"bridged CartPole-v1 step over HTTP: +{added:.0f} µs over a native one at the p50 (target <= 100 µs){verdict}\n"
            f"    p50 over one keep-alive socket: bridged {p50_bridged:.0f} µs, native {p50_native:.0f} µs "
            f"({rounds} blocks of {per_block:,} steps each, taken in turns)")


def bridge_python_usable(python: str) -> str | None:
    """None if `python` has gymnasium and Box2D, else why not."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"{python} is not an executable"
    check = subprocess.run([python, "-c", "import gymnasium, Box2D"], capture_output=True, text=True)
    return None if check.returncode == 0 else f"{python} lacks gymnasium or Box2D: {check.stderr.strip()[-200:]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the gym-server binary to start")
    parser.add_argument("--bridge-python", default=str(ROOT / ".venv/bridge/bin/python"),
                        help="a Python with gymnasium[box2d] for the bridged run (default %(default)s); '' skips it")
    parser.add_argument("--rounds", type=int, default=None, help="turns per figure (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer timesteps, one round")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads for both sides (default %(default)s)")
    parser.add_argument("--only", default=None, help="run only the cases whose label contains this text (e.g. 'n_envs=4', 'LunarLander')")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401

        import gym_server_client.sb3  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"{e}: run this with the venv of scripts/setup/make-sb3-venv.sh (.venv/sb3/bin/python)")

    bridge_problem = bridge_python_usable(args.bridge_python) if args.bridge_python else "skipped (--bridge-python '')"
    server = start_server(args.server, args.bridge_python if bridge_problem is None else None)
    lines = []
    try:
        print(f"gym-server {args.server} on {server.url}; {os.cpu_count()} cores; torch threads {args.torch_threads}; "
              f"{rounds} round(s){' (quick)' if args.quick else ''}", flush=True)
        for case in CASES:
            if args.only and args.only not in case.label:
                continue
            bench_sb3(case, server.url, rounds, args.quick, args.torch_threads)
            lines.append(report_sb3(case, args.quick))
        if not args.only or "LunarLander" in args.only:
            if bridge_problem is None:
                lines.append(bench_bridge(server.url, args.bridge_python, rounds, args.quick))
                lines.append(bench_bridged_step(server.url, args.quick))
            else:
                lines.append(f"bridged LunarLander-v3 x8: not measured ({bridge_problem})")
                lines.append(f"bridged CartPole-v1 step: not measured ({bridge_problem})")
    finally:
        server.stop()
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
