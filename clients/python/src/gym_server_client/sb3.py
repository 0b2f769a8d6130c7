"""Stable-Baselines3 on a gym-server: a ``VecEnv`` over one vector instance.

>>> from stable_baselines3 import PPO
>>> from gym_server_client.sb3 import make_vec_env
>>> envs = make_vec_env("CartPole-v1", n_envs=8, seed=0, url="http://127.0.0.1:5000")
>>> PPO("MlpPolicy", envs, seed=0).learn(50_000)

:func:`make_vec_env` takes the arguments of ``stable_baselines3.common.env_util.make_vec_env``
(plus the client's: ``url``, ``api_key``, ...) and gives what that function gives for the same
id and seed: the same observations, rewards, dones and infos step for step (``episode`` from
Monitor, ``TimeLimit.truncated``, ``terminal_observation``), the same seeding, the same monitor
CSV files. But the N environments are one server instance, stepped by one request
(:class:`GymServerVecEnv`), instead of N environments in a DummyVecEnv; the live view on the
server's files port shows all of them as the agent learns.

The semantics are DummyVecEnv's, which is Gymnasium's same-step autoreset: the instance is made
with ``autoreset_mode="same_step"``; on a step that ends sub-episode i, ``infos[i]
["terminal_observation"]`` is its last observation and the observation returned is the reset
one. Monitor's bookkeeping (episode returns, lengths and times, ``monitor_dir`` CSV files) is
done here, per sub-environment, as SB3's Monitor does it.

Needs ``pip install 'gym-server-client[sb3]'`` (stable-baselines3, hence torch).
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

try:
    from stable_baselines3.common.env_util import make_vec_env as _sb3_make_vec_env
    from stable_baselines3.common.monitor import Monitor, ResultsWriter
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn
except ImportError as e:  # pragma: no cover - what the message says
    raise ImportError(
        "gym_server_client.sb3 needs Stable-Baselines3: pip install 'gym-server-client[sb3]' "
        "(or scripts/setup/make-sb3-venv.sh for a CPU-only torch)"
    ) from e

from .catalog import facts_for
from .env import DEFAULT_URL, NAMESPACE, check_env_id
from .png import decode_png
from .transport import DEFAULT_TIMEOUT, instance_path
from .vector import RemoteVectorEnv

__all__ = ["GymServerVecEnv", "make_vec_env"]

RENDER_MODES = (None, "rgb_array")
# The keys of a same-step vector info that are about the environments that ended.
_SAME_STEP_KEYS = frozenset(("final_obs", "_final_obs", "final_info", "_final_info"))


class GymServerVecEnv(VecEnv):
    """SB3's ``VecEnv`` over one vector instance of a gym-server (autoreset ``same_step``).

    Behaves as ``DummyVecEnv`` over ``n_envs`` environments each wrapped in SB3's ``Monitor``,
    as ``stable_baselines3.common.env_util.make_vec_env`` builds it: observations batched in
    buffers of the observation space's dtype, rewards ``float32``, dones a ``bool`` array, one
    info dict per environment with ``TimeLimit.truncated`` (truncated and not terminated),
    Monitor's ``episode`` ``{"r", "l", "t"}`` on the step that ends an episode, and
    ``terminal_observation``; seeds from :meth:`seed` and options from :meth:`set_options`
    applied at the next :meth:`reset`. One request steps (or resets) all the environments.

    ``get_attr``, ``set_attr`` and ``env_method`` reach a local stand-in of each environment:
    its spaces (the action spaces seeded as make_vec_env seeds them), ``render_mode``,
    ``metadata``, ``spec``, Monitor's attributes and methods (``get_episode_rewards()``, ...)
    and ``render()``. The environment objects themselves live in the server: their other
    attributes and methods (``env.unwrapped.gravity``) are not reachable.

    ``render()`` and ``get_images()`` (``render_mode="rgb_array"``, the default as in
    make_vec_env) come from one render of the instance: the server's mosaic of the
    sub-environments, cut into one frame each (smaller than the environment's own when the
    mosaic would be wider or taller than 1,600 pixels), then tiled as SB3 tiles them.

    The per-environment infos are read out of Gymnasium's batched vector info, which the server
    answers: an environment's own keys come in the server's order (sorted), and a key's values
    share the type of the first environment that has it in that step, so a float can come out
    truncated to an int where an environment that ended earlier in the vector gave an int under
    the same key in its reset info (FrozenLake's ``prob``), as in Gymnasium's own vector info.
    Monitor's ``episode``, ``TimeLimit.truncated`` and ``terminal_observation`` are exact.

    Args:
        env_id: a server id such as ``"CartPole-v1"`` (a ``"gym_server/"`` prefix is accepted).
        n_envs: how many environments.
        url, api_key, files_url, timeout, encoding: the client's options (see RemoteVectorEnv).
        env_kwargs: the environment's arguments (``is_slippery``, ``max_episode_steps``, ...);
            ``render_mode`` among them is this VecEnv's (default ``"rgb_array"``).
        action_space_seed: seeds environment i's action space with ``action_space_seed + i +
            start_index``, as make_vec_env does with its seed.
        start_index: the rank of the first environment (action space seeds, monitor files).
        monitor_dir: where Monitor's CSV files go (``<monitor_dir>/<rank>.monitor.csv``);
            ``None`` writes none.
        monitor_kwargs: Monitor's ``allow_early_resets``, ``reset_keywords``,
            ``info_keywords``, ``override_existing``.
    """

    def __init__(
        self,
        env_id: str,
        n_envs: int = 1,
        *,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        action_space_seed: int | None = None,
        start_index: int = 0,
        monitor_dir: str | None = None,
        monitor_kwargs: dict[str, Any] | None = None,
        files_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        encoding: str = "msgpack",
    ) -> None:
        env_kwargs = dict(env_kwargs or {})
        render_mode = env_kwargs.pop("render_mode", "rgb_array")
        if render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be one of {RENDER_MODES} for a vector instance, got {render_mode!r}; "
                "to watch the agent, open the instance's live view (its live_view_url)"
            )
        monitor_kwargs = dict(monitor_kwargs or {})
        unknown = sorted(set(monitor_kwargs) - {"allow_early_resets", "reset_keywords", "info_keywords", "override_existing"})
        if unknown:
            raise TypeError(f"unknown Monitor arguments {unknown}")
        self.env_id = env_id
        self.server_env_id = check_env_id(env_id)
        self.venv = RemoteVectorEnv(
            self.server_env_id,
            n_envs,
            url=url,
            autoreset_mode="same_step",
            kwargs=env_kwargs or None,
            api_key=api_key,
            files_url=files_url,
            timeout=timeout,
            encoding=encoding,
        )
        try:
            facts = facts_for(self.server_env_id)
            single_observation_space = self.venv.single_observation_space
            single_action_space = self.venv.single_action_space
            self._discrete_observations = isinstance(single_observation_space, spaces.Discrete)
            spec = _spec_for(env_id, self.server_env_id)
            has_time_limit = env_kwargs.get("max_episode_steps", facts.max_episode_steps) is not None
            self.envs = []
            for index in range(self.venv.num_envs):
                rank = index + start_index
                action_space = copy.deepcopy(single_action_space)
                if action_space_seed is not None:
                    action_space.seed(action_space_seed + rank)
                monitor_path = os.path.join(monitor_dir, str(rank)) if monitor_dir is not None else None
                if monitor_path is not None:
                    os.makedirs(monitor_dir, exist_ok=True)
                self.envs.append(
                    SubEnvironment(
                        self,
                        index,
                        observation_space=copy.deepcopy(single_observation_space),
                        action_space=action_space,
                        render_mode=render_mode,
                        metadata={"render_modes": list(facts.render_modes), "render_fps": facts.render_fps},
                        spec=spec,
                        has_time_limit=has_time_limit,
                        filename=monitor_path,
                        **monitor_kwargs,
                    )
                )
            # As DummyVecEnv: the spaces are environment 0's (so seeding the VecEnv's action
            # space seeds environment 0's, as in process).
            super().__init__(self.venv.num_envs, self.envs[0].observation_space, self.envs[0].action_space)
            self.metadata = self.envs[0].metadata
        except BaseException:
            self.venv.close()
            raise
        self._actions: Any = None
        self._reset_once = False

    # ---- the VecEnv API -------------------------------------------------------------------------

    @property
    def instance_id(self) -> str:
        return self.venv.instance_id

    @property
    def live_view_url(self) -> str:
        """The page on the server's files port that shows the instance as it learns."""
        return self.venv.live_view_url

    @property
    def dashboard_url(self) -> str:
        return self.venv.dashboard_url

    def reset(self) -> VecEnvObs:
        """Resets every environment with the seeds of :meth:`seed` and the options of
        :meth:`set_options` (used once), as DummyVecEnv.reset."""
        for env in self.envs:
            env._check_reset_allowed({"seed": self._seeds[env.index], "options": self._options[env.index]})
        seeds: list[int | None] | None = list(self._seeds)
        if all(s is None for s in seeds):
            seeds = None
        groups: dict[str, list[int]] = {}
        for index, options in enumerate(self._options):
            groups.setdefault(repr(sorted(options.items())) if options else "", []).append(index)
        if len(groups) == 1:
            options = self._options[0] or None
            observations, info = self.venv.reset(seed=seeds, options=dict(options) if options else None)
            for env in self.envs:
                self.reset_infos[env.index] = _unbatch(info, env.index)
        else:
            # Different options per environment: one masked reset per set of options (the first
            # reset of the instance being a full one).
            observations = None
            for k, indices in enumerate(groups.values()):
                mask = np.zeros(self.num_envs, dtype=bool)
                mask[indices] = True
                options = dict(self._options[indices[0]])
                if k > 0 or self._reset_once:
                    options["reset_mask"] = mask
                observations, info = self.venv.reset(seed=seeds, options=options or None)
                for index in indices:
                    self.reset_infos[index] = _unbatch(info, index)
        self._reset_once = True
        for env in self.envs:
            env._monitor_reset({"seed": self._seeds[env.index], "options": self._options[env.index]})
        self._reset_seeds()
        self._reset_options()
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        for env in self.envs:
            if env.needs_reset:
                raise RuntimeError("Tried to step environment that needs reset")
        observations, rewards, terminations, truncations, info = self.venv.step(self._actions)
        dones = terminations | truncations
        infos: list[dict[str, Any]] = []
        if not dones.any():  # the common step: Monitor's count, the step infos
            if not info:  # (nothing to unbatch: the commonest step of all, kept short)
                for env, reward in zip(self.envs, rewards.tolist()):
                    env.rewards.append(reward)
                    env.total_steps += 1
                return observations, rewards.astype(np.float32), dones, [{"TimeLimit.truncated": False} for _ in self.envs]
            for index, (env, reward, truncated) in enumerate(zip(self.envs, rewards.tolist(), truncations.tolist())):
                env.rewards.append(float(reward))
                env.total_steps += 1
                env_info = _unbatch(info, index, top_level=True) if info else {}
                env_info["TimeLimit.truncated"] = truncated  # False: it did not end
                infos.append(env_info)
            return observations, rewards.astype(np.float32), dones, infos
        final_obs = info.get("final_obs")
        final_info = info.get("final_info")
        # Whether the environments that did not end have infos of their own this step (else
        # each gets Monitor's count and {"TimeLimit.truncated": False}, as in the common step).
        step_infos = any(key not in _SAME_STEP_KEYS for key in info)
        for index, (env, reward, done, terminated, truncated) in enumerate(
            zip(self.envs, rewards.tolist(), dones.tolist(), terminations.tolist(), truncations.tolist())
        ):
            if done:
                env_info = _unbatch(final_info, index) if final_info is not None else {}
            elif not step_infos:
                env.rewards.append(reward)
                env.total_steps += 1
                infos.append({"TimeLimit.truncated": False})
                continue
            else:
                env_info = _unbatch(info, index, top_level=True)
            env._monitor_step(reward, done, env_info)
            env_info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                observation = final_obs[index] if final_obs is not None else None
                if self._discrete_observations and observation is not None:
                    observation = int(observation)  # Gymnasium's toy-text environments return ints
                env_info["terminal_observation"] = observation
                self.reset_infos[index] = _unbatch(info, index, top_level=True)
            infos.append(env_info)
        return observations, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        try:
            self.venv.close()
        finally:
            for env in self.envs:
                env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per environment, cut from the server's mosaic of the instance."""
        if self.render_mode != "rgb_array":
            warnings.warn(
                f"The render mode is {self.render_mode}, but this method assumes it is `rgb_array` to obtain images."
            )
            return [None for _ in self.envs]
        mosaic = decode_png(self.venv._api.request("GET", instance_path(self.instance_id, "render"), accept="bytes"))
        return split_mosaic(mosaic, self.num_envs)

    def render(self, mode: str | None = None) -> np.ndarray | None:
        return super().render(mode=mode)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [env.get_wrapper_attr(attr_name) for env in self._get_target_envs(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for env in self._get_target_envs(indices):
            setattr(env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [env.get_wrapper_attr(method_name)(*method_args, **method_kwargs) for env in self._get_target_envs(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """What ``is_wrapped`` says of make_vec_env's environments: Monitor over gymnasium.make's
        TimeLimit (for ids with a time limit, applied by the server), OrderEnforcing and
        PassiveEnvChecker."""
        return [env._is_wrapped(wrapper_class) for env in self._get_target_envs(indices)]

    def _get_target_envs(self, indices: VecEnvIndices) -> list[SubEnvironment]:
        return [self.envs[i] for i in self._get_indices(indices)]

    def __repr__(self) -> str:
        return f"GymServerVecEnv({self.env_id}, n_envs={self.num_envs}, instance={self.venv.instance_id}, url={self.venv.url})"


class SubEnvironment:
    """Environment i of a :class:`GymServerVecEnv` as SB3's VecEnv methods see it: what
    ``get_attr``/``set_attr``/``env_method`` reach. It keeps SB3 Monitor's bookkeeping for that
    environment (the same attributes and methods) and its spaces, ``render_mode``,
    ``metadata``, ``spec``; the environment itself lives in the server."""

    def __init__(
        self,
        owner: GymServerVecEnv,
        index: int,
        *,
        observation_space: gym.Space,
        action_space: gym.Space,
        render_mode: str | None,
        metadata: dict[str, Any],
        spec: Any,
        has_time_limit: bool,
        filename: str | None = None,
        allow_early_resets: bool = True,
        reset_keywords: tuple[str, ...] = (),
        info_keywords: tuple[str, ...] = (),
        override_existing: bool = True,
    ) -> None:
        self._owner = owner
        self.index = index
        self.observation_space = observation_space
        self.action_space = action_space
        self.render_mode = render_mode
        self.metadata = metadata
        self.spec = spec
        self._wrappers: tuple[type, ...] = (Monitor, *((TimeLimit,) if has_time_limit else ()), OrderEnforcing, PassiveEnvChecker)
        # SB3's Monitor, attribute for attribute.
        self.t_start = time.time()
        self.results_writer = None
        if filename is not None:
            self.results_writer = ResultsWriter(
                filename,
                header={"t_start": self.t_start, "env_id": str(spec.id if spec is not None else owner.env_id)},
                extra_keys=tuple(reset_keywords) + tuple(info_keywords),
                override_existing=override_existing,
            )
        self.reset_keywords = tuple(reset_keywords)
        self.info_keywords = tuple(info_keywords)
        self.allow_early_resets = allow_early_resets
        self.rewards: list[float] = []
        self.needs_reset = True
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_times: list[float] = []
        self.total_steps = 0
        self.current_reset_info: dict[str, Any] = {}

    # Monitor.reset and Monitor.step, split around the server's call.
    def _check_reset_allowed(self, kwargs: dict[str, Any]) -> None:
        if not self.allow_early_resets and not self.needs_reset:
            raise RuntimeError(
                "Tried to reset an environment before done. If you want to allow early resets, "
                "wrap your env with Monitor(env, path, allow_early_resets=True)"
            )
        for key in self.reset_keywords:
            if kwargs.get(key) is None:
                raise ValueError(f"Expected you to pass keyword argument {key} into reset")

    def _monitor_reset(self, kwargs: dict[str, Any]) -> None:
        self.rewards = []
        self.needs_reset = False
        for key in self.reset_keywords:
            self.current_reset_info[key] = kwargs[key]

    def _monitor_step(self, reward: float, done: bool, info: dict[str, Any]) -> None:
        self.rewards.append(float(reward))
        if done:
            # (DummyVecEnv resets the environment at once: needs_reset goes back to False.)
            ep_rew = sum(self.rewards)
            ep_len = len(self.rewards)
            ep_info = {"r": round(ep_rew, 6), "l": ep_len, "t": round(time.time() - self.t_start, 6)}
            for key in self.info_keywords:
                ep_info[key] = info[key]
            self.episode_returns.append(ep_rew)
            self.episode_lengths.append(ep_len)
            self.episode_times.append(time.time() - self.t_start)
            ep_info.update(self.current_reset_info)
            if self.results_writer:
                self.results_writer.write_row(ep_info)
            info["episode"] = ep_info
            self.rewards = []
        self.total_steps += 1

    def get_total_steps(self) -> int:
        return self.total_steps

    def get_episode_rewards(self) -> list[float]:
        return self.episode_returns

    def get_episode_lengths(self) -> list[int]:
        return self.episode_lengths

    def get_episode_times(self) -> list[float]:
        return self.episode_times

    def render(self) -> np.ndarray | None:
        """This environment's frame (cut from the instance's mosaic)."""
        if self.render_mode is None:
            gym.logger.warn("You are calling render method without specifying any render mode.")
            return None
        return self._owner.get_images()[self.index]

    def close(self) -> None:
        if self.results_writer is not None:
            self.results_writer.close()
            self.results_writer = None

    @property
    def unwrapped(self) -> SubEnvironment:
        return self

    def get_wrapper_attr(self, name: str) -> Any:
        if not name.startswith("_") and hasattr(self, name):
            return getattr(self, name)
        raise AttributeError(
            f"{name!r}: environment {self.index} of {self._owner.env_id} lives in the gym-server "
            f"(instance {self._owner.instance_id}); only its spaces, render_mode, metadata, spec, "
            "render() and Monitor's attributes and methods are reachable from here"
        )

    def _is_wrapped(self, wrapper_class: type) -> bool:
        return any(isinstance(wrapper_class, type) and issubclass(w, wrapper_class) for w in self._wrappers)

    def __repr__(self) -> str:
        return f"<SubEnvironment {self.index} of {self._owner!r}>"


def make_vec_env(
    env_id: str,
    n_envs: int = 1,
    seed: int | None = None,
    start_index: int = 0,
    monitor_dir: str | None = None,
    wrapper_class: Callable[[gym.Env], gym.Env] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    vec_env_cls: type[VecEnv] | None = None,
    vec_env_kwargs: dict[str, Any] | None = None,
    monitor_kwargs: dict[str, Any] | None = None,
    wrapper_kwargs: dict[str, Any] | None = None,
    *,
    url: str = DEFAULT_URL,
    api_key: str | None = None,
    files_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    encoding: str = "msgpack",
) -> VecEnv:
    """``stable_baselines3.common.env_util.make_vec_env`` for a gym-server id: the same
    arguments, the same result step for step, with the ``n_envs`` environments in one vector
    instance of the server at ``url`` (a :class:`GymServerVecEnv`).

    As in SB3: ``seed`` seeds environment i's action space with ``seed + start_index + i`` and
    environment i itself with ``seed + i`` at the first reset (``seed=None`` draws the seeds
    from numpy's global generator, as VecEnv.seed does); every environment is monitored
    (``monitor_dir``: CSV files ``<rank>.monitor.csv``); ``env_kwargs`` are the environment's
    arguments (``render_mode`` defaults to ``"rgb_array"``).

    A ``wrapper_class`` (a gymnasium.Wrapper around each environment) or a ``vec_env_cls``
    other than GymServerVecEnv cannot apply to one vector instance: then this builds SB3's own
    make_vec_env over ``gym_server/<id>`` environments, one server instance each (the same
    results, one request per environment and step).
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a gym-server id such as 'CartPole-v1', got {env_id!r}")
    client = {"url": url, "api_key": api_key, "files_url": files_url, "timeout": timeout}
    if wrapper_class is not None or (vec_env_cls is not None and vec_env_cls is not GymServerVecEnv):
        server_id = check_env_id(env_id)
        return _sb3_make_vec_env(
            f"{NAMESPACE}/{server_id}",
            n_envs=n_envs,
            seed=seed,
            start_index=start_index,
            monitor_dir=monitor_dir,
            wrapper_class=wrapper_class,
            env_kwargs={**(env_kwargs or {}), **client},
            vec_env_cls=vec_env_cls,
            vec_env_kwargs=vec_env_kwargs,
            monitor_kwargs=monitor_kwargs,
            wrapper_kwargs=wrapper_kwargs,
        )
    if wrapper_kwargs:
        raise TypeError("wrapper_kwargs needs a wrapper_class")
    vec_env = GymServerVecEnv(
        env_id,
        n_envs,
        env_kwargs=env_kwargs,
        action_space_seed=seed,
        start_index=start_index,
        monitor_dir=monitor_dir,
        monitor_kwargs=monitor_kwargs,
        encoding=encoding,
        **(vec_env_kwargs or {}),
        **client,
    )
    # Prepare the seeds for the first reset
    vec_env.seed(seed)
    return vec_env


def split_mosaic(mosaic: np.ndarray, count: int) -> list[np.ndarray]:
    """The frames of a vector instance's mosaic (the server's layout: ceil(sqrt(N)) columns,
    sub-environment 0 at the top left, then along the rows)."""
    if count == 1:
        return [mosaic]
    columns = max(1, int(np.ceil(np.sqrt(count))))
    while (columns - 1) ** 2 >= count:  # guard against floating-point error in sqrt
        columns -= 1
    while columns * columns < count:
        columns += 1
    rows = (count + columns - 1) // columns
    height, width = mosaic.shape[0] // rows, mosaic.shape[1] // columns
    if height * rows != mosaic.shape[0] or width * columns != mosaic.shape[1]:
        raise ValueError(f"a mosaic of {mosaic.shape[1]}x{mosaic.shape[0]} is not {columns}x{rows} tiles")
    return [
        mosaic[(i // columns) * height : (i // columns + 1) * height, (i % columns) * width : (i % columns + 1) * width].copy()
        for i in range(count)
    ]


def _spec_for(env_id: str, server_env_id: str) -> Any:
    """The EnvSpec make_vec_env's environments report: the id as given (gymnasium's own when
    it has it, else gym_server/<id>)."""
    for candidate in (env_id, f"{NAMESPACE}/{server_env_id}"):
        try:
            return gym.spec(candidate)
        except gym.error.Error:
            continue
    return None


def _unbatch(info: dict[str, Any] | None, index: int, top_level: bool = False) -> dict[str, Any]:
    """Environment ``index``'s entries of a Gymnasium vector info (the keys whose ``_key`` mask
    is set there, nested dicts alike), as that environment gave them: numpy scalars as Python
    numbers, rows of arrays as arrays. ``top_level`` leaves out same-step's ``final_obs`` and
    ``final_info``.

    The vector info is Gymnasium's, so it has lost what Gymnasium's batching loses: a key's
    column takes the type of the first environment that has it, so when an environment's reset
    info gives an int (FrozenLake's ``prob`` 1) before another's step info gives a float
    (``prob`` 0.333...), the float comes out truncated (0), as Gymnasium's own vector info has
    it."""
    result: dict[str, Any] = {}
    if not info:
        return result
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue
        if top_level and key in ("final_obs", "final_info"):
            continue
        mask = info.get("_" + key)
        if mask is not None and not mask[index]:
            continue
        if isinstance(value, dict):
            result[key] = _unbatch(value, index)
        else:
            item = value[index]
            if isinstance(item, np.generic):
                item = item.item()
            elif isinstance(item, np.ndarray):
                item = item.copy()
            result[key] = item
    return result
