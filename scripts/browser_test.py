#!/usr/bin/env python3
"""Browser tests of port 8000: a real headless Chromium drives the live view and the dashboard.

    scripts/browser_test.py [--server .build/release/gym-server] [--chromium chromium]
                            [--screenshots .tmp/browser] [--keep]

Starts the release server on free ports with a fresh monitor directory, creates CartPole
instances through the API, and checks, in the browser:
  * the live view shows the instance's frames as it is stepped (the frame and the step counter
    change; screenshots differ), and how long a step takes to show;
  * the dashboard shows the instance with a live thumbnail, a reward plot drawn from the
    monitor's stats file, a recorded video that plays, and a .zip of the monitor directory;
  * the server stops promptly on SIGTERM while a browser holds a live stream open.
Screenshots land in --screenshots. Prints "N passed, N failed"; exits 1 on any failure.

Needs only Python's standard library (the DevTools protocol is spoken over a small WebSocket
client below) and Debian's chromium package.
"""
import argparse
import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# MARK: a minimal WebSocket client (RFC 6455), enough for the DevTools protocol

class WebSocket:
    def __init__(self, url):
        assert url.startswith("ws://")
        rest = url[5:]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake failed")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def send(self, text):
        payload = text.encode()
        header = bytearray([0x81])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, final = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            if b1 & 0x80:
                mask = self._read(4)
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(n)))
            else:
                data = self._read(n)
            if opcode == 0x8:
                raise ConnectionError("websocket closed by peer")
            if opcode in (0x9, 0xA):
                continue
            message += data
            if final:
                return message.decode()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, chromium, width=1360, height=1000):
        self.profile = tempfile.mkdtemp(prefix="gym-browser-")
        port = free_port()
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", f"--remote-debugging-port={port}",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        targets = None
        while time.time() < deadline:
            try:
                targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2).read())
                if any(t.get("type") == "page" for t in targets):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        page = next((t for t in targets or [] if t.get("type") == "page"), None)
        if page is None:
            raise RuntimeError("chromium did not start (no DevTools page)")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.console = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if message.get("method") == "Runtime.exceptionThrown":
                self.console.append(message["params"]["exceptionDetails"].get("text", "exception"))
            if message.get("method") == "Runtime.consoleAPICalled" and message["params"].get("type") == "error":
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in message["params"]["args"]))

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", timeout=15)

    def evaluate(self, expression, await_promise=False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    def wait(self, expression, timeout=10.0, interval=0.05):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with contextlib.suppress(RuntimeError):
                value = self.evaluate(expression)
                if value:
                    return value
            time.sleep(interval)
        return None

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        self.ws.close()
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


# MARK: the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary):
        self.monitor = tempfile.mkdtemp(prefix="gym-browser-monitor-")
        self.api_port, self.files_port = free_port(), free_port()
        self.log = open(os.path.join(self.monitor, "..", f"gym-browser-server-{self.api_port}.log"), "w")
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(self.api_port), "--files-port", str(self.files_port),
             "--monitor-dir", self.monitor], stdout=self.log, stderr=subprocess.STDOUT)
        self.api = f"http://127.0.0.1:{self.api_port}/v1"
        self.files = f"http://127.0.0.1:{self.files_port}"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.api}/help", timeout=1).read()
                urllib.request.urlopen(f"{self.files}/config.json", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def post(self, path, body=None):
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(f"{self.api}{path}", data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def create(self, env_id="CartPole-v1", seed=None):
        body = {"env_id": env_id}
        if seed is not None:
            body["seed"] = seed
        return self.post("/envs/", body)["instance_id"]

    def episode(self, instance, rng, render=False, pause=0.0):
        """One episode with random actions; returns its length."""
        self.post(f"/envs/{instance}/reset/", {"render": render})
        steps = 0
        while True:
            answer = self.post(f"/envs/{instance}/step/", {"action": rng.randrange(2), "render": render})
            steps += 1
            if pause:
                time.sleep(pause)
            if answer["done"]:
                return steps

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
        self.log.close()
        shutil.rmtree(self.monitor, ignore_errors=True)


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


def test_live_view(browser, server, results, shots):
    print("live view")
    rng = random.Random(1)
    instance = server.create(seed=7)
    server.post(f"/envs/{instance}/reset/", {"seed": 7})
    browser.navigate(f"{server.files}/render.html?instance_id={instance}")
    first = browser.wait("Number(document.body.dataset.frames || 0) >= 1", timeout=10)
    results.check("the first frame appears without any step (rendered because someone watches)", bool(first))
    results.check("the page names the environment", browser.wait("document.getElementById('env-id').textContent === 'CartPole-v1'", 5))
    src = browser.evaluate("document.getElementById('frame').src.slice(0, 22)") or ""
    results.check("the frame is a PNG pushed in the event", src == "data:image/png;base64,", src)
    before = browser.screenshot(os.path.join(shots, "render-1.png"))

    # Step with and without render: true; time from the answer to the frame on the page.
    latencies = []
    for n in range(1, 16):
        server.post(f"/envs/{instance}/step/", {"action": n % 2, "render": n % 3 == 0})
        t0 = time.perf_counter()
        shown = browser.evaluate(
            f"""new Promise((resolve) => {{
                const done = () => document.body.dataset.step === '{n}';
                if (done()) return resolve(true);
                const o = new MutationObserver(() => {{ if (done()) {{ o.disconnect(); resolve(true); }} }});
                o.observe(document.body, {{attributes: true}});
                setTimeout(() => resolve(false), 3000);
            }})""", await_promise=True)
        if shown:
            latencies.append((time.perf_counter() - t0) * 1000)
    results.check("every step shows up in the page", len(latencies) == 15, f"{len(latencies)}/15")
    if latencies:
        latencies.sort()
        print(f"        step answered -> frame in the DOM: median {latencies[len(latencies) // 2]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms (includes a DevTools round trip)")
        results.check("a new frame shows within ~100 ms", latencies[len(latencies) // 2] < 100)
    time.sleep(0.3)
    after = browser.screenshot(os.path.join(shots, "render-2.png"))
    results.check("the picture changed between the screenshots", hashlib.sha256(before).digest() != hashlib.sha256(after).digest())
    step_text = browser.evaluate("document.getElementById('step').textContent")
    results.check("the step counter reads 15", step_text == "15", step_text)

    # A whole episode at the environment's pace, watched: frames keep flowing.
    shown_before = int(browser.evaluate("document.body.dataset.frames") or 0)
    server.episode(instance, rng, pause=0.02)
    time.sleep(0.3)
    shown_after = int(browser.evaluate("document.body.dataset.frames") or 0)
    results.check("an episode stepped without render: true still plays in the view", shown_after - shown_before >= 5,
                  f"{shown_after - shown_before} frames")
    browser.screenshot(os.path.join(shots, "render-3.png"))

    # The page without an id lists the instances.
    browser.navigate(f"{server.files}/render.html")
    listed = browser.wait(f"document.querySelector('#picker-list a[href*=\"{instance}\"]') !== null", 10)
    results.check("without an id the live view lists the instances (through the API, CORS)", bool(listed))
    browser.screenshot(os.path.join(shots, "render-picker.png"))
    server.post(f"/envs/{instance}/close/")


def test_dashboard(browser, server, results, shots):
    print("dashboard")
    rng = random.Random(2)
    # An instance with a monitor: 12 episodes, videos of episodes 0, 1 and 8.
    live = server.create(seed=3)
    try:
        server.post(f"/envs/{live}/monitor/start/", {"force": True})
    except urllib.error.HTTPError as error:
        results.check("POST /v1/envs/{id}/monitor/start/ exists", False, f"{error.code}")
        return
    lengths = [server.episode(live, rng) for _ in range(12)]
    server.post(f"/envs/{live}/monitor/close/")
    server.post(f"/envs/{live}/reset/", {"seed": 5})
    # A second one, monitored and then closed: it shows under "Recorded".
    gone = server.create(seed=4)
    server.post(f"/envs/{gone}/monitor/start/", {"force": True})
    for _ in range(3):
        server.episode(gone, rng, render=True)
    server.post(f"/envs/{gone}/close/")

    stop = threading.Event()

    def keep_stepping():
        while not stop.is_set():
            with contextlib.suppress(Exception):
                server.episode(live, rng, pause=0.02)

    stepper = threading.Thread(target=keep_stepping, daemon=True)
    stepper.start()
    try:
        browser.navigate(f"{server.files}/")
        card = f"document.querySelector('#live [data-instance=\"{live}\"]')"
        results.check("the live instance has a card", bool(browser.wait(f"{card} !== null", 10)))
        results.check("its thumbnail is live", bool(browser.wait(f"Number({card}.dataset.frames || 0) >= 3", 10)))
        episodes = browser.wait(f"Number({card}.dataset.episodes || 0)", 10)
        results.check("the plot has the monitor's episodes", episodes == len(lengths), f"{episodes} of {len(lengths)}")
        painted = browser.evaluate(f"""(() => {{
            const c = {card}.querySelector('canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 2] < 200)) ink++;
            return ink;
        }})()""")
        results.check("the plot is drawn on its canvas", (painted or 0) > 200, f"{painted} inked pixels")
        videos = browser.evaluate(f"{card}.querySelectorAll('.videos .list button').length")
        results.check("its videos are listed (episodes 0, 1 and 8)", videos == 3, f"{videos}")
        plays = browser.evaluate(f"""(async () => {{
            const v = {card}.querySelector('video');
            if (!v) return 'no video element';
            v.muted = true;
            try {{ await v.play(); }} catch (e) {{ return 'play() refused: ' + e.message; }}
            const t0 = performance.now();
            while (v.currentTime === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
            const result = v.currentTime > 0 ? 'playing ' + v.videoWidth + 'x' + v.videoHeight + ', ' + v.duration.toFixed(2) + ' s'
                                             : 'stuck: readyState ' + v.readyState + ', error ' + (v.error && v.error.code);
            v.pause();
            return result;
        }})()""", await_promise=True) or ""
        results.check("a recorded video plays in <video>", plays.startswith("playing"), plays)
        zip_href = browser.evaluate(f"{card}.querySelector('a[download]').href")
        try:
            data = urllib.request.urlopen(zip_href, timeout=30).read()
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
            ok = any(n.startswith(f"{live}/simulation/openaigym.episode_batch.") for n in names) and \
                any(n.endswith(".mp4") for n in names)
            results.check("the .zip link holds the monitor directory", ok, f"{len(names)} entries, {len(data)} bytes")
        except Exception as error:  # noqa: BLE001
            results.check("the .zip link holds the monitor directory", False, str(error))
        recorded = browser.wait(f"document.querySelector('#recorded [data-instance=\"{gone}\"]') !== null", 10)
        results.check("a closed instance with files is under Recorded", bool(recorded))
        browser.wait(f"document.querySelector('#recorded [data-instance=\"{gone}\"] img:not([hidden])') !== null", 5)
        time.sleep(0.5)
        browser.screenshot(os.path.join(shots, "dashboard.png"))
        browser.screenshot(os.path.join(shots, "dashboard-full.png"), full_page=True)

        # The listings.
        browser.navigate(f"{server.files}/{live}/simulation/")
        results.check("the directory listing lists the stats file",
                      bool(browser.wait("document.body.textContent.includes('stats.json')", 5)))
        browser.screenshot(os.path.join(shots, "listing.png"))
        browser.navigate(f"{server.files}/_files/")
        browser.screenshot(os.path.join(shots, "listing-root.png"))
    finally:
        stop.set()
        stepper.join(timeout=10)
    errors = [e for e in browser.console if "favicon" not in e]
    results.check("no script errors in the pages", not errors, "; ".join(errors[:3]))


def test_shutdown_with_open_stream(browser, server, results):
    print("shutdown")
    instance = server.create()
    server.post(f"/envs/{instance}/reset/")
    browser.navigate(f"{server.files}/render.html?instance_id={instance}")
    browser.wait("Number(document.body.dataset.frames || 0) >= 1", 10)
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
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    parser.add_argument("--screenshots", default=os.path.join(ROOT, ".tmp", "browser"))
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    if not os.path.exists(args.server):
        sys.exit(f"no server binary at {args.server}: run `make release`")
    if not shutil.which(args.chromium) and not os.path.exists(args.chromium):
        sys.exit(f"no chromium ({args.chromium}): apt-get install chromium")

    results = Results()
    server = Server(args.server)
    browser = None
    try:
        browser = Browser(args.chromium)
        test_live_view(browser, server, results, args.screenshots)
        test_dashboard(browser, server, results, args.screenshots)
        test_shutdown_with_open_stream(browser, server, results)
    except Exception as error:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        results.check("the browser tests ran to the end", False, repr(error))
    finally:
        if browser:
            browser.close()
        server.stop()
    print(f"screenshots in {args.screenshots}")
    print(f"{results.passed} passed, {results.failed} failed")
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    main()
