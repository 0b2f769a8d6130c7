"""A small client of gym_server_worker.py, written from bridge/PROTOCOL.md (it shares no code with
the worker), for the tests and the benchmark: it starts the worker as a subprocess and speaks the
protocol over its pipes, as gym-server's Swift side does."""

import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

BRIDGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# GYM_SERVER_WORKER may name another copy of the worker (say, the one a build embeds) to test.
WORKER_PATH = os.environ.get("GYM_SERVER_WORKER") or os.path.join(BRIDGE_DIR, "gym_server_worker.py")
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

LIST, MAKE, RESET, STEP, RENDER, SAMPLE, PING, CLOSE, USE = b"LMRSFAPCU"
HELLO, OK, ERROR = b"HKE"

_U32 = struct.Struct("<I")
_STEP = struct.Struct("<BBdI")  # terminated, truncated, reward, info length (after 'K')
_INT_CODES = {"int8": "b", "uint8": "B", "int16": "h", "uint16": "H",
              "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q"}


def _json(value):
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class WorkerError(Exception):
    """An error answer ('E'): `error` is "TypeName: message"."""

    def __init__(self, answer):
        super().__init__(answer["error"])
        self.answer = answer
        self.type = answer["type"]
        self.fatal = answer["fatal"]


class WorkerGone(Exception):
    """The worker's stdout ended (it exited or was killed)."""


# ---------------------------------------------------------------------------------------------
# Space layouts, from the `make` answer's descriptions


class Layout:
    """Encodes and decodes values of one described space as PROTOCOL.md lays them out."""

    def __init__(self, description):
        self.description = description
        self.kind = description["type"]
        self.size = description["size"]
        if self.kind in ("Box", "MultiBinary", "MultiDiscrete"):
            self.dtype = np.dtype(description["dtype"]).newbyteorder("<")
            self.shape = tuple(description["shape"])
            assert self.size == int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        elif self.kind == "Discrete":
            self.packer = struct.Struct("<" + _INT_CODES[description["dtype"]])
            assert self.size == self.packer.size
        elif self.kind in ("Tuple", "Dict"):
            self.parts = [Layout(d) for d in description["spaces"]]
            self.keys = description.get("keys")
            assert self.size == sum(p.size for p in self.parts)
        else:
            raise ValueError("unknown space type %r" % self.kind)

    def encode(self, value):
        if self.kind == "Discrete":
            return self.packer.pack(int(value))
        if self.kind == "Tuple":
            return b"".join(p.encode(v) for p, v in zip(self.parts, value, strict=True))
        if self.kind == "Dict":
            return b"".join(p.encode(value[k]) for p, k in zip(self.parts, self.keys, strict=True))
        array = np.asarray(value, dtype=self.dtype)
        assert array.shape == self.shape, (array.shape, self.shape)
        return array.tobytes()

    def decode(self, buffer, offset=0):
        if self.kind == "Discrete":
            return self.packer.unpack_from(buffer, offset)[0]
        if self.kind in ("Tuple", "Dict"):
            values = []
            for part in self.parts:
                values.append(part.decode(buffer, offset))
                offset += part.size
            return tuple(values) if self.kind == "Tuple" else dict(zip(self.keys, values))
        count = self.size // self.dtype.itemsize
        return np.frombuffer(buffer, self.dtype, count, offset).reshape(self.shape)


# ---------------------------------------------------------------------------------------------
# The client


class WorkerClient:
    def __init__(self, imports=(), python=None, extra_args=(), env=None, python_args=(), inline=False):
        """Starts `python -u [python_args] WORKER [--import M]... [extra_args]`; `inline` runs the
        worker's text with `python -c` instead, as gym-server may when it embeds the file."""
        self.python = python or sys.executable
        environment = dict(os.environ if env is None else env)
        environment["PYTHONPATH"] = os.pathsep.join(
            [TESTS_DIR] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p])
        self.stderr_file = tempfile.TemporaryFile()
        arguments = [self.python, "-u"] + list(python_args)
        if inline:
            with open(WORKER_PATH, encoding="utf-8") as f:
                arguments += ["-c", f.read()]
        else:
            arguments.append(WORKER_PATH)
        for module in imports:
            arguments += ["--import", module]
        arguments += list(extra_args)
        # stderr goes to a file, never an undrained pipe: a chatty env would otherwise block.
        self.process = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr_file, env=environment, bufsize=0,
                                        start_new_session=True)
        self._in = self.process.stdin
        self._out = self.process.stdout
        self.obs_layout = None
        self.act_layout = None
        self.description = None
        kind, payload = self._receive()
        if kind == ERROR:
            self.hello = None
            self.startup_error = WorkerError(json.loads(bytes(payload)))
        else:
            assert kind == HELLO, "first message kind %r" % chr(kind)
            self.hello = json.loads(bytes(payload))
            self.startup_error = None

    # -- framing

    def _read_exactly(self, n):
        buffer = bytearray(n)
        view = memoryview(buffer)
        filled = 0
        while filled < n:
            count = self._out.readinto(view[filled:])
            if not count:
                raise WorkerGone("the worker's stdout ended (exit status %s)" % self.process.poll())
            filled += count
        return buffer

    def _receive(self):
        (size,) = _U32.unpack(self._read_exactly(4))
        body = self._read_exactly(size)
        return body[0], memoryview(body)[1:]

    def send_raw(self, data):
        self._in.write(data)
        self._in.flush()

    def request(self, kind, payload=b""):
        """Sends one request, returns the OK payload or raises WorkerError."""
        self.send_raw(_U32.pack(len(payload) + 1) + bytes([kind]) + payload)
        answer, body = self._receive()
        if answer == ERROR:
            raise WorkerError(json.loads(bytes(body)))
        assert answer == OK, "answer kind %r" % chr(answer)
        return body

    @staticmethod
    def use_message(slot):
        """The `U` message that makes `slot` current (it has no answer)."""
        return _U32.pack(5) + bytes([USE]) + _U32.pack(slot)

    def use(self, slot):
        self.send_raw(self.use_message(slot))

    def pipelined(self, messages):
        """Writes every (kind, payload) message at once, then reads one answer per message that is
        not a `U`: (kind, payload) pairs, errors included, in order."""
        data = b"".join(_U32.pack(len(payload) + 1) + bytes([kind]) + payload for kind, payload in messages)
        self.send_raw(data)
        return [self._receive() for kind, _ in messages if kind != USE]

    # -- requests

    def ping(self):
        assert len(self.request(PING)) == 0

    def list(self, probe=None):
        payload = b"" if probe is None else _json({"probe": probe})
        return json.loads(bytes(self.request(LIST, payload)))["envs"]

    def make(self, env_id, kwargs=None, render_mode="auto"):
        request = {"env_id": env_id}
        if kwargs is not None:
            request["kwargs"] = kwargs
        if render_mode != "auto":
            request["render_mode"] = render_mode
        self.description = json.loads(bytes(self.request(MAKE, _json(request))))
        self.obs_layout = Layout(self.description["observation_space"])
        self.act_layout = Layout(self.description["action_space"])
        return self.description

    def reset(self, seed=None, options=None):
        request = {}
        if seed is not None:
            request["seed"] = seed
        if options is not None:
            request["options"] = options
        body = self.request(RESET, _json(request) if request else b"")
        (info_length,) = _U32.unpack_from(body, 0)
        info = json.loads(bytes(body[4:4 + info_length]))
        assert len(body) == 4 + info_length + self.obs_layout.size
        return self.obs_layout.decode(body, 4 + info_length), info, bytes(body[4 + info_length:])

    def step_raw(self, action_bytes):
        body = self.request(STEP, action_bytes)
        terminated, truncated, reward, info_length = _STEP.unpack_from(body, 0)
        assert terminated in (0, 1) and truncated in (0, 1)
        start = _STEP.size + info_length
        assert len(body) == start + self.obs_layout.size
        info = json.loads(bytes(body[_STEP.size:start]))
        return (self.obs_layout.decode(body, start), reward, bool(terminated), bool(truncated), info,
                bytes(body[start:]))

    def step(self, action):
        return self.step_raw(self.act_layout.encode(action))

    def render(self):
        body = self.request(RENDER)
        kind = body[0]
        if kind == 0:
            assert len(body) == 1
            return None
        if kind == 2:
            return bytes(body[1:]).decode("utf-8")
        assert kind == 1, kind
        height, width = struct.unpack_from("<II", body, 1)
        assert len(body) == 9 + height * width * 3
        return np.frombuffer(body, np.uint8, height * width * 3, 9).reshape(height, width, 3)

    def sample(self, seed=None):
        payload = _json({"seed": seed}) if seed is not None else b""
        return self.act_layout.decode(self.request(SAMPLE, payload))

    def close(self, timeout=30):
        body = self.request(CLOSE)
        assert len(body) == 0
        return self.process.wait(timeout)

    # -- process

    def stderr_text(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def terminate(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        for stream in (self._in, self._out):
            try:
                stream.close()
            except OSError:
                pass
        self.stderr_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.terminate()
