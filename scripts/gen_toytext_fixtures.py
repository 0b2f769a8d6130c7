#!/usr/bin/env python3
"""Generate extra toy-text rollout fixtures: the make() arguments and paths that random actions
rarely reach (a fickle passenger needs a pickup; tuned probabilities and reward schedules; custom
FrozenLake maps).

Same format as scripts/gen_env_fixtures.py (the Swift RolloutReplay reads both):
["reset", seed or null, observation, info] for a reset, and
[action, observation, reward, terminated + 2 * truncated, info] for a step.
Taxi actions come from a driver that goes for the passenger and the destination (with some
random actions mixed in), so that pickups, fickle destination changes and dropoffs happen.

    /tmp/venv-fixtures/bin/python scripts/gen_toytext_fixtures.py

Output: Tests/GymEnvsTests/Fixtures/toytext/<name>.json
"""

import json
import os
import sys

import gymnasium as gym
import numpy as np

from fixture_json import to_json

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "GymEnvsTests", "Fixtures", "toytext")

# (id as registered in Gymnasium 1.4, make kwargs, fixture name, whether a driver picks Taxi actions)
ENVS = [
    ("Taxi-v4", {"fickle_passenger": True, "fickle_probability": 1.0}, "Taxi-v4-fickle_always", True),
    ("Taxi-v4", {"fickle_passenger": True}, "Taxi-v4-fickle", True),
    ("Taxi-v4", {"is_rainy": True, "fickle_passenger": True}, "Taxi-v4-rainy_fickle-driven", True),
    ("Taxi-v4", {"is_rainy": True, "rainy_probability": 0.6}, "Taxi-v4-rainy_0.6-driven", True),
    ("Taxi-v4", {}, "Taxi-v4-driven", True),
    ("FrozenLake-v1", {"success_rate": 0.75, "reward_schedule": [10, -1, 0.5]}, "FrozenLake-v1-tuned", False),
    ("FrozenLake-v1", {"desc": ["SFFS", "FHFF", "SFHG"]}, "FrozenLake-v1-three_starts", False),
    ("FrozenLake8x8-v1", {"is_slippery": False, "map_name": "4x4"}, "FrozenLake8x8-v1-4x4", False),
    ("Blackjack-v1", {"natural": True}, "Blackjack-v1-natural_sab", False),
    ("Blackjack-v1", {"sab": False}, "Blackjack-v1-plain", False),
]

SEEDS = [0, 1, 2, 7, 42, 2024]
STEPS = 300


def drive(taxi, obs, sampler):
    """An action towards the passenger (or, carrying them, the destination); random at times."""
    if sampler.random() < 0.15:
        return int(sampler.integers(0, 6))
    row, col, passenger, destination = taxi.decode(obs)
    target = taxi.locs[passenger] if passenger < 4 else taxi.locs[destination]
    if (row, col) == target:
        return 4 if passenger < 4 else 5
    # The middle row has no walls: go there, across, then to the target.
    if col != target[1] and row != 2:
        return 0 if row < 2 else 1
    if col != target[1]:
        return 2 if col < target[1] else 3
    return 0 if row < target[0] else 1


def rollout(env_id, kwargs, seed, driven):
    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed + 1)
    sampler = np.random.default_rng(seed + 2)
    obs, info = env.reset(seed=seed)
    events = [["reset", seed, to_json(obs), to_json(info)]]
    for _ in range(STEPS):
        action = drive(env.unwrapped, obs, sampler) if driven else int(env.action_space.sample())
        obs, reward, terminated, truncated, info = env.step(action)
        events.append([action, to_json(obs), to_json(reward),
                       int(bool(terminated)) + 2 * int(bool(truncated)), to_json(info)])
        if terminated or truncated:
            obs, info = env.reset()
            events.append(["reset", None, to_json(obs), to_json(info)])
    env.close()
    return events


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for env_id, kwargs, name, driven in ENVS:
        if only and name not in only:
            continue
        spec = gym.spec(env_id)
        data = {
            "env_id": env_id, "kwargs": kwargs, "max_episode_steps": spec.max_episode_steps,
            "gymnasium": gym.__version__, "numpy": np.__version__,
            "rollouts": [{"seed": s, "events": rollout(env_id, kwargs, s, driven)} for s in SEEDS],
        }
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
