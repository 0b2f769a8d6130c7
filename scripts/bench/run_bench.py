#!/usr/bin/env python3
"""gym-server beside the servers and libraries a user would pick instead, all measured in one run.

Sections (--only takes their names or numbers, comma-separated; default: all):
  1 step       REST step of CartPole-v1 (action 0 repeated, one instance per connection) at 1 and
               16 connections: steps/s, p50 and p99 latency, with wrk. References: openai's Flask
               server (gym_http_server.py with gym 0.21; needs --gym-http-api) and nginx serving a
               static file of the size of a step answer (GET, same connection counts).
  2 instances  1,000 instances stepped round-robin over 64 connections, against one instance per
               connection at 64 connections, on the same server.
  3 memory     VmRSS growth of the server with 10,000 live CartPole-v1 instances (created over
               HTTP, each reset once) over its idle VmRSS. References: the Flask server doing the
               same, and Gymnasium 1.4 holding 10,000 instances in-process.
  4 vector     Vector steps over one HTTP connection, N = 1, 16, 256, 1000 (POST /v1/envs/ with
               num_envs, then steps with a list of N actions), in env-steps/s, against Gymnasium's
               SyncVectorEnv and EnvPool stepping CartPole-v1 in-process. A server without vector
               routes is detected (its answer to num_envs) and its figures marked not available.

Every figure is printed next to its references with the ratio gym-server / reference, with the
command line that produced it, and all of them are written as JSON (--json) for
scripts/bench/render_performance.py. Every server runs on a free loopback port and is stopped at
the end, also on Ctrl-C or SIGTERM. Each server is measured alone (the others stopped).

Needs: wrk and nginx (Debian packages; installed with apt-get when missing and running as root).
Makes, once, two virtualenvs under .venv/ (ignored by git):
  .venv/bench-flask   gym 0.21.0, Flask, Werkzeug, six: runs openai's gym_http_server.py
  .venv/bench-vector  gymnasium 1.4.0, envpool: the in-process references

    python3 scripts/bench/run_bench.py [--server .build/release/gym-server] [--duration 10]
        [--only step,vector] [--gym-http-api DIR] [--json .tmp/bench/results.json]

--gym-http-api (or env GYM_HTTP_API_DIR) is a folder holding gym_http_server.py, or a git
directory / work tree of openai/gym-http-api from which it is exported (git show
HEAD:gym_http_server.py) into a temporary folder. Its code is not part of this repository; without
it the Flask references are skipped and the reason printed.
"""
import argparse
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LUA = HERE / "wrk_requests.lua"
INPROCESS = HERE / "inprocess_reference.py"

SECTIONS = ["step", "instances", "memory", "vector"]
SECTION_TITLES = {
    "step": "1. REST step: CartPole-v1, action 0, one instance per connection",
    "instances": "2. 1,000 instances stepped round-robin over 64 connections",
    "memory": "3. Resident memory of 10,000 live CartPole-v1 instances",
    "vector": "4. Vector steps over one HTTP connection (env-steps/s)",
}
STEP_CONNECTIONS = [1, 16]
MANY_INSTANCES, MANY_CONNECTIONS = 1000, 64
MEMORY_INSTANCES = 10_000
VECTOR_MEMORY_WIDTH = 10_000
VECTOR_SIZES = [1, 16, 256, 1000]

FLASK_PINS = ["Flask==3.1.3", "Werkzeug==3.1.9", "six==1.17.0"]
VECTOR_PINS = ["gymnasium==1.4.0"]
ENVPOOL_PIN = "envpool==1.2.5"  # the newest release with a wheel for CPython 3.11 (checked July 2026)

FLASK = "Flask gym_http_server.py (gym 0.21)"
NGINX = "nginx static file (GET)"
GYMNASIUM_SYNC = "Gymnasium SyncVectorEnv (in-process)"
ENVPOOL = "EnvPool (in-process)"
GYMNASIUM_MEMORY = "Gymnasium 1.4 in-process"


class BenchError(Exception):
    """A failure that stops the run, with a message the user can act on."""


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


# ---------------------------------------------------------------------------------------------
# Processes: everything started goes through here, so everything is stopped at the end.

def _die_with_parent():
    """In a child before exec: SIGTERM it when this script dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Processes:
    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.running = []

    def start(self, name, argv, cwd=None, env=None):
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent)
        proc.bench_name, proc.bench_log, proc.bench_argv = name, log, argv
        self.running.append(proc)
        return proc

    def log_tail(self, proc, lines=20):
        proc.bench_log.flush()
        try:
            text = (self.log_dir / f"{proc.bench_name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, proc, timeout=15):
        """SIGTERM to the process group, then SIGKILL if it is still there after `timeout`."""
        if proc not in self.running:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of its group (nginx workers, a Flask child)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        proc.bench_log.close()
        self.running.remove(proc)

    def stop_all(self):
        for proc in list(reversed(self.running)):
            self.stop(proc, timeout=5)

    def run(self, name, argv, timeout, env=None):
        """Runs a command to its end (stopped at `timeout`), returns (returncode, output)."""
        proc = self.start(name, argv, env=env)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise BenchError(f"{name} did not finish in {timeout:.0f} s: {shlex.join(argv)}")
        code = proc.returncode
        output = self.log_tail(proc, lines=10_000)
        self.stop(proc)
        (self.log_dir / f"{name}.log").unlink(missing_ok=True)
        return code, output


# ---------------------------------------------------------------------------------------------
# HTTP and /proc helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection; reconnects once when the server closed it."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise

    def json(self, method, path, body=None, expect=(200, 201)):
        status, data = self.call(method, path, body)
        if status not in expect:
            raise BenchError(f"{method} {path} {json.dumps(body) if body is not None else ''} answered {status}: "
                             f"{data[:300].decode(errors='replace')}")
        return json.loads(data) if data else None

    def close(self):
        self.conn.close()


def wait_ready(processes, proc, port, path, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.bench_name} exited with {proc.returncode} before answering:\n"
                             f"{processes.log_tail(proc)}")
        try:
            client = Client(port, timeout=2)
            status, _ = client.call("GET", path)
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{proc.bench_name} did not answer GET {path} on port {port} within {seconds} s:\n"
                     f"{processes.log_tail(proc)}")


def vm_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


def machine_description():
    def read(path):
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpuinfo = read("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mhz = re.findall(r"^cpu MHz\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", read("/proc/meminfo"), re.M)
    os_release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', read("/etc/os-release"), re.M))
    return {
        "cpu_model": models[0].strip() if models else platform.processor() or "unknown",
        "logical_cpus": len(models) or os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_mhz": float(mhz[0]) if mhz else None,
        "memory_bytes": int(mem.group(1)) * 1024 if mem else None,
        "kernel": read("/proc/sys/kernel/osrelease").strip() or platform.release(),
        "os": os_release.get("PRETTY_NAME", ""),
        "loadavg": read("/proc/loadavg").split()[:3],
    }


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Setup: Debian tools, virtualenvs, the Flask server's code

def ensure_debian_tools():
    missing = [tool for tool in ("wrk", "nginx") if not shutil.which(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)
    for tool in missing:
        if not shutil.which(tool):
            raise BenchError(f"{tool} is still missing after apt-get install")


def pip(venv, *args, log):
    command = [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", *args]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.append({"command": shlex.join(command), "returncode": result.returncode})
    return result


def make_venv(path, installs):
    """Makes a virtualenv once; `installs` is a list of pip argument lists. A marker file records that it finished."""
    marker = path / ".done"
    if marker.exists():
        return
    print(f"making {path} (once)", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    log = []
    for args in installs:
        result = pip(path, *args, log=log)
        if result.returncode != 0:
            raise BenchError(f"pip install {' '.join(args)} failed in {path}:\n{result.stdout[-2000:]}")
    marker.write_text(json.dumps(log, indent=1))


def ensure_flask_venv(venv_root):
    path = venv_root / "bench-flask"
    # gym 0.21's setup.py needs an old setuptools and wheel, and no build isolation.
    make_venv(path, [["setuptools<66", "wheel<0.40"], ["--no-build-isolation", "gym==0.21.0"], FLASK_PINS])
    return path


def ensure_vector_venv(venv_root):
    """The Gymnasium venv, and EnvPool in it when it installs; returns (path, reason EnvPool is missing or None)."""
    path = venv_root / "bench-vector"
    make_venv(path, [VECTOR_PINS + ["numpy"]])
    python = path / "bin" / "python"
    if subprocess.run([str(python), "-c", "import envpool"], capture_output=True).returncode == 0:
        return path, None
    failed = path / ".envpool-failed"
    if failed.exists():
        return path, failed.read_text().strip()
    print(f"installing {ENVPOOL_PIN} into {path} (once)", flush=True)
    result = pip(path, ENVPOOL_PIN, log=[])
    check = subprocess.run([str(python), "-c", "import envpool, gymnasium; print(envpool.__version__, gymnasium.__version__)"],
                           capture_output=True, text=True)
    if result.returncode != 0 or check.returncode != 0:
        reason = (f"pip install {ENVPOOL_PIN} failed for Python {platform.python_version()}: "
                  + (result.stdout + check.stderr).strip().splitlines()[-1][:300])
        failed.write_text(reason + f"\n(delete {failed} to try again)\n")
        return path, reason
    return path, None


def venv_versions(venv, names):
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code, *names], capture_output=True, text=True)
    versions = json.loads(result.stdout) if result.returncode == 0 else {}
    versions["python"] = subprocess.run([str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                                        capture_output=True, text=True).stdout.strip()
    return versions


def export_flask_server(source, into):
    """Finds gym_http_server.py in `source` (a folder holding it, or a git dir / work tree to export it from)."""
    source = Path(source).expanduser()
    if not source.exists():
        raise BenchError(f"--gym-http-api {source}: no such folder")
    target = into / "gym_http_server.py"
    if (source / "gym_http_server.py").is_file():
        shutil.copyfile(source / "gym_http_server.py", target)
        origin = str(source / "gym_http_server.py")
    else:
        shown = subprocess.run(["git", "-C", str(source), "show", "HEAD:gym_http_server.py"], capture_output=True)
        if shown.returncode != 0:
            raise BenchError(f"--gym-http-api {source}: neither holds gym_http_server.py nor is a git directory "
                             f"that has it at HEAD ({shown.stderr.decode(errors='replace').strip()})")
        target.write_bytes(shown.stdout)
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        origin = f"{source} at {commit}"
    return target, {"origin": origin, "sha256": sha256_of(target)}


# ---------------------------------------------------------------------------------------------
# Servers

class Server:
    """A server under test: started on a free port, stopped by stop()."""

    def __init__(self, processes, name, argv, port, ready_path):
        self.processes, self.name, self.argv, self.port = processes, name, argv, port
        self.proc = processes.start(name, argv)
        wait_ready(processes, self.proc, port, ready_path)
        self.pid = self.proc.pid
        self.client = Client(port)

    @property
    def command(self):
        return shlex.join(self.argv)

    def stop(self):
        self.client.close()
        self.processes.stop(self.proc)

    def create_instances(self, count, env_id="CartPole-v1", extra=None):
        ids = []
        for _ in range(count):
            answer = self.client.json("POST", "/v1/envs/", {"env_id": env_id, **(extra or {})})
            ids.append(answer["instance_id"])
            self.client.json("POST", f"/v1/envs/{answer['instance_id']}/reset/", {}, expect=(200,))
        return ids

    def check_step(self, instance_id):
        """One step with action 0; returns the answer's bytes after checking it is a CartPole step answer."""
        status, body = self.client.call("POST", f"/v1/envs/{instance_id}/step/", {"action": 0})
        if status != 200:
            raise BenchError(f"{self.name}: step of {instance_id} answered {status}: {body[:300]!r}")
        answer = json.loads(body)
        if len(answer.get("observation", [])) != 4 or "reward" not in answer or "done" not in answer:
            raise BenchError(f"{self.name}: step of {instance_id} answered {body[:300]!r}")
        return body

    def close_instances(self, ids):
        for instance_id in ids:
            self.client.call("POST", f"/v1/envs/{instance_id}/close/", {})


def start_gym_server(processes, args, tmp, name="gym-server"):
    port = free_port()
    monitor = Path(tempfile.mkdtemp(prefix="monitor-", dir=tmp))
    # The limits of a shared server are raised to what the sections create (10,000 instances,
    # a 10,000-wide vector); the idle expiry is off so nothing disappears mid-run.
    argv = [str(args.server), "--host", "127.0.0.1", "--port", str(port), "--files-port", "0",
            "--monitor-dir", str(monitor), "--max-instances", "20000", "--max-instances-per-key", "20000",
            "--max-num-envs", str(VECTOR_MEMORY_WIDTH), "--instance-ttl", "0"]
    return Server(processes, name, argv, port, "/v1/envs/")


def start_flask(processes, flask, name="flask"):
    port = free_port()
    argv = [str(flask["python"]), str(flask["script"]), "--listen", "127.0.0.1", "--port", str(port)]
    return Server(processes, name, argv, port, "/v1/envs/")


class Nginx:
    def __init__(self, processes, tmp, body):
        self.processes = processes
        root = Path(tempfile.mkdtemp(prefix="nginx-", dir=tmp))
        www = root / "www"
        www.mkdir()
        (www / "step.json").write_bytes(body)
        # As root, nginx's workers run as nobody: they must be able to read the file.
        for folder in (Path(tmp), root, www):
            folder.chmod(0o755)
        (www / "step.json").chmod(0o644)
        self.port = free_port()
        conf = root / "nginx.conf"
        conf.write_text(f"""# nginx as a reference for scripts/bench/run_bench.py: one static file, no logging.
daemon off;
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    default_type application/json;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {www};
        location / {{ }}
    }}
}}
""")
        self.argv = ["nginx", "-e", str(root / "error.log"), "-p", str(root), "-c", str(conf)]
        self.conf_text = conf.read_text()
        self.proc = processes.start("nginx", self.argv)
        wait_ready(processes, self.proc, self.port, "/step.json")
        status, served = Client(self.port).call("GET", "/step.json")
        if status != 200 or served != body:
            raise BenchError(f"nginx served {status} {served[:100]!r} for /step.json")

    @property
    def command(self):
        return shlex.join(self.argv)

    def stop(self):
        self.processes.stop(self.proc)


# ---------------------------------------------------------------------------------------------
# wrk

def run_wrk(processes, args, port, pattern_args, connections, seconds):
    argv = ["wrk", "--latency", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}", "--", *map(str, pattern_args)]
    code, output = processes.run("wrk", argv, timeout=seconds + 60)
    match = re.search(r"^RESULT (.*)$", output, re.M)
    if code != 0 or not match:
        raise BenchError(f"wrk failed ({code}): {shlex.join(argv)}\n{output[-2000:]}")
    fields = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
    seconds_measured = fields["duration_us"] / 1e6
    errors = {k: fields[k] for k in ("connect", "read", "write", "status", "timeout") if fields[k]}
    return {
        "requests": fields["requests"],
        "seconds": seconds_measured,
        "requests_per_s": fields["requests"] / seconds_measured if seconds_measured else 0.0,
        "p50_ms": fields["p50_us"] / 1000,
        "p99_ms": fields["p99_us"] / 1000,
        "errors": errors,
        "command": shlex.join(argv),
    }


def measure(processes, args, port, pattern_args, connections, label):
    """A warm-up run (not kept), then the measured run."""
    if args.warmup > 0:
        run_wrk(processes, args, port, pattern_args, connections, args.warmup)
    result = run_wrk(processes, args, port, pattern_args, connections, args.duration)
    errors = f"  ERRORS {result['errors']}" if result["errors"] else ""
    print(f"  {label:<48} {result['requests_per_s']:>12,.0f} req/s  p50 {result['p50_ms']:8.3f} ms  "
          f"p99 {result['p99_ms']:8.3f} ms{errors}", flush=True)
    return result


def write_ids(tmp, name, ids):
    path = Path(tmp) / f"{name}.ids"
    path.write_text("".join(f"{i}\n" for i in ids))
    path.chmod(0o644)
    return path


# ---------------------------------------------------------------------------------------------
# Figures

def figure(fid, label, unit, better, value=None, command=None, status="ok", note=None, server=None):
    return {"id": fid, "label": label, "unit": unit, "better": better, "value": value, "status": status,
            "note": note, "command": command, "server": server, "references": []}


def reference(fig, name, value=None, command=None, status="ok", note=None, server=None):
    ratio = None
    if fig["value"] is not None and value:
        ratio = fig["value"] / value
    fig["references"].append({"name": name, "value": value, "ratio": ratio, "status": status, "note": note,
                              "command": command, "server": server})


def wrk_note(result):
    return f"wrk errors: {result['errors']}" if result["errors"] else None


# ---------------------------------------------------------------------------------------------
# Sections

def median_run(runs):
    """The run of median rate among `runs` (an odd count: a run that was measured), with every
    round's rate kept."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = [round(r["requests_per_s"]) for r in runs]
    return chosen


def section_step(ctx):
    processes, args, tmp = ctx["processes"], ctx["args"], ctx["tmp"]
    results = {}
    answer_sizes = []
    sample_body = None

    # gym-server and nginx are measured in turns, round after round, and each side's figure is
    # its median round: this machine's speed drifts by a third within minutes (a VM on 2 shared
    # cores), and a ratio of two runs minutes apart measured the drift as much as the servers.
    print(f"gym-server and {NGINX}, {args.rounds} rounds in turn", flush=True)
    server = start_gym_server(processes, args, tmp)
    nginx = None
    try:
        # The size of a step answer, for nginx's file: the mean over 100 steps of one instance.
        [probe] = server.create_instances(1)
        bodies = [server.check_step(probe) for _ in range(100)]
        answer_sizes = [len(b) for b in bodies]
        sample_body = min(bodies, key=lambda b: abs(len(b) - statistics.mean(answer_sizes)))
        server.close_instances([probe])
        nginx = Nginx(processes, tmp, sample_body)
        results["nginx-command"] = nginx.command
        ctx["notes"].append({"section": "step", "text": "nginx configuration:\n" + nginx.conf_text})
        ids_files = {}
        for c in STEP_CONNECTIONS:
            ids = server.create_instances(c)
            for i in ids:
                server.check_step(i)
            ids_files[c] = write_ids(tmp, f"step-{c}", ids)
        runs = {}
        for round_number in range(1, args.rounds + 1):
            for c in STEP_CONNECTIONS:
                runs.setdefault(("gym-server", c), []).append(
                    measure(processes, args, server.port, ["step", ids_files[c], c], c,
                            f"[{round_number}] gym-server POST step, {c} connection(s)"))
                runs.setdefault(("nginx", c), []).append(
                    measure(processes, args, nginx.port, ["get", "/step.json"], c,
                            f"[{round_number}] nginx GET {len(sample_body)}-byte file, {c} connection(s)"))
        for key, measured in runs.items():
            results[key] = median_run(measured)
        results["gym-server-command"] = server.command
    finally:
        server.stop()
        if nginx:
            nginx.stop()

    flask = ctx["flask"]
    if flask["available"]:
        print(FLASK, flush=True)
        server = start_flask(processes, flask)
        try:
            [probe] = server.create_instances(1)
            results["flask-answer-size"] = len(server.check_step(probe))
            for c in STEP_CONNECTIONS:
                ids = server.create_instances(c)
                for i in ids:
                    server.check_step(i)
                ids_file = write_ids(tmp, f"flask-step-{c}", ids)
                results[("flask", c)] = measure(processes, args, server.port, ["step", ids_file, c], c,
                                                f"POST step, {c} connection(s)")
            results["flask-command"] = server.command
        finally:
            server.stop()
    else:
        print(f"{FLASK}: skipped ({flask['reason']})", flush=True)

    figures = []
    metrics = [("steps_per_s", "steps/s", "steps/s", "higher", "requests_per_s"),
               ("p50_ms", "p50 latency", "ms", "lower", "p50_ms"),
               ("p99_ms", "p99 latency", "ms", "lower", "p99_ms")]
    for c in STEP_CONNECTIONS:
        mine = results[("gym-server", c)]
        for key, label, unit, better, field in metrics:
            fig = figure(f"step.c{c}.{key}", f"{label}, {c} connection{'s' if c > 1 else ''}", unit, better,
                         mine[field], mine["command"], note=rounds_note(mine, key), server=results["gym-server-command"])
            if flask["available"]:
                ref = results[("flask", c)]
                reference(fig, FLASK, ref[field], ref["command"], note=wrk_note(ref), server=results["flask-command"])
            else:
                reference(fig, FLASK, status="skipped", note=flask["reason"])
            ref = results[("nginx", c)]
            reference(fig, NGINX, ref[field], ref["command"], note=rounds_note(ref, key), server=results["nginx-command"])
            figures.append(fig)
    return {"figures": figures, "details": {
        "step_answer_bytes": {"mean": statistics.mean(answer_sizes), "min": min(answer_sizes), "max": max(answer_sizes)},
        "nginx_file_bytes": len(sample_body),
        "flask_step_answer_bytes": results.get("flask-answer-size"),
        "connections": STEP_CONNECTIONS,
        "rounds": {f"{name} c{c}": results[(name, c)]["rounds"] for name in ("gym-server", "nginx") for c in STEP_CONNECTIONS},
        "method": (f"wrk -t C -c C: one thread and one connection per instance; a {args.warmup} s warm-up run precedes "
                   f"each measured run. gym-server and nginx run side by side and are measured in turns, "
                   f"{args.rounds} rounds of {args.duration} s; each figure is the round of median rate "
                   f"(every round's rate in the note). Flask: one run."),
    }}


def rounds_note(result, key):
    if key == "steps_per_s":
        note = f"rounds (req/s): {', '.join(f'{r:,}' for r in result['rounds'])}; the median round is the figure"
    else:
        note = "of the median round"
    return f"{note}; {wrk_note(result)}" if result["errors"] else note


def section_instances(ctx):
    processes, args, tmp = ctx["processes"], ctx["args"], ctx["tmp"]
    server = start_gym_server(processes, args, tmp)
    try:
        started = time.perf_counter()
        ids = server.create_instances(MANY_INSTANCES)
        create_seconds = time.perf_counter() - started
        for i in ids:
            server.check_step(i)
        single_file = write_ids(tmp, "single-64", ids[:MANY_CONNECTIONS])
        all_file = write_ids(tmp, "round-robin-1000", ids)
        single = measure(processes, args, server.port, ["step", single_file, MANY_CONNECTIONS], MANY_CONNECTIONS,
                         f"{MANY_CONNECTIONS} instances, one per connection")
        many = measure(processes, args, server.port, ["step", all_file, MANY_CONNECTIONS], MANY_CONNECTIONS,
                       f"{MANY_INSTANCES:,} instances round-robin")
        command = server.command
    finally:
        server.stop()
    figures = []
    for key, label, unit, better, field in [("steps_per_s", "steps/s", "steps/s", "higher", "requests_per_s"),
                                            ("p50_ms", "p50 latency", "ms", "lower", "p50_ms"),
                                            ("p99_ms", "p99 latency", "ms", "lower", "p99_ms")]:
        fig = figure(f"instances.{key}", f"{label}, {MANY_INSTANCES:,} instances round-robin over {MANY_CONNECTIONS} connections",
                     unit, better, many[field], many["command"], note=wrk_note(many), server=command)
        reference(fig, f"gym-server, {MANY_CONNECTIONS} instances, one per connection", single[field],
                  single["command"], note=wrk_note(single), server=command)
        figures.append(fig)
    return {"figures": figures, "details": {
        "instances": MANY_INSTANCES, "connections": MANY_CONNECTIONS, "create_and_reset_seconds": create_seconds,
        "method": (f"One server holds {MANY_INSTANCES:,} reset instances for both runs. wrk thread k (one connection) "
                   f"steps ids k, k+{MANY_CONNECTIONS}, ... in turn, so no instance is stepped by two connections; "
                   f"the reference run gives each connection one of the first {MANY_CONNECTIONS} ids."),
    }}


def memory_of(server, count):
    time.sleep(1.0)
    idle = vm_rss_bytes(server.pid)
    started = time.perf_counter()
    server.create_instances(count)
    seconds = time.perf_counter() - started
    time.sleep(1.0)
    loaded = vm_rss_bytes(server.pid)
    listed = server.client.json("GET", "/v1/envs/")
    live = len(listed.get("all_envs", {}))
    if live < count:
        raise BenchError(f"{server.name} lists {live} instances after creating {count}")
    return {"idle": idle, "loaded": loaded, "delta": loaded - idle, "seconds": seconds, "live": live}


def section_memory(ctx):
    processes, args, tmp = ctx["processes"], ctx["args"], ctx["tmp"]
    n = MEMORY_INSTANCES
    results = {}
    server = start_gym_server(processes, args, tmp)
    try:
        results["gym-server"] = memory_of(server, n)
        results["gym-server"]["command"] = server.command
    finally:
        server.stop()
    print(f"  gym-server: idle {results['gym-server']['idle'] / 2**20:.1f} MiB, +{results['gym-server']['delta'] / 2**20:.1f} MiB "
          f"for {n:,} instances (made in {results['gym-server']['seconds']:.1f} s)", flush=True)
    flask = ctx["flask"]
    if flask["available"]:
        server = start_flask(processes, flask)
        try:
            results["flask"] = memory_of(server, n)
            results["flask"]["command"] = server.command
        finally:
            server.stop()
        print(f"  {FLASK}: idle {results['flask']['idle'] / 2**20:.1f} MiB, +{results['flask']['delta'] / 2**20:.1f} MiB "
              f"(made in {results['flask']['seconds']:.1f} s)", flush=True)
    vector = ctx["vector"]
    if vector["path"]:
        argv = [str(vector["path"] / "bin" / "python"), str(INPROCESS), "memory", "--instances", str(n)]
        code, output = processes.run("inprocess-memory", argv, timeout=600)
        if code != 0:
            raise BenchError(f"{shlex.join(argv)} failed:\n{output[-2000:]}")
        results["gymnasium"] = json.loads(output.strip().splitlines()[-1])
        results["gymnasium"]["command"] = shlex.join(argv)
        print(f"  {GYMNASIUM_MEMORY}: +{results['gymnasium']['rss_delta'] / 2**20:.1f} MiB", flush=True)

    # One vector of VECTOR_MEMORY_WIDTH sub-environments, on a server of its own.
    width = VECTOR_MEMORY_WIDTH
    server = start_gym_server(processes, args, tmp)
    try:
        time.sleep(1.0)
        idle = vm_rss_bytes(server.pid)
        server.create_instances(1, extra={"num_envs": width})
        time.sleep(1.0)
        loaded = vm_rss_bytes(server.pid)
        results["gym-server-vector"] = {"idle": idle, "loaded": loaded, "delta": loaded - idle, "command": server.command}
    finally:
        server.stop()
    print(f"  gym-server, one {width:,}-wide vector: +{(loaded - idle) / 2**20:.1f} MiB, {loaded / 2**20:.1f} MiB in all",
          flush=True)
    if vector["path"]:
        argv = [str(vector["path"] / "bin" / "python"), str(INPROCESS), "memory", "--vector", str(width)]
        code, output = processes.run("inprocess-vector-memory", argv, timeout=600)
        if code != 0:
            raise BenchError(f"{shlex.join(argv)} failed:\n{output[-2000:]}")
        results["gymnasium-vector"] = json.loads(output.strip().splitlines()[-1])
        results["gymnasium-vector"]["command"] = shlex.join(argv)
        print(f"  Gymnasium make_vec({width:,}) in-process: +{results['gymnasium-vector']['rss_delta'] / 2**20:.1f} MiB",
              flush=True)

    mine = results["gym-server"]
    figures = []
    fig = figure("memory.loaded_mib", f"VmRSS with {n:,} live instances (the whole server)", "MiB", "lower",
                 mine["loaded"] / 2**20, f"python3 scripts/bench/run_bench.py --only memory", server=mine["command"])
    if flask["available"]:
        reference(fig, FLASK, results["flask"]["loaded"] / 2**20, fig["command"], server=results["flask"]["command"])
    figures.append(fig)
    mine_vector = results["gym-server-vector"]
    fig = figure("memory.vector_delta_mib", f"VmRSS growth for one {width:,}-wide vector instance", "MiB", "lower",
                 mine_vector["delta"] / 2**20, f"python3 scripts/bench/run_bench.py --only memory  # POST /v1/envs/ "
                 f"num_envs={width} + reset", server=mine_vector["command"])
    if "gymnasium-vector" in results:
        reference(fig, f"Gymnasium make_vec (in-process)", results["gymnasium-vector"]["rss_delta"] / 2**20,
                  results["gymnasium-vector"]["command"])
    figures.append(fig)
    for key, label, unit, scale, field_server, field_inprocess in [
            ("idle_mib", "idle VmRSS", "MiB", 2**20, "idle", None),
            ("delta_mib", f"VmRSS growth for {n:,} instances", "MiB", 2**20, "delta", "rss_delta"),
            ("bytes_per_instance", "VmRSS growth per instance", "bytes", n, "delta", "rss_delta")]:
        fig = figure(f"memory.{key}", label, unit, "lower", mine[field_server] / scale,
                     (f"python3 scripts/bench/run_bench.py --only memory  # {n:,} x (POST /v1/envs/ + POST /v1/envs/<id>/reset/) "
                      "over one keep-alive connection; VmRSS from /proc/<pid>/status"),
                     server=mine["command"])
        if flask["available"]:
            reference(fig, FLASK, results["flask"][field_server] / scale, fig["command"], server=results["flask"]["command"])
        else:
            reference(fig, FLASK, status="skipped", note=flask["reason"])
        if field_inprocess and "gymnasium" in results:
            reference(fig, GYMNASIUM_MEMORY, results["gymnasium"][field_inprocess] / scale, results["gymnasium"]["command"])
        figures.append(fig)
    return {"figures": figures, "details": {
        "instances": n,
        "raw": {k: {f: v for f, v in r.items() if f != "command"} for k, r in results.items()},
        "method": ("VmRSS read 1 s after the server answers (idle) and 1 s after the last instance is created and "
                   "reset (loaded). The in-process reference counts from after importing gymnasium and making one env."),
    }}


def server_message(body):
    """The `message` of an error answer, else the start of its text."""
    try:
        return str(json.loads(body)["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


def vector_server_figures(ctx):
    """Steps a vector instance of each size over one connection; returns ({N: result}, reason if not available)."""
    processes, args, tmp = ctx["processes"], ctx["args"], ctx["tmp"]
    out = {}
    server = start_gym_server(processes, args, tmp)
    try:
        for n in VECTOR_SIZES:
            status, body = server.client.call("POST", "/v1/envs/", {"env_id": "CartPole-v1", "num_envs": n})
            if status in (400, 404):
                return out, f"POST /v1/envs/ with num_envs answered {status}: {server_message(body)}", server.command
            if status not in (200, 201):
                raise BenchError(f"POST /v1/envs/ with num_envs {n} answered {status}: {body[:300]!r}")
            instance_id = json.loads(body)["instance_id"]
            server.client.json("POST", f"/v1/envs/{instance_id}/reset/", {}, expect=(200,))
            status, body = server.client.call("POST", f"/v1/envs/{instance_id}/step/", {"action": [0] * n})
            if status in (400, 404):
                server.close_instances([instance_id])
                return out, (f"the server took num_envs but a step with a list of {n} actions answered {status}: "
                             f"{server_message(body)}"), server.command
            if status != 200:
                raise BenchError(f"vector step (N={n}) answered {status}: {body[:300]!r}")
            answer = json.loads(body)
            observation, reward = answer.get("observation"), answer.get("reward")
            if (not isinstance(observation, list) or len(observation) != n or any(len(o) != 4 for o in observation)
                    or not isinstance(reward, list) or len(reward) != n):
                raise BenchError(f"vector step (N={n}) answer is not N x 4 observations and N rewards: {body[:300]!r}")
            ids_file = write_ids(tmp, f"vector-{n}", [instance_id])
            result = measure(processes, args, server.port, ["step", ids_file, 1, n], 1, f"gym-server N={n}, JSON")
            result["answer_bytes"] = len(body)
            out[n] = result
            status, packed = server.client.call("POST", f"/v1/envs/{instance_id}/step/", {"action": [0] * n},
                                                headers={"Accept": "application/msgpack"})
            if status == 200 and packed[:1] not in (b"{", b"["):
                result = measure(processes, args, server.port, ["step", ids_file, 1, n, "msgpack"], 1,
                                 f"gym-server N={n}, MessagePack")
                result["answer_bytes"] = len(packed)
                out[(n, "msgpack")] = result
            server.close_instances([instance_id])
        return out, None, server.command
    finally:
        server.stop()


def vector_key(key):
    """A JSON key for a vector result: "1000" (JSON answers) or "1000 msgpack"."""
    return f"{key[0]} {key[1]}" if isinstance(key, tuple) else str(key)


def run_inprocess_vector(ctx, impl, n):
    processes, args = ctx["processes"], ctx["args"]
    argv = [str(ctx["vector"]["path"] / "bin" / "python"), str(INPROCESS), "vector", "--impl", impl,
            "--num-envs", str(n), "--duration", str(args.duration), "--warmup", str(min(args.warmup, 1))]
    code, output = processes.run(f"inprocess-{impl}", argv, timeout=args.duration + 300)
    if code != 0:
        raise BenchError(f"{shlex.join(argv)} failed:\n{output[-2000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    result["command"] = shlex.join(argv)
    label = GYMNASIUM_SYNC if impl == "gymnasium" else ENVPOOL
    print(f"  {label + f' N={n}':<48} {result['env_steps_per_s']:>12,.0f} env-steps/s", flush=True)
    return result


def section_vector(ctx):
    vector = ctx["vector"]
    server_results, unavailable, server_command = vector_server_figures(ctx)
    if unavailable:
        print(f"  gym-server vector steps: not available ({unavailable})", flush=True)
    references = {}
    for n in VECTOR_SIZES:
        references[("gymnasium", n)] = run_inprocess_vector(ctx, "gymnasium", n)
        if vector["envpool_reason"] is None:
            references[("envpool", n)] = run_inprocess_vector(ctx, "envpool", n)
    figures = []
    for n in VECTOR_SIZES:
        for key, encoding, suffix in [(n, "JSON", ""), ((n, "msgpack"), "MessagePack", ".msgpack")]:
            mine = server_results.get(key)
            fid, label = f"vector.n{n}{suffix}.env_steps_per_s", f"env-steps/s, N = {n}, {encoding} answers"
            if mine:
                fig = figure(fid, label, "env-steps/s", "higher", mine["requests_per_s"] * n, mine["command"],
                             note=wrk_note(mine), server=server_command)
            else:
                fig = figure(fid, label, "env-steps/s", "higher", status="not available",
                             note=unavailable or "no MessagePack answer", server=server_command)
            ref = references[("gymnasium", n)]
            reference(fig, GYMNASIUM_SYNC, ref["env_steps_per_s"], ref["command"])
            if vector["envpool_reason"] is None:
                ref = references[("envpool", n)]
                reference(fig, ENVPOOL, ref["env_steps_per_s"], ref["command"],
                          note=f"num_threads={ref.get('num_threads')}")
            else:
                reference(fig, ENVPOOL, status="skipped", note=vector["envpool_reason"])
            figures.append(fig)
    return {"figures": figures, "notices": [f"gym-server vector steps: not available ({unavailable})"] if unavailable else [],
            "details": {
        "sizes": VECTOR_SIZES,
        "server_batch_latency_ms": {vector_key(k): {"p50": r["p50_ms"], "p99": r["p99_ms"]} for k, r in server_results.items()},
        "server_answer_bytes": {vector_key(k): r["answer_bytes"] for k, r in server_results.items()},
        "references": {f"{impl}-{n}": {k: v for k, v in r.items() if k != "command"} for (impl, n), r in references.items()},
        "method": ("gym-server: wrk -t 1 -c 1, each request a step of all N environments with action 0, "
                   "answered as JSON, then as MessagePack (Accept: application/msgpack). "
                   "References: the same in-process, for the same duration after a warm-up, in a process of their own."),
    }}


# The targets of issue 11, each a ratio against a reference of the same run (or, for memory, a
# bound): (figure id, reference name or None, least ratio or None, greatest value or None, text).
TARGETS = [
    ("step.c16.steps_per_s", FLASK, 30.0, None, "REST step at 16 connections: at least 30x Flask"),
    ("step.c16.steps_per_s", NGINX, 0.5, None, "REST step at 16 connections: at least 0.5x nginx"),
    ("step.c1.steps_per_s", NGINX, 0.6, None, "REST step at 1 connection: at least 0.6x nginx"),
    ("vector.n1000.msgpack.env_steps_per_s", ENVPOOL, 1.0, None,
     "vector CartPole, N = 1000, one HTTP connection (MessagePack): at least EnvPool in-process"),
    ("instances.steps_per_s", f"gym-server, {MANY_CONNECTIONS} instances, one per connection", 0.8, None,
     f"{MANY_INSTANCES:,} instances over {MANY_CONNECTIONS} connections: within 20% of one instance per connection"),
    ("memory.loaded_mib", None, None, 100e6 / 2**20, f"{MEMORY_INSTANCES:,} instances in at most 100 MB (95.4 MiB)"),
]


def evaluate_targets(sections):
    """Each target's verdict: met, missed, or not measured (its section or reference not run)."""
    figures = {fig["id"]: fig for section in sections.values() for fig in section["figures"]}
    verdicts = []
    for fid, ref_name, least, greatest, text in TARGETS:
        fig = figures.get(fid)
        verdict = {"figure": fid, "reference": ref_name, "least_ratio": least, "greatest_value": greatest,
                   "text": text, "value": None, "status": "not measured"}
        if fig is None or fig["status"] != "ok":
            verdicts.append(verdict)
            continue
        if ref_name is None:
            verdict["value"] = fig["value"]
            verdict["status"] = "met" if fig["value"] <= greatest else "missed"
        else:
            ref = next((r for r in fig["references"] if r["name"] == ref_name and r["status"] == "ok"), None)
            if ref is not None and ref["ratio"] is not None:
                verdict["value"] = ref["ratio"]
                verdict["status"] = "met" if ref["ratio"] >= least else "missed"
        verdicts.append(verdict)
    return verdicts


def print_targets(verdicts):
    print("\n=== Targets")
    for v in verdicts:
        if v["value"] is None:
            shown = "-"
        elif v["reference"] is None:
            shown = f"{v['value']:.1f} MiB"
        else:
            shown = f"{v['value']:.3g}x"
        print(f"  {v['status'].upper():<13} {shown:>10}  {v['text']}")


RUNNERS = {"step": section_step, "instances": section_instances, "memory": section_memory, "vector": section_vector}


# ---------------------------------------------------------------------------------------------
# Printing

def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    return f"{value:,.0f} {unit}"


def print_section(name, section):
    print(f"\n=== {SECTION_TITLES[name]}")
    for reason in section.get("skipped", []):
        print(f"  skipped: {reason}")
    for notice in section.get("notices", []):
        print(f"  {notice}")
    shown = set(section.get("skipped", [])) | set(section.get("notices", []))
    for fig in section["figures"]:
        better = "higher is better" if fig["better"] == "higher" else "lower is better"
        value = fmt(fig["value"], fig["unit"]) if fig["status"] == "ok" else fig["status"].upper()
        print(f"  {fig['label']} ({better})")
        note = fig["note"] if fig["note"] and not any(fig["note"] in line for line in shown) else None
        print(f"      gym-server {value:>22}" + (f"   [{note}]" if note else ""))
        for ref in fig["references"]:
            if ref["status"] != "ok":
                print(f"      {ref['name']:<45} {ref['status']:>18}"
                      + ("" if any((ref["note"] or "") in line for line in shown) else f"   [{ref['note']}]"))
                continue
            ratio = f"ratio gym-server/reference {ref['ratio']:.3g}x" if ref["ratio"] is not None else "ratio -"
            print(f"      {ref['name']:<45} {fmt(ref['value'], fig['unit']):>18}   {ratio}"
                  + (f"   [{ref['note']}]" if ref["note"] else ""))
    print("  commands:")
    seen = set()
    for fig in section["figures"]:
        for who, command, server in [("gym-server", fig["command"], fig["server"])] + [
                (r["name"], r["command"], r["server"]) for r in fig["references"]]:
            for line in (server and f"{who} server: {server}", command and f"{who}: {command}"):
                if line and line not in seen:
                    seen.add(line)
                    print(f"    {line}")


# ---------------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Sections: " + ", ".join(f"{i + 1}={s}" for i, s in enumerate(SECTIONS)))
    parser.add_argument("--server", default=str(REPO / ".build/release/gym-server"),
                        help="the gym-server binary (default: .build/release/gym-server of this repository)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of gym-server and nginx in turn in the step section; each figure is the median round (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of the warm-up before each run, 0 for none (default 1)")
    parser.add_argument("--only", default=None, help="comma-separated sections: names or numbers (default: all)")
    parser.add_argument("--gym-http-api", default=os.environ.get("GYM_HTTP_API_DIR"),
                        help="folder with openai's gym_http_server.py, or a git dir of openai/gym-http-api "
                             "(default: env GYM_HTTP_API_DIR; without it the Flask references are skipped)")
    parser.add_argument("--json", default=str(REPO / ".tmp/bench/results.json"),
                        help="where the figures go as JSON (default: .tmp/bench/results.json)")
    parser.add_argument("--venv-root", default=str(REPO / ".venv"), help="where the virtualenvs are made (default: .venv)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (configs, id files, logs)")
    args = parser.parse_args(argv)
    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    if args.rounds < 1 or args.rounds % 2 == 0:
        parser.error("--rounds must be an odd number, at least 1 (the median round is the figure)")
    if args.warmup < 0:
        parser.error("--warmup cannot be negative")
    if args.only:
        chosen = []
        for item in args.only.split(","):
            item = item.strip().lower()
            if item.isdigit() and 1 <= int(item) <= len(SECTIONS):
                item = SECTIONS[int(item) - 1]
            if item not in SECTIONS:
                parser.error(f"--only: unknown section {item!r}; choose from {', '.join(SECTIONS)} or 1-{len(SECTIONS)}")
            if item not in chosen:
                chosen.append(item)
        args.sections = [s for s in SECTIONS if s in chosen]
    else:
        args.sections = list(SECTIONS)
    args.server = Path(args.server).resolve()
    if not (args.server.is_file() and os.access(args.server, os.X_OK)):
        parser.error(f"--server {args.server}: no executable there (build it with `make release`, or pass --server PATH)")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.time()

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = Path(tempfile.mkdtemp(prefix="gym-server-bench-"))
    processes = Processes(tmp)
    report = {
        "schema": 1,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "complete": False,
        "command": shlex.join([sys.executable, *sys.argv]),
        "options": {"server": str(args.server), "duration_s": args.duration, "warmup_s": args.warmup,
                    "sections": args.sections},
        "machine": machine_description(),
        "versions": {},
        "sections": {},
        "notes": [],
    }
    json_path = Path(args.json)
    exit_code = 0
    load = float(report["machine"]["loadavg"][0]) if report["machine"]["loadavg"] else 0.0
    if load > 0.5:
        print(f"note: the machine is not quiet (load average {load:.2f} over the last minute); figures will be noisy",
              flush=True)
    try:
        ensure_debian_tools()
        report["versions"]["gym-server"] = {"path": str(args.server), "sha256": sha256_of(args.server)}
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
        if commit.returncode == 0:
            report["versions"]["bench_scripts_commit"] = commit.stdout.strip()
        report["versions"]["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0].strip()
        report["versions"]["nginx"] = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        venv_root = Path(args.venv_root).resolve()

        flask = {"available": False, "reason": None}
        if {"step", "memory"} & set(args.sections):
            if not args.gym_http_api:
                flask["reason"] = ("no copy of openai/gym-http-api given: pass --gym-http-api DIR or set GYM_HTTP_API_DIR "
                                   "(its code is not part of this repository)")
                print(f"Flask reference skipped: {flask['reason']}", flush=True)
            else:
                script, origin = export_flask_server(args.gym_http_api, tmp)
                venv = ensure_flask_venv(venv_root)
                flask.update(available=True, python=venv / "bin" / "python", script=script)
                report["versions"]["flask-reference"] = {"gym_http_server.py": origin,
                                                         **venv_versions(venv, ["gym", "Flask", "Werkzeug", "numpy"])}
        vector = {"path": None, "envpool_reason": None}
        if {"vector", "memory"} & set(args.sections):
            path, reason = ensure_vector_venv(venv_root)
            vector.update(path=path, envpool_reason=reason)
            if reason:
                print(f"EnvPool reference skipped: {reason}", flush=True)
            report["versions"]["inprocess-references"] = venv_versions(path, ["gymnasium", "envpool", "numpy"])

        ctx = {"processes": processes, "args": args, "tmp": tmp, "flask": flask, "vector": vector, "notes": report["notes"]}
        for name in args.sections:
            print(f"\n--- {SECTION_TITLES[name]}", flush=True)
            section_started = time.time()
            section = RUNNERS[name](ctx)
            section["seconds"] = time.time() - section_started
            section["title"] = SECTION_TITLES[name]
            if name in ("step", "memory") and not flask["available"]:
                section["skipped"] = [f"{FLASK}: {flask['reason']}"]
            if name == "vector" and vector["envpool_reason"]:
                section["skipped"] = [f"{ENVPOOL}: {vector['envpool_reason']}"]
            report["sections"][name] = section
        report["complete"] = True
    except (KeyboardInterrupt, Interrupted) as stop:
        print(f"\ninterrupted ({str(stop) or 'SIGINT'}): stopping everything", file=sys.stderr)
        exit_code = 130
    except BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
        if args.keep_temp:
            print(f"temporary files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    report["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report["wall_seconds"] = time.time() - started
    report["machine"]["loadavg_at_end"] = machine_description()["loadavg"]
    for name, section in report["sections"].items():
        print_section(name, section)
    report["targets"] = evaluate_targets(report["sections"])
    print_targets(report["targets"])
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\n{'complete' if report['complete'] else 'INCOMPLETE'} in {report['wall_seconds']:.0f} s; figures written to {json_path}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
