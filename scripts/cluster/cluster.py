#!/usr/bin/env python3
"""A gym-server fleet on one machine: N replicas behind HAProxy, as docs/SCALING.md deploys it.

    python3 scripts/cluster/cluster.py --server .build/release/gym-server --replicas 3 [--monitor-dir ./monitor]

Replica i listens on BASE_API_PORT+i (API) and BASE_FILES_PORT+i (files), with --replica-id i,
the whole fleet's --peer list, one shared --monitor-dir and --public-port/--public-files-port
naming the front; HAProxy (deploy/haproxy/make_config.py's configuration, run in the
foreground as a child) listens on API_PORT (5000) and FILES_PORT (8000). The command prints the
addresses and runs until Ctrl-C (or SIGTERM), then stops everything and exits 0.

From Python (scripts/test/cluster_test.py):

    with Cluster(".build/release/gym-server", replicas=3) as cluster:
        requests.post(cluster.front_url + "/v1/envs/", json={"env_id": "CartPole-v1"})
        cluster.kill(1)           # SIGKILL, as a crash
        cluster.start_replica(1)  # the same command again

Each process's output goes to a file in a temporary directory (printed when something fails).
Standard library only (Python 3.9+).
"""

import argparse
import contextlib
import csv
import io
import json
import os
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKE_CONFIG = os.path.join(ROOT, "deploy", "haproxy", "make_config.py")


class ClusterError(RuntimeError):
    """A process of the cluster did not start, or stopped; the message holds the end of its log."""


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent():
    """Linux: the child gets SIGKILL when the thread that started it ends (a test killed with -9
    leaves no replica behind). Only used from the main thread, whose end is the process's."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, never a reason not to start
        pass


def _get(url, timeout=1.0, headers=None):
    """(status, body bytes) of a GET; raises OSError when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Cluster:
    """N gym-server replicas and the HAProxy before them; see the module's docstring.

    Attributes: ``front_url`` (http://HOST:API_PORT), ``files_url`` (http://HOST:FILES_PORT),
    ``stats_url`` (HAProxy's stats page), ``monitor_root``, ``workdir`` (configuration and logs),
    ``processes`` (replica id -> Popen, None while killed), ``haproxy`` (its Popen).
    """

    def __init__(self, server, replicas=3, monitor_root=None, api_port=5000, files_port=8000,
                 base_api_port=5001, base_files_port=8001, host="127.0.0.1", extra_args=(),
                 haproxy="haproxy", check_interval_ms=500, stats_port=None, start_timeout=30.0):
        if replicas < 1 or replicas > 256:
            raise ValueError(f"replicas must be from 1 to 256, got {replicas}")
        self.server = os.path.abspath(server)
        if not os.access(self.server, os.X_OK):
            raise ClusterError(f"no gym-server binary at {self.server} (make release)")
        self.haproxy_binary = shutil.which(haproxy) or (haproxy if os.access(haproxy, os.X_OK) else None) \
            or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
        if not self.haproxy_binary:
            raise ClusterError(f"no haproxy ({haproxy}): apt-get install haproxy (scripts/setup/install-deps.sh cluster)")
        self.replicas = replicas
        self.host = host
        self.api_port = api_port
        self.files_port = files_port
        self.base_api_port = base_api_port
        self.base_files_port = base_files_port
        self.extra_args = list(extra_args)
        self.check_interval_ms = check_interval_ms
        self.start_timeout = start_timeout
        # What listens on `host`; what connects (HAProxy's servers, the peers, the checks) goes to
        # `connect_host`: 0.0.0.0 is every interface to listen on, and to HAProxy a server at
        # 0.0.0.0 means "the client's own destination".
        self.connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.workdir = tempfile.mkdtemp(prefix="gym-cluster-")
        self._own_monitor_root = monitor_root is None
        self.monitor_root = os.path.abspath(monitor_root or os.path.join(self.workdir, "monitor"))
        os.makedirs(self.monitor_root, exist_ok=True)
        self.stats_port = stats_port or free_port(self.connect_host)
        self.front_url = f"http://{self.connect_host}:{api_port}"
        self.files_url = f"http://{self.connect_host}:{files_port}"
        self.stats_url = f"http://{self.connect_host}:{self.stats_port}"
        self.processes = {i: None for i in range(replicas)}
        self.haproxy = None
        self.config_path = os.path.join(self.workdir, "haproxy.cfg")
        self._logs = {}
        self._stopped = False
        self._main_thread = threading.current_thread() is threading.main_thread()
        try:
            for i in range(replicas):
                self._spawn_replica(i)
            for i in range(replicas):
                self._wait_replica(i)
            self._write_config()
            self._start_haproxy()
            self._wait_front()
        except BaseException:
            self.print_logs()
            self.stop()
            raise

    # MARK: addresses

    def replica_api_port(self, i):
        return self.base_api_port + i

    def replica_files_port(self, i):
        return self.base_files_port + i

    def replica_url(self, i):
        """The API of replica i itself (not through the front), e.g. http://127.0.0.1:5002."""
        return f"http://{self.connect_host}:{self.replica_api_port(i)}"

    def replica_files_url(self, i):
        return f"http://{self.connect_host}:{self.replica_files_port(i)}"

    def peer_list(self):
        """The fleet's --peer list (every replica, as make_config.py's --replica takes it too)."""
        return [f"{i}={self.connect_host}:{self.replica_api_port(i)}:{self.replica_files_port(i)}" for i in range(self.replicas)]

    def replica_command(self, i):
        command = [self.server, "--host", self.host, "--port", str(self.replica_api_port(i)),
                   "--files-port", str(self.replica_files_port(i)), "--monitor-dir", self.monitor_root,
                   "--replica-id", str(i), "--public-port", str(self.api_port),
                   "--public-files-port", str(self.files_port)]
        for peer in self.peer_list():
            command += ["--peer", peer]
        return command + self.extra_args

    def log_path(self, name):
        """The log file of a process: "replica-<i>" or "haproxy"."""
        return os.path.join(self.workdir, f"{name}.log")

    # MARK: processes

    def _popen(self, name, command):
        log = open(self.log_path(name), "a")
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        self._logs[name] = log
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True,  # Ctrl-C reaches this script, which stops them in order
                                preexec_fn=_die_with_parent if self._main_thread and threading.current_thread() is threading.main_thread() else None)

    def _spawn_replica(self, i):
        if self.processes[i] is not None and self.processes[i].poll() is None:
            raise ClusterError(f"replica {i} is running already (pid {self.processes[i].pid})")
        self.processes[i] = self._popen(f"replica-{i}", self.replica_command(i))

    def _wait_replica(self, i):
        """Until replica i's /healthz answers 200 with its replica id, and its files port answers."""
        deadline = time.time() + self.start_timeout
        process = self.processes[i]
        last = "no answer"
        while time.time() < deadline:
            if process.poll() is not None:
                raise ClusterError(f"replica {i} exited with {process.returncode}:\n{self.tail(f'replica-{i}')}")
            try:
                status, body = _get(self.replica_url(i) + "/healthz")
                if status == 200 and json.loads(body).get("replica_id") == i:
                    if _get(self.replica_files_url(i) + "/config.json")[0] == 200:
                        return
                last = f"/healthz answered {status}: {body[:200]!r}"
            except (OSError, ValueError) as error:
                last = str(error)
            time.sleep(0.05)
        raise ClusterError(f"replica {i} did not become healthy in {self.start_timeout:.0f} s ({last}):\n"
                           f"{self.tail(f'replica-{i}')}")

    def _write_config(self):
        command = [sys.executable, MAKE_CONFIG]
        for peer in self.peer_list():
            command += ["--replica", peer]
        command += ["--api-bind", f"{self.host}:{self.api_port}", "--files-bind", f"{self.host}:{self.files_port}",
                    "--stats-bind", f"{self.connect_host}:{self.stats_port}", "--check-interval-ms", str(self.check_interval_ms),
                    # The replicas, HAProxy and the clients share this machine's cores.
                    "--threads", "1"]
        made = subprocess.run(command, capture_output=True, text=True)
        if made.returncode != 0:
            raise ClusterError(f"make_config.py failed ({made.returncode}): {made.stderr}")
        with open(self.config_path, "w") as f:
            f.write(made.stdout)
        check = subprocess.run([self.haproxy_binary, "-c", "-q", "-f", self.config_path], capture_output=True, text=True)
        if check.returncode != 0:
            raise ClusterError(f"haproxy -c rejects {self.config_path}:\n{check.stdout}{check.stderr}")

    def _start_haproxy(self):
        self.haproxy = self._popen("haproxy", [self.haproxy_binary, "-f", self.config_path, "-db"])

    def _wait_front(self):
        """Until the front answers on both ports and HAProxy sees every replica up."""
        deadline = time.time() + self.start_timeout
        last = "no answer"
        while time.time() < deadline:
            if self.haproxy.poll() is not None:
                raise ClusterError(f"haproxy exited with {self.haproxy.returncode}:\n{self.tail('haproxy')}")
            try:
                api = _get(self.front_url + "/healthz")[0]
                files = _get(self.files_url + "/config.json")[0]
                states = self.backend_states()
                down = sorted(f"{backend}/{server}" for (backend, server), state in states.items()
                              if not state.startswith("UP"))
                if api == 200 and files == 200 and states and not down:
                    return
                last = f"front /healthz {api}, files /config.json {files}; not up: {', '.join(down) or '-'}"
            except (OSError, ValueError) as error:
                last = str(error)
            time.sleep(0.05)
        raise ClusterError(f"the front did not come up in {self.start_timeout:.0f} s ({last}):\n{self.tail('haproxy')}")

    def backend_states(self):
        """{(backend, server): status} from HAProxy's stats CSV (e.g. "UP", "DOWN", "UP 1/2")."""
        status, body = _get(self.stats_url + "/;csv", timeout=2)
        if status != 200:
            raise OSError(f"HAProxy's stats answered {status}")
        rows = csv.reader(io.StringIO(body.decode().lstrip("# ")))
        header = next(rows)
        name, server, state = header.index("pxname"), header.index("svname"), header.index("status")
        return {(row[name], row[server]): row[state] for row in rows
                if len(row) > state and row[server] not in ("FRONTEND", "BACKEND")}

    def wait_front_sees(self, i, up, timeout=10.0):
        """Until HAProxy marks replica i's servers in every backend up (or down); the seconds it took."""
        started = time.time()
        while True:
            states = [state for (backend, server), state in self.backend_states().items() if server == f"r{i}"]
            if states and all(state.startswith("UP") == up and "NOLB" not in state for state in states):
                return time.time() - started
            if time.time() - started > timeout:
                raise ClusterError(f"HAProxy does not see replica {i} {'up' if up else 'down'} after {timeout} s: {states}")
            time.sleep(0.05)

    def kill(self, i):
        """SIGKILL replica i (a crash: no shutdown, no monitor closed) and reap it."""
        process = self.processes[i]
        if process is None or process.poll() is not None:
            raise ClusterError(f"replica {i} is not running")
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.processes[i] = None

    def start_replica(self, i, wait_for_front=True):
        """Starts replica i again with the same command; returns once it is healthy (and, with
        wait_for_front, once HAProxy sends it requests again)."""
        try:
            self._spawn_replica(i)
            self._wait_replica(i)
            if wait_for_front:
                self.wait_front_sees(i, up=True, timeout=self.start_timeout)
        except BaseException:
            self.print_logs()
            raise

    def check_alive(self):
        """Raises ClusterError when a process that should run has stopped."""
        for i, process in self.processes.items():
            if process is not None and process.poll() is not None:
                raise ClusterError(f"replica {i} exited with {process.returncode}:\n{self.tail(f'replica-{i}')}")
        if self.haproxy is not None and self.haproxy.poll() is not None:
            raise ClusterError(f"haproxy exited with {self.haproxy.returncode}:\n{self.tail('haproxy')}")

    # MARK: logs

    def tail(self, name, lines=40):
        with contextlib.suppress(OSError):
            with open(self.log_path(name), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        return "(no log)"

    def print_logs(self, lines=40, file=None):
        file = file or sys.stderr
        for name in [f"replica-{i}" for i in range(self.replicas)] + ["haproxy"]:
            if os.path.exists(self.log_path(name)):
                print(f"----- {name} ({self.log_path(name)}), last {lines} lines -----", file=file)
                print(self.tail(name, lines), file=file, flush=True)

    # MARK: stop

    def stop(self, keep_workdir=False):
        """Stops HAProxy, then every replica (SIGTERM, SIGKILL after 10 s); removes the temporary
        directory (and the monitor root if it made it) unless keep_workdir. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        processes = ([self.haproxy] if self.haproxy else []) + [p for p in self.processes.values() if p is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.terminate()
        deadline = time.time() + 10
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.time()))
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.kill()
                process.wait()
        for log in self._logs.values():
            with contextlib.suppress(OSError):
                log.close()
        if not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None and not isinstance(value, (KeyboardInterrupt, SystemExit)):
            self.print_logs()
        self.stop()
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.path.join(ROOT, ".build", "release", "gym-server"))
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--monitor-dir", default="./monitor", help="the monitor root all replicas share")
    parser.add_argument("--host", default="127.0.0.1", help="the address everything listens on")
    parser.add_argument("--port", type=int, default=5000, help="the front's API port")
    parser.add_argument("--files-port", type=int, default=8000, help="the front's files port")
    parser.add_argument("--base-port", type=int, default=5001, help="replica i's API port is this + i")
    parser.add_argument("--base-files-port", type=int, default=8001, help="replica i's files port is this + i")
    parser.add_argument("--haproxy", default="haproxy")
    parser.add_argument("--check-interval-ms", type=int, default=1000, help="HAProxy's health checks")
    parser.add_argument("server_args", nargs="*", help="more gym-server options, after --  (e.g. -- --api-key KEY)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(number, _frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster = Cluster(args.server, replicas=args.replicas, monitor_root=args.monitor_dir, api_port=args.port,
                          files_port=args.files_port, base_api_port=args.base_port,
                          base_files_port=args.base_files_port, host=args.host, extra_args=args.server_args,
                          haproxy=args.haproxy, check_interval_ms=args.check_interval_ms)
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    try:
        print(f"gym-server fleet of {args.replicas} replicas behind HAProxy (monitor root {cluster.monitor_root}):")
        print(f"  API             {cluster.front_url}/v1/help")
        print(f"  dashboard       {cluster.files_url}/")
        print(f"  HAProxy stats   {cluster.stats_url}/")
        for i in range(args.replicas):
            print(f"  replica {i}       {cluster.replica_url(i)}/v1/help  files {cluster.replica_files_url(i)}/"
                  f"  (instance ids {i:02x}...; pid {cluster.processes[i].pid})")
        print(f"  logs            {cluster.workdir}")
        print("Ctrl-C stops everything.", flush=True)
        while not stop.wait(1.0):
            try:
                cluster.check_alive()
            except ClusterError as error:
                print(f"cluster: {error}", file=sys.stderr)
                return 1
        print("stopping the fleet", flush=True)
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
