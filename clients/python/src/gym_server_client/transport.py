"""How requests reach gym-server: REST over HTTP, or Gymie's WebSocket protocol.

:class:`HttpApi` speaks the REST API over one keep-alive HTTP/1.1 connection of its own (a plain
socket: one write per request, TCP_NODELAY), reads JSON or MessagePack answers and turns the
server's JSON errors into exceptions; every request carries ``X-API-Key`` when a key is given.
:class:`HttpTransport` and :class:`WebSocketTransport` are the two ways an environment's hot path
(create, reset, step, spaces, close) travels; everything else (render, monitor) always goes over
REST. :class:`WebSocketTransport` frames RFC 6455 messages itself over one socket (masked client
frames, one write per message, pings answered), with the opening handshake checked
(``Sec-WebSocket-Accept``).

A step is one small request, so what the client spends around it is most of what a remote step
costs beyond the server's own work: the standard library's ``http.client`` (two writes a request,
headers parsed into a ``Message``) and the ``websockets`` client (a reader thread handing each
message over) each took about twice what a bare socket takes (``scripts/bench/bench_client.py``
measures both against that floor). A read after a request polls the socket for its answer
before it blocks, or blocks at once where that proves faster (:class:`SpinWait`,
``GYM_SERVER_SPIN_US``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import select
import socket
import ssl
import struct
import sys
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import msgpack

from .errors import (
    ProtocolError,
    ServerUnreachable,
    UnsupportedByServer,
    error_from_message,
)

DEFAULT_TIMEOUT = 60.0

# What an answer may come as. The server answers reset and step in MessagePack when Accept
# prefers it (observations, rewards and flags as packed little-endian arrays) and everything
# else, errors included, in JSON; the Content-Type of each answer says which it is.
JSON_TYPE = "application/json"
MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack")
MSGPACK_ACCEPT = f"{MSGPACK_TYPES[0]}, {JSON_TYPE};q=0.5"


def normalise_url(url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash; anything else is refused."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a string like 'http://127.0.0.1:5000', got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be an http:// or https:// URL with a host, like 'http://127.0.0.1:5000'; got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"url must not have a query or fragment, got {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def check_api_key(api_key: Any) -> str | None:
    if api_key is None:
        return None
    if not isinstance(api_key, str) or not api_key or any(c in api_key for c in "\r\n"):
        raise ValueError("api_key must be a non-empty string without line breaks")
    return api_key


def check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def instance_path(instance_id: str, route: str = "") -> str:
    return f"/v1/envs/{quote(instance_id, safe='')}/{route}"


class HttpApi:
    """One keep-alive HTTP/1.1 connection to a gym-server's REST API (port 5000).

    A plain socket rather than ``http.client`` or ``requests``: a step is one small request,
    and ``requests`` spends several times the server's own time on each, ``http.client`` about
    as much again as the server (two writes a request, every header parsed into a ``Message``).
    Here a request is one write (head and body together), the socket has TCP_NODELAY set, and
    of an answer's head only what framing needs is read: the status line, Content-Length (or
    chunked Transfer-Encoding; with neither, the body runs to the end of the connection),
    Content-Type and ``Connection: close``. The connection is reopened when the server closed
    it while idle; a request that fails once sent is never repeated (a step must not be taken
    twice). :meth:`begin_request` and :meth:`finish_request` split a request in two (written,
    then read), so that a caller with several connections (a sharded RemoteVectorEnv) writes
    all its requests before it waits for any answer. Not thread-safe: one per environment.
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = normalise_url(url)
        self.api_key = check_api_key(api_key)
        self.timeout = check_timeout(timeout)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
        # What every request's head says after its request line: Host (as http.client writes
        # it), no compression, the key.
        fixed = f" HTTP/1.1\r\nHost: {host_header(self._host, self._port, self._https)}\r\nAccept-Encoding: identity\r\n"
        if self.api_key is not None:
            fixed += f"X-API-Key: {self.api_key}\r\n"
        self._head_json = fixed + f"Accept: {JSON_TYPE}\r\n"
        self._head_msgpack = fixed + f"Accept: {MSGPACK_ACCEPT}\r\n"
        self._connection: _Stream | None = None
        # The request begun and not yet finished: (method, path, accept).
        self._pending: tuple[str, str, str] | None = None

    def _send(self, message: bytes, method: str, path: str) -> tuple[int, bytes, bytes]:
        """Writes one whole request (one write) on the connection and reads the answer:
        ``(status, Content-Type lower-cased, body)``. Raises ServerUnreachable, or the server's
        error for a status of 400 or more."""
        self._write(message, method, path)
        return self._read(method, path)

    def _write(self, message: bytes, method: str, path: str) -> None:
        """Writes one whole request, opening the connection if there is none, the server closed
        it while idle, or an answer begun was never read (it goes with the connection)."""
        connection = self._connection
        if connection is None or self._pending is not None or not connection.idle_and_open():
            # None yet, closed by the server while idle (or a stray byte), or holding an answer
            # nobody will read: nothing was asked yet, so a new connection takes the request.
            self.close()
            connection = self._connection = _Stream(open_socket(self._host, self._port, self._https, self.timeout, self.url))
        try:
            connection.send(message)
        except OSError as e:
            self.close()
            raise ServerUnreachable(self.url, f"{method} {path} failed: {str(e) or type(e).__name__}") from e

    def _read(self, method: str, path: str) -> tuple[int, bytes, bytes]:
        """Reads the answer to the request written last: ``(status, Content-Type lower-cased,
        body)``; raises as :meth:`_send` does."""
        connection = self._connection
        if connection is None:  # closed after the request was written
            raise ServerUnreachable(self.url, f"{method} {path} failed: the connection was closed before its answer")
        try:
            status, content_type, payload, will_close = connection.read_response()
        except (OSError, _BadAnswer) as e:
            self.close()
            raise ServerUnreachable(self.url, f"{method} {path} failed: {str(e) or type(e).__name__}") from e
        except ProtocolError as e:
            self.close()  # what is left of the answer cannot be told from the next one
            raise ProtocolError(f"{method} {path} {e}") from e
        if will_close:
            self.close()
        if status >= 400:
            raise self._error(status, payload, f"{method} {path}")
        return status, content_type, payload

    def _message(self, method: str, path: str, body: Any, params: dict[str, str] | None, accept: str) -> bytes:
        """The whole request: its head (one write, with the body)."""
        head = f"{method} {self._prefix}{path}?{urlencode(params)}" if params else f"{method} {self._prefix}{path}"
        head += self._head_msgpack if accept == "msgpack" else self._head_json
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            return f"{head}Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode("latin-1") + data
        if method in _BODY_METHODS:
            return (head + "Content-Length: 0\r\n\r\n").encode("latin-1")  # as http.client says it
        return (head + "\r\n").encode("latin-1")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        accept: str = "json",
    ) -> Any:
        """Sends one request; returns the decoded JSON (``accept="json"``), the bytes
        (``"bytes"``), the text (``"text"``), or the decoded answer of either kind for
        ``"msgpack"`` (MessagePack preferred; packed arrays stay ``{"dtype", "shape", "data":
        bytes}`` maps for :func:`spaces.read_value`). Raises ServerUnreachable, or a
        ServerError subclass carrying the server's message."""
        status, content_type, payload = self._send(self._message(method, path, body, params, accept), method, path)
        return self._answer(method, path, status, content_type, payload, accept)

    def begin_request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        accept: str = "json",
    ) -> None:
        """The first half of :meth:`request`: writes the request and returns without waiting
        for the answer, which :meth:`finish_request` reads. Raises ServerUnreachable if the
        request cannot be written. A request made before the answer is read drops it (and
        the connection it is on)."""
        self._write(self._message(method, path, body, params, accept), method, path)
        self._pending = (method, path, accept)

    def finish_request(self) -> Any:
        """The second half of :meth:`request`: reads the answer to the request
        :meth:`begin_request` wrote and returns it decoded, or raises as :meth:`request` does."""
        if self._pending is None:
            raise RuntimeError("finish_request without a request begun")
        method, path, accept = self._pending
        self._pending = None
        status, content_type, payload = self._read(method, path)
        return self._answer(method, path, status, content_type, payload, accept)

    def _answer(self, method: str, path: str, status: int, content_type: bytes, payload: bytes, accept: str) -> Any:
        if accept == "json" and content_type == _JSON_BYTES:
            # The server's own JSON answers (application/json, UTF-8), read without more ado.
            answer = _loads(payload)
            if answer is not _NOT_JSON:
                return answer  # (and if not, reported below as for any other answer)
        elif accept == "msgpack" and content_type == _MSGPACK_BYTES:
            try:
                return msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.exceptions.UnpackException):
                pass  # reported by _decode
        return self._decode(method, path, status, content_type, payload, accept)

    def begin_post(self, head: bytes, data: bytes, path: str, accept: str) -> None:
        """:meth:`begin_request` of a POST whose head :meth:`post_head` made and whose JSON body
        is already encoded: nothing built twice (a vector's step)."""
        self._write(b"%s%d\r\n\r\n%s" % (head, len(data), data), "POST", path)
        self._pending = ("POST", path, accept)

    def post_head(self, path: str, accept: str = "json") -> bytes:
        """The head of a JSON POST to ``path`` up to its Content-Length value, for
        :meth:`post_json` (a transport keeps it for the requests it repeats)."""
        head = self._head_msgpack if accept == "msgpack" else self._head_json
        return f"POST {self._prefix}{path}{head}Content-Type: application/json\r\nContent-Length: ".encode("latin-1")

    def post_json(self, head: bytes, data: bytes, path: str) -> Any:
        """``request("POST", path, body=...)`` for a body already encoded (``data``) and the
        head :meth:`post_head` made: the step's path, with nothing built twice (``_send`` and
        the JSON fast path of ``request``, inline)."""
        connection = self._connection
        if connection is None or connection.buffer or self._pending is not None or not connection.idle_and_open():
            return self._post_json_slowly(head, data, path)
        try:
            connection.send(b"%s%d\r\n\r\n%s" % (head, len(data), data))
            status, content_type, payload, will_close = connection.read_response()
        except (OSError, _BadAnswer) as e:
            self.close()
            raise ServerUnreachable(self.url, f"POST {path} failed: {str(e) or type(e).__name__}") from e
        except ProtocolError as e:
            self.close()
            raise ProtocolError(f"POST {path} {e}") from e
        if will_close:
            self.close()
        if status < 400 and content_type == _MSGPACK_BYTES:
            try:
                return msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.exceptions.UnpackException):
                pass  # (_decode says so)
            return self._decode("POST", path, status, content_type, payload, "msgpack")
        if status < 400 and content_type == _JSON_BYTES:
            text = payload.decode("utf-8", "replace")
            try:
                answer, end = _scan_once(text, 0)
            except (StopIteration, ValueError):
                pass  # (blanks before the value, or not JSON: _decode says which)
            else:
                if end == len(text) or not text[end:].strip(" \t\n\r"):
                    return answer
        elif status >= 400:
            raise self._error(status, payload, f"POST {path}")
        return self._decode("POST", path, status, content_type, payload, "json")

    def _post_json_slowly(self, head: bytes, data: bytes, path: str) -> Any:
        """post_json over a new connection (through ``_send``, which opens it)."""
        status, content_type, payload = self._send(b"%s%d\r\n\r\n%s" % (head, len(data), data), "POST", path)
        if content_type == _MSGPACK_BYTES:
            return self._decode("POST", path, status, content_type, payload, "msgpack")
        if content_type == _JSON_BYTES:
            answer = _loads(payload)
            if answer is not _NOT_JSON:
                return answer
        return self._decode("POST", path, status, content_type, payload, "json")

    def _decode(self, method: str, path: str, status: int, content_type: bytes, payload: bytes, accept: str) -> Any:
        route = f"{method} {path}"
        if accept == "bytes":
            return payload
        mime, charset = parse_content_type(content_type)
        if accept == "msgpack" and mime in MSGPACK_TYPES:
            try:
                return msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.exceptions.UnpackException) as e:
                raise ProtocolError(f"{route} answered MessagePack that does not decode: {e}") from e
        try:
            text = payload.decode(charset or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            text = payload.decode("utf-8", "replace")
        if accept == "text":
            return text
        try:
            return json.loads(text)
        except ValueError as e:
            raise ProtocolError(f"{route} answered {status} with a body that is not JSON: {text[:200]!r}") from e

    def _error(self, status: int, payload: bytes, route: str) -> Exception:
        text = payload.decode("utf-8", "replace")
        message = _json_message(text)
        if message is None:
            message = f"{route} failed with HTTP {status}: {text[:200]}"
        return error_from_message(message, status=status, route=route)

    def close(self) -> None:
        self._pending = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
# The Content-Type gym-server writes on its JSON answers (lower-cased), read without parsing.
_JSON_BYTES = JSON_TYPE.encode("ascii")
_MSGPACK_BYTES = MSGPACK_TYPES[0].encode("ascii")
# Answers with no body whatever their head says (RFC 9112 section 6.3).
_NO_BODY = frozenset((204, 304))
_STATUS_LINE_STARTS = (b"HTTP/1.1 ", b"HTTP/1.0 ")
# The head gym-server writes on its JSON and MessagePack answers (the REST fast path's and its
# routes'), read by one match; any other head is read field by field.
_GYM_SERVER_HEAD = re.compile(
    rb"HTTP/1\.1 ([2-5]\d\d) [^\r\n]*\r\nContent-Type: (application/json|application/msgpack)\r\n"
    rb"Content-Length: (\d+)\r\nDate: [^\r\n]*\r\nServer: gym-server"
).fullmatch
# How much of a head is read before the answer is refused (http.client's line limit).
MAX_HEAD = 65536

_NOT_JSON = object()
_raw_decode = json.JSONDecoder().raw_decode
# The scanner under raw_decode (json's C scanner), called without raw_decode's wrapping: it
# raises StopIteration where raw_decode raises JSONDecodeError.
_scan_once = getattr(json.JSONDecoder(), "scan_once", None) or (lambda text, at: _raw_decode(text, at))


def _loads(payload: bytes) -> Any:
    """A UTF-8 JSON body as ``json.loads(payload.decode("utf-8", "replace"))`` reads it (without
    its two regular-expression passes over the blanks), or _NOT_JSON."""
    return _loads_text(payload.decode("utf-8", "replace"))


def _loads_text(text: str) -> Any:
    try:
        answer, end = _raw_decode(text)
    except ValueError:
        try:
            return json.loads(text)  # leading blanks (which raw_decode refuses)
        except ValueError:
            return _NOT_JSON
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return _NOT_JSON  # more after the value
    return answer


def host_header(host: str, port: int, https: bool) -> str:
    """``Host`` as http.client writes it: IPv6 literals in brackets, the port unless the
    scheme's default."""
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if https else 80) else f"{name}:{port}"


def open_socket(host: str, port: int, https: bool, timeout: float, url: str) -> socket.socket:
    """A connected socket (TLS for https) with TCP_NODELAY and ``timeout`` on every operation;
    ServerUnreachable naming ``url`` if none."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise ServerUnreachable(url, str(e) or type(e).__name__) from e
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        elif _KERNEL_TIMEOUTS:
            # The kernel keeps the timeout (a blocking socket whose calls give up after it)
            # rather than Python, which polls before every send and receive to apply it.
            seconds, microseconds = int(timeout), int(timeout % 1 * 1e6)
            interval = struct.pack("ll", seconds, microseconds if seconds or microseconds else 1)  # (0 would be none)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)
            sock.settimeout(None)
    except (OSError, ValueError) as e:
        sock.close()
        raise ServerUnreachable(url, str(e) or type(e).__name__) from e
    return sock


# Linux with a 64-bit long (struct timeval of two longs): the timeout set as SO_RCVTIMEO and
# SO_SNDTIMEO; a call that runs out raises BlockingIOError, which _Stream reports as TimeoutError.
_KERNEL_TIMEOUTS = sys.platform == "linux" and struct.calcsize("l") == 8 and hasattr(socket, "SO_RCVTIMEO")


def parse_content_type(value: bytes) -> tuple[str, str | None]:
    """``(type/subtype, charset or None)`` of a Content-Type value, lower-cased, as
    ``email.message.Message`` reads it (``text/plain`` when there is none)."""
    text = value.decode("latin-1")
    mime, _, parameters = text.partition(";")
    mime = mime.strip().lower()
    if mime.count("/") != 1:
        mime = "text/plain"
    charset = None
    for parameter in parameters.split(";"):
        name, _, parameter_value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = parameter_value.strip().strip('"').lower() or None
    return mime, charset


SPIN_ENV = "GYM_SERVER_SPIN_US"
DEFAULT_SPIN_US = 200
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"
CGROUP_V1_QUOTA = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def quota_cpus(cpu_max: str | None = None, v1: tuple[str, str] | None = None) -> int:
    """The CPUs a cgroup's CPU quota allows, rounded up (0: no quota): cgroup v2's ``cpu.max``
    (``"<quota> <period>"`` or ``"max <period>"``), else v1's ``cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us`` (a quota of -1: none). The texts are read from /sys/fs/cgroup when not
    given. As gym-server counts them (``gym_usable_cpus``)."""
    if cpu_max is None and v1 is None:
        try:
            with open(CGROUP_CPU_MAX) as f:
                cpu_max = f.read()
        except OSError:
            try:
                with open(CGROUP_V1_QUOTA[0]) as q, open(CGROUP_V1_QUOTA[1]) as p:
                    v1 = (q.read(), p.read())
            except OSError:
                return 0
    words = cpu_max.split() if cpu_max is not None else list(v1 or ())
    if len(words) != 2 or words[0] == "max":
        return 0
    try:
        quota, period = int(words[0]), int(words[1])
    except ValueError:
        return 0
    if quota <= 0 or period <= 0:
        return 0
    return -(-quota // period)


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup's CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = quota_cpus()
    return quota if 0 < quota < cpus else cpus


def spin_budget() -> float:
    """Seconds a read polls its socket for the answer before it blocks (see :class:`SpinWait`):
    ``GYM_SERVER_SPIN_US`` microseconds if set (0 never polls), else 200 µs when this process
    may use two CPUs or more (its affinity mask and a cgroup's CPU quota: :func:`usable_cpus`)
    and 0 with one (where polling would only keep the server from the CPU its answer needs)."""
    text = os.environ.get(SPIN_ENV)
    if text is None or not text.strip():
        return DEFAULT_SPIN_US / 1e6 if usable_cpus() >= 2 else 0.0
    try:
        microseconds = float(text)
    except ValueError:
        microseconds = -1.0
    if not 0 <= microseconds <= 1_000_000:
        raise ValueError(f"{SPIN_ENV} must be a number of microseconds from 0 to 1000000 (0: never poll), got {text!r}")
    return microseconds / 1e6


class SpinWait:
    """How a read waits for an answer: it polls the socket (non-blocking reads) for up to
    ``budget`` seconds, and only then blocks in the kernel; or it blocks at once, whichever
    makes this process's requests go faster where it runs.

    A blocked reader's CPU goes idle, and waking it costs: on a virtual machine the idle CPU
    halts and is woken by an interrupt through the hypervisor, tens of microseconds, and what
    the process runs right after (a trainer's forward pass) runs slower on caches the host used
    meanwhile. An answer that comes within the budget costs neither. But when the server's
    thread shares this process's CPU, polling keeps it from the CPU, now and then for the whole
    budget, and blocking is faster. So every 1,024 exchanges begin with 32 whose reads block and
    32 whose reads poll, each timed from its request's write (:meth:`sending`) to the next
    request's (the exchange and what the process did with its answer, where a slower start
    shows), and the other 960 wait the way whose mean (each probe counted as at most 4 times the
    probes' median) was lower, polling unless blocking took under 0.95 of its time. Reads with
    no write before them (the rest of a long answer) wait the way the cycle does, uncounted.

    Polled waits that run out of the budget twice in a row stop the polling for the next 1, 2,
    4 ... 1,024 reads (back to none at the first answer that comes in time), so a server that
    answers slowly (a bridged vector of heavy environments) costs a few wasted polls per
    thousand reads, not one per read. Not for TLS sockets, nor sockets Python applies a timeout
    to (both read otherwise).
    """

    PROBE_EXCHANGES = 32
    CYCLE_EXCHANGES = 1024

    __slots__ = ("budget", "_clock", "_skip", "_misses", "_backoff", "_position", "_polls", "_probes",
                 "_sent", "_fresh", "_probing")

    def __init__(self, budget: float, clock: Any = time.perf_counter) -> None:
        self.budget = budget if _DONTWAIT else 0.0
        self._clock = clock
        self._skip = 0
        self._misses = 0
        self._backoff = 1
        self._position = 0  # the exchange's place in the cycle of CYCLE_EXCHANGES
        self._polls = True  # how the reads past the probes wait
        self._probes: tuple[list[float], list[float]] = ([], [])  # the blocked and the polled exchanges
        self._sent = 0.0  # when the last request was written
        self._fresh = False  # whether the next read is the first since a request was written
        self._probing: int | None = None  # the last exchange's probe: 0 blocked, 1 polled

    def sending(self) -> None:
        """Says that a request is being written (its answer is the next read's)."""
        if not self.budget:
            return
        now = self._clock()
        probing = self._probing
        if probing is not None:
            self._probing = None
            samples = self._probes
            samples[probing].append(now - self._sent)
            if probing and self._position == 2 * self.PROBE_EXCHANGES:
                blocked, polled = samples
                if blocked and polled:
                    self._polls = not _clipped_mean(blocked, polled) < 0.95 * _clipped_mean(polled, blocked)
                blocked.clear()
                polled.clear()
        self._sent = now
        self._fresh = True

    def recv(self, sock: socket.socket, size: int) -> bytes:
        """``sock.recv(size)``, polled for first or not."""
        if not self.budget:
            return sock.recv(size)
        if self._fresh:
            self._fresh = False
            position = self._position
            if position < 2 * self.PROBE_EXCHANGES:
                self._position = position + 1
                polled = position >= self.PROBE_EXCHANGES
                self._probing = int(polled)
                return self._poll(sock, size) if polled else sock.recv(size)
            self._position = (position + 1) % self.CYCLE_EXCHANGES
        return self._poll(sock, size) if self._polls else sock.recv(size)

    def _poll(self, sock: socket.socket, size: int) -> bytes:
        if self._skip:
            self._skip -= 1
        else:
            recv, clock = sock.recv, self._clock
            deadline = clock() + self.budget
            while True:
                try:
                    chunk = recv(size, _DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    if clock() < deadline:
                        continue
                    break
                self._misses, self._backoff = 0, 1
                return chunk
            self._misses += 1
            if self._misses >= 2:
                self._misses = 0
                self._skip = self._backoff
                self._backoff = min(self._backoff * 2, 1024)
        return sock.recv(size)


def _clipped_mean(samples: list[float], others: list[float]) -> float:
    """The mean of ``samples``, each taken as at most 4 times the median of all the probes: a
    poll that ran out of its budget now and then counts, a pause of the process between two
    requests (a trainer's update) does not swamp the rest."""
    every = sorted(samples + others)
    ceiling = 4 * every[len(every) // 2]
    return sum(min(sample, ceiling) for sample in samples) / len(samples)


class _BadAnswer(Exception):
    """What the peer sent is not HTTP (or not the HTTP this client reads); the request fails as
    for a broken connection."""


class _PeerClosed(ConnectionError):
    """The peer ended the connection before the whole answer came."""


class _Stream:
    """A connected socket and what was read from it past the last answer."""

    __slots__ = ("sock", "buffer", "last_head", "_poll", "_wait")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.last_head = b""
        # A plain socket whose timeout the kernel applies (see open_socket) polls for answers.
        polls = not isinstance(sock, ssl.SSLSocket) and sock.gettimeout() is None
        self._wait = SpinWait(spin_budget() if polls else 0.0)
        poll = getattr(select, "poll", None)
        self._poll = None
        if poll is not None and not isinstance(sock, ssl.SSLSocket):
            self._poll = poll()
            self._poll.register(sock, select.POLLIN)

    def idle_and_open(self) -> bool:
        """Whether the connection can carry the next request: nothing arrived since the last
        answer (readable with nothing asked means the end of the stream, or a stray byte:
        either way it cannot be reused)."""
        if self.buffer:
            return False
        if self._poll is not None:
            try:
                return not self._poll.poll(0)
            except (OSError, ValueError):
                return False
        return not _closed_by_peer(self.sock)

    def send(self, data: bytes) -> None:
        self._wait.sending()
        try:
            self.sock.sendall(data)
        except BlockingIOError:  # SO_SNDTIMEO ran out (see open_socket)
            raise TimeoutError("timed out") from None

    def recv_some(self, size: int = 65536) -> bytes:
        try:
            chunk = self._wait.recv(self.sock, size)
        except BlockingIOError:  # SO_RCVTIMEO ran out
            raise TimeoutError("timed out") from None
        if not chunk:
            raise _PeerClosed("Remote end closed connection without response" if not self.buffer else
                              "the connection closed in the middle of an answer")
        return chunk

    def fill(self, size: int) -> bytes:
        """The buffer once it holds at least ``size`` bytes."""
        buffer = self.buffer
        if len(buffer) >= size:
            return buffer
        parts = [buffer]
        have = len(buffer)
        while have < size:
            chunk = self.recv_some(max(65536, min(size - have, 1 << 24)))
            parts.append(chunk)
            have += len(chunk)
        self.buffer = buffer = b"".join(parts)
        return buffer

    def take(self, size: int) -> bytes:
        buffer = self.fill(size)
        self.buffer = buffer[size:]
        return buffer[:size]

    def read_line(self) -> bytes:
        """One CRLF-ended line (without the CRLF), for chunked bodies."""
        buffer = self.buffer
        end = buffer.find(b"\r\n")
        while end < 0:
            if len(buffer) > MAX_HEAD:
                raise _BadAnswer("a line of the answer is longer than 64 KiB")
            buffer += self.recv_some()
            self.buffer = buffer
            end = buffer.find(b"\r\n")
        self.buffer = buffer[end + 2:]
        return buffer[:end]

    def read_head(self) -> bytes:
        """The head of the next answer, up to (without) the blank line."""
        buffer = self.buffer
        if not buffer:
            buffer = self.recv_some()
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(buffer) > MAX_HEAD:
                raise _BadAnswer("the answer's head is longer than 64 KiB")
            self.buffer = buffer
            buffer += self.recv_some()
            end = buffer.find(b"\r\n\r\n")
        self.buffer = buffer[end + 4:]
        return buffer[:end]

    def read_response(self) -> tuple[int, bytes, bytes, bool]:
        """The next answer: ``(status, Content-Type lower-cased (b"" if none), body, whether
        the connection closes after it)``. Interim (1xx) answers are skipped."""
        buffer = self.buffer
        if not buffer:
            try:
                buffer = self._wait.recv(self.sock, 65536)
            except BlockingIOError:  # SO_RCVTIMEO ran out
                raise TimeoutError("timed out") from None
            if not buffer:
                raise _PeerClosed("Remote end closed connection without response")
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:  # the whole head came in one piece (as it does): read_head's work, inline
            self.buffer = buffer[end + 4:]
            head = buffer[:end]
        else:
            self.buffer = buffer
            head = self.read_head()
        gym_server = _GYM_SERVER_HEAD(head)
        if gym_server is not None:
            # gym-server's own answer: a Content-Length, no Connection, no Transfer-Encoding.
            self.last_head = head
            status, content_type, length = int(gym_server[1]), gym_server[2], int(gym_server[3])
            if len(self.buffer) >= length:
                body = self.buffer[:length]
                self.buffer = self.buffer[length:]
            else:
                body = self.take(length)
            return status, content_type, body, False
        while True:
            # "HTTP/1.1 200 OK": the version, then a three-digit status.
            if head[:9] not in _STATUS_LINE_STARTS or not head[9:12].isdigit() or head[12:13] not in (b" ", b""):
                raise _BadAnswer(f"the answer is not HTTP/1.x: {head[:80]!r}")
            status = int(head[9:12])
            if status >= 200 or status == 101:
                break
            head = self.read_head()  # past an interim answer
        self.last_head = head
        will_close = head[7] == 48  # "HTTP/1.0" closes unless it says keep-alive
        content_type = b""
        length = -1
        transfer_coding = None
        # The fields framing needs, by exact (lower-cased) name; any others are not looked at.
        for line in head.lower().split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-type":
                content_type = value.strip()
            elif name == b"content-length":
                value = value.strip()
                if not value.isdigit():
                    raise ProtocolError(f"answered with the Content-Length {value.decode('latin-1')!r}, not a number")
                length = int(value)
            elif name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                if b"close" in tokens:
                    will_close = True
                elif b"keep-alive" in tokens:
                    will_close = False
            elif name == b"transfer-encoding":
                transfer_coding = value
        if status in _NO_BODY or status == 101:
            return status, content_type, b"", will_close
        if transfer_coding is not None:
            codings = [t.strip() for t in transfer_coding.split(b",")]
            if codings != [b"chunked"]:
                raise ProtocolError(f"answered with Transfer-Encoding {b', '.join(codings).decode('latin-1')!r}, "
                                    "which this client does not read (only chunked)")
            return status, content_type, self._read_chunked(), will_close
        if length >= 0:
            buffer = self.buffer
            if len(buffer) >= length:
                self.buffer = buffer[length:]
                return status, content_type, buffer[:length], will_close
            return status, content_type, self.take(length), will_close
        # Neither a length nor chunks: the body is what comes until the server closes.
        parts = [self.buffer]
        try:
            while True:
                parts.append(self.recv_some())
        except _PeerClosed:
            pass
        self.buffer = b""
        return status, content_type, b"".join(parts), True

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.read_line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadAnswer(f"a chunk of the answer has the size {size_text[:40]!r}") from None
            if size == 0:
                while self.read_line():  # trailers, up to the blank line
                    pass
                return b"".join(parts)
            parts.append(self.take(size))
            if self.take(2) != b"\r\n":
                raise _BadAnswer("a chunk of the answer does not end with CRLF")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection was closed by the server (readable with nothing
    asked means end of stream, or a stray byte: either way it cannot be reused)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable and isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(readable)


def create_params(
    env_id: str, seed: int | None, kwargs: dict[str, Any] | None, extra: dict[str, Any] | None
) -> dict[str, Any]:
    """What REST's create and Gymie's make both take: the id, the seed and kwargs when given, and
    any extra fields (num_envs, autoreset_mode)."""
    params: dict[str, Any] = {"env_id": env_id}
    if seed is not None:
        params["seed"] = seed
    if kwargs:
        params["kwargs"] = kwargs
    if extra:
        params.update(extra)
    return params


class HttpTransport:
    """Create, reset, step, spaces and close over the REST API."""

    name = "http"

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        # instance id and route -> (the request's head up to its Content-Length, the path)
        self._heads: dict[tuple[str, str], tuple[bytes, str]] = {}

    def create(self, env_id: str, seed: int | None, kwargs: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> str:
        body = create_params(env_id, seed, kwargs, extra)
        return created_instance_id(self.api.request("POST", "/v1/envs/", body=body))

    def _post(self, instance_id: str, route: str, data: bytes) -> Any:
        """POST ``data`` (JSON) to the instance's ``route``, the request's head made once."""
        head = self._heads.get((instance_id, route)) or self._head(instance_id, route)
        return self.api.post_json(head[0], data, head[1])

    def _head(self, instance_id: str, route: str) -> tuple[bytes, str]:
        if len(self._heads) > 64:
            self._heads.clear()
        path = instance_path(instance_id, route)
        # Steps and resets ask for MessagePack (observations as packed arrays: no number
        # printed and parsed again), and read JSON as well.
        head = self._heads[instance_id, route] = (self.api.post_head(path, "msgpack"), path)
        return head

    def reset(self, instance_id: str, seed: Any, options: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if seed is not None:
            body["seed"] = seed
        if options is not None:
            body["options"] = options
        return expect_keys(self._post(instance_id, "reset/", json.dumps(body).encode("utf-8")), ("observation",), "reset")

    def step(self, instance_id: str, action: Any) -> dict[str, Any]:
        # json.dumps({"action": action}), byte for byte; an int without the encoder.
        data = b'{"action": %d}' % action if type(action) is int else b'{"action": %s}' % json.dumps(action).encode("utf-8")
        head = self._heads.get((instance_id, "step/")) or self._head(instance_id, "step/")
        answer = self.api.post_json(head[0], data, head[1])
        if type(answer) is dict and answer.keys() >= _STEP_KEYS:
            return answer
        return expect_keys(answer, ("observation", "reward", "terminated", "truncated"), "step")

    def space(self, instance_id: str, which: str) -> dict[str, Any]:
        answer = self.api.request("GET", instance_path(instance_id, f"{which}/"))
        return expect_keys(answer, ("info",), which)

    def close(self, instance_id: str) -> None:
        self.api.request("POST", instance_path(instance_id, "close/"))

    def shutdown(self) -> None:
        """Releases the transport's own resources (none: the HTTP connection is the env's)."""


_STEP_KEYS = frozenset(("observation", "reward", "terminated", "truncated"))


def created_instance_id(answer: Any) -> str:
    """The ``instance_id`` of REST's answer to ``POST /v1/envs/``."""
    instance_id = answer.get("instance_id") if isinstance(answer, dict) else None
    if not isinstance(instance_id, str) or not instance_id:
        raise ProtocolError(f"POST /v1/envs/ answered {answer!r}, not {{instance_id}}")
    return instance_id


def expect_keys(answer: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(answer, dict) or any(k not in answer for k in keys):
        raise ProtocolError(f"the server's answer to {what} lacks {', '.join(keys)}: {str(answer)[:200]}")
    return answer


def websocket_url(url: str) -> str:
    parts = urlsplit(normalise_url(url))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/gym", "", ""))


class WebSocketTransport:
    """Gymie's WebSocket protocol at ``ws://host:port/gym``: one text message
    ``{"method", "params"}`` per call, one text answer. gym-server's ``"full": true`` on reset
    and step makes it answer the REST objects (with ``terminated``/``truncated``), which this
    transport asks for always.

    Gymie reports an error by closing the connection with a reason (code 1007/1003); gym-server
    may answer a JSON error object instead. Both raise the matching ServerError; the next call
    opens a new connection (instances live on the server, not on the connection).
    :meth:`begin_call` and :meth:`finish_call` split a call in two (sent, then received), as
    :class:`HttpApi` splits a request.
    """

    name = "websocket"

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.http_url = normalise_url(url)
        self.url = websocket_url(url)
        self.api_key = check_api_key(api_key)
        self.timeout = check_timeout(timeout)
        self._connection: WebSocketConnection | None = None
        self._step_heads: dict[str, bytes] = {}
        # The method of the call begun and not yet finished.
        self._pending: str | None = None
        # The instance this transport's calls are for (the first it made, or the one it was
        # given): every connection it opens asks /gym?instance_id=<id>, which the server ignores
        # and a fleet's front routes by, so that a reconnection reaches the replica holding it.
        self.instance_hint: str | None = None

    def _connect(self) -> WebSocketConnection:
        parts = urlsplit(self.http_url)
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        sock = open_socket(host, port, https, self.timeout, self.url)
        stream = _Stream(sock)
        try:
            target = quote(parts.path, safe="/%:@!$&'()*+,;=-._~") + "/gym"
            if self.instance_hint:
                target += "?instance_id=" + quote(self.instance_hint, safe="")
            self._handshake(stream, host_header(host, port, https), target)
        except BaseException:
            stream.close()
            raise
        self._connection = WebSocketConnection(stream)
        return self._connection

    def _handshake(self, stream: _Stream, host: str, path: str) -> None:
        """RFC 6455's opening handshake; raises what the old websockets-based client raised:
        UnsupportedByServer for a 404, the server's error for another refusal, ProtocolError for
        an answer that is not a WebSocket upgrade, ServerUnreachable for a broken connection."""
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        head = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: gym-server-client\r\n")
        if self.api_key is not None:
            head += f"X-API-Key: {self.api_key}\r\n"
        try:
            stream.send((head + "\r\n").encode("latin-1"))
            status, _, body, _ = stream.read_response()
        except TimeoutError as e:
            raise ServerUnreachable(self.url, "timed out during opening handshake") from e
        except (_BadAnswer, ProtocolError) as e:
            raise ProtocolError(f"the WebSocket handshake at {self.url} failed: {e}") from e
        except OSError as e:
            raise ServerUnreachable(self.url, str(e) or type(e).__name__) from e
        if status != 101:
            if status == 404:
                raise UnsupportedByServer(
                    f"{self.url} answered 404: this gym-server has no WebSocket endpoint "
                    "(Gymie's protocol at /gym); use transport='http'"
                )
            text = body.decode("utf-8", "replace")
            message = _json_message(text) or f"the WebSocket handshake at {self.url} was refused with HTTP {status}"
            raise error_from_message(message, status=status, route="ws /gym")
        headers = _handshake_headers(stream.last_head)
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()).decode("ascii")
        problem = None
        if "websocket" not in [t.strip().lower() for t in headers.get("upgrade", "").split(",")]:
            problem = f"the answer's Upgrade is {headers.get('upgrade')!r}, not websocket"
        elif "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
            problem = f"the answer's Connection is {headers.get('connection')!r}, not upgrade"
        elif headers.get("sec-websocket-accept", "").strip() != accept:
            problem = f"the answer's Sec-WebSocket-Accept is {headers.get('sec-websocket-accept')!r}, not {accept!r}"
        elif headers.get("sec-websocket-extensions"):
            problem = f"the server chose extensions ({headers['sec-websocket-extensions']}) none was offered"
        elif headers.get("sec-websocket-protocol"):
            problem = f"the server chose a subprotocol ({headers['sec-websocket-protocol']}) none was offered"
        if problem is not None:
            raise ProtocolError(f"the WebSocket handshake at {self.url} failed: {problem}")

    def exchange(self, method: str, params: dict[str, Any]) -> str:
        """Sends one call and returns the answer's text (connecting first if needed)."""
        return self._exchange(method, json.dumps({"method": method, "params": params}).encode("utf-8"))

    def _ready(self) -> WebSocketConnection:
        """The connection for the next call: the open one, or a new one when there is none,
        the server closed it while idle (or after an error), or it holds an answer begun and
        never read (nothing was asked on the new one yet, so it takes the call)."""
        connection = self._connection
        if connection is None or self._pending is not None or not connection.idle_and_open():
            self._drop()
            connection = self._connect()
        return connection

    def _exchange(self, method: str, message: bytes) -> str:
        """Sends one message (``{"method": method, ...}`` as JSON) and returns the answer's text."""
        connection = self._ready()
        try:
            binary, payload = connection.exchange(message)
        except ProtocolError:
            self._drop()
            raise
        except (WebSocketClosed, OSError) as e:
            raise self._failure(e, method) from e
        return self._text(binary, payload, method)

    def _failure(self, error: BaseException, method: str) -> Exception:
        """What a call that failed on the connection raises (the connection dropped): the
        server's error for a close with a reason, else ServerUnreachable."""
        self._drop()
        if isinstance(error, WebSocketClosed):
            if error.reason:
                return error_from_message(error.reason, status=None, route=f"ws {method}")
            return ServerUnreachable(self.url, f"the connection closed during {method} ({error})")
        if isinstance(error, _PeerClosed):
            return ServerUnreachable(self.url, f"the connection closed during {method} (no close frame received)")
        if isinstance(error, TimeoutError):
            return ServerUnreachable(self.url, f"no answer to {method} within {self.timeout} s")
        return ServerUnreachable(self.url, str(error) or type(error).__name__)

    def _text(self, binary: bool, payload: bytes, method: str) -> str:
        if binary:
            raise ProtocolError(f"ws {method} answered a binary message; the protocol answers text")
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as e:
            self._drop()
            raise ProtocolError(f"ws {method} answered a text message that is not UTF-8: {e}") from e

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Sends one call and returns its answer parsed as JSON; a JSON error object raises."""
        return self._call(method, json.dumps({"method": method, "params": params}).encode("utf-8"))

    def begin_call(self, method: str, params: dict[str, Any]) -> None:
        """The first half of :meth:`call`: sends the call and returns without waiting for the
        answer, which :meth:`finish_call` reads. Raises ServerUnreachable if it cannot be sent.
        A call made before the answer is read drops it (and the connection it is on)."""
        connection = self._ready()
        try:
            connection.send_text(json.dumps({"method": method, "params": params}).encode("utf-8"))
        except OSError as e:
            raise self._failure(e, method) from e
        self._pending = method

    def finish_call(self) -> Any:
        """The second half of :meth:`call`: the answer to the call :meth:`begin_call` sent,
        parsed as JSON, or the error :meth:`call` raises."""
        method = self._pending
        if method is None:
            raise RuntimeError("finish_call without a call begun")
        self._pending = None
        connection = self._connection
        if connection is None:
            raise ServerUnreachable(self.url, f"the connection closed during {method} (before its answer)")
        try:
            binary, payload = connection.receive()
        except ProtocolError:
            self._drop()
            raise
        except (WebSocketClosed, OSError) as e:
            raise self._failure(e, method) from e
        return self._parse(method, self._text(binary, payload, method))

    def _call(self, method: str, message: bytes) -> Any:
        return self._parse(method, self._exchange(method, message))

    def _parse(self, method: str, text: str) -> Any:
        """An answer's text parsed as JSON; a JSON error object raises."""
        try:
            answer, end = _scan_once(text, 0)
        except (StopIteration, ValueError):
            answer = _loads_text(text)  # with blanks before it, or not JSON
        else:
            if end != len(text) and text[end:].strip(" \t\n\r"):
                answer = _NOT_JSON  # more after the value
        if answer is _NOT_JSON:
            raise ProtocolError(f"ws {method} answered text that is not JSON: {text[:200]!r}")
        if type(answer) is not dict or "observation" not in answer:
            _raise_if_error(answer, f"ws {method}")
        return answer

    def _drop(self) -> None:
        """Forgets a connection that failed (or that the server closed): its socket is closed
        without more ado."""
        self._pending = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abort()

    def create(self, env_id: str, seed: int | None, kwargs: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> str:
        params = create_params(env_id, seed, kwargs, extra)
        # The answer is the bare id as text ("3c657dbc"); not parsed as JSON, which would
        # read an all-digit id as a number and "12e45678" as a float.
        text = self.exchange("make", params).strip()
        if text.startswith("{"):
            try:
                answer = json.loads(text)
            except ValueError:
                answer = None
            _raise_if_error(answer, "ws make")
            if isinstance(answer, dict) and isinstance(answer.get("instance_id"), str):
                return answer["instance_id"]  # the form Gymie's README documents
            raise ProtocolError(f"ws make answered {text[:200]!r}, not an instance id")
        if text.startswith('"'):
            try:
                text = json.loads(text)
            except ValueError:
                raise ProtocolError(f"ws make answered {text[:200]!r}, not an instance id") from None
        if not text or any(c.isspace() or c in "/?#" for c in text):
            raise ProtocolError(f"ws make answered {text[:200]!r}, not an instance id")
        if self.instance_hint is None:
            self.instance_hint = text
        return text

    def reset(self, instance_id: str, seed: Any, options: dict[str, Any] | None) -> dict[str, Any]:
        params: dict[str, Any] = {"instance_id": instance_id, "full": True}
        if seed is not None:
            params["seed"] = seed
        if options is not None:
            params["options"] = options
        return expect_keys(self.call("reset", params), ("observation",), "ws reset")

    def step(self, instance_id: str, action: Any) -> dict[str, Any]:
        # json.dumps({"method": "step", "params": {"instance_id": ..., "action": ..., "full":
        # True}}), byte for byte, the part before the action made once per instance.
        head = self._step_heads.get(instance_id)
        if head is None:
            if len(self._step_heads) > 64:
                self._step_heads.clear()
            head = self._step_heads[instance_id] = b'{"method": "step", "params": {"instance_id": %s, "action": ' % json.dumps(instance_id).encode("utf-8")
        value = b"%d" % action if type(action) is int else json.dumps(action).encode("utf-8")
        answer = self._call("step", head + value + b', "full": true}}')
        if type(answer) is dict and answer.keys() >= _STEP_KEYS:
            return answer
        return expect_keys(answer, ("observation", "reward", "terminated", "truncated"), "ws step")

    def space(self, instance_id: str, which: str) -> dict[str, Any]:
        answer = self.call(which, {"instance_id": instance_id})
        if isinstance(answer, dict) and "name" not in answer and isinstance(answer.get("info"), dict):
            return answer
        if not isinstance(answer, dict):
            raise ProtocolError(f"ws {which} answered {answer!r}, not a space description")
        return {"info": answer}

    def close(self, instance_id: str) -> None:
        answer = self.call("close", {"instance_id": instance_id})
        if answer is not True and not (isinstance(answer, dict) and answer.get("message") is True):
            raise ProtocolError(f"ws close answered {answer!r}, not true")

    def shutdown(self) -> None:
        """Closes the connection, if one is open, with the closing handshake."""
        self._pending = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Opcodes (RFC 6455 section 5.2).
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# What a close code means, for messages (RFC 6455 section 7.4.1).
_CLOSE_CODES = {
    1000: "OK", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status received", 1006: "abnormal closure", 1007: "invalid frame payload data",
    1008: "policy violation", 1009: "message too big", 1010: "mandatory extension",
    1011: "internal error", 1012: "service restart", 1013: "try again later", 1015: "TLS handshake",
}


def _handshake_headers(head: bytes) -> dict[str, str]:
    """The head's header fields by lower-cased name (repeated fields joined with ", ")."""
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon:
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return headers


class WebSocketClosed(Exception):
    """The server closed the connection: with a close frame (``code``, ``reason``) or without
    (``code`` None)."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason
        if code is None:
            text = "no close frame received"
        else:
            text = f"received {code} ({_CLOSE_CODES.get(code, 'unknown')})"
            if reason:
                text += f" {reason}"
        super().__init__(text)


def mask_payload(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``mask`` repeated (RFC 6455 section 5.3), as one big integer
    operation rather than a Python loop over the bytes."""
    length = len(payload)
    if not length:
        return b""
    key = mask * (length >> 2) + mask[: length & 3]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 section 5.2)."""
    length = len(payload)
    mask = os.urandom(4)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + length.to_bytes(8, "big")
    return head + mask + mask_payload(payload, mask)


class WebSocketConnection:
    """One client WebSocket connection (RFC 6455) over a plain socket, opened by
    :class:`WebSocketTransport`: text messages out as single masked frames (one write each),
    messages in (fragmented or not, pings answered with pongs on the way), the close handshake
    either way. No extensions (no compression), no subprotocol."""

    __slots__ = ("stream", "closed", "_masks", "_mask_at")

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.closed = False
        # Masking keys come from os.urandom (RFC 6455 wants them unpredictable), drawn 1024 at a
        # time rather than one system call a message.
        self._masks = b""
        self._mask_at = 0

    def send_text(self, payload: bytes) -> None:
        """Sends ``payload`` as one text message (one write)."""
        self.stream.send(self._text_frame(payload))

    def _text_frame(self, payload: bytes) -> bytes:
        """``frame(_TEXT, payload)``, its masking key from the keys drawn 1024 at a time."""
        length = len(payload)
        if length >= 65536:
            return frame(_TEXT, payload)
        at = self._mask_at
        if at >= len(self._masks):
            self._masks = os.urandom(4096)
            at = 0
        self._mask_at = at + 4
        mask = self._masks[at:at + 4]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask * (length >> 2) + mask[: length & 3], "big")).to_bytes(length, "big")
        return ((b"\x81%c%s%s" % (0x80 | length, mask, masked)) if length < 126
                else (b"\x81\xfe%s%s%s" % (length.to_bytes(2, "big"), mask, masked)))

    def exchange(self, payload: bytes) -> tuple[bool, bytes]:
        """Sends ``payload`` as one text message and receives the answer (``send_text`` then
        ``receive``, with the common case inline: the answer one frame of under 64 KiB, read
        whole)."""
        stream = self.stream
        stream.send(self._text_frame(payload))
        if stream.buffer:
            return self.receive()
        buffer = stream.recv_some()
        # One whole unfragmented text frame (of under 64 KiB) in what was read?
        if buffer[0] == 0x81 and len(buffer) >= 4:
            second = buffer[1]
            if second < 126:
                if len(buffer) == 2 + second:
                    return False, buffer[2:]
            elif second == 126:
                end = 4 + (buffer[2] << 8 | buffer[3])
                if len(buffer) == end:
                    return False, buffer[4:]
        stream.buffer = buffer
        return self.receive()

    def idle_and_open(self) -> bool:
        """Whether the connection can carry the next call. Anything the server sent while the
        connection was idle is read: pings are answered and pongs dropped (the connection
        stays); a close frame, the end of the stream or any other message mean it cannot be
        used (nothing was asked yet, so the call goes over a new connection)."""
        if self.closed:
            return False
        stream = self.stream
        try:
            while stream.buffer or not stream.idle_and_open():
                if not stream.buffer:
                    stream.buffer = stream.recv_some()
                opcode, _, payload = self._read_frame()
                if opcode == _PING:
                    stream.send(frame(_PONG, payload))
                elif opcode != _PONG:
                    if opcode == _CLOSE:
                        self._answer_close(payload)
                    return False
        except (OSError, ProtocolError, WebSocketClosed):
            return False
        return True

    def receive(self) -> tuple[bool, bytes]:
        """The next message: ``(binary, payload)``. Raises WebSocketClosed when the server
        closes (the close answered), ProtocolError for frames RFC 6455 does not allow, OSError
        (TimeoutError) from the socket."""
        stream = self.stream
        buffer = stream.buffer
        if not buffer:
            buffer = stream.buffer = stream.recv_some()
        # The hot path: one whole unfragmented text frame of under 64 KiB in what was read.
        if buffer[0] == 0x81 and len(buffer) >= 4 and buffer[1] < 127:  # (127: a 64-bit length; more: masked)
            length = buffer[1]
            start = 2
            if length == 126:
                length = buffer[2] << 8 | buffer[3]
                start = 4
            end = start + length
            if len(buffer) >= end:
                stream.buffer = buffer[end:]
                return False, buffer[start:end]
        fragments: list[bytes] = []
        message_opcode = None
        while True:
            opcode, fin, payload = self._read_frame()
            if opcode >= 0x8:
                if opcode == _PING:
                    stream.send(frame(_PONG, payload))
                elif opcode == _CLOSE:
                    code, reason = self._answer_close(payload)
                    raise WebSocketClosed(code, reason)
                continue  # a pong
            if opcode == _CONTINUATION:
                if message_opcode is None:
                    raise ProtocolError("the server sent a continuation frame with no message begun")
            elif message_opcode is not None:
                raise ProtocolError("the server began a message inside another (expected a continuation frame)")
            else:
                message_opcode = opcode
            fragments.append(payload)
            if fin:
                return message_opcode == _BINARY, fragments[0] if len(fragments) == 1 else b"".join(fragments)

    def _read_frame(self) -> tuple[int, bool, bytes]:
        """One frame: ``(opcode, fin, payload)``."""
        stream = self.stream
        buffer = stream.fill(2)
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(f"the server set reserved bits in a frame (0x{first:02x}) with no extension agreed")
        if second & 0x80:
            raise ProtocolError("the server sent a masked frame (RFC 6455: server frames are not masked)")
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        length = second & 0x7F
        start = 2
        if length == 126:
            length = int.from_bytes(stream.fill(4)[2:4], "big")
            start = 4
        elif length == 127:
            length = int.from_bytes(stream.fill(10)[2:10], "big")
            start = 10
        if opcode >= 0x8:
            if opcode not in (_CLOSE, _PING, _PONG):
                raise ProtocolError(f"the server sent a frame of the unknown opcode {opcode:#x}")
            if not fin or length > 125:
                raise ProtocolError("the server sent a fragmented or oversized control frame")
        elif opcode not in (_CONTINUATION, _TEXT, _BINARY):
            raise ProtocolError(f"the server sent a frame of the unknown opcode {opcode:#x}")
        buffer = stream.fill(start + length)
        stream.buffer = buffer[start + length:]
        return opcode, fin, buffer[start:start + length]

    def _answer_close(self, payload: bytes) -> tuple[int | None, str]:
        """The server's close frame: its code and reason; answered (the code echoed) and the
        socket closed."""
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            reason = payload[2:].decode("utf-8", "replace")
        else:
            code, reason = 1005, ""
        self.closed = True
        try:
            self.stream.send(frame(_CLOSE, payload[:2]))
        except OSError:
            pass
        self.stream.close()
        return code, reason

    def abort(self) -> None:
        """Closes the socket, no closing handshake (the connection failed, or is closed)."""
        self.closed = True
        self.stream.close()

    def close(self) -> None:
        """The client's side of the close handshake (code 1000), waiting briefly for the
        server's close frame; then the socket is closed."""
        if self.closed:
            return
        self.closed = True
        stream = self.stream
        try:
            stream.send(frame(_CLOSE, (1000).to_bytes(2, "big")))
            stream.sock.settimeout(min(stream.sock.gettimeout() or 1.0, 1.0))
            for _ in range(16):  # the server's close frame, past any message still on its way
                if self._read_frame()[0] == _CLOSE:
                    break
        except (OSError, ProtocolError):
            pass
        finally:
            stream.close()


def _raise_if_error(answer: Any, route: str) -> None:
    """A JSON error object ``{"message": "...", "error": "..."}`` (not an observation, space or
    close acknowledgement) raises the matching ServerError."""
    if isinstance(answer, dict) and "observation" not in answer and "name" not in answer:
        message = answer.get("message", answer.get("error"))
        if isinstance(message, str):
            raise error_from_message(message, status=None, route=route)


def _json_message(text: str) -> str | None:
    """The text of a JSON error ``{"message": ..., "error": ...}``, else None."""
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    if isinstance(answer, dict):
        for key in ("message", "error"):
            if isinstance(answer.get(key), str):
                return answer[key]
    return None
