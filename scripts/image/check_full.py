"""The checks of the image's `full` target (and of examples/docker/Dockerfile.lab built on it)
that need Python: bridged environments created through the API of the server the image runs,
against Gymnasium run here, in process.

Run by scripts/image/test-image.sh in the container's network namespace, with a Python that has
the image's gymnasium and box2d (.venv/bridge; the versions are checked against the image's pins):

    python check_full.py --mode full --volume DIR --lock requirements-full.txt [--api URL] [--files URL] [--seed N]
    python check_full.py --mode lab  --volume DIR --lock requirements-full.txt

full: LunarLander-v3, HalfCheetah-v5 and ALE/Pong-v5 are bridged; each is created, seeded and
stepped to its episode's end (Pong and HalfCheetah truncated by the max_episode_steps kwarg) with
the monitor on and actions drawn from a seeded generator; `render: true` frames (reset and first
step) and the live view's frame (an event stream open, then /_live/<id>/frame.png) have the
environment's own size, and a picture (not one colour); the monitor's stats hold the episode, and its video of episode 0 is H.264
of that size with one frame per step plus the reset (ffprobe). LunarLander-v3's episode equals
Gymnasium's in process step for step (observations, rewards, terminated, truncated), and so do its
frames, pixel for pixel, where this Python's pygame is the image's.
lab: Lab/GraphWalk-v0 (examples/docker/lab_envs.py, imported by the image's --python-import, with
networkx from its requirements) is listed and runs an episode; the ALE ids are still there.

Prints one `ok:` line per check; exits 1 at the first failure.
"""
import argparse
import base64
import glob
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np

# id, kwargs, frame size (width, height), episode compared with Gymnasium's in process
ENVIRONMENTS = [
    ("LunarLander-v3", {}, (600, 400), True),
    ("HalfCheetah-v5", {"max_episode_steps": 50}, (480, 480), False),
    ("ALE/Pong-v5", {"max_episode_steps": 100}, (160, 210), False),
]


class Failure(Exception):
    pass


def ok(message):
    print("  ok: " + message, flush=True)


class Server:
    def __init__(self, api, files):
        self.api = api.rstrip("/")
        self.files = files.rstrip("/")

    def call(self, method, path, body=None, timeout=120):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            raise Failure(f"{method} {path} {json.dumps(body)[:200] if body else ''}-> {error.code} {error.read()[:500]!r}")

    def file(self, path, timeout=30):
        with urllib.request.urlopen(self.files + path, timeout=timeout) as answer:
            return answer.headers.get("Content-Type"), answer.read()


def png_size(data):
    """(width, height) from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise Failure("not a PNG")
    return struct.unpack(">II", data[16:24])


def png_pixels(path):
    """The RGB pixels of a PNG file, (height, width, 3), read by pygame."""
    import pygame
    surface = pygame.image.load(path)
    return np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2))


class LiveViewer:
    """An open /_live/events stream for one instance: the live view as the page watches it."""

    def __init__(self, server, iid):
        self.hello = threading.Event()
        self.frame = threading.Event()
        self.frame_data = None
        self.error = None
        self.response = urllib.request.urlopen(f"{server.files}/_live/events?instance_id={iid}", timeout=120)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        event = None
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "hello":
                    self.hello.set()
                elif line.startswith("data:") and event == "frame":
                    self.frame_data = json.loads(line[5:])
                    self.frame.set()
                    return
        except Exception as error:  # the stream closed under us: reported by whoever waits
            self.error = error
        finally:
            self.hello.set()
            self.frame.set()

    def close(self):
        try:
            self.response.close()
        except Exception:
            pass


def ffprobe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,pix_fmt,width,height,nb_read_frames", "-of", "json", path],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]


def action_maker(server, iid, rng):
    space = server.call("GET", f"/v1/envs/{iid}/action_space/")["info"]
    if space["name"] == "Discrete":
        n, start = space["n"], space.get("start", 0)
        return space, lambda: int(start + rng.integers(n))
    if space["name"] == "Box":
        low = np.array(space["low"], dtype=np.float32)
        high = np.array(space["high"], dtype=np.float32)
        return space, lambda: rng.uniform(low, high).astype(np.float32).tolist()
    raise Failure(f"no action maker for {space}")


def run_monitored_episode(server, volume, env_id, kwargs, size, seed):
    """Creates, monitors, renders and steps env_id to its episode's end; checks frames and video.
    Returns (instance id, reset answer, step answers, actions)."""
    t0 = time.monotonic()
    iid = server.call("POST", "/v1/envs/", {"env_id": env_id, "kwargs": kwargs})["instance_id"]
    created = time.monotonic() - t0
    _, next_action = action_maker(server, iid, np.random.default_rng(seed))
    server.call("POST", f"/v1/envs/{iid}/monitor/start/", {})
    viewer = LiveViewer(server, iid)
    if not viewer.hello.wait(30) or viewer.error:
        raise Failure(f"{env_id}: the live view's event stream did not say hello ({viewer.error})")
    reset = server.call("POST", f"/v1/envs/{iid}/reset/", {"seed": seed, "render": True})
    if reset.get("render") != "successfully rendered: 0.png":
        raise Failure(f"{env_id}: reset with render: true answered render={reset.get('render')!r}")
    if not viewer.frame.wait(30) or viewer.frame_data is None:
        raise Failure(f"{env_id}: no frame event on the live view's stream ({viewer.error})")
    live_event = png_size(base64.b64decode(viewer.frame_data["png"]))
    content_type, live_png = server.file(f"/_live/{iid}/frame.png")
    viewer.close()
    if content_type != "image/png" or png_size(live_png) != size or live_event != size:
        raise Failure(f"{env_id}: live frames {live_event} and {content_type} {png_size(live_png)}, want image/png {size}")

    steps, actions = [], []
    t1 = time.monotonic()
    while True:
        action = next_action()
        actions.append(action)
        answer = server.call("POST", f"/v1/envs/{iid}/step/", {"action": action, "render": len(steps) == 0})
        steps.append(answer)
        if answer["done"]:
            break
        if len(steps) > 5000:
            raise Failure(f"{env_id}: no episode end within 5000 steps")
    stepping = time.monotonic() - t1
    server.call("POST", f"/v1/envs/{iid}/monitor/close/")

    rendered = [os.path.join(volume, iid, "rendered", f"{n}.png") for n in (0, 1)]
    for path in rendered:
        with open(path, "rb") as f:
            if png_size(f.read(24)) != size:
                raise Failure(f"{env_id}: {os.path.relpath(path, volume)} is not {size[0]}x{size[1]}")
    colours = len(np.unique(png_pixels(rendered[1]).reshape(-1, 3), axis=0))
    if colours < 3:
        raise Failure(f"{env_id}: rendered/1.png is blank ({colours} colours): no picture drawn")
    simulation = os.path.join(volume, iid, "simulation")
    manifests = glob.glob(os.path.join(simulation, "openaigym.manifest.*.manifest.json"))
    if len(manifests) != 1:
        raise Failure(f"{env_id}: want one manifest in {simulation}: {os.listdir(simulation)}")
    with open(manifests[0]) as f:
        manifest = json.load(f)
    with open(os.path.join(simulation, manifest["stats"])) as f:
        stats = json.load(f)
    if stats["episode_lengths"] != [len(steps)]:
        raise Failure(f"{env_id}: stats episode_lengths {stats['episode_lengths']}, want [{len(steps)}]")
    videos = glob.glob(os.path.join(simulation, "openaigym.video.*.video000000.mp4"))
    if len(videos) != 1:
        raise Failure(f"{env_id}: no video of episode 0 in {simulation}: {os.listdir(simulation)}")
    stream = ffprobe(videos[0])
    got = (stream["codec_name"], stream["pix_fmt"], stream["width"], stream["height"], int(stream["nb_read_frames"]))
    want = ("h264", "yuv420p", size[0], size[1], len(steps) + 1)
    if got != want:
        raise Failure(f"{env_id}: video {os.path.basename(videos[0])}: {got}, want {want}")
    last = steps[-1]
    ok(f"{env_id} ({iid}, created in {created:.1f}s): {len(steps)} steps in {stepping:.1f}s to "
       f"{'terminated' if last['terminated'] else 'truncated'}; render: true and the live view "
       f"(event stream, /_live/{iid}/frame.png) {size[0]}x{size[1]}; video {got[0]} {got[2]}x{got[3]}, "
       f"{got[4]} frames (steps + 1), stats [{len(steps)}]; {colours} colours in a frame")
    return iid, reset, steps, actions


def compare_in_process(env_id, seed, reset, steps, actions, volume, iid, same_pygame):
    import gymnasium as gym
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames = [env.render()]
    if obs.tolist() != reset["observation"]:
        raise Failure(f"{env_id}: reset observation {reset['observation']} != Gymnasium's {obs.tolist()}")
    for n, (action, answer) in enumerate(zip(actions, steps), 1):
        obs, reward, terminated, truncated, _ = env.step(np.asarray(action) if isinstance(action, list) else action)
        if n == 1:
            frames.append(env.render())
        mine = (obs.tolist(), float(reward), bool(terminated), bool(truncated))
        theirs = (answer["observation"], answer["reward"], answer["terminated"], answer["truncated"])
        if mine != theirs:
            raise Failure(f"{env_id}: step {n} (action {action}): server {theirs} != Gymnasium's {mine}")
    if not (terminated or truncated):
        raise Failure(f"{env_id}: the server's episode ended at step {len(steps)}, Gymnasium's goes on")
    env.close()
    message = f"{env_id}: seed {seed}, {len(steps)} steps equal to Gymnasium {gym.__version__} in process, step for step"
    if same_pygame:
        for n, frame in enumerate(frames):
            pixels = png_pixels(os.path.join(volume, iid, "rendered", f"{n}.png"))
            if pixels.shape != frame.shape or not np.array_equal(pixels, frame):
                differing = int(np.count_nonzero(np.any(pixels != frame, axis=-1))) if pixels.shape == frame.shape else "all"
                raise Failure(f"{env_id}: rendered/{n}.png differs from Gymnasium's frame ({differing} pixels)")
        message += ", and its frames pixel for pixel"
    ok(message)


def pins(path):
    """{normalized name: version} of a requirements file of name==version lines."""
    result = {}
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                name, version = line.split("==")
                result[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return result


def check_reference(image_versions):
    """This Python's gymnasium and box2d must be the image's; numpy and pygame are reported."""
    from importlib import metadata
    mine = {name: metadata.version(name) for name in ("gymnasium", "Box2D", "numpy", "pygame")}
    notes = []
    for name, version in mine.items():
        theirs = image_versions.get(name.lower())
        if version != theirs:
            if name in ("gymnasium", "Box2D"):
                raise Failure(f"the reference Python {sys.executable} has {name} {version}, the image {theirs}: "
                              "keep scripts/image/requirements-full.txt and scripts/setup/make-venv.sh in step")
            notes.append(f"{name} {version} here, {theirs} in the image")
    ok(f"reference: Gymnasium in process in {sys.executable} ({', '.join(f'{n} {v}' for n, v in mine.items())})"
       + (f"; note: {'; '.join(notes)}" if notes else ", as in the image"))


def check_full(server, volume, seed, image_versions):
    check_reference(image_versions)
    registry = {entry["id"]: entry for entry in server.call("GET", "/v1/registry")["envs"]}
    for env_id, _, _, _ in ENVIRONMENTS:
        if registry.get(env_id, {}).get("backend") != "bridged":
            raise Failure(f"GET /v1/registry: {env_id} is {registry.get(env_id)}, want bridged")
    counts = {b: sum(e["backend"] == b for e in registry.values()) for b in ("native", "bridged")}
    ok(f"GET /v1/registry: {counts['native']} native and {counts['bridged']} bridged ids, "
       f"{', '.join(e[0] for e in ENVIRONMENTS)} bridged")
    import pygame
    same_pygame = image_versions.get("pygame") == pygame.version.ver
    for env_id, kwargs, size, compare in ENVIRONMENTS:
        iid, reset, steps, actions = run_monitored_episode(server, volume, env_id, kwargs, size, seed)
        if compare:
            compare_in_process(env_id, seed, reset, steps, actions, volume, iid, same_pygame)
        server.call("POST", f"/v1/envs/{iid}/close/")


def check_lab(server, seed):
    registry = {entry["id"]: entry for entry in server.call("GET", "/v1/registry")["envs"]}
    for env_id in ("Lab/GraphWalk-v0", "ALE/Pong-v5"):
        if registry.get(env_id, {}).get("backend") != "bridged":
            raise Failure(f"GET /v1/registry: {env_id} is {registry.get(env_id)}, want bridged")
    iid = server.call("POST", "/v1/envs/", {"env_id": "Lab/GraphWalk-v0"})["instance_id"]
    _, next_action = action_maker(server, iid, np.random.default_rng(seed))
    reset = server.call("POST", f"/v1/envs/{iid}/reset/", {"seed": seed})
    steps = []
    while not (steps and steps[-1]["done"]):
        steps.append(server.call("POST", f"/v1/envs/{iid}/step/", {"action": next_action()}))
        if len(steps) > 50:
            raise Failure("Lab/GraphWalk-v0 ran past its 50-step limit")
    last = steps[-1]
    if last["terminated"] and (last["observation"][0] != last["observation"][1] or last["reward"] != 10.0):
        raise Failure(f"Lab/GraphWalk-v0 terminated away from its goal: {last}")
    server.call("POST", f"/v1/envs/{iid}/close/")
    ok(f"Lab/GraphWalk-v0 (lab_envs, --python-import) and ALE/Pong-v5 are bridged ids; an episode from "
       f"{reset['observation']} (distance {reset['info'].get('distance')}): {len(steps)} steps to "
       f"{'the goal' if last['terminated'] else 'the time limit'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("full", "lab"), required=True)
    parser.add_argument("--volume", required=True, help="the host folder mounted on the image's /monitor")
    parser.add_argument("--api", default="http://127.0.0.1:5000")
    parser.add_argument("--files", default="http://127.0.0.1:8000")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--lock", required=True, help="the image's pins (scripts/image/requirements-full.txt)")
    args = parser.parse_args()
    server = Server(args.api, args.files)
    try:
        if args.mode == "full":
            check_full(server, args.volume, args.seed, pins(args.lock))
        else:
            check_lab(server, args.seed)
    except Failure as failure:
        print(f"check_full.py: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
