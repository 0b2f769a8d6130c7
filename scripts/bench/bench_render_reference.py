#!/usr/bin/env python3
"""Reference speed of frame rendering in Python: Gymnasium 1.4.0's rgb_array render plus a
Pillow PNG save, per environment.

The reference is Pillow's DEFAULT save, `Image.fromarray(frame).save(path)` (zlib level 6, no
optimize), which is what flaviotruzzi's gym-server did for every rendered step; Pillow at
compress_level=1 is measured too, for information.

Prints one line per environment in the format SceneBenchmark (Tests/GymEnvsTests/Scenes)
prints for our Swift scenes, so a caller can pair them up by env and print ratios:

    bench-render-reference env=CartPole-v1 frames=N render_ms=... encode_ms=... total_ms=... fps=...
        bytes=... encode_l1_ms=... total_l1_ms=... bytes_l1=...

encode_ms / total_ms / bytes are Pillow's default save; the *_l1 fields are compress_level=1.

Env ids are the server's (Taxi-v3, CliffWalking-v0); they are mapped to Gymnasium 1.4.0's
current versions (Taxi-v4, CliffWalking-v1) for rendering.

How to run (from the repository root):

    python3 -m venv /tmp/venv-render            # or any path
    /tmp/venv-render/bin/pip install gymnasium==1.4.0 pygame numpy pillow
    SDL_VIDEODRIVER=dummy /tmp/venv-render/bin/python scripts/bench/bench_render_reference.py

Times are CPU milliseconds of the benchmarking thread per frame (the fastest of seven batches).

Options: --seconds S (CPU time per measurement, default 0.5), --env ID (repeatable; default: all).
"""

import argparse
import io
import math
import os
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

GYMNASIUM_ID = {"Taxi-v3": "Taxi-v4", "CliffWalking-v0": "CliffWalking-v1"}

ENVS = [
    "CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1", "Acrobot-v1",
    "FrozenLake-v1", "Taxi-v3", "CliffWalking-v0", "Blackjack-v1",
]


def set_state(env_id, env, i):
    """Moves the env to state number i (states vary so no two consecutive frames are alike)."""
    u = env.unwrapped
    t = (i % 100) / 100
    if env_id.startswith("CartPole"):
        u.state = np.array([-2 + 4 * t, 0.0, -0.2 + 0.4 * t, 0.0])
    elif env_id.startswith("MountainCar"):
        u.state = np.array([-1.2 + 1.8 * t, 0.0])
    elif env_id.startswith("Pendulum"):
        u.state = np.array([6.28 * t, 0.0])
        u.last_u = -2 + 4 * t
    elif env_id.startswith("Acrobot"):
        u.state = np.array([6.28 * t, -3 + 6 * t, 0.0, 0.0])
    elif env_id.startswith("FrozenLake"):
        u.s = i % 16
    elif env_id.startswith("Taxi"):
        u.s = u.encode(i % 5, (i // 5) % 5, i % 5, (i // 3) % 4)
        u.lastaction = i % 4
    elif env_id.startswith("CliffWalking"):
        u.s = i % 48
    # Blackjack: the frame drawn after reset; redrawing it costs the same.


def measure(body, seconds):
    """CPU milliseconds (of this thread) per call: the fastest of seven batches, as SceneBenchmark
    reports. CPU time, unlike wall time, is steady on a busy machine."""
    i = 0
    for _ in range(5):
        body(i)
        i += 1
    best = math.inf
    calls = 0
    batch_seconds = seconds / 7
    for _ in range(7):
        start = time.thread_time()
        n = 0
        elapsed = 0.0
        while elapsed < batch_seconds:
            body(i)
            i += 1
            n += 1
            elapsed = time.thread_time() - start
        calls += n
        best = min(best, elapsed * 1000 / n)
    return best, calls


def png_bytes(frame):
    """Pillow's default PNG save (what `Image.fromarray(frame).save("N.png")` writes)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bytes_level1(frame):
    """Pillow's fastest zlib setting, for information."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def bench(env_id, seconds):
    env = gym.make(GYMNASIUM_ID.get(env_id, env_id), render_mode="rgb_array")
    env.reset(seed=0)

    def render(i):
        set_state(env_id, env, i)
        return env.render()

    render_ms, render_calls = measure(render, seconds)
    frames = [render(i) for i in range(16)]
    encode_ms, encode_calls = measure(lambda i: png_bytes(frames[i % len(frames)]), seconds)
    total_ms, total_calls = measure(lambda i: png_bytes(render(i)), seconds)
    encode_l1_ms, encode_l1_calls = measure(lambda i: png_bytes_level1(frames[i % len(frames)]), seconds)
    total_l1_ms, total_l1_calls = measure(lambda i: png_bytes_level1(render(i)), seconds)
    size = sum(len(png_bytes(frame)) for frame in frames) // len(frames)
    size_l1 = sum(len(png_bytes_level1(frame)) for frame in frames) // len(frames)
    env.close()
    calls = render_calls + encode_calls + total_calls + encode_l1_calls + total_l1_calls
    print(
        f"bench-render-reference env={env_id} frames={calls} "
        f"render_ms={render_ms:.4f} encode_ms={encode_ms:.4f} total_ms={total_ms:.4f} fps={1000 / total_ms:.1f} "
        f"bytes={size} encode_l1_ms={encode_l1_ms:.4f} total_l1_ms={total_l1_ms:.4f} bytes_l1={size_l1}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--env", action="append")
    args = parser.parse_args()
    for env_id in args.env or ENVS:
        bench(env_id, args.seconds)


if __name__ == "__main__":
    main()
