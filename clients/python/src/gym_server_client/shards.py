"""The server vector instances a RemoteVectorEnv is made of: how each one's answers read
(:class:`Shard`, :func:`decode_vector_info`) and how several join into one.

A RemoteVectorEnv of N sub-environments in k shards is k vector instances of the server, of
sizes as equal as possible (:func:`shard_sizes`: N=10, k=3 gives 4, 3, 3); shard j holds the
sub-environments from its offset o_j on. Each shard is made by a create request of its own and
reached over a connection of its own (:class:`Shard`), so that behind a fleet's front (HAProxy
before several gym-server replicas) each create goes where the front sends it and every later
request follows the shard's instance id to the replica that holds it.

:func:`gather` writes a call to every shard before it reads any answer (one socket per shard, no
threads: the shards work at once, on one server's cores or on several replicas), and reads every
answer even when one fails, so that no connection is left holding an answer nobody reads; the
first failure (by shard) is then raised, naming the shard's instance id. The answers join as one
N-wide instance's would: observations concatenated along the batch axis in ``batch_space``
layout (:func:`join_batches`), and infos as Gymnasium's ``VectorEnv._add_info`` builds them over
the N sub-environments (:func:`join_infos`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .errors import GymServerError, ProtocolError, ServerError, ServerUnreachable, UnknownInstance
from .spaces import packed_form, read_value, unpack_array
from .transport import HttpApi, WebSocketTransport, create_params, created_instance_id, expect_keys, instance_path

T = TypeVar("T")

_STEP_KEYS = ("observation", "reward", "terminated", "truncated")
_STEP_KEY_SET = frozenset(_STEP_KEYS)
# The dtypes gym-server packs rewards and flags as (MessagePack answers), when numpy's native
# order is little-endian.
_PACKED_DTYPES = {np.float64: "<f8", np.bool_: "|b1"} if sys.byteorder == "little" else {}


def shard_sizes(num_envs: int, shards: Any) -> list[int]:
    """How many sub-environments each of ``shards`` shards holds: as equal as possible, the
    larger ones first (10 in 3: ``[4, 3, 3]``). ``shards`` must be an integer from 1 to
    ``num_envs``."""
    if isinstance(shards, (bool, np.bool_)) or not isinstance(shards, (int, np.integer)) or not 1 <= shards <= num_envs:
        raise ValueError(f"shards must be an integer from 1 to num_envs={num_envs}, got {shards!r}")
    base, larger = divmod(num_envs, int(shards))
    return [base + 1 if j < larger else base for j in range(int(shards))]


class Shard:
    """One server vector instance of a RemoteVectorEnv: sub-environments ``offset`` to
    ``stop - 1``, over a REST connection of its own (and a WebSocket one for reset and step
    with ``transport="websocket"``).

    Each call is split in two: ``begin_*`` writes the request and returns the function that
    reads (and decodes) its answer, for :func:`gather`.
    """

    def __init__(self, index: int, count: int, offset: int, num_envs: int, api: HttpApi, websocket: WebSocketTransport | None) -> None:
        self.index = index
        self.count = count  # how many shards the env has
        self.offset = offset
        self.num_envs = num_envs
        self.stop = offset + num_envs
        self.api = api
        self.websocket = websocket
        self.instance_id: str | None = None
        # Set once the spaces are known: this shard's batched observation space and the single one.
        self.observation_space: gym.Space | None = None
        self.single_observation_space: gym.Space | None = None
        # The step's request head over REST with MessagePack answers, made at the first step.
        self._step_head: bytes | None = None
        self._step_path = ""
        # The packed form of the observations (_packed_form), found at the first step.
        self._packed_form: tuple[Any, ...] | None = None

    def describe(self) -> str:
        """How errors name the shard."""
        instance = f"instance {self.instance_id}" if self.instance_id is not None else "no instance made"
        copies = f"sub-environments {self.offset}-{self.stop - 1}" if self.num_envs > 1 else f"sub-environment {self.offset}"
        return f"shard {self.index} of {self.count} ({instance}, {copies})"

    def begin_create(self, env_id: str, kwargs: dict[str, Any] | None, extra: dict[str, Any]) -> Callable[[], str]:
        """POST /v1/envs/ with ``{env_id, kwargs, num_envs, autoreset_mode}``."""
        self.api.begin_request("POST", "/v1/envs/", body=create_params(env_id, None, kwargs, extra))

        def read() -> str:
            self.instance_id = created_instance_id(self.api.finish_request())
            if self.websocket is not None:
                # Its sockets ask for the instance's replica (behind a fleet's front).
                self.websocket.instance_hint = self.instance_id
            return self.instance_id

        return read

    def begin_get(self, route: str) -> Callable[[], Any]:
        self.api.begin_request("GET", instance_path(self._id(), route))
        return self.api.finish_request

    def begin_post(self, route: str, body: dict[str, Any] | None = None, accept: str = "json") -> Callable[[], Any]:
        self.api.begin_request("POST", instance_path(self._id(), route), body=body, accept=accept)
        return self.api.finish_request

    def begin_reset(self, seed: int | list[int | None] | None, options: dict[str, Any] | None, accept: str) -> Callable[[], tuple[Any, dict[str, Any]]]:
        """reset/ with ``{seed, options}``: over the WebSocket if the shard has one (but a list
        of seeds, which Gymie's reset does not take, over REST). Reads ``(observations, info)``."""
        if self.websocket is not None and not isinstance(seed, list):
            params: dict[str, Any] = {"instance_id": self._id(), "full": True}
            if seed is not None:
                params["seed"] = seed
            if options is not None:
                params["options"] = options
            self.websocket.begin_call("reset", params)
            finish, route = self.websocket.finish_call, "ws reset"
        else:
            body: dict[str, Any] = {}
            if seed is not None:
                body["seed"] = seed
            if options is not None:
                body["options"] = options
            finish, route = self.begin_post("reset/", body, accept), "reset"

        def read() -> tuple[Any, dict[str, Any]]:
            answer = expect_keys(finish(), ("observation",), route)
            observations = read_value(self.observation_space, answer["observation"])
            return observations, decode_vector_info(answer.get("info"), self.single_observation_space, self.num_envs)

        return read

    def begin_step(self, actions: list[Any], accept: str) -> Callable[[], tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]]:
        """step/ with ``{action: [one per sub-environment]}``. Reads ``(observations, rewards,
        terminations, truncations, info)``."""
        if self.websocket is not None:
            self.websocket.begin_call("step", {"instance_id": self._id(), "action": actions, "full": True})
            finish, route = self.websocket.finish_call, "ws step"
        elif accept == "msgpack":
            # The trainer's path: the head made once, the body in one dumps.
            if self._step_head is None:
                self._step_path = instance_path(self._id(), "step/")
                self._step_head = self.api.post_head(self._step_path, "msgpack")
            self.api.begin_post(self._step_head, b'{"action": %s}' % json.dumps(actions).encode("utf-8"), self._step_path, accept)
            finish, route = self.api.finish_request, "step"
        else:
            finish, route = self.begin_post("step/", {"action": actions}, accept), "step"

        def read() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
            answer = finish()
            if type(answer) is not dict or answer.keys() < _STEP_KEY_SET:
                answer = expect_keys(answer, _STEP_KEYS, route)
            return (
                self._observations(answer["observation"]),
                self._column(answer["reward"], np.float64, "reward"),
                self._column(answer["terminated"], np.bool_, "terminated"),
                self._column(answer["truncated"], np.bool_, "truncated"),
                decode_vector_info(answer.get("info"), self.single_observation_space, self.num_envs),
            )

        return read

    def begin_close(self) -> Callable[[], None]:
        """close/; an instance the server no longer knows (closed by someone else, or expired)
        is closed already."""
        finish = self.begin_post("close/")

        def read() -> None:
            try:
                finish()
            except UnknownInstance:
                pass

        return read

    def shutdown(self) -> None:
        """Closes the shard's connections."""
        try:
            if self.websocket is not None:
                self.websocket.shutdown()
        finally:
            self.api.close()

    def _observations(self, value: Any) -> Any:
        """A step's observations: a packed array of an array space in the server's own form read
        in place (and copied), anything else by read_value."""
        form = self._packed_form
        if form is None:
            form = self._packed_form = packed_form(self.observation_space)
        if form and type(value) is dict:
            data = value.get("data")
            if type(data) is bytes and value.get("dtype") == form[0] and value.get("shape") == form[1] and len(data) == form[2]:
                return np.frombuffer(data, dtype=form[3]).reshape(form[4]).copy()
        return read_value(self.observation_space, value)

    def _column(self, values: Any, dtype: type, what: str) -> np.ndarray:
        """rewards, terminated or truncated: a packed array (MessagePack) or a list (JSON)."""
        if type(values) is dict:
            data = values.get("data")
            if (type(data) is bytes and values.get("dtype") == _PACKED_DTYPES.get(dtype)
                    and values.get("shape") == [self.num_envs] and len(data) == self.num_envs * np.dtype(dtype).itemsize):
                # The server's own form (little-endian float64 and bool): read in place, copied.
                return np.frombuffer(data, dtype=dtype).copy()
        if isinstance(values, Mapping):
            return unpack_array(values, np.dtype(dtype), (self.num_envs,), what)
        if not isinstance(values, list) or len(values) != self.num_envs:
            raise ProtocolError(f"{what} must be a list of {self.num_envs} values, got {values!r}")
        if dtype is np.bool_ and not all(isinstance(v, bool) for v in values):
            raise ProtocolError(f"{what} must be booleans, got {values!r}")
        return np.asarray(values, dtype=dtype)

    def _id(self) -> str:
        if self.instance_id is None:
            raise RuntimeError(f"{self.describe()} has no instance")
        return self.instance_id


def gather(shards: Sequence[Shard], begin: Callable[[Shard], Callable[[], T]]) -> list[T]:
    """``begin(shard)`` for every shard (each writes its request and returns how to read the
    answer), then every answer read, in shard order: the shards' requests are all on their way
    before the first answer is waited for. Every answer is read even when some fail; then the
    first failure (by shard) is raised, naming its shard when the env has several (the others
    added as notes)."""
    if len(shards) == 1 and shards[0].count == 1:  # an env of one instance: a request, as it was
        return [begin(shards[0])()]
    readers: list[Callable[[], T] | None] = []
    failures: list[tuple[Shard, Exception]] = []
    for shard in shards:
        try:
            readers.append(begin(shard))
        except Exception as e:
            readers.append(None)
            failures.append((shard, e))
    results: list[Any] = [None] * len(shards)
    for i, (shard, read) in enumerate(zip(shards, readers)):
        if read is not None:
            try:
                results[i] = read()
            except Exception as e:
                failures.append((shard, e))
    if failures:
        failures.sort(key=lambda failure: failure[0].index)
        shard, error = failures[0]
        named = shard_error(shard, error)
        if hasattr(named, "add_note"):  # Python 3.11
            for other, other_error in failures[1:]:
                named.add_note(f"{other.describe()} failed too: {type(other_error).__name__}: {other_error}")
        if named is error:
            raise error
        raise named from error
    return results


def shard_error(shard: Shard, error: Exception) -> Exception:
    """The client's error for a shard's failure, of the same class, its text naming the shard
    (for an env of several shards); ``instance_id`` and ``shard`` attributes say which. A
    ServerError keeps the server's own text in ``message``. Other exceptions are left as
    they are."""
    if shard.count == 1 or not isinstance(error, GymServerError):
        return error
    where = shard.describe()
    try:
        if isinstance(error, ServerUnreachable):
            named: GymServerError = type(error)(error.url, f"{where}: {error.reason}")
        elif isinstance(error, ServerError):
            named = type(error)(f"{where}: {error.message}", status=error.status, route=error.route)
            named.message = error.message
        else:
            named = type(error)(f"{where}: {error}")
    except TypeError:  # a subclass built otherwise
        return error
    named.instance_id = shard.instance_id  # type: ignore[attr-defined]
    named.shard = shard.index  # type: ignore[attr-defined]
    return named


# ---- reading one instance's info ----------------------------------------------------------------


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


# ---- joining the shards' answers ------------------------------------------------------------


def join_batches(single_space: gym.Space, parts: Sequence[Any]) -> Any:
    """The shards' batched values of ``single_space`` (in shard order) as one batch, in
    ``batch_space`` layout: arrays concatenated along the batch axis, Tuple and Dict part by
    part."""
    if isinstance(single_space, spaces.Tuple):
        return tuple(join_batches(space, [part[i] for part in parts]) for i, space in enumerate(single_space.spaces))
    if isinstance(single_space, spaces.Dict):
        return {key: join_batches(space, [part[key] for part in parts]) for key, space in single_space.spaces.items()}
    return np.concatenate(parts, axis=0)


def join_infos(infos: Sequence[Mapping[str, Any]], sizes: Sequence[int]) -> dict[str, Any]:
    """The shards' vector infos (in shard order, shard j of ``sizes[j]`` sub-environments) as the
    info of one vector of them all, as Gymnasium's ``_add_info`` would have built it over the
    whole vector: every key spans all the sub-environments with its ``_key`` mask (False where a
    shard lacks the key); a value column takes the dtype of the first shard that has the key (as
    ``_add_info`` takes the type of the first sub-environment's value, casting later ones to
    it) and is zeros (numbers, arrays) or None (other objects) where a shard lacks the key;
    ``final_obs`` an object array (None where absent); nested dicts (``final_info``) alike.
    The keys come sorted when every shard's are (as the server writes them)."""
    total = sum(sizes)
    offsets = [sum(sizes[:j]) for j in range(len(sizes))]
    names: dict[str, None] = {}
    in_order = True
    for info in infos:
        keys = list(info)
        if keys != sorted(keys):
            in_order = False
        names.update(dict.fromkeys(keys))
    result: dict[str, Any] = {}
    for key in sorted(names) if in_order else names:
        values = [info.get(key) for info in infos]
        if key.startswith("_") and key[1:] in names:
            mask = np.zeros(total, dtype=np.bool_)
            for value, offset, size in zip(values, offsets, sizes):
                if value is not None:
                    mask[offset:offset + size] = value
            result[key] = mask
        elif key == "final_obs":
            array = np.full(total, None, dtype=object)
            for value, offset, size in zip(values, offsets, sizes):
                if value is not None:
                    array[offset:offset + size] = value
            result[key] = array
        elif any(isinstance(value, Mapping) for value in values):
            result[key] = join_infos([value if isinstance(value, Mapping) else {} for value in values], sizes)
        else:
            result[key] = _join_column(values, offsets, sizes, total)
    return result


def _join_column(values: Sequence[np.ndarray | None], offsets: Sequence[int], sizes: Sequence[int], total: int) -> np.ndarray:
    parts = [(np.asarray(value), offset, size) for value, offset, size in zip(values, offsets, sizes) if value is not None]
    first = parts[0][0]
    if first.dtype != object and all(part.dtype != object and part.shape[1:] == first.shape[1:] for part, _, _ in parts):
        array = np.zeros((total, *first.shape[1:]), dtype=first.dtype)
        for part, offset, size in parts:
            array[offset:offset + size] = part  # (cast to the first's dtype, as _add_info's array[i] = value)
        return array
    array = np.full(total, None, dtype=object)
    for part, offset, _ in parts:
        for i, item in enumerate(part if part.dtype == object else part.tolist()):
            array[offset + i] = item
    return array
