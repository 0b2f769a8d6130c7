#!/usr/bin/env python3
"""End-to-end tests of gym-server as a shared, long-running service, over real sockets.

    python scripts/test/e2e_service_test.py --server .build/release/gym-server [--load gym-load]

  * the 16 tests of openai/gym-http-api's tests/test_api.py, each written again here with the same
    requests and assertions (the suite itself lives on GitHub, which CI cannot reach; with
    GYM_HTTP_API_DIR pointing at a checkout, scripts/test/openai_suite.py runs the original too), and the
    flow of openai's example_agent.py: a monitor in /tmp/random-agent-results, render=True steps,
    an upload by that path;
  * crash safety: kill -9 of a server in the middle of recording leaves every finished episode in
    the stats file old gym 0.21's load_results reads, every finished video playable to its end, and
    no file under a final openaigym.* name truncated;
  * API keys from a keys file, the warning for a public address without keys, idle expiry;
  * a bounded load test with the compiled client gym-load (64 clients in make bench; fewer here).

Needs requests, and GYM021_PYTHON (old gym 0.21) for load_results; ffprobe for the videos.
Prints one line per check and ends with 'N passed, N failed'.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

from e2e_support import Server, check, ffprobe, run_gym_load, summary

class ServerError(Exception):
    """gym_http_client's ServerError: the server's message and status."""

    def __init__(self, message, status_code):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class Client:
    """openai/gym-http-api's gym_http_client.Client, request for request: JSON bodies (a literal null
    for reset and close), errors raised with the server's message."""

    def __init__(self, remote_base, headers=None):
        self.remote_base = remote_base
        self.session = requests.Session()
        self.session.headers.update({"Content-type": "application/json"})
        self.session.headers.update(headers or {})

    def _parse(self, resp):
        j = {}
        try:
            j = resp.json()
        except ValueError:
            resp.raise_for_status()
        if resp.status_code != 200 and "message" in j:
            raise ServerError(j["message"], resp.status_code)
        resp.raise_for_status()
        return j

    def _post_request(self, route, data):
        return self._parse(self.session.post(self.remote_base + route, data=json.dumps(data)))

    def _get_request(self, route):
        return self._parse(self.session.get(self.remote_base + route))

    def env_create(self, env_id):
        return self._post_request("/v1/envs/", {"env_id": env_id})["instance_id"]

    def env_list_all(self):
        return self._get_request("/v1/envs/")["all_envs"]

    def env_reset(self, instance_id):
        return self._post_request(f"/v1/envs/{instance_id}/reset/", None)["observation"]

    def env_step(self, instance_id, action, render=False):
        resp = self._post_request(f"/v1/envs/{instance_id}/step/", {"action": action, "render": render})
        return [resp["observation"], resp["reward"], resp["done"], resp["info"]]

    def env_action_space_info(self, instance_id):
        return self._get_request(f"/v1/envs/{instance_id}/action_space/")["info"]

    def env_action_space_sample(self, instance_id):
        return self._get_request(f"/v1/envs/{instance_id}/action_space/sample")["action"]

    def env_action_space_contains(self, instance_id, x):
        return self._get_request(f"/v1/envs/{instance_id}/action_space/contains/{x}")["member"]

    def env_observation_space_info(self, instance_id):
        return self._get_request(f"/v1/envs/{instance_id}/observation_space/")["info"]

    def env_observation_space_contains(self, instance_id, params):
        return self._post_request(f"/v1/envs/{instance_id}/observation_space/contains", params)["member"]

    def env_monitor_start(self, instance_id, directory, force=False, resume=False, video_callable=False):
        self._post_request(f"/v1/envs/{instance_id}/monitor/start/",
                           {"directory": directory, "force": force, "resume": resume, "video_callable": video_callable})

    def env_monitor_close(self, instance_id):
        self._post_request(f"/v1/envs/{instance_id}/monitor/close/", None)

    def env_close(self, instance_id):
        self._post_request(f"/v1/envs/{instance_id}/close/", None)

    def upload(self, training_dir, algorithm_id=None, api_key=None):
        api_key = api_key or os.environ.get("OPENAI_GYM_API_KEY", "openai-key")
        self._post_request("/v1/upload/", {"training_dir": training_dir, "algorithm_id": algorithm_id, "api_key": api_key})


def expect_server_error(call, fragment, status=400):
    try:
        call()
    except ServerError as e:
        assert fragment in e.message, (fragment, e.message)
        assert e.status_code == status, (e.status_code, e.message)
    else:
        raise AssertionError(f"no error (expected one with {fragment!r})")


# MARK: openai/gym-http-api tests/test_api.py, test for test


def openai_tests(base):
    """The 16 tests, in the suite's order, as (name, function) pairs."""

    def test_create_destroy():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        assert instance_id in client.env_list_all()
        client.env_close(instance_id)
        assert instance_id not in client.env_list_all()

    def test_action_space_discrete():
        client = Client(base)
        info = client.env_action_space_info(client.env_create("CartPole-v0"))
        assert info["name"] == "Discrete" and info["n"] == 2

    def test_action_space_sample():
        client = Client(base)
        action = client.env_action_space_sample(client.env_create("CartPole-v0"))
        assert 0 <= action < 2

    def test_action_space_contains():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        assert client.env_action_space_info(instance_id)["n"] == 2
        assert client.env_action_space_contains(instance_id, 0) is True
        assert client.env_action_space_contains(instance_id, 1) is True
        assert client.env_action_space_contains(instance_id, 2) is False

    def test_observation_space_box():
        client = Client(base)
        info = client.env_observation_space_info(client.env_create("CartPole-v0"))
        assert info["name"] == "Box" and len(info["shape"]) == 1 and info["shape"][0] == 4
        assert len(info["low"]) == 4 and len(info["high"]) == 4

    def test_observation_space_contains():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        assert client.env_observation_space_info(instance_id)["name"] == "Box"
        assert client.env_observation_space_contains(instance_id, {"name": "Box"})
        assert client.env_observation_space_contains(instance_id, {"shape": (4,)})
        assert client.env_observation_space_contains(instance_id, {"name": "Box", "shape": (4,)})

    def test_reset():
        client = Client(base)
        assert len(client.env_reset(client.env_create("CartPole-v0"))) == 4
        assert client.env_reset(client.env_create("FrozenLake-v0")) == 0

    def test_step():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        client.env_reset(instance_id)
        observation, reward, done, info = client.env_step(instance_id, 0)
        assert len(observation) == 4 and type(reward) is float and type(done) is bool and type(info) is dict
        instance_id = client.env_create("FrozenLake-v0")
        client.env_reset(instance_id)
        observation, reward, done, info = client.env_step(instance_id, 0)
        assert type(observation) is int

    def record_one_step(client):
        """The suite's monitor preamble: a monitor in tmp, one step, the monitor closed."""
        instance_id = client.env_create("CartPole-v0")
        client.env_monitor_start(instance_id, "tmp", force=True)
        client.env_reset(instance_id)
        client.env_step(instance_id, 1)
        client.env_monitor_close(instance_id)

    def test_monitor_start_close_upload():
        client = Client(base)
        record_one_step(client)
        client.upload("tmp")

    def test_bad_instance_id():
        client = Client(base)
        for call in [lambda x: client.env_reset(x), lambda x: client.env_step(x, 1),
                     lambda x: client.env_action_space_info(x), lambda x: client.env_observation_space_info(x),
                     lambda x: client.env_monitor_start(x, directory="tmp", force=True),
                     lambda x: client.env_monitor_close(x), lambda x: client.env_close(x)]:
            expect_server_error(lambda: call("bad_id"), "Instance_id")

    def test_missing_param_env_id():
        client = Client(base)
        expect_server_error(lambda: client._post_request("/v1/envs/", {}), "env_id")

    def test_missing_param_action():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        client.env_reset(instance_id)
        expect_server_error(lambda: client._post_request(f"/v1/envs/{instance_id}/step/", {}), "action")

    def test_missing_param_monitor_directory():
        client = Client(base)
        instance_id = client.env_create("CartPole-v0")
        # the suite's BadClient: {'force': force, 'resume': resume}, no directory
        expect_server_error(lambda: client._post_request(f"/v1/envs/{instance_id}/monitor/start/",
                                                          {"force": True, "resume": False}), "directory")

    def test_missing_param_upload_directory():
        client = Client(base)
        record_one_step(client)
        expect_server_error(lambda: client._post_request("/v1/upload/", {"algorithm_id": None, "api_key": "openai-key"}),
                            "training_dir")

    def test_empty_param_api_key():
        client = Client(base)
        record_one_step(client)
        expect_server_error(lambda: client._post_request(
            "/v1/upload/", {"algorithm_id": None, "training_dir": "tmp", "api_key": ""}), "api_key")

    def test_create_malformed():
        client = Client(base)
        expect_server_error(lambda: client.env_create("bad string"), "malformed environment ID")

    return [(f.__name__, f) for f in [
        test_create_destroy, test_action_space_discrete, test_action_space_sample, test_action_space_contains,
        test_observation_space_box, test_observation_space_contains, test_reset, test_step,
        test_monitor_start_close_upload, test_bad_instance_id, test_missing_param_env_id, test_missing_param_action,
        test_missing_param_monitor_directory, test_missing_param_upload_directory, test_empty_param_api_key,
        test_create_malformed]]


@check("openai/gym-http-api's 16 tests (tests/test_api.py), each against gym-server")
def openai_suite(server):
    failures = []
    tests = openai_tests(server.base)
    assert len(tests) == 16
    for name, test in tests:
        try:
            test()
        except Exception as e:
            failures.append(f"{name}: {e!r}")
    assert not failures, failures


@check("openai's example_agent.py flow: monitor in /tmp/random-agent-results (inside the root), render=True, upload by that path")
def openai_example_agent(server):
    client = Client(server.base)
    instance_id = client.env_create("CartPole-v0")
    agent_n = client.env_action_space_info(instance_id)["n"]
    outdir = "/tmp/random-agent-results"
    client.env_monitor_start(instance_id, outdir, force=True, resume=False, video_callable=False)
    lengths = []
    for _ in range(5):
        client.env_reset(instance_id)
        for j in range(200):
            action = client.env_action_space_sample(instance_id)
            assert 0 <= action < agent_n
            _, _, done, _ = client.env_step(instance_id, action, render=True)
            if done:
                lengths.append(j + 1)
                break
    client.env_monitor_close(instance_id)
    client.upload(outdir)
    inside = os.path.join(server.monitor_dir, "tmp", "random-agent-results")
    stats = [f for f in os.listdir(inside) if f.endswith(".stats.json")]
    assert len(stats) == 1, os.listdir(inside)
    assert json.load(open(os.path.join(inside, stats[0])))["episode_lengths"] == lengths
    assert not os.path.exists(outdir) or not any(f.startswith("openaigym") for f in os.listdir(outdir)), "wrote outside the root"
    archive = requests.get(f"{server.files}/uploads/tmp_random-agent-results.zip")
    assert archive.status_code == 200 and archive.content.startswith(b"PK")
    frames = requests.get(f"{server.files}/{instance_id}/rendered/latest.png")
    assert frames.status_code == 200 and frames.content.startswith(b"\x89PNG")


@check("the old bindings' bytes (Ruby's reset body \"\", Lua's \"true\"), Pendulum past its bounds, where monitors record, and --access-log rotated by SIGHUP")
def real_clients(binary):
    monitor = tempfile.mkdtemp(prefix="gym-server-e2e-clients-")
    log = monitor + "-access.log"
    server = Server(binary, monitor, "--access-log", log)
    try:
        def post(path, data):
            return requests.post(server.base + path, data=data, headers={"Content-Type": "application/json"}, timeout=10)
        iid = post("/v1/envs/", '{"env_id": "Pendulum-v1"}').json()["instance_id"]
        # openai's Lua binding: booleans as strings; its Ruby binding: the JSON string "" as reset's body.
        started = post(f"/v1/envs/{iid}/monitor/start/",
                       '{"directory": "/tmp/random-agent-results", "force": "true", "resume": "false", "video_callable": "false"}')
        assert started.status_code == 200, started.text
        assert post(f"/v1/envs/{iid}/reset/", '""').status_code == 200
        rewards = []
        for t in range(200):
            if t == 100:
                bad = post(f"/v1/envs/{iid}/step/", '{"action": [Infinity]}')
                assert bad.status_code == 400 and "finite" in bad.json()["message"], bad.text
            answer = post(f"/v1/envs/{iid}/step/", json.dumps({"action": [5.0 if t % 2 else -7.5]}))
            assert answer.status_code == 200, answer.text
            rewards.append(answer.json()["reward"])
        assert answer.json()["done"] is True
        where = requests.get(f"{server.base}/v1/envs/{iid}/monitor/", timeout=10).json()
        assert where == {"directory": "tmp/random-agent-results", "episodes": 1, "recording": True,
                         "url": f"http://127.0.0.1:{server.files_port}/tmp/random-agent-results/"}, where
        listed = requests.get(f"{server.files}/_recordings", timeout=10).json()["recordings"]
        assert [(r["directory"], r["env_id"], r["episodes"], r["instance_id"]) for r in listed] == \
            [("tmp/random-agent-results", "Pendulum-v1", 1, iid)], listed
        # Without a monitor, steps take the fast path, and are logged as such.
        plain = post("/v1/envs/", '{"env_id": "CartPole-v1"}').json()["instance_id"]
        assert post(f"/v1/envs/{plain}/reset/", "{}").status_code == 200
        for _ in range(5):
            assert post(f"/v1/envs/{plain}/step/", '{"action": 1}').status_code == 200
        # logrotate: move the file, SIGHUP, and the server writes a new one.
        time.sleep(0.3)
        os.rename(log, log + ".1")
        server.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert server.process.poll() is None, "SIGHUP stopped the server"
        assert post(f"/v1/envs/{iid}/close/", '""').status_code == 200
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
    with open(log + ".1") as f:
        before = [line.split() for line in f]
    with open(log) as f:
        after = [line.split() for line in f]
    os.remove(log)
    os.remove(log + ".1")
    assert all(len(fields) == 8 for fields in before + after), before + after
    steps = [fields for fields in before if fields[2] == f"/v1/envs/{iid}/step/"]
    # A monitored instance is the route's; the plain one's steps are the fast path's.
    assert len(steps) == 201 and sum(fields[3] == "400" for fields in steps) == 1, len(steps)
    assert {fields[7] for fields in steps} == {"rest"}, {fields[7] for fields in steps}
    assert [fields[7] for fields in before if fields[2] == f"/v1/envs/{plain}/step/"] == ["fast"] * 5, before[-6:]
    assert any(fields[1:4] == ["GET", "/_recordings", "200"] and fields[7] == "files" for fields in before), before
    assert [fields[1:4] + fields[6:] for fields in after] == [["POST", f"/v1/envs/{iid}/close/", "200", "-", "rest"]], after


# MARK: crash safety


@check("kill -9 while recording: every finished episode in the stats file (load_results), every finished video plays, no truncated file")
def crash_safety(binary):
    monitor = tempfile.mkdtemp(prefix="gym-server-kill-")
    server = Server(binary, monitor)
    try:
        filmed = Client(server.base)
        plain = Client(server.base)
        ids = {}
        for name, client, video in [("filmed", filmed, 1), ("plain", plain, False)]:
            ids[name] = client.env_create("CartPole-v1")
            client._post_request(f"/v1/envs/{ids[name]}/monitor/start/",
                                 {"directory": f"crash/{name}", "force": True, "video_callable": video})
        finished = {"filmed": [], "plain": []}
        stop = threading.Event()

        def play(name, client):
            rng = random.Random(name)
            try:
                while not stop.is_set():
                    client.env_reset(ids[name])
                    length = 0
                    while True:
                        _, _, done, _ = client.env_step(ids[name], rng.randrange(2))
                        length += 1
                        if done:
                            finished[name].append(length)
                            break
            except Exception:
                pass  # the server is gone

        threads = [threading.Thread(target=play, args=(n, c)) for n, c in [("filmed", filmed), ("plain", plain)]]
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while (len(finished["filmed"]) < 6 or len(finished["plain"]) < 25) and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(random.uniform(0.0, 0.05))  # somewhere in the middle of an episode, a frame, a write
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        stop.set()
        for t in threads:
            t.join()
        seen = {name: list(lengths) for name, lengths in finished.items()}
        assert len(seen["filmed"]) >= 6 and len(seen["plain"]) >= 25, seen
        gym021 = os.environ.get("GYM021_PYTHON")
        assert gym021, "GYM021_PYTHON must point at a Python with gym==0.21.0 (make venv)"
        code = ("import json, sys; from gym.wrappers.monitor import load_results; r = load_results(sys.argv[1]); "
                "print(json.dumps({'lengths': [int(x) for x in r['episode_lengths']], 'videos': [v for v, m in r['videos']]}))")
        for name in ["filmed", "plain"]:
            directory = os.path.join(monitor, "crash", name)
            result = subprocess.run([gym021, "-c", code, directory], capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            loaded = json.loads(result.stdout.strip().splitlines()[-1])
            lengths = loaded["lengths"]
            # Every episode whose end the client saw is there; at most one more (its answer was lost).
            assert lengths[:len(seen[name])] == seen[name] and len(lengths) - len(seen[name]) in (0, 1), (name, lengths, seen[name])
            for f in os.listdir(directory):
                path = os.path.join(directory, f)
                if f.startswith("openaigym.") and f.endswith(".json"):
                    json.load(open(path))  # complete, parseable
            videos = sorted(f for f in os.listdir(directory) if f.startswith("openaigym.") and f.endswith(".mp4"))
            if name == "filmed":
                assert len(videos) >= 6, videos
                for video in videos:
                    episode = int(video[-10:-4])
                    info = ffprobe(os.path.join(directory, video))
                    frames = int(info["nb_read_frames"])
                    assert info["codec_name"] == "h264" and episode < len(lengths) and frames == lengths[episode] + 1, (video, frames, lengths)
                assert all(os.path.basename(v) in videos for v in loaded["videos"]), (loaded["videos"], videos)
    finally:
        if server.process.poll() is None:
            server.process.kill()
        shutil.rmtree(monitor, ignore_errors=True)


# MARK: keys, warnings, expiry


@check("API keys from a keys file: each key sees only its own instances and files; a public address without keys warns")
def api_keys(binary):
    monitor = tempfile.mkdtemp(prefix="gym-server-keys-")
    keys = monitor + "-keys.txt"
    with open(keys, "w") as f:
        f.write("# a class\nalice:alice-secret-1\nbob:bob-secret-2\n")
    server = Server(binary, monitor, "--api-keys-file", keys)
    try:
        assert requests.get(server.base + "/v1/envs/").status_code == 401
        alice = Client(server.base, {"X-API-Key": "alice-secret-1"})
        bob = Client(server.base, {"Authorization": "Bearer bob-secret-2"})
        a = alice.env_create("CartPole-v1")
        b = bob.env_create("CartPole-v1")
        assert list(alice.env_list_all()) == [a] and list(bob.env_list_all()) == [b]
        expect_server_error(lambda: bob.env_reset(a), f"Instance_id {a} unknown")
        # osim-rl-grader's clients send a token in the body
        token = requests.post(server.base + "/v1/envs/", json={"env_id": "CartPole-v1", "token": "bob-secret-2"})
        assert token.status_code == 200, token.text
        alice.env_reset(a)
        alice._post_request(f"/v1/envs/{a}/reset/", None)
        requests.post(f"{server.base}/v1/envs/{a}/step/", json={"action": 0, "render": True, "api_key": "alice-secret-1"}).raise_for_status()
        assert requests.get(f"{server.files}/{a}/rendered/0.png", headers={"X-API-Key": "alice-secret-1"}).status_code == 200
        assert requests.get(f"{server.files}/{a}/rendered/0.png", headers={"X-API-Key": "bob-secret-2"}).status_code == 404
        assert requests.get(f"{server.files}/{a}/rendered/0.png").status_code == 401
        session = requests.Session()
        login = session.get(f"{server.files}/?key=alice-secret-1", allow_redirects=False)
        assert login.status_code == 303 and "HttpOnly" in login.headers["Set-Cookie"], login.headers
        assert list(session.get(f"{server.files}/_live/instances").json()["all_envs"]) == [a]
        assert os.path.isfile(os.path.join(monitor, "alice", a, "rendered", "0.png"))
        assert "alice-secret-1" not in server.log() and "bob-secret-2" not in server.log()
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
        os.unlink(keys)
    monitor = tempfile.mkdtemp(prefix="gym-server-public-")
    public = Server(binary, monitor, host="0.0.0.0")
    try:
        assert "WARNING" in public.log() and "anyone who can reach" in public.log(), public.log()
    finally:
        public.stop()
        shutil.rmtree(monitor, ignore_errors=True)


@check("--instance-ttl: an idle instance is closed with its monitor finished, and its id then says it expired")
def idle_expiry(binary):
    monitor = tempfile.mkdtemp(prefix="gym-server-ttl-")
    server = Server(binary, monitor, "--instance-ttl", "1")
    try:
        client = Client(server.base)
        iid = client.env_create("CartPole-v1")
        client.env_monitor_start(iid, "ttl-run", force=True, video_callable=True)
        client.env_reset(iid)
        while not client.env_step(iid, 0)[2]:
            pass
        deadline = time.time() + 20
        while iid in client.env_list_all() and time.time() < deadline:
            time.sleep(0.2)
        expect_server_error(lambda: client.env_step(iid, 0), "expired")
        files = os.listdir(os.path.join(monitor, "ttl-run"))
        assert any(f.endswith(".manifest.json") for f in files) and any(f.endswith(".mp4") for f in files), files
        assert not any(f.endswith(".tmp") for f in files), files
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)


# MARK: load


@check("load test: many clients at once, half sharing instances, monitors recording: no error, no lost step, memory back")
def load_test(binary, load, clients, steps):
    result = run_gym_load(binary, load, ["load", "--clients", str(clients), "--steps", str(steps), "--shared", "2", "--film", "1"],
                          capture=True)
    print(result.stdout, end="", flush=True)
    assert result.returncode == 0, result.stdout + result.stderr


@check("gym-load compare: REST, the WebSocket and its ping/pong floor measured in turns, with API keys on")
def compare_tool(binary, load):
    # A few hundred steps: that the tool and the server's answers (fast steps, fast resets, pongs)
    # hold together, not a measurement (that is make bench's).
    result = run_gym_load(binary, load, ["compare", "--requests", "600", "--rounds", "3", "--api-key", "compare-key-0123"],
                          server_options=("--api-key", "compare-key-0123"), capture=True)
    print(result.stdout, end="", flush=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rates = re.findall(r"^compare: (REST|WebSocket ping/pong|WebSocket)[^:]*:\s+(\d+) (?:steps|round trips)/s, p50 (\d+) µs", result.stdout, re.M)
    assert [name for name, _, _ in rates] == ["REST", "WebSocket", "WebSocket ping/pong"], result.stdout
    assert all(int(rate) > 0 for _, rate, _ in rates), result.stdout
    assert re.search(r"^compare: WebSocket/REST: \d+\.\d+x steps/s, p50 \d+\.\d+x \(3 rounds", result.stdout, re.M), result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--load", help="the gym-load binary (the load test is skipped without it)")
    parser.add_argument("--load-clients", type=int, default=16)
    parser.add_argument("--load-steps", type=int, default=300)
    args = parser.parse_args()
    binary = os.path.abspath(args.server)
    monitor = tempfile.mkdtemp(prefix="gym-server-e2e-service-")
    server = Server(binary, monitor)
    try:
        openai_suite(server)
        openai_example_agent(server)
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
    real_clients(binary)
    crash_safety(binary)
    api_keys(binary)
    idle_expiry(binary)
    if args.load:
        load_test(binary, os.path.abspath(args.load), args.load_clients, args.load_steps)
        compare_tool(binary, os.path.abspath(args.load))
    else:
        print("SKIP load test: give --load <gym-load binary>")
    sys.exit(summary())


if __name__ == "__main__":
    main()
