"""RemoteVectorEnv.

Offline: Gymnasium's own vector results (make_vec, sync), written as JSON the way the server
writes values (numpy's tolist, null for None), are read back exactly: batched observations,
infos with their _key masks, final_obs and final_info.

Against gym-server's vector instances: episodes equal make_vec's in every autoreset mode, with
MessagePack answers and with JSON ones; the spaces; make_vec through the ids' vector entry point.
"""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import gym_server_client as gsc
from gym_server_client import RemoteVectorEnv, transport
from gym_server_client.spaces import read_value
from gym_server_client.vector import decode_vector_info, parse_autoreset_mode

from conftest import API_KEYS, IN_PROCESS_ID, assert_same_value


def plain(x):
    """numpy values as the server writes them in JSON (tolist; object arrays element by
    element, None as null)."""
    if isinstance(x, np.ndarray):
        return [plain(v) for v in x] if x.dtype == object else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def as_server_json(value):
    """A value as JSON text and back: what the server's answer carries."""
    return json.loads(json.dumps(plain(value)))


def make_vec(env_id: str, num_envs: int, mode: AutoresetMode, **kwargs) -> gym.vector.VectorEnv:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make_vec(IN_PROCESS_ID.get(env_id, env_id), num_envs, vectorization_mode="sync",
                            vector_kwargs={"autoreset_mode": mode}, **kwargs)


VECTOR_CASES = [
    ("CartPole-v1", 3, AutoresetMode.SAME_STEP),
    ("CartPole-v1", 3, AutoresetMode.NEXT_STEP),
    ("FrozenLake-v1", 4, AutoresetMode.SAME_STEP),
    ("Taxi-v3", 2, AutoresetMode.SAME_STEP),
    ("Blackjack-v1", 3, AutoresetMode.SAME_STEP),
    ("Pendulum-v1", 2, AutoresetMode.NEXT_STEP),
]


@pytest.mark.parametrize("env_id, num_envs, mode", VECTOR_CASES)
def test_vector_values_read_back_exactly(env_id, num_envs, mode):
    envs = make_vec(env_id, num_envs, mode)
    envs.action_space.seed(0)
    seen_final = False
    obs, info = envs.reset(seed=0)
    assert_same_value(read_value(envs.observation_space, as_server_json(obs)), obs, "reset obs")
    assert_same_value(decode_vector_info(as_server_json(info), envs.single_observation_space, num_envs), info, "reset info")
    for t in range(250):  # past a time limit of 200 (Taxi, Pendulum)
        obs, rewards, terminations, truncations, info = envs.step(envs.action_space.sample())
        assert_same_value(read_value(envs.observation_space, as_server_json(obs)), obs, f"step {t} obs")
        decoded = decode_vector_info(as_server_json(info), envs.single_observation_space, num_envs)
        assert_same_value(decoded, info, f"step {t} info")
        seen_final |= "final_obs" in info
    if mode is AutoresetMode.SAME_STEP:
        assert seen_final, "the episodes should have ended at least once"
    envs.close()


def test_info_columns():
    info = {"a": [1, 2], "_a": [True, False], "b": [0.5, 0], "_b": [True, True], "c": ["x", None],
            "_c": [True, False], "action_mask": [[1, 0], [0, 1]], "_action_mask": [True, True]}
    decoded = decode_vector_info(info, gym.spaces.Discrete(2), 2)
    assert decoded["a"].dtype == np.int64 and decoded["_a"].dtype == np.bool_
    assert decoded["b"].dtype == np.float64
    assert decoded["c"].dtype == object and decoded["c"][1] is None
    assert decoded["action_mask"].dtype == np.int8 and decoded["action_mask"].shape == (2, 2)
    with pytest.raises(gsc.ProtocolError, match="list of 2"):
        decode_vector_info({"a": [1, 2, 3], "_a": [True, True, True]}, gym.spaces.Discrete(2), 2)


def test_autoreset_mode_names():
    assert parse_autoreset_mode("next_step") is AutoresetMode.NEXT_STEP
    assert parse_autoreset_mode("SameStep") is AutoresetMode.SAME_STEP
    assert parse_autoreset_mode(AutoresetMode.DISABLED) is AutoresetMode.DISABLED
    with pytest.raises(ValueError, match="autoreset_mode must be"):
        parse_autoreset_mode("sometimes")


def test_inputs_checked_before_connecting():
    with pytest.raises(ValueError, match="num_envs"):
        RemoteVectorEnv("CartPole-v1", 0, url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="3 entries"):
        RemoteVectorEnv("CartPole-v1", 3, url="http://127.0.0.1:9", seed=[1, 2])
    with pytest.raises(ValueError, match="autoreset_mode"):
        RemoteVectorEnv("CartPole-v1", 3, url="http://127.0.0.1:9", autoreset_mode="never")
    with pytest.raises(ValueError, match="encoding"):
        RemoteVectorEnv("CartPole-v1", 3, url="http://127.0.0.1:9", encoding="xml")


# ---- against gym-server ------------------------------------------------------------------------


@pytest.fixture
def unpacked(monkeypatch) -> list[int]:
    """Counts the MessagePack answers the client decodes."""
    calls = []
    unpackb = transport.msgpack.unpackb

    def counting(*args, **kwargs):
        calls.append(1)
        return unpackb(*args, **kwargs)

    monkeypatch.setattr(transport.msgpack, "unpackb", counting)
    return calls


def compare_steps(envs, reference, steps: int, where: str) -> None:
    for t in range(steps):
        actions = envs.action_space.sample()
        got = envs.step(actions)
        expected = reference.step(actions)
        for name, a, b in zip(("obs", "reward", "terminated", "truncated", "info"), got, expected):
            assert_same_value(a, b, f"{where} step {t} {name}")
        assert got[1].dtype == np.float64 and got[2].dtype == np.bool_ and got[3].dtype == np.bool_


@pytest.mark.parametrize("encoding", ["msgpack", "json"])
@pytest.mark.parametrize("env_id, num_envs, mode", VECTOR_CASES)
def test_vector_episodes_equal_make_vec(server, unpacked, env_id, num_envs, mode, encoding):
    envs = RemoteVectorEnv(env_id, num_envs, url=server.url, autoreset_mode=mode, encoding=encoding)
    reference = make_vec(env_id, num_envs, mode)
    try:
        assert envs.single_observation_space == reference.single_observation_space
        assert envs.single_action_space == reference.single_action_space
        assert envs.observation_space == reference.observation_space
        assert envs.action_space == reference.action_space
        assert envs.metadata["autoreset_mode"] is mode
        for seed in (5, [3, None] + [7] * (num_envs - 2)):
            obs, info = envs.reset(seed=seed)
            ref_obs, ref_info = reference.reset(seed=seed)
            assert_same_value(obs, ref_obs, f"reset {seed} obs")
            assert_same_value(info, ref_info, f"reset {seed} info")
            envs.action_space.seed(1)
            compare_steps(envs, reference, 120, f"seed {seed}")
    finally:
        envs.close()
        reference.close()
    # Each reset and step answer came as MessagePack when asked for, and never otherwise.
    assert len(unpacked) == (2 * 121 if encoding == "msgpack" else 0)


def test_disabled_mode_needs_a_masked_reset_as_gymnasium_does(server):
    envs = RemoteVectorEnv("CartPole-v1", 3, url=server.url, autoreset_mode="disabled", kwargs={"max_episode_steps": 12})
    reference = make_vec("CartPole-v1", 3, AutoresetMode.DISABLED, max_episode_steps=12)
    try:
        assert_same_value(envs.reset(seed=4)[0], reference.reset(seed=4)[0])
        envs.action_space.seed(4)
        refused = masked = 0
        for t in range(60):
            actions = envs.action_space.sample()
            got = envs.step(actions)
            expected = reference.step(actions)
            for name, a, b in zip(("obs", "reward", "terminated", "truncated", "info"), got, expected):
                assert_same_value(a, b, f"step {t} {name}")
            ended = got[2] | got[3]
            if not ended.any():
                continue
            if not refused:
                # A sub-environment that ended must be reset first: the server refuses the step
                # before touching any sub-environment (Gymnasium asserts after stepping some).
                with pytest.raises(gsc.ServerError, match="reset"):
                    envs.step(actions)
                refused += 1
            got = envs.reset(options={"reset_mask": ended})
            expected = reference.reset(options={"reset_mask": ended.copy()})
            assert_same_value(got[0], expected[0], f"masked reset after step {t} obs")
            assert_same_value(got[1], expected[1], f"masked reset after step {t} info")
            masked += 1
        assert refused == 1 and masked >= 3
    finally:
        envs.close()
        reference.close()


def test_vector_is_one_instance_and_closes(server):
    import requests

    envs = RemoteVectorEnv("CartPole-v1", 4, url=server.url, seed=9)
    all_envs = requests.get(server.url + "/v1/envs/", timeout=5).json()["all_envs"]
    assert envs.instance_id in all_envs
    obs, _ = envs.reset()
    ref_obs, _ = make_vec("CartPole-v1", 4, AutoresetMode.NEXT_STEP).reset(seed=9)
    assert_same_value(obs, ref_obs)
    with pytest.raises(gym.error.InvalidAction):
        envs.step([0, 1])  # two actions for four environments
    with pytest.raises(gsc.InvalidAction):
        envs.step([0, 1, 2, 0])  # the server checks each one
    envs.close()
    envs.close()
    assert envs.instance_id not in requests.get(server.url + "/v1/envs/", timeout=5).json()["all_envs"]
    with pytest.raises(gym.error.ClosedEnvironmentError):
        envs.reset()


def test_make_vec_uses_the_vector_entry_point(server):
    envs = gym.make_vec("gym_server/FrozenLake-v1", num_envs=3, url=server.url, autoreset_mode="same_step",
                        is_slippery=True, map_name="8x8")
    reference = make_vec("FrozenLake-v1", 3, AutoresetMode.SAME_STEP, is_slippery=True, map_name="8x8")
    try:
        assert isinstance(envs.unwrapped, RemoteVectorEnv)
        assert envs.spec.id == "gym_server/FrozenLake-v1" and envs.spec.kwargs["num_envs"] == 3
        assert_same_value(envs.reset(seed=2), reference.reset(seed=2))
        envs.action_space.seed(2)
        compare_steps(envs, reference, 80, "make_vec FrozenLake 8x8")
    finally:
        envs.close()
        reference.close()


def test_make_vec_sync_runs_one_remote_env_per_copy(server):
    """vectorization_mode="sync": Gymnasium's SyncVectorEnv over N RemoteEnvs (N instances)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = gym.make_vec("gym_server/CartPole-v1", num_envs=3, vectorization_mode="sync", url=server.url)
    reference = make_vec("CartPole-v1", 3, AutoresetMode.NEXT_STEP)
    try:
        assert isinstance(envs.unwrapped, gym.vector.SyncVectorEnv)
        assert_same_value(envs.reset(seed=1)[0], reference.reset(seed=1)[0])
        envs.action_space.seed(2)
        compare_steps(envs, reference, 60, "sync")
    finally:
        envs.close()


def test_vector_with_an_api_key(keyed_server):
    with pytest.raises(gsc.ServerError, match="API key") as caught:
        RemoteVectorEnv("CartPole-v1", 2, url=keyed_server.url)
    assert caught.value.status == 401
    envs = RemoteVectorEnv("CartPole-v1", 2, url=keyed_server.url, api_key=API_KEYS[0])
    try:
        envs.reset(seed=0)
        envs.step(envs.action_space.sample())
        # Another key does not see the instance.
        other = transport.HttpApi(keyed_server.url, api_key=API_KEYS[1])
        with pytest.raises(gsc.UnknownInstance):
            other.request("POST", transport.instance_path(envs.instance_id, "reset/"))
        other.close()
    finally:
        envs.close()
