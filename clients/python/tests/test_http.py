"""What goes over the wire: X-API-Key on every request, one keep-alive connection, a
connection the server closed while idle is reopened, and a vector env asking for MessagePack
reads the JSON a proxy answers instead. A recording proxy sits in front of the real server. And
against a server with API keys: the key opens the API, the live view and the dashboard."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
import requests

import gym_server_client as gsc
from gym_server_client import RemoteEnv, RemoteVectorEnv

from conftest import API_KEYS, assert_same_value


class RecordingProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[tuple[str, str, str | None, int]] = []  # method, path, X-API-Key, client port
        self.close_after_next = False
        self.announce_close = True
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingProxy

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle holds the second
        # until the client's delayed ACK (40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append((self.command, self.path, self.headers.get("X-API-Key"), self.client_address[1]))
        answer = requests.request(self.command, self.server.upstream + self.path, data=body or None,
                                  headers={"Content-Type": "application/json"} if body else {}, timeout=10)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        if self.server.close_after_next:
            self.server.close_after_next = False
            if self.server.announce_close:
                self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy(server):
    running = RecordingProxy(server.url)
    yield running
    running.stop()


def exercise(env: RemoteEnv) -> None:
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.render()
    env.start_monitor(video_callable=False)
    env.close_monitor()
    env.close()


def test_api_key_on_every_request_over_one_connection(proxy):
    env = RemoteEnv("CartPole-v1", url=proxy.url, api_key="k-123", render_mode="rgb_array")
    exercise(env)
    routes = {path.split("/")[-2] if path.endswith("/") else path.split("/")[-1] for _, path, _, _ in proxy.seen}
    assert {"envs", "observation_space", "action_space", "reset", "step", "render", "start", "close"} <= routes
    assert all(key == "k-123" for _, _, key, _ in proxy.seen), proxy.seen
    assert len({port for *_, port in proxy.seen}) == 1, "expected one keep-alive connection"


def test_no_key_no_header(proxy):
    exercise(RemoteEnv("FrozenLake-v1", url=proxy.url, render_mode="ansi"))
    assert proxy.seen and all(key is None for _, _, key, _ in proxy.seen)


@pytest.mark.parametrize("announced", [True, False], ids=["connection-close-header", "idle-close"])
def test_a_connection_closed_by_the_server_is_reopened(proxy, announced):
    env = RemoteEnv("CartPole-v1", url=proxy.url)
    try:
        env.reset(seed=0)
        proxy.close_after_next = True
        proxy.announce_close = announced
        env.step(0)  # the proxy closes the connection after this answer (saying so, or not)
        time.sleep(0.2)  # idle, as between episodes: the close reaches the client
        env.step(1)  # on a new connection, not a failure
        assert len({port for *_, port in proxy.seen}) == 2
    finally:
        env.close()


def test_a_vector_env_asking_for_msgpack_reads_json_too(server, proxy):
    """The proxy forwards no Accept header, so the server answers JSON: the client reads it."""
    through_proxy = RemoteVectorEnv("Blackjack-v1", 3, url=proxy.url, autoreset_mode="same_step", encoding="msgpack")
    direct = RemoteVectorEnv("Blackjack-v1", 3, url=server.url, autoreset_mode="same_step", encoding="msgpack")
    try:
        assert_same_value(through_proxy.reset(seed=6), direct.reset(seed=6))
        through_proxy.action_space.seed(6)
        for t in range(40):
            actions = through_proxy.action_space.sample()
            assert_same_value(through_proxy.step(actions), direct.step(actions), f"step {t}")
    finally:
        through_proxy.close()
        direct.close()


def test_a_key_opens_the_api_the_live_view_and_the_dashboard(keyed_server):
    with pytest.raises(gsc.ServerError, match="API key") as caught:
        RemoteEnv("CartPole-v1", url=keyed_server.url)
    assert caught.value.status == 401
    with pytest.raises(gsc.ServerError, match="not valid|wrong|invalid"):
        RemoteEnv("CartPole-v1", url=keyed_server.url, api_key="nobody's key")
    env = RemoteEnv("CartPole-v1", url=keyed_server.url, api_key=API_KEYS[0], files_url=keyed_server.files_url)
    try:
        env.reset(seed=0)
        env.step(0)
        assert env.live_view_url == (f"{keyed_server.files_url}/render.html?instance_id={env.instance_id}"
                                     f"&key={API_KEYS[0]}")
        assert env.dashboard_url == f"{keyed_server.files_url}/?key={API_KEYS[0]}"
        place = env.start_monitor(video_callable=False)
        # A browser opening the live view gets the key as a cookie, which opens the key's files.
        with requests.Session() as browser:
            page = browser.get(env.live_view_url, timeout=10)
            assert page.status_code == 200 and "key=" not in page.url and browser.cookies
            assert browser.get(place["url"], timeout=10).status_code == 200
        assert requests.get(place["url"], timeout=10).status_code == 401
    finally:
        env.close()
