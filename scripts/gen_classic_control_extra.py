#!/usr/bin/env python3
"""Generate the classic-control fixtures that the random rollouts of gen_env_fixtures.py miss.

    /tmp/venv-fixtures/bin/python scripts/gen_classic_control_extra.py

Output in Tests/GymEnvsTests/Fixtures/classic_control/:

episodes.json: episodes that reach the parts of the dynamics random actions rarely reach
  (goals, clipping, wrapping, stepping past termination), with reset options, each a case
  {"name", "env_id", "kwargs", "attributes", "events"} (attributes: instance attributes set
  after make, e.g. Acrobot's book_or_nips, which gymnasium.make does not take): ["reset", seed or null, options or null, observation,
  info] for a reset, [action, observation, reward, terminated + 2 * truncated, info] for a step
  of the bare environment (`env.unwrapped`: no time limit, no checks, so actions outside the
  action space and steps past termination are as Gymnasium computes them).

numpy_float32_trig.json: numpy's float32 np.sin and np.cos ({"x", "sin", "cos"}: float32 bit
  patterns as integers), which numpy computes with its own SIMD algorithm on CPUs with FMA3.

Float32 values are written as "f:<shortest repr>", float64 values as JSON numbers (repr).
"""

import json
import math
import os

import gymnasium as gym
import numpy as np

from fixture_json import to_json

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "GymEnvsTests", "Fixtures", "classic_control")


class Case:
    def __init__(self, name, env_id, kwargs=None, attributes=None):
        self.name = name
        self.env_id = env_id
        self.kwargs = kwargs or {}
        self.attributes = attributes or {}
        self.env = gym.make(env_id, **self.kwargs).unwrapped
        for key, value in self.attributes.items():
            setattr(self.env, key, value)
        self.events = []
        self.obs = None

    def reset(self, seed=None, options=None):
        self.obs, info = self.env.reset(seed=seed, options=options)
        self.events.append(["reset", seed, options, to_json(self.obs), to_json(info)])

    def step(self, action):
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        self.events.append([to_json(action), to_json(self.obs), to_json(reward),
                            int(bool(terminated)) + 2 * int(bool(truncated)), to_json(info)])
        return terminated

    def run(self, policy, steps, reset_on_end=True, **reset_args):
        for _ in range(steps):
            if self.step(policy(self.obs)) and reset_on_end:
                self.reset(**reset_args)

    def json(self):
        return {"name": self.name, "env_id": self.env_id, "kwargs": self.kwargs, "attributes": self.attributes,
                "events": self.events}


def f32(x):
    return np.array([x], dtype=np.float32)


def episodes():
    cases = []

    # CartPole: falling over and stepping past termination, both rewards; reset bounds.
    for kwargs in ({}, {"sutton_barto_reward": True}):
        c = Case("CartPole past termination " + str(kwargs), "CartPole-v1", kwargs)
        for seed in (0, 1, 2):
            c.reset(seed=seed)
            c.run(lambda o: 1, 30, reset_on_end=False)
        c.reset(options={"low": -0.2, "high": 0.2})
        c.run(lambda o: 0 if o[2] < 0 else 1, 60, options={"low": -0.2, "high": 0.2})
        c.reset(options={"low": "-0.1", "high": True})
        c.reset(options={"high": 0.01, "ignored": "x"})
        c.reset(options={})
        cases.append(c)

    # MountainCar: energy pumping reaches the goal; walls; reset bounds.
    c = Case("MountainCar goal", "MountainCar-v0")
    c.reset(seed=0)
    c.run(lambda o: 2 if o[1] >= 0 else 0, 400)
    c.reset(seed=1, options={"low": -1.2, "high": -1.0})
    c.run(lambda o: 0, 60, reset_on_end=False)
    c.reset(options={"low": 0.45, "high": 0.5})
    c.run(lambda o: 2, 20)
    cases.append(c)

    c = Case("MountainCar goal_velocity", "MountainCar-v0", {"goal_velocity": 0.02})
    c.reset(seed=2)
    c.run(lambda o: 2 if o[1] >= 0 else 0, 400)
    cases.append(c)

    # MountainCarContinuous: goal reached (reward +100), full power at the speed limit, the left
    # wall, actions outside [-1, 1] (the bare environment clips them), reset bounds.
    c = Case("MountainCarContinuous goal", "MountainCarContinuous-v0")
    c.reset(seed=0)
    c.run(lambda o: f32(1.0 if o[1] >= 0 else -1.0), 400)
    c.reset(seed=3)
    c.run(lambda o: f32(0.73 if o[1] >= 0 else -0.41), 400)
    c.reset(seed=7, options={"low": -1.2, "high": -1.1})
    c.run(lambda o: f32(-1.0), 40, reset_on_end=False)
    c.reset(seed=42)
    c.run(lambda o: f32(3.5 if o[1] >= 0 else -2.25), 300)
    c.reset(options={"low": 0.3, "high": 0.45})
    c.run(lambda o: f32(1.0), 30)
    cases.append(c)

    c = Case("MountainCarContinuous goal_velocity", "MountainCarContinuous-v0", {"goal_velocity": 0.03})
    c.reset(seed=99)
    c.run(lambda o: f32(1.0 if o[1] >= 0 else -1.0), 500)
    cases.append(c)

    # Pendulum: pumping to the speed limit, many turns (angle normalisation), options.
    c = Case("Pendulum pumping", "Pendulum-v1")
    c.reset(seed=0)
    c.run(lambda o: f32(2.0 if o[2] >= 0 else -2.0), 300)
    c.reset(seed=1, options={"x_init": 0.5, "y_init": 0.25})
    c.run(lambda o: f32(-1.25), 50)
    c.reset(options={"x_init": 3})
    c.reset(options={"y_init": 7.5, "other": 1})
    c.reset(options={})
    c.run(lambda o: f32(0.1), 20)
    cases.append(c)

    c = Case("Pendulum without gravity", "Pendulum-v1", {"g": 0.0})
    c.reset(seed=2)
    c.run(lambda o: f32(2.0), 300)
    cases.append(c)

    # Acrobot: pumping to the goal, many wide resets (float32 sin/cos of the reset state on
    # numpy's own algorithm), huge resets (libm's cosf/sinf, and long wraps).
    c = Case("Acrobot goal", "Acrobot-v1")
    c.reset(seed=0)
    c.run(lambda o: 2 if o[4] >= 0 else 0, 600)
    c.reset(seed=1, options={"low": -3.0, "high": 3.0})
    for _ in range(300):
        c.step(1)
        c.reset(options={"low": -3.0, "high": 3.0})
    # (No steps from such states: the velocities are as huge, and Gymnasium's `wrap` loops forever.)
    for _ in range(100):
        c.reset(options={"low": -200000.0, "high": 200000.0})
    cases.append(c)

    # Instance attributes gymnasium.make does not take: CartPole's semi-implicit Euler, Acrobot's
    # NIPS dynamics and torque noise (which draws from the environment's generator).
    c = Case("CartPole semi-implicit euler", "CartPole-v1", {}, {"kinematics_integrator": "semi-implicit euler"})
    c.reset(seed=0)
    c.run(lambda o: 0 if o[2] < 0 else 1, 300)
    cases.append(c)

    c = Case("Acrobot nips", "Acrobot-v1", {}, {"book_or_nips": "nips"})
    c.reset(seed=0)
    c.run(lambda o: 2 if o[4] >= 0 else 0, 400)
    cases.append(c)

    c = Case("Acrobot torque noise", "Acrobot-v1", {}, {"torque_noise_max": 0.5})
    c.reset(seed=2)
    c.run(lambda o: 2 if o[4] >= 0 else 0, 400)
    cases.append(c)

    return [c.json() for c in cases]


def float32_trig():
    rng = np.random.default_rng(12345)
    parts = [
        rng.uniform(-0.1, 0.1, 4000), rng.uniform(-4, 4, 8000), rng.uniform(-100, 100, 4000),
        rng.uniform(-80000, 80000, 4000), rng.uniform(-2e5, 2e5, 2000),
        np.array([0.0, -0.0, 1.0, -1.0, math.pi, -math.pi, math.pi / 2, math.pi / 4, 71476.0625,
                  71476.07, 117435.992, 117436.0, 1e30, np.inf, -np.inf, np.nan, 1e-40]),
    ]
    xs = np.concatenate(parts).astype(np.float32)
    sins = np.array([np.sin(np.float32(x)) for x in xs], dtype=np.float32)
    coss = np.array([np.cos(np.float32(x)) for x in xs], dtype=np.float32)
    bits = lambda a: a.view(np.uint32).tolist()
    return {"numpy": np.__version__, "x": bits(xs), "sin": bits(sins), "cos": bits(coss)}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("episodes", {"gymnasium": gym.__version__, "numpy": np.__version__, "cases": episodes()}),
                       ("numpy_float32_trig", float32_trig())):
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
