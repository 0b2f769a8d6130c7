#!/usr/bin/env python3
"""Replay resets and steps through gym 0.21's own Monitor and print what it recorded.

Usage: monitor_replay_gym021.py <operations.json> <scratch-directory>

<operations.json> is a list of operations: ["reset"] or ["step", reward, done]. They are applied
to gym 0.21's `gym.wrappers.Monitor` (video_callable=False) around an environment that answers
each step with the given reward and done. Prints one JSON object:

    {"errors": [null or the error message of each operation],
     "stats": the stats file old gym wrote at close (episode lengths, rewards, types, ...),
     "total_steps": ..., "episode_id": ...}

gym-server's tests replay the same operations through GymMonitor and compare. Needs a Python
with gym==0.21.0.
"""

import json
import os
import sys
import warnings


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    import gym
    from gym import spaces
    from gym.envs.registration import EnvSpec
    from gym.wrappers.monitor import Monitor
    import numpy as np

    with open(argv[1]) as f:
        operations = json.load(f)

    class ScriptedEnv(gym.Env):
        metadata = {"render.modes": []}

        def __init__(self):
            self.action_space = spaces.Discrete(1)
            self.observation_space = spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)
            self.next = (0.0, False)

        def reset(self):
            return np.zeros(1, dtype=np.float32)

        def step(self, action):
            reward, done = self.next
            return np.zeros(1, dtype=np.float32), reward, done, {}

    env = ScriptedEnv()
    env.spec = EnvSpec("Replay-v0")
    monitor = Monitor(env, argv[2], video_callable=False, force=True, uid="replay")
    errors = []
    for operation in operations:
        try:
            if operation[0] == "reset":
                monitor.reset()
            else:
                env.next = (operation[1], operation[2])
                monitor.step(0)
            errors.append(None)
        except Exception as error:
            errors.append(str(error))
    total_steps = monitor.get_total_steps()
    episode_id = monitor.episode_id
    monitor.close()
    with open(monitor.stats_recorder.path) as f:
        stats = json.load(f)
    print(json.dumps({"errors": errors, "stats": stats, "total_steps": total_steps, "episode_id": episode_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
