"""RemoteVectorEnv: a gymnasium.vector.VectorEnv of N sub-environments living in a gym-server.

The server keeps the N copies as one instance (Gymnasium's ``make_vec`` semantics, sync): one
request steps them all. Routes: ``POST /v1/envs/ {env_id, num_envs, autoreset_mode, kwargs}``,
then the instance's ``reset/``, ``step/`` (N actions), ``action_space/`` and
``observation_space/`` (``{"info": batched, "single": one, "num_envs": N}``) and ``close/``.
With ``shards=k`` the N copies are k such instances (``shards.py``), stepped at once and
answering as one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space, iterate

from .catalog import facts_for
from .env import DEFAULT_URL, TRANSPORTS, check_env_id, check_kwargs, check_options, check_seed
from .errors import ProtocolError, ServerError
from .recording import RecordedInstance, monitor_place, monitor_request
from .shards import (  # decode_vector_info: read by the tests (and older callers) from here
    Shard,
    decode_vector_info,
    gather,
    join_batches,
    join_infos,
    shard_sizes,
)
from .spaces import space_from_info, to_json
from .transport import DEFAULT_TIMEOUT, HttpApi, WebSocketTransport, expect_keys

__all__ = ["ENCODINGS", "WIRE_AUTORESET", "RemoteVectorEnv", "decode_vector_info", "parse_autoreset_mode"]

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

    **Shards.** With ``shards=k`` (1 to ``num_envs``) the copies are k server vector instances
    of sizes as equal as possible (10 in 3: 4, 3, 3), each made by a create request of its own
    to ``url`` and reached over its own connection, so that behind a fleet's front (HAProxy
    before several replicas) each lands on the replica the front picks and every later request
    follows its instance id there. A reset or step writes every shard's request before it reads
    any answer (no threads), so the shards work at once. The env is still one VectorEnv of N,
    equal step for step to one N-wide instance with the same seed: shard j, holding copies o_j
    on, is seeded ``seed + o_j`` (a list of seeds is split by slice), actions and
    ``options["reset_mask"]`` are split by slice (a shard whose slice of the mask is all False
    is not asked), other options go to every shard; observations are concatenated in
    ``batch_space`` layout, rewards and flags likewise, and infos joined as Gymnasium's
    ``_add_info`` builds them over N (``shards.join_infos``). In ``"disabled"`` mode a step
    while a copy that ended awaits its masked reset is refused before any shard steps, as one
    instance refuses it. Otherwise a shard that fails does not stop the others: the step (or
    reset) raises the client's usual error for the first shard that failed, its text naming the
    shard's instance id (and the exception's ``instance_id`` and ``shard`` attributes), after
    every other shard's answer has been read; the shards that succeeded have stepped (as in
    Gymnasium's SyncVectorEnv, where the copies before a failing one have stepped).

    With several shards, :attr:`instance_ids` lists the instances; :attr:`instance_id` and
    :attr:`live_view_url`, which name one instance, raise AttributeError (use
    :attr:`instance_ids` and :attr:`live_view_urls`). :meth:`start_monitor` records on every
    shard, each in a folder of its own (``<directory>/shard-<j>``, or each instance's default
    ``<instance_id>/simulation``), and returns lists; :meth:`close_monitor` and :meth:`close`
    act on every shard, even when one fails, then raise the first failure.

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
        shards: how many server instances hold the copies (default 1).
        transport: ``"http"`` (REST, the default) or ``"websocket"``: resets and steps over
            Gymie's protocol at ``/gym``, one connection per shard, answered in JSON (the
            encoding is REST's); creation, spaces, resets with a list of seeds, monitor and
            close stay REST, since Gymie's ``make`` makes no vector and its ``reset`` takes one
            seed. Gymie's messages carry the instance id in their body, which a fleet's front
            cannot route by: behind one, use REST.
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
        shards: int = 1,
        transport: str = "http",
    ) -> None:
        env_id = check_env_id(env_id)
        if isinstance(num_envs, (bool, np.bool_)) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        self.num_envs = int(num_envs)
        sizes = shard_sizes(self.num_envs, shards)
        self.encoding = encoding
        self.transport = transport
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
        self._sizes = sizes
        self._shards: list[Shard] = []
        for index, size in enumerate(sizes):
            api = HttpApi(url, api_key=api_key, timeout=timeout)
            websocket = WebSocketTransport(url, api_key=api_key, timeout=timeout) if transport == "websocket" else None
            self._shards.append(Shard(index, len(sizes), sum(sizes[:index]), size, api, websocket))
        self._api = self._shards[0].api  # the monitor's, the files port's and the live view's
        self.url = self._api.url
        self.files_url = files_url  # None: asked of the server when first needed
        # With several shards: each shard's latest observations (a masked reset answers them for
        # the shards it does not ask), and in disabled mode which copies ended on the last step.
        self._observations: list[Any] = [None] * len(sizes)
        self._ended = np.zeros(self.num_envs, dtype=np.bool_) if mode is AutoresetMode.DISABLED and len(sizes) > 1 else None
        wire_mode = WIRE_AUTORESET[mode]
        try:
            gather(self._shards, lambda shard: shard.begin_create(
                env_id, server_kwargs, {"num_envs": shard.num_envs, "autoreset_mode": wire_mode}))
        except BaseException:
            self._close_shards()
            raise
        try:
            self.single_observation_space, self.observation_space = self._spaces("observation_space")
            self.single_action_space, self.action_space = self._spaces("action_space")
            # The shape an array of actions has when one tolist() makes the request's list.
            self._array_actions = (
                self.action_space.shape if isinstance(self.action_space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)) else None
            )
        except BaseException:
            self.close()
            raise

    def _spaces(self, which: str) -> tuple[gym.Space, gym.Space]:
        """GET observation_space/ or action_space/ of every shard: ``{info: batched, single,
        num_envs}``; the shards' single spaces must agree."""
        answers = gather(self._shards, lambda shard: shard.begin_get(f"{which}/"))
        single = batched = None
        for shard, answer in zip(self._shards, answers):
            where = f"{shard.describe()}: " if len(self._shards) > 1 else ""
            answer = expect_keys(answer, ("info", "single", "num_envs"), which)
            if answer["num_envs"] != shard.num_envs:
                raise ProtocolError(f"{where}the server made {answer['num_envs']!r} copies, not {shard.num_envs}")
            shard_single = space_from_info(answer["single"])
            shard_batched = space_from_info(answer["info"])
            expected = batch_space(shard_single, shard.num_envs)
            if shard_batched != expected:
                raise ProtocolError(
                    f"{where}the server's batched {which} {shard_batched} is not Gymnasium's batch_space of "
                    f"{shard_single} for {shard.num_envs} environments ({expected})"
                )
            if single is None:
                single, batched = shard_single, shard_batched
            elif shard_single != single:
                raise ProtocolError(f"{where}its {which} {shard_single} is not shard 0's ({single})")
            if which == "observation_space":
                shard.single_observation_space, shard.observation_space = shard_single, shard_batched
        if len(self._shards) > 1:
            batched = batch_space(single, self.num_envs)
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

    # ---- the Gymnasium API ------------------------------------------------------------------

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
        wire_options = to_json(options) if options is not None else None
        shards = self._shards
        if len(shards) == 1:
            return gather(shards, lambda shard: shard.begin_reset(seeds, wire_options, self.encoding))[0]

        mask = self._reset_mask(options)
        asked = [shard for shard in shards if mask is None or not mask.any() or mask[shard.offset:shard.stop].any()
                 or self._observations[shard.index] is None]

        def begin(shard: Shard):
            shard_seed = seeds[shard.offset:shard.stop] if isinstance(seeds, list) else None if seeds is None else seeds + shard.offset
            shard_options = wire_options
            if mask is not None:
                shard_options = dict(wire_options, reset_mask=mask[shard.offset:shard.stop].tolist())
            return shard.begin_reset(shard_seed, shard_options, self.encoding)

        answers = dict(zip((shard.index for shard in asked), gather(asked, begin)))
        infos = []
        for shard in shards:
            if shard.index in answers:
                self._observations[shard.index], info = answers[shard.index]
            else:
                info = {}
            infos.append(info)
        if self._ended is not None:
            self._ended[mask if mask is not None else slice(None)] = False
        return join_batches(self.single_observation_space, self._observations), join_infos(infos, self._sizes)

    def _reset_mask(self, options: Mapping[str, Any] | None) -> np.ndarray | None:
        """``options["reset_mask"]`` as a boolean array of num_envs (to split among the shards)."""
        if options is None or "reset_mask" not in options:
            return None
        mask = np.asarray(options["reset_mask"])
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
            raise ValueError(
                f"options['reset_mask'] must be a boolean array of shape ({self.num_envs},), got {options['reset_mask']!r}"
            )
        return mask

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """POST step/ with ``{action: [N actions]}``."""
        self._check_open()
        try:
            if type(actions) is np.ndarray and actions.shape == self._array_actions:
                per_env = actions.tolist()  # what iterate and to_json make of it, in one call
            else:
                per_env = [to_json(a) for a in iterate(self.action_space, actions)]
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise gym.error.InvalidAction(f"cannot split {actions!r} into {self.num_envs} actions of {self.single_action_space}: {e}") from e
        if len(per_env) != self.num_envs:
            raise gym.error.InvalidAction(f"expected {self.num_envs} actions, got {len(per_env)}")
        shards = self._shards
        if len(shards) == 1:
            return gather(shards, lambda shard: shard.begin_step(per_env, self.encoding))[0]

        if self._ended is not None and self._ended.any():
            # What one instance answers, before it steps any copy: no shard steps either.
            raise ServerError(
                f"Sub-environment {int(np.argmax(self._ended))} ended its episode: reset it with "
                '{"options": {"reset_mask": [...]}} (autoreset_mode disabled)',
                status=None,
                route="step",
            )
        results = gather(shards, lambda shard: shard.begin_step(per_env[shard.offset:shard.stop], self.encoding))
        self._observations = [result[0] for result in results]
        rewards = np.concatenate([result[1] for result in results])
        terminations = np.concatenate([result[2] for result in results])
        truncations = np.concatenate([result[3] for result in results])
        info = join_infos([result[4] for result in results], self._sizes)
        if self._ended is not None:
            self._ended = terminations | truncations
        return join_batches(self.single_observation_space, self._observations), rewards, terminations, truncations, info

    def render(self) -> None:
        """Not offered: Gymnasium's would return one frame per copy. Render one copy with a
        RemoteEnv, or watch :attr:`live_view_url` (:attr:`live_view_urls` with shards)."""
        raise NotImplementedError(
            "RemoteVectorEnv has no render(): Gymnasium's would return one frame per copy; render one copy "
            "with a RemoteEnv, or watch the live view (live_view_url, or live_view_urls with shards)"
        )

    def close_extras(self, **kwargs: Any) -> None:
        """POST close/ to every shard (VectorEnv.close calls this once); every shard is closed
        even when one fails, and the env counts as closed; then the first failure is raised."""
        try:
            self._close_shards(raise_failure=True)
        finally:
            self.closed = True

    def _close_shards(self, raise_failure: bool = False) -> None:
        """Closes every instance made and every connection."""
        try:
            made = [shard for shard in self._shards if shard.instance_id is not None]
            try:
                gather(made, lambda shard: shard.begin_close())
            except Exception:
                if raise_failure:
                    raise
        finally:
            for shard in self._shards:
                shard.shutdown()

    def _check_open(self) -> None:
        if self.closed:
            raise gym.error.ClosedEnvironmentError(f"the RemoteVectorEnv {self.env_id} ({', '.join(map(str, self.instance_ids))}) is closed")

    # ---- the instances ----------------------------------------------------------------------

    @property
    def instance_ids(self) -> list[str | None]:
        """The server instances holding the copies, one per shard, in order of the copies."""
        return [shard.instance_id for shard in self.__dict__.get("_shards", [])]

    @property
    def instance_id(self) -> str | None:
        """The server instance holding the copies; AttributeError with several shards (see
        :attr:`instance_ids`)."""
        shards = self.__dict__.get("_shards", [])
        if len(shards) > 1:
            raise AttributeError(
                f"a RemoteVectorEnv of {len(shards)} shards is {len(shards)} server instances, not one: see instance_ids"
            )
        return shards[0].instance_id if shards else None

    @property
    def live_view_url(self) -> str:
        """The page that shows the instance's copies live; AttributeError with several shards
        (see :attr:`live_view_urls`)."""
        if len(self._shards) > 1:
            raise AttributeError(
                f"a RemoteVectorEnv of {len(self._shards)} shards has one live view per shard: see live_view_urls"
            )
        return super().live_view_url

    @property
    def live_view_urls(self) -> list[str]:
        """The live view of each shard's instance, in order of the copies."""
        return [self._files_page("render.html", instance_id=shard.instance_id) for shard in self._shards]

    def start_monitor(
        self,
        directory: str | None = None,
        force: bool = False,
        resume: bool = False,
        video_callable: bool | int | None = None,
    ) -> dict[str, Any]:
        """As RemoteEnv's (the video films copy 0, the statistics count every sub-episode).

        With several shards every shard records: in ``<directory>/shard-<j>``, or each in its
        instance's default ``<instance_id>/simulation``; each films its first copy and counts
        its own sub-episodes. Then ``"directory"`` and ``"url"`` are lists, one per shard."""
        if len(self._shards) == 1:
            return super().start_monitor(directory, force, resume, video_callable)
        self._check_open()
        monitor_request(directory, force, resume, video_callable)  # (the arguments checked once)
        answers = gather(self._shards, lambda shard: shard.begin_post("monitor/start/", monitor_request(
            None if directory is None else f"{directory}/shard-{shard.index}", force, resume, video_callable)))
        places = [monitor_place(answer) for answer in answers]
        return {"directory": [place["directory"] for place in places], "url": [place["url"] for place in places]}

    def close_monitor(self) -> None:
        """POST monitor/close/ to every shard."""
        self._check_open()
        gather(self._shards, lambda shard: shard.begin_post("monitor/close/"))

    def __repr__(self) -> str:
        if len(self.__dict__.get("_shards", [])) > 1:
            return (f"RemoteVectorEnv({self.env_id}, num_envs={self.num_envs}, shards={len(self._shards)}, "
                    f"instances={self.instance_ids}, url={self.url})")
        return f"RemoteVectorEnv({self.env_id}, num_envs={self.num_envs}, instance={self.instance_id}, url={self.url})"
