"""The ``gym_server/`` namespace of Gymnasium's registry.

``gymnasium.make("gym_server/CartPole-v1", url="http://host:5000", is_slippery=..., ...)``
makes a :class:`RemoteEnv`: ``url``, ``seed``, ``render_mode``, ``api_key``, ``transport``,
``files_url`` and ``timeout`` configure the client, every other keyword is an argument of the
environment, sent to the server as ``kwargs``.

``gymnasium.make_vec("gym_server/CartPole-v1", num_envs=8, url=..., autoreset_mode="same_step")``
makes a :class:`RemoteVectorEnv` (the ids' ``vector_entry_point``): the N copies live in one
server instance, or in k with ``shards=k``. (``vectorization_mode="sync"`` instead runs N
RemoteEnvs in Gymnasium's SyncVectorEnv.)

The ids are registered with ``max_episode_steps=None``: the server enforces each id's time limit
itself, so ``make`` adds no second TimeLimit and truncation happens exactly where Gymnasium's
in-process environment truncates. ``make(..., max_episode_steps=n)`` still wraps a client-side
TimeLimit (``make`` consumes that keyword); to move the server's limit instead, pass
``kwargs={"max_episode_steps": n}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode

from .catalog import REGISTERED_IDS, facts_for
from .env import DEFAULT_URL, NAMESPACE, RemoteEnv
from .transport import DEFAULT_TIMEOUT
from .vector import RemoteVectorEnv


def make_remote_env(
    env_id: str,
    url: str = DEFAULT_URL,
    seed: int | None = None,
    render_mode: str | None = None,
    api_key: str | None = None,
    transport: str = "http",
    files_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    kwargs: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> RemoteEnv:
    """The entry point of every ``gym_server/<id>``: the client's options by name, the
    environment's arguments as further keywords (or in ``kwargs``)."""
    return RemoteEnv(
        env_id,
        url=url,
        seed=seed,
        kwargs=merge_kwargs(kwargs, env_kwargs),
        render_mode=render_mode,
        api_key=api_key,
        transport=transport,
        files_url=files_url,
        timeout=timeout,
    )


def make_remote_vector_env(
    env_id: str,
    num_envs: int,
    url: str = DEFAULT_URL,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    seed: int | Sequence[int | None] | None = None,
    api_key: str | None = None,
    files_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    encoding: str = "msgpack",
    shards: int = 1,
    transport: str = "http",
    kwargs: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> RemoteVectorEnv:
    """The vector entry point of every ``gym_server/<id>`` (``gymnasium.make_vec``)."""
    return RemoteVectorEnv(
        env_id,
        num_envs,
        url=url,
        autoreset_mode=autoreset_mode,
        seed=seed,
        kwargs=merge_kwargs(kwargs, env_kwargs),
        api_key=api_key,
        files_url=files_url,
        timeout=timeout,
        encoding=encoding,
        shards=shards,
        transport=transport,
    )


def merge_kwargs(kwargs: Mapping[str, Any] | None, env_kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The environment's arguments, given in ``kwargs``, as keywords, or both (not the same one twice)."""
    merged = dict(kwargs or {})
    clash = sorted(set(merged) & set(env_kwargs))
    if clash:
        raise TypeError(f"{clash} given both as keywords and in kwargs")
    merged.update(env_kwargs)
    return merged or None


# What `gymnasium.make` reads before calling the entry point (to apply HumanRendering for
# render_mode="human" and RenderCollection for "rgb_array_list").
make_remote_env.metadata = {"render_modes": ["rgb_array", "ansi"]}  # type: ignore[attr-defined]


def register_envs(ids: Iterable[str] = REGISTERED_IDS) -> list[str]:
    """Registers ``gym_server/<id>`` for each server id not yet registered; returns the ids
    registered. Call it with a newer server's ids to make them reachable through
    ``gymnasium.make`` too."""
    done = []
    for env_id in ids:
        full_id = f"{NAMESPACE}/{env_id}"
        if full_id in gym.registry:
            continue
        gym.register(
            id=full_id,
            entry_point=f"{__name__}:make_remote_env",
            vector_entry_point=f"{__name__}:make_remote_vector_env",
            kwargs={"env_id": env_id},
            max_episode_steps=None,
            reward_threshold=facts_for(env_id).reward_threshold,
            nondeterministic=False,
            disable_env_checker=False,
        )
        done.append(full_id)
    return done
