"""RemoteEnv: a gymnasium.Env whose environment runs in a gym-server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from .catalog import facts_for
from .errors import ProtocolError, UnknownInstance
from .png import decode_png
from .recording import RecordedInstance
from .spaces import packed_form, read_value, space_from_info, to_json
from .transport import (
    DEFAULT_TIMEOUT,
    HttpApi,
    HttpTransport,
    WebSocketTransport,
    instance_path,
)

DEFAULT_URL = "http://127.0.0.1:5000"
NAMESPACE = "gym_server"
TRANSPORTS = ("http", "websocket")

# Actions to_json gives back as they are (checked by exact type: numpy scalars go through it).
_JSON_SCALARS = frozenset((int, float, bool, str, type(None)))
# Spaces whose values are numpy arrays read from (nested) JSON lists.
_ARRAY_SPACES = (gym.spaces.Box, gym.spaces.MultiBinary, gym.spaces.MultiDiscrete)


class RemoteEnv(RecordedInstance, gym.Env):
    """An environment of a gym-server, driven over its REST API (or Gymie's WebSocket protocol).

    It behaves as ``gymnasium.make(env_id)`` does in process, seed for seed: the same spaces,
    observations (numpy values of the space's dtype, ``np.int64`` for Discrete), rewards,
    ``terminated`` and ``truncated``. The time limit is applied by the server; pass
    ``kwargs={"max_episode_steps": n}`` to change it there.

    Args:
        env_id: a server id such as ``"CartPole-v1"`` (a ``"gym_server/"`` prefix is accepted).
        url: the API, ``http://host:port`` (default ``http://127.0.0.1:5000``).
        seed: applied by the server at the first reset (as ``reset(seed=seed)`` would be).
        kwargs: the environment's arguments, as for ``gymnasium.make`` (``is_slippery``, ...).
        render_mode: ``"rgb_array"`` (frames as uint8 arrays) or, for the toy-text
            environments, ``"ansi"`` (text); ``None`` renders nothing.
        api_key: sent as ``X-API-Key`` on every request.
        transport: ``"http"`` (REST) or ``"websocket"`` (Gymie's protocol at ``/gym``: create,
            reset, step, spaces and close over one connection; render and monitor stay REST).
        files_url: the server's files port, for :attr:`live_view_url` and :attr:`dashboard_url`
            (default: the API's host
            on port 8000).
        timeout: seconds to wait for any one answer.

    Differences from the in-process environment, all on purpose: ``info`` is JSON data (lists,
    not arrays) except ``info["action_mask"]``, made an ``int8`` array as Gymnasium's; the
    server's old-gym key ``info["TimeLimit.truncated"]`` is dropped (``truncated`` says it);
    ``np_random`` is a local generator seeded as the server's was at the last seeded reset,
    not advanced by the server's draws.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": None}

    def __init__(
        self,
        env_id: str,
        url: str = DEFAULT_URL,
        seed: int | None = None,
        kwargs: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        api_key: str | None = None,
        transport: str = "http",
        files_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        env_id = check_env_id(env_id)
        seed = check_seed(seed)
        server_kwargs = check_kwargs(kwargs)
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        facts = facts_for(env_id)
        if render_mode is not None and render_mode not in facts.render_modes:
            raise ValueError(
                f"render_mode {render_mode!r} is not offered by {env_id}: use one of {list(facts.render_modes)} or None"
            )

        self.env_id = env_id
        self.render_mode = render_mode
        self.metadata = {"render_modes": list(facts.render_modes), "render_fps": facts.render_fps}
        self._closed = False
        self._api = HttpApi(url, api_key=api_key, timeout=timeout)
        self.url = self._api.url
        self.files_url = files_url  # None: asked of the server when first needed
        if transport == "http":
            self._transport: HttpTransport | WebSocketTransport = HttpTransport(self._api)
        else:
            self._transport = WebSocketTransport(url, api_key=api_key, timeout=timeout)
        self.transport = transport
        try:
            self.instance_id = self._transport.create(env_id, seed, server_kwargs)
        except BaseException:
            self._transport.shutdown()
            self._api.close()
            raise
        try:
            self.observation_space = space_from_info(self._transport.space(self.instance_id, "observation_space")["info"])
            self.action_space = space_from_info(self._transport.space(self.instance_id, "action_space")["info"])
        except BaseException:
            self.close()
            raise
        # An array space's observation (a JSON list) is read without read_value's dispatch while
        # the space is the one the server described.
        self._array_space = self.observation_space if isinstance(self.observation_space, _ARRAY_SPACES) else None
        self._array_form = (self.observation_space.dtype, self.observation_space.shape) if self._array_space is not None else None
        self._packed_form = packed_form(self.observation_space)
        # The server applies a seed given at creation at the first reset; mirror it locally.
        self._pending_seed = seed

    # ---- the Gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """POST reset/ with ``{seed, options}``: the first observation and info."""
        self._check_open()
        seed = check_seed(seed)
        check_options(options)
        local_seed = seed if seed is not None else self._pending_seed
        if local_seed is not None:
            super().reset(seed=local_seed)
        answer = self._transport.reset(self.instance_id, seed, to_json(options) if options is not None else None)
        self._pending_seed = None
        observation = self._observation(answer["observation"])
        return observation, clean_info(answer.get("info"))

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """POST step/ with ``{action}``: observation, reward, terminated, truncated, info."""
        if self._closed:
            self._check_open()
        answer = self._transport.step(self.instance_id, action if type(action) in _JSON_SCALARS else to_json(action))
        observation = self._observation(answer["observation"])
        reward, terminated, truncated = answer["reward"], answer["terminated"], answer["truncated"]
        if type(reward) is not float and (isinstance(reward, bool) or not isinstance(reward, (int, float))):
            raise ProtocolError(f"the server's reward {reward!r} is not a number")
        if type(terminated) is not bool or type(truncated) is not bool:
            raise ProtocolError(f"terminated/truncated must be booleans, got {terminated!r}/{truncated!r}")
        info = answer.get("info")
        return observation, float(reward), terminated, truncated, info if type(info) is dict and not info else clean_info(info)

    def _observation(self, value: Any) -> Any:
        """The observation in an answer, as read_value reads it (a list of the right size for an
        array space straight to numpy: the step's common case)."""
        space = self.observation_space
        if type(value) is dict and self._packed_form:
            # MessagePack's packed array in the server's own form: read in place, copied.
            data, form = value.get("data"), self._packed_form
            if type(data) is bytes and value.get("dtype") == form[0] and value.get("shape") == form[1] and len(data) == form[2]:
                return np.frombuffer(data, dtype=form[3]).reshape(form[4]).copy()
        if type(value) is list and space is self._array_space:
            dtype, shape = self._array_form
            try:
                array = np.asarray(value, dtype=dtype)
            except (TypeError, ValueError, OverflowError):
                pass  # read_value says what is wrong
            else:
                if array.shape == shape:
                    return array
        return read_value(space, value)

    def render(self) -> np.ndarray | str | None:
        """The current frame: a uint8 (height, width, 3) array for ``"rgb_array"`` (decoded from
        the server's PNG), the text for ``"ansi"``; ``None`` (with Gymnasium's warning) when the
        environment was made without a render mode."""
        self._check_open()
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render method without specifying any render mode. "
                "You can specify the render_mode at initialization, "
                f'e.g. gym.make("{NAMESPACE}/{self.env_id}", render_mode="rgb_array")'
            )
            return None
        path = instance_path(self.instance_id, "render")
        if self.render_mode == "ansi":
            return self._api.request("GET", path, params={"mode": "ansi"}, accept="text")
        return decode_png(self._api.request("GET", path, accept="bytes"))

    def close(self) -> None:
        """POST close/: the server finishes the instance's monitor and forgets it. Closing twice
        is allowed."""
        if self._closed:
            return
        self._closed = True
        try:
            if getattr(self, "instance_id", None) is not None:
                close_instance(self._transport, self.instance_id)
        finally:
            self._transport.shutdown()
            self._api.close()

    def _check_open(self) -> None:
        if self._closed:
            raise gym.error.ClosedEnvironmentError(f"the RemoteEnv {self.env_id} ({self.instance_id}) is closed")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<RemoteEnv {self.env_id} instance={getattr(self, 'instance_id', None)} url={self.url} {state}>"

    __str__ = __repr__


# ---- shared checks and conversions --------------------------------------------------------------


def check_env_id(env_id: Any) -> str:
    """A server id, without the ``gym_server/`` namespace if it has it."""
    if not isinstance(env_id, str) or not env_id:
        raise TypeError(f"env_id must be a non-empty string such as 'CartPole-v1', got {env_id!r}")
    return env_id.removeprefix(NAMESPACE + "/")


def check_options(options: Any) -> None:
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")


def close_instance(transport: HttpTransport | WebSocketTransport, instance_id: str) -> None:
    """Closes the instance; one the server no longer knows (closed by someone else, or
    expired) is closed already."""
    try:
        transport.close(instance_id)
    except UnknownInstance:
        pass


def check_seed(seed: Any) -> int | None:
    """A seed is None or a non-negative integer (numpy integers accepted)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return int(seed)


def check_kwargs(kwargs: Any) -> dict[str, Any] | None:
    if kwargs is None:
        return None
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"kwargs must be a dict with string keys, got {kwargs!r}")
    return to_json(dict(kwargs))


def clean_info(info: Any) -> dict[str, Any]:
    """The server's info as Gymnasium's in-process env gives it: without old gym's
    ``TimeLimit.truncated`` and with ``action_mask`` an int8 array."""
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise ProtocolError(f"info must be a JSON object, got {info!r}")
    info.pop("TimeLimit.truncated", None)
    if isinstance(info.get("action_mask"), list):
        info["action_mask"] = np.asarray(info["action_mask"], dtype=np.int8)
    return info
