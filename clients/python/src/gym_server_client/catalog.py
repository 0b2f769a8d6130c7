"""What gym-server's API does not say about its environments: render modes, frame rate,
reward threshold and time limit, as Gymnasium 1.4 declares them for the same ids.

The server's routes describe spaces but not metadata, so the client carries this table. An id
not in it (a newer server's) still works: rgb_array rendering, no declared frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvFacts:
    render_modes: tuple[str, ...]
    render_fps: int | None
    reward_threshold: float | None
    max_episode_steps: int | None  # enforced by the server, listed for reference


_CLASSIC = ("rgb_array",)
_TOY_TEXT = ("rgb_array", "ansi")

# Gymnasium 1.4's own ids, and the older ids gym-server keeps as aliases.
NATIVE_ENVS: dict[str, EnvFacts] = {
    "CartPole-v0": EnvFacts(_CLASSIC, 50, 195.0, 200),
    "CartPole-v1": EnvFacts(_CLASSIC, 50, 475.0, 500),
    "MountainCar-v0": EnvFacts(_CLASSIC, 30, -110.0, 200),
    "MountainCarContinuous-v0": EnvFacts(_CLASSIC, 30, 90.0, 999),
    "Pendulum-v1": EnvFacts(_CLASSIC, 30, None, 200),
    "Acrobot-v1": EnvFacts(_CLASSIC, 15, -100.0, 500),
    "FrozenLake-v1": EnvFacts(_TOY_TEXT, 4, 0.70, 100),
    "FrozenLake8x8-v1": EnvFacts(_TOY_TEXT, 4, 0.85, 200),
    "Taxi-v3": EnvFacts(_TOY_TEXT, 4, 8.0, 200),
    "Taxi-v4": EnvFacts(_TOY_TEXT, 4, 8.0, 200),
    "CliffWalking-v1": EnvFacts(_TOY_TEXT, 4, None, None),
    "CliffWalkingSlippery-v1": EnvFacts(_TOY_TEXT, 4, None, None),
    # Gymnasium's Blackjack has no text render.
    "Blackjack-v1": EnvFacts(_CLASSIC, 4, None, None),
}

# Registered as gym_server/<id> on import (the aliases -v0 of Pendulum, FrozenLake, CliffWalking
# and Blackjack are left out: Gymnasium itself no longer has them).
REGISTERED_IDS: tuple[str, ...] = tuple(NATIVE_ENVS)

UNKNOWN_ENV = EnvFacts(("rgb_array",), None, None, None)


def facts_for(env_id: str) -> EnvFacts:
    return NATIVE_ENVS.get(env_id, UNKNOWN_ENV)
