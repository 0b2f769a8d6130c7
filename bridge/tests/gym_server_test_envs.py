"""Small Gymnasium environments for the bridge's tests, registered on import under the
`GymServerTest` namespace (load them in a worker with `--import gym_server_test_envs`).

| id | observation space | action space | what it is for |
| --- | --- | --- | --- |
| GymServerTest/DictBox-v0 | Dict(position: Box(2,) float32, mode: Discrete(3)) | Box(2,) float32 | randomness from np_random, a time limit (25), Dict key order, info values, frames and text |
| GymServerTest/Float16Box-v0 | Box(3,) float16 with infinite bounds | Box(3,) float16 | float16 round trip: the observation echoes the action |
| GymServerTest/UInt16Box-v0 | Box((2, 2)) uint16 | Box((2, 2)) uint16 | uint16 round trip: the observation echoes the action |
| GymServerTest/Nested-v0 | Tuple(Discrete int16 start -3, Dict(...), Box uint8 image) | the same space | every kind of part, nested; the observation echoes the action |
| GymServerTest/Raising-v0 | Box(1,) float64 | Discrete(4) | errors from step, reset and render; odd info values; printing to stdout |
| GymServerTest/TextObs-v0 | Text(8) | Discrete(2) | a space the bridge refuses |
| GymServerTest/AnsiOnly-v0 | Discrete(4) | Discrete(2) | an env whose only render mode is ansi |
| GymServerTest/Slow-v0 | Discrete(2) | Discrete(2) | every reset and step takes 0.2 s and says when it ran (info started, ended): a vector's workers overlap; action 1 ends the episode |
| GymServerTest/RenderMode-v0 | Discrete(2) | Discrete(2) | says its render mode in every info (`render_mode`): made without one until the first render; a frame 2x3 of the step count |
| GymServerTest/FixedRenderMode-v0 | Discrete(2) | Discrete(2) | declares rgb_array, but its render mode cannot be set once made |
"""

import sys
import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces

NAMESPACE = "GymServerTest"


class DictBoxEnv(gym.Env):
    """A point pushed around a plane with noisy moves.

    ## Observation Space
    Dict(position: Box(-10, 10, (2,), float32), mode: Discrete(3)); given as a plain dict with
    `position` first, so Gymnasium sorts the keys: `mode`, then `position`.

    ## Action Space
    Box(-1, 1, (2,), float32): the push.

    ## Rewards
    Minus the distance from the origin (float64).

    ## Episode End
    Terminated when the point leaves the disc of radius 8; truncated after 25 steps (time limit).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 10}

    def __init__(self, render_mode=None, noise=0.05):
        self.render_mode = render_mode
        self.noise = float(noise)
        self.observation_space = spaces.Dict({
            "position": spaces.Box(-10.0, 10.0, (2,), np.float32),
            "mode": spaces.Discrete(3),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.position = None
        self.mode = 0

    def _observation(self):
        return {"position": self.position.copy(), "mode": int(self.mode)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        scale = 1.0 if options is None else float(options.get("scale", 1.0))
        self.position = self.np_random.uniform(-scale, scale, size=2).astype(np.float32)
        self.mode = int(self.np_random.integers(3))
        return self._observation(), {"scale": scale}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        noise = self.np_random.normal(0.0, self.noise, size=2)
        self.position = (self.position + 0.5 * action + noise).astype(np.float32)
        self.mode = int(self.np_random.integers(3))
        distance = float(np.linalg.norm(self.position))
        terminated = distance > 8.0
        info = {"distance": np.float32(distance), "noise": noise, "step": {"mode": np.int64(self.mode)}}
        return self._observation(), -distance, terminated, False, info

    def render(self):
        if self.render_mode == "ansi":
            return "position %.3f %.3f mode %d\n" % (self.position[0], self.position[1], self.mode)
        if self.render_mode == "rgb_array":
            frame = np.zeros((32, 48, 3), dtype=np.uint8)
            x = int(np.clip((self.position[0] + 10.0) / 20.0 * 47, 0, 47))
            y = int(np.clip((self.position[1] + 10.0) / 20.0 * 31, 0, 31))
            frame[:, :, 2] = 40
            frame[y, x] = (255, 200 - 60 * self.mode, 0)
            return frame
        return None


class EchoEnv(gym.Env):
    """Observation = the last action, in the observation space's dtype; reset draws a random
    first observation from the observation space, seeded from np_random. For round trips."""

    metadata = {"render_modes": []}

    def __init__(self, observation_space, action_space):
        self.observation_space = observation_space
        self.action_space = action_space
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self.observation_space.seed(int(self.np_random.integers(2**31)))
        return self.observation_space.sample(), {}

    def step(self, action):
        self.steps += 1
        return self._echo(action), float(self.steps), False, self.steps >= 1000, {}

    def _echo(self, action):
        return np.asarray(action, dtype=self.observation_space.dtype).copy()


class Float16BoxEnv(EchoEnv):
    def __init__(self):
        super().__init__(
            spaces.Box(np.array([-np.inf, -1.0, 0.0], dtype=np.float16),
                       np.array([np.inf, 1.0, 65504.0], dtype=np.float16), (3,), np.float16),
            spaces.Box(np.float16(-65504.0), np.float16(65504.0), (3,), np.float16))


class UInt16BoxEnv(EchoEnv):
    def __init__(self):
        super().__init__(spaces.Box(0, 65535, (2, 2), np.uint16), spaces.Box(0, 65535, (2, 2), np.uint16))


def nested_space():
    return spaces.Tuple((
        spaces.Discrete(7, start=-3, dtype=np.int16),
        spaces.Dict({
            "zeta": spaces.MultiBinary((2, 3)),
            "grid": spaces.MultiDiscrete(np.array([[3, 4], [5, 6]]), start=np.array([[1, 0], [0, -1]])),
            "wide": spaces.Box(np.iinfo(np.int64).min, np.iinfo(np.int64).max, (2,), np.int64),
            "huge": spaces.Box(0, np.iinfo(np.uint64).max, (1,), np.uint64),
            "flag": spaces.Box(0, 1, (2,), np.bool_),
            "inner": spaces.Tuple((spaces.Discrete(2), spaces.Box(-1.0, 1.0, (), np.float64))),
        }),
        spaces.Box(0, 255, (2, 2, 3), np.uint8),
    ))


class NestedEnv(EchoEnv):
    def __init__(self):
        super().__init__(nested_space(), nested_space())

    def _echo(self, action):
        def copy(space, value):
            if isinstance(space, spaces.Tuple):
                return tuple(copy(s, v) for s, v in zip(space.spaces, value, strict=True))
            if isinstance(space, spaces.Dict):
                return {k: copy(s, value[k]) for k, s in space.spaces.items()}
            if isinstance(space, spaces.Discrete):
                return space.dtype.type(value)
            return np.asarray(value, dtype=space.dtype).copy()
        return copy(self.observation_space, action)


class Opaque:
    def __repr__(self):
        return "<Opaque thing>"


class RaisingEnv(gym.Env):
    """Action 0: a normal step with odd info values (and a line printed to stdout); action 1: the
    observation has the wrong shape; action 2: ValueError; action 3: SystemExit. Reset with
    options {"fail": true} raises RuntimeError; render raises in ansi mode, gives RGBA otherwise."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float64)
        self.action_space = spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options and options.get("fail"):
            raise RuntimeError("reset failed on purpose")
        return np.array([0.5]), {}

    def step(self, action):
        if action == 1:
            return np.zeros(2), 0.0, False, False, {}
        if action == 2:
            raise ValueError("action 2 is forbidden")
        if action == 3:
            sys.exit(3)
        print("a line an environment printed to stdout")
        info = {
            "array": np.arange(3, dtype=np.int32),
            "matrix": np.eye(2, dtype=np.float32),
            "scalar": np.float32(0.1),
            "nested": {"int": np.int64(3), "bool": np.bool_(True), "deeper": {"uint": np.uint8(200)}},
            "tuple": (1, np.float64(2.5)),
            "set": {7},
            "opaque": Opaque(),
            "nan": float("nan"),
            "inf": np.inf,
            "minus_inf": -np.inf,
            7: "an int key",
            "none": None,
            "text": "plain",
            "objects": np.array([Opaque(), 1], dtype=object),
        }
        return np.array([0.25]), 1.5, False, False, info

    def render(self):
        if self.render_mode == "ansi":
            raise RuntimeError("no text today")
        frame = np.zeros((4, 5, 4), dtype=np.uint8)
        frame[..., 0] = 10
        frame[..., 1] = np.arange(5, dtype=np.uint8)
        frame[..., 3] = 255
        return frame


class TextObsEnv(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Text(8)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "a", {}

    def step(self, action):
        return "b", 0.0, False, False, {}


class AnsiOnlyEnv(gym.Env):
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(4)
        self.action_space = spaces.Discrete(2)
        self.state = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = int(self.np_random.integers(4))
        return self.state, {}

    def step(self, action):
        self.state = (self.state + (1 if action else -1)) % 4
        return self.state, 0.0, self.state == 0, False, {}

    def render(self):
        return "state %d" % self.state if self.render_mode == "ansi" else None


class SlowEnv(gym.Env):
    """Each reset and step sleeps 0.2 s and reports when it ran, by `time.monotonic()` (one clock
    for every process of the machine): the calls of a vector's workers overlap when they are
    in flight at once, and cannot when they are made one after another."""

    metadata = {"render_modes": []}
    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, self._ran()

    def step(self, action):
        return 1, 1.0, bool(action), False, self._ran()

    @staticmethod
    def _ran():
        started = time.monotonic()
        time.sleep(0.2)
        return {"started": started, "ended": time.monotonic()}


class RenderModeEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return 0, {"render_mode": self.render_mode}

    def step(self, action):
        self.steps += 1
        return int(action), 0.0, False, False, {"render_mode": self.render_mode}

    def render(self):
        return np.full((2, 3, 3), self.steps, dtype=np.uint8) if self.render_mode == "rgb_array" else None


class FixedRenderModeEnv(RenderModeEnv):
    render_mode = property(lambda self: None)

    def __init__(self):
        self.steps = 0


def _register():
    entries = [
        ("DictBox-v0", "DictBoxEnv", 25),
        ("Float16Box-v0", "Float16BoxEnv", None),
        ("UInt16Box-v0", "UInt16BoxEnv", None),
        ("Nested-v0", "NestedEnv", None),
        ("Raising-v0", "RaisingEnv", None),
        ("TextObs-v0", "TextObsEnv", None),
        ("AnsiOnly-v0", "AnsiOnlyEnv", 50),
        ("Slow-v0", "SlowEnv", None),
        ("RenderMode-v0", "RenderModeEnv", None),
        ("FixedRenderMode-v0", "FixedRenderModeEnv", None),
    ]
    for name, cls, steps in entries:
        env_id = "%s/%s" % (NAMESPACE, name)
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="%s:%s" % (__name__, cls), max_episode_steps=steps)


_register()
