"""How requests reach gym-server: REST over HTTP, or Gymie's WebSocket protocol.

:class:`HttpApi` speaks the REST API (``http.client``, keep-alive), reads JSON or MessagePack
answers and turns the server's JSON errors into exceptions; every request carries ``X-API-Key``
when a key is given. :class:`HttpTransport` and :class:`WebSocketTransport` are the two ways an
environment's hot path (create, reset, step, spaces, close) travels; everything else (render,
monitor) always goes over REST.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import msgpack
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State
from websockets.sync.client import connect as websocket_connect

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

    Built on the standard library's ``http.client`` rather than ``requests``: a step is one
    small request, and ``requests`` spends several times the server's own time on each (on the
    2-core development machine, 4-5 ms a step against 1-1.4 ms here). The connection has
    TCP_NODELAY set and is reopened when the server closed it while idle; a request that fails
    once sent is never repeated (a step must not be taken twice). Not thread-safe: one per
    environment.
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = normalise_url(url)
        self.api_key = check_api_key(api_key)
        self.timeout = check_timeout(timeout)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path
        self._headers = {"Accept": JSON_TYPE}
        if self.api_key is not None:
            self._headers["X-API-Key"] = self.api_key
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and (connection.sock is None or _closed_by_peer(connection.sock)):
            self.close()
            connection = None
        if connection is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = cls(self._host, self._port, timeout=self.timeout)
            try:
                connection.connect()
            except OSError as e:
                connection.close()
                raise ServerUnreachable(self.url, str(e) or type(e).__name__) from e
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connection = connection
        return connection

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
        route = f"{method} {path}"
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self._headers)
        if accept == "msgpack":
            headers["Accept"] = MSGPACK_ACCEPT
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        connection = self._connect()
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ServerUnreachable(self.url, f"{route} failed: {e or type(e).__name__}") from e
        if response.will_close:
            self.close()
        if response.status >= 400:
            raise self._error(response.status, payload, route)
        if accept == "bytes":
            return payload
        if accept == "msgpack" and response.headers.get_content_type() in MSGPACK_TYPES:
            try:
                return msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.exceptions.UnpackException) as e:
                raise ProtocolError(f"{route} answered MessagePack that does not decode: {e}") from e
        text = payload.decode(response.headers.get_content_charset() or "utf-8", "replace")
        if accept == "text":
            return text
        try:
            return json.loads(text)
        except ValueError as e:
            raise ProtocolError(f"{route} answered {response.status} with a body that is not JSON: {text[:200]!r}") from e

    def _error(self, status: int, payload: bytes, route: str) -> Exception:
        text = payload.decode("utf-8", "replace")
        message = _json_message(text)
        if message is None:
            message = f"{route} failed with HTTP {status}: {text[:200]}"
        return error_from_message(message, status=status, route=route)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection was closed by the server (readable with nothing
    asked means end of stream, or a stray byte: either way it cannot be reused)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
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

    def create(self, env_id: str, seed: int | None, kwargs: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> str:
        body = create_params(env_id, seed, kwargs, extra)
        answer = self.api.request("POST", "/v1/envs/", body=body)
        instance_id = answer.get("instance_id") if isinstance(answer, dict) else None
        if not isinstance(instance_id, str) or not instance_id:
            raise ProtocolError(f"POST /v1/envs/ answered {answer!r}, not {{instance_id}}")
        return instance_id

    def reset(self, instance_id: str, seed: Any, options: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if seed is not None:
            body["seed"] = seed
        if options is not None:
            body["options"] = options
        return expect_keys(self.api.request("POST", instance_path(instance_id, "reset/"), body=body), ("observation",), "reset")

    def step(self, instance_id: str, action: Any) -> dict[str, Any]:
        answer = self.api.request("POST", instance_path(instance_id, "step/"), body={"action": action})
        return expect_keys(answer, ("observation", "reward", "terminated", "truncated"), "step")

    def space(self, instance_id: str, which: str) -> dict[str, Any]:
        answer = self.api.request("GET", instance_path(instance_id, f"{which}/"))
        return expect_keys(answer, ("info",), which)

    def close(self, instance_id: str) -> None:
        self.api.request("POST", instance_path(instance_id, "close/"))

    def shutdown(self) -> None:
        """Releases the transport's own resources (none: the HTTP connection is the env's)."""


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
    """

    name = "websocket"

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.http_url = normalise_url(url)
        self.url = websocket_url(url)
        self.api_key = check_api_key(api_key)
        self.timeout = check_timeout(timeout)
        self._connection: Any = None

    def _connect(self) -> Any:
        headers = {"X-API-Key": self.api_key} if self.api_key is not None else None
        try:
            opened = websocket_connect(
                self.url,
                additional_headers=headers,
                open_timeout=self.timeout,
                max_size=None,
                compression=None,
            )
        except InvalidStatus as e:
            status = e.response.status_code
            if status == 404:
                raise UnsupportedByServer(
                    f"{self.url} answered 404: this gym-server has no WebSocket endpoint "
                    "(Gymie's protocol at /gym); use transport='http'"
                ) from e
            body = e.response.body.decode("utf-8", "replace") if e.response.body else ""
            message = _json_message(body) or f"the WebSocket handshake at {self.url} was refused with HTTP {status}"
            raise error_from_message(message, status=status, route="ws /gym") from e
        except InvalidHandshake as e:
            raise ProtocolError(f"the WebSocket handshake at {self.url} failed: {e}") from e
        except (OSError, TimeoutError) as e:
            raise ServerUnreachable(self.url, str(e) or type(e).__name__) from e
        # Entered as a context manager (what websockets >= 17.1 asks of a connection kept
        # open), left in _drop.
        self._stack = contextlib.ExitStack()
        self._connection = self._stack.enter_context(opened)
        return self._connection

    def exchange(self, method: str, params: dict[str, Any]) -> str:
        """Sends one call and returns the answer's text (connecting first if needed)."""
        if self._connection is not None and self._connection.protocol.state is State.CLOSED:
            self._drop()  # closed while idle (by the server, or after an error): nothing was asked yet
        connection = self._connection or self._connect()
        route = f"ws {method}"
        try:
            connection.send(json.dumps({"method": method, "params": params}))
            text = connection.recv(timeout=self.timeout)
        except ConnectionClosed as e:
            self._drop()
            closing = e.rcvd
            if closing is not None and closing.reason:
                raise error_from_message(closing.reason, status=None, route=route) from e
            raise ServerUnreachable(self.url, f"the connection closed during {method} ({e})") from e
        except TimeoutError as e:
            self._drop()
            raise ServerUnreachable(self.url, f"no answer to {method} within {self.timeout} s") from e
        except OSError as e:
            self._drop()
            raise ServerUnreachable(self.url, str(e)) from e
        if isinstance(text, bytes):
            raise ProtocolError(f"{route} answered a binary message; the protocol answers text")
        return text

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Sends one call and returns its answer parsed as JSON; a JSON error object raises."""
        text = self.exchange(method, params)
        try:
            answer = json.loads(text)
        except ValueError as e:
            raise ProtocolError(f"ws {method} answered text that is not JSON: {text[:200]!r}") from e
        _raise_if_error(answer, f"ws {method}")
        return answer

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._stack.close()
            finally:
                self._connection = None

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
        return text

    def reset(self, instance_id: str, seed: Any, options: dict[str, Any] | None) -> dict[str, Any]:
        params: dict[str, Any] = {"instance_id": instance_id, "full": True}
        if seed is not None:
            params["seed"] = seed
        if options is not None:
            params["options"] = options
        return expect_keys(self.call("reset", params), ("observation",), "ws reset")

    def step(self, instance_id: str, action: Any) -> dict[str, Any]:
        answer = self.call("step", {"instance_id": instance_id, "action": action, "full": True})
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
        self._drop()


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
