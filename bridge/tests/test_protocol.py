"""The worker's protocol: start-up, list, make descriptions, errors, malformed requests, the end of
the worker (close, EOF, signals, a parent that dies), and stdout kept clean."""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest

import gym_server_test_envs  # noqa: F401  (registers GymServerTest/*)
from inprocess import info_text, to_plain
from worker_client import CLOSE, TESTS_DIR, WORKER_PATH, WorkerError, WorkerGone


def error_of(call, *args, **kwargs):
    with pytest.raises(WorkerError) as caught:
        call(*args, **kwargs)
    assert caught.value.fatal is False
    return caught.value


def wait_exit(client, timeout=30):
    return client.process.wait(timeout)


# -- start-up


def test_hello_names_versions_and_imports(worker):
    hello = worker.hello
    assert hello["protocol"] == 1
    assert hello["python"] == "%d.%d.%d" % sys.version_info[:3]
    assert hello["gymnasium"] == gym.__version__ and hello["numpy"] == np.__version__
    assert hello["imports"] == ["gym_server_test_envs"]
    assert hello["pid"] == worker.process.pid


def test_inline_worker_runs_with_python_c(start_worker):
    client = start_worker(imports=["gym_server_test_envs"], inline=True)
    assert client.hello["protocol"] == 1
    client.make("GymServerTest/DictBox-v0")
    assert client.reset(seed=1)[0]["mode"] in (0, 1, 2)
    assert client.close() == 0


@pytest.mark.parametrize("module, expected", [
    ("gym_server_no_such_module", "ModuleNotFoundError: while importing 'gym_server_no_such_module': "
                                  "No module named 'gym_server_no_such_module'"),
    ("gym_server_broken_module", "RuntimeError: while importing 'gym_server_broken_module': broken on purpose"),
])
def test_import_failure_is_reported_then_the_worker_exits(start_worker, module, expected):
    client = start_worker(imports=["gym_server_test_envs", module])
    assert client.hello is None
    assert client.startup_error.fatal is True
    assert str(client.startup_error) == expected
    assert wait_exit(client) == 2
    assert "Traceback" in client.stderr_text()


def test_missing_gymnasium_is_reported(start_worker):
    client = start_worker(python_args=["-S"])  # no site-packages: neither numpy nor gymnasium
    assert client.startup_error.type == "ImportError"
    assert "the worker needs numpy and gymnasium in" in str(client.startup_error)
    assert wait_exit(client) == 2


def test_bad_arguments_are_reported(start_worker):
    client = start_worker(extra_args=["--verbose"])
    assert client.startup_error.fatal is True
    assert str(client.startup_error) == ("BadRequest: unknown argument '--verbose'; "
                                         "usage: gym_server_worker.py [--import MODULE]... [--spin-us MICROSECONDS]")
    assert wait_exit(client) == 2


@pytest.mark.parametrize("value", ["-1", "100001", "abc", "1.5", ""])
def test_bad_spin_budgets_are_reported(start_worker, value):
    client = start_worker(extra_args=["--spin-us", value] if value else ["--spin-us"])
    assert client.startup_error.fatal is True
    assert str(client.startup_error) == (
        "BadRequest: --spin-us needs a whole number of microseconds from 0 to 100000, got %r" % value)
    assert wait_exit(client) == 2


@pytest.mark.parametrize("args", [["--spin-us", "300"], ["--spin-us=100000"], ["--spin-us", "0"]])
def test_a_polling_worker_answers_as_a_blocking_one(start_worker, args):
    """With --spin-us the worker polls for its requests before it blocks: the answers are the
    same, whether the requests come at once, or after pauses longer than the budget."""
    polling = start_worker(imports=["gym_server_test_envs"], extra_args=args)
    blocking = start_worker(imports=["gym_server_test_envs"])
    assert polling.startup_error is None, polling.stderr_text()
    answers = []
    for client in (polling, blocking):
        client.make("CartPole-v1")
        seen = [client.reset(seed=5)]
        for n in range(40):
            if n % 10 == 9:
                time.sleep(0.002)
            seen.append(client.step(n % 2))
        answers.append(seen)
    assert repr(answers[0]) == repr(answers[1])


# -- list


def test_list_has_every_registered_id_with_spec_info(worker):
    envs = worker.list()
    assert [e["id"] for e in envs] == list(gym.registry)
    by_id = {e["id"]: e for e in envs}
    cartpole = by_id["CartPole-v1"]
    assert cartpole == {
        "id": "CartPole-v1", "namespace": None, "name": "CartPole", "version": 1,
        "max_episode_steps": 500, "reward_threshold": 475.0, "nondeterministic": False,
        "entry_point": "gymnasium.envs.classic_control.cartpole:CartPoleEnv",
        "makeable": True, "reason": None, "render_modes": ["human", "rgb_array"],
    }
    dict_box = by_id["GymServerTest/DictBox-v0"]
    assert (dict_box["namespace"], dict_box["name"], dict_box["version"]) == ("GymServerTest", "DictBox", 0)
    assert dict_box["max_episode_steps"] == 25 and dict_box["makeable"] is True
    assert by_id["Blackjack-v1"]["max_episode_steps"] is None
    moved = by_id["Reacher-v2"]
    assert moved["makeable"] is False and moved["reason"].startswith("ImportError: The mujoco v2 and v3")
    assert moved["entry_point"] == "gymnasium.envs:_raise_mujoco_py_error"
    for e in envs:
        assert e["makeable"] is (e["reason"] is None)
    unprobed = worker.list(probe=False)
    assert [e["id"] for e in unprobed] == list(gym.registry)
    assert all(e["makeable"] is None for e in unprobed)


def test_list_probing_matches_what_can_be_imported(worker):
    """`makeable` is false exactly where the entry point's module fails to import here."""
    by_id = {e["id"]: e for e in worker.list()}
    for env_id in ("LunarLander-v3", "phys2d/CartPole-v1", "Ant-v5"):
        spec = gym.spec(env_id)
        try:
            gym.envs.registration.load_env_creator(spec.entry_point)
            importable = True
        except Exception:
            importable = False
        assert by_id[env_id]["makeable"] is importable, by_id[env_id]


# -- make


def test_make_describes_cartpole_like_gymnasium(worker):
    description = worker.make("CartPole-v1")
    local = gym.make("CartPole-v1", render_mode="rgb_array")
    assert description["render_mode"] == "rgb_array"
    assert description["render_modes"] == ["human", "rgb_array"] and description["render_fps"] == 50
    assert description["wrappers"] == ["TimeLimit", "OrderEnforcing", "PassiveEnvChecker"]
    assert description["wrappers"] == [type(w).__name__ for w in _wrapper_chain(local)]
    assert description["time_limit"] is True and description["max_episode_steps"] == 500
    assert description["env_class"] == "gymnasium.envs.classic_control.cartpole.CartPoleEnv"
    assert description["reward_threshold"] == 475.0 and description["spec_id"] == "CartPole-v1"
    box = description["observation_space"]
    assert box == {"type": "Box", "dtype": "float32", "shape": [4], "size": 16,
                   "low": local.observation_space.low.tolist(), "high": local.observation_space.high.tolist()}
    assert box["high"][1] == float("inf") and box["low"][3] == -float("inf")
    assert description["action_space"] == {"type": "Discrete", "n": 2, "start": 0, "dtype": "int64", "size": 8}


def _wrapper_chain(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


def test_render_mode_choice(start_worker):
    ansi_only = start_worker(imports=["gym_server_test_envs"])
    assert ansi_only.make("GymServerTest/AnsiOnly-v0")["render_mode"] == "ansi"
    ansi_only.reset(seed=0)
    assert ansi_only.render().startswith("state ")
    no_modes = start_worker(imports=["gym_server_test_envs"])
    assert no_modes.make("GymServerTest/UInt16Box-v0")["render_mode"] is None
    no_modes.reset(seed=0)
    assert str(error_of(no_modes.render)) == "NotImplementedError"  # gym.Env.render, not overridden
    none = start_worker(imports=["gym_server_test_envs"])
    assert none.make("GymServerTest/DictBox-v0", render_mode=None)["render_mode"] is None
    none.reset(seed=0)
    assert none.render() is None
    unasked = start_worker()
    assert unasked.make("CartPole-v1", render_mode=None)["render_mode"] is None
    in_kwargs = start_worker()
    assert in_kwargs.make("FrozenLake-v1", kwargs={"render_mode": "ansi"})["render_mode"] == "ansi"


def test_auto_makes_without_a_render_mode_until_the_first_render(start_worker):
    """`auto` makes the env as a user's gymnasium.make(id) does (with a render mode an env may step
    slower: LunarLander's engine particles) and switches the mode it chose on at the first render,
    slot by slot; a mode asked for is there from the start."""
    client = start_worker(imports=["gym_server_test_envs"])
    for slot in (0, 1):
        client.use(slot)
        description = client.make("GymServerTest/RenderMode-v0")
        assert description["render_mode"] == "rgb_array" and description["render_mode_deferred"] is True
        assert client.reset(seed=0)[1] == {"render_mode": None}
        assert client.step(1)[4] == {"render_mode": None}
    client.use(0)
    assert client.render().tolist() == np.full((2, 3, 3), 1, np.uint8).tolist()
    assert client.step(0)[4] == {"render_mode": "rgb_array"}
    client.use(1)
    assert client.step(0)[4] == {"render_mode": None}
    assert client.render().tolist() == np.full((2, 3, 3), 2, np.uint8).tolist()
    assert client.step(0)[4] == {"render_mode": "rgb_array"}
    for kwargs, mode in (({"render_mode": "rgb_array"}, "rgb_array"), ({"render_mode": None}, None)):
        asked = start_worker(imports=["gym_server_test_envs"])
        description = asked.make("GymServerTest/RenderMode-v0", kwargs=kwargs)
        assert description["render_mode"] == mode and description["render_mode_deferred"] is False
        assert asked.reset(seed=0)[1] == {"render_mode": mode}
        assert (asked.render() is None) == (mode is None)
    fixed = start_worker(imports=["gym_server_test_envs"])
    assert fixed.make("GymServerTest/FixedRenderMode-v0")["render_mode"] == "rgb_array"
    fixed.reset(seed=0)
    assert str(error_of(fixed.render)) == (
        "RuntimeError: GymServerTest/FixedRenderMode-v0 was made with no render mode, which cannot be switched on "
        'now: make it with kwargs {"render_mode": "rgb_array"} for frames')
    assert fixed.render() is None  # (asked once: later renders are the env's own)
    fixed.ping()


def test_make_imports_the_module_of_a_module_colon_id(start_worker):
    client = start_worker()  # no --import: gymnasium.make imports the module itself
    description = client.make("gym_server_test_envs:GymServerTest/AnsiOnly-v0")
    assert description["spec_id"] == "GymServerTest/AnsiOnly-v0" and description["render_mode"] == "ansi"
    assert description["max_episode_steps"] == 50
    other = start_worker()
    error = error_of(other.make, "gym_server_no_such_module:Thing-v0")
    assert error.type == "ModuleNotFoundError"


def test_make_errors_leave_the_worker_serving(worker):
    try:
        gym.make("NoSuchEnv-v0")
    except Exception as exc:  # what a user sees in-process
        expected = "%s: %s" % (type(exc).__name__, exc)
    assert str(error_of(worker.make, "NoSuchEnv-v0")) == expected
    assert str(error_of(worker.make, "CartPole-v1", render_mode="human")) == (
        'BadRequest: make: render_mode must be null, "auto", "rgb_array" or "ansi", got "human"')
    assert str(error_of(worker.make, "CartPole-v1", kwargs={"render_mode": "ansi"}, render_mode="rgb_array")) == (
        "BadRequest: make: render_mode is given twice, differently (field and kwargs)")
    assert error_of(worker.make, "CartPole-v1", kwargs={"no_such_argument": 1}).type == "TypeError"
    unsupported = error_of(worker.make, "GymServerTest/TextObs-v0")
    assert unsupported.type == "UnsupportedSpace" and "observation space is Text(" in str(unsupported)
    for payload, message in [
        (b"[1]", "BadRequest: make: the payload must be a JSON object, got list"),
        (b"{", None),
        (b'{"env_id": 3}', "BadRequest: make: env_id must be a non-empty string"),
        (b'{"env_id": "CartPole-v1", "kwargs": [1]}', "BadRequest: make: kwargs must be a JSON object or null"),
        (b'{"env_id": "CartPole-v1", "seed": 1}', "BadRequest: make: unknown field(s) ['seed']; "
                                                  "expected env_id, kwargs, render_mode"),
    ]:
        error = error_of(worker.request, ord("M"), payload)
        assert error.type == "BadRequest"
        if message:
            assert str(error) == message
    worker.make("CartPole-v1")
    assert str(error_of(worker.make, "CartPole-v1")) == (
        "BadRequest: make: this slot already holds CartPole-v1; choose another slot (U) or start another "
        "worker for another environment")
    worker.reset(seed=0)
    worker.step(1)


# -- errors on the step path


def test_requests_before_make_are_refused(worker):
    for kind, payload in [("S", struct.pack("<q", 1)), ("R", b""), ("F", b""), ("A", b"")]:
        assert str(error_of(worker.request, ord(kind), payload)) == (
            "BadRequest: no environment yet: send a make request first")
    worker.ping()


def test_step_before_reset_is_gymnasiums_error(worker):
    worker.make("CartPole-v1")
    assert str(error_of(worker.step, 0)) == "ResetNeeded: Cannot call env.step() before calling env.reset()"
    worker.reset(seed=1)
    worker.step(0)


def test_environment_exceptions_are_answered_and_the_worker_goes_on(worker):
    worker.make("GymServerTest/Raising-v0")
    worker.reset(seed=0)
    error = error_of(worker.step, 2)
    assert (str(error), error.type, error.answer["message"]) == (
        "ValueError: action 2 is forbidden", "ValueError", "action 2 is forbidden")
    assert str(error_of(worker.step, 3)) == "SystemExit: 3"
    mismatch = error_of(worker.step, 1)
    assert str(mismatch) == "SpaceMismatch: observation space: expected shape (1,), got (2,)"
    assert str(error_of(worker.reset, options={"fail": True})) == "RuntimeError: reset failed on purpose"
    obs, reward, terminated, truncated, info, _ = worker.step(0)
    assert obs.tolist() == [0.25] and reward == 1.5 and (terminated, truncated) == (False, False)
    stderr = worker.stderr_text()
    assert "ValueError: action 2 is forbidden" in stderr and "Traceback" in stderr


def test_malformed_requests_are_answered(worker):
    worker.make("CartPole-v1")
    worker.reset(seed=0)
    cases = [
        (b"\x00", "BadRequest: unknown request kind 0x00"),
        (b"S\x01\x00", "BadRequest: step: the action must be 8 bytes, got 2"),
        (b"S" + bytes(9), "BadRequest: step: the action must be 8 bytes, got 9"),
        (b"R{", None),
        (b"R\xff\xfe", None),
        (b'R{"seed": "x"}', 'BadRequest: reset: seed must be an integer or null, got "x"'),
        (b'R{"seed": 1.5}', "BadRequest: reset: seed must be an integer or null, got 1.5"),
        (b'R{"seed": true}', "BadRequest: reset: seed must be an integer or null, got true"),
        (b'R{"options": 3}', "BadRequest: reset: options must be a JSON object or null, got 3"),
        (b'R{"sead": 3}', "BadRequest: reset: unknown field(s) ['sead']; expected seed, options"),
        (b"Fx", "BadRequest: render: takes no payload"),
        (b'A{"seed": "s"}', 'BadRequest: sample: seed must be an integer or null, got "s"'),
        (b'L{"probe": 1}', "BadRequest: list: probe must be true or false"),
    ]
    for body, message in cases:
        worker.send_raw(struct.pack("<I", len(body)) + body)
        kind, answer = worker._receive()
        assert kind == ord("E"), body
        answer = json.loads(bytes(answer))
        assert answer["type"] == "BadRequest" and answer["fatal"] is False, (body, answer)
        if message:
            assert answer["error"] == message
    worker.send_raw(struct.pack("<I", 0))  # an empty body
    kind, answer = worker._receive()
    assert kind == ord("E") and json.loads(bytes(answer))["type"] == "BadRequest"
    # A step whose action is out of the space is Gymnasium's own complaint (CartPole asserts).
    assert error_of(worker.step_raw, struct.pack("<q", 5)).type == "AssertionError"
    worker.step(1)


def test_seed_must_be_what_gymnasium_accepts(worker):
    worker.make("CartPole-v1")
    error = error_of(worker.reset, seed=-1)
    with pytest.raises(Exception) as local_error:
        gym.make("CartPole-v1").reset(seed=-1)
    assert str(error) == "%s: %s" % (type(local_error.value).__name__, local_error.value)
    big = 2**80 + 5  # arbitrary-size Python ints are seeds too
    local = gym.make("CartPole-v1")
    assert worker.reset(seed=big)[0].tobytes() == local.reset(seed=big)[0].tobytes()


# -- info, frames, stdout


def test_info_values_become_json(worker):
    worker.make("GymServerTest/Raising-v0")
    worker.reset(seed=0)
    info = worker.step(0)[4]
    assert info["array"] == [0, 1, 2] and info["matrix"] == [[1.0, 0.0], [0.0, 1.0]]
    assert info["scalar"] == float(np.float32(0.1)) == 0.10000000149011612
    assert info["nested"] == {"int": 3, "bool": True, "deeper": {"uint": 200}}
    assert info["tuple"] == [1, 2.5] and info["set"] == "{7}" and info["opaque"] == "<Opaque thing>"
    assert np.isnan(info["nan"]) and info["inf"] == float("inf") and info["minus_inf"] == -float("inf")
    assert info["7"] == "an int key" and info["none"] is None and info["text"] == "plain"
    assert info["objects"] == ["<Opaque thing>", 1]
    local = gym.make("GymServerTest/Raising-v0")
    local.reset(seed=0)
    assert info_text(to_plain(local.step(0)[4])) == info_text(info)


def test_environment_output_on_stdout_goes_to_stderr(worker):
    worker.make("GymServerTest/Raising-v0")
    worker.reset(seed=0)
    for _ in range(3):
        worker.step(0)
    worker.ping()
    assert worker.stderr_text().count("a line an environment printed to stdout") == 3


def test_rgba_frames_lose_their_alpha_and_render_errors_are_answered(start_worker):
    rgb = start_worker(imports=["gym_server_test_envs"])
    rgb.make("GymServerTest/Raising-v0")
    rgb.reset(seed=0)
    frame = rgb.render()
    assert frame.shape == (4, 5, 3) and frame[0, :, 1].tolist() == [0, 1, 2, 3, 4]
    assert (frame[..., 0] == 10).all() and (frame[..., 2] == 0).all()
    text = start_worker(imports=["gym_server_test_envs"])
    text.make("GymServerTest/Raising-v0", render_mode="ansi")
    text.reset(seed=0)
    assert str(error_of(text.render)) == "RuntimeError: no text today"
    text.ping()


def test_render_before_reset_is_gymnasiums_error(worker):
    worker.make("CartPole-v1")
    assert error_of(worker.render).type == "ResetNeeded"


def test_cartpole_frame_shape(worker):
    worker.make("CartPole-v1")
    worker.reset(seed=0)
    frame = worker.render()
    local = gym.make("CartPole-v1", render_mode="rgb_array")
    local.reset(seed=0)
    assert frame.shape == (400, 600, 3) and frame.tobytes() == local.render().tobytes()


# -- slots: several environments in one worker


def test_slots_hold_their_own_environments(worker):
    """Two CartPoles and a FrozenLake in three slots of one worker, stepped in turns, equal three
    environments in process."""
    ids = ["CartPole-v1", "FrozenLake-v1", "CartPole-v1"]
    local = [gym.make(env_id) for env_id in ids]
    layouts = []
    for slot, env_id in enumerate(ids):
        worker.use(slot)
        worker.make(env_id)
        layouts.append((worker.obs_layout, worker.act_layout))
        obs, _, _ = worker.reset(seed=10 + slot)
        expected, _ = local[slot].reset(seed=10 + slot)
        assert np.array_equal(np.asarray(obs), np.asarray(expected))
    for t in range(40):
        for slot in (2, 0, 1):
            worker.use(slot)
            worker.obs_layout, worker.act_layout = layouts[slot]
            action = (t + slot) % (2 if ids[slot].startswith("Cart") else 4)
            obs, reward, terminated, truncated, _ = worker.step(action)[:5]
            expected = local[slot].step(action)
            assert np.array_equal(np.asarray(obs), np.asarray(expected[0])) and reward == expected[1]
            assert (terminated, truncated) == (expected[2], expected[3])
            if terminated or truncated:
                worker.reset(seed=t)
                local[slot].reset(seed=t)


def test_pipelined_requests_are_answered_in_order(worker):
    """Requests for several slots written at once (as gym-server sends a vector's round) are
    answered one by one, in order, each by its own slot's environment."""
    for slot in range(4):
        worker.use(slot)
        worker.make("CartPole-v1")
    local = [gym.make("CartPole-v1") for _ in range(4)]
    messages = []
    for slot in range(4):
        messages += [(ord("U"), struct.pack("<I", slot)), (ord("R"), json.dumps({"seed": slot}).encode())]
    answers = worker.pipelined(messages)
    assert [kind for kind, _ in answers] == [ord("K")] * 4
    for slot, (_, body) in enumerate(answers):
        (info_length,) = struct.unpack_from("<I", body, 0)
        observation = np.frombuffer(bytes(body[4 + info_length:]), np.float32)
        assert np.array_equal(observation, local[slot].reset(seed=slot)[0])
    messages = []
    for slot in (3, 1, 2, 0):
        messages += [(ord("U"), struct.pack("<I", slot)), (ord("S"), struct.pack("<q", slot % 2))]
    # an error in the middle is answered in its place and the rest go on
    messages.insert(4, (ord("S"), b"\x01"))
    answers = worker.pipelined(messages)
    assert [kind for kind, _ in answers] == [ord("K"), ord("K"), ord("E"), ord("K"), ord("K")]
    assert "the action must be 8 bytes, got 1" in json.loads(bytes(answers[2][1]))["error"]
    for (slot, (_, body)) in zip((3, 1, 2, 0), answers[:2] + answers[3:]):
        expected = local[slot].step(slot % 2)[0]
        assert np.array_equal(np.frombuffer(bytes(body[-16:]), np.float32), expected)


def test_a_malformed_use_fails_the_next_request_only(worker):
    worker.make("CartPole-v1")
    worker.send_raw(struct.pack("<I", 3) + b"U\x01\x00")
    error = error_of(worker.ping)
    assert str(error) == "BadRequest: use: the payload must be a uint32 slot number, got 2 bytes"
    worker.ping()
    worker.reset(seed=0)  # still slot 0's CartPole


def test_close_of_one_slot_keeps_the_others_and_the_last_ends_the_worker(worker):
    for slot in (0, 5):
        worker.use(slot)
        worker.make("CartPole-v1")
        worker.reset(seed=slot)
    worker.use(5)
    worker.request(CLOSE)
    assert worker.process.poll() is None
    error = error_of(worker.reset)
    assert "no environment yet" in str(error)
    worker.use(0)
    worker.step(0)
    assert worker.close() == 0


def test_eof_closes_every_slot(worker):
    for slot in (0, 1, 2):
        worker.use(slot)
        worker.make("CartPole-v1")
    worker.process.stdin.close()
    assert wait_exit(worker) == 0
    assert "Traceback" not in worker.stderr_text()


# -- the end of a worker


def test_close_answers_then_exits_zero(worker):
    worker.make("CartPole-v1")
    worker.reset(seed=0)
    assert worker.close() == 0
    assert worker._out.read() == b""  # nothing after the answer


def test_close_without_an_environment(worker):
    assert worker.close() == 0


def test_eof_between_messages_exits_quietly(worker):
    worker.make("CartPole-v1")
    worker.reset(seed=0)
    worker.process.stdin.close()
    assert wait_exit(worker) == 0
    assert worker._out.read() == b""
    assert "Traceback" not in worker.stderr_text()


@pytest.mark.parametrize("partial", [b"\x05\x00", struct.pack("<I", 9) + b"S\x01"])
def test_eof_inside_a_message_exits_with_status_1(worker, partial):
    worker.send_raw(partial)
    worker.process.stdin.close()
    assert wait_exit(worker) == 1
    assert "input ended inside" in worker.stderr_text()


def test_sigint_is_ignored_sigterm_ends(worker):
    worker.make("CartPole-v1")
    worker.process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    worker.ping()
    worker.process.send_signal(signal.SIGTERM)
    assert wait_exit(worker) == -signal.SIGTERM


def test_killed_worker_is_seen_as_gone(worker):
    worker.make("CartPole-v1")
    worker.process.kill()
    wait_exit(worker)
    with pytest.raises((WorkerGone, BrokenPipeError)):
        worker.ping()


def test_worker_exits_when_its_parent_is_killed(tmp_path):
    """gym-server killed (SIGKILL, no clean-up): its workers see EOF and exit, none lingers."""
    parent = textwrap.dedent("""
        import subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-u", sys.argv[1]], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        print(worker.pid, flush=True)
        time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", parent, WORKER_PATH], stdout=subprocess.PIPE,
                               cwd=TESTS_DIR)
    try:
        worker_pid = int(process.stdout.readline())
        process.kill()
        process.wait(30)
        deadline = time.monotonic() + 60
        while _alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker_pid), "the worker outlived its parent"
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def _alive(pid):
    """Running (a zombie, reaped by init once its parent is gone, counts as ended)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_file_stays_small_and_self_contained():
    with open(WORKER_PATH, encoding="utf-8") as f:
        source = f.read()
    assert len(source.encode("utf-8")) < 40 * 1024
    imported = set()
    for line in source.splitlines():
        words = line.strip().split()
        if len(words) >= 2 and words[0] in ("import", "from"):
            imported.add(words[1].split(".")[0])
    assert imported <= {"fcntl", "importlib", "json", "os", "select", "signal", "struct", "sys", "time", "traceback",
                        "numpy", "gymnasium"}, imported
    assert os.path.getsize(WORKER_PATH) < 40 * 1024
