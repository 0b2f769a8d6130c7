#!/usr/bin/env python3
"""gym-server as a fleet: three replicas behind HAProxy on 127.0.0.1:5000 (API) and :8000 (files),
started by scripts/cluster/cluster.py with a fresh monitor root they share.

    .venv/client/bin/python scripts/test/cluster_test.py --server .build/release/gym-server \\
        [--browser-python .venv/browser/bin/python] [--suite-python .venv/gymnasium/bin/python]

Checks, each on a line with its figures (and 'N passed, N failed' at the end; exit 1 on a failure):
  a. creates through the front spread over the replicas; each id's prefix is the replica that
     lists it (X-Gym-Fleet: local); a request reaching the wrong replica names the right one;
  b. reset, step, render (render: true's PNG and the files it names), monitor start/close, the
     monitor's files and <dir>.zip, all through the front, reach the instance's replica: asked
     directly, that replica saw the steps (its counters, its monitor's episodes, its frame, and
     a deterministic FrozenLake walked alternately through the front and directly);
  c. batch steps through the front (routed by the first item); the fleet's lists through the front;
  h. a real Prometheus scraping the three replicas: sum(gym_steps_total) equals the steps sent;
  d. Gymie's WebSocket protocol through the front (ws://127.0.0.1:5000/gym);
  e. gym_server_client through the front: RemoteEnv, RemoteVectorEnv, and with `shards` (if the
     installed client takes it) a sharded vector env equal to an unsharded one step for step;
  o. openai/gym-http-api's 16 tests (e2e_service_test.py's copy; the original too with
     GYM_HTTP_API_DIR) against the front;
  f. the dashboard through the front in Chromium (Playwright, run with --browser-python): a card
     for every instance of every replica, live thumbnails of the stepping ones;
  g. kill -9 of a replica: its instances answer a JSON 503 naming it, the others step on without an
     error, the list says it is unreachable, its monitor's directory is released; restarted, it
     takes creates again.

Runs with .venv/client's Python (requests, websockets, gym_server_client); the browser part runs
in a child with .venv/browser's (this file with --browser-part), the original openai suite with
.venv/gymnasium's. Needs haproxy and prometheus (scripts/setup/install-deps.sh test), chromium.
"""

import argparse
import contextlib
import hashlib
import inspect
import io
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
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "cluster"))

FLEET_LOCAL = {"X-Gym-Fleet": "local"}
TOKEN = "cluster-test-scrape-token"
REPLICAS = 3


# MARK: the browser part (a child process with .venv/browser's Python: Playwright, no requests)


def browser_part(spec):
    """Opens the dashboard through the front and reports, as one JSON line, what it shows."""
    from browser_test import VIEWPORT, Page, card_selector
    from playwright.sync_api import sync_playwright

    report = {"cards": {}, "frames": {}, "sources": {}, "errors": [], "screenshot": None}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=spec["chromium"], headless=True,
            args=["--disable-gpu", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = Page(browser.new_context(viewport=VIEWPORT, device_scale_factor=1))
            started = time.time()
            page.navigate(spec["files"] + "/")
            every = " && ".join(f"{card_selector('live', i)} !== null" for i in spec["all"])
            page.wait(every, timeout=20)
            report["cards_after"] = round(time.time() - started, 2)
            for instance in spec["all"]:
                report["cards"][instance] = page.evaluate(f"{card_selector('live', instance)} !== null")
            stepping = " && ".join(f"Number({card_selector('live', i)}.dataset.frames || 0) >= 3" for i in spec["stepping"])
            page.wait(stepping, timeout=20)
            report["thumbnails_after"] = round(time.time() - started, 2)

            def sources():
                return {i: page.evaluate(f"(() => {{ const c = {card_selector('live', i)}; const img = c && c.querySelector('img');"
                                         f" return img && !img.hidden ? img.src : ''; }})()") or "" for i in spec["stepping"]}

            first = sources()
            frames_before = {i: int(page.evaluate(f"{card_selector('live', i)}.dataset.frames") or 0) for i in spec["stepping"]}
            time.sleep(1.5)
            second = sources()
            for instance in spec["stepping"]:
                frames = int(page.evaluate(f"{card_selector('live', instance)}.dataset.frames") or 0)
                report["frames"][instance] = [frames_before[instance], frames]
                report["sources"][instance] = {
                    "data_png": first[instance].startswith("data:image/png;base64,"),
                    "changed": hashlib.sha256(first[instance].encode()).digest() != hashlib.sha256(second[instance].encode()).digest()}
            report["live_count"] = page.evaluate("document.getElementById('live-count').textContent")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(spec["screenshot"])
            page.screenshot(spec["screenshot"].replace(".png", "-full.png"), full_page=True)
            report["screenshot"] = spec["screenshot"]
            report["errors"] = page.errors
        finally:
            browser.close()
    print("RESULT " + json.dumps(report), flush=True)


if len(sys.argv) > 1 and sys.argv[1] == "--browser-part":
    browser_part(json.loads(sys.argv[2]))
    sys.exit(0)


# MARK: the main part (.venv/client's Python)

import requests  # noqa: E402

from cluster import Cluster  # noqa: E402
from e2e_metrics_test import Prometheus  # noqa: E402
from e2e_service_test import openai_tests  # noqa: E402
from e2e_support import check, summary  # noqa: E402


def replica_of(instance_id):
    return int(instance_id[:2], 16)


class Fleet:
    """The cluster under test and what the checks share: sessions, instances made, steps sent."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.front = cluster.front_url
        self.files = cluster.files_url
        self.session = requests.Session()
        self.steps_sent = 0  # REST steps answered 200 (single and batch items), for Prometheus
        self.steps_lock = threading.Lock()
        self.by_replica = {}  # replica -> CartPole ids of check a
        self.stepped = {}  # replica -> (CartPole id, steps) of check b
        self.create_during_crash = None  # what a create answered right after the kill

    def direct(self, i):
        return self.cluster.replica_url(i)

    def count_steps(self, n=1):
        with self.steps_lock:
            self.steps_sent += n

    def call(self, method, base, path, body=None, status=200, session=None, headers=None, timeout=15):
        """The JSON answer of a request that must answer `status`."""
        response = (session or self.session).request(method, base + path, json=body, headers=headers, timeout=timeout)
        assert response.status_code == status, (method, base + path, body, response.status_code, response.text[:400])
        return response.json() if response.content else None

    def create(self, env_id="CartPole-v1", **extra):
        return self.call("POST", self.front, "/v1/envs/", {"env_id": env_id, **extra})["instance_id"]

    def step(self, base, instance_id, action, session=None, **extra):
        answer = self.call("POST", base, f"/v1/envs/{instance_id}/step/", {"action": action, **extra}, session=session)
        self.count_steps()
        return answer

    def local_ids(self, i):
        """The instances replica i holds, asked of it directly for its own part."""
        return set(self.call("GET", self.direct(i), "/v1/envs/", headers=FLEET_LOCAL)["all_envs"])

    def replica_steps(self, i):
        """gym_steps_total of replica i (all env ids), read from its /metrics directly."""
        text = requests.get(self.direct(i) + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("gym_steps_total{"))

    def all_replica_steps(self):
        return [self.replica_steps(i) for i in range(REPLICAS)]

    def create_on(self, replica, env_id, bound=12, **extra):
        """Creates through the front until one lands on `replica` (closing the others)."""
        for _ in range(bound):
            instance_id = self.create(env_id, **extra)
            if replica_of(instance_id) == replica:
                return instance_id
            self.call("POST", self.front, f"/v1/envs/{instance_id}/close/")
        raise AssertionError(f"{bound} creates of {env_id} through the front, none on replica {replica}")


def served_by(cluster, method, path, wait=0.3):
    """The replicas whose access log (--access-log -, into their log files) has `method path`."""
    time.sleep(wait)  # the access log is written every 50 ms
    found = []
    for i in range(REPLICAS):
        with open(cluster.log_path(f"replica-{i}"), errors="replace") as f:
            if any(line.split()[1:3] == [method, path] for line in f if len(line.split()) == 8):
                found.append(i)
    return found


def figures(line):
    print(f"    {line}", flush=True)


# MARK: a. creates


@check("a. creates through the front spread over the replicas; each id's prefix is the replica that lists it")
def creates_spread(fleet):
    ids = [fleet.create("CartPole-v1") for _ in range(12)]
    local = {i: fleet.local_ids(i) for i in range(REPLICAS)}
    for instance_id in ids:
        assert re.fullmatch(r"[0-9a-f]{8}", instance_id), instance_id
        holders = [i for i in range(REPLICAS) if instance_id in local[i]]
        assert holders == [replica_of(instance_id)], (instance_id, holders)
    for i in range(REPLICAS):
        fleet.by_replica[i] = [x for x in ids if replica_of(x) == i]
    counts = {i: len(fleet.by_replica[i]) for i in range(REPLICAS)}
    figures(f"12 creates -> replica 0: {counts[0]}, 1: {counts[1]}, 2: {counts[2]}; every id listed by the replica "
            f"its prefix names and by no other")
    assert all(counts[i] >= 1 for i in range(REPLICAS)), counts


@check("a. a request for another replica's instance reaching the wrong replica names the right one")
def wrong_replica(fleet):
    instance_id = fleet.by_replica[1][0]
    for other in (0, 2):
        response = requests.post(f"{fleet.direct(other)}/v1/envs/{instance_id}/step/", json={"action": 0}, timeout=10)
        message = response.json().get("message", "")
        expected = f"Instance_id {instance_id} unknown on replica {other}: its first two hex characters name replica 1"
        assert response.status_code == 400 and message.startswith(expected), (response.status_code, message)
    figures(f"replica 0 and 2 asked for {instance_id}: 400 \"{message[:110]}...\"")


# MARK: b. every call of an instance reaches its replica


@check("b. reset, step, render, monitor start/close, monitor files and .zip through the front reach the instance's replica")
def calls_reach_replica(fleet):
    pids = {i: fleet.cluster.processes[i].pid for i in range(REPLICAS)}
    for i in range(REPLICAS):
        instance_id = fleet.by_replica[i][0]
        directory = f"fleet/r{i}"
        before = fleet.all_replica_steps()
        # Before anything: the frame, asked of the replica directly.
        fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/reset/", {"seed": 100 + i})
        frame0 = requests.get(f"{fleet.direct(i)}/v1/envs/{instance_id}/render", timeout=10).content
        started = fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/monitor/start/",
                             {"directory": directory, "force": True, "video_callable": True})
        assert started["directory"] == directory and started["url"] == f"{fleet.files}/{directory}/", started
        status = fleet.call("GET", fleet.direct(i), f"/v1/envs/{instance_id}/monitor/")
        assert status["recording"] is True and status["directory"] == directory and status["episodes"] == 0, status
        rng = random.Random(i)
        lengths, rendered = [], []
        for episode in range(2):
            answer = fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/reset/", {"render": True})
            rendered.append(answer["render"])
            length = 0
            while True:
                length += 1
                answer = fleet.step(fleet.front, instance_id, rng.randrange(2), render=length % 5 == 0)
                if "render" in answer:
                    rendered.append(answer["render"])
                if answer["done"]:
                    break
            lengths.append(length)
            seen = fleet.call("GET", fleet.direct(i), f"/v1/envs/{instance_id}/monitor/")
            assert seen["episodes"] == episode + 1, (episode, seen)
        after = fleet.all_replica_steps()
        moved = [after[j] - before[j] for j in range(REPLICAS)]
        assert moved == [sum(lengths) if j == i else 0 for j in range(REPLICAS)], (moved, lengths)
        # The frame now, through the front and directly: the same state, the same picture.
        through_front = requests.get(f"{fleet.front}/v1/envs/{instance_id}/render", timeout=10)
        directly = requests.get(f"{fleet.direct(i)}/v1/envs/{instance_id}/render", timeout=10).content
        assert through_front.status_code == 200 and through_front.content == directly != frame0, "render differs"
        # render: true's files, through the files front (the instance's replica) and on disk.
        names = [re.fullmatch(r"successfully rendered: (\d+\.png)", r).group(1) for r in rendered]
        for name in names:
            png = requests.get(f"{fleet.files}/{instance_id}/rendered/{name}", timeout=10)
            with open(os.path.join(fleet.cluster.monitor_root, instance_id, "rendered", name), "rb") as f:
                assert png.status_code == 200 and png.content.startswith(b"\x89PNG") and png.content == f.read(), name
        latest = requests.get(f"{fleet.files}/{instance_id}/rendered/latest.png", timeout=10)
        assert latest.status_code == 200 and latest.content.startswith(b"\x89PNG"), latest.status_code
        # Who served them: the replicas' access logs.
        time.sleep(0.3)  # the access log is written every 50 ms
        logged = {name: served_by(fleet.cluster, "GET", f"/{instance_id}/rendered/{name}", wait=0) for name in names}
        assert all(where == [i] for where in logged.values()), logged
        assert served_by(fleet.cluster, "POST", f"/v1/envs/{instance_id}/monitor/start/", wait=0) == [i]
        fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/monitor/close/")
        closed = fleet.call("GET", fleet.direct(i), f"/v1/envs/{instance_id}/monitor/")
        assert closed["recording"] is False and closed["episodes"] == 2, closed
        # The monitor's files through the front: named by the replica, the stats the client saw.
        listing = fleet.call("GET", fleet.files, f"/{directory}/?format=json")
        files = sorted(e["name"] for e in listing["entries"] if e["type"] == "file")
        uid = f"r{i}-{pids[i]}-"
        monitor_files = [f for f in files if f.startswith("openaigym.")]
        assert monitor_files and all(uid in f for f in monitor_files), (uid, files)
        stats = [f for f in files if f.endswith(".stats.json")]
        assert len(stats) == 1, files
        stats_json = fleet.call("GET", fleet.files, f"/{directory}/{stats[0]}")
        assert stats_json["episode_lengths"] == lengths, (stats_json["episode_lengths"], lengths)
        videos = [f for f in files if f.endswith(".mp4")]
        assert len(videos) == 2, files
        archive = requests.get(f"{fleet.files}/{directory}.zip", timeout=30)
        assert archive.status_code == 200, archive.status_code
        zipped = sorted(n.split("/", 1)[1] for n in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
                        if not n.endswith("/"))
        assert set(files) <= set(zipped), (files, zipped)
        fleet.stepped[i] = (instance_id, sum(lengths))
        figures(f"replica {i} ({instance_id}): 2 episodes {lengths} through the front; replica steps +{moved}; "
                f"monitor episodes 0 -> 2 on the replica; render same as the replica's; {len(names)} PNGs "
                f"served = on disk, each by replica {i} alone (access logs); {len(monitor_files)} monitor files named *{uid}*; .zip of {len(zipped)} files")


@check("b. a FrozenLake walked alternately through the front and directly on its replica follows one path")
def frozen_lake_interleaved(fleet):
    path = [(2, 1), (2, 2), (1, 6), (1, 10), (1, 14), (2, 15)]  # right, right, down x3, right: the goal
    for i in range(REPLICAS):
        instance_id = fleet.create_on(i, "FrozenLake-v1", kwargs={"is_slippery": False})
        assert fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/reset/", {})["observation"] == 0
        walked = []
        for n, (action, where) in enumerate(path):
            base = fleet.front if n % 2 == 0 else fleet.direct(i)
            answer = fleet.step(base, instance_id, action)
            walked.append(answer["observation"])
        assert walked == [w for _, w in path] and answer["reward"] == 1.0 and answer["done"] is True, (walked, answer)
        fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/close/")
        figures(f"replica {i} ({instance_id}): states {walked} (front, direct, front, ...), reward 1 at the goal")


# MARK: c. batches and lists


@check("c. a batch through the front of one replica's instances runs on that replica")
def batch_steps(fleet):
    for i in range(REPLICAS):
        items = fleet.by_replica[i]
        resets = fleet.call("POST", fleet.front, "/v1/batch/reset/", [{"instance_id": x, "seed": n} for n, x in enumerate(items)])
        assert len(resets) == len(items) and all("observation" in r for r in resets), resets
        before = fleet.all_replica_steps()
        rounds = 20
        for _ in range(rounds):
            answers = fleet.call("POST", fleet.front, "/v1/batch/step/", [{"instance_id": x, "action": 1} for x in items])
            assert len(answers) == len(items) and not any("error" in a for a in answers), answers
            fleet.count_steps(len(items))
        after = fleet.all_replica_steps()
        moved = [after[j] - before[j] for j in range(REPLICAS)]
        assert moved == [rounds * len(items) if j == i else 0 for j in range(REPLICAS)], moved
        figures(f"replica {i}: {rounds} batches of {len(items)} items, no failed item; replica steps +{moved}")
    # A batch whose items are on two replicas goes to its first item's: the others fail alone.
    mixed = [{"instance_id": fleet.by_replica[0][0], "action": 0}, {"instance_id": fleet.by_replica[1][0], "action": 0}]
    answers = fleet.call("POST", fleet.front, "/v1/batch/step/", mixed)
    fleet.count_steps(1)
    assert "error" not in answers[0] and answers[1].get("status") == 400 and \
        "unknown on replica 0: its first two hex characters name replica 1" in answers[1]["message"], answers
    figures(f"mixed batch (replica 0's item first, then replica 1's): item 0 stepped, item 1 "
            f"{answers[1]['status']} \"{answers[1]['message'][:80]}...\"")


@check("c. the fleet's lists through the front: every instance of every replica, replicas 3 up")
def fleet_lists(fleet):
    local = {i: fleet.local_ids(i) for i in range(REPLICAS)}
    joined = fleet.call("GET", fleet.front, "/v1/envs/")
    union = set().union(*local.values())
    assert set(joined["all_envs"]) == union, (sorted(joined["all_envs"]), sorted(union))
    expected = {str(i): {"state": "up", "instances": len(local[i])} for i in range(REPLICAS)}
    assert joined["replicas"] == expected, joined["replicas"]
    live = fleet.call("GET", fleet.files, "/_live/instances")
    assert set(live["all_envs"]) == union and live["replicas"] == expected, live.get("replicas")
    figures(f"GET /v1/envs/: {len(joined['all_envs'])} instances = the replicas' own lists "
            f"({', '.join(str(len(local[i])) for i in range(REPLICAS))}); replicas {json.dumps(joined['replicas'])}; "
            f"/_live/instances the same")


@check("c. /_recordings through the front: every replica's recordings, one recording now on replica 1 marked so "
       "whichever replica answers")
def fleet_recordings(fleet):
    recorder = fleet.by_replica[1][1]
    fleet.call("POST", fleet.front, f"/v1/envs/{recorder}/monitor/start/", {"directory": "fleet/now", "force": True})
    fleet.call("POST", fleet.front, f"/v1/envs/{recorder}/reset/", {})
    fleet.step(fleet.front, recorder, 0)
    try:
        marks = []
        for _ in range(6):  # leastconn: the answers come from every replica in turn
            recordings = fleet.call("GET", fleet.files, "/_recordings")
            by_directory = {r["directory"]: r for r in recordings["recordings"]}
            assert {f"fleet/r{i}" for i in range(REPLICAS)} | {"fleet/now"} <= set(by_directory), sorted(by_directory)
            now = by_directory["fleet/now"]
            marks.append((now.get("recording"), now.get("instance_id")))
        figures(f"/_recordings x6 through the front: {len(by_directory)} recordings ({', '.join(sorted(by_directory))}); "
                f"fleet/now (replica 1's {recorder}) recording/instance_id in every answer: {sorted(set(marks), key=str)}")
        assert set(marks) == {(True, recorder)}, marks
    finally:
        fleet.call("POST", fleet.front, f"/v1/envs/{recorder}/monitor/close/")


# MARK: h. Prometheus


@check("b. one directory recorded by all three replicas (resume): distinct file names, and old gym 0.21's load_results reads every episode")
def shared_directory(fleet, gym021):
    ids = [fleet.create_on(i, "CartPole-v1") for i in range(REPLICAS)]
    for iid in ids:
        fleet.call("POST", fleet.front, f"/v1/envs/{iid}/monitor/start/", {"directory": "fleet/shared", "resume": True, "video_callable": False})
    lengths = {iid: [] for iid in ids}
    for episode in range(2):
        for n, iid in enumerate(ids):
            fleet.call("POST", fleet.front, f"/v1/envs/{iid}/reset/", {"seed": 10 * episode + n})
            steps, done = 0, False
            while not done:
                done = fleet.step(fleet.front, iid, (steps // 3) % 2)["done"]
                steps += 1
            lengths[iid].append(steps)
    for iid in ids:
        fleet.call("POST", fleet.front, f"/v1/envs/{iid}/monitor/close/")
        fleet.call("POST", fleet.front, f"/v1/envs/{iid}/close/")
    directory = os.path.join(fleet.cluster.monitor_root, "fleet", "shared")
    manifests = sorted(f for f in os.listdir(directory) if f.startswith("openaigym.manifest."))
    uids = sorted({name.split(".")[3] for name in manifests})
    assert len(manifests) == REPLICAS and [u.split("-")[0] for u in uids] == [f"r{i}" for i in range(REPLICAS)], manifests
    code = ("import json, sys; from gym.wrappers.monitor import load_results; r = load_results(sys.argv[1]); "
            "print(json.dumps(sorted(int(x) for x in r['episode_lengths'])))")
    result = subprocess.run([gym021, "-c", code, directory], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    expected = sorted(n for episodes in lengths.values() for n in episodes)
    assert loaded == expected, (loaded, expected)
    figures(f"manifests {manifests}; load_results: {len(loaded)} episodes, lengths {loaded} = the steps each replica's instance took")


def scrape_target(cluster, i):
    return f"127.0.0.1:{cluster.replica_api_port(i)}"


def start_prometheus(binary, workdir, holder, cluster):
    """Starts Prometheus scraping the replicas (in a thread: it takes seconds to be ready)."""
    try:
        # Prometheus (e2e_metrics_test.py) writes `targets: ["<target>"]`: the three replicas' quoted list.
        targets = '", "'.join(scrape_target(cluster, i) for i in range(REPLICAS))
        holder["prometheus"] = Prometheus(binary, targets, TOKEN, workdir)
    except Exception as error:  # noqa: BLE001
        holder["error"] = error


@check("h. a real Prometheus scraping the 3 replicas: sum(gym_steps_total) equals the steps the test sent")
def prometheus_sum(fleet, holder, started_thread):
    started_thread.join(timeout=60)
    if "error" in holder or "prometheus" not in holder:
        raise AssertionError(f"Prometheus did not start: {holder.get('error')}")
    prometheus = holder["prometheus"]
    # Acrobot on every replica, a different number of steps each.
    sent = {}
    for i in range(REPLICAS):
        instance_id = fleet.create_on(i, "Acrobot-v1")
        fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/reset/", {"seed": i})
        n = 37 + 11 * i
        for t in range(n):
            fleet.step(fleet.front, instance_id, t % 3)
        sent[i] = n
    last_step = time.time()
    # A scrape of every replica that began after the last step's answer.
    deadline = time.time() + 20
    while time.time() < deadline:
        stamps = prometheus.query('timestamp(up{job="gym-server"})')
        if len(stamps) == REPLICAS and min(float(s["value"][1]) for s in stamps) > last_step + 0.05:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no scrape of every replica after the last step: {stamps}")
    waited = time.time() - last_step
    up = prometheus.query('up{job="gym-server"}')
    assert sorted(u["metric"]["instance"] for u in up if u["value"][1] == "1") == \
        [scrape_target(fleet.cluster, i) for i in range(REPLICAS)], up
    acrobot = prometheus.value('sum(gym_steps_total{env_id="Acrobot-v1"})')
    per_replica = {u["metric"]["instance"]: float(u["value"][1])
                   for u in prometheus.query('sum by (instance) (gym_steps_total{env_id="Acrobot-v1"})')}
    total = prometheus.value("sum(gym_steps_total)")
    by_instance = {u["metric"]["instance"]: float(u["value"][1]) for u in prometheus.query("sum by (instance) (gym_steps_total)")}
    direct = fleet.all_replica_steps()
    figures(f"Acrobot-v1 steps sent {sent} -> Prometheus per replica {per_replica}, sum {acrobot}")
    figures(f"all steps the test sent: {fleet.steps_sent}; sum(gym_steps_total) = {total} "
            f"(per replica {by_instance}; the replicas' /metrics say {direct}); scrape {waited:.1f} s after the last step")
    assert acrobot == sum(sent.values()), (acrobot, sent)
    assert per_replica == {scrape_target(fleet.cluster, i): float(sent[i]) for i in range(REPLICAS)}, per_replica
    assert total == fleet.steps_sent, (total, fleet.steps_sent)


# MARK: d. Gymie


@check("d. Gymie's WebSocket protocol through the front (ws://127.0.0.1:5000/gym): make, reset, step, close")
def gymie(fleet):
    from websockets.sync.client import connect

    url = fleet.front.replace("http://", "ws://") + "/gym"
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(url, open_timeout=10, close_timeout=2)) for _ in range(REPLICAS)]

        def call(ws, method, **params):
            ws.send(json.dumps({"method": method, "params": params}))
            return ws.recv(timeout=15)

        made = []
        for n, ws in enumerate(sockets):
            instance_id = call(ws, "make", env_id="CartPole-v1", seed=n)
            assert re.fullmatch(r"[0-9a-f]{32}", instance_id), instance_id
            made.append(instance_id)
        local = {i: fleet.local_ids(i) for i in range(REPLICAS)}
        for instance_id in made:
            assert [i for i in range(REPLICAS) if instance_id in local[i]] == [replica_of(instance_id)], instance_id
        for ws, instance_id in zip(sockets, made):
            observation = json.loads(call(ws, "reset", instance_id=instance_id))
            assert isinstance(observation, list) and len(observation) == 4, observation
            for t in range(10):
                answer = json.loads(call(ws, "step", instance_id=instance_id, action=t % 2))
                assert isinstance(answer, list) and len(answer) == 4 and len(answer[0]) == 4, answer
            # The same instance over REST through the front: routed by its 32-hex id.
            rest = fleet.call("POST", fleet.front, f"/v1/envs/{instance_id}/step/", {"action": 0})
            assert len(rest["observation"]) == 4, rest
            assert json.loads(call(ws, "close", instance_id=instance_id)) is True
        for instance_id in made:
            assert instance_id not in fleet.local_ids(replica_of(instance_id))
        replicas = sorted({replica_of(x) for x in made})
        figures(f"3 sockets at once -> ids on replicas {[replica_of(x) for x in made]} ({', '.join(x[:6] + '...' for x in made)}); "
                f"make, reset, 10 steps, a REST step through the front, close on each")
        assert len(replicas) >= 2, f"3 sockets opened at once all went to replica {replicas}"


# MARK: e. the Python client


@check("e. gym_server_client through the front: a RemoteEnv episode (and its frames) and a RemoteVectorEnv")
def python_client(fleet):
    import numpy as np
    from gym_server_client import RemoteEnv, RemoteVectorEnv

    env = RemoteEnv("CartPole-v1", url=fleet.front, files_url=fleet.files, seed=5, render_mode="rgb_array")
    try:
        observation, _ = env.reset()
        steps, done = 0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            steps += 1
            done = terminated or truncated
        frame = env.render()
        assert frame.shape == (400, 600, 3), frame.shape
        replica = replica_of(env.instance_id)
        assert env.instance_id in fleet.local_ids(replica)
    finally:
        env.close()
    vector = RemoteVectorEnv("CartPole-v1", num_envs=6, url=fleet.front, seed=5)
    try:
        vector.reset()
        rng = np.random.default_rng(5)
        for _ in range(50):
            vector.step(rng.integers(0, 2, size=6))
        vector_replica = replica_of(vector.instance_id)
        assert vector.instance_id in fleet.local_ids(vector_replica)
    finally:
        vector.close()
    figures(f"RemoteEnv {env.instance_id} (replica {replica}): an episode of {steps} steps, render() {frame.shape}; "
            f"RemoteVectorEnv {vector.instance_id} (replica {vector_replica}): 6 wide, 50 steps")


def shard_ids(vector):
    """The instance ids of a sharded RemoteVectorEnv's shards, wherever the client keeps them."""
    for name in ("instance_ids", "shard_instance_ids"):
        value = getattr(vector, name, None)
        if value:
            return list(value)
    for name in ("shards", "_shards"):
        value = getattr(vector, name, None)
        if isinstance(value, (list, tuple)) and value and hasattr(value[0], "instance_id"):
            return [s.instance_id for s in value]
    raise AssertionError("cannot find the shards' instance ids (instance_ids, shards[i].instance_id)")


def sharded_vector(fleet):
    from gym_server_client import RemoteVectorEnv

    if "shards" not in inspect.signature(RemoteVectorEnv.__init__).parameters:
        import gym_server_client
        print(f"SKIP e. sharded RemoteVectorEnv (shards=3, num_envs=6) through the front: the installed client "
              f"({os.path.dirname(gym_server_client.__file__)}) takes no `shards` yet", flush=True)
        return
    run_sharded(fleet)


@check("e. a sharded RemoteVectorEnv (shards=3, 6 wide) through the front equals an unsharded one for 100 steps")
def run_sharded(fleet):
    import numpy as np
    from gym_server_client import RemoteVectorEnv

    plain = RemoteVectorEnv("CartPole-v1", num_envs=6, url=fleet.front, seed=11)
    sharded = RemoteVectorEnv("CartPole-v1", num_envs=6, url=fleet.front, seed=11, shards=3)
    try:
        ids = shard_ids(sharded)
        a, _ = plain.reset()
        b, _ = sharded.reset()
        assert np.array_equal(a, b), (a, b)
        rng = np.random.default_rng(11)
        for t in range(100):
            actions = rng.integers(0, 2, size=6)
            one, two = plain.step(actions), sharded.step(actions)
            for name, x, y in zip(("observation", "reward", "terminated", "truncated"), one[:4], two[:4]):
                assert np.array_equal(x, y), (t, name, x, y)
            assert sorted(one[4]) == sorted(two[4]), (t, sorted(one[4]), sorted(two[4]))
        replicas = sorted({replica_of(x) for x in ids})
        figures(f"shards {ids} on replicas {[replica_of(x) for x in ids]}; 100 steps equal to {plain.instance_id}'s")
        assert len(ids) == 3 and len(replicas) >= 2, (ids, replicas)
    finally:
        plain.close()
        sharded.close()


@check("e. WebSocket clients through the front follow their instance: a reconnection (after an invalid action closed the socket) and "
       "a vector env's own sockets ask /gym?instance_id=<id>, which the front routes to its replica")
def websocket_reconnect(fleet):
    from gym_server_client import RemoteEnv, RemoteVectorEnv

    lost = []
    replicas = set()
    for n in range(6):
        env = RemoteEnv("CartPole-v1", url=fleet.front, transport="websocket", seed=n)
        try:
            env.reset()
            replicas.add(int(env.instance_id[:2], 16))
            try:
                env.step(7)  # not in Discrete(2): the server closes the socket with 1007
            except Exception:  # noqa: BLE001
                pass
            try:
                env.step(0)
            except Exception as error:  # noqa: BLE001
                lost.append(f"{env.instance_id}: {type(error).__name__}: {str(error)[:100]}")
        finally:
            env.close()
    assert not lost, f"{len(lost)} of 6 lost their instance on the next call, e.g. {lost[0]}"
    for extra in ({}, {"shards": 3}):
        vector = RemoteVectorEnv("CartPole-v1", num_envs=6, url=fleet.front, seed=1, transport="websocket", **extra)
        try:
            vector.reset()
            for _ in range(5):
                vector.step([0] * 6)
            if extra:
                replicas.update(int(i[:2], 16) for i in vector.instance_ids)
        finally:
            vector.close()
    figures(f"6 RemoteEnv over the WebSocket on replicas {sorted(replicas)} kept their instance after a reconnection; "
            "RemoteVectorEnv(transport='websocket'), plain and with shards=3: reset and 5 steps")


# MARK: o. openai's suite


@check("o. openai/gym-http-api's 16 tests (e2e_service_test.py's copy) against the front")
def openai_copy(fleet):
    failures = []
    tests = openai_tests(fleet.front)
    assert len(tests) == 16
    for name, test in tests:
        try:
            test()
        except Exception as error:  # noqa: BLE001
            failures.append(f"{name}: {error!r}")
    figures(f"{16 - len(failures)}/16 passed")
    assert not failures, failures


@check("o. openai/gym-http-api's own suite (GYM_HTTP_API_DIR) and example_agent.py against the front on port 5000")
def openai_original(fleet, source, python):
    from openai_suite import export

    work = tempfile.mkdtemp(prefix="cluster-openai-suite-")
    try:
        for path in ("tests/test_api.py", "gym_http_client.py", "example_agent.py"):
            export(source, path, os.path.join(work, os.path.basename(path)))
        with open(os.path.join(work, "gym_http_server.py"), "w") as f:
            f.write("app = None\n")
        env = dict(os.environ, OPENAI_GYM_API_KEY="openai-suite-key", PYTHONPATH=work)
        suite = subprocess.run([python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_api.py"], cwd=work,
                               env=env, capture_output=True, text=True, timeout=300)
        agent = subprocess.run([python, "example_agent.py"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        summary_line = (suite.stdout.strip().splitlines() or [""])[-1]
        results = os.path.join(fleet.cluster.monitor_root, "tmp", "random-agent-results")
        stats = [f for f in os.listdir(results) if f.endswith(".stats.json")] if os.path.isdir(results) else []
        figures(f"pytest: {summary_line}; example_agent.py exit {agent.returncode}; {len(stats)} stats file in "
                f"tmp/random-agent-results")
        assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-2000:]
        assert agent.returncode == 0 and stats, agent.stdout[-2000:] + agent.stderr[-2000:]
    finally:
        shutil.rmtree(work, ignore_errors=True)


# MARK: f. the dashboard


class Stepper:
    """Steps instances through the front in a thread (episodes, resets), counting steps and errors."""

    def __init__(self, fleet, instance_ids, pause=0.02):
        self.fleet = fleet
        self.ids = list(instance_ids)
        self.pause = pause
        self.stop_event = threading.Event()
        self.steps = []  # (time, instance_id) of every step answered 200
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        session = requests.Session()
        rng = random.Random(0)
        for instance_id in self.ids:
            self.reset(session, instance_id)
        while not self.stop_event.is_set():
            for instance_id in self.ids:
                try:
                    response = session.post(f"{self.fleet.front}/v1/envs/{instance_id}/step/",
                                            json={"action": rng.randrange(2)}, timeout=5)
                    if response.status_code != 200:
                        self.errors.append((time.time(), instance_id, response.status_code, response.text[:200]))
                        continue
                    self.steps.append((time.time(), instance_id))
                    if response.json()["done"]:
                        self.reset(session, instance_id)
                except Exception as error:  # noqa: BLE001
                    self.errors.append((time.time(), instance_id, "exception", repr(error)[:200]))
            time.sleep(self.pause)

    def reset(self, session, instance_id):
        try:
            response = session.post(f"{self.fleet.front}/v1/envs/{instance_id}/reset/", json={}, timeout=5)
            if response.status_code != 200:
                self.errors.append((time.time(), instance_id, response.status_code, response.text[:200]))
        except Exception as error:  # noqa: BLE001
            self.errors.append((time.time(), instance_id, "exception", repr(error)[:200]))

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=10)


@check("f. the dashboard through the front (Chromium): a card for every instance of every replica, live thumbnails")
def dashboard(fleet, browser_python, chromium, screenshots):
    assert browser_python and os.path.exists(browser_python), f"no browser Python at {browser_python}"
    assert chromium and os.path.exists(chromium), f"no chromium at {chromium}"
    stepping = [x for i in range(REPLICAS) for x in fleet.by_replica[i][:2]]
    stepper = Stepper(fleet, stepping, pause=0.03)
    try:
        every = sorted(fleet.call("GET", fleet.front, "/v1/envs/")["all_envs"])
        spec = {"files": fleet.files, "all": every, "stepping": stepping, "chromium": chromium,
                "screenshot": os.path.join(screenshots, "cluster-dashboard.png")}
        child = subprocess.run([browser_python, os.path.abspath(__file__), "--browser-part", json.dumps(spec)],
                               capture_output=True, text=True, timeout=120)
    finally:
        stepper.stop()
    result = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0 and result, child.stdout[-3000:] + child.stderr[-3000:]
    report = json.loads(result[-1][len("RESULT "):])
    cards = report["cards"]
    per_replica = {i: sum(1 for x, shown in cards.items() if shown and replica_of(x) == i) for i in range(REPLICAS)}
    missing = [x for x, shown in cards.items() if not shown]
    frames = report["frames"]
    figures(f"{len(every) - len(missing)}/{len(every)} cards (replica 0: {per_replica[0]}, 1: {per_replica[1]}, "
            f"2: {per_replica[2]}) after {report.get('cards_after')} s; page's live count {report.get('live_count')}")
    figures("thumbnails of the stepping instances (frames at t, t+1.5 s; data: PNG src changed): "
            + ", ".join(f"{x[:8]} {frames[x][0]}->{frames[x][1]} {'changed' if report['sources'][x]['changed'] else 'SAME'}"
                        for x in stepping))
    figures(f"screenshot: {report['screenshot']} (and -full.png); stepping through the front: "
            f"{len(stepper.steps)} steps, {len(stepper.errors)} errors")
    assert not missing, f"no card for {missing}"
    for x in stepping:
        assert frames[x][0] >= 3 and frames[x][1] > frames[x][0], (x, frames[x])
        assert report["sources"][x]["data_png"] and report["sources"][x]["changed"], (x, report["sources"][x])
    assert not stepper.errors, stepper.errors[:3]
    assert not report["errors"], report["errors"][:3]


# MARK: g. kill -9


@check("g. kill -9 of replica 1: its instances answer a JSON 503 naming it at once, the others step on, "
       "its monitor's directory is released, restarted it takes creates")
def kill_replica(fleet):
    victim = 1
    cluster = fleet.cluster
    victims = sorted(x for x in fleet.call("GET", fleet.front, "/v1/envs/")["all_envs"] if replica_of(x) == victim)
    survivors = [fleet.by_replica[i][0] for i in range(REPLICAS) if i != victim]
    # A monitor of the victim records into fleet/locked; another replica's instance is refused it.
    holder = fleet.by_replica[victim][0]
    fleet.call("POST", fleet.front, f"/v1/envs/{holder}/monitor/start/", {"directory": "fleet/locked", "force": True})
    fleet.call("POST", fleet.front, f"/v1/envs/{holder}/reset/", {})
    for _ in range(3):
        fleet.step(fleet.front, holder, 0)
    other = fleet.by_replica[0][1]
    refused = requests.post(f"{fleet.front}/v1/envs/{other}/monitor/start/",
                            json={"directory": "fleet/locked", "force": True}, timeout=10)
    expected = f"is being recorded into by another monitor (instance {holder}, replica {victim})"
    assert refused.status_code == 400 and expected in refused.json()["message"], (refused.status_code, refused.text)
    assert os.path.exists(os.path.join(cluster.monitor_root, "fleet", "locked", ".openaigym.lock"))
    figures(f"before: replica {victim} holds {len(victims)} instances; {other} (replica 0) refused fleet/locked: "
            f"400 \"...{expected}\"")

    stepper = Stepper(fleet, survivors, pause=0.005)
    time.sleep(1.0)
    cluster.kill(victim)
    killed_at = time.time()
    answers = {}

    def ask(instance_id):
        started = time.time()
        try:
            response = requests.post(f"{fleet.front}/v1/envs/{instance_id}/step/", json={"action": 0}, timeout=5)
            answers[instance_id] = (response.status_code, response.headers.get("Content-Type"), response.text,
                                    time.time() - started, time.time() - killed_at)
        except Exception as error:  # noqa: BLE001
            answers[instance_id] = ("exception", None, repr(error), time.time() - started, time.time() - killed_at)

    def create(n):
        started = time.time()
        try:
            response = requests.post(f"{fleet.front}/v1/envs/", json={"env_id": "CartPole-v1"}, timeout=5)
            answers[f"create {n}"] = (response.status_code, response.headers.get("Content-Type"), response.text,
                                      time.time() - started, time.time() - killed_at)
        except Exception as error:  # noqa: BLE001
            answers[f"create {n}"] = ("exception", None, repr(error), time.time() - started, time.time() - killed_at)

    # Three creates at once: leastconn gives each replica one, the dead one included (HAProxy has
    # not noticed yet).
    threads = [threading.Thread(target=ask, args=(x,)) for x in victims] + \
        [threading.Thread(target=create, args=(n,)) for n in range(REPLICAS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    worst = max(answers[x][4] for x in victims)
    figures(f"right after the kill, a step of each of its {len(victims)} instances through the front: statuses "
            f"{sorted({answers[x][0] for x in victims})}, answered within {worst:.3f} s of the kill "
            f"(each request {min(answers[x][3] for x in victims):.3f}-{max(answers[x][3] for x in victims):.3f} s)")
    for x in victims:
        status, content_type, text, took, since_kill = answers[x]
        assert status == 503 and content_type == "application/json", (x, status, content_type, text[:200])
        body = json.loads(text)
        assert body["message"].startswith(f"Replica {victim} is down") and "error" in body, body
        assert since_kill < 2.0, (x, since_kill)
    figures(f"message: \"{json.loads(answers[victims[0]][2])['message'][:120]}...\"")
    create_status = [answers[f"create {n}"] for n in range(REPLICAS)]
    noticed = cluster.wait_front_sees(victim, up=False, timeout=10) + (time.time() - killed_at)
    figures(f"HAProxy marks replica {victim} down {noticed:.2f} s after the kill")

    listed_at = time.time()
    joined = fleet.call("GET", fleet.front, "/v1/envs/")
    took = time.time() - listed_at
    state = joined["replicas"][str(victim)]
    assert state["state"] == "unreachable", joined["replicas"]
    assert not any(replica_of(x) == victim for x in joined["all_envs"]), joined["all_envs"]
    assert all(joined["replicas"][str(i)]["state"] == "up" for i in range(REPLICAS) if i != victim), joined["replicas"]
    figures(f"GET /v1/envs/ through the front: 200 in {took:.3f} s, {len(joined['all_envs'])} instances, "
            f"replica {victim}: {json.dumps(state)}")
    # The files of a down replica's instance: another replica stands in (the monitor root is shared).
    png = requests.get(f"{fleet.files}/{fleet.stepped[victim][0]}/rendered/latest.png", timeout=10)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), png.status_code
    figures(f"files port: /{fleet.stepped[victim][0]}/rendered/latest.png still served (by a backup replica): {png.status_code}")
    # The dead monitor's lock went with its process.
    started = fleet.call("POST", fleet.front, f"/v1/envs/{other}/monitor/start/", {"directory": "fleet/locked", "force": True})
    fleet.call("POST", fleet.front, f"/v1/envs/{other}/monitor/close/")
    figures(f"fleet/locked released: {other} (replica 0) started a monitor there: {started['directory']}")

    restarted_at = time.time()
    cluster.start_replica(victim)
    restart_took = time.time() - restarted_at
    tries = []
    for _ in range(12):
        instance_id = fleet.create("CartPole-v1")
        tries.append(instance_id)
        if replica_of(instance_id) == victim:
            break
    assert replica_of(tries[-1]) == victim, tries
    fleet.call("POST", fleet.front, f"/v1/envs/{tries[-1]}/reset/", {})
    fleet.step(fleet.front, tries[-1], 1)
    gone = requests.post(f"{fleet.front}/v1/envs/{victims[0]}/step/", json={"action": 0}, timeout=10)
    figures(f"restarted in {restart_took:.2f} s (healthy and up in HAProxy); creates {[x[:2] for x in tries]} -> "
            f"{tries[-1]} on replica {victim} after {len(tries)}; an old id of it now: {gone.status_code} "
            f"\"{gone.json().get('message', '')[:70]}\"")
    time.sleep(0.5)
    stepper.stop()
    after_kill = sum(1 for t, _ in stepper.steps if t > killed_at)
    in_window = sum(1 for t, _ in stepper.steps if killed_at < t < killed_at + 2)
    before_kill = len(stepper.steps) - after_kill
    figures(f"the other replicas' instances {survivors} stepping through the front all along: {before_kill} steps "
            f"before the kill, {in_window} in the 2 s after it, {after_kill} after it; errors: {len(stepper.errors)}")
    assert not stepper.errors, stepper.errors[:3]
    assert before_kill > 0 and in_window > 0, (before_kill, in_window)
    joined = fleet.call("GET", fleet.front, "/v1/envs/")
    assert all(joined["replicas"][str(i)]["state"] == "up" for i in range(REPLICAS)), joined["replicas"]
    fleet.create_during_crash = create_status


@check("g. a create sent through the front the moment a replica crashed lands on a replica that is up")
def create_during_crash(fleet):
    answers = fleet.create_during_crash
    assert answers, "the kill check did not get as far as its creates"
    figures("3 creates at once right after the kill, before HAProxy's check noticed: "
            + "; ".join(f"{status} after {took:.3f} s: {text[:110].strip()}" for status, _, text, took, _ in answers))
    failed = [a for a in answers if a[0] != 200]
    assert not failed, (f"{len(failed)} of {len(answers)} creates through the front right after replica 1's crash "
                        f"failed although replicas 0 and 2 were up: {failed[0][0]} after {failed[0][3]:.2f} s, {failed[0][2][:120]}")


# MARK: main


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    parser.add_argument("--browser-python", default=os.path.join(ROOT, ".venv", "browser", "bin", "python"))
    parser.add_argument("--suite-python", default=os.path.join(ROOT, ".venv", "gymnasium", "bin", "python"),
                        help="runs openai's own suite when GYM_HTTP_API_DIR is set (pytest, requests, six)")
    parser.add_argument("--gym-http-api", default=os.environ.get("GYM_HTTP_API_DIR"))
    parser.add_argument("--gym021-python", default=os.path.join(ROOT, ".venv", "gym021", "bin", "python"),
                        help="a Python with gym==0.21.0, for load_results")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", default=None, help="default: a new folder in the temporary directory, kept")
    args = parser.parse_args()
    # The children run elsewhere (openai's suite in its own folder): the Pythons as absolute paths.
    args.browser_python = os.path.abspath(args.browser_python)
    args.suite_python = os.path.abspath(args.suite_python)
    started = time.time()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)

    def on_term(number, _frame):
        raise SystemExit(f"signal {number}")

    signal.signal(signal.SIGTERM, on_term)
    cluster = None
    holder = {}
    prometheus_dir = tempfile.mkdtemp(prefix="gym-cluster-prometheus-")
    try:
        cluster = Cluster(args.server, replicas=REPLICAS, haproxy=args.haproxy, check_interval_ms=500,
                          extra_args=["--metrics-token", TOKEN, "--log-level", "warning", "--access-log", "-"])
        print(f"fleet: {REPLICAS} replicas on 5001-5003/8001-8003 behind HAProxy on {cluster.front_url} and "
              f"{cluster.files_url}; monitor root {cluster.monitor_root} ({time.time() - started:.1f} s)", flush=True)
        prometheus_thread = threading.Thread(target=start_prometheus, args=(args.prometheus, prometheus_dir, holder, cluster),
                                             daemon=True)
        prometheus_thread.start()
        fleet = Fleet(cluster)
        creates_spread(fleet)
        wrong_replica(fleet)
        calls_reach_replica(fleet)
        frozen_lake_interleaved(fleet)
        batch_steps(fleet)
        fleet_lists(fleet)
        fleet_recordings(fleet)
        shared_directory(fleet, args.gym021_python)
        prometheus_sum(fleet, holder, prometheus_thread)
        gymie(fleet)
        python_client(fleet)
        sharded_vector(fleet)
        websocket_reconnect(fleet)
        openai_copy(fleet)
        if args.gym_http_api:
            openai_original(fleet, args.gym_http_api, args.suite_python)
        else:
            print("SKIP o. openai/gym-http-api's own suite: set GYM_HTTP_API_DIR to a checkout (the copy above ran)",
                  flush=True)
        dashboard(fleet, args.browser_python, args.chromium, args.screenshots or tempfile.mkdtemp(prefix="gym-cluster-test-"))
        kill_replica(fleet)
        create_during_crash(fleet)
        cluster.check_alive()
    finally:
        if holder.get("prometheus"):
            holder["prometheus"].stop()
        shutil.rmtree(prometheus_dir, ignore_errors=True)
        if cluster:
            from e2e_support import RESULTS
            if RESULTS["failed"]:
                cluster.print_logs(file=sys.stdout)
            cluster.stop()
    print(f"cluster test: {time.time() - started:.1f} s")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
