"""Fixtures for the bridge's tests: workers started as subprocesses and always ended."""

import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from worker_client import WorkerClient  # noqa: E402


@pytest.fixture
def start_worker():
    """start_worker(imports=(), **options) -> a WorkerClient, killed at the end of the test."""
    started = []

    def start(imports=(), **options):
        client = WorkerClient(imports=imports, **options)
        started.append(client)
        return client

    yield start
    for client in started:
        client.terminate()


@pytest.fixture
def worker(start_worker):
    """A worker with the test environments imported, past its hello."""
    client = start_worker(imports=["gym_server_test_envs"])
    assert client.startup_error is None, client.stderr_text()
    return client
