"""transport="websocket": Gymie's protocol at ws://host:port/gym, against gym-server (episodes,
errors reported by closing the socket with a reason, API keys on the handshake), and against a
server without /gym (the client says the server lacks the endpoint)."""

from __future__ import annotations

import http.server
import threading

import numpy as np
import pytest

import gym_server_client as gsc
from gym_server_client import RemoteEnv
from gym_server_client.transport import WebSocketTransport

from conftest import API_KEYS, assert_same_value, in_process
from test_env import run_episodes


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1", "Blackjack-v1", "Taxi-v3"])
def test_episodes_equal_gymnasiums_over_websocket(server, env_id):
    env = RemoteEnv(env_id, url=server.url, transport="websocket")
    try:
        for seed in (0, 5):
            run_episodes(env, in_process(env_id), seed, where=f"ws {env_id} seed {seed}", max_steps=300)
    finally:
        env.close()


def test_errors_over_websocket_and_the_connection_recovers(server):
    with pytest.raises(gsc.UnknownEnvironment, match="Environment `NoSuchEnv-v1` not found"):
        RemoteEnv("NoSuchEnv-v1", url=server.url, transport="websocket")
    with pytest.raises(gsc.MalformedEnvironmentId, match="Environment `CartPole` is malformed"):
        RemoteEnv("CartPole", url=server.url, transport="websocket")
    env = RemoteEnv("CartPole-v1", url=server.url, transport="websocket", render_mode="rgb_array")
    try:
        with pytest.raises(gsc.ResetNeeded):
            env.step(0)
        env.reset(seed=1)
        with pytest.raises(gsc.InvalidAction, match="Action `7` is wrong"):
            env.step(7)
        obs, *_ = env.step(1)
        assert obs.dtype == np.float32
        assert env.render().shape == (400, 600, 3)  # render goes over REST
    finally:
        env.close()


def test_seed_and_kwargs_at_make_over_websocket(server):
    env = RemoteEnv("FrozenLake-v1", url=server.url, transport="websocket", seed=9,
                    kwargs={"is_slippery": False})
    try:
        assert_same_value(env.reset()[0], in_process("FrozenLake-v1", is_slippery=False).reset(seed=9)[0])
    finally:
        env.close()


def test_one_connection_carries_the_episodes_and_an_error_closes_it(server):
    env = RemoteEnv("Acrobot-v1", url=server.url, transport="websocket", seed=3)
    try:
        connection = env._transport._connection
        assert connection is not None  # opened by make, then kept
        run_episodes(env, in_process("Acrobot-v1"), 3, episodes=1, where="ws Acrobot", max_steps=60)
        assert env._transport._connection is connection
        # An error closes the socket with Gymie's reason (1007 "Action `5` is wrong"); the next
        # call opens another connection, on the same instance.
        with pytest.raises(gsc.InvalidAction, match="Action `5` is wrong") as caught:
            env.step(5)
        assert caught.value.route == "ws step" and caught.value.status is None
        assert env._transport._connection is None
        env.reset(seed=3)
        assert env._transport._connection not in (None, connection)
    finally:
        env.close()


def test_api_key_on_the_handshake(keyed_server):
    with pytest.raises(gsc.ServerError, match="API key needed"):
        RemoteEnv("CartPole-v1", url=keyed_server.url, transport="websocket")
    env = RemoteEnv("CartPole-v1", url=keyed_server.url, transport="websocket", api_key=API_KEYS[0])
    try:
        run_episodes(env, in_process("CartPole-v1"), 8, episodes=1, where="ws keyed CartPole", max_steps=50)
        # The instance is the key's: the other key does not find it.
        other = WebSocketTransport(keyed_server.url, api_key=API_KEYS[1])
        with pytest.raises(gsc.UnknownInstance, match=env.instance_id):
            other.reset(env.instance_id, None, None)
        other.shutdown()
    finally:
        env.close()


# ---- a server without /gym ---------------------------------------------------------------------


class NotFound(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b'{"error": "No route", "message": "No route"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_404_on_gym_says_the_server_lacks_the_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(gsc.UnsupportedByServer, match="no WebSocket endpoint .*use transport='http'"):
            RemoteEnv("CartPole-v1", url=url, transport="websocket")
    finally:
        server.shutdown()
        server.server_close()
