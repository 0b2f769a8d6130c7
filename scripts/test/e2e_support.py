"""What the end-to-end scripts share: a gym-server process on free ports, checks that print one
line each and count, and ffprobe."""

import json
import socket
import subprocess
import tempfile
import time
import traceback

import requests

RESULTS = {"passed": 0, "failed": 0}


def check(name):
    """A check: prints PASS or FAIL (with the traceback) and counts, never stops the run."""
    def decorator(fn):
        def run(*args, **kwargs):
            started = time.time()
            try:
                fn(*args, **kwargs)
                RESULTS["passed"] += 1
                print(f"PASS {name} ({time.time() - started:.1f} s)", flush=True)
            except Exception:
                RESULTS["failed"] += 1
                print(f"FAIL {name}", flush=True)
                traceback.print_exc()
        run.__name__ = fn.__name__
        return run
    return decorator


def summary():
    """Prints the counts; the exit code for the run."""
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def assert_serves_document(url, path):
    """`url` answers 200 with `path`'s bytes as application/json (an OpenAPI document built in)."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "application/json", response.headers
    with open(path, "rb") as f:
        assert response.content == f.read(), "the built-in document differs: rebuild (the build embeds it)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gym-server binary on free ports (or `port`), its output kept for `log()`."""

    def __init__(self, binary, monitor_dir, *extra, port=None, host="127.0.0.1"):
        self.port = port or free_port()
        self.files_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.files = f"http://127.0.0.1:{self.files_port}"
        self.monitor_dir = monitor_dir
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [binary, "--host", host, "--port", str(self.port), "--files-port", str(self.files_port),
             "--monitor-dir", monitor_dir, *extra],
            stdout=self.output, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(self.base + "/v1/help", timeout=1)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError("server exited: " + self.log())
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def log(self):
        self.output.seek(0)
        return self.output.read()

    def stop(self):
        return stop_process(self.process)


def stop_process(process, timeout=20):
    """Terminates a child process (SIGTERM), killing it if it has not stopped in `timeout` seconds;
    returns its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def ffprobe(path):
    """codec_name, pix_fmt, nb_read_frames, width, height of a video's first stream."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,pix_fmt,nb_read_frames,width,height", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"][0]


def run_gym_load(server_binary, load_binary, arguments, server_options=(), capture=False):
    """Runs `gym-load <arguments>` against a fresh server (monitor root in a temporary folder); the
    load test also gets the server's pid, to read its resident memory. Returns the finished process."""
    import shutil
    monitor = tempfile.mkdtemp(prefix="gym-load-")
    server = Server(server_binary, monitor, *server_options)
    try:
        command = [load_binary, *arguments, "--url", server.base, "--files-url", server.files]
        if arguments[0] == "load":
            command += ["--server-pid", str(server.process.pid)]
        print("$ gym-load " + " ".join(command[1:]), flush=True)
        return subprocess.run(command, capture_output=capture, text=True, timeout=1800)
    finally:
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
