#!/usr/bin/env python3
"""Generate the `ansi` render fixtures that the Swift toy-text tests compare against.

For each environment below and a few seeds, this makes the Gymnasium environment with
render_mode="ansi", resets it with the seed and takes 40 actions (sampled from an action space
seeded separately), continuing through episode ends with seedless resets. After every reset and
step it stores the text `env.render()` returns.

    python3 -m venv /tmp/venv-fixtures
    /tmp/venv-fixtures/bin/pip install gymnasium==1.4.0 numpy
    /tmp/venv-fixtures/bin/python scripts/gen_ansi_fixtures.py

Output: Tests/GymEnvsTests/Fixtures/ansi/<name>.json with
{"env_id", "kwargs", "gymnasium", "rollouts": [{"seed", "events": [...]}]}, an event being
["reset", seed or null, text] or [action, text].
"""

import json
import os
import sys

import gymnasium as gym

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "GymEnvsTests", "Fixtures", "ansi")

# (id as registered in Gymnasium 1.4, make kwargs, fixture name)
ENVS = [
    ("FrozenLake-v1", {}, "FrozenLake-v1"),
    ("FrozenLake8x8-v1", {}, "FrozenLake8x8-v1"),
    ("FrozenLake-v1", {"desc": ["SFFHF", "FHFFF", "FFFHG"], "is_slippery": False}, "FrozenLake-v1-desc"),
    ("Taxi-v4", {}, "Taxi-v4"),
    ("Taxi-v4", {"is_rainy": True, "fickle_passenger": True}, "Taxi-v4-rainy_fickle"),
    ("CliffWalking-v1", {}, "CliffWalking-v1"),
    ("CliffWalking-v1", {"is_slippery": True}, "CliffWalking-v1-slippery"),
]

SEEDS = [0, 1, 42]
STEPS = 40


def rollout(env_id, kwargs, seed):
    env = gym.make(env_id, render_mode="ansi", **kwargs)
    env.action_space.seed(seed + 1)
    env.reset(seed=seed)
    events = [["reset", seed, env.render()]]
    for _ in range(STEPS):
        action = int(env.action_space.sample())
        _, _, terminated, truncated, _ = env.step(action)
        events.append([action, env.render()])
        if terminated or truncated:
            env.reset()
            events.append(["reset", None, env.render()])
    env.close()
    return events


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for env_id, kwargs, name in ENVS:
        if only and name not in only:
            continue
        data = {
            "env_id": env_id, "kwargs": kwargs, "gymnasium": gym.__version__,
            "rollouts": [{"seed": s, "events": rollout(env_id, kwargs, s)} for s in SEEDS],
        }
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
