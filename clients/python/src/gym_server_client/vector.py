"""RemoteVectorEnv: a gymnasium.vector.VectorEnv of N sub-environments living in a gym-server.

The server keeps the N copies as one instance (Gymnasium's ``make_vec`` semantics, sync): one
request steps them all. Routes: ``POST /v1/envs/ {env_id, num_envs, autoreset_mode, kwargs}``,
then the instance's ``reset/``, ``step/`` (N actions), ``action_space/`` and
``observation_space/`` (``{"info": batched, "single": one, "num_envs": N}``) and ``close/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space, iterate

from .catalog import facts_for
from .env import DEFAULT_URL, check_env_id, check_kwargs, check_options, check_seed, close_instance
from .errors import ProtocolError
from .recording import RecordedInstance
from .spaces import read_value, space_from_info, to_json, unpack_array
from .transport import DEFAULT_TIMEOUT, HttpApi, HttpTransport, expect_keys, instance_path

ENCODINGS = ("msgpack", "json")

# How the modes are spelled on the wire.
WIRE_AUTORESET = {
    AutoresetMode.NEXT_STEP: "next_step",
    AutoresetMode.SAME_STEP: "same_step",
    AutoresetMode.DISABLED: "disabled",
}


def parse_autoreset_mode(mode: Any) -> AutoresetMode:
    """An AutoresetMode from the enum itself, its value (``"NextStep"``) or the wire name
    (``"next_step"``)."""
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str):
        for member, wire in WIRE_AUTORESET.items():
            if mode in (wire, member.value, member.name):
                return member
    raise ValueError(
        f"autoreset_mode must be an AutoresetMode or one of {sorted(WIRE_AUTORESET.values())}, got {mode!r}"
    )


class RemoteVectorEnv(RecordedInstance, gym.vector.VectorEnv):
    """``num_envs`` copies of ``env_id`` in one gym-server instance, as a Gymnasium VectorEnv.

    Behaves as ``gymnasium.make_vec(env_id, num_envs, vectorization_mode="sync",
    vector_kwargs={"autoreset_mode": ...})``: batched observations in ``batch_space`` layout
    (numpy), ``float64`` rewards, boolean ``terminated``/``truncated`` arrays, and Gymnasium's
    vector ``info`` (each key with its ``_key`` mask; ``final_obs`` an object array of single
    observations in same-step mode). One request resets or steps all N copies.

    As with RemoteEnv, :meth:`start_monitor` records on the server (the videos film copy 0, the
    statistics count every finished sub-episode) and :attr:`live_view_url` shows all copies as a
    mosaic. There is no ``render()``: Gymnasium's would return N frames.

    Args:
        env_id: a server id such as ``"CartPole-v1"`` (a ``"gym_server/"`` prefix is accepted).
        num_envs: how many copies.
        url: the API, ``http://host:port`` (default ``http://127.0.0.1:5000``).
        autoreset_mode: an ``AutoresetMode``, its value (``"NextStep"``) or the wire name
            (``"next_step"``, ``"same_step"``, ``"disabled"``); default next step, as Gymnasium.
        seed: applied at the first reset (an integer s seeds the copies s, s+1, ...; or a list of
            ``num_envs`` seeds or ``None``).
        kwargs: the environment's arguments, as for ``gymnasium.make``.
        api_key: sent as ``X-API-Key`` on every request.
        files_url: the server's files port, for :attr:`live_view_url` (default: the API's host
            on port 8000).
        timeout: seconds to wait for any one answer.
        encoding: ``"msgpack"`` (the default) asks for MessagePack answers to reset and step,
            whose arrays numpy reads as they are (much less work than JSON lists for large N);
            ``"json"`` asks for JSON. Whatever the server answers is read: a server (or a proxy)
            that answers JSON to a MessagePack request is served just the same.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        url: str = DEFAULT_URL,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        seed: int | Sequence[int | None] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        files_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        encoding: str = "msgpack",
    ) -> None:
        env_id = check_env_id(env_id)
        if isinstance(num_envs, (bool, np.bool_)) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        self.num_envs = int(num_envs)
        self.encoding = encoding
        mode = parse_autoreset_mode(autoreset_mode)
        self._pending_seed = self._check_seeds(seed)
        server_kwargs = check_kwargs(kwargs)

        self.env_id = env_id
        self.metadata = {
            "autoreset_mode": mode,
            "render_modes": [],
            "render_fps": facts_for(env_id).render_fps,
        }
        self.render_mode = None
        self.closed = False
        self._api = HttpApi(url, api_key=api_key, timeout=timeout)
        self.url = self._api.url
        self.files_url = files_url  # None: asked of the server when first needed
        self._transport = HttpTransport(self._api)
        body = {"num_envs": self.num_envs, "autoreset_mode": WIRE_AUTORESET[mode]}
        try:
            self.instance_id = self._transport.create(env_id, None, server_kwargs, extra=body)
        except BaseException:
            self._api.close()
            raise
        try:
            self.single_observation_space, self.observation_space = self._spaces("observation_space")
            self.single_action_space, self.action_space = self._spaces("action_space")
        except BaseException:
            self.close()
            raise

    def _spaces(self, which: str) -> tuple[gym.Space, gym.Space]:
        """GET observation_space/ or action_space/: ``{info: batched, single, num_envs}``."""
        answer = self._api.request("GET", instance_path(self.instance_id, f"{which}/"))
        answer = expect_keys(answer, ("info", "single", "num_envs"), which)
        if answer["num_envs"] != self.num_envs:
            raise ProtocolError(f"the server made {answer['num_envs']!r} copies, not {self.num_envs}")
        single = space_from_info(answer["single"])
        batched = space_from_info(answer["info"])
        expected = batch_space(single, self.num_envs)
        if batched != expected:
            raise ProtocolError(
                f"the server's batched {which} {batched} is not Gymnasium's batch_space of {single} "
                f"for {self.num_envs} environments ({expected})"
            )
        return single, batched

    def _check_seeds(self, seed: Any) -> int | list[int | None] | None:
        if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            return check_seed(seed)
        if isinstance(seed, (list, tuple, np.ndarray)):
            seeds = [check_seed(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"a list of seeds must have num_envs={self.num_envs} entries, got {len(seeds)}")
            return seeds
        raise TypeError(f"seed must be None, a non-negative integer or a list of {self.num_envs} of them, got {seed!r}")

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """POST reset/ with ``{seed, options}``; an integer seed s seeds the copies s, s+1, ...
        as Gymnasium's vector environments do. ``options["reset_mask"]`` (a boolean array of
        ``num_envs``) resets only the copies it marks."""
        self._check_open()
        seeds = self._check_seeds(seed)
        check_options(options)
        if seeds is None:
            seeds = self._pending_seed
        self._pending_seed = None
        if isinstance(seeds, int):
            super().reset(seed=seeds)
        body: dict[str, Any] = {}
        if seeds is not None:
            body["seed"] = seeds
        if options is not None:
            body["options"] = to_json(options)
        answer = self._request("reset/", body, ("observation",))
        observations = read_value(self.observation_space, answer["observation"])
        return observations, decode_vector_info(answer.get("info"), self.single_observation_space, self.num_envs)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """POST step/ with ``{action: [N actions]}``."""
        self._check_open()
        try:
            per_env = [to_json(a) for a in iterate(self.action_space, actions)]
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise gym.error.InvalidAction(f"cannot split {actions!r} into {self.num_envs} actions of {self.single_action_space}: {e}") from e
        if len(per_env) != self.num_envs:
            raise gym.error.InvalidAction(f"expected {self.num_envs} actions, got {len(per_env)}")
        answer = self._request("step/", {"action": per_env}, ("observation", "reward", "terminated", "truncated"))
        observations = read_value(self.observation_space, answer["observation"])
        rewards = self._column(answer["reward"], np.float64, "reward")
        terminations = self._column(answer["terminated"], np.bool_, "terminated")
        truncations = self._column(answer["truncated"], np.bool_, "truncated")
        info = decode_vector_info(answer.get("info"), self.single_observation_space, self.num_envs)
        return observations, rewards, terminations, truncations, info

    def _request(self, route: str, body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        answer = self._api.request("POST", instance_path(self.instance_id, route), body=body, accept=self.encoding)
        return expect_keys(answer, keys, route.rstrip("/"))

    def _column(self, values: Any, dtype: type, what: str) -> np.ndarray:
        """rewards, terminated or truncated: a packed array (MessagePack) or a list (JSON)."""
        if isinstance(values, Mapping):
            return unpack_array(values, np.dtype(dtype), (self.num_envs,), what)
        if not isinstance(values, list) or len(values) != self.num_envs:
            raise ProtocolError(f"{what} must be a list of {self.num_envs} values, got {values!r}")
        if dtype is np.bool_ and not all(isinstance(v, bool) for v in values):
            raise ProtocolError(f"{what} must be booleans, got {values!r}")
        return np.asarray(values, dtype=dtype)

    def close_extras(self, **kwargs: Any) -> None:
        """POST close/ (VectorEnv.close calls this once)."""
        try:
            if getattr(self, "instance_id", None) is not None:
                close_instance(self._transport, self.instance_id)
        finally:
            self._api.close()

    def _check_open(self) -> None:
        if self.closed:
            raise gym.error.ClosedEnvironmentError(f"the RemoteVectorEnv {self.env_id} ({self.instance_id}) is closed")

    def __repr__(self) -> str:
        return f"RemoteVectorEnv({self.env_id}, num_envs={self.num_envs}, instance={getattr(self, 'instance_id', None)}, url={self.url})"


def decode_vector_info(info: Any, single_observation_space: gym.Space, num_envs: int) -> dict[str, Any]:
    """Gymnasium's vector info from its JSON form: every ``_key`` mask a boolean array, every
    value an array over the N environments (numbers as int64/float64/bool, ``action_mask`` as
    int8, anything else an object array), nested dicts (``final_info``) alike, and
    ``final_obs`` an object array of single observations (``None`` where the mask is off)."""
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise ProtocolError(f"info must be a JSON object, got {str(info)[:200]}")
    result: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            result[key] = _mask(value, key, num_envs)
        elif key == "final_obs":
            result[key] = _final_observations(value, info.get("_final_obs"), single_observation_space, num_envs)
        elif isinstance(value, dict):
            result[key] = decode_vector_info(value, single_observation_space, num_envs)
        else:
            result[key] = _info_column(key, value, num_envs)
    return result


def _mask(value: Any, key: str, num_envs: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != num_envs or not all(isinstance(v, bool) for v in value):
        raise ProtocolError(f"info mask {key!r} must be a list of {num_envs} booleans, got {str(value)[:200]}")
    return np.asarray(value, dtype=np.bool_)


def _final_observations(value: Any, mask: Any, space: gym.Space, num_envs: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != num_envs:
        raise ProtocolError(f"info 'final_obs' must be a list of {num_envs} entries, got {str(value)[:200]}")
    array = np.full(num_envs, None, dtype=object)
    for i, observation in enumerate(value):
        present = bool(mask[i]) if isinstance(mask, list) and len(mask) == num_envs else observation is not None
        if present and observation is not None:
            array[i] = read_value(space, observation)
    return array


def _info_column(key: str, value: Any, num_envs: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != num_envs:
        raise ProtocolError(f"info {key!r} must be a list of {num_envs} entries, got {str(value)[:200]}")
    if key == "action_mask":
        try:
            return np.asarray(value, dtype=np.int8)
        except (TypeError, ValueError):
            pass
    if all(isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=np.bool_)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=np.float64)
    if all(isinstance(v, list) for v in value):
        try:
            array = np.asarray(value)
            if array.dtype != object and array.shape[0] == num_envs:
                return array
        except ValueError:
            pass
    array = np.full(num_envs, None, dtype=object)
    for i, v in enumerate(value):
        array[i] = v
    return array
