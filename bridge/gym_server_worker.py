"""gym-server's Python worker: serves one Gymnasium environment over its stdin/stdout pipes.

gym-server starts one worker per bridged environment instance:

    python -u gym_server_worker.py [--import MODULE]...
    python -u -c "<this file's text>" [--import MODULE]...

and speaks the protocol of bridge/PROTOCOL.md with it: length-prefixed binary messages, one
request and one answer at a time. Observations, actions and frames travel as raw little-endian
arrays laid out by the spaces the `make` answer describes; small structured parts are JSON.

The file is self-contained (standard library, numpy and gymnasium only) so that gym-server can
embed it. Anything an environment prints goes to stderr: the protocol keeps private copies of the
original stdin/stdout descriptors, and descriptors 0 and 1 are pointed at /dev/null and stderr.
"""

import importlib
import json
import os
import select
import signal
import struct
import sys
import time
import traceback

PROTOCOL_VERSION = 1

# Message kinds (the first byte of every message body).
REQ_LIST = 0x4C  # 'L'
REQ_MAKE = 0x4D  # 'M'
REQ_RESET = 0x52  # 'R'
REQ_STEP = 0x53  # 'S'
REQ_RENDER = 0x46  # 'F'
REQ_SAMPLE = 0x41  # 'A'
REQ_PING = 0x50  # 'P'
REQ_CLOSE = 0x43  # 'C'
REQ_USE = 0x55  # 'U': no answer
ANS_HELLO = 0x48  # 'H'
ANS_OK = 0x4B  # 'K'
ANS_ERROR = 0x45  # 'E'

RENDER_NONE = 0
RENDER_RGB = 1
RENDER_ANSI = 2

# The capacity asked for the answer pipe (Linux lets any user go up to /proc/sys/fs/pipe-max-size).
PIPE_BYTES = 1 << 20

# A request larger than this is read and thrown away, then answered with an error.
MAX_REQUEST_BYTES = 256 * 1024 * 1024

EXIT_OK = 0
EXIT_TRUNCATED = 1  # stdin ended inside a message
EXIT_STARTUP_FAILED = 2  # bad arguments or an import failed (an error message was sent first)

_U32 = struct.Struct("<I")
_HEAD = struct.Struct("<IB")  # length prefix + kind
# length prefix, 'K', terminated, truncated, reward, info length
_STEP_HEAD = struct.Struct("<IBBBdI")
# length prefix, 'K', info length
_RESET_HEAD = struct.Struct("<IBI")
# length prefix, 'K', render kind, height, width
_RGB_HEAD = struct.Struct("<IBBII")

_INT_CODES = {
    "int8": "b", "uint8": "B", "int16": "h", "uint16": "H",
    "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
}
_DTYPES = ("float16", "float32", "float64", "bool") + tuple(_INT_CODES)


class BadRequest(Exception):
    """A request that does not follow the protocol."""


class SpaceMismatch(Exception):
    """An observation or action that does not fit its space."""


class UnsupportedSpace(Exception):
    """A space the bridge has no wire layout for."""


def _error_text(exc):
    name = type(exc).__name__
    message = str(exc)
    return name, message, (name + ": " + message) if message else name


# ---------------------------------------------------------------------------------------------
# Channel: the private protocol descriptors


class RequestWait:
    """Polls the request pipe for up to `budget` seconds before a read blocks (`--spin-us`).

    A worker blocked in read() is woken by gym-server's write: an interrupt to its CPU, which on
    a virtual machine goes through the host, and more when that CPU has halted. Polling (poll()
    with no timeout, the CPU yielded to anything else ready to run between two polls) finds the
    next request without that. A poll that runs out of budget twice in a row (requests further
    apart than the budget) stops the polling for the next 1, then 2, 4 ... 1,024 waits; a request
    found while polling resets this. `clock` and `ready` are for tests.
    """

    MAX_SKIP = 1024

    def __init__(self, fd, budget, clock=time.perf_counter, ready=None, pause=os.sched_yield):
        self.budget = budget
        self._clock = clock
        self._pause = pause
        if ready is None and budget > 0:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            ready = lambda: bool(poller.poll(0))  # noqa: E731
        self._ready = ready
        self._misses = 0
        self._next_skip = 1
        self._skipping = 0
        self.caught = self.missed = self.skipped = 0

    def wait(self):
        """Returns when a request is there, or when the read should block for it."""
        if self.budget <= 0:
            return
        if self._skipping:
            self._skipping -= 1
            self.skipped += 1
            return
        ready, clock, pause = self._ready, self._clock, self._pause
        deadline = clock() + self.budget
        while True:
            if ready():
                self.caught += 1
                self._misses = 0
                self._next_skip = 1
                return
            if clock() >= deadline:
                break
            pause()
        self.missed += 1
        self._misses += 1
        if self._misses >= 2:
            self._skipping = self._next_skip
            self._next_skip = min(self._next_skip * 2, self.MAX_SKIP)


class Channel:
    """Length-prefixed messages over two file descriptors.

    Answers wait while another whole request has already been read (gym-server pipelines a
    vector's round of requests to each worker): they go out together, in one write, before the
    worker next waits for input, so a round wakes gym-server once per worker, not once per answer.
    """

    # Answers held back at most (a write takes at most IOV_MAX buffers; 1024 on Linux).
    MAX_HELD_PARTS = 512

    def __init__(self, fd_in, fd_out):
        self._fd_in = fd_in
        self._wait = RequestWait(fd_in, 0)
        self._buffer = bytearray()
        self._start = 0  # where the unread bytes of _buffer begin
        self._fd_out = fd_out
        self._writev = getattr(os, "writev", None)
        self._held = []

    def _available(self):
        return len(self._buffer) - self._start

    def poll_for_requests(self, spin_us):
        """Between requests, poll for up to `spin_us` microseconds before blocking (RequestWait)."""
        self._wait = RequestWait(self._fd_in, spin_us * 1e-6)

    def _fill(self, count):
        """Reads until `count` unread bytes are buffered (sending held answers before it waits);
        False if the input ends first."""
        while self._available() < count:
            self.flush()
            if self._available() == 0:
                self._wait.wait()  # (between requests: rest of one that came cut is read at once)
            chunk = os.read(self._fd_in, max(1 << 16, count - self._available()))
            if not chunk:
                return False
            if self._start:
                del self._buffer[:self._start]
                self._start = 0
            self._buffer += chunk
        return True

    def request_waiting(self):
        """Whether a whole request is already read, to be answered right after this one."""
        available = self._available()
        if available < 4:
            return False
        (size,) = _U32.unpack_from(self._buffer, self._start)
        return available >= 4 + size

    def receive(self):
        """The next message body; None at end of input between messages."""
        if not self._fill(4):
            if not self._available():
                return None
            raise EOFError("input ended inside a length prefix")
        (size,) = _U32.unpack_from(self._buffer, self._start)
        self._start += 4
        if size > MAX_REQUEST_BYTES:
            left = size
            while left > 0:
                if not self._fill(1):
                    raise EOFError("input ended inside a message")
                taken = min(left, self._available())
                self._start += taken
                left -= taken
            return b""  # answered as a malformed request by the caller, with its size
        if not self._fill(size):
            raise EOFError("input ended inside a message")
        body = bytes(self._buffer[self._start:self._start + size])
        self._start += size
        return body

    def send_parts(self, parts):
        """Sends buffers that together form one whole message (length prefix included): now, or
        with the answers to the requests already read."""
        if self.request_waiting() and len(self._held) + len(parts) <= self.MAX_HELD_PARTS:
            # Copied: a frame may be a view of memory the environment draws into again.
            self._held.extend(bytes(part) if isinstance(part, memoryview) else part for part in parts)
            return
        self._held.extend(parts)
        self.flush()

    def flush(self):
        """Writes the answers held back."""
        parts, self._held = self._held, []
        if not parts:
            return
        if self._writev is None:
            parts = [b"".join(parts)]
        fd = self._fd_out
        while parts:
            written = self._writev(fd, parts) if self._writev else os.write(fd, parts[0])
            while parts and written >= len(parts[0]):
                written -= len(parts[0])
                parts.pop(0)
            if written and parts:
                parts[0] = memoryview(parts[0])[written:]

    def send(self, kind, payload=b""):
        self.send_parts([_HEAD.pack(len(payload) + 1, kind), payload])

    def send_json(self, kind, obj):
        self.send(kind, _dumps(obj))

    def send_error(self, exc, fatal=False):
        name, message, text = _error_text(exc)
        self.send_json(ANS_ERROR, {"error": text, "type": name, "message": message, "fatal": fatal})


# ---------------------------------------------------------------------------------------------
# JSON for info dicts and the like


def _dumps(value):
    """Compact UTF-8 JSON; NaN and infinities as Python writes them (NaN, Infinity, -Infinity)."""
    return json.dumps(value, allow_nan=True, separators=(",", ":")).encode("utf-8")


def _json_key(key, np):
    if isinstance(key, str):
        return key
    if isinstance(key, np.generic):
        key = key.item()
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return repr(key)


def plain(value, np):
    """`value` made of JSON's types: numpy arrays -> lists, numpy scalars -> Python numbers,
    mappings -> objects, lists and tuples -> arrays, anything else -> its repr string."""
    kind = type(value)
    if value is None or kind is str or kind is float or kind is int or kind is bool:
        return value
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype.kind in "biuf" else plain(value.tolist(), np)
    if isinstance(value, np.generic):
        value = value.item()
        kind = type(value)
        if kind is float or kind is int or kind is bool or kind is str:
            return value
    if isinstance(value, dict):
        return {_json_key(k, np): plain(v, np) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, np) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return repr(value)


# ---------------------------------------------------------------------------------------------
# Spaces: descriptions and wire codecs


class Codec:
    """The wire layout of one space: its JSON description and raw encoder/decoder."""

    def __init__(self, description, size, encode, decode):
        self.description = description
        self.size = size
        self.encode = encode  # value -> bytes (exactly `size` bytes)
        self.decode = decode  # (buffer, offset) -> value


def _dtype_name(dtype, where):
    name = dtype.name
    if name not in _DTYPES:
        raise UnsupportedSpace("%s has dtype %s; the bridge carries %s" % (where, name, ", ".join(_DTYPES)))
    return name


def _bounds(array, np):
    if array.dtype.kind == "b":
        return array.astype(np.int64).ravel().tolist()
    return array.ravel().tolist()


def _array_codec(description, dtype, shape, where, np):
    wire = np.dtype(dtype).newbyteorder("<")
    shape = tuple(int(s) for s in shape)
    count = 1
    for s in shape:
        count *= s
    size = count * wire.itemsize
    asarray = np.asarray
    frombuffer = np.frombuffer

    def encode(value):
        array = asarray(value, dtype=wire)
        if array.shape != shape:
            raise SpaceMismatch("%s: expected shape %s, got %s" % (where, shape, array.shape))
        return array.tobytes()

    def decode(buffer, offset):
        return frombuffer(buffer, wire, count, offset).reshape(shape).copy()

    description["size"] = size
    return Codec(description, size, encode, decode)


def _scalar_codec(description, dtype_name, where):
    packer = struct.Struct("<" + _INT_CODES[dtype_name])
    pack = packer.pack
    unpack_from = packer.unpack_from

    def encode(value):
        try:
            return pack(int(value))
        except (struct.error, TypeError, ValueError, OverflowError) as exc:
            raise SpaceMismatch("%s: %r is not a %s value (%s)" % (where, value, dtype_name, exc))

    def decode(buffer, offset):
        return unpack_from(buffer, offset)[0]

    description["size"] = packer.size
    return Codec(description, packer.size, encode, decode)


def space_codec(space, where, gym, np):
    """The Codec of a Gymnasium space (Box, Discrete, MultiBinary, MultiDiscrete, Tuple, Dict)."""
    spaces = gym.spaces
    if isinstance(space, spaces.Box):
        dtype = _dtype_name(space.dtype, where)
        description = {
            "type": "Box", "dtype": dtype, "shape": list(space.shape),
            "low": _bounds(space.low, np), "high": _bounds(space.high, np),
        }
        return _array_codec(description, space.dtype, space.shape, where, np)
    if isinstance(space, spaces.Discrete):
        dtype = _dtype_name(space.dtype, where)
        if dtype not in _INT_CODES:
            raise UnsupportedSpace("%s: Discrete with dtype %s" % (where, dtype))
        description = {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": dtype}
        return _scalar_codec(description, dtype, where)
    if isinstance(space, spaces.MultiBinary):
        dtype = _dtype_name(space.dtype, where)
        description = {"type": "MultiBinary", "shape": list(space.shape), "dtype": dtype}
        return _array_codec(description, space.dtype, space.shape, where, np)
    if isinstance(space, spaces.MultiDiscrete):
        dtype = _dtype_name(space.dtype, where)
        description = {
            "type": "MultiDiscrete", "shape": list(space.shape), "dtype": dtype,
            "nvec": np.asarray(space.nvec).ravel().tolist(),
            "start": np.asarray(space.start).ravel().tolist(),
        }
        return _array_codec(description, space.dtype, space.shape, where, np)
    if isinstance(space, spaces.Tuple):
        parts = [space_codec(s, "%s[%d]" % (where, i), gym, np) for i, s in enumerate(space.spaces)]
        return _sequence_codec(parts, None, where)
    if isinstance(space, spaces.Dict):
        keys = list(space.spaces.keys())
        parts = [space_codec(space.spaces[k], "%s[%r]" % (where, k), gym, np) for k in keys]
        return _sequence_codec(parts, keys, where)
    raise UnsupportedSpace(
        "%s is %s; the bridge carries Box, Discrete, MultiBinary, MultiDiscrete, Tuple and Dict"
        % (where, space))


def _sequence_codec(parts, keys, where):
    """Tuple (keys None) or Dict: the parts' bytes one after another, in order, no headers."""
    size = sum(p.size for p in parts)
    encoders = [p.encode for p in parts]
    decoders = []
    offset = 0
    for p in parts:
        decoders.append((p.decode, offset))
        offset += p.size
    count = len(parts)
    if keys is None:
        description = {"type": "Tuple", "spaces": [p.description for p in parts], "size": size}

        def encode(value):
            if not isinstance(value, (tuple, list)) or len(value) != count:
                raise SpaceMismatch("%s: expected a tuple of %d, got %r" % (where, count, type(value)))
            return b"".join([e(v) for e, v in zip(encoders, value)])

        def decode(buffer, offset):
            return tuple([d(buffer, offset + o) for d, o in decoders])
    else:
        description = {
            "type": "Dict", "keys": [k if isinstance(k, str) else str(k) for k in keys],
            "spaces": [p.description for p in parts], "size": size,
        }
        pairs = list(zip(keys, encoders))

        def encode(value):
            try:
                return b"".join([e(value[k]) for k, e in pairs])
            except (KeyError, TypeError, IndexError) as exc:
                raise SpaceMismatch("%s: expected a dict with keys %r (%s: %s)"
                                    % (where, keys, type(exc).__name__, exc))

        def decode(buffer, offset):
            return {k: d(buffer, offset + o) for k, (d, o) in zip(keys, decoders)}
    return Codec(description, size, encode, decode)


# ---------------------------------------------------------------------------------------------
# The worker


# What one environment slot holds; `U` swaps these attributes of the Worker in and out.
_SLOT_FIELDS = ("env", "env_id", "obs_codec", "act_codec", "_encode_obs", "_decode_action", "_step_length",
                "_deferred_mode")
_EMPTY_SLOT = (None, None, None, None, None, None, 0, None)


class Worker:
    def __init__(self, channel, gym, np):
        self.channel = channel
        self.gym = gym
        self.np = np
        self.env = None
        self.env_id = None
        self.obs_codec = None
        self.act_codec = None
        self._encode_obs = None
        self._decode_action = None
        self._step_length = 0
        self._deferred_mode = None  # the render mode `auto` chose, until the first render
        self._probe_cache = {}
        # Slots (PROTOCOL.md §2, `U`): the current one's state is in the attributes above, the
        # others' (those holding an environment) here.
        self._slot = 0
        self._slots = {}
        # A malformed `U` has no answer of its own: the next request is answered with this.
        self._use_error = None
        self.handlers = {
            REQ_STEP: self.step, REQ_RESET: self.reset, REQ_RENDER: self.render,
            REQ_SAMPLE: self.sample, REQ_PING: self.ping, REQ_LIST: self.list_envs,
            REQ_MAKE: self.make, REQ_CLOSE: self.close,
        }

    # -- the loop

    def serve(self):
        """Answers requests until close or end of input; returns the exit status."""
        try:
            return self._serve()
        finally:
            try:
                self.channel.flush()  # the answers held back, the close's included
            except OSError:
                pass

    def _serve(self):
        receive = self.channel.receive
        handlers = self.handlers
        while True:
            try:
                body = receive()
            except EOFError as exc:
                sys.stderr.write("gym_server_worker: %s; exiting\n" % exc)
                self._close_all()
                return EXIT_TRUNCATED
            if body is None:
                self._close_all()
                return EXIT_OK
            if body and body[0] == REQ_USE:
                self._use(body)
                continue
            handler = handlers.get(body[0]) if body else None
            try:
                if self._use_error is not None:
                    error, self._use_error = self._use_error, None
                    raise error
                if handler is None:
                    raise BadRequest(self._describe_bad_kind(body))
                if handler(body) is False:
                    return EXIT_OK
            except BadRequest as exc:
                self.channel.send_error(exc)
            except BrokenPipeError:
                self._close_all()
                raise
            except (Exception, SystemExit) as exc:
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                self.channel.send_error(exc)

    def _use(self, body):
        """`U`: makes the slot the payload names current (its environment, if it has one, the one
        later requests act on). Never answered: a malformed one fails the next request instead."""
        if len(body) != 5:
            self._use_error = BadRequest("use: the payload must be a uint32 slot number, got %d bytes"
                                         % (len(body) - 1))
            return
        self._switch_to(_U32.unpack_from(body, 1)[0])

    def _switch_to(self, slot):
        """Makes `slot` current: the current one's state put away (if it holds an environment),
        `slot`'s taken out."""
        if slot == self._slot:
            return
        attributes = self.__dict__
        if self.env is not None:
            self._slots[self._slot] = tuple(attributes[name] for name in _SLOT_FIELDS)
        for name, value in zip(_SLOT_FIELDS, self._slots.pop(slot, _EMPTY_SLOT)):
            attributes[name] = value
        self._slot = slot

    def _close_all(self):
        """Closes every slot's environment, quietly (the end of input)."""
        self._close_env()
        for slot in list(self._slots):
            self._switch_to(slot)
            self._close_env()

    @staticmethod
    def _describe_bad_kind(body):
        if not body:
            return "empty request (or one over %d bytes)" % MAX_REQUEST_BYTES
        return "unknown request kind 0x%02X" % body[0]

    def _need_env(self):
        env = self.env
        if env is None:
            raise BadRequest("no environment yet: send a make request first")
        return env

    @staticmethod
    def _json_body(body, what):
        if len(body) == 1:
            return {}
        try:
            value = json.loads(bytes(body[1:]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest("%s: the payload is not JSON (%s)" % (what, exc))
        if not isinstance(value, dict):
            raise BadRequest("%s: the payload must be a JSON object, got %s" % (what, type(value).__name__))
        return value

    # -- the step path

    def step(self, body):
        env = self.env
        if env is None or len(body) != self._step_length:
            self._need_env()
            raise BadRequest("step: the action must be %d bytes, got %d" % (self.act_codec.size, len(body) - 1))
        obs, reward, terminated, truncated, info = env.step(self._decode_action(body, 1))
        obs_bytes = self._encode_obs(obs)
        info_bytes = b"{}" if not info and isinstance(info, dict) else self._info_json(info)
        self.channel.send_parts([
            _STEP_HEAD.pack(15 + len(info_bytes) + len(obs_bytes), ANS_OK,
                            1 if terminated else 0, 1 if truncated else 0, float(reward),
                            len(info_bytes)),
            info_bytes, obs_bytes])

    def _info_json(self, info):
        if not isinstance(info, dict):
            raise TypeError("the environment returned info of type %s, not a dict" % type(info).__name__)
        return _dumps(plain(info, self.np))

    def reset(self, body):
        env = self._need_env()
        request = self._json_body(body, "reset")
        unknown = set(request) - {"seed", "options"}
        if unknown:
            raise BadRequest("reset: unknown field(s) %s; expected seed, options" % sorted(unknown))
        seed = request.get("seed")
        options = request.get("options")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise BadRequest("reset: seed must be an integer or null, got %s" % json.dumps(seed))
        if options is not None and not isinstance(options, dict):
            raise BadRequest("reset: options must be a JSON object or null, got %s" % json.dumps(options))
        obs, info = env.reset(seed=seed, options=options)
        obs_bytes = self._encode_obs(obs)
        info_bytes = b"{}" if not info and isinstance(info, dict) else self._info_json(info)
        self.channel.send_parts([
            _RESET_HEAD.pack(5 + len(info_bytes) + len(obs_bytes), ANS_OK, len(info_bytes)),
            info_bytes, obs_bytes])

    def render(self, body):
        env = self._need_env()
        if len(body) != 1:
            raise BadRequest("render: takes no payload")
        mode = self._deferred_mode
        if mode is not None:
            self._deferred_mode = None
            try:
                env.unwrapped.render_mode = mode  # as its constructor would have set it
            except AttributeError:
                pass
            if env.render_mode != mode:
                raise RuntimeError("%s was made with no render mode, which cannot be switched on now: make it "
                                   "with kwargs {\"render_mode\": \"%s\"} for frames" % (self.env_id, mode))
        frame = env.render()
        np = self.np
        if frame is None:
            self.channel.send(ANS_OK, bytes([RENDER_NONE]))
        elif isinstance(frame, str):
            self.channel.send(ANS_OK, bytes([RENDER_ANSI]) + frame.encode("utf-8", "replace"))
        elif isinstance(frame, np.ndarray):
            if frame.ndim == 3 and frame.shape[2] == 4:
                frame = frame[:, :, :3]  # RGBA: the alpha channel is dropped
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise TypeError("render returned an array of shape %s and dtype %s, not (height, width, 3) uint8"
                                % (frame.shape, frame.dtype))
            height, width = frame.shape[0], frame.shape[1]
            pixels = np.ascontiguousarray(frame)
            self.channel.send_parts([
                _RGB_HEAD.pack(10 + pixels.nbytes, ANS_OK, RENDER_RGB, height, width),
                memoryview(pixels).cast("B")])
        else:
            raise TypeError("render returned %s, not an rgb array, a string or None" % type(frame).__name__)

    def sample(self, body):
        env = self._need_env()
        request = self._json_body(body, "sample")
        unknown = set(request) - {"seed"}
        if unknown:
            raise BadRequest("sample: unknown field(s) %s; expected seed" % sorted(unknown))
        seed = request.get("seed")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise BadRequest("sample: seed must be an integer or null, got %s" % json.dumps(seed))
            env.action_space.seed(seed)
        self.channel.send(ANS_OK, self.act_codec.encode(env.action_space.sample()))

    def ping(self, body):
        self.channel.send(ANS_OK)

    # -- make, list, close

    def make(self, body):
        if self.env is not None:
            raise BadRequest("make: this slot already holds %s; choose another slot (U) or start another "
                             "worker for another environment" % self.env_id)
        request = self._json_body(body, "make")
        unknown = set(request) - {"env_id", "kwargs", "render_mode"}
        if unknown:
            raise BadRequest("make: unknown field(s) %s; expected env_id, kwargs, render_mode" % sorted(unknown))
        env_id = request.get("env_id")
        if not isinstance(env_id, str) or not env_id:
            raise BadRequest("make: env_id must be a non-empty string")
        kwargs = request.get("kwargs")
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise BadRequest("make: kwargs must be a JSON object or null")
        kwargs = dict(kwargs)
        mode = request.get("render_mode", "auto")
        if "render_mode" in kwargs:
            if "render_mode" in request and request["render_mode"] != kwargs["render_mode"]:
                raise BadRequest("make: render_mode is given twice, differently (field and kwargs)")
            mode = kwargs.pop("render_mode")
        if mode not in (None, "auto", "rgb_array", "ansi"):
            raise BadRequest("make: render_mode must be null, \"auto\", \"rgb_array\" or \"ansi\", got %s"
                             % json.dumps(mode))
        make = self.gym.make
        deferred = None
        if mode in (None, "auto"):
            env = make(env_id, **kwargs)  # as a user would: no render_mode argument at all
        else:
            env = make(env_id, render_mode=mode, **kwargs)
        try:
            if mode == "auto":
                # The mode is switched on at the first render: with one, an env may step slower
                # (LunarLander's engine particles: 2.7x).
                modes = self._declared_render_modes(env_id)
                if modes is None:  # not declared by the entry point
                    modes = list(env.metadata.get("render_modes") or [])
                deferred = "rgb_array" if "rgb_array" in modes else ("ansi" if "ansi" in modes else None)
            obs_codec = space_codec(env.observation_space, "observation space", self.gym, self.np)
            act_codec = space_codec(env.action_space, "action space", self.gym, self.np)
            description = self._describe_env(env, env_id, obs_codec, act_codec)
            description["render_mode_deferred"] = deferred is not None
            description["render_mode"] = description["render_mode"] or deferred
            answer = _dumps(description)
        except BaseException:
            env.close()
            raise
        self.env, self.env_id, self._deferred_mode = env, env_id, deferred
        self.obs_codec, self.act_codec = obs_codec, act_codec
        self._encode_obs = obs_codec.encode
        self._decode_action = act_codec.decode
        self._step_length = 1 + act_codec.size
        self.channel.send(ANS_OK, answer)

    def _declared_render_modes(self, env_id):
        """The render modes the entry point declares, as gymnasium.make reads them; None if unknown."""
        module, _, name = env_id.rpartition(":")
        if module:
            importlib.import_module(module)
        spec = self.gym.envs.registry.get(name)
        if spec is None or spec.entry_point is None:
            return None
        creator = spec.entry_point
        if not callable(creator):
            creator = self.gym.envs.registration.load_env_creator(creator)
        metadata = getattr(creator, "metadata", None)
        if not isinstance(metadata, dict):
            return None
        return list(metadata.get("render_modes") or [])

    def _describe_env(self, env, env_id, obs_codec, act_codec):
        wrappers = []
        time_limit = None
        inner = env
        while isinstance(inner, self.gym.Wrapper):
            wrappers.append(type(inner).__name__)
            if time_limit is None and isinstance(inner, self.gym.wrappers.TimeLimit):
                time_limit = inner
            inner = inner.env
        spec = env.spec
        metadata = env.metadata or {}
        fps = metadata.get("render_fps")
        return {
            "env_id": env_id,
            "spec_id": spec.id if spec is not None else None,
            "env_class": type(inner).__module__ + "." + type(inner).__qualname__,
            "wrappers": wrappers,
            "time_limit": time_limit is not None,
            "max_episode_steps": (time_limit._max_episode_steps if time_limit is not None
                                  else (spec.max_episode_steps if spec is not None else None)),
            "reward_threshold": plain(spec.reward_threshold, self.np) if spec is not None else None,
            "nondeterministic": bool(spec.nondeterministic) if spec is not None else False,
            "render_mode": env.render_mode,
            "render_modes": list(metadata.get("render_modes") or []),
            "render_fps": plain(fps, self.np) if fps is not None else None,
            "observation_space": obs_codec.description,
            "action_space": act_codec.description,
        }

    def list_envs(self, body):
        request = self._json_body(body, "list")
        unknown = set(request) - {"probe"}
        if unknown:
            raise BadRequest("list: unknown field(s) %s; expected probe" % sorted(unknown))
        probe = request.get("probe", True)
        if not isinstance(probe, bool):
            raise BadRequest("list: probe must be true or false")
        envs = []
        for env_id, spec in list(self.gym.envs.registry.items()):
            entry = {
                "id": env_id,
                "namespace": spec.namespace,
                "name": spec.name,
                "version": spec.version,
                "max_episode_steps": spec.max_episode_steps,
                "reward_threshold": plain(spec.reward_threshold, self.np),
                "nondeterministic": bool(spec.nondeterministic),
                "entry_point": (spec.entry_point if isinstance(spec.entry_point, str)
                                else self._callable_name(spec.entry_point)),
            }
            if probe:
                entry.update(self._probe(spec))
            else:
                entry.update({"makeable": None, "reason": None, "render_modes": None})
            envs.append(entry)
        self.channel.send_json(ANS_OK, {"envs": envs})

    @staticmethod
    def _callable_name(fn):
        return "%s:%s" % (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn)))

    def _probe(self, spec):
        """Whether the entry point resolves (its module imports), without making the env."""
        entry_point = spec.entry_point
        key = entry_point if isinstance(entry_point, str) else id(entry_point)
        cached = self._probe_cache.get(key)
        if cached is not None:
            return cached
        result = {"makeable": True, "reason": None, "render_modes": None}
        try:
            if entry_point is None:
                raise self.gym.error.Error("no entry point registered")
            if isinstance(entry_point, str):
                creator = self.gym.envs.registration.load_env_creator(entry_point)
            else:
                creator = entry_point
                # Gymnasium registers stand-ins that only raise (moved mujoco-py envs, shimmy).
                if (getattr(creator, "__module__", "") == "gymnasium.envs"
                        and getattr(creator, "__name__", "").startswith("_raise_")):
                    creator()
            metadata = getattr(creator, "metadata", None)
            if isinstance(metadata, dict):
                result["render_modes"] = list(metadata.get("render_modes") or [])
        except (Exception, SystemExit) as exc:
            result = {"makeable": False, "reason": _error_text(exc)[2], "render_modes": None}
        self._probe_cache[key] = result
        return result

    def _close_env(self, quietly=True):
        env, self.env = self.env, None
        if env is None:
            return
        try:
            env.close()
        except (Exception, SystemExit):
            if not quietly:
                raise
            traceback.print_exc(file=sys.stderr)

    def close(self, body):
        """Closes the current slot's environment; the worker exits when no slot holds one."""
        others = bool(self._slots)
        try:
            self._close_env(quietly=False)
        except (Exception, SystemExit) as exc:
            traceback.print_exc(file=sys.stderr)
            self.channel.send_error(exc, fatal=not others)
            return None if others else False
        self.channel.send(ANS_OK)
        return None if others else False


# ---------------------------------------------------------------------------------------------
# Start-up


def _parse_arguments(argv):
    """The modules to import and the microseconds to poll for a request (`--spin-us`)."""
    imports = []
    spin_us = 0
    usage = "usage: gym_server_worker.py [--import MODULE]... [--spin-us MICROSECONDS]"
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, equals, value = arg.partition("=")
        if name not in ("--import", "--spin-us"):
            raise BadRequest("unknown argument %r; %s" % (arg, usage))
        if not equals:
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        i += 1
        if name == "--import":
            if not value:
                raise BadRequest("--import needs a module name")
            imports.append(value)
        else:
            try:
                spin_us = int(value)
            except ValueError:
                spin_us = -1
            if not 0 <= spin_us <= 100000:
                raise BadRequest("--spin-us needs a whole number of microseconds from 0 to 100000, got %r" % value)
    return imports, spin_us


def _take_protocol_descriptors():
    """Private copies of stdin/stdout for the protocol; fd 0 <- /dev/null, fd 1 <- stderr."""
    fd_in = os.dup(0)
    fd_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _widen_pipe(fd_out)
    return fd_in, fd_out


def _widen_pipe(fd):
    """Best effort: a 1 MiB pipe carries a 600x400 frame in one go (Linux's default is 64 KiB)."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass  # not Linux, not a pipe, or over the user's pipe-buffer allowance: keep the default


def main(argv):
    # Ctrl-C at a terminal reaches the whole process group: gym-server decides when workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    fd_in, fd_out = _take_protocol_descriptors()
    channel = Channel(fd_in, fd_out)
    try:
        imports, spin_us = _parse_arguments(argv)
        channel.poll_for_requests(spin_us)
        try:
            import numpy
            import gymnasium
        except ImportError as exc:
            raise ImportError("the worker needs numpy and gymnasium in %s: %s" % (sys.executable, exc))
        for module in imports:
            try:
                importlib.import_module(module)
            except (Exception, SystemExit) as exc:
                raise type(exc)("while importing %r: %s" % (module, exc)) if _retypable(exc) else exc
    except (Exception, SystemExit) as exc:
        traceback.print_exc(file=sys.stderr)
        try:
            channel.send_error(exc, fatal=True)
        except OSError:
            pass
        return EXIT_STARTUP_FAILED
    try:
        channel.send_json(ANS_HELLO, {
            "protocol": PROTOCOL_VERSION,
            "python": "%d.%d.%d" % sys.version_info[:3],
            "gymnasium": gymnasium.__version__,
            "numpy": numpy.__version__,
            "imports": imports,
            "pid": os.getpid(),
        })
        return Worker(channel, gymnasium, numpy).serve()
    except BrokenPipeError:
        return EXIT_OK  # gym-server went away: nobody to answer


def _retypable(exc):
    """Whether `type(exc)(message)` rebuilds the exception (so the module name can be added)."""
    try:
        return type(exc)("x").args == ("x",)
    except Exception:
        return False


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stderr.flush()
    os._exit(status)
