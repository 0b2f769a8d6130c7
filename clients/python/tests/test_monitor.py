"""start_monitor / close_monitor: old gym's monitor files appear under the server's monitor dir."""

from __future__ import annotations

import json

import pytest
import requests

import gym_server_client as gsc
from gym_server_client import RemoteEnv, RemoteVectorEnv


def play(env: RemoteEnv, episodes: int, seed: int) -> tuple[list[int], list[float]]:
    lengths, returns = [], []
    env.action_space.seed(seed)
    for episode in range(episodes):
        env.reset(seed=seed if episode == 0 else None)
        length, total, done = 0, 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            length, total, done = length + 1, total + reward, terminated or truncated
        lengths.append(length)
        returns.append(total)
    return lengths, returns


def test_monitor_writes_statistics_manifest_and_videos(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    try:
        place = env.start_monitor()
        assert place["directory"] == f"{env.instance_id}/simulation"
        assert place["url"] == f"{server.files_url}/{env.instance_id}/simulation/"
        lengths, returns = play(env, 3, seed=11)
        env.close_monitor()
        directory = server.monitor_dir / env.instance_id / "simulation"
        manifests = list(directory.glob("openaigym.manifest.*.manifest.json"))
        assert len(manifests) == 1
        manifest = json.loads(manifests[0].read_text())
        assert manifest["env_info"]["env_id"] == "CartPole-v1"
        stats = json.loads((directory / manifest["stats"]).read_text())
        assert stats["episode_lengths"] == lengths
        assert stats["episode_rewards"] == returns
        # Old gym's schedule films episodes 0 and 1 (then 8, 27, ...).
        videos = sorted(directory.glob("openaigym.video.*.mp4"))
        assert [v.name[-9:] for v in videos] == ["00000.mp4", "00001.mp4"]
        for video in videos:
            data = video.read_bytes()
            assert len(data) > 1000 and data[4:8] == b"ftyp"
            assert video.with_suffix(".meta.json").exists()
        assert [list(pair) for pair in manifest["videos"]] == [[v.name, v.with_suffix(".meta.json").name] for v in videos]
        # The files port serves them where start_monitor said.
        listing = requests.get(place["url"], timeout=10)
        assert listing.status_code == 200 and all(v.name in listing.text for v in videos)
        video = requests.get(place["url"] + videos[0].name, timeout=10)
        assert video.headers["Content-Type"] == "video/mp4" and video.content == videos[0].read_bytes()
    finally:
        env.close()


def test_directory_resume_force_and_no_video(server):
    directory = "runs/client-test"
    first = RemoteEnv("FrozenLake-v1", url=server.url)
    try:
        first.start_monitor(directory=directory, force=True, video_callable=False)
        lengths, _ = play(first, 2, seed=1)
        first.close_monitor()
        # Without force or resume, a directory that holds monitor files is refused (old gym's advice).
        with pytest.raises(gsc.ServerError, match="force=True"):
            first.start_monitor(directory=directory)
        # force deletes files, so the server wants the directory named.
        with pytest.raises(gsc.ServerError, match="'directory' was not provided"):
            first.start_monitor(force=True)
        first.start_monitor(directory=directory, resume=True, video_callable=3)
        more, _ = play(first, 1, seed=2)
        first.close_monitor()
    finally:
        first.close()
    root = server.monitor_dir / directory
    stats = [json.loads(p.read_text()) for p in root.glob("openaigym.episode_batch.*.stats.json")]
    assert sorted(sum((s["episode_lengths"] for s in stats), [])) == sorted(lengths + more)
    # video_callable=False filmed nothing; 3 films episode 0 of the resumed run.
    assert len(list(root.glob("openaigym.video.*.mp4"))) == 1


def test_reset_in_the_middle_of_a_monitored_episode_is_refused(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    try:
        env.start_monitor(video_callable=False)
        env.reset(seed=0)
        env.step(0)
        with pytest.raises(gsc.ServerError, match="not done"):
            env.reset()
    finally:
        env.close()


def test_a_vector_env_records_every_sub_episode(server):
    envs = RemoteVectorEnv("CartPole-v1", 3, url=server.url, files_url=server.files_url, kwargs={"max_episode_steps": 15})
    try:
        place = envs.start_monitor(video_callable=False)
        assert envs.live_view_url == f"{server.files_url}/render.html?instance_id={envs.instance_id}"
        envs.reset(seed=0)
        envs.action_space.seed(0)
        ended = []
        for _ in range(50):
            _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
            ended += [i for i in range(3) if terminated[i] or truncated[i]]
        envs.close_monitor()
    finally:
        envs.close()
    directory = server.monitor_dir / place["directory"]
    stats = [json.loads(p.read_text()) for p in directory.glob("openaigym.episode_batch.*.stats.json")]
    assert len(stats) == 1 and len(stats[0]["episode_lengths"]) == len(ended) >= 6
    assert all(1 <= length <= 15 for length in stats[0]["episode_lengths"])
