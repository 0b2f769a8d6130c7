"""Bridged environments end to end: the release binary started with ``--python`` (and
``--python-import gym_server_test_envs``) serves LunarLander-v3 and a user's own registered
environment to every kind of client: RemoteEnv over REST and over the WebSocket, openai's
gym_http_client request by request, Gymie's protocol as a browser sends it; with frames, a monitor
video and the live view's event stream; and a worker killed mid-episode fails only its instance.

The bridge's Python is GYM_TEST_BRIDGE_PYTHON (gymnasium, box2d, pygame: `make test-client` gives it
.venv/bridge); without it these tests are skipped, visibly. The reference episodes come from
in-process Gymnasium in that Python (bridge/tests/reference_episode.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from websockets.sync.client import connect

import gym_server_client
from conftest import _serve

PYTHON_VARIABLE = "GYM_TEST_BRIDGE_PYTHON"
REPOSITORY = Path(__file__).resolve().parents[3]
TEST_ENVS = REPOSITORY / "bridge" / "tests"


@pytest.fixture(scope="module")
def bridged(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module):
    python = os.environ.get(PYTHON_VARIABLE)
    if not python:
        pytest.skip(f"{PYTHON_VARIABLE} is not set: set it to a Python with gymnasium, box2d and pygame")
    # The worker imports gym_server_test_envs from bridge/tests (the server passes its environment on).
    monkeypatch_module.setenv("PYTHONPATH", str(TEST_ENVS))
    yield from _serve(tmp_path_factory, "gym-server-bridge",
                      ["--python", python, "--python-import", "gym_server_test_envs", "--worker-timeout", "20"])


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def reference(env_id: str, seed: int, actions: list) -> dict:
    """In-process Gymnasium's episode, in the server's Python."""
    request = {"env_id": env_id, "seed": seed, "actions": actions, "imports": ["gym_server_test_envs"]}
    done = subprocess.run([os.environ[PYTHON_VARIABLE], str(TEST_ENVS / "reference_episode.py"), json.dumps(request)],
                          capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(TEST_ENVS)))
    return json.loads(done.stdout)


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


EPISODES = {
    "LunarLander-v3": (3, [int(a) for a in np.random.default_rng(11).integers(0, 4, 90)]),
    "GymServerTest/DictBox-v0": (1, np.random.default_rng(5).uniform(-1, 1, (30, 2)).round(6).tolist()),
}


def test_registry_lists_bridged_ids(bridged):
    envs = requests.get(bridged.url + "/v1/registry", timeout=10).json()["envs"]
    backends = {e["id"]: e["backend"] for e in envs}
    assert backends["CartPole-v1"] == "native"
    assert backends["LunarLander-v3"] == "bridged"
    assert backends["GymServerTest/DictBox-v0"] == "bridged"


@pytest.mark.parametrize("transport", ["http", "websocket"])
@pytest.mark.parametrize("env_id", list(EPISODES))
def test_remote_env_same_episode_as_in_process(bridged, env_id, transport):
    seed, actions = EPISODES[env_id]
    expected = reference(env_id, seed, actions)
    env = gym_server_client.RemoteEnv(env_id, url=bridged.url, transport=transport)
    try:
        if env_id == "GymServerTest/DictBox-v0":
            assert list(env.observation_space.spaces) == ["mode", "position"]
            assert env.action_space.shape == (2,) and env.action_space.dtype == np.float32
        else:
            assert env.observation_space.shape == (8,) and env.action_space.n == 4
        observation, info = env.reset(seed=seed)
        assert plain(observation) == expected["reset"]["observation"]
        assert env.observation_space.contains(observation)
        for index, step in enumerate(expected["steps"]):
            action = np.asarray(actions[index], dtype=np.float32) if isinstance(actions[index], list) else actions[index]
            observation, reward, terminated, truncated, info = env.step(action)
            where = f"{env_id} over {transport}, step {index}"
            assert plain(observation) == step["observation"], where
            assert reward == step["reward"], where
            assert (terminated, truncated) == (step["terminated"], step["truncated"]), where
        assert len(expected["steps"]) > 5
    finally:
        env.close()


def test_openai_client_requests_with_a_monitor_video(bridged):
    """gym_http_client's requests, as it sends them: create, spaces, monitor, reset, step, render."""
    url = bridged.url
    post = lambda path, body=None: requests.post(url + path, json=body, timeout=30)  # noqa: E731
    instance = post("/v1/envs/", {"env_id": "LunarLander-v3"}).json()["instance_id"]
    assert requests.get(f"{url}/v1/envs/{instance}/action_space/", timeout=10).json()["info"] == {"name": "Discrete", "n": 4}
    space = requests.get(f"{url}/v1/envs/{instance}/observation_space/", timeout=10).json()["info"]
    assert space["name"] == "Box" and space["shape"] == [8]
    assert post(f"/v1/envs/{instance}/monitor/start/", {"directory": "/tmp/lunar-agent", "force": True,
                                                       "resume": False, "video_callable": True}).status_code in (200, 204)
    post(f"/v1/envs/{instance}/reset/", {})
    steps = 0
    done = False
    while not done and steps < 400:
        answer = post(f"/v1/envs/{instance}/step/", {"action": steps % 4, "render": steps == 0})
        assert answer.status_code == 200, answer.text
        done = answer.json()["done"]
        steps += 1
    assert done
    frame = requests.get(f"{url}/v1/envs/{instance}/render/", timeout=10)
    assert frame.status_code == 200 and frame.content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(frame.content[16:20], "big"), int.from_bytes(frame.content[20:24], "big")
    assert (width, height) == (600, 400)
    assert post(f"/v1/envs/{instance}/monitor/close/").status_code in (200, 204)
    directory = bridged.monitor_dir / "tmp" / "lunar-agent"
    stats = [json.loads(p.read_text()) for p in directory.glob("*.stats.json")]
    assert stats and stats[0]["episode_lengths"] == [steps]
    videos = list(directory.glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000
    # The video is served on the files port like a native one.
    served = requests.get(f"{bridged.files_url}/tmp/lunar-agent/{videos[0].name}", timeout=10)
    assert served.status_code == 200 and served.content == videos[0].read_bytes()
    assert post(f"/v1/envs/{instance}/close/").status_code == 200


def test_gymie_protocol_and_the_live_view(bridged):
    """Gymie's messages on /gym for the user's own environment; the live view streams its frames."""
    ws_url = bridged.url.replace("http://", "ws://") + "/gym"
    with connect(ws_url, open_timeout=10) as socket:
        def call(method, **params):
            socket.send(json.dumps({"method": method, "params": params}))
            return socket.recv(timeout=30)
        instance = call("make", env_id="GymServerTest/DictBox-v0", seed=4)
        assert len(instance) == 32
        space = json.loads(call("observation_space", instance_id=instance))
        assert space["name"] == "Dict" and set(space["spaces"]) == {"mode", "position"}
        observation = json.loads(call("reset", instance_id=instance))
        assert set(observation) == {"mode", "position"}
        # The live view's event stream gets this instance's frames as it is stepped.
        with requests.get(f"{bridged.files_url}/_live/events", params={"instance_id": instance},
                          stream=True, timeout=30) as stream:
            assert stream.status_code == 200
            for i in range(3):
                answer = json.loads(call("step", instance_id=instance, action=[0.1 * i, -0.1]))
                assert len(answer) == 4 and set(answer[0]) == {"mode", "position"}
            lines = stream.iter_lines()
            frame_events = 0
            deadline = time.monotonic() + 20
            while frame_events == 0 and time.monotonic() < deadline:
                line = next(lines)
                if line.startswith(b"event: frame") or line.startswith(b"data:") and b"frame" in line:
                    frame_events += 1
            assert frame_events > 0
        frame = requests.get(f"{bridged.url}/v1/envs/{instance}/render/", timeout=10)
        assert frame.status_code == 200 and frame.content[:4] == b"\x89PNG"
        assert call("close", instance_id=instance) == "true"


def worker_pids(server_pid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == server_pid and fields[0] != "Z" and b"gym-server's Python worker" in cmdline:
            pids.append(int(entry))
    return pids


def test_a_killed_worker_fails_only_its_instance(bridged):
    url = bridged.url
    before = set(worker_pids(bridged.process.pid))
    victim = requests.post(url + "/v1/envs/", json={"env_id": "LunarLander-v3"}, timeout=30).json()["instance_id"]
    other = requests.post(url + "/v1/envs/", json={"env_id": "GymServerTest/DictBox-v0"}, timeout=30).json()["instance_id"]
    for instance in (victim, other):
        assert requests.post(f"{url}/v1/envs/{instance}/reset/", json={"seed": 1}, timeout=30).status_code == 200
    workers = set(worker_pids(bridged.process.pid)) - before
    assert len(workers) == 2
    # Which worker serves which instance is not known from outside: kill one, and exactly one
    # instance must fail.
    pid = min(workers)
    os.kill(pid, signal.SIGKILL)
    answers = {i: requests.post(f"{url}/v1/envs/{i}/step/", json={"action": 0 if i == victim else [0.0, 0.0]}, timeout=30)
               for i in (victim, other)}
    failed = [i for i, a in answers.items() if a.status_code == 503]
    assert len(failed) == 1, {i: (a.status_code, a.text) for i, a in answers.items()}
    assert "worker" in answers[failed[0]].json()["message"].lower()
    survivor = other if failed[0] == victim else victim
    assert answers[survivor].status_code == 200
    # A reset starts a new worker; the server and every other instance went on.
    assert requests.post(f"{url}/v1/envs/{failed[0]}/reset/", json={"seed": 2}, timeout=30).status_code == 200
    action = 1 if failed[0] == victim else [0.5, 0.5]
    assert requests.post(f"{url}/v1/envs/{failed[0]}/step/", json={"action": action}, timeout=30).status_code == 200
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
    for instance in (victim, other):
        assert requests.post(f"{url}/v1/envs/{instance}/close/", timeout=30).status_code == 200
    deadline = time.monotonic() + 10
    while set(worker_pids(bridged.process.pid)) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(worker_pids(bridged.process.pid)) - before, "the workers ended with their instances"
