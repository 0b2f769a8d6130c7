"""What in-process Gymnasium gives for one episode, as JSON: the reference the Swift tests of the
bridge compare gym-server's answers with (Tests/GymServerTests/BridgeTests.swift).

    python reference_episode.py '{"env_id": "LunarLander-v3", "seed": 3, "actions": [0, 2, ...],
                                  "imports": ["gym_server_test_envs"]}'

prints {"reset": {"observation", "info"}, "steps": [{"observation", "reward", "terminated",
"truncated"}, ...]}, observations as numpy's tolist() (Dict: an object, Tuple: a list), stopping
at the first step that ends the episode.
"""

import importlib
import json
import sys

import gymnasium as gym
import numpy as np


def plain(value):
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


def main():
    request = json.loads(sys.argv[1])
    for module in request.get("imports", []):
        importlib.import_module(module)
    env = gym.make(request["env_id"])
    observation, info = env.reset(seed=request["seed"])
    result = {"reset": {"observation": plain(observation), "info": plain(info)}, "steps": []}
    space = env.action_space
    for action in request["actions"]:
        if isinstance(space, gym.spaces.Box):
            action = np.asarray(action, dtype=space.dtype)
        observation, reward, terminated, truncated, info = env.step(action)
        result["steps"].append({"observation": plain(observation), "reward": float(reward),
                                "terminated": bool(terminated), "truncated": bool(truncated)})
        if terminated or truncated:
            break
    env.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
