"""Through the worker, the same seed and actions give what in-process Gymnasium gives, bit for bit:
observations, rewards, flags, infos and frames."""

import gymnasium as gym
import numpy as np
import pytest

import gym_server_test_envs  # noqa: F401  (registers GymServerTest/*)
from inprocess import assert_same_value, float_bits, info_text


def make_actions(env, count, seed):
    """Actions as a user would give them: Python ints for Discrete, arrays otherwise."""
    space = env.action_space
    space.seed(seed)
    actions = [space.sample() for _ in range(count)]
    if isinstance(space, gym.spaces.Discrete):
        actions = [int(a) for a in actions]
    return actions


def run_side_by_side(client, env_id, *, kwargs=None, seeds=(42, None, None), steps=400,
                     action_seed=7, render_every=0, render_mode="auto", options=None):
    """Plays the same episodes in-process and through `client`; returns the number of steps."""
    kwargs = dict(kwargs or {})
    description = client.make(env_id, kwargs=kwargs, render_mode=render_mode)
    local_mode = description["render_mode"]
    # A deferred mode (`auto`): made without one, switched on at the first render.
    deferred = description["render_mode_deferred"]
    local = gym.make(env_id, render_mode=local_mode, **kwargs) if local_mode and not deferred else gym.make(env_id, **kwargs)
    try:
        actions = make_actions(local, steps, action_seed)
        total = 0
        for seed in seeds:
            local_obs, local_info = local.reset(seed=seed, options=options)
            remote_obs, remote_info, _ = client.reset(seed=seed, options=options)
            assert_same_value(local.observation_space, local_obs, remote_obs, "reset observation")
            assert info_text(local_info) == info_text(remote_info)
            for t, action in enumerate(actions):
                local_obs, local_reward, local_term, local_trunc, local_info = local.step(action)
                remote_obs, remote_reward, remote_term, remote_trunc, remote_info, _ = client.step(action)
                where = "%s seed %s step %d" % (env_id, seed, t)
                assert_same_value(local.observation_space, local_obs, remote_obs, where)
                assert float_bits(local_reward) == float_bits(remote_reward), (where, local_reward, remote_reward)
                assert (bool(local_term), bool(local_trunc)) == (remote_term, remote_trunc), where
                assert info_text(local_info) == info_text(remote_info), where
                if render_every and t % render_every == 0:
                    local.unwrapped.render_mode = local_mode
                    assert_same_frame(local.render(), client.render())
                total += 1
                if local_term or local_trunc:
                    break
        return total
    finally:
        local.close()


def assert_same_frame(local, remote):
    if isinstance(local, str):
        assert remote == local
        return
    assert remote.shape == local.shape and remote.dtype == np.uint8
    assert remote.tobytes() == local.tobytes()


def test_cartpole_episodes_match(worker):
    steps = run_side_by_side(worker, "CartPole-v1", seeds=(42, None, None, 7))
    assert steps > 40


def test_cartpole_time_limit_and_kwargs_match(worker):
    description = worker.make("CartPole-v1", kwargs={"max_episode_steps": 12, "sutton_barto_reward": True})
    assert description["time_limit"] is True and description["max_episode_steps"] == 12
    local = gym.make("CartPole-v1", max_episode_steps=12, sutton_barto_reward=True)
    worker.reset(seed=3)
    local.reset(seed=3)
    flags = []
    for t in range(12):
        action = t % 2  # keeps the pole up long enough to reach the time limit
        local_obs, local_reward, local_term, local_trunc, _ = local.step(action)
        remote_obs, remote_reward, remote_term, remote_trunc, _, _ = worker.step(action)
        assert local_obs.tobytes() == remote_obs.tobytes()
        assert float_bits(local_reward) == float_bits(remote_reward)
        assert (local_term, local_trunc) == (remote_term, remote_trunc)
        flags.append((remote_term, remote_trunc))
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


def test_no_time_limit_is_reported(worker):
    description = worker.make("CartPole-v1", kwargs={"max_episode_steps": -1})
    assert description["time_limit"] is False
    assert "TimeLimit" not in description["wrappers"]
    assert description["wrappers"] == [type(w).__name__ for w in _wrappers(gym.make("CartPole-v1", max_episode_steps=-1))]


def _wrappers(env):
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(env)
        env = env.env
    return chain


def test_lunar_lander_episodes_and_frames_match(start_worker):
    pytest.importorskip("Box2D", reason="LunarLander needs box2d (pip install box2d)")
    pytest.importorskip("pygame", reason="LunarLander's frames need pygame")
    client = start_worker()
    steps = run_side_by_side(client, "LunarLander-v3", seeds=(1, None), steps=1000, render_every=45)
    assert steps > 100
    assert client.description["render_mode"] == "rgb_array"
    frame = client.render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8


def test_lunar_lander_frames_rendered_from_a_reset_match_an_env_made_to_render(start_worker):
    """`auto` makes LunarLander with no render mode, so that it steps as fast as a user's
    gymnasium.make: its engines' particles, drawn but outside the physics, come only once frames
    are asked for. From a reset on (the monitor films whole episodes), the frames are those of an
    env made with render_mode="rgb_array"; so are they from the start with that mode in kwargs."""
    pytest.importorskip("Box2D", reason="LunarLander needs box2d (pip install box2d)")
    pytest.importorskip("pygame", reason="LunarLander's frames need pygame")
    actions = [t % 4 for t in range(60)]
    for kwargs, unrendered in (({}, 30), ({"render_mode": "rgb_array"}, 0)):
        client = start_worker()
        assert client.make("LunarLander-v3", kwargs=kwargs)["render_mode_deferred"] is not bool(kwargs)
        local = gym.make("LunarLander-v3", render_mode="rgb_array")
        for seed in (3, 4):
            client.reset(seed=seed)
            local.reset(seed=seed)
            for t, action in enumerate(actions[:unrendered] if seed == 3 else []):
                local.step(action)
                client.step(action)
            if seed == 3 and unrendered:
                continue  # (rendered first from the next reset)
            assert_same_frame(local.render(), client.render())
            for t, action in enumerate(actions):
                local.step(action)
                client.step(action)
                if t % 6 == 5:
                    assert_same_frame(local.render(), client.render())
        local.close()


def test_lunar_lander_continuous_matches(start_worker):
    pytest.importorskip("Box2D", reason="LunarLander needs box2d (pip install box2d)")
    client = start_worker()
    steps = run_side_by_side(client, "LunarLander-v3", kwargs={"continuous": True, "enable_wind": True},
                             seeds=(5,), steps=300, render_mode=None)
    assert client.description["action_space"]["type"] == "Box"
    assert client.description["render_mode"] is None
    assert steps > 50


def test_dict_box_description(worker):
    description = worker.make("GymServerTest/DictBox-v0")
    assert description["observation_space"]["keys"] == ["mode", "position"]  # Gymnasium sorted them
    assert description["max_episode_steps"] == 25 and description["time_limit"] is True


def test_dict_box_episodes_match(start_worker):
    client = start_worker(imports=["gym_server_test_envs"])
    steps = run_side_by_side(client, "GymServerTest/DictBox-v0", seeds=(11, None, 12), steps=40,
                             render_every=5, options={"scale": 2.5})
    assert steps == 75  # three episodes cut by the time limit at 25 steps


def test_dict_box_text_frames_match(start_worker):
    client = start_worker(imports=["gym_server_test_envs"])
    run_side_by_side(client, "GymServerTest/DictBox-v0", seeds=(4,), steps=10, render_every=3,
                     render_mode="ansi")


def test_float16_box_round_trip(worker):
    description = worker.make("GymServerTest/Float16Box-v0")
    space = description["observation_space"]
    assert space["dtype"] == "float16" and space["size"] == 6
    assert space["low"] == [-float("inf"), -1.0, 0.0] and space["high"] == [float("inf"), 1.0, 65504.0]
    local = gym.make("GymServerTest/Float16Box-v0")
    local_obs, _ = local.reset(seed=9)
    remote_obs, _, _ = worker.reset(seed=9)
    assert_same_value(local.observation_space, local_obs, remote_obs)
    specials = np.array([np.inf, -np.inf, np.nan, 65504.0, -0.0, 6e-8, 1 / 3], dtype=np.float16)
    for i in range(len(specials) - 2):
        action = specials[i:i + 3].copy()
        obs, _, _, _, _, raw = worker.step(action)
        assert raw == action.tobytes() and obs.dtype == np.float16
        assert local.step(action)[0].tobytes() == raw


def test_uint16_box_round_trip(worker):
    description = worker.make("GymServerTest/UInt16Box-v0")
    assert description["observation_space"]["high"] == [65535] * 4
    local = gym.make("GymServerTest/UInt16Box-v0")
    assert_same_value(local.observation_space, local.reset(seed=2)[0], worker.reset(seed=2)[0])
    for action in ([[0, 65535], [1, 32768]], [[65535, 65534], [256, 255]]):
        action = np.array(action, dtype=np.uint16)
        obs, _, _, _, _, raw = worker.step(action)
        assert raw == action.tobytes() and obs.dtype == np.uint16 and obs.shape == (2, 2)
        assert np.array_equal(obs, action)
        assert local.step(action)[0].tobytes() == raw


def test_nested_spaces_round_trip(worker):
    description = worker.make("GymServerTest/Nested-v0")
    obs_space = description["observation_space"]
    assert obs_space == description["action_space"]
    assert [part["type"] for part in obs_space["spaces"]] == ["Discrete", "Dict", "Box"]
    discrete, mapping, image = obs_space["spaces"]
    assert discrete == {"type": "Discrete", "n": 7, "start": -3, "dtype": "int16", "size": 2}
    assert mapping["keys"] == ["flag", "grid", "huge", "inner", "wide", "zeta"]
    parts = dict(zip(mapping["keys"], mapping["spaces"]))
    assert parts["huge"]["high"] == [2**64 - 1] and parts["huge"]["dtype"] == "uint64"
    assert parts["wide"]["low"] == [-2**63] * 2 and parts["wide"]["high"] == [2**63 - 1] * 2
    assert parts["flag"] == {"type": "Box", "dtype": "bool", "shape": [2], "low": [0, 0], "high": [1, 1], "size": 2}
    assert parts["grid"] == {"type": "MultiDiscrete", "shape": [2, 2], "dtype": "int64",
                             "nvec": [3, 4, 5, 6], "start": [1, 0, 0, -1], "size": 32}
    assert parts["zeta"] == {"type": "MultiBinary", "shape": [2, 3], "dtype": "int8", "size": 6}
    assert parts["inner"]["spaces"][1] == {"type": "Box", "dtype": "float64", "shape": [], "low": [-1.0],
                                           "high": [1.0], "size": 8}
    assert image["shape"] == [2, 2, 3] and image["dtype"] == "uint8" and image["size"] == 12
    assert obs_space["size"] == 2 + (2 + 32 + 8 + (8 + 8) + 16 + 6) + 12

    local = gym.make("GymServerTest/Nested-v0")
    assert_same_value(local.observation_space, local.reset(seed=5)[0], worker.reset(seed=5)[0])
    action = (np.int16(-3), {
        "zeta": np.array([[1, 0, 1], [0, 1, 1]], dtype=np.int8),
        "grid": np.array([[3, 0], [4, 4]]),
        "wide": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]),
        "huge": np.array([np.iinfo(np.uint64).max], dtype=np.uint64),
        "flag": np.array([True, False]),
        "inner": (1, np.array(-0.5)),
    }, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    remote_obs, _, _, _, _, raw = worker.step(action)
    assert raw == worker.act_layout.encode(action)
    assert_same_value(local.observation_space, local.step(action)[0], remote_obs)
    assert remote_obs[0] == -3 and remote_obs[1]["huge"][0] == 2**64 - 1
    for seed in (1, 2):
        sampled = worker.sample(seed=seed)
        local.action_space.seed(seed)
        assert_same_value(local.action_space, local.action_space.sample(), sampled, "sample")


def test_action_space_sample_matches(worker):
    worker.make("CartPole-v1")
    local = gym.make("CartPole-v1")
    local.action_space.seed(123)
    expected = [int(local.action_space.sample()) for _ in range(20)]
    assert [worker.sample(seed=123)] + [worker.sample() for _ in range(19)] == expected


def test_frozen_lake_text_render_matches(worker):
    worker.make("FrozenLake-v1", kwargs={"is_slippery": True}, render_mode="ansi")
    assert worker.description["render_mode"] == "ansi"
    assert "rgb_array" in worker.description["render_modes"]
    local = gym.make("FrozenLake-v1", is_slippery=True, render_mode="ansi")
    local.reset(seed=1)
    worker.reset(seed=1)
    for action in [2, 2, 1, 1, 2, 1]:
        local_step = local.step(action)
        remote_step = worker.step(action)
        assert remote_step[0] == local_step[0] and remote_step[2:4] == local_step[2:4]
        assert info_text(local_step[4]) == info_text(remote_step[4])
        assert worker.render() == local.render()
        if local_step[2] or local_step[3]:
            break
