"""Starts the gym-server binary named by GYM_SERVER_BINARY on free ports with a temporary monitor
directory, once per test session; tests that need it take the ``server`` fixture (or
``keyed_server``, the same binary with API keys on).

Without GYM_SERVER_BINARY those tests are skipped, visibly (``-rs`` lists them with the reason);
`make test-client` always sets it. The offline tests (PNG decoding, spaces, vector info) run
either way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import requests

import gym_server_client

BINARY_VARIABLE = "GYM_SERVER_BINARY"

# Every id the client registers, with the id Gymnasium 1.4 has for it in process.
ALL_IDS = list(gym_server_client.REGISTERED_IDS)
IN_PROCESS_ID = {env_id: env_id for env_id in ALL_IDS} | {"Taxi-v3": "Taxi-v4"}


@dataclass
class Server:
    url: str
    files_url: str
    monitor_dir: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(binary: str, workdir: Path, extra_arguments: list[str]) -> Server:
    monitor_dir = workdir / "monitor"
    monitor_dir.mkdir(exist_ok=True)
    log_path = workdir / "server.log"
    for _attempt in range(3):
        port, files_port = _free_ports(2)
        log = open(log_path, "w")
        process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--files-port", str(files_port),
             "--monitor-dir", str(monitor_dir), "--log-level", "warning", *extra_arguments],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # Bridged environments only where a test asks for them (--python), not because the
            # environment of the test run names a Python.
            env={name: value for name, value in os.environ.items() if name != "GYM_SERVER_PYTHON"},
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break  # exited: a port taken meanwhile, or a broken binary
            try:
                if requests.get(url + "/v1/help", timeout=1).status_code == 200:
                    requests.get(f"http://127.0.0.1:{files_port}/config.json", timeout=1).raise_for_status()
                    return Server(url, f"http://127.0.0.1:{files_port}", monitor_dir, process, log_path)
            except requests.RequestException:
                pass
            time.sleep(0.05)
        process.kill()
        process.wait()
    pytest.fail(f"gym-server ({binary}) did not start; its log:\n{log_path.read_text(errors='replace')[-4000:]}")


def _serve(tmp_path_factory: pytest.TempPathFactory, name: str, extra_arguments: list[str]):
    binary = os.environ.get(BINARY_VARIABLE)
    if not binary:
        pytest.skip(f"{BINARY_VARIABLE} is not set: set it to a gym-server binary to run the tests against a real server")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"{BINARY_VARIABLE}={binary!r} is not an executable file")
    running = _start(binary, tmp_path_factory.mktemp(name), extra_arguments)
    yield running
    running.process.terminate()
    try:
        running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """gym-server as `make run` starts it: no API keys."""
    yield from _serve(tmp_path_factory, "gym-server", [])


API_KEYS = ("alice-key-0123", "bob-key-4567")


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory):
    """A second gym-server that needs one of API_KEYS on every request."""
    yield from _serve(tmp_path_factory, "gym-server-keys", [arg for key in API_KEYS for arg in ("--api-key", key)])


def in_process(env_id: str, **kwargs) -> gym.Env:
    """Gymnasium's own environment for a server id, as `gymnasium.make` makes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make(IN_PROCESS_ID.get(env_id, env_id), **kwargs)


def assert_same_value(a, b, where: str = "") -> None:
    """Exactly equal values (bit for bit for floats), with numpy types of the same dtype."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_value(x, y, f"{where}[{i}]")
        return
    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a!r} != {b!r}"
        for k in a:
            assert_same_value(a[k], b[k], f"{where}[{k!r}]")
        return
    x, y = np.asarray(a), np.asarray(b)
    assert x.shape == y.shape, f"{where}: shape {x.shape} != {y.shape} ({a!r} vs {b!r})"
    if x.dtype == object or y.dtype == object:
        assert x.dtype == y.dtype, f"{where}: {a!r} != {b!r}"
        for i, (p, q) in enumerate(zip(x.ravel(), y.ravel())):
            if p is None or q is None:
                assert p is None and q is None, f"{where}[{i}]: {p!r} != {q!r}"
            else:
                assert_same_value(p, q, f"{where}[{i}]")
        return
    assert np.array_equal(x, y), f"{where}: {a!r} != {b!r}"
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(y.dtype, np.floating):
        bits_x = np.ascontiguousarray(x).reshape(-1).view(np.uint8)
        bits_y = np.ascontiguousarray(y.astype(x.dtype)).reshape(-1).view(np.uint8)
        assert np.array_equal(bits_x, bits_y), f"{where}: not bit for bit"
