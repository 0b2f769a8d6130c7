"""gym_server_client.sb3 against Stable-Baselines3's own make_vec_env, in process.

Step for step (CartPole-v1, Pendulum-v1, FrozenLake-v1, Taxi-v4; 4 environments, seed 0, 600
steps of seeded actions, across episode ends and the 200-step time limits of Pendulum and Taxi): observations, rewards,
dones, every info (``terminal_observation``, ``TimeLimit.truncated``, Monitor's ``episode``
return and length), reset infos, a reseeded reset midway; seeding, the VecEnv methods, rendering
and Monitor's files. Then training, both ways with the same seed: PPO and A2C on CartPole-v1 and
Pendulum-v1, DQN on FrozenLake-v1, their episode returns and final policy weights compared
exactly.

Needs stable_baselines3 (and torch): scripts/setup/make-sb3-venv.sh makes a venv that has them.
Without them the whole file is skipped, visibly.
"""

from __future__ import annotations

import csv
import warnings

import gymnasium as gym
import numpy as np
import pytest

sb3 = pytest.importorskip(
    "stable_baselines3",
    reason="stable_baselines3 is not installed: scripts/setup/make-sb3-venv.sh makes a venv with it (and CPU torch)",
)
torch = pytest.importorskip("torch", reason="torch is not installed (stable_baselines3 needs it)")

from stable_baselines3 import A2C, DQN, PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from gym_server_client.sb3 import GymServerVecEnv, make_vec_env  # noqa: E402

from conftest import assert_same_value  # noqa: E402

STEPS = 600
SB3_KEYS = ("episode", "TimeLimit.truncated", "terminal_observation")


def both(server, env_id: str, n_envs: int = 4, seed: int | None = 0, **kwargs):
    """(through gym-server, SB3's make_vec_env in process)."""
    ours = make_vec_env(env_id, n_envs=n_envs, seed=seed, url=server.url, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sb3_make_vec_env(env_id, n_envs=n_envs, seed=seed, **kwargs)
    return ours, theirs


def seeded_actions(env_id: str, n_envs: int, steps: int, seed: int = 7) -> list[np.ndarray]:
    """What a policy sends: int64 arrays for Discrete, float32 (n, 1) for Pendulum (some past
    the bounds, which the environment clips)."""
    rng = np.random.default_rng(seed)
    if env_id == "Pendulum-v1":
        return [rng.uniform(-2.5, 2.5, size=(n_envs, 1)).astype(np.float32) for _ in range(steps)]
    n = {"CartPole-v1": 2, "FrozenLake-v1": 4, "Taxi-v4": 6}[env_id]
    return [rng.integers(0, n, size=n_envs) for _ in range(steps)]


def assert_same_step(ours, theirs, where: str) -> None:
    """One VecEnv step's (obs, rewards, dones, infos) equal: arrays bit for bit with their dtype,
    every info key, terminal observations of the same type, Monitor's episode but its wall time."""
    (obs, rewards, dones, infos), (ref_obs, ref_rewards, ref_dones, ref_infos) = ours, theirs
    for name, a, b in (("obs", obs, ref_obs), ("rewards", rewards, ref_rewards), ("dones", dones, ref_dones)):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype, f"{where} {name}: {a!r} vs {b!r}"
        assert_same_value(a, b, f"{where} {name}")
    assert isinstance(infos, list) and len(infos) == len(ref_infos)
    for i, (info, ref_info) in enumerate(zip(infos, ref_infos)):
        at = f"{where} infos[{i}]"
        # The environment's own keys first (in the order the server writes them: sorted), then
        # what Monitor and DummyVecEnv add, in their order.
        own, ref_own = [k for k in info if k not in SB3_KEYS], [k for k in ref_info if k not in SB3_KEYS]
        assert sorted(own) == sorted(ref_own) and list(info)[: len(own)] == own, f"{at}: keys {list(info)} != {list(ref_info)}"
        assert list(info)[len(own):] == [k for k in ref_info if k in SB3_KEYS], f"{at}: keys {list(info)} != {list(ref_info)}"
        for key, expected in ref_info.items():
            got = info[key]
            if key == "episode":
                assert list(got) == ["r", "l", "t"] and (got["r"], got["l"]) == (expected["r"], expected["l"]), f"{at}: {got} != {expected}"
                assert type(got["r"]) is type(expected["r"]) and type(got["l"]) is type(expected["l"])
            elif key == "terminal_observation":
                assert type(got) is type(expected), f"{at} terminal_observation: {got!r} vs {expected!r}"
                assert_same_value(got, expected, f"{at} terminal_observation")
            elif key == "prob" and type(got) is not type(expected) and any(ref_dones[:i]):
                # Gymnasium's vector info gives a key's column the type of the first
                # sub-environment that has it: here an ended one's reset info (prob 1, an int),
                # so this sub-environment's step probability comes out truncated, as it does in
                # Gymnasium's own same-step vector info. The only loss; documented in sb3.py.
                assert type(got) is int and type(expected) is float and got == int(expected), f"{at}: {got!r} vs {expected!r}"
            elif isinstance(expected, np.ndarray):  # Taxi's action_mask
                assert isinstance(got, np.ndarray)
                assert_same_value(got, expected, f"{at} {key}")
            else:
                assert type(got) is type(expected) and got == expected, f"{at} {key}: {got!r} vs {expected!r}"


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1", "Taxi-v4"])
def test_make_vec_env_steps_as_sb3s(server, env_id):
    ours, theirs = both(server, env_id)
    try:
        assert isinstance(ours, GymServerVecEnv) and isinstance(theirs, DummyVecEnv)
        assert ours.observation_space == theirs.observation_space
        assert ours.action_space == theirs.action_space
        assert ours.num_envs == theirs.num_envs == 4
        assert ours.render_mode == theirs.render_mode == "rgb_array"
        # make_vec_env seeded each action space with seed + rank; the VecEnv's is env 0's.
        assert ours.action_space is ours.envs[0].action_space
        for a, b in zip(ours.get_attr("action_space"), theirs.get_attr("action_space")):
            assert_same_value(np.array([a.sample() for _ in range(5)]), np.array([b.sample() for _ in range(5)]))

        assert_same_value(ours.reset(), theirs.reset(), "reset")
        assert_same_value(ours.reset_infos, theirs.reset_infos, "reset_infos")
        ended = truncated = 0
        for t, actions in enumerate(seeded_actions(env_id, 4, STEPS)):
            if t == STEPS // 2:
                # Seeds apply at the next reset, then are forgotten; per-env options likewise.
                assert ours.seed(123) == theirs.seed(123) == [123, 124, 125, 126]
                assert_same_value(ours.reset(), theirs.reset(), f"reseeded reset at {t}")
                assert_same_value(ours.reset_infos, theirs.reset_infos, f"reset_infos at {t}")
            if t % 2:
                got = ours.step(actions)
                expected = theirs.step(actions)
            else:
                ours.step_async(actions)
                theirs.step_async(actions)
                got, expected = ours.step_wait(), theirs.step_wait()
            assert_same_step(got, expected, f"{env_id} step {t}")
            ended += int(got[2].sum())
            truncated += sum(info["TimeLimit.truncated"] for info in got[3])
            assert_same_value(ours.reset_infos, theirs.reset_infos, f"step {t} reset_infos")
        assert ended >= 4, "the run should cross episode ends"
        if env_id in ("Pendulum-v1", "Taxi-v4"):
            assert truncated >= 4  # their 200-step limit
        assert ours.env_method("get_episode_rewards") == theirs.env_method("get_episode_rewards")
        assert ours.env_method("get_episode_lengths") == theirs.env_method("get_episode_lengths")
        assert ours.env_method("get_total_steps") == theirs.env_method("get_total_steps") == [STEPS] * 4
    finally:
        ours.close()
        theirs.close()


def test_seed_none_draws_the_seeds_from_numpys_global_generator(server):
    np.random.seed(11)
    ours = make_vec_env("CartPole-v1", n_envs=3, url=server.url)
    np.random.seed(11)
    theirs = sb3_make_vec_env("CartPole-v1", n_envs=3)
    try:
        assert_same_value(ours.reset(), theirs.reset())
        assert ours.seed(None) != ours.seed(None)  # drawn again each time, as SB3 does
    finally:
        ours.close()
        theirs.close()


def test_vec_env_methods_reach_the_stand_ins(server):
    ours, theirs = both(server, "FrozenLake-v1", n_envs=3, env_kwargs={"is_slippery": False})
    try:
        ours.reset()
        theirs.reset()
        for name in ("render_mode", "observation_space", "action_space"):
            assert ours.get_attr(name) == theirs.get_attr(name)
        assert ours.get_attr("metadata")[0]["render_fps"] == theirs.get_attr("metadata")[0]["render_fps"] == 4
        assert ours.get_attr("spec", indices=[1])[0].id == "FrozenLake-v1"
        for wrapper in (Monitor, gym.wrappers.TimeLimit, gym.wrappers.OrderEnforcing, gym.Wrapper, gym.wrappers.RecordVideo):
            assert ours.env_is_wrapped(wrapper) == theirs.env_is_wrapped(wrapper), wrapper
        assert ours.has_attr("episode_returns") and not ours.has_attr("desc")
        ours.set_attr("custom", 5, indices=1)
        theirs.set_attr("custom", 5, indices=1)
        assert ours.get_attr("custom", indices=[1]) == theirs.get_attr("custom", indices=[1]) == [5]
        with pytest.raises(AttributeError, match="lives in the gym-server"):
            ours.env_method("step", 0)
        for actions in ([2, 2, 1], [1, 1, 1], [2, 1, 2]):
            assert_same_step(ours.step(np.array(actions)), theirs.step(np.array(actions)), f"{actions}")
        assert ours.env_method("get_episode_lengths", indices=0) == theirs.env_method("get_episode_lengths", indices=0)
        with pytest.raises(RuntimeError, match="needs reset"):
            fresh = make_vec_env("CartPole-v1", n_envs=2, url=server.url)
            try:
                fresh.step(np.array([0, 1]))
            finally:
                fresh.close()
    finally:
        ours.close()
        theirs.close()


def test_set_options_apply_at_the_next_reset(server):
    ours, theirs = both(server, "CartPole-v1", n_envs=3, seed=4)
    try:
        for options in ({"low": -0.01, "high": 0.01}, [{"low": -0.2, "high": 0.2}, {}, {"low": 0.0, "high": 0.1}]):
            ours.set_options(options)
            theirs.set_options(options)
            assert_same_value(ours.reset(), theirs.reset(), f"options {options}")
            assert_same_step(ours.step(np.array([0, 1, 0])), theirs.step(np.array([0, 1, 0])), f"after {options}")
    finally:
        ours.close()
        theirs.close()


def test_render_cuts_the_servers_mosaic_into_sb3s_tiles(server):
    ours, theirs = both(server, "CartPole-v1", n_envs=3, seed=2)
    try:
        ours.reset()
        theirs.reset()
        images, expected = ours.get_images(), theirs.get_images()
        assert len(images) == 3
        for image, reference in zip(images, expected):
            assert image.dtype == np.uint8 and image.shape == reference.shape == (400, 600, 3)
            assert np.abs(image.astype(np.int16) - reference.astype(np.int16)).mean() < 2
        frame, reference = ours.render(), theirs.render()
        assert frame.shape == reference.shape == (800, 1200, 3)  # SB3's 2 x 2 tiling
        assert np.abs(frame.astype(np.int16) - reference.astype(np.int16)).mean() < 2
        assert ours.env_method("render", indices=2)[0].shape == (400, 600, 3)
    finally:
        ours.close()
        theirs.close()
    blind = make_vec_env("CartPole-v1", n_envs=2, url=server.url, env_kwargs={"render_mode": None})
    try:
        assert blind.render_mode is None
        with pytest.warns(UserWarning, match="no `render_mode`"):
            assert blind.render() is None
    finally:
        blind.close()
    with pytest.raises(ValueError, match="live view"):
        make_vec_env("CartPole-v1", n_envs=2, url=server.url, env_kwargs={"render_mode": "human"})


def test_monitor_files_are_sb3s(server, tmp_path):
    ours, theirs = (
        make_vec_env("CartPole-v1", n_envs=2, seed=3, url=server.url, monitor_dir=str(tmp_path / "ours"), start_index=5),
        sb3_make_vec_env("CartPole-v1", n_envs=2, seed=3, monitor_dir=str(tmp_path / "theirs"), start_index=5),
    )
    try:
        ours.reset()
        theirs.reset()
        for actions in seeded_actions("CartPole-v1", 2, 150):
            assert_same_step(ours.step(actions), theirs.step(actions), "monitored")
    finally:
        ours.close()
        theirs.close()
    for rank in (5, 6):
        rows = []
        for side in ("ours", "theirs"):
            lines = (tmp_path / side / f"{rank}.monitor.csv").read_text().splitlines()
            assert lines[0].startswith("#{\"t_start\": ") and '"env_id": "CartPole-v1"' in lines[0]
            rows.append([(row["r"], row["l"]) for row in csv.DictReader(lines[1:])])
        assert rows[0] == rows[1] and len(rows[0]) >= 3


def test_wrapper_class_falls_back_to_one_instance_per_environment(server):
    ours, theirs = both(server, "CartPole-v1", n_envs=2, seed=1, wrapper_class=gym.wrappers.ClipReward,
                        wrapper_kwargs={"min_reward": 0.0, "max_reward": 0.5})
    try:
        assert isinstance(ours, DummyVecEnv)
        assert ours.envs[0].unwrapped.env_id == "CartPole-v1"  # a RemoteEnv
        assert_same_value(ours.reset(), theirs.reset())
        for t, actions in enumerate(seeded_actions("CartPole-v1", 2, 60)):
            assert_same_step(ours.step(actions), theirs.step(actions), f"wrapped step {t}")
    finally:
        ours.close()
        theirs.close()


# ---- training ------------------------------------------------------------------------------------


def train(algorithm, env, total_timesteps: int, **kwargs):
    torch.set_num_threads(1)
    model = algorithm("MlpPolicy", env, seed=0, device="cpu", **kwargs)
    model.learn(total_timesteps)
    returns = [(episode["r"], episode["l"]) for episode in model.ep_info_buffer]
    weights = model.policy.state_dict()
    env.close()
    return returns, weights


TRAININGS = [
    pytest.param(PPO, "CartPole-v1", 4, 4096, {"n_steps": 64, "batch_size": 64}, id="PPO-CartPole"),
    pytest.param(A2C, "Pendulum-v1", 4, 2000, {}, id="A2C-Pendulum"),
    pytest.param(DQN, "FrozenLake-v1", 2, 3000, {"learning_starts": 100, "exploration_fraction": 0.5}, id="DQN-FrozenLake"),
]


@pytest.mark.parametrize("algorithm, env_id, n_envs, total_timesteps, kwargs", TRAININGS)
def test_training_is_the_same_as_in_process(server, algorithm, env_id, n_envs, total_timesteps, kwargs):
    ours, theirs = both(server, env_id, n_envs=n_envs)
    returns, weights = train(algorithm, ours, total_timesteps, **kwargs)
    ref_returns, ref_weights = train(algorithm, theirs, total_timesteps, **kwargs)
    assert len(ref_returns) >= 5
    assert returns == ref_returns
    assert list(weights) == list(ref_weights)
    for name, tensor in ref_weights.items():
        assert torch.equal(weights[name], tensor), f"{algorithm.__name__} {env_id}: parameter {name} differs"
