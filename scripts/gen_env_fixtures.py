#!/usr/bin/env python3
"""Generate the environment rollout fixtures that the Swift tests replay.

For every environment id gym-server registers, and for 20 seeds each, this resets the
Gymnasium environment with the seed and takes 200 actions (sampled from an action space
seeded separately, and recorded), continuing through episode ends with seedless resets as an
agent would. Every reset and step is stored: observation, reward, terminated, truncated, info.

    python3 -m venv /tmp/venv-fixtures
    /tmp/venv-fixtures/bin/pip install gymnasium==1.4.0 numpy
    /tmp/venv-fixtures/bin/python scripts/gen_env_fixtures.py

Output: Tests/GymEnvsTests/Fixtures/rollouts/<name>.json, holding per seed a list of events:
["reset", seed or null, observation, info] for a reset, and
[action, observation, reward, terminated + 2 * truncated, info] for a step.
Variants with make() keyword arguments use the first 5 seeds, and so do the `-out_of_bounds`
ones, whose actions are sampled from three times the action space's bounds (with a +-1e6 now and
then): Gymnasium's environments clip them, and so must gym-server's. Float32 observations are written
with numpy's shortest float32 representation (parse them as Float); float64 values (rewards,
float64 observations) with Python's repr.
"""

import json
import os
import sys

import gymnasium as gym
import numpy as np

from fixture_json import to_json

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "GymEnvsTests", "Fixtures", "rollouts")

# (id as registered in Gymnasium 1.4, make kwargs, fixture name)
ENVS = [
    ("CartPole-v0", {}, "CartPole-v0"),
    ("CartPole-v1", {}, "CartPole-v1"),
    ("CartPole-v1", {"sutton_barto_reward": True}, "CartPole-v1-sutton_barto"),
    ("MountainCar-v0", {}, "MountainCar-v0"),
    ("MountainCarContinuous-v0", {}, "MountainCarContinuous-v0"),
    ("Pendulum-v1", {}, "Pendulum-v1"),
    ("Pendulum-v1", {"g": 9.81}, "Pendulum-v1-g9.81"),
    ("Pendulum-v1", {}, "Pendulum-v1-out_of_bounds"),
    ("MountainCarContinuous-v0", {}, "MountainCarContinuous-v0-out_of_bounds"),
    ("Acrobot-v1", {}, "Acrobot-v1"),
    ("FrozenLake-v1", {}, "FrozenLake-v1"),
    ("FrozenLake-v1", {"is_slippery": False}, "FrozenLake-v1-not_slippery"),
    ("FrozenLake8x8-v1", {}, "FrozenLake8x8-v1"),
    ("Taxi-v4", {}, "Taxi-v4"),
    ("Taxi-v4", {"is_rainy": True, "fickle_passenger": True}, "Taxi-v4-rainy_fickle"),
    ("CliffWalking-v1", {}, "CliffWalking-v1"),
    ("CliffWalking-v1", {"is_slippery": True}, "CliffWalking-v1-slippery"),
    ("Blackjack-v1", {}, "Blackjack-v1"),
    ("Blackjack-v1", {"natural": True, "sab": False}, "Blackjack-v1-natural"),
]

SEEDS = [0, 1, 2, 3, 7, 42, 99, 123, 1000, 2024, 31337, 65535, 100000, 123456, 999999,
         2**31 - 1, 2**32 + 5, 4242424242, 2**40 + 17, 2**62 + 3]
STEPS = 200


def rollout(env_id, kwargs, seed, out_of_bounds=False):
    env = gym.make(env_id, **kwargs)
    actions = env.action_space
    if out_of_bounds:
        # Exploration noise past the bounds, as agents send it: the environment clips it.
        actions = gym.spaces.Box(low=3 * actions.low, high=3 * actions.high, dtype=np.float32)
    actions.seed(seed + 1)
    obs, info = env.reset(seed=seed)
    events = [["reset", seed, to_json(obs), to_json(info)]]
    for step in range(STEPS):
        action = actions.sample()
        if out_of_bounds and step % 17 == 5:
            action = np.full_like(action, 1e6 if step % 2 else -1e6)
        obs, reward, terminated, truncated, info = env.step(action)
        events.append([to_json(action), to_json(obs), to_json(reward),
                       int(bool(terminated)) + 2 * int(bool(truncated)), to_json(info)])
        if terminated or truncated:
            obs, info = env.reset()
            events.append(["reset", None, to_json(obs), to_json(info)])
    env.close()
    return events


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for env_id, kwargs, name in ENVS:
        if only and name not in only:
            continue
        spec = gym.spec(env_id)
        data = {
            "env_id": env_id, "kwargs": kwargs, "max_episode_steps": spec.max_episode_steps,
            "gymnasium": gym.__version__, "numpy": np.__version__,
            "rollouts": [{"seed": s, "events": rollout(env_id, kwargs, s, name.endswith("out_of_bounds"))}
                         for s in (SEEDS if not kwargs and not name.endswith("out_of_bounds") else SEEDS[:5])],
        }
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
