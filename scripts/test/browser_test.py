#!/usr/bin/env python3
"""Browser tests of the files port: headless Chromium, driven by Playwright, opens the live view and
the dashboard of a running server.

    scripts/test/browser_test.py [--server .build/release/gym-server] [--chromium /usr/bin/chromium]
                            [--screenshots .tmp/browser]

Starts the release server on free ports with a fresh monitor directory, creates CartPole
instances through the API, and checks, in the browser:
  * the live view shows the instance's frames as it is stepped (the frame and the step counter
    change; screenshots differ), and how long a step takes to show;
  * the dashboard shows the instance with a live thumbnail, a reward plot drawn from the
    monitor's stats file, a recorded video that plays, and a .zip of the monitor directory;
  * recordings wherever a client put them (monitor/start with "runs/cartpole", and openai's
    example_agent.py's "/tmp/random-agent-results" with force): each live card plots and plays
    its monitor's directory, updated as episodes end; the Recordings section (GET /_recordings)
    lists every recording with env id, episodes, plot, a video that plays and a .zip, marks the
    ones recording now, keeps those whose instance is closed, reads a stats file only when it
    changed; a closed instance's card links to its recording instead of plotting it again;
  * an instance made over the WebSocket (Gymie's protocol, a 32-hex id) shows on the dashboard
    and in the live view as it is stepped;
  * with API keys (a second server), the dashboard asks for a key, takes it once from ?key=
    into an HttpOnly, SameSite=Strict cookie, and then shows that key's instances and no other's;
  * the server stops promptly on SIGTERM while a browser holds a live stream open.
Screenshots land in --screenshots. Prints "N passed, N failed"; exits 1 on any failure.

Needs Playwright and websockets (PyPI; scripts/setup/make-venv.sh makes .venv/browser with them) and
Debian's chromium package, which Playwright is given as its executable: no browser is downloaded.
"""
import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
    from websockets.sync.client import connect as websocket_connect
except ImportError as missing:
    sys.exit(f"{missing}: run this with the browser virtualenv (scripts/setup/make-venv.sh; .venv/browser/bin/python)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIEWPORT = {"width": 1360, "height": 1000}
KEY = "browser-key-123"
OTHER_KEY = "other-key-456"


# MARK: the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, api_keys=(), python=None):
        self.monitor = tempfile.mkdtemp(prefix="gym-browser-monitor-")
        self.api_port, self.files_port = free_port(), free_port()
        self.log_path = os.path.join(tempfile.gettempdir(), f"gym-browser-server-{self.api_port}.log")
        self.log = open(self.log_path, "w")
        command = [binary, "--host", "127.0.0.1", "--port", str(self.api_port), "--files-port", str(self.files_port),
                   "--monitor-dir", self.monitor]
        for key in api_keys:
            command += ["--api-key", key]
        # Bridged environments only with --python, whatever the environment names.
        environment = {name: value for name, value in os.environ.items() if name != "GYM_SERVER_PYTHON"}
        if python:
            # Bridged environments, with the bridge tests' own (bridge/tests/gym_server_test_envs.py).
            command += ["--python", python, "--python-import", "gym_server_test_envs"]
            environment["PYTHONPATH"] = os.path.join(ROOT, "bridge", "tests")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=environment)
        self.api = f"http://127.0.0.1:{self.api_port}/v1"
        self.files = f"http://127.0.0.1:{self.files_port}"
        self.websocket = f"ws://127.0.0.1:{self.api_port}/gym"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.api}/help", timeout=1).read()
                urllib.request.urlopen(f"{self.files}/config.json", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop(keep_log=True)
        raise RuntimeError("the server did not start")

    def post(self, path, body=None, key=None):
        data = json.dumps(body if body is not None else {}).encode()
        headers = {"Content-Type": "application/json"}
        if key:
            headers["X-API-Key"] = key
        request = urllib.request.Request(f"{self.api}{path}", data=data, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def create(self, env_id="CartPole-v1", seed=None, key=None):
        body = {"env_id": env_id}
        if seed is not None:
            body["seed"] = seed
        return self.post("/envs/", body, key=key)["instance_id"]

    def episode(self, instance, rng, render=False, pause=0.0, key=None, stop=None):
        """One episode with random actions (until done, or until stop is set); returns its length."""
        self.post(f"/envs/{instance}/reset/", {"render": render}, key=key)
        steps = 0
        while not (stop and stop.is_set()):
            answer = self.post(f"/envs/{instance}/step/", {"action": rng.randrange(2), "render": render}, key=key)
            steps += 1
            if pause:
                time.sleep(pause)
            if answer["done"]:
                break
        return steps

    def stop(self, keep_log=False):
        """Stops the server and removes its monitor directory; its log too, unless keep_log."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
        self.log.close()
        shutil.rmtree(self.monitor, ignore_errors=True)
        if keep_log:
            print(f"server log: {self.log_path}")
        else:
            with contextlib.suppress(OSError):
                os.remove(self.log_path)


class Gymie:
    """Gymie's protocol over an open WebSocket: a JSON request, a JSON (or bare) answer."""

    def __init__(self, connection):
        self.connection = connection

    def call(self, method, **params):
        self.connection.send(json.dumps({"method": method, "params": params}))
        return self.connection.recv(timeout=30)


class Stepper:
    """Plays episodes in a thread until stopped, so pages have frames to show."""

    def __init__(self, play):
        self.stop_event = threading.Event()
        self.errors = []

        def run():
            while not self.stop_event.is_set():
                try:
                    play(self.stop_event)
                except Exception as error:  # noqa: BLE001
                    self.errors.append(repr(error))
                    time.sleep(0.1)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=10)


# MARK: the browser

class Page:
    """A Playwright page with the helpers the tests use; collects the page's script errors."""

    def __init__(self, context):
        self.page = context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        # console.error() calls; not "Failed to load resource" (a 401 or 404 the page handles).
        self.page.on("console", lambda message: self.errors.append(message.text)
                     if message.type == "error" and not message.text.startswith("Failed to load resource") else None)

    def navigate(self, url):
        return self.page.goto(url, wait_until="load", timeout=15000)

    def evaluate(self, expression, argument=None):
        return self.page.evaluate(expression, argument)

    def wait(self, expression, timeout=10.0):
        """The expression's value once truthy, or None after timeout seconds."""
        guarded = f"() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }}"
        try:
            return self.page.wait_for_function(guarded, timeout=timeout * 1000, polling=50).json_value()
        except PlaywrightError:
            return None

    def screenshot(self, path, full_page=False):
        return self.page.screenshot(path=path, full_page=full_page)

    def close(self):
        with contextlib.suppress(PlaywrightError):
            self.page.close()


# MARK: the tests

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok    {name}" + (f"  ({detail})" if detail else ""))
        else:
            self.failed += 1
            print(f"  FAIL  {name}" + (f"  ({detail})" if detail else ""))
        return condition


def card_selector(section, instance):
    return f"document.querySelector('#{section} [data-instance=\"{instance}\"]')"


def recording_selector(directory):
    return f"document.querySelector('#recordings [data-directory=\"{directory}\"]')"


def video_plays(page, container):
    """Plays the first <video> in the element `container` (a JavaScript expression): "playing WxH,
    D s" once its time advances, else what went wrong."""
    return page.evaluate(f"""(async () => {{
        const v = ({container}).querySelector('video');
        if (!v) return 'no video element';
        v.muted = true;
        try {{ await v.play(); }} catch (e) {{ return 'play() refused: ' + e.message; }}
        const t0 = performance.now();
        while (v.currentTime === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
        const result = v.currentTime > 0 && v.videoWidth > 0
            ? 'playing ' + v.videoWidth + 'x' + v.videoHeight + ', ' + v.duration.toFixed(2) + ' s'
            : 'stuck: readyState ' + v.readyState + ', error ' + (v.error && v.error.code);
        v.pause();
        return result;
    }})()""") or ""


def zip_names(href):
    """The names in the .zip at href, or the error as a string."""
    try:
        data = urllib.request.urlopen(href, timeout=30).read()
        return zipfile.ZipFile(io.BytesIO(data)).namelist()
    except Exception as error:  # noqa: BLE001
        return str(error)


def holds_monitor_files(names, folder):
    """Whether a zip's names hold a stats file and a video under folder/ (its directory's name)."""
    return isinstance(names, list) and any(n.startswith(f"{folder}/openaigym.episode_batch.") for n in names) and \
        any(n.startswith(f"{folder}/openaigym.video.") and n.endswith(".mp4") for n in names)


def test_live_view(page, server, results, shots):
    print("live view")
    rng = random.Random(1)
    instance = server.create(seed=7)
    server.post(f"/envs/{instance}/reset/", {"seed": 7})
    page.navigate(f"{server.files}/render.html?instance_id={instance}")
    first = page.wait("Number(document.body.dataset.frames || 0) >= 1", timeout=10)
    results.check("the first frame appears without any step (rendered because someone watches)", bool(first))
    results.check("the page names the environment", page.wait("document.getElementById('env-id').textContent === 'CartPole-v1'", 5))
    src = page.evaluate("document.getElementById('frame').src.slice(0, 22)") or ""
    results.check("the frame is a PNG pushed in the event", src == "data:image/png;base64,", src)
    before = page.screenshot(os.path.join(shots, "render-1.png"))

    # Step with and without render: true; time from the answer to the frame on the page.
    latencies = []
    for n in range(1, 16):
        server.post(f"/envs/{instance}/step/", {"action": n % 2, "render": n % 3 == 0})
        t0 = time.perf_counter()
        shown = page.evaluate(
            """(n) => new Promise((resolve) => {
                const done = () => document.body.dataset.step === String(n);
                if (done()) return resolve(true);
                const o = new MutationObserver(() => { if (done()) { o.disconnect(); resolve(true); } });
                o.observe(document.body, {attributes: true});
                setTimeout(() => resolve(false), 3000);
            })""", n)
        if shown:
            latencies.append((time.perf_counter() - t0) * 1000)
    results.check("every step shows up in the page", len(latencies) == 15, f"{len(latencies)}/15")
    if latencies:
        latencies.sort()
        print(f"        step answered -> frame in the DOM: median {latencies[len(latencies) // 2]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms (includes a Playwright round trip)")
        results.check("a new frame shows within ~100 ms", latencies[len(latencies) // 2] < 100)
    time.sleep(0.3)
    after = page.screenshot(os.path.join(shots, "render-2.png"))
    results.check("the picture changed between the screenshots", hashlib.sha256(before).digest() != hashlib.sha256(after).digest())
    step_text = page.evaluate("document.getElementById('step').textContent")
    results.check("the step counter reads 15", step_text == "15", step_text)

    # A whole episode at the environment's pace, watched: frames keep flowing.
    shown_before = int(page.evaluate("document.body.dataset.frames") or 0)
    server.episode(instance, rng, pause=0.02)
    time.sleep(0.3)
    shown_after = int(page.evaluate("document.body.dataset.frames") or 0)
    results.check("an episode stepped without render: true still plays in the view", shown_after - shown_before >= 5,
                  f"{shown_after - shown_before} frames")
    page.screenshot(os.path.join(shots, "render-3.png"))

    # The page without an id lists the instances.
    page.navigate(f"{server.files}/render.html")
    listed = page.wait(f"document.querySelector('#picker-list a[href*=\"{instance}\"]') !== null", 10)
    results.check("without an id the live view lists the instances (/_live/instances)", bool(listed))
    page.screenshot(os.path.join(shots, "render-picker.png"))
    server.post(f"/envs/{instance}/close/")


def test_bridged_instance(page, server, results, shots):
    """A bridged environment (LunarLander-v3 in a Python worker) in the live view and the dashboard."""
    print("bridged environment (LunarLander-v3)")
    instance = server.create("LunarLander-v3", seed=3)
    server.post(f"/envs/{instance}/reset/", {"seed": 3})
    page.navigate(f"{server.files}/render.html?instance_id={instance}")
    first = page.wait("Number(document.body.dataset.frames || 0) >= 1", timeout=15)
    results.check("its first frame appears in the live view", bool(first))
    results.check("the page names it", page.wait("document.getElementById('env-id').textContent === 'LunarLander-v3'", 5))
    size = page.wait("(() => { const f = document.getElementById('frame'); "
                     "return f.naturalWidth ? f.naturalWidth + 'x' + f.naturalHeight : null; })()", 10)
    results.check("the frame is Gymnasium's 600x400", size == "600x400", str(size))
    before = page.screenshot(os.path.join(shots, "bridged-1.png"))
    for n in range(1, 21):
        server.post(f"/envs/{instance}/step/", {"action": 2 if n % 2 else 0})
    shown = page.wait("document.body.dataset.step === '20'", 10)
    results.check("its steps show up in the page", bool(shown), str(page.evaluate("document.body.dataset.step")))
    time.sleep(0.3)
    after = page.screenshot(os.path.join(shots, "bridged-2.png"))
    results.check("the lander moved between the screenshots", hashlib.sha256(before).digest() != hashlib.sha256(after).digest())
    page.navigate(f"{server.files}/")
    card = card_selector("live", instance)
    results.check("the dashboard has its card", bool(page.wait(f"{card} !== null", 10)))
    server.post(f"/envs/{instance}/step/", {"action": 1})
    results.check("with a live thumbnail", bool(page.wait(f"Number({card}.dataset.frames || 0) >= 1", 10)))
    page.screenshot(os.path.join(shots, "bridged-dashboard.png"))
    server.post(f"/envs/{instance}/close/")


def test_dashboard(page, server, results, shots):
    print("dashboard")
    rng = random.Random(2)
    # An instance with a monitor (the default directory, <id>/simulation): 12 episodes, videos of
    # episodes 0, 1 and 8.
    live = server.create(seed=3)
    try:
        server.post(f"/envs/{live}/monitor/start/")
    except urllib.error.HTTPError as error:
        results.check("POST /v1/envs/{id}/monitor/start/ starts a monitor", False, f"{error.code}: {error.read()[:200]!r}")
        return
    lengths = [server.episode(live, rng) for _ in range(12)]
    server.post(f"/envs/{live}/monitor/close/")
    server.post(f"/envs/{live}/reset/", {"seed": 5})
    # A second one, monitored and then closed: it shows under "Recorded".
    gone = server.create(seed=4)
    server.post(f"/envs/{gone}/monitor/start/")
    for _ in range(3):
        server.episode(gone, rng, render=True)
    server.post(f"/envs/{gone}/close/")

    stepper = Stepper(lambda stop: server.episode(live, rng, pause=0.02, stop=stop))
    try:
        page.navigate(f"{server.files}/")
        card = card_selector("live", live)
        results.check("the live instance has a card", bool(page.wait(f"{card} !== null", 10)))
        results.check("its thumbnail is live", bool(page.wait(f"Number({card}.dataset.frames || 0) >= 3", 10)))
        episodes = page.wait(f"Number({card}.dataset.episodes || 0)", 10)
        results.check("the plot has the monitor's episodes", episodes == len(lengths), f"{episodes} of {len(lengths)}")
        painted = page.evaluate(f"""(() => {{
            const c = {card}.querySelector('canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 2] < 200)) ink++;
            return ink;
        }})()""")
        results.check("the plot is drawn on its canvas", (painted or 0) > 200, f"{painted} inked pixels")
        videos = page.evaluate(f"{card}.querySelectorAll('.videos .list button').length")
        results.check("its videos are listed (episodes 0, 1 and 8)", videos == 3, f"{videos}")
        plays = video_plays(page, card)
        results.check("a recorded video plays in <video>", plays.startswith("playing"), plays)
        # The card points at its monitor's directory, <id>/simulation: the zip holds simulation/.
        zip_href = page.evaluate(f"{card}.querySelector('a[download]').href")
        names = zip_names(zip_href)
        results.check("the .zip link holds the monitor directory",
                      zip_href.endswith(f"/{live}/simulation.zip") and holds_monitor_files(names, "simulation"),
                      f"{zip_href}: {len(names) if isinstance(names, list) else names} entries")
        recorded = page.wait(f"{card_selector('recorded', gone)} !== null", 10)
        results.check("a closed instance with files is under Recorded", bool(recorded))
        page.wait(f"document.querySelector('#recorded [data-instance=\"{gone}\"] img:not([hidden])') !== null", 5)
        time.sleep(0.5)
        page.screenshot(os.path.join(shots, "dashboard.png"))
        page.screenshot(os.path.join(shots, "dashboard-full.png"), full_page=True)

        # The listings.
        page.navigate(f"{server.files}/{live}/simulation/")
        results.check("the directory listing lists the stats file",
                      bool(page.wait("document.body.textContent.includes('stats.json')", 5)))
        page.screenshot(os.path.join(shots, "listing.png"))
        page.navigate(f"{server.files}/_files/")
        page.screenshot(os.path.join(shots, "listing-root.png"))
    finally:
        stepper.stop()
    server.post(f"/envs/{live}/close/")


def test_recordings(page, server, results, shots):
    """Monitor directories a client named: the live cards and the Recordings section."""
    print("recordings wherever their directory is")
    rng = random.Random(5)
    # A named directory, every episode of old gym's schedule filmed (0, 1 of these 5).
    named = server.create(seed=11)
    try:
        answer = server.post(f"/envs/{named}/monitor/start/", {"directory": "runs/cartpole", "video_callable": True})
    except urllib.error.HTTPError as error:
        results.check("monitor/start into runs/cartpole", False, f"{error.code}: {error.read()[:200]!r}")
        return
    results.check("monitor/start answers where it records", answer.get("directory") == "runs/cartpole", json.dumps(answer))
    for _ in range(5):
        server.episode(named, rng)
    # openai's example_agent.py: an absolute directory, force, random episodes, then monitor/close.
    agent = server.create(seed=12)
    answer = server.post(f"/envs/{agent}/monitor/start/", {"directory": "/tmp/random-agent-results", "force": True})
    results.check("an absolute directory lands under the root", answer.get("directory") == "tmp/random-agent-results",
                  json.dumps(answer))
    for _ in range(5):
        server.episode(agent, rng)
    server.post(f"/envs/{agent}/monitor/close/")
    # Recorded, then the instance closed before the page opens.
    finished = server.create(seed=13)
    server.post(f"/envs/{finished}/monitor/start/", {"directory": "runs/finished"})
    for _ in range(3):
        server.episode(finished, rng)
    server.post(f"/envs/{finished}/close/")
    # The default directory, <id>/simulation, of an instance that rendered frames, then closed: its
    # closed card shows the last frame and links to the recording rather than plotting it again.
    default = server.create(seed=14)
    server.post(f"/envs/{default}/monitor/start/")
    for _ in range(2):
        server.episode(default, rng, render=True)
    server.post(f"/envs/{default}/close/")

    page.navigate(f"{server.files}/")
    for instance, directory, count in ((named, "runs/cartpole", 5), (agent, "tmp/random-agent-results", 5)):
        card = card_selector("live", instance)
        if not results.check(f"the live card of the instance recording into {directory}", bool(page.wait(f"{card} !== null", 10))):
            continue
        episodes = page.wait(f"Number({card}.dataset.episodes || 0) === {count} && {count}", 10)
        results.check("  plots that directory's episodes", episodes == count,
                      f"{page.evaluate(f'{card}.dataset.episodes')} of {count}")
        plays = video_plays(page, card)
        results.check("  plays its video", plays.startswith("playing"), plays)
        links = page.evaluate(f"[...{card}.querySelectorAll('footer a')].map((a) => a.getAttribute('href'))")
        results.check("  its Files and .zip buttons point at the directory",
                      f"/{directory}/" in links and f"/{directory}.zip" in links, str(links))

    # An episode ends while the page is open: the card and the recording follow.
    card = card_selector("live", named)
    t0 = time.perf_counter()
    server.episode(named, rng)
    updated = page.wait(f"{card}.dataset.episodes === '6'", 10)
    results.check("an episode that ends shows on the live card", bool(updated),
                  f"after {time.perf_counter() - t0:.1f} s" if updated else str(page.evaluate(f"{card}.dataset.episodes")))

    expected = (("runs/cartpole", 6, named), ("tmp/random-agent-results", 5, None), ("runs/finished", 3, None),
                (f"{default}/simulation", 2, None))
    for directory, count, recording_by in expected:
        recording = recording_selector(directory)
        if not results.check(f"Recordings lists {directory}", bool(page.wait(f"{recording} !== null", 10))):
            continue
        page.evaluate(f"{recording}.scrollIntoView({{block: 'center'}})")
        episodes = page.wait(f"Number({recording}.dataset.episodes || 0) === {count} && {count}", 10)
        results.check("  with its episodes plotted", episodes == count,
                      f"{page.evaluate(f'{recording}.dataset.episodes')} of {count}")
        facts = page.evaluate(f"""[...{recording}.querySelectorAll('.facts > :not([hidden])')]
                                  .map((e) => e.textContent + (e.title ? ' (' + e.title + ')' : ''))""") or []
        results.check("  its env id, episode count and last write (with the date)",
                      facts[:2] == ["CartPole-v1", f"{count} episode{'s' if count != 1 else ''}"]
                      and len(facts) > 2 and facts[2].startswith("written ") and "(" in facts[2], " · ".join(facts))
        plays = video_plays(page, recording)
        results.check("  a video that plays", plays.startswith("playing"), plays)
        zip_href = page.evaluate(f"{recording}.querySelector('a[download]').href")
        names = zip_names(zip_href)
        results.check("  and a .zip of it", holds_monitor_files(names, directory.split("/")[-1]),
                      f"{zip_href}: {len(names) if isinstance(names, list) else names} entries")
        marked = page.evaluate(f"""(() => {{
            const r = {recording};
            const link = r.querySelector('a[href^="/render.html"]');
            return [r.dataset.recording, link && !link.closest('[hidden]') ? link.getAttribute('href') : null];
        }})()""")
        if recording_by:
            results.check("  marked as recording now, with a link to its live view",
                          marked == ["true", f"/render.html?instance_id={recording_by}"], str(marked))
        else:
            results.check("  not marked as recording", marked == ["false", None], str(marked))
    order = page.evaluate("[...document.querySelectorAll('#recordings [data-directory]')].map((r) => r.dataset.directory)")
    results.check("the newest write first", bool(order) and order[0] == "runs/cartpole", str(order))

    closed = card_selector("recorded", default)
    shown = page.wait(f"{closed} && !{closed}.hidden && {closed}.querySelector('img:not([hidden])') !== null", 20)
    results.check("the closed instance whose recording is listed keeps its card with its last frame", bool(shown))
    link = page.wait(f"{closed}.querySelector('a[href=\"#recording-{default}/simulation\"]') !== null"
                     f" && {closed}.querySelector('.episodes').hidden", 20)
    results.check("  which links to the recording instead of plotting it twice", bool(link))
    results.check("a closed instance with no folder of its own has no card of its own",
                  page.evaluate(f"{card_selector('recorded', finished)} === null") is True)

    # Nothing changes: no stats file is read again however often the page refreshes.
    requested = []

    def count_stats(request):
        if request.url.endswith(".stats.json"):
            requested.append(request.url)

    page.page.on("request", count_stats)
    time.sleep(4.5)
    page.page.remove_listener("request", count_stats)
    results.check("no stats file is fetched again while nothing changes", not requested, f"{len(requested)} requests")

    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(0.3)
    page.screenshot(os.path.join(shots, "recordings-live.png"))
    page.screenshot(os.path.join(shots, "recordings-full.png"), full_page=True)
    # The section's top just under the page's sticky bar.
    page.evaluate("window.scrollTo(0, document.getElementById('recordings-section').offsetTop - 56)")
    time.sleep(0.3)
    page.screenshot(os.path.join(shots, "recordings.png"))

    # The instance closes while the page is open: its card goes, its recording stays, not recording.
    server.post(f"/envs/{named}/close/")
    gone = page.wait(f"{card} === null && {recording_selector('runs/cartpole')}.dataset.recording === 'false'", 10)
    results.check("closing the instance keeps its recording listed, no longer recording", bool(gone))
    server.post(f"/envs/{agent}/close/")


def test_websocket_instance(page, server, results, shots):
    print("an instance made over the WebSocket")
    with websocket_connect(server.websocket, open_timeout=10, close_timeout=2) as connection:
        gymie = Gymie(connection)
        instance = gymie.call("make", env_id="CartPole-v1")
        if not results.check("make answers the bare 32-hex instance id", re.fullmatch(r"[0-9a-f]{32}", instance or ""),
                             (instance or "")[:80]):
            return
        gymie.call("reset", instance_id=instance)
        answer = json.loads(gymie.call("step", instance_id=instance, action=0))
        results.check("step answers [obs, reward, done, info]",
                      isinstance(answer, list) and len(answer) == 4 and isinstance(answer[0], list) and len(answer[0]) == 4
                      and isinstance(answer[2], bool) and isinstance(answer[3], dict), json.dumps(answer)[:120])
        lock = threading.Lock()
        rng = random.Random(3)

        def play(stop):
            with lock:
                gymie.call("reset", instance_id=instance)
            while not stop.is_set():
                with lock:
                    step = json.loads(gymie.call("step", instance_id=instance, action=rng.randrange(2)))
                time.sleep(0.02)
                if step[2]:
                    return

        stepper = Stepper(play)
        try:
            page.navigate(f"{server.files}/")
            card = card_selector("live", instance)
            results.check("the dashboard has a card for it", bool(page.wait(f"{card} !== null", 10)))
            results.check("its thumbnail is live", bool(page.wait(f"Number({card}.dataset.frames || 0) >= 3", 10)))
            title = page.evaluate(f"{card} && {card}.querySelector('h2').textContent")
            results.check("the card names the environment", title == "CartPole-v1", title)
            page.screenshot(os.path.join(shots, "websocket-dashboard.png"))
        finally:
            stepper.stop()
        results.check("the stepping thread had no errors", not stepper.errors, "; ".join(stepper.errors[:2]))

        # The live view of that id: a reset and five steps, each shown with its step number.
        page.navigate(f"{server.files}/render.html?instance_id={instance}")
        results.check("the live view shows its first frame", bool(page.wait("Number(document.body.dataset.frames || 0) >= 1", 10)))
        gymie.call("reset", instance_id=instance)
        page.wait("document.body.dataset.step === '0'", 5)
        shown = 0
        for n in range(1, 6):
            gymie.call("step", instance_id=instance, action=n % 2)
            if page.wait(f"document.body.dataset.step === '{n}'", 5):
                shown += 1
        results.check("every step over the WebSocket shows up in the live view", shown == 5, f"{shown}/5")
        env_id = page.evaluate("document.getElementById('env-id').textContent")
        results.check("the live view names the environment", env_id == "CartPole-v1", env_id)
        page.screenshot(os.path.join(shots, "websocket-render.png"))
        gymie.call("close", instance_id=instance)


def test_api_keys(browser, binary, results, shots):
    print("API keys")
    try:
        server = Server(binary, api_keys=(KEY, OTHER_KEY))
    except RuntimeError as error:
        results.check("a server with two --api-key starts", False, str(error))
        return
    failed_before = results.failed
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = Page(context)
    stepper = None
    try:
        mine = server.create(key=KEY)
        theirs = server.create(key=OTHER_KEY)
        server.post(f"/envs/{theirs}/reset/", key=OTHER_KEY)
        rng = random.Random(4)
        stepper = Stepper(lambda stop: server.episode(mine, rng, pause=0.02, key=KEY, stop=stop))

        page.navigate(f"{server.files}/")
        notice = page.wait("(document.getElementById('notice').textContent.includes('API key')"
                           " && document.getElementById('notice').textContent)", 10)
        results.check("without a key the dashboard loads and says an API key is needed", bool(notice), notice or "")
        results.check("and shows no instance", page.evaluate("document.querySelectorAll('[data-instance]').length") == 0)
        page.screenshot(os.path.join(shots, "keys-needed.png"))

        response = page.navigate(f"{server.files}/?key={KEY}")
        results.check("/?key= redirects to / (the address no longer holds the key)",
                      page.page.url == f"{server.files}/" and response is not None
                      and response.request.redirected_from is not None, page.page.url)
        cookies = [c for c in context.cookies(server.files) if c["value"] == KEY]
        results.check("the key is kept in an HttpOnly, SameSite=Strict cookie",
                      len(cookies) == 1 and cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict",
                      ", ".join(f"{c['name']}: httpOnly {c['httpOnly']}, sameSite {c['sameSite']}" for c in cookies))
        results.check("page scripts cannot read it", KEY not in (page.evaluate("document.cookie") or ""))
        card = card_selector("live", mine)
        results.check("the dashboard shows the key's instance", bool(page.wait(f"{card} !== null", 10)))
        results.check("its thumbnail is live", bool(page.wait(f"Number({card}.dataset.frames || 0) >= 3", 10)))
        results.check("the key notice is gone", bool(page.wait("document.getElementById('notice').textContent === ''", 5)))
        shown = page.evaluate(f"document.body.innerHTML.includes('{theirs}')")
        results.check("another key's instance is not shown", shown is False)
        time.sleep(0.3)
        page.screenshot(os.path.join(shots, "keys-dashboard.png"))
        results.check("no script errors in the pages", not page.errors, "; ".join(page.errors[:3]))
    finally:
        if stepper:
            stepper.stop()
        page.close()
        context.close()
        server.stop(keep_log=results.failed > failed_before)


def test_shutdown_with_open_stream(page, server, results):
    print("shutdown")
    instance = server.create()
    server.post(f"/envs/{instance}/reset/")
    page.navigate(f"{server.files}/render.html?instance_id={instance}")
    page.wait("Number(document.body.dataset.frames || 0) >= 1", 10)
    t0 = time.time()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
        elapsed = time.time() - t0
        results.check("SIGTERM stops the server while a live stream is open", elapsed < 5, f"{elapsed:.2f} s")
    except subprocess.TimeoutExpired:
        results.check("SIGTERM stops the server while a live stream is open", False, "still running after 10 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.path.join(ROOT, ".build", "release", "gym-server"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium",
                        help="Debian's chromium, which Playwright launches (no browser is downloaded)")
    parser.add_argument("--screenshots", default=os.path.join(ROOT, ".tmp", "browser"))
    parser.add_argument("--python", default=os.environ.get("GYM_TEST_BRIDGE_PYTHON"),
                        help="a Python with gymnasium and box2d: the server bridges LunarLander-v3 with it")
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    if not os.path.exists(args.server):
        sys.exit(f"no server binary at {args.server}: run `make release`")
    if not os.path.exists(args.chromium):
        sys.exit(f"no chromium at {args.chromium}: apt-get install chromium")

    results = Results()
    server = Server(args.server, python=args.python)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, headless=True,
                args=["--disable-gpu", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"])
            try:
                page = Page(browser.new_context(viewport=VIEWPORT, device_scale_factor=1))
                test_live_view(page, server, results, args.screenshots)
                test_dashboard(page, server, results, args.screenshots)
                test_recordings(page, server, results, args.screenshots)
                test_websocket_instance(page, server, results, args.screenshots)
                if args.python:
                    test_bridged_instance(page, server, results, args.screenshots)
                else:
                    print("SKIP the bridged environment: no --python (GYM_TEST_BRIDGE_PYTHON)")
                results.check("no script errors in the pages", not page.errors, "; ".join(page.errors[:3]))
                test_api_keys(browser, args.server, results, args.screenshots)
                test_shutdown_with_open_stream(page, server, results)
            finally:
                browser.close()
    except Exception as error:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        results.check("the browser tests ran to the end", False, repr(error))
    finally:
        server.stop(keep_log=results.failed > 0)
    print(f"screenshots in {args.screenshots}")
    print(f"{results.passed} passed, {results.failed} failed")
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    main()
