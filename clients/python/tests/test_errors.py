"""Errors: the server's messages raised as exceptions (Gymnasium's classes where they fit), an
unreachable server, and the client's own checks of its inputs."""

from __future__ import annotations

import socket

import gymnasium as gym
import numpy as np
import pytest
import requests

import gym_server_client as gsc
from gym_server_client import RemoteEnv


def test_unregistered_id(server):
    with pytest.raises(gsc.UnknownEnvironment, match="Environment 'NoSuchEnv-v3' is not registered") as caught:
        RemoteEnv("NoSuchEnv-v3", url=server.url)
    assert isinstance(caught.value, gym.error.UnregisteredEnv)
    assert caught.value.status == 400 and caught.value.route == "POST /v1/envs/"


def test_malformed_id(server):
    with pytest.raises(gsc.MalformedEnvironmentId, match="malformed environment ID 'CartPole'"):
        RemoteEnv("CartPole", url=server.url)


def test_unknown_kwarg(server):
    with pytest.raises(gsc.ServerError, match="Unknown argument 'bogus' for CartPole-v1"):
        gym.make("gym_server/CartPole-v1", url=server.url, bogus=1)


@pytest.mark.parametrize(
    "env_id, action, message",
    [
        ("CartPole-v1", 2, r"Action 2 is not in the action space Discrete\(2\)"),
        ("CartPole-v1", 1.0, "expected an integer"),
        ("Pendulum-v1", np.array([np.inf], dtype=np.float32), r"is not in the action space Box.*finite"),
        ("Pendulum-v1", 0.5, r"expected an array of shape \(1,\)"),
    ],
)
def test_bad_actions(server, env_id, action, message):
    env = RemoteEnv(env_id, url=server.url)
    try:
        env.reset(seed=0)
        with pytest.raises(gsc.InvalidAction, match=message) as caught:
            env.step(action)
        assert isinstance(caught.value, gym.error.InvalidAction)
        env.step(env.action_space.sample())  # the instance is still usable
    finally:
        env.close()


def test_step_and_render_before_reset(server):
    env = RemoteEnv("FrozenLake-v1", url=server.url, render_mode="ansi")
    try:
        with pytest.raises(gsc.ResetNeeded, match="before calling env.reset") as caught:
            env.step(0)
        assert isinstance(caught.value, gym.error.ResetNeeded)
        with pytest.raises(gsc.ResetNeeded, match="Cannot render FrozenLake-v1 before"):
            env.render()
    finally:
        env.close()


def test_server_side_seed_and_options_errors(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    try:
        with pytest.raises(gsc.ServerError, match="seed"):
            env.reset(seed=2**64)  # Gymnasium takes it; the server's seeds stop at 2**63 - 1
    finally:
        env.close()


def test_instance_closed_elsewhere(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    requests.post(f"{server.url}/v1/envs/{env.instance_id}/close/", timeout=5).raise_for_status()
    with pytest.raises(gsc.UnknownInstance, match=f"Instance_id {env.instance_id} unknown"):
        env.reset()
    env.close()  # closing an instance the server forgot is not an error


def test_unreachable_server_names_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(gsc.ServerUnreachable, match=f"cannot reach gym-server at {url}") as caught:
        RemoteEnv("CartPole-v1", url=url)
    assert isinstance(caught.value, ConnectionError)
    with pytest.raises(gsc.ServerUnreachable, match=f"127.0.0.1:{port}"):
        RemoteEnv("CartPole-v1", url=url, transport="websocket")
    with pytest.raises(gsc.ServerUnreachable, match=url):
        gym.make("gym_server/CartPole-v1", url=url)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"url": "localhost:5000"}, ValueError, "http:// or https://"),
        ({"url": "ftp://127.0.0.1:5000"}, ValueError, "http:// or https://"),
        ({"seed": -1}, ValueError, "non-negative"),
        ({"seed": 1.5}, TypeError, "seed must be"),
        ({"seed": True}, TypeError, "seed must be"),
        ({"kwargs": [("is_slippery", False)]}, TypeError, "kwargs must be a dict"),
        ({"transport": "grpc"}, ValueError, "transport must be one of"),
        ({"api_key": ""}, ValueError, "api_key"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"render_mode": "human"}, ValueError, "not offered"),
    ],
)
def test_client_inputs_are_checked_before_anything_is_sent(kwargs, error, message):
    # No server needed: each is refused before a connection is made.
    with pytest.raises(error, match=message):
        RemoteEnv("CartPole-v1", **{"url": "http://127.0.0.1:9", **kwargs})


def test_reset_and_monitor_inputs(server):
    env = RemoteEnv("CartPole-v1", url=server.url)
    try:
        with pytest.raises(ValueError, match="non-negative"):
            env.reset(seed=-5)
        with pytest.raises(TypeError, match="options must be a dict"):
            env.reset(options=[1])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot be a Python callable"):
            env.start_monitor(video_callable=lambda episode: True)
        with pytest.raises(ValueError, match="positive integer"):
            env.start_monitor(video_callable=0)
        with pytest.raises(TypeError, match="force must be a bool"):
            env.start_monitor(force="yes")  # type: ignore[arg-type]
        with pytest.raises(gsc.ServerError, match=r"\.\."):
            env.start_monitor(directory="../outside")
        with pytest.raises(TypeError, match="cannot send"):
            env.step(object())
    finally:
        env.close()


def test_every_error_is_a_gymnasium_error():
    for cls in (gsc.ServerError, gsc.UnknownEnvironment, gsc.InvalidAction, gsc.ResetNeeded,
                gsc.ServerUnreachable, gsc.UnsupportedByServer, gsc.ProtocolError, gsc.PNGDecodeError):
        assert issubclass(cls, gym.error.Error)
