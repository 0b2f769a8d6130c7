#!/usr/bin/env python3
"""End-to-end tests of a gym-server binary, from Python, over real sockets.

Starts the server on free ports, then
  * drives it the way the openai/gym-http-api Python client does (JSON bodies, including the
    literal `null` body the client sends for reset and close), and checks the error answers;
  * replays flaviotruzzi's curl session (create/, reset, step, info, help);
  * compares whole episodes with Gymnasium 1.4.0 for every environment id, with fresh random
    seeds that no fixture has seen: the same observations, rewards, terminations and
    truncations at every step.

    python scripts/test/e2e_test.py --server .build/release/gym-server

Needs gymnasium==1.4.0, numpy and requests (scripts/setup/make-venv.sh installs them).
Prints one line per check and ends with 'N passed, N failed'.
"""

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile

import gymnasium as gym
import numpy as np
import requests

from e2e_support import Server, check, ffprobe, summary

class Client:
    """Speaks the API as gym_http_client.py does: a JSON body on every POST."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update({"Content-type": "application/json"})

    def post(self, route, data):
        return self.session.post(self.base + route, data=json.dumps(data))

    def get(self, route):
        return self.session.get(self.base + route)

    def ok(self, response, status=200):
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()


def expect_error(response, message=None, contains=(), status=400):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["message"] == body["error"], body
    if message is not None:
        assert body["message"] == message, body
    for fragment in contains:
        assert fragment in body["message"], (fragment, body)


@check("openai client: create, list, reset, step, spaces, sample, contains, close")
def openai_client_flow(server):
    c = Client(server.base)
    for env_id in ["CartPole-v0", "FrozenLake-v0"]:
        iid = c.ok(c.post("/v1/envs/", {"env_id": env_id}))["instance_id"]
        assert len(iid) == 8
        assert c.ok(c.get("/v1/envs/"))["all_envs"][iid] == env_id
        assert "observation" in c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
        info = c.ok(c.get(f"/v1/envs/{iid}/action_space/"))["info"]
        assert info["name"] == "Discrete"
        action = c.ok(c.get(f"/v1/envs/{iid}/action_space/sample"))["action"]
        assert 0 <= action < info["n"]
        assert c.ok(c.get(f"/v1/envs/{iid}/action_space/contains/{action}"))["member"] is True
        assert c.ok(c.get(f"/v1/envs/{iid}/action_space/contains/{info['n']}"))["member"] is False
        step = c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": action, "render": False}))
        assert set(step) >= {"observation", "reward", "done", "info"}, step
        obs_info = c.ok(c.get(f"/v1/envs/{iid}/observation_space/"))["info"]
        assert c.ok(c.post(f"/v1/envs/{iid}/observation_space/contains", {"name": obs_info["name"]}))["member"] is True
        c.ok(c.post(f"/v1/envs/{iid}/close/", None))
        assert iid not in c.ok(c.get("/v1/envs/"))["all_envs"]


@check("openai client: errors for a bad instance id, missing env_id, missing action, malformed id")
def openai_client_errors(server):
    c = Client(server.base)
    expect_error(c.post("/v1/envs/nope1234/reset/", None), "Instance_id nope1234 unknown")
    expect_error(c.post("/v1/envs/", {}), "A required request parameter 'env_id' was not provided")
    iid = c.ok(c.post("/v1/envs/", {"env_id": "CartPole-v0"}))["instance_id"]
    c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
    expect_error(c.post(f"/v1/envs/{iid}/step/", {"render": False}), "A required request parameter 'action' was not provided")
    expect_error(c.post("/v1/envs/", {"env_id": "bad string"}), "Attempted to look up malformed environment ID 'bad string'")
    expect_error(c.session.post(server.base + "/v1/envs/", data="not json"), contains=["Request is not a valid json"])
    expect_error(c.post(f"/v1/envs/{iid}/step/", {"action": 7}), contains=["7", "Discrete(2)"])


@check("flaviotruzzi's curl session: create/, reset (render: true), step, info, help")
def flaviotruzzi_session(server):
    c = Client(server.base)
    created = c.post("/v1/envs/create/", {"environment": "CartPole-v0"})
    iid = c.ok(created, 201)["instance_id"]
    reset = c.ok(c.post(f"/v1/envs/{iid}/reset/", {"render": True}))
    assert len(reset["observation"]) == 4
    assert reset["render"] == "successfully rendered: 0.png", reset
    step = c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": 1}))
    assert step["done"] is False and step["reward"] == 1.0 and step["info"] == {}
    step = c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": 1, "render": True}))
    assert step["render"] == "successfully rendered: 1.png", step
    for name in ["0.png", "1.png", "latest.png"]:
        png = requests.get(f"{server.files}/{iid}/rendered/{name}")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), (name, png.status_code)
        assert png.headers["Content-Type"].startswith("image/png"), png.headers
    assert requests.get(f"{server.files}/{iid}/rendered/latest.png").content == requests.get(f"{server.files}/{iid}/rendered/1.png").content
    info = c.ok(c.get(f"/v1/envs/{iid}/info"))
    assert info["action_space"] == "Discrete(2)"
    assert info["observation_space"]["shape"] == [4]
    assert len(info["observation_space"]["low"]) == 4
    routes = c.ok(c.get("/v1/help"))["v1"]
    for route in ["/v1/envs/create/", "/v1/envs/<instance_id>/reset/", "/v1/envs/<instance_id>/step/",
                  "/v1/envs/<instance_id>/info", "/v1/help"]:
        assert route in routes and routes[route]["doc"] and routes[route]["methods"], route


def as_float_list(x):
    return [float(v) for v in np.asarray(x).reshape(-1)]


def compare_rollout(server, env_id, kwargs, seed, steps, rng):
    c = Client(server.base)
    iid = c.ok(c.post("/v1/envs/", {"env_id": env_id, "kwargs": kwargs}))["instance_id"]
    env = gym.make(env_id if env_id not in ALIASES else ALIASES[env_id], **kwargs)
    env.action_space.seed(int(rng.integers(2**31)))
    ours = c.ok(c.post(f"/v1/envs/{iid}/reset/", {"seed": seed}))
    theirs, info = env.reset(seed=seed)
    assert as_float_list(ours["observation"]) == as_float_list(theirs), (ours, theirs)
    for t in range(steps):
        action = env.action_space.sample()
        sent = action.tolist() if isinstance(action, np.ndarray) else int(action)
        ours = c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": sent}))
        obs, reward, terminated, truncated, info = env.step(action)
        where = f"{env_id} seed {seed} step {t}"
        assert as_float_list(ours["observation"]) == as_float_list(obs), (where, ours["observation"], obs)
        assert ours["reward"] == float(reward), (where, ours["reward"], reward)
        assert ours["terminated"] == bool(terminated) and ours["truncated"] == bool(truncated), (where, ours)
        assert ours["done"] == bool(terminated or truncated)
        if terminated or truncated:
            ours = c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
            theirs, _ = env.reset()
            assert as_float_list(ours["observation"]) == as_float_list(theirs), (where, "reset")
    c.ok(c.post(f"/v1/envs/{iid}/close/", None))


ALIASES = {"FrozenLake-v0": "FrozenLake-v1", "FrozenLake8x8-v0": "FrozenLake8x8-v1", "Pendulum-v0": "Pendulum-v1",
           "Taxi-v3": "Taxi-v4", "CliffWalking-v0": "CliffWalking-v1", "Blackjack-v0": "Blackjack-v1"}

CONFORMANCE = [
    ("CartPole-v0", {}), ("CartPole-v1", {}), ("MountainCar-v0", {}), ("MountainCarContinuous-v0", {}),
    ("Pendulum-v1", {}), ("Acrobot-v1", {}), ("FrozenLake-v1", {}), ("FrozenLake8x8-v1", {}),
    ("FrozenLake-v1", {"is_slippery": False}), ("Taxi-v4", {}), ("Taxi-v4", {"is_rainy": True, "fickle_passenger": True}),
    ("CliffWalking-v1", {}), ("CliffWalking-v1", {"is_slippery": True}), ("Blackjack-v1", {}),
    ("Blackjack-v1", {"natural": True, "sab": False}), ("Pendulum-v1", {"g": 3.7}),
]


def conformance_checks():
    checks = []
    for env_id, kwargs in CONFORMANCE:
        def run(server, env_id=env_id, kwargs=kwargs):
            rng = np.random.default_rng()
            for _ in range(3):
                seed = int(rng.integers(2**62))
                compare_rollout(server, env_id, kwargs, seed, 300, rng)
        checks.append(check(f"same episodes as Gymnasium with unseen seeds: {env_id} {kwargs or ''}")(run))
    return checks


@check("monitor: episodes recorded, read back by old gym 0.21's load_results, videos are H.264 with length+1 frames")
def monitor_recording(server):
    c = Client(server.base)
    iid = c.ok(c.post("/v1/envs/", {"env_id": "CartPole-v1"}))["instance_id"]
    c.ok(c.post(f"/v1/envs/{iid}/monitor/start/", {"directory": "e2e-monitor", "force": True, "resume": False}))
    lengths, rewards = [], []
    c.ok(c.post(f"/v1/envs/{iid}/reset/", {"seed": 11}))
    length, total = 0, 0.0
    while len(lengths) < 3:
        step = c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": length % 2}))
        length += 1
        total += step["reward"]
        if step["done"]:
            lengths.append(length)
            rewards.append(total)
            length, total = 0, 0.0
            c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
    # an unfinished fourth episode is not an episode
    c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": 0}))
    c.ok(c.post(f"/v1/envs/{iid}/monitor/close/", None))
    directory = os.path.join(server.monitor_dir, "e2e-monitor")
    gym021 = os.environ.get("GYM021_PYTHON")
    assert gym021, "GYM021_PYTHON must point at a Python with gym==0.21.0 (make venv)"
    code = ("import json, sys; from gym.wrappers.monitor import load_results; r = load_results(sys.argv[1]); "
            "print(json.dumps({'lengths': [int(x) for x in r['episode_lengths']], 'rewards': [float(x) for x in r['episode_rewards']], "
            "'types': list(r['episode_types']), 'videos': len(r['videos'])}))")
    result = json.loads(subprocess.run([gym021, "-c", code, directory], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    assert result["lengths"] == lengths and result["rewards"] == rewards, (result, lengths, rewards)
    assert result["types"] == ["t"] * 3 and result["videos"] == 2, result
    videos = sorted(f for f in os.listdir(directory) if f.endswith(".mp4"))
    assert [v[-15:] for v in videos] == ["video000000.mp4", "video000001.mp4"], videos
    for episode, video in enumerate(videos):
        info = ffprobe(os.path.join(directory, video))
        assert info["codec_name"] == "h264" and info["pix_fmt"] == "yuv420p", info
        assert int(info["nb_read_frames"]) == lengths[episode] + 1, (info, lengths)
        served = requests.get(f"{server.files}/e2e-monitor/{video}", headers={"Range": "bytes=0-99"})
        assert served.status_code == 206 and len(served.content) == 100, served.status_code
    upload = c.ok(c.post("/v1/upload/", {"training_dir": "e2e-monitor", "api_key": "unused", "algorithm_id": None}))
    archive = requests.get(upload["url"])
    assert archive.status_code == 200 and archive.content.startswith(b"PK"), upload


@check("the openai client's monitor calls: start (video_callable false), close, upload")
def openai_client_monitor(server):
    c = Client(server.base)
    iid = c.ok(c.post("/v1/envs/", {"env_id": "CartPole-v0"}))["instance_id"]
    c.ok(c.post(f"/v1/envs/{iid}/monitor/start/", {"directory": "tmp", "force": True, "resume": False, "video_callable": False}))
    c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
    c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": 1, "render": False}))
    c.ok(c.post(f"/v1/envs/{iid}/monitor/close/", None))
    c.ok(c.post("/v1/upload/", {"training_dir": "tmp", "algorithm_id": None, "api_key": "key"}))
    expect_error(c.post("/v1/upload/", {"training_dir": "tmp", "algorithm_id": None, "api_key": ""}),
                 "A required request parameter 'api_key' was not provided")
    expect_error(c.post("/v1/upload/", {"algorithm_id": None, "api_key": "key"}),
                 "A required request parameter 'training_dir' was not provided")
    expect_error(c.post(f"/v1/envs/{iid}/monitor/start/", {"directory": "../outside", "force": True}), contains=[".."])


@check("SIGTERM stops the server cleanly, finishing the monitor's open video and writing its manifest")
def clean_stop(server):
    c = Client(server.base)
    iid = c.ok(c.post("/v1/envs/", {"env_id": "CartPole-v1"}))["instance_id"]
    c.ok(c.post(f"/v1/envs/{iid}/monitor/start/", {"directory": "e2e-shutdown"}))
    c.ok(c.post(f"/v1/envs/{iid}/reset/", {"seed": 2}))
    length = 0
    while not c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": length % 2}))["done"]:
        length += 1
    length += 1
    c.ok(c.post(f"/v1/envs/{iid}/reset/", None))
    for _ in range(3):  # episode 1, filmed too, left running
        c.ok(c.post(f"/v1/envs/{iid}/step/", {"action": 0}))
    code = server.stop()
    assert code == 0, f"exit code {code}"
    directory = os.path.join(server.monitor_dir, "e2e-shutdown")
    files = sorted(os.listdir(directory))
    # No leftover of an interrupted write; the directory's lock file stays (hidden), unlocked.
    assert not [f for f in files if f.endswith(".tmp") or (f.startswith(".") and f != ".openaigym.lock")], files
    with open(os.path.join(directory, ".openaigym.lock"), "r+b") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the stopped server still held it
    manifest = json.load(open(os.path.join(directory, next(f for f in files if f.endswith(".manifest.json")))))
    stats = json.load(open(os.path.join(directory, manifest["stats"])))
    assert stats["episode_lengths"] == [length], stats
    videos = [f for f in files if f.endswith(".mp4")]
    assert any(v.endswith("video000000.mp4") for v in videos), files
    info = ffprobe(os.path.join(directory, next(v for v in videos if v.endswith("video000000.mp4"))))
    assert int(info["nb_read_frames"]) == length + 1, (info, length)
    for video in videos:  # every video the monitor wrote plays to its end
        assert int(ffprobe(os.path.join(directory, video))["nb_read_frames"]) > 0, video


def refused_options(binary):
    """Options out of range stop the server before it starts, with a message naming them."""
    for arguments, words in [
        (["--vector-worker-processes", "0"], "--vector-worker-processes must be from 1 to 1024, got 0"),
        (["--vector-worker-processes", "5000"], "--vector-worker-processes must be from 1 to 1024, got 5000"),
        (["--worker-timeout", "0"], "--worker-timeout must be more than 0"),
    ]:
        @check(f"gym-server {' '.join(arguments)} is refused with a message")
        def refused(arguments=arguments, words=words):
            run = subprocess.run([binary, "--port", "0", "--files-port", "0", *arguments], capture_output=True, text=True, timeout=30)
            said = run.stderr + run.stdout
            assert run.returncode != 0 and words in said, f"status {run.returncode}: {said[-300:]}"

        refused()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--quick", action="store_true", help="skip the Gymnasium conformance runs")
    args = parser.parse_args()
    monitor = tempfile.mkdtemp(prefix="gym-server-e2e-")
    refused_options(os.path.abspath(args.server))
    server = Server(os.path.abspath(args.server), monitor, "--allow-shutdown")
    try:
        for test in [openai_client_flow, openai_client_errors, flaviotruzzi_session, monitor_recording, openai_client_monitor]:
            test(server)
        if not args.quick:
            for test in conformance_checks():
                test(server)
        clean_stop(server)
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
    sys.exit(summary())


if __name__ == "__main__":
    main()
