"""RemoteVectorEnv(..., shards=k): N copies in k server instances, answering as one instance.

Offline: the shards' sizes and the check of ``shards``; infos joined as Gymnasium's
``VectorEnv._add_info`` builds them over the whole vector (against ``_add_info`` itself, through
the server's JSON form); Tuple and Dict observations joined in ``batch_space`` layout (against
Gymnasium's ``concatenate``).

Against gym-server, over REST and over WebSocket: a sharded env equals one N-wide
RemoteVectorEnv and Gymnasium's make_vec step for step (CartPole, Pendulum, FrozenLake,
Blackjack, in both autoreset modes, reseeded midway with a list of seeds; the Dict observations
of a bridged environment where GYM_TEST_BRIDGE_PYTHON names a Python for the bridge), and in
disabled mode with masked resets; slippery FrozenLake differs only where a shard truncated a
probability; a vector instance seeds copy i with seed + i; every shard's request is written
before the first answer is read; a shard that fails (closed behind the env's back, its
connection lost) raises the usual error naming its instance and leaves no answer unread; close,
the monitor and the live views act on every shard; make_vec takes ``shards``.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings

import gymnasium as gym
import numpy as np
import pytest
import requests
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import concatenate, create_empty_array

import gym_server_client as gsc
from gym_server_client import RemoteVectorEnv, transport
from gym_server_client.shards import Shard, join_batches, join_infos, shard_sizes
from gym_server_client.vector import decode_vector_info

from conftest import assert_same_value, in_process
from test_bridge import bridged, monkeypatch_module  # noqa: F401 (fixtures: a server with --python)
from test_vector import as_server_json, compare_steps, make_vec

TRANSPORTS = ["http", "websocket"]
RESULT_NAMES = ("obs", "reward", "terminated", "truncated", "info")


# ---- offline ------------------------------------------------------------------------------------


def test_shard_sizes_are_as_equal_as_possible():
    assert shard_sizes(10, 3) == [4, 3, 3]
    assert shard_sizes(7, 3) == [3, 2, 2]
    assert shard_sizes(5, 5) == [1, 1, 1, 1, 1]
    assert shard_sizes(4, 1) == [4]
    assert shard_sizes(8, np.int64(2)) == [4, 4]


@pytest.mark.parametrize("shards", [0, 6, -1, 1.5, True, "2", None])
def test_a_bad_shards_value_is_refused_before_connecting(shards):
    with pytest.raises(ValueError, match=r"shards must be an integer from 1 to num_envs=5"):
        RemoteVectorEnv("CartPole-v1", 5, url="http://127.0.0.1:9", shards=shards)
    with pytest.raises(ValueError, match=r"shards must be an integer from 1 to num_envs=5"):
        gym.make_vec("gym_server/CartPole-v1", num_envs=5, url="http://127.0.0.1:9", shards=shards)


class InfoOnly(gym.vector.VectorEnv):
    """Just enough of a VectorEnv to call Gymnasium's own ``_add_info``."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs

    def vector_info(self, infos: list[dict]) -> dict:
        vector: dict = {}
        for i, info in enumerate(infos):
            vector = self._add_info(vector, info, i)
        return vector


def random_info(rng: np.random.Generator) -> dict:
    """A sub-environment's info as the server's environments give them: numbers whose type
    changes between copies (FrozenLake's ``prob``: int 1 after a reset, a float after a step;
    here whole floats, which a shard's cast to int keeps: see the next test), floats, strings,
    flags, an int8 mask, and in some copies a finished episode's final_obs/final_info."""
    info: dict = {}
    if rng.random() < 0.6:
        info["prob"] = 1 if rng.random() < 0.4 else float(rng.integers(0, 3))
    if rng.random() < 0.3:
        info["share"] = float(rng.random())
    if rng.random() < 0.3:
        info["name"] = str(rng.integers(100))
    if rng.random() < 0.4:
        info["flag"] = bool(rng.random() < 0.5)
    if rng.random() < 0.3:
        info["action_mask"] = rng.integers(0, 2, size=3).astype(np.int8)
    if rng.random() < 0.3:
        info["final_obs"] = np.int64(rng.integers(16))
        final_info: dict = {}
        if rng.random() < 0.7:
            final_info["prob"] = 1 if rng.random() < 0.5 else 2.0
        if rng.random() < 0.5:
            final_info["episode_length"] = int(rng.integers(1, 30))
        info["final_info"] = final_info
    return info


def test_infos_join_as_add_info_builds_them_over_the_whole_vector():
    rng = np.random.default_rng(0)
    space = gym.spaces.Discrete(16)
    for trial in range(300):
        sizes = shard_sizes(int(rng.integers(2, 9)), 2) if trial % 2 else shard_sizes(int(rng.integers(3, 9)), 3)
        total = sum(sizes)
        infos = [random_info(rng) for _ in range(total)]
        whole = decode_vector_info(as_server_json(InfoOnly(total).vector_info(infos)), space, total)
        parts, offset = [], 0
        for size in sizes:
            part = InfoOnly(size).vector_info(infos[offset:offset + size])
            parts.append(decode_vector_info(as_server_json(part), space, size))
            offset += size
        joined = join_infos(parts, sizes)
        assert_same_value(joined, whole, f"trial {trial} {sizes}")
        for key, value in whole.items():
            if isinstance(value, np.ndarray):
                assert joined[key].dtype == value.dtype, f"trial {trial} {key}"


def test_a_shard_casts_before_the_join_can():
    """The one difference from one instance: a key whose values change type between copies in a
    step. _add_info casts every value to the type of the first copy that has the key, and each
    shard's server casts its own copies' values before the client sees them: where a later
    shard's first such copy has an int and an earlier shard's a float, that shard's fractions
    come truncated, as one instance would truncate them had its first copy had the int."""
    space = gym.spaces.Discrete(16)
    infos = [{"prob": 0.5}, {"prob": 1}, {"prob": 0.25}]
    whole = decode_vector_info(as_server_json(InfoOnly(3).vector_info(infos)), space, 3)
    parts = [decode_vector_info(as_server_json(InfoOnly(size).vector_info(part)), space, size)
             for size, part in ((1, infos[:1]), (2, infos[1:]))]
    assert parts[1]["prob"].tolist() == [1, 0]  # (the shard's own truncation)
    assert whole["prob"].tolist() == [0.5, 1.0, 0.25]
    assert join_infos(parts, [1, 2])["prob"].tolist() == [0.5, 1.0, 0.0]
    # The other way round the join truncates as one instance does.
    infos = [{"prob": 1}, {"prob": 0.5}, {"prob": 0.25}]
    whole = decode_vector_info(as_server_json(InfoOnly(3).vector_info(infos)), space, 3)
    parts = [decode_vector_info(as_server_json(InfoOnly(size).vector_info(part)), space, size)
             for size, part in ((1, infos[:1]), (2, infos[1:]))]
    assert_same_value(join_infos(parts, [1, 2]), whole)
    assert whole["prob"].tolist() == [1, 0, 0]


def test_tuple_and_dict_observations_join_in_batch_space_layout():
    single = gym.spaces.Dict({
        "position": gym.spaces.Box(-1, 1, shape=(2,), dtype=np.float32),
        "cell": gym.spaces.Discrete(5),
        "cards": gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.MultiBinary(2))),
    })
    single.seed(1)
    sizes = shard_sizes(7, 3)
    samples = [single.sample() for _ in range(7)]
    whole = concatenate(single, samples, create_empty_array(single, 7))
    parts, offset = [], 0
    for size in sizes:
        parts.append(concatenate(single, samples[offset:offset + size], create_empty_array(single, size)))
        offset += size
    assert_same_value(join_batches(single, parts), whole)


# ---- against gym-server ------------------------------------------------------------------------


class Lockstep:
    """The reference of a sharded env: one N-wide RemoteVectorEnv and Gymnasium's make_vec,
    called together and checked equal at every call."""

    def __init__(self, wide: RemoteVectorEnv, local: gym.vector.VectorEnv) -> None:
        self.wide = wide
        self.local = local

    def reset(self, **kwargs):
        got = self.wide.reset(**kwargs)
        expected = self.local.reset(**kwargs)
        assert_same_value(got, expected, "N-wide against make_vec, reset")
        return got

    def step(self, actions):
        got = self.wide.step(actions)
        expected = self.local.step(actions)
        for name, a, b in zip(RESULT_NAMES, got, expected):
            assert_same_value(a, b, f"N-wide against make_vec, step {name}")
        return got

    def close(self) -> None:
        self.wide.close()
        self.local.close()


def lockstep(server, env_id: str, num_envs: int, mode: AutoresetMode, transport_name: str, **env_kwargs) -> Lockstep:
    wide = RemoteVectorEnv(env_id, num_envs, url=server.url, autoreset_mode=mode, transport=transport_name,
                           kwargs=env_kwargs or None)
    return Lockstep(wide, make_vec(env_id, num_envs, mode, **env_kwargs))


def all_envs(server) -> dict:
    return requests.get(server.url + "/v1/envs/", timeout=5).json()["all_envs"]


def shard_stream(shard: Shard) -> transport._Stream:
    """The socket a shard resets and steps over."""
    return shard.websocket._connection.stream if shard.websocket is not None else shard.api._connection


def idle(shard: Shard) -> bool:
    """Whether the shard's connection holds no answer unread (nothing arrived since the last
    one read)."""
    connection = shard.websocket._connection if shard.websocket is not None else shard.api._connection
    return connection is not None and connection.idle_and_open()


@pytest.fixture
def wire_events(monkeypatch) -> list[tuple[str, int]]:
    """What crosses the shards' sockets, in order: ("send", stream) for every request or message
    written, ("read", stream) for every answer read (REST or WebSocket)."""
    events: list[tuple[str, int]] = []
    send, read_response, receive = transport._Stream.send, transport._Stream.read_response, transport.WebSocketConnection.receive

    def sending(self, data):
        events.append(("send", id(self)))
        return send(self, data)

    def reading(self):
        events.append(("read", id(self)))
        return read_response(self)

    def receiving(self):
        events.append(("read", id(self.stream)))
        return receive(self)

    monkeypatch.setattr(transport._Stream, "send", sending)
    monkeypatch.setattr(transport._Stream, "read_response", reading)
    monkeypatch.setattr(transport.WebSocketConnection, "receive", receiving)
    return events


EPISODE_CASES = [
    ("CartPole-v1", 7, 3, AutoresetMode.NEXT_STEP),
    ("CartPole-v1", 5, 2, AutoresetMode.SAME_STEP),
    ("Pendulum-v1", 5, 2, AutoresetMode.NEXT_STEP),
    ("Pendulum-v1", 7, 3, AutoresetMode.SAME_STEP),
    ("FrozenLake-v1", 5, 2, AutoresetMode.NEXT_STEP),
    ("FrozenLake-v1", 7, 3, AutoresetMode.SAME_STEP),
    ("Blackjack-v1", 7, 3, AutoresetMode.NEXT_STEP),
    ("Blackjack-v1", 5, 2, AutoresetMode.SAME_STEP),
]
# FrozenLake not slippery: its prob is 1 (int) after a reset and 1.0 after a step, which no cast
# changes (slippery: test_slippery_frozen_lake_differs_only_by_truncated_probabilities).
CASE_KWARGS = {"FrozenLake-v1": {"is_slippery": False}}


@pytest.mark.parametrize("transport_name", TRANSPORTS)
@pytest.mark.parametrize("env_id, num_envs, shards, mode", EPISODE_CASES)
def test_sharded_episodes_equal_one_wide_instance_and_make_vec(server, env_id, num_envs, shards, mode, transport_name):
    # REST answers in MessagePack for k=3 and JSON for k=2; WebSocket answers JSON.
    encoding = "msgpack" if shards == 3 else "json"
    env_kwargs = CASE_KWARGS.get(env_id, {})
    envs = RemoteVectorEnv(env_id, num_envs, url=server.url, autoreset_mode=mode, shards=shards,
                           transport=transport_name, encoding=encoding, kwargs=env_kwargs or None)
    reference = lockstep(server, env_id, num_envs, mode, transport_name, **env_kwargs)
    try:
        assert len(envs.instance_ids) == shards and None not in envs.instance_ids
        assert envs.single_observation_space == reference.wide.single_observation_space
        assert envs.single_action_space == reference.wide.single_action_space
        assert envs.observation_space == reference.wide.observation_space
        assert envs.action_space == reference.wide.action_space
        assert envs.metadata["autoreset_mode"] is mode
        # 220 steps from a seed (past Pendulum's time limit of 200), then reseeded with a list.
        for seed, steps in ((11, 220), ([3, None] + list(range(40, 40 + num_envs - 2)), 100)):
            assert_same_value(envs.reset(seed=seed), reference.reset(seed=seed), f"reset {seed}")
            envs.action_space.seed(len(str(seed)))
            compare_steps(envs, reference, steps, f"{env_id} {shards} shards {transport_name} seed {seed}")
    finally:
        envs.close()
        reference.close()


@pytest.mark.parametrize("env_id, num_envs, shards, mode", [
    ("GymServerTest/DictBox-v0", 5, 2, AutoresetMode.SAME_STEP),
    ("GymServerTest/DictBox-v0", 7, 3, AutoresetMode.NEXT_STEP),
])
def test_bridged_dict_observations_equal_one_wide_instance(bridged, env_id, num_envs, shards, mode):
    """Dict observations, array and nested infos, reset options: a Python environment in the
    server's workers (skipped without GYM_TEST_BRIDGE_PYTHON)."""
    envs = RemoteVectorEnv(env_id, num_envs, url=bridged.url, autoreset_mode=mode, shards=shards)
    wide = RemoteVectorEnv(env_id, num_envs, url=bridged.url, autoreset_mode=mode)
    try:
        assert envs.observation_space == wide.observation_space and envs.action_space == wide.action_space
        for seed, options in ((3, None), ([None, 4] + [9] * (num_envs - 2), {"scale": 2.0})):
            assert_same_value(envs.reset(seed=seed, options=options), wide.reset(seed=seed, options=options), f"reset {seed}")
            envs.action_space.seed(1)
            compare_steps(envs, wide, 40, f"{env_id} in {shards} shards")
    finally:
        envs.close()
        wide.close()


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_slippery_frozen_lake_differs_only_by_truncated_probabilities(server, mode):
    envs = RemoteVectorEnv("FrozenLake-v1", 7, url=server.url, autoreset_mode=mode, shards=3)
    wide = RemoteVectorEnv("FrozenLake-v1", 7, url=server.url, autoreset_mode=mode)
    truncated = 0
    try:
        assert_same_value(envs.reset(seed=7), wide.reset(seed=7))
        envs.action_space.seed(7)
        for t in range(300):
            actions = envs.action_space.sample()
            got, expected = envs.step(actions), wide.step(actions)
            for name, a, b in zip(RESULT_NAMES[:4], got, expected):
                assert_same_value(a, b, f"step {t} {name}")
            info, wide_info = dict(got[4]), dict(expected[4])
            prob, wide_prob = info.pop("prob"), wide_info.pop("prob")
            assert_same_value(info, wide_info, f"step {t} info")
            differ = prob != wide_prob
            if differ.any():
                # Only in shards after the first, only fractions cut to their integer part.
                assert not differ[:3].any() and np.array_equal(prob[differ], np.trunc(wide_prob[differ])), (prob, wide_prob)
                truncated += 1
    finally:
        envs.close()
        wide.close()
    assert truncated > 0


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_disabled_mode_and_masked_resets_as_one_instance(server, transport_name):
    envs = RemoteVectorEnv("CartPole-v1", 7, url=server.url, autoreset_mode="disabled", shards=3,
                           transport=transport_name, kwargs={"max_episode_steps": 12})
    reference = lockstep(server, "CartPole-v1", 7, AutoresetMode.DISABLED, transport_name, max_episode_steps=12)
    try:
        assert_same_value(envs.reset(seed=4), reference.reset(seed=4))
        envs.action_space.seed(4)
        refused = masked = 0
        for t in range(80):
            actions = envs.action_space.sample()
            got = envs.step(actions)
            for name, a, b in zip(RESULT_NAMES, got, reference.step(actions)):
                assert_same_value(a, b, f"step {t} {name}")
            ended = got[2] | got[3]
            if not ended.any():
                continue
            if refused < 2:
                # One instance refuses a step while a copy awaits its reset, stepping none; the
                # sharded env refuses it before any shard steps.
                with pytest.raises(gsc.ServerError, match="reset") as caught:
                    envs.step(actions)
                with pytest.raises(gsc.ServerError, match="reset") as wide_caught:
                    reference.wide.step(actions)
                assert caught.value.message == wide_caught.value.message
                refused += 1
            # (The shards whose copies did not end are not asked: they answer what they had.)
            got = envs.reset(options={"reset_mask": ended})
            assert_same_value(got, reference.reset(options={"reset_mask": ended.copy()}), f"masked reset after step {t}")
            masked += 1
        assert refused == 2 and masked >= 5
        with pytest.raises(ValueError, match=r"reset_mask'\] must be a boolean array of shape \(7,\)"):
            envs.reset(options={"reset_mask": np.ones(3, dtype=bool)})
    finally:
        envs.close()
        reference.close()


def test_a_vector_instance_seeds_copy_i_with_seed_plus_i(server):
    """What the shards' seeds rest on: one instance reset with seed s starts copy i as
    gymnasium.make(id).reset(seed=s + i) (VectorEnvironment.reset's VectorSeeds.base)."""
    for env_id in ("CartPole-v1", "Blackjack-v1"):
        envs = RemoteVectorEnv(env_id, 4, url=server.url)
        try:
            observations, _ = envs.reset(seed=123)
            singles = [in_process(env_id).reset(seed=123 + i)[0] for i in range(4)]
            assert_same_value(observations, concatenate(envs.single_observation_space, singles,
                                                        create_empty_array(envs.single_observation_space, 4)))
        finally:
            envs.close()


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_every_shard_is_asked_before_any_answer_is_read(server, wire_events, transport_name):
    envs = RemoteVectorEnv("CartPole-v1", 7, url=server.url, shards=3, transport=transport_name)
    try:
        envs.reset(seed=0)  # (over WebSocket: the connections open, their handshakes cross the sockets)
        envs.step(envs.action_space.sample())
        for call in (lambda: envs.reset(seed=1), lambda: envs.step(envs.action_space.sample())):
            wire_events.clear()
            call()
            kinds = [kind for kind, _ in wire_events]
            streams = [stream for _, stream in wire_events]
            assert kinds == ["send"] * 3 + ["read"] * 3, wire_events
            # One connection per shard: REST's, or the shard's WebSocket.
            assert streams[:3] == streams[3:] == [id(shard_stream(shard)) for shard in envs._shards]
    finally:
        envs.close()


def test_shards_are_instances_of_their_own(server):
    envs = RemoteVectorEnv("CartPole-v1", 5, url=server.url, files_url=server.files_url, shards=2, seed=9)
    try:
        ids = envs.instance_ids
        assert len(set(ids)) == 2 and all(all_envs(server).get(i) == "CartPole-v1" for i in ids)
        for i in ids:
            space = requests.get(f"{server.url}/v1/envs/{i}/observation_space/", timeout=5).json()
            assert space["num_envs"] in (3, 2)
        with pytest.raises(AttributeError, match="2 server instances.*instance_ids"):
            envs.instance_id
        with pytest.raises(AttributeError, match="live_view_urls"):
            envs.live_view_url
        assert envs.live_view_urls == [f"{server.files_url}/render.html?instance_id={i}" for i in ids]
        assert "shards=2" in repr(envs)
        with pytest.raises(NotImplementedError, match="no render"):
            envs.render()
        # The seed given at creation applies at the first reset, as for one instance.
        wide = RemoteVectorEnv("CartPole-v1", 5, url=server.url, seed=9)
        assert_same_value(envs.reset(), wide.reset())
        wide.close()
        # One shard's instance closed elsewhere: closing the env closes the rest, quietly.
        requests.post(f"{server.url}/v1/envs/{ids[1]}/close/", timeout=5).raise_for_status()
    finally:
        envs.close()
    assert not set(ids) & set(all_envs(server))
    envs.close()
    with pytest.raises(gym.error.ClosedEnvironmentError):
        envs.reset()


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_a_shard_closed_behind_the_envs_back_is_named(server, transport_name):
    envs = RemoteVectorEnv("CartPole-v1", 7, url=server.url, shards=3, transport=transport_name)
    try:
        envs.reset(seed=0)
        victim = envs.instance_ids[1]
        requests.post(f"{server.url}/v1/envs/{victim}/close/", timeout=5).raise_for_status()
        for call in (lambda: envs.step(envs.action_space.sample()), lambda: envs.reset(seed=2)):
            with pytest.raises(gsc.UnknownInstance, match=f"shard 1 of 3 \\(instance {victim}, sub-environments 3-4\\)") as caught:
                call()
            assert victim in str(caught.value) and caught.value.instance_id == victim and caught.value.shard == 1
            # The other shards' answers were read: nothing is left on their connections.
            time.sleep(0.05)
            assert idle(envs._shards[0]) and idle(envs._shards[2])
    finally:
        envs.close()


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_a_shard_whose_connection_is_lost_is_named_and_the_next_step_works(server, monkeypatch, transport_name):
    envs = RemoteVectorEnv("Pendulum-v1", 6, url=server.url, shards=3, transport=transport_name)
    try:
        envs.reset(seed=0)
        envs.step(envs.action_space.sample())
        victim = envs._shards[2]
        stream = shard_stream(victim)
        send = transport._Stream.send

        def send_then_cut(self, data):
            send(self, data)
            if self is stream:
                self.sock.close()  # the connection dies once the request is out: no answer comes

        monkeypatch.setattr(transport._Stream, "send", send_then_cut)
        with pytest.raises(gsc.ServerUnreachable, match=f"shard 2 of 3 \\(instance {victim.instance_id}") as caught:
            envs.step(envs.action_space.sample())
        assert caught.value.instance_id == victim.instance_id
        monkeypatch.undo()
        time.sleep(0.05)
        assert idle(envs._shards[0]) and idle(envs._shards[1])
        envs.step(envs.action_space.sample())  # shard 2 over a new connection
        observations, _ = envs.reset(seed=5)
        assert observations.shape == (6, 3)
    finally:
        envs.close()


def test_an_answer_never_read_goes_with_its_connection(server):
    """The split request's safety net: a request made while an answer begun is unread (the env
    interrupted between a shard's send and its read) goes over a new connection, and never
    reads the old answer as its own."""
    envs = RemoteVectorEnv("CartPole-v1", 3, url=server.url)
    path = transport.instance_path(envs.instance_id, "action_space/")
    api, websocket = transport.HttpApi(server.url), transport.WebSocketTransport(server.url)
    try:
        with pytest.raises(RuntimeError, match="without a request begun"):
            api.finish_request()
        api.begin_request("GET", path)
        first = api._connection
        time.sleep(0.05)
        answer = api.request("GET", transport.instance_path(envs.instance_id, "observation_space/"))
        assert answer["info"]["shape"] == [3, 4] and api._connection is not first
        api.begin_request("GET", path)
        assert api.finish_request()["info"]["name"] == "MultiDiscrete"  # (begun and finished: the same connection)
        assert api.request("GET", path)["single"] == {"n": 2, "name": "Discrete"}
        websocket.begin_call("action_space", {"instance_id": envs.instance_id})
        first = websocket._connection
        answer = websocket.call("observation_space", {"instance_id": envs.instance_id})
        assert answer["shape"] == [3, 4] and websocket._connection is not first
        with pytest.raises(RuntimeError, match="without a call begun"):
            websocket.finish_call()
    finally:
        api.close()
        websocket.shutdown()
        envs.close()


def test_close_closes_every_shard_then_raises(server, monkeypatch):
    envs = RemoteVectorEnv("CartPole-v1", 6, url=server.url, shards=3)
    ids = envs.instance_ids

    begin_close = Shard.begin_close

    def unreachable_one(self):
        if self.index == 1:
            raise gsc.ServerUnreachable(self.api.url, "no route to the replica")
        return begin_close(self)

    monkeypatch.setattr(Shard, "begin_close", unreachable_one)
    with pytest.raises(gsc.ServerUnreachable, match=f"shard 1 of 3 \\(instance {ids[1]}.*no route to the replica"):
        envs.close()
    assert envs.closed
    left = set(all_envs(server))
    assert ids[0] not in left and ids[2] not in left and ids[1] in left
    requests.post(f"{server.url}/v1/envs/{ids[1]}/close/", timeout=5).raise_for_status()


def test_the_monitor_records_every_shard_in_a_folder_of_its_own(server):
    envs = RemoteVectorEnv("CartPole-v1", 5, url=server.url, files_url=server.files_url, shards=2,
                           kwargs={"max_episode_steps": 10})
    directory = f"sharded-{uuid.uuid4().hex[:8]}"
    try:
        place = envs.start_monitor(directory=directory, video_callable=False)
        assert place["directory"] == [f"{directory}/shard-0", f"{directory}/shard-1"]
        assert place["url"] == [f"{server.files_url}/{directory}/shard-{j}/" for j in (0, 1)]
        envs.reset(seed=0)
        envs.action_space.seed(0)
        ended = [0, 0]
        for _ in range(40):
            _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
            done = terminated | truncated
            ended[0] += int(done[:3].sum())
            ended[1] += int(done[3:].sum())
        envs.close_monitor()
    finally:
        envs.close()
    for j in (0, 1):
        stats = [json.loads(p.read_text()) for p in (server.monitor_dir / directory / f"shard-{j}").glob("openaigym.episode_batch.*.stats.json")]
        assert len(stats) == 1 and len(stats[0]["episode_lengths"]) == ended[j] >= 3, (j, ended)
    envs = RemoteVectorEnv("CartPole-v1", 3, url=server.url, files_url=server.files_url, shards=3)
    try:
        place = envs.start_monitor(video_callable=False)
        assert place["directory"] == [f"{i}/simulation" for i in envs.instance_ids]
        envs.close_monitor()
    finally:
        envs.close()


def test_make_vec_takes_shards(server):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = gym.make_vec("gym_server/FrozenLake-v1", num_envs=5, url=server.url, shards=2,
                            autoreset_mode="same_step", is_slippery=False, map_name="8x8")
    reference = make_vec("FrozenLake-v1", 5, AutoresetMode.SAME_STEP, is_slippery=False, map_name="8x8")
    try:
        assert isinstance(envs.unwrapped, RemoteVectorEnv) and len(envs.unwrapped.instance_ids) == 2
        assert_same_value(envs.reset(seed=2), reference.reset(seed=2))
        envs.action_space.seed(2)
        compare_steps(envs, reference, 80, "make_vec FrozenLake 8x8 in 2 shards")
    finally:
        envs.close()
        reference.close()
