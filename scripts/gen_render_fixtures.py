#!/usr/bin/env python3
"""Generate the reference frames the scene tests compare against.

Renders Gymnasium 1.4.0's classic-control environments (rgb_array) for a handful of chosen
states each, writes them as PNGs under Tests/GymEnvsTests/Fixtures/frames/, and writes
frames/index.json describing every frame (env id, state, file, size). For the toy-text
environments it records frame sizes and the colours of a few plain tiles instead of images
(our pixel art is our own, so only size, layout and palette are compared).

How to run (from the repository root):

    python3 -m venv /tmp/venv-render            # or any path
    /tmp/venv-render/bin/pip install gymnasium==1.4.0 pygame numpy pillow
    SDL_VIDEODRIVER=dummy /tmp/venv-render/bin/python scripts/gen_render_fixtures.py

Options: --out DIR writes somewhere else (default: Tests/GymEnvsTests/Fixtures/frames).
"""

import argparse
import json
import math
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "Tests", "GymEnvsTests", "Fixtures", "frames")

# (file stem, env id, state fields). Random-ish states, extreme angles, borders.
CART_POLE = [
    ("cartpole_upright", {"x": 0.0, "theta": 0.0}),
    ("cartpole_left_lean", {"x": -1.3, "theta": 0.15}),
    ("cartpole_right_lean", {"x": 2.1, "theta": -0.2}),
    ("cartpole_fallen", {"x": 0.47, "theta": 1.38}),
    ("cartpole_upside_down", {"x": -2.35, "theta": -2.8}),
    ("cartpole_off_edge", {"x": 2.55, "theta": 0.9}),
]
MOUNTAIN_CAR = [
    ("mountaincar_valley", {"position": -0.5236}),
    ("mountaincar_left_wall", {"position": -1.2}),
    ("mountaincar_slope", {"position": 0.31}),
    ("mountaincar_goal", {"position": 0.5}),
    ("mountaincar_right_end", {"position": 0.6}),
]
MOUNTAIN_CAR_CONTINUOUS = [
    ("mountaincarcontinuous_left", {"position": -0.93}),
    ("mountaincarcontinuous_goal", {"position": 0.45}),
    ("mountaincarcontinuous_slope", {"position": 0.17}),
]
PENDULUM = [
    ("pendulum_up_no_torque", {"theta": 0.0, "last_u": None}),
    ("pendulum_ccw_torque", {"theta": math.pi / 3, "last_u": 1.5}),
    ("pendulum_cw_max_torque", {"theta": -2.5, "last_u": -2.0}),
    ("pendulum_down_small_torque", {"theta": 3.0, "last_u": 0.3}),
    ("pendulum_down_max_torque", {"theta": math.pi, "last_u": 2.0}),
    ("pendulum_tiny_torque", {"theta": 1.0, "last_u": -0.05}),
]
ACROBOT = [
    ("acrobot_hanging", {"theta1": 0.0, "theta2": 0.0}),
    ("acrobot_bent", {"theta1": math.pi / 2, "theta2": -math.pi / 2}),
    ("acrobot_up", {"theta1": math.pi, "theta2": 0.3}),
    ("acrobot_swing", {"theta1": -2.0, "theta2": 2.5}),
    ("acrobot_random", {"theta1": 0.7, "theta2": -1.2}),
]


def render_classic(env_id, fields):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    u = env.unwrapped
    if env_id.startswith("CartPole"):
        u.state = np.array([fields["x"], 0.0, fields["theta"], 0.0])
    elif env_id.startswith("MountainCar"):
        u.state = np.array([fields["position"], 0.0])
    elif env_id.startswith("Pendulum"):
        u.state = np.array([fields["theta"], 0.0])
        u.last_u = fields["last_u"]
    elif env_id.startswith("Acrobot"):
        u.state = np.array([fields["theta1"], fields["theta2"], 0.0, 0.0])
    frame = env.render()
    env.close()
    return frame


def toy_text_reference():
    """Frame sizes and a few plain-tile colours of the toy-text environments."""
    out = []

    def sample(frame, points):
        return [{"x": x, "y": y, "rgb": [int(v) for v in frame[y, x]]} for x, y in points]

    env = gym.make("FrozenLake-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    # Centres-ish of an ice tile (row 0, col 2) and a hole tile (row 1, col 1), and the grid line.
    out.append({"env": "FrozenLake-v1", "state": {"position": 0}, "width": frame.shape[1],
                "height": frame.shape[0], "samples": sample(frame, [(150, 12), (80, 100), (64, 40)])})
    env = gym.make("FrozenLake8x8-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    out.append({"env": "FrozenLake8x8-v1", "state": {"position": 0}, "width": frame.shape[1],
                "height": frame.shape[0], "samples": sample(frame, [(150, 12), (210, 150)])})
    env = gym.make("Taxi-v4", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    row, col, passenger, destination = env.unwrapped.decode(env.unwrapped.s)
    out.append({"env": "Taxi-v4", "state": {"taxi_row": int(row), "taxi_col": int(col),
                                            "passenger": int(passenger), "destination": int(destination)},
                "width": frame.shape[1], "height": frame.shape[0],
                "samples": sample(frame, [(10, 10), (10, 300)])})
    env = gym.make("CliffWalking-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    out.append({"env": "CliffWalking-v1", "state": {"position": 36}, "width": frame.shape[1],
                "height": frame.shape[0], "samples": sample(frame, [(300, 30), (300, 215)])})
    env = gym.make("Blackjack-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    player, dealer, ace = env.unwrapped._get_obs()
    out.append({"env": "Blackjack-v1", "state": {"player_sum": int(player), "dealer_card": int(dealer),
                                                 "usable_ace": int(ace)},
                "width": frame.shape[1], "height": frame.shape[0], "samples": sample(frame, [(5, 5), (370, 360)])})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    frames = []
    groups = [("CartPole-v1", CART_POLE), ("MountainCar-v0", MOUNTAIN_CAR),
              ("MountainCarContinuous-v0", MOUNTAIN_CAR_CONTINUOUS), ("Pendulum-v1", PENDULUM),
              ("Acrobot-v1", ACROBOT)]
    for env_id, cases in groups:
        for stem, fields in cases:
            frame = render_classic(env_id, fields)
            name = stem + ".png"
            Image.fromarray(frame).save(os.path.join(args.out, name), optimize=True)
            frames.append({"env": env_id, "file": name, "state": fields,
                           "width": int(frame.shape[1]), "height": int(frame.shape[0])})
    index = {"gymnasium": gym.__version__, "frames": frames, "toy_text": toy_text_reference()}
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, e["file"])) for e in frames)
    print(f"wrote {len(frames)} frames ({total} bytes) and index.json to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
