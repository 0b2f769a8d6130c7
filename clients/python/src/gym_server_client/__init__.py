"""Gymnasium environments that run in a gym-server.

>>> import gymnasium as gym
>>> import gym_server_client  # registers the gym_server/ namespace
>>> env = gym.make("gym_server/CartPole-v1", url="http://127.0.0.1:5000")
>>> observation, info = env.reset(seed=42)

``gym.make_vec("gym_server/CartPole-v1", num_envs=8, url=...)`` gives a RemoteVectorEnv; or
directly: ``gym_server_client.RemoteEnv("CartPole-v1", url=...)`` and
``gym_server_client.RemoteVectorEnv("CartPole-v1", num_envs=8, url=...)``.
"""

from .catalog import NATIVE_ENVS, REGISTERED_IDS
from .env import DEFAULT_URL, RemoteEnv
from .errors import (
    GymServerError,
    InvalidAction,
    MalformedEnvironmentId,
    PNGDecodeError,
    ProtocolError,
    ResetNeeded,
    ServerError,
    ServerUnreachable,
    UnknownEnvironment,
    UnknownInstance,
    UnsupportedByServer,
)
from .png import decode_png
from .registration import make_remote_env, make_remote_vector_env, register_envs
from .vector import RemoteVectorEnv

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "GymServerError",
    "InvalidAction",
    "MalformedEnvironmentId",
    "NATIVE_ENVS",
    "PNGDecodeError",
    "ProtocolError",
    "REGISTERED_IDS",
    "RemoteEnv",
    "RemoteVectorEnv",
    "ResetNeeded",
    "ServerError",
    "ServerUnreachable",
    "UnknownEnvironment",
    "UnknownInstance",
    "UnsupportedByServer",
    "decode_png",
    "make_remote_env",
    "make_remote_vector_env",
    "register_envs",
]

register_envs()
