"""Gymnasium-native trainers (CleanRL style) on a vector instance.

``gymnasium.make_vec("gym_server/<id>", num_envs=N, url=...)`` (one server instance, the ids'
vector entry point) under Gymnasium's vector wrappers as CleanRL stacks them
(RecordEpisodeStatistics, ClipAction, NormalizeObservation, NormalizeReward, ClipReward,
TransformObservation) equals ``gymnasium.make_vec(<id>, num_envs=N, vectorization_mode="sync")``
under the same wrappers, step for step with seeded actions: observations, rewards, flags and
infos, RecordEpisodeStatistics' episodes (return and length; its wall time aside) and queues.
No Stable-Baselines3 needed: this runs in the client's own venv.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import vector as vw

import gym_server_client  # noqa: F401  (registers gym_server/<id>)
from gym_server_client import RemoteVectorEnv

from conftest import assert_same_value


def cartpole_stack(envs):
    envs = vw.RecordEpisodeStatistics(envs)
    envs = vw.NormalizeObservation(envs)
    envs = vw.NormalizeReward(envs, gamma=0.99)
    return vw.ClipReward(envs, min_reward=-5.0, max_reward=5.0)


def pendulum_stack(envs):
    """CleanRL's ppo_continuous_action.py wrappers."""
    envs = vw.RecordEpisodeStatistics(envs)
    envs = vw.ClipAction(envs)
    envs = vw.NormalizeObservation(envs)
    envs = vw.TransformObservation(envs, lambda obs: np.clip(obs, -10, 10))
    envs = vw.NormalizeReward(envs, gamma=0.99)
    return vw.TransformReward(envs, lambda reward: np.clip(reward, -10, 10))


CASES = [
    pytest.param("CartPole-v1", cartpole_stack, 300, {}, id="CartPole-RecordEpisodeStatistics-NormalizeObservation-NormalizeReward-ClipReward"),
    pytest.param("Pendulum-v1", pendulum_stack, 420, {}, id="Pendulum-CleanRL-continuous-stack"),
    pytest.param("CartPole-v1", vw.RecordEpisodeStatistics, 200, {"autoreset_mode": "same_step"}, id="CartPole-same-step"),
]


def strip_time(info: dict) -> dict:
    """The info without RecordEpisodeStatistics' wall times."""
    info = dict(info)
    if "episode" in info:
        info["episode"] = {k: v for k, v in info["episode"].items() if k != "t"}
    return info


def episode_statistics(envs) -> vw.RecordEpisodeStatistics:
    while not isinstance(envs, vw.RecordEpisodeStatistics):
        envs = envs.env
    return envs


@pytest.mark.parametrize("env_id, stack, steps, options", CASES)
def test_make_vec_under_vector_wrappers_equals_sync(server, env_id, stack, steps, options):
    ours = stack(gym.make_vec(f"gym_server/{env_id}", num_envs=4, url=server.url, **options))
    mode = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP} if options else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = stack(gym.make_vec(env_id, num_envs=4, vectorization_mode="sync", vector_kwargs=mode))
    try:
        assert isinstance(ours.unwrapped, RemoteVectorEnv)
        assert ours.observation_space == theirs.observation_space
        assert ours.action_space == theirs.action_space
        got, expected = ours.reset(seed=3), theirs.reset(seed=3)
        assert_same_value(got, expected, "reset")
        rng = np.random.default_rng(5)
        episodes = 0
        for t in range(steps):
            if env_id == "Pendulum-v1":
                actions = rng.normal(0.0, 2.0, size=(4, 1)).astype(np.float32)  # ClipAction's work
            else:
                actions = rng.integers(0, 2, size=4)
            obs, rewards, terminations, truncations, info = ours.step(actions)
            ref_obs, ref_rewards, ref_terminations, ref_truncations, ref_info = theirs.step(actions)
            where = f"{env_id} step {t}"
            assert_same_value(obs, ref_obs, f"{where} obs")
            assert_same_value(rewards, ref_rewards, f"{where} rewards")
            assert_same_value(terminations, ref_terminations, f"{where} terminations")
            assert_same_value(truncations, ref_truncations, f"{where} truncations")
            assert_same_value(strip_time(info), strip_time(ref_info), f"{where} info")
            episodes += int((terminations | truncations).sum())
        assert episodes >= 4
        statistics, ref_statistics = episode_statistics(ours), episode_statistics(theirs)
        assert list(statistics.return_queue) == list(ref_statistics.return_queue)
        assert list(statistics.length_queue) == list(ref_statistics.length_queue)
        assert statistics.episode_count == ref_statistics.episode_count == episodes
    finally:
        ours.close()
        theirs.close()
