#!/usr/bin/env python3
"""Generate the vector-environment fixtures that the Swift tests replay.

Each fixture is what Gymnasium 1.4.0's
    gymnasium.make_vec(env_id, num_envs=3, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": mode}, **kwargs)
(a SyncVectorEnv) answers to a scripted sequence of resets and steps, for the autoreset modes
next_step, same_step and disabled. The semantics are written up in docs/vector-semantics.md.

    python3 -m venv .venv/vecfix
    .venv/vecfix/bin/pip install gymnasium==1.4.0 numpy
    .venv/vecfix/bin/python scripts/gen_vector_fixtures.py            # (re)write the fixtures
    .venv/vecfix/bin/python scripts/gen_vector_fixtures.py --check    # assert they are reproduced
    .venv/vecfix/bin/python scripts/gen_vector_fixtures.py --replay   # check the notes' rules
    .venv/vecfix/bin/python scripts/gen_vector_fixtures.py Taxi-v3    # only some files

--replay runs ReferenceVector, a model of the rules written from the notes on plain gym.make
sub-environments (no SyncVectorEnv), against every env fixture and compares each answer's JSON text.

Output: Tests/GymServerTests/Fixtures/vector/<env id>.json (one per env id, holding one run per
autoreset mode) and record_episode_statistics.json (gymnasium.wrappers.vector.RecordEpisodeStatistics
over CartPole-v1 and Pendulum-v1). The schema is SCHEMA below.

JSON form of Gymnasium's values: numpy arrays via tolist() (a float32 element becomes the float64 of
the float32, as tolist gives), object arrays element by element (None -> null), tuples as lists,
numpy scalars as Python numbers, dict keys and their order as Gymnasium has them. Floats are
written with Python's repr, so they round-trip exactly.
"""

import argparse
import json
import os
import sys

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests",
                                    "GymServerTests", "Fixtures", "vector"))

SCHEMA = """
<env id>.json:
{
  "env_id": id as a gym-server client names it,
  "gymnasium_env_id": id given to gymnasium.make_vec (differs only for Taxi-v3 -> Taxi-v4),
  "kwargs": make_vec keyword arguments for the sub-environments (e.g. max_episode_steps),
  "num_envs": 3,
  "gymnasium": "1.4.0", "numpy": numpy version used,
  "single_observation_space": repr, "single_action_space": repr,
  "observation_space": repr of the batched space, "action_space": repr of the batched space,
  "runs": [ one per autoreset mode, in the order next_step, same_step, disabled:
    {
      "autoreset_mode": "next_step" | "same_step" | "disabled" (AutoresetMode.NEXT_STEP, ... given
                        as vector_kwargs["autoreset_mode"]),
      "metadata_autoreset_mode": that enum's value, "NextStep" | "SameStep" | "Disabled",
      "repr": repr of the vector env,
      "action_seed": seed of the numpy Generator (np.random.default_rng) the actions came from,
      "events": [
        {"call": "reset", "seed": int | [int | null, ...] | null,
         "options": null | {"reset_mask": [bool, ...]},
         "observation": batched observation, "info": batched info},
        {"call": "step", "action": batched action as a client sends it (ints for Discrete,
         lists of floats for Box), "observation": ..., "reward": [float, ...],
         "terminated": [bool, ...], "truncated": [bool, ...], "info": batched info},
        ...
      ]
    }, ...
  ]
}

record_episode_statistics.json:
{
  "num_envs": 3, "gymnasium": ..., "numpy": ...,
  "runs": [ CartPole-v1 (default kwargs) and Pendulum-v1 (max_episode_steps=15), each in next_step
            and same_step:
    {"env_id": ..., "kwargs": {...}, "autoreset_mode": ..., "reset_seed": int, "action_seed": int,
     "steps": int,
     "actions": [[a0, a1, a2], ...] one per step, after a single reset(seed=reset_seed),
     "episodes": [{"step": 1-based step index, "index": sub-env, "return": float, "length": int},
                  ...] in the order Gymnasium's wrapper reports them (step, then index),
     "episode_count": the wrapper's episode_count at the end,
     "return_queue": list(wrapper.return_queue), "length_queue": list(wrapper.length_queue)}
  ]
}
"""

NUM_ENVS = 3
MODES = ["next_step", "same_step", "disabled"]
# Gymnasium's AutoresetMode accepts the enum or its value ("NextStep", "SameStep", "Disabled").
MODE_ENUM = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP,
             "disabled": AutoresetMode.DISABLED}
STEPS = 60

# (id a client uses, id in Gymnasium 1.4.0, make kwargs, first reset seed)
ENVS = [
    ("CartPole-v0", "CartPole-v0", {}, 11),
    ("CartPole-v1", "CartPole-v1", {"max_episode_steps": 15}, 12),
    ("MountainCar-v0", "MountainCar-v0", {"max_episode_steps": 12}, 13),
    ("MountainCarContinuous-v0", "MountainCarContinuous-v0", {"max_episode_steps": 12}, 14),
    ("Pendulum-v1", "Pendulum-v1", {"max_episode_steps": 12}, 15),
    ("Acrobot-v1", "Acrobot-v1", {"max_episode_steps": 12}, 16),
    ("FrozenLake-v1", "FrozenLake-v1", {}, 17),
    ("FrozenLake8x8-v1", "FrozenLake8x8-v1", {"max_episode_steps": 15}, 18),
    ("Taxi-v3", "Taxi-v4", {"max_episode_steps": 12}, 19),
    ("CliffWalking-v1", "CliffWalking-v1", {"max_episode_steps": 12}, 20),
    ("Blackjack-v1", "Blackjack-v1", {}, 21),
]


def to_json(x):
    """Gymnasium value -> JSON value (see the module docstring)."""
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            return [to_json(v) for v in x]
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (tuple, list)):
        return [to_json(v) for v in x]
    if isinstance(x, dict):
        for k in x:
            if not isinstance(k, str):
                raise TypeError(f"non-string dict key {k!r}")
        return {k: to_json(v) for k, v in x.items()}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"cannot encode {type(x)}: {x!r}")


def action_from_json(space, action):
    """The batched action Gymnasium receives for a client's JSON action."""
    return np.array(action, dtype=space.dtype)


def sample_actions(rng, single_space):
    """One batched action, in the JSON form a client sends."""
    if isinstance(single_space, gym.spaces.Discrete):
        return [int(single_space.start + v) for v in rng.integers(0, single_space.n, size=NUM_ENVS)]
    if isinstance(single_space, gym.spaces.Box):
        low = np.broadcast_to(single_space.low, single_space.shape).astype(np.float64)
        high = np.broadcast_to(single_space.high, single_space.shape).astype(np.float64)
        values = rng.uniform(low, high, size=(NUM_ENVS,) + single_space.shape)
        return values.astype(single_space.dtype).tolist()
    raise TypeError(f"no sampler for {single_space}")


def make(gym_id, kwargs, mode):
    return gym.make_vec(gym_id, num_envs=NUM_ENVS, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": MODE_ENUM[mode]}, **kwargs)


def run(gym_id, kwargs, mode, seed):
    """One scripted run: the events list plus the run's header fields."""
    envs = make(gym_id, kwargs, mode)
    action_seed = 1000 + seed
    rng = np.random.default_rng(action_seed)
    events = []

    def reset(seed_arg, options):
        call_options = None
        if options is not None:
            call_options = {"reset_mask": np.array(options["reset_mask"], dtype=np.bool_)}
        obs, info = envs.reset(seed=seed_arg, options=call_options)
        events.append({"call": "reset", "seed": seed_arg, "options": options,
                       "observation": to_json(obs), "info": to_json(info)})

    reset(seed, None)
    used_seed_list_with_mask = False
    for t in range(1, STEPS + 1):
        action = sample_actions(rng, envs.single_action_space)
        obs, reward, terminated, truncated, info = envs.step(action_from_json(envs.action_space, action))
        events.append({"call": "step", "action": action, "observation": to_json(obs),
                       "reward": to_json(reward), "terminated": to_json(terminated),
                       "truncated": to_json(truncated), "info": to_json(info)})
        done = np.logical_or(terminated, truncated)
        if mode == "disabled" and done.any():
            # As a user of the disabled mode must: reset exactly the sub-environments that ended.
            mask = {"reset_mask": done.tolist()}
            if not used_seed_list_with_mask:
                # Seeds of sub-environments outside the mask are ignored.
                reset([seed + 200 + i for i in range(NUM_ENVS)], mask)
                used_seed_list_with_mask = True
            else:
                reset(None, mask)
        if t == 17:
            # A list of seeds, one sub-environment keeping its stream.
            reset([seed + 100, None, seed + 102], None)
        elif t == 26 and mode != "disabled":
            # A partial reset of a sub-environment in mid-episode (allowed in every mode).
            reset(None, {"reset_mask": [False, True, False]})
        elif t == 34:
            # Seedless: every stream continues.
            reset(None, None)

    header = {"autoreset_mode": mode, "metadata_autoreset_mode": envs.metadata["autoreset_mode"].value,
              "repr": repr(envs), "action_seed": action_seed}
    spaces = {"single_observation_space": repr(envs.single_observation_space),
              "single_action_space": repr(envs.single_action_space),
              "observation_space": repr(envs.observation_space),
              "action_space": repr(envs.action_space)}
    envs.close()
    return header, spaces, events


def env_fixture(env_id, gym_id, kwargs, seed):
    data = {"env_id": env_id, "gymnasium_env_id": gym_id, "kwargs": kwargs, "num_envs": NUM_ENVS,
            "gymnasium": gym.__version__, "numpy": np.__version__}
    runs = []
    for mode in MODES:
        header, spaces, events = run(gym_id, kwargs, mode, seed)
        if "single_observation_space" in data:
            assert all(data[k] == v for k, v in spaces.items()), (env_id, mode, spaces)
        else:
            data.update(spaces)
        runs.append({**header, "events": events})
    data["runs"] = runs
    return data


def res_fixture():
    """gymnasium.wrappers.vector.RecordEpisodeStatistics: every finished sub-episode, in order."""
    data = {"num_envs": NUM_ENVS, "gymnasium": gym.__version__, "numpy": np.__version__, "runs": []}
    # CartPole's returns equal its lengths; Pendulum's float rewards check the returns' sums.
    for gym_id, kwargs, steps, reset_seed, action_seed in [("CartPole-v1", {}, 100, 5, 6),
                                                           ("Pendulum-v1", {"max_episode_steps": 15}, 40, 7, 8)]:
        for mode in ["next_step", "same_step"]:
            envs = RecordEpisodeStatistics(make(gym_id, kwargs, mode))
            rng = np.random.default_rng(action_seed)
            envs.reset(seed=reset_seed)
            actions, episodes = [], []
            for t in range(1, steps + 1):
                action = sample_actions(rng, envs.single_action_space)
                actions.append(action)
                _, _, terminated, truncated, info = envs.step(action_from_json(envs.action_space, action))
                done = np.logical_or(terminated, truncated)
                assert ("episode" in info) == bool(done.any())
                if "episode" in info:
                    assert info["_episode"].tolist() == done.tolist()
                    for i in np.flatnonzero(info["_episode"]):
                        episodes.append({"step": t, "index": int(i),
                                         "return": float(info["episode"]["r"][i]),
                                         "length": int(info["episode"]["l"][i])})
            assert [e["return"] for e in episodes][-100:] == [float(v) for v in envs.return_queue]
            data["runs"].append({"env_id": gym_id, "kwargs": kwargs, "autoreset_mode": mode,
                                 "reset_seed": reset_seed, "action_seed": action_seed, "steps": steps,
                                 "actions": actions, "episodes": episodes,
                                 "episode_count": int(envs.episode_count),
                                 "return_queue": [float(v) for v in envs.return_queue],
                                 "length_queue": [int(v) for v in envs.length_queue]})
            envs.close()
    return data


class ReferenceVector:
    """An independent model of SyncVectorEnv, written from docs/vector-semantics.md on plain
    gym.make sub-environments. --replay drives it with each fixture's calls and compares its
    answers with the recorded ones, so the notes are checked to be complete for these envs."""

    def __init__(self, gym_id, kwargs, mode):
        self.envs = [gym.make(gym_id, **kwargs) for _ in range(NUM_ENVS)]
        self.mode = mode
        self.single_space = self.envs[0].observation_space
        self.action_dtype = self.envs[0].action_space.dtype
        self.obs = [None] * NUM_ENVS
        self.ended = [False] * NUM_ENVS  # terminated or truncated at the last step, not reset since

    def add_info(self, batched, info, i):
        for key, value in info.items():
            if key == "final_obs":
                array = batched.get(key)
                if array is None:
                    array = np.full(NUM_ENVS, None, dtype=object)
                array[i] = value
            elif isinstance(value, dict):
                array = self.add_info(batched.get(key, {}), value, i)
            else:
                array = batched.get(key)
                if array is None:
                    if type(value) in (int, float, bool) or isinstance(value, np.number):
                        array = np.zeros(NUM_ENVS, dtype=type(value))
                    elif isinstance(value, np.ndarray):
                        array = np.zeros((NUM_ENVS,) + value.shape, dtype=value.dtype)
                    else:
                        array = np.full(NUM_ENVS, None, dtype=object)
                array[i] = value
            mask = batched.get("_" + key, np.zeros(NUM_ENVS, dtype=bool))
            mask[i] = True
            batched[key], batched["_" + key] = array, mask
        return batched

    def batched_obs(self):
        space = self.single_space
        if isinstance(space, gym.spaces.Discrete):
            return [int(o) for o in self.obs]
        if isinstance(space, gym.spaces.Box):
            return [np.asarray(o, dtype=space.dtype).tolist() for o in self.obs]
        if isinstance(space, gym.spaces.Tuple) and all(isinstance(s, gym.spaces.Discrete) for s in space):
            return [[int(o[k]) for o in self.obs] for k in range(len(space))]
        raise TypeError(space)

    def reset(self, seed, options):
        if seed is None:
            seeds = [None] * NUM_ENVS
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(NUM_ENVS)]
        else:
            seeds = list(seed)
        mask = [True] * NUM_ENVS
        sub_options = options
        if options is not None and "reset_mask" in options:
            mask = list(options["reset_mask"])
            sub_options = {k: v for k, v in options.items() if k != "reset_mask"}
        info = {}
        for i in range(NUM_ENVS):
            if mask[i]:
                self.obs[i], sub_info = self.envs[i].reset(seed=seeds[i], options=sub_options)
                self.ended[i] = False
                self.add_info(info, sub_info, i)
        return self.batched_obs(), to_json(info)

    def step(self, action):
        actions = np.array(action, dtype=self.action_dtype)
        rewards, terminated, truncated, info = [], [], [], {}
        for i in range(NUM_ENVS):
            if self.mode == "next_step" and self.ended[i]:
                self.obs[i], sub_info = self.envs[i].reset()
                reward, term, trunc = 0.0, False, False
            else:
                assert not self.ended[i], "disabled mode: step of a sub-environment that was not reset"
                self.obs[i], reward, term, trunc, sub_info = self.envs[i].step(actions[i])
                if self.mode == "same_step" and (term or trunc):
                    self.add_info(info, {"final_obs": self.obs[i], "final_info": sub_info}, i)
                    self.obs[i], sub_info = self.envs[i].reset()
            self.add_info(info, sub_info, i)
            rewards.append(float(np.float64(reward)))
            terminated.append(bool(term))
            truncated.append(bool(trunc))
            # same_step: the sub-environment was already reset, nothing is pending.
            self.ended[i] = bool(term or trunc) and self.mode != "same_step"
        return self.batched_obs(), rewards, terminated, truncated, to_json(info)


def replay(path):
    """Replays one env fixture on ReferenceVector; returns the number of events compared."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    enc = lambda v: json.dumps(v, separators=(",", ":"))  # noqa: E731 - 1 and 1.0 must differ
    count = 0
    for run_data in data["runs"]:
        ref = ReferenceVector(data["gymnasium_env_id"], data["kwargs"], run_data["autoreset_mode"])
        for n, event in enumerate(run_data["events"]):
            if event["call"] == "reset":
                obs, info = ref.reset(event["seed"], event["options"])
                got = {**event, "observation": obs, "info": info}
            else:
                obs, reward, term, trunc, info = ref.step(event["action"])
                got = {**event, "observation": obs, "reward": reward, "terminated": term,
                       "truncated": trunc, "info": info}
            if enc(got) != enc(event):
                raise AssertionError(f"{path} {run_data['autoreset_mode']} event {n}:\n"
                                     f"  fixture:   {enc(event)}\n  reference: {enc(got)}")
            count += 1
    return count


def dumps(data):
    """Compact JSON with one event (or episode/action) per line, so diffs stay readable."""
    def enc(v):
        return json.dumps(v, separators=(",", ":"), allow_nan=False)

    lines = ["{"]
    items = list(data.items())
    for n, (k, v) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if k != "runs":
            lines.append(f"{enc(k)}:{enc(v)}{comma}")
            continue
        lines.append(f"{enc(k)}:[")
        for r, run_data in enumerate(v):
            lines.append("{")
            run_items = list(run_data.items())
            for m, (rk, rv) in enumerate(run_items):
                rcomma = "," if m < len(run_items) - 1 else ""
                if isinstance(rv, list) and rk in ("events", "actions", "episodes"):
                    lines.append(f"{enc(rk)}:[")
                    lines.extend(enc(e) + ("," if j < len(rv) - 1 else "") for j, e in enumerate(rv))
                    lines.append("]" + rcomma)
                else:
                    lines.append(f"{enc(rk)}:{enc(rv)}{rcomma}")
            lines.append("}" + ("," if r < len(v) - 1 else ""))
        lines.append("]" + comma)
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == data
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="re-run Gymnasium and assert the files are reproduced byte for byte")
    parser.add_argument("--replay", action="store_true",
                        help="replay the env fixtures on an independent model of the notes' rules")
    parser.add_argument("only", nargs="*", help="file stems to (re)generate, e.g. Taxi-v3")
    args = parser.parse_args()
    if gym.__version__ != "1.4.0":
        sys.exit(f"needs gymnasium 1.4.0, found {gym.__version__}")
    gym.logger.min_level = 40  # the passive checker's warnings are not part of the fixtures

    jobs = [(env_id, lambda e=(env_id, gym_id, kwargs, seed): env_fixture(*e))
            for env_id, gym_id, kwargs, seed in ENVS]
    jobs.append(("record_episode_statistics", res_fixture))
    unknown = set(args.only) - {stem for stem, _ in jobs}
    if unknown:
        sys.exit(f"unknown fixture name(s): {', '.join(sorted(unknown))}; known: {', '.join(s for s, _ in jobs)}")
    if args.replay:
        total = 0
        for env_id, *_ in ENVS:
            if args.only and env_id not in args.only:
                continue
            count = replay(os.path.join(OUT, f"{env_id}.json"))
            print(f"{env_id}: {count} events match the reference model")
            total += count
        print(f"{total} events replayed")
        return

    os.makedirs(OUT, exist_ok=True)
    failures, total = [], 0
    for stem, build in jobs:
        if args.only and stem not in args.only:
            continue
        path = os.path.join(OUT, f"{stem}.json")
        text = dumps(build())
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            print(f"{path}: {'same' if same else 'DIFFERS'}")
            if not same:
                failures.append(stem)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"{path}: {os.path.getsize(path)} bytes")
        total += len(text.encode())
    print(f"total: {total} bytes")
    if failures:
        sys.exit(f"{len(failures)} fixture(s) not reproduced: {', '.join(failures)}")


if __name__ == "__main__":
    main()
