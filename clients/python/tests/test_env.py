"""RemoteEnv against a real gym-server, compared with Gymnasium 1.4 in process."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
import requests
from gymnasium.utils.env_checker import check_env

import gym_server_client
from gym_server_client import RemoteEnv

from conftest import ALL_IDS, assert_same_value, in_process

SEEDS = (0, 7, 123456789)
MAX_STEPS = 1000  # per episode (MountainCarContinuous's limit is 999)
# CliffWalking has no time limit and a random walk rarely ends: compare its first 300 steps.
STEP_CAP = {"CliffWalking-v1": 300, "CliffWalkingSlippery-v1": 300}


def remote(server, env_id: str, **kwargs) -> gym.Env:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Taxi-v3 and CartPole-v0 are "out of date", as in Gymnasium
        return gym.make(f"gym_server/{env_id}", url=server.url, **kwargs)


def assert_same_space(space: gym.Space, reference: gym.Space) -> None:
    assert space == reference, f"{space} != {reference}"
    assert type(space) is type(reference)
    if isinstance(space, gym.spaces.Box):
        assert space.dtype == reference.dtype and space.shape == reference.shape
        assert np.array_equal(space.low, reference.low) and np.array_equal(space.high, reference.high)
    if isinstance(space, gym.spaces.Tuple):
        for s, r in zip(space.spaces, reference.spaces):
            assert_same_space(s, r)


def run_episodes(env: gym.Env, reference: gym.Env, seed: int, episodes: int = 2, where: str = "", max_steps: int = MAX_STEPS) -> int:
    """Runs the same random actions in both; checks every transition is identical. The first
    reset is seeded, the next continue the random stream. Returns the steps taken."""
    env.action_space.seed(seed)
    steps = 0
    for episode in range(episodes):
        reset_seed = seed if episode == 0 else None
        obs, info = env.reset(seed=reset_seed)
        ref_obs, ref_info = reference.reset(seed=reset_seed)
        assert_same_value(obs, ref_obs, f"{where} episode {episode} reset observation")
        assert_same_value(info, ref_info, f"{where} episode {episode} reset info")
        assert env.observation_space.contains(obs)
        for t in range(max_steps):
            action = env.action_space.sample()
            result = env.step(action)
            expected = reference.step(action)
            here = f"{where} episode {episode} step {t} action {action!r}"
            obs, reward, terminated, truncated, info = result
            assert_same_value(obs, expected[0], here + " observation")
            if isinstance(obs, np.ndarray):
                assert obs.dtype == expected[0].dtype
            assert env.observation_space.contains(obs), here
            assert reward == expected[1] and float(reward) == float(expected[1]), f"{here} reward {reward} != {expected[1]}"
            assert terminated is bool(expected[2]), f"{here} terminated {terminated} != {expected[2]}"
            assert truncated is bool(expected[3]), f"{here} truncated {truncated} != {expected[3]}"
            assert_same_value(info, expected[4], here + " info")
            steps += 1
            if terminated or truncated:
                break
    return steps


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_spaces_are_gymnasiums(server, env_id):
    env = RemoteEnv(env_id, url=server.url)
    reference = in_process(env_id)
    try:
        assert_same_space(env.observation_space, reference.observation_space)
        assert_same_space(env.action_space, reference.action_space)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_with_the_warnings_gymnasium_gives(server, env_id):
    env = remote(server, env_id)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)  # includes every render mode the env declares
        ours = sorted({str(w.message) for w in caught})
    finally:
        env.close()
    reference = in_process(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(reference.unwrapped, skip_render_check=True)  # Gymnasium's "human" needs a display
    assert ours == sorted({str(w.message) for w in caught})


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_episodes_equal_gymnasiums(server, env_id):
    env = remote(server, env_id)
    reference = in_process(env_id)
    try:
        # Two episodes for the first seed (the second continues its random stream), one for the others.
        steps = sum(
            run_episodes(env, reference, seed, episodes=2 if i == 0 else 1, where=f"{env_id} seed {seed}",
                         max_steps=STEP_CAP.get(env_id, MAX_STEPS))
            for i, seed in enumerate(SEEDS)
        )
    finally:
        env.close()
    assert steps > len(SEEDS)


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("FrozenLake-v1", {"is_slippery": False, "map_name": "8x8"}),
        ("FrozenLake-v1", {"desc": ["SFFF", "FHFH", "FFFH", "HFFG"], "is_slippery": True}),
        ("Blackjack-v1", {"natural": True, "sab": False}),
        ("CartPole-v1", {"sutton_barto_reward": True}),
        ("Pendulum-v1", {"g": 9.81}),
        ("Taxi-v3", {"is_rainy": True, "fickle_passenger": True}),
        ("CliffWalking-v1", {"is_slippery": True}),
    ],
)
def test_make_passes_kwargs_through(server, env_id, kwargs):
    env = remote(server, env_id, **kwargs)
    reference = in_process(env_id, **kwargs)
    try:
        run_episodes(env, reference, 3, where=f"{env_id} {kwargs}", max_steps=STEP_CAP.get(env_id, MAX_STEPS))
    finally:
        env.close()


def test_truncation_is_the_servers_time_limit_not_a_second_timelimit(server):
    env = remote(server, "MountainCar-v0")
    try:
        wrapper, names = env, []
        while wrapper is not wrapper.unwrapped:
            names.append(type(wrapper).__name__)
            wrapper = wrapper.env
        assert "TimeLimit" not in names
        assert env.spec.max_episode_steps is None
        env.reset(seed=1)
        # A random MountainCar never reaches the flag in 200 steps: truncated at exactly 200.
        for t in range(1, 201):
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            assert not terminated
            assert truncated is (t == 200)
            assert "TimeLimit.truncated" not in info
    finally:
        env.close()


def test_max_episode_steps_in_kwargs_moves_the_servers_limit(server):
    env = RemoteEnv("CartPole-v1", url=server.url, kwargs={"max_episode_steps": 5})
    reference = in_process("CartPole-v1", max_episode_steps=5)
    try:
        for seed in (0, 1, 2):
            run_episodes(env, reference, seed, episodes=3, where=f"CartPole-v1 limit 5 seed {seed}")
    finally:
        env.close()


def test_seed_at_creation_applies_to_the_first_reset(server):
    env = RemoteEnv("CartPole-v1", url=server.url, seed=31)
    reference = in_process("CartPole-v1")
    try:
        obs, _ = env.reset()
        assert_same_value(obs, reference.reset(seed=31)[0])
        assert env.np_random_seed == 31
        obs, _ = env.reset()  # continues the stream
        assert_same_value(obs, reference.reset()[0])
    finally:
        env.close()


@pytest.mark.parametrize("seed", [2**32, 2**53 + 1, 2**63 - 1])
def test_large_seeds(server, seed):
    env = RemoteEnv("Acrobot-v1", url=server.url)
    try:
        assert_same_value(env.reset(seed=seed)[0], in_process("Acrobot-v1").reset(seed=seed)[0])
    finally:
        env.close()


@pytest.mark.parametrize(
    "env_id, options",
    [("CartPole-v1", {"low": -0.2, "high": 0.2}), ("MountainCar-v0", {"low": -0.5, "high": -0.4}),
     ("Pendulum-v1", {"x_init": 1.0, "y_init": 0.5})],
)
def test_reset_options(server, env_id, options):
    env = RemoteEnv(env_id, url=server.url)
    try:
        obs, _ = env.reset(seed=5, options=options)
        assert_same_value(obs, in_process(env_id).reset(seed=5, options=options)[0])
    finally:
        env.close()


def test_numpy_actions_and_observation_types(server):
    env = RemoteEnv("Blackjack-v1", url=server.url)
    try:
        obs, _ = env.reset(seed=0)
        # Gymnasium's Blackjack builds its tuple of Python ints: json.dumps takes it.
        reference, _ = in_process("Blackjack-v1").reset(seed=0)
        assert isinstance(obs, tuple) and [type(x) for x in obs] == [type(x) for x in reference] == [int, int, int]
        assert obs == reference and json.dumps(obs) == json.dumps(reference)
        obs, *_ = env.step(np.int64(0))
        assert all(type(x) is int for x in obs)
        env.reset(seed=0)
        env.step(np.array(1))  # a 0-d array, as some policies return
    finally:
        env.close()
    env = RemoteEnv("Taxi-v3", url=server.url)
    try:
        obs, info = env.reset(seed=0)
        assert type(obs) is np.int64
        assert info["action_mask"].dtype == np.int8
        action = env.action_space.sample(mask=info["action_mask"])  # Gymnasium needs an int8 array
        env.step(action)
    finally:
        env.close()
    env = RemoteEnv("MountainCarContinuous-v0", url=server.url)
    try:
        env.reset(seed=0)
        obs, *_ = env.step(np.array([0.25], dtype=np.float32))
        assert obs.dtype == np.float32 and obs.shape == (2,)
    finally:
        env.close()


CLASSIC_CONTROL = {"CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1", "Acrobot-v1"}
RENDER_IDS = [i for i in ALL_IDS if i not in ("CartPole-v0", "Taxi-v4", "CliffWalkingSlippery-v1")]


@pytest.mark.parametrize("env_id", RENDER_IDS)
def test_render_rgb_array_has_gymnasiums_frame_size(server, env_id):
    env = remote(server, env_id, render_mode="rgb_array")
    reference = in_process(env_id, render_mode="rgb_array")
    try:
        env.reset(seed=2)
        reference.reset(seed=2)
        for _ in range(3):
            action = env.action_space.sample()
            env.step(action)
            reference.step(action)
        frame = env.render()
        expected = reference.render()
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
        assert frame.shape == expected.shape
        assert frame.flags.writeable
        if env_id in CLASSIC_CONTROL:
            # The same scene by another rasteriser: close on average (the toy-text boards use
            # the server's own sprites, so only their size is Gymnasium's).
            assert np.abs(frame.astype(np.int16) - expected.astype(np.int16)).mean() < 2
    finally:
        env.close()
        reference.close()


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v3", "CliffWalking-v1"])
def test_render_ansi_is_gymnasiums_text(server, env_id):
    env = remote(server, env_id, render_mode="ansi")
    reference = in_process(env_id, render_mode="ansi")
    try:
        env.reset(seed=4)
        reference.reset(seed=4)
        assert env.render() == reference.render()
        for _ in range(5):
            action = env.action_space.sample()
            env.step(action)
            reference.step(action)
            assert env.render() == reference.render()
    finally:
        env.close()


def test_render_without_a_mode_warns_and_returns_none(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    try:
        env.reset(seed=0)
        with pytest.warns(UserWarning, match="without specifying any render mode"):
            assert env.render() is None
    finally:
        env.close()


def test_render_mode_checked_at_construction(server):
    with pytest.raises(ValueError, match="'ansi' is not offered by CartPole-v1"):
        RemoteEnv("CartPole-v1", url=server.url, render_mode="ansi")


def test_metadata_is_the_environments(server):
    env = remote(server, "Acrobot-v1")
    try:
        assert env.metadata["render_fps"] == in_process("Acrobot-v1").metadata["render_fps"] == 15
    finally:
        env.close()


def test_rgb_array_list_and_human_go_through_gymnasiums_wrappers(server):
    env = remote(server, "CartPole-v1", render_mode="rgb_array_list")
    try:
        env.reset(seed=0)
        env.step(0)
        frames = env.render()
        assert len(frames) == 2 and frames[0].shape == (400, 600, 3)
    finally:
        env.close()


def test_live_view_url_is_the_files_ports_page(server):
    env = RemoteEnv("CartPole-v1", url=server.url, files_url=server.files_url)
    try:
        assert env.live_view_url == f"{server.files_url}/render.html?instance_id={env.instance_id}"
        assert env.dashboard_url == f"{server.files_url}/"
        for url in (env.live_view_url, env.dashboard_url):
            page = requests.get(url, timeout=10)
            assert page.status_code == 200 and "html" in page.headers["Content-Type"]
    finally:
        env.close()
    # Without files_url, the port the server's /healthz reports (this server's is not 8000).
    default = RemoteEnv("CartPole-v1", url=server.url)
    try:
        assert not server.files_url.endswith(":8000")
        assert default.live_view_url == f"{server.files_url}/render.html?instance_id={default.instance_id}"
    finally:
        default.close()


def test_close_forgets_the_instance_and_twice_is_fine(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    instance_id = env.instance_id
    assert instance_id in requests.get(server.url + "/v1/envs/", timeout=5).json()["all_envs"]
    env.close()
    env.close()
    assert instance_id not in requests.get(server.url + "/v1/envs/", timeout=5).json()["all_envs"]
    with pytest.raises(gym.error.ClosedEnvironmentError):
        env.reset()


def test_registered_ids():
    for env_id in gym_server_client.REGISTERED_IDS:
        spec = gym.spec(f"gym_server/{env_id}")
        assert spec.max_episode_steps is None
        assert spec.kwargs == {"env_id": env_id}
    assert gym.spec("gym_server/CartPole-v1").reward_threshold == gym.spec("CartPole-v1").reward_threshold


@pytest.mark.parametrize("transport", ["http", "websocket"])
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_box_actions_past_the_bounds_step_as_in_gymnasium(server, env_id, transport):
    """Exploration noise past the bounds (and now and then far past them): the server steps
    it, and the environment clips it as Gymnasium's does; the episodes are Gymnasium's."""
    env = RemoteEnv(env_id, url=server.url, transport=transport)
    reference = in_process(env_id)
    wide = gym.spaces.Box(low=3 * env.action_space.low, high=3 * env.action_space.high, dtype=np.float32)
    try:
        outside = 0
        for seed in (0, 7, 123):
            wide.seed(seed)
            obs, _ = env.reset(seed=seed)
            assert_same_value(obs, reference.reset(seed=seed)[0])
            for t in range(60):
                action = wide.sample() if t % 13 != 4 else np.full((1,), 1e6 if t % 2 else -1e6, dtype=np.float32)
                outside += not env.action_space.contains(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                expected = reference.step(action)
                here = f"{env_id} {transport} seed {seed} step {t} action {action!r}"
                assert_same_value(obs, expected[0], here)
                assert reward == expected[1], here
                assert (terminated, truncated) == (bool(expected[2]), bool(expected[3])), here
                if terminated or truncated:
                    break
        assert outside > 20
    finally:
        env.close()
