"""The files port's part of scripts/test/fuzz_api.py: docs/openapi-files.json against a live server.

  * GET /_openapi.json on the files port serves docs/openapi-files.json.
  * Real data first: instances with rendered frames, a monitor that recorded an episode (stats,
    manifest, video), and files of the kinds the port serves (text, JSON, an empty file, names
    that need percent-encoding) at a few depths.
  * The document schemathesis gets is the served one with the monitor root's paths written out:
    `/{path}` and `/{path}/` stand for one or more segments, which a path parameter cannot hold
    (schemathesis encodes a `/` in it, and the server rightly answers 404), so they become
    `/{p1}`, `/{p1}/{p2}`, `/{p1}/{p2}/{p3}` (and the same with a slash, for listings), each
    segment one of those the real paths of that depth have there (`<dir>.zip` counting as a file)
    -- or, in the invalid data, anything else. Asset names and instance ids are the real ones in
    the same way.
  * An event stream never ends by itself, so it cannot be a test case: the server runs with
    `--max-live-streams 1` and one stream held open here (which also makes the server render
    frames for `/_live/{instance_id}/frame.png`), so that every other request to `/_live/events`
    is answered at once: 400 for a bad query, 429 for a good one. The held stream's own answer is
    checked here against the document: status, content type, its `hello` event's schema.
"""

import copy
import json
import os
import threading

import requests

from e2e_support import assert_serves_document, check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "docs", "openapi-files.json")
WEB = os.path.join(ROOT, "web")
# The server options the files fuzz needs (see the module's doc).
SERVER_OPTIONS = ("--max-live-streams", "1")
MONITOR_TEMPLATES = ("/{path}", "/{path}/")
MAX_DEPTH = 3


@check("GET /_openapi.json on the files port serves docs/openapi-files.json")
def served_document(server):
    assert_serves_document(server.files + "/_openapi.json", DOCUMENT)


def make_files(server):
    """Instances with frames and a recorded episode, and files of every kind the port serves.
    Returns the ids of the instances that have frames."""
    def post(route, body=None):
        response = requests.post(server.base + route, json=body, timeout=60)
        assert response.status_code in (200, 201), (route, body, response.status_code, response.text)
        return response.json()

    rendered = []
    for env_id in ("CartPole-v1", "FrozenLake-v1", "Pendulum-v1"):
        iid = post("/v1/envs/", {"env_id": env_id, "seed": 3})["instance_id"]
        post(f"/v1/envs/{iid}/reset/", {"render": True})
        for _ in range(3):
            action = requests.get(f"{server.base}/v1/envs/{iid}/action_space/sample", timeout=10).json()["action"]
            post(f"/v1/envs/{iid}/step/", {"action": action, "render": True})
        rendered.append(iid)
    # A monitor that films one whole episode: stats, manifest, video and its meta file.
    iid = rendered[0]
    post(f"/v1/envs/{iid}/monitor/start/", {"directory": "files-fuzz/recorded", "force": True, "video_callable": True})
    post(f"/v1/envs/{iid}/reset/", {"seed": 1})
    while not post(f"/v1/envs/{iid}/step/", {"action": 0})["done"]:
        pass
    post(f"/v1/envs/{iid}/monitor/close/")
    # Files written by hand: every kind, an empty one, names that need encoding, a hidden one.
    files = {
        "notes.txt": b"notes\n", "data.json": b'{"a": [1, 2.5, null]}\n', "empty.bin": b"", "hundred.bin": bytes(range(100)),
        "files-fuzz/page.html": b"<!doctype html><p>hi</p>\n", "files-fuzz/style.css": b"p {}\n", "files-fuzz/app.js": b"1;\n",
        "files-fuzz/table.csv": b"a,b\n1,2\n", "files-fuzz/with space & 100%.txt": b"spaced\n",
        "files-fuzz/\u00fcn\u00efcode.json": b"[]\n", "files-fuzz/.hidden": b"hidden\n", "files-fuzz/deep/er/x.bin": b"x",
    }
    for name, content in files.items():
        path = os.path.join(server.monitor_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    return rendered


def real_paths(root):
    """The relative paths (as lists of segments, at most MAX_DEPTH) of the files and directories
    under `root`, hidden ones left out, with `<dir>.zip` beside each directory; and those of the
    directories alone."""
    paths, directories = [], []
    for folder, subfolders, files in os.walk(root):
        parent = [] if folder == root else os.path.relpath(folder, root).split(os.sep)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        if len(parent) >= MAX_DEPTH:
            continue
        for d in subfolders:
            directories.append(parent + [d])
            paths += [parent + [d], parent + [d + ".zip"]]
        paths += [parent + [f] for f in files if not f.startswith(".")]
    return paths, directories


def live_document(server, rendered):
    """The served document with the monitor root's paths written out by depth, and real asset
    names and instance ids (see the module's doc)."""
    document = requests.get(server.files + "/_openapi.json", timeout=10).json()
    live = copy.deepcopy(document)
    paths = live["paths"]
    files, directories = real_paths(server.monitor_dir)
    for template in MONITOR_TEMPLATES:
        item = paths.pop(template)
        listing = template.endswith("/")
        for depth in range(1, MAX_DEPTH + 1):
            # Each segment one of those that real paths of this depth have there.
            real = [p for p in (directories if listing else files) if len(p) == depth]
            segments = [f"p{n}" for n in range(1, depth + 1)]
            written = copy.deepcopy(item)
            for operation in written.values():
                operation["operationId"] += f"Depth{depth}"
                parameters = [p for p in operation["parameters"] if p.get("$ref") != "#/components/parameters/MonitorPath"]
                for n, segment in enumerate(segments):
                    choices = sorted({p[n] for p in real}) or ["none"]
                    parameters.insert(n, {"name": segment, "in": "path", "required": True,
                                          "schema": {"type": "string", "enum": choices}})
                operation["parameters"] = parameters
            paths["/" + "/".join("{%s}" % s for s in segments) + ("/" if listing else "")] = written
    assets = sorted(n for n in os.listdir(WEB) if not n.startswith("."))
    for method in ("get", "head"):
        name = paths["/_static/{name}"][method]["parameters"][0]
        assert name["name"] == "name", name
        name["schema"] = {"type": "string", "enum": assets}
    frame = paths["/_live/{instance_id}/frame.png"]["get"]["parameters"][0]
    assert frame["name"] == "instance_id", frame
    frame["schema"] = {"type": "string", "enum": rendered}
    return live


class HeldStream:
    """One event stream of the rendered instances, held open (and read) on a thread of its own."""

    def __init__(self, server, ids):
        self.response = requests.get(f"{server.files}/_live/events", params={"instance_id": ",".join(ids), "max_fps": 2},
                                     stream=True, timeout=30)
        # Chunks as they arrive (an event stream is chunked), until the hello event is complete.
        self.chunks = self.response.iter_content(chunk_size=None)
        text = ""
        for chunk in self.chunks:
            text += chunk.decode("utf-8")
            start = text.find("event: hello\ndata: ")
            end = text.find("\n\n", start)
            if start >= 0 and end >= 0:
                self.hello = json.loads(text[start + len("event: hello\ndata: "):end])
                break
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        try:
            for _ in self.chunks:
                pass
        except Exception:
            pass  # closed by close()

    def close(self):
        self.response.close()


@check("GET /_live/events answers as documented (status, content type, the hello event's schema)")
def stream_conforms(stream, document):
    import jsonschema_rs  # schemathesis' own JSON Schema validator

    operation = document["paths"]["/_live/events"]["get"]
    assert str(stream.response.status_code) in operation["responses"], stream.response.status_code
    content_type = stream.response.headers["Content-Type"]
    assert content_type in operation["responses"]["200"]["content"], content_type
    jsonschema_rs.Draft202012Validator(document["components"]["schemas"]["LiveHello"]).validate(stream.hello)
    assert all(stream.hello["instances"][i] for i in stream.hello["instances"]), stream.hello
