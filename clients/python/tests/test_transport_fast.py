"""The client's own HTTP/1.1 and WebSocket framing (transport.py), against small fake servers on
plain sockets that answer exactly as each test scripts them: answers cut into single bytes,
chunked bodies, bodies without a length, interim answers, a server that closes between requests
or in the middle of one, close frames with and without a reason, fragmented and masked frames,
pings. No gym-server needed; no test depends on how long anything takes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable

import pytest

import gym_server_client as gsc
from gym_server_client import transport
from gym_server_client.transport import HttpApi, HttpTransport, WebSocketTransport

# Long enough for any answer here; short enough that a client waiting for an answer that never
# comes (a broken test) fails soon.
TIMEOUT = 10.0
STEP_ANSWER = {"observation": [0.5, -0.25, 0.125, 1.0], "reward": 1.0, "terminated": False, "truncated": False,
               "done": False, "info": {}}


class FakeServer:
    """Accepts connections on a free port and runs ``handler(connection, number)`` for each, on
    its own thread (``number`` counts the connections from 0). What the handlers record goes in
    ``seen``."""

    def __init__(self, handler: Callable[[socket.socket, int], None]) -> None:
        self.handler = handler
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.connections = 0
        self.seen: list = []
        self.errors: list[BaseException] = []
        self.handlers: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            number = self.connections
            self.connections += 1
            handler = threading.Thread(target=self._serve, args=(connection, number), daemon=True)
            self.handlers.append(handler)
            handler.start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        try:
            with connection:
                self.handler(connection, number)
        except (OSError, ConnectionError):
            pass
        except BaseException as e:  # an assertion in a handler: reported by stop()
            self.errors.append(e)

    def join(self, timeout: float = 10) -> None:
        """Waits for the handlers to end (the client has closed), so that what they record after
        the client's last read is in ``seen``."""
        deadline = time.monotonic() + timeout
        for handler in list(self.handlers):
            handler.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self.listener.close()
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def serve():
    servers: list[FakeServer] = []

    def start(handler: Callable[[socket.socket, int], None]) -> FakeServer:
        servers.append(FakeServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class Reader:
    """What a fake server reads from one connection: whole HTTP requests, or WebSocket frames."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.buffer = b""
        self.recv_sizes: list[int] = []

    def _more(self) -> None:
        chunk = self.connection.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection")
        self.recv_sizes.append(len(chunk))
        self.buffer += chunk

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._more()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def request(self) -> tuple[str, dict[str, str], bytes]:
        """One request: its request line, headers (lower-cased names) and body."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        line, *fields = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
        return line, headers, self.exactly(int(headers.get("content-length", 0)))

    def frame(self) -> tuple[int, bool, bytes]:
        """One client frame: (opcode, fin, unmasked payload); client frames must be masked."""
        first, second = self.exactly(2)
        assert second & 0x80, "a client frame must be masked"
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self.exactly(2), "big")
        elif length == 127:
            length = int.from_bytes(self.exactly(8), "big")
        mask = self.exactly(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.exactly(length)))
        return first & 0x0F, bool(first & 0x80), payload


def http_answer(body: bytes | str, status: str = "200 OK", headers: str = "Content-Type: application/json\r\n",
                length: bool = True) -> bytes:
    body = body.encode() if isinstance(body, str) else body
    return (f"HTTP/1.1 {status}\r\n{headers}" + (f"Content-Length: {len(body)}\r\n" if length else "") + "\r\n").encode() + body


def gym_server_answer(body: bytes | str, status: str = "200 OK") -> bytes:
    """An answer with the head gym-server writes (the client reads it by a fast path)."""
    body = body.encode() if isinstance(body, str) else body
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Date: Fri, 04 Dec 2026 13:04:50 GMT\r\nServer: gym-server\r\n\r\n").encode() + body


def send_bytewise(connection: socket.socket, data: bytes) -> None:
    """Sends ``data`` a byte at a time, with pauses, so that the client reads it in pieces."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        connection.sendall(data[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)


def until_closed(connection: socket.socket) -> None:
    """Waits for the client to close its end."""
    while connection.recv(65536):
        pass


# ---- HTTP -----------------------------------------------------------------------------------


def test_one_write_per_request_with_nodelay_and_keep_alive(serve, monkeypatch):
    """Each request is written by one sendall (head and body together), on one connection with
    TCP_NODELAY, and says what it carries."""
    def handler(connection, number):
        reader = Reader(connection)
        for _ in range(3):
            line, headers, body = reader.request()
            server.seen.append((line, headers, body))
            connection.sendall(http_answer(json.dumps(STEP_ANSWER)))
    server = serve(handler)
    writes: list[bytes] = []
    nodelay: list[int] = []
    create_connection = socket.create_connection

    class Counting:
        def __init__(self, sock):
            self._sock = sock

        def sendall(self, data):
            writes.append(bytes(data))
            return self._sock.sendall(data)

        def __getattr__(self, name):
            return getattr(self._sock, name)

    def counting_connection(*args, **kwargs):
        sock = create_connection(*args, **kwargs)
        return Counting(sock)

    monkeypatch.setattr(transport.socket, "create_connection", counting_connection)
    api = HttpApi(server.url, api_key="k-1", timeout=TIMEOUT)
    http = HttpTransport(api)
    try:
        assert http.step("abc", 1)["observation"] == STEP_ANSWER["observation"]
        nodelay.append(api._connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        assert http.step("abc", [0.5, 1])["reward"] == 1.0
        assert api.request("GET", "/v1/envs/abc/action_space/") == STEP_ANSWER
    finally:
        api.close()
    assert len(writes) == 3 and nodelay == [1] and server.connections == 1
    (line1, headers1, body1), (_, _, body2), (line3, headers3, body3) = server.seen
    assert line1 == "POST /v1/envs/abc/step/ HTTP/1.1" and body1 == b'{"action": 1}' and body2 == b'{"action": [0.5, 1]}'
    assert headers1["content-type"] == "application/json" and headers1["x-api-key"] == "k-1"
    # Steps and resets ask for MessagePack first; this server answers JSON, which reads as well.
    assert headers1["host"] == server.url.removeprefix("http://") and headers1["accept"] == "application/msgpack, application/json;q=0.5"
    assert writes[0].endswith(b"\r\n\r\n" + body1)  # the body in the same write as the head
    assert line3 == "GET /v1/envs/abc/action_space/ HTTP/1.1" and body3 == b"" and "content-length" not in headers3


@pytest.mark.parametrize("shape", ["gym-server", "other"])
def test_an_answer_split_into_single_bytes(serve, shape):
    def answer(body, status="200 OK"):
        if shape == "gym-server":
            return gym_server_answer(body, status)
        return http_answer(body, status, headers="Server: fake\r\nContent-Type: application/json\r\n")

    def handler(connection, number):
        reader = Reader(connection)
        for _ in range(2):
            reader.request()
            send_bytewise(connection, answer(json.dumps(STEP_ANSWER)))
        reader.request()
        send_bytewise(connection, answer('{"error": "Instance_id abc unknown", "message": "Instance_id abc unknown"}', "404 Not Found"))
        reader.request()
        connection.sendall(answer(json.dumps(STEP_ANSWER)))
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert HttpTransport(api).step("abc", 0) == STEP_ANSWER
        assert HttpTransport(api).step("abc", 1) == STEP_ANSWER  # the same connection, read in steps
        with pytest.raises(gsc.UnknownInstance, match="Instance_id abc unknown") as caught:
            HttpTransport(api).step("abc", 1)
        assert caught.value.status == 404
        assert HttpTransport(api).step("abc", 1) == STEP_ANSWER
    finally:
        api.close()
    assert server.connections == 1


def test_a_stray_byte_after_an_answer_means_a_new_connection(serve):
    """Bytes after a whole answer (nothing was asked for them) make the connection unusable:
    the next request goes over a new one, and the answer read is the right one."""
    def handler(connection, number):
        reader = Reader(connection)
        reader.request()
        connection.sendall(http_answer(json.dumps({"n": number})) + b"HTTP/1.1 200 OK\r\n")
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert api.request("GET", "/a") == {"n": 0}
        assert api.request("GET", "/b") == {"n": 1}
    finally:
        api.close()
    assert server.connections == 2


@pytest.mark.parametrize("announced", [True, False], ids=["connection-close-header", "idle-close"])
def test_a_server_closing_between_requests_is_reconnected(serve, announced):
    def handler(connection, number):
        reader = Reader(connection)
        reader.request()
        extra = "Connection: close\r\n" if announced else ""
        answer = json.dumps({**STEP_ANSWER, "n": number})
        connection.sendall(http_answer(answer, headers="Content-Type: application/json\r\n" + extra) if announced
                           else gym_server_answer(answer))
        connection.shutdown(socket.SHUT_WR)  # closes after one answer
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert HttpTransport(api).step("abc", 0)["n"] == 0
        if announced:
            assert api._connection is None  # closed as the answer said
        else:
            deadline = time.monotonic() + 10
            while not transport._closed_by_peer(api._connection.sock) and time.monotonic() < deadline:
                time.sleep(0.01)  # until the server's close has reached the client
        assert HttpTransport(api).step("abc", 1)["n"] == 1
    finally:
        api.close()
    assert server.connections == 2


def test_a_request_the_server_drops_unanswered_is_not_repeated(serve):
    def handler(connection, number):
        Reader(connection).request()
        server.seen.append(number)  # read, then closed without an answer
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    with pytest.raises(gsc.ServerUnreachable, match="POST /v1/envs/abc/step/ failed: Remote end closed connection without response"):
        HttpTransport(api).step("abc", 0)
    assert server.seen == [0] and api._connection is None


def test_an_answer_cut_short_is_a_broken_connection(serve):
    def handler(connection, number):
        Reader(connection).request()
        connection.sendall(http_answer(json.dumps(STEP_ANSWER))[:-5])
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    with pytest.raises(gsc.ServerUnreachable, match="closed in the middle of an answer"):
        api.request("GET", "/x")
    assert api._connection is None


def test_chunked_answers_and_interim_answers(serve):
    body = json.dumps(STEP_ANSWER).encode()
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
               + b"0\r\nX-Trailer: yes\r\n\r\n")

    def handler(connection, number):
        reader = Reader(connection)
        reader.request()
        send_bytewise(connection, chunked)
        reader.request()
        connection.sendall(chunked)  # whole, this time
        reader.request()
        error = json.dumps({"message": "Action 7 is not in the action space Discrete(2)"}).encode()
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + b"%x\r\n%s\r\n0\r\n\r\n" % (len(error), error))
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert HttpTransport(api).step("abc", 0) == STEP_ANSWER
        assert HttpTransport(api).step("abc", 0) == STEP_ANSWER
        with pytest.raises(gsc.InvalidAction, match="Action 7") as caught:
            HttpTransport(api).step("abc", 7)
        assert caught.value.status == 400 and caught.value.route == "POST /v1/envs/abc/step/"
    finally:
        api.close()
    assert server.connections == 1


def test_an_answer_without_a_length_runs_to_the_close(serve):
    def handler(connection, number):
        Reader(connection).request()
        connection.sendall(http_answer(f'{{"n": {number}}}', length=False))  # and closes
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert api.request("GET", "/a") == {"n": 0}
        assert api._connection is None  # nothing more can come over it
        assert api.request("GET", "/b") == {"n": 1}
    finally:
        api.close()


def test_http_1_0_answers_close_unless_kept_alive(serve):
    def handler(connection, number):
        reader = Reader(connection)
        reader.request()
        connection.sendall(http_answer("[1]").replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert api.request("GET", "/a") == [1]
        assert api._connection is None
    finally:
        api.close()


@pytest.mark.parametrize(
    "answer, error, message",
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", gsc.ProtocolError,
         "GET /x answered with Transfer-Encoding 'gzip', which this client does not read"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", gsc.ProtocolError, "Content-Length 'ten', not a number"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", gsc.ServerUnreachable, "not HTTP/1.x"),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", gsc.ProtocolError,
         "GET /x answered 200 with a body that is not JSON: 'hello'"),
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", gsc.ServerError,
         "GET /x failed with HTTP 503: busy"),
    ],
    ids=["gzip", "bad-length", "not-http", "not-json", "error-not-json"],
)
def test_answers_the_client_cannot_read_are_refused_clearly(serve, answer, error, message):
    def handler(connection, number):
        Reader(connection).request()
        connection.sendall(answer)
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        with pytest.raises(error, match=message):
            api.request("GET", "/x")
    finally:
        api.close()


def test_answer_types_and_charsets(serve):
    answers = [
        http_answer("caf\xe9".encode("latin-1"), headers="Content-Type: text/plain; charset=ISO-8859-1\r\n"),
        http_answer(b"\x89PNG", headers="Content-Type: image/png\r\n"),
        http_answer(b'{"a": 1}', headers="content-type: Application/JSON; charset=utf-8\r\n"),
        http_answer(b'\x81\xa1a\x01', headers="Content-Type: application/msgpack\r\n"),
    ]

    def handler(connection, number):
        reader = Reader(connection)
        for answer in answers:
            reader.request()
            connection.sendall(answer)
        until_closed(connection)
    server = serve(handler)
    api = HttpApi(server.url, timeout=TIMEOUT)
    try:
        assert api.request("GET", "/t", accept="text") == "café"
        assert api.request("GET", "/p", accept="bytes") == b"\x89PNG"
        assert api.request("GET", "/j") == {"a": 1}
        assert api.request("POST", "/m", body={}, accept="msgpack") == {"a": 1}
    finally:
        api.close()


def test_no_answer_within_the_timeout(serve):
    def handler(connection, number):
        Reader(connection).request()
        until_closed(connection)  # never answers
    server = serve(handler)
    api = HttpApi(server.url, timeout=0.3)
    with pytest.raises(gsc.ServerUnreachable, match="POST /v1/envs/abc/step/ failed: timed out"):
        HttpTransport(api).step("abc", 0)
    assert api._connection is None


# ---- WebSocket ------------------------------------------------------------------------------


def ws_frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None) -> bytes:
    """A server frame (unmasked unless ``mask`` is given)."""
    length = len(payload)
    first = (0x80 if fin else 0) | opcode
    masked = 0x80 if mask is not None else 0
    if length < 126:
        head = bytes((first, masked | length))
    elif length < 65536:
        head = bytes((first, masked | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, masked | 127)) + length.to_bytes(8, "big")
    if mask is not None:
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def close_payload(code: int, reason: str = "") -> bytes:
    return code.to_bytes(2, "big") + reason.encode()


def accept_upgrade(connection: socket.socket, reader: Reader, accept: str | None = None) -> dict[str, str]:
    """Reads the opening handshake and answers 101 (with the right Sec-WebSocket-Accept unless
    ``accept`` says otherwise); returns the request's headers."""
    line, headers, _ = reader.request()
    assert line == "GET /gym HTTP/1.1", line
    assert headers["upgrade"].lower() == "websocket" and "upgrade" in headers["connection"].lower()
    assert headers["sec-websocket-version"] == "13" and len(base64.b64decode(headers["sec-websocket-key"])) == 16
    expected = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    connection.sendall((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept if accept is not None else expected}\r\n\r\n").encode())
    return headers


def ws_until_closed(connection: socket.socket, reader: Reader) -> None:
    """Waits for the client's close frame (answering it) or for the connection to end."""
    try:
        while True:
            opcode, _, payload = reader.frame()
            if opcode == 8:
                connection.sendall(ws_frame(8, payload))
                return
    except ConnectionError:
        pass


def read_call(reader: Reader) -> dict:
    opcode, fin, payload = reader.frame()
    assert opcode == 1 and fin, (opcode, fin)
    return json.loads(payload)


def test_websocket_handshake_masking_and_one_frame_per_message(serve):
    big_action = [0.25] * 20000  # a message of more than 64 KiB: the 8-byte length

    def handler(connection, number):
        reader = Reader(connection)
        server.seen.append(accept_upgrade(connection, reader))
        for _ in range(2):
            message = read_call(reader)
            server.seen.append(message)
            connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, api_key="k-2", timeout=TIMEOUT)
    try:
        assert ws.step("abc", 1) == STEP_ANSWER
        assert ws.step("abc", big_action) == STEP_ANSWER
    finally:
        ws.shutdown()
    headers, first, second = server.seen
    assert headers["x-api-key"] == "k-2" and "sec-websocket-extensions" not in headers
    assert first == {"method": "step", "params": {"instance_id": "abc", "action": 1, "full": True}}
    assert second["params"]["action"] == big_action
    assert server.connections == 1


def test_a_wrong_accept_fails_the_handshake(serve):
    def handler(connection, number):
        accept_upgrade(connection, Reader(connection), accept="bm90IHRoZSByaWdodCBvbmU=")
        until_closed(connection)
    server = serve(handler)
    with pytest.raises(gsc.ProtocolError, match="handshake .* failed: the answer's Sec-WebSocket-Accept"):
        WebSocketTransport(server.url, timeout=TIMEOUT).step("abc", 0)


def test_a_refused_handshake_carries_the_servers_message(serve):
    def handler(connection, number):
        Reader(connection).request()
        connection.sendall(http_answer('{"error": "API key needed", "message": "API key needed"}', status="401 Unauthorized"))
        until_closed(connection)
    server = serve(handler)
    with pytest.raises(gsc.ServerError, match="API key needed") as caught:
        WebSocketTransport(server.url, timeout=TIMEOUT).step("abc", 0)
    assert caught.value.status == 401 and caught.value.route == "ws /gym"


def test_a_fragmented_answer_with_a_ping_inside_and_bytes_one_by_one(serve):
    text = json.dumps(STEP_ANSWER).encode()

    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        send_bytewise(connection, ws_frame(1, text[:10], fin=False) + ws_frame(9, b"are you there")
                      + ws_frame(0, text[10:50], fin=False) + ws_frame(10, b"unasked pong") + ws_frame(0, text[50:]))
        server.seen.append(reader.frame())  # the pong
        read_call(reader)
        connection.sendall(ws_frame(1, text))
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        assert ws.step("abc", 0) == STEP_ANSWER
        assert ws.step("abc", 0) == STEP_ANSWER
    finally:
        ws.shutdown()
    server.join()
    assert server.seen == [(10, True, b"are you there")]
    assert server.connections == 1


@pytest.mark.parametrize(
    "code, reason, error, message",
    [
        (1007, "Action `5` is wrong", gsc.InvalidAction, "Action `5` is wrong"),
        (1007, "Instance `abc` not found", gsc.ServerError, "Instance `abc` not found"),
        (1001, "", gsc.ServerUnreachable, r"the connection closed during step \(received 1001 \(going away\)\)"),
    ],
)
def test_a_close_frame_becomes_the_error_and_the_next_call_reconnects(serve, code, reason, error, message):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        if number == 0:
            connection.sendall(ws_frame(8, close_payload(code, reason)))
            server.seen.append(reader.frame())  # the client's answering close frame
            ws_until_closed(connection, reader)
        else:
            connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
            ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        with pytest.raises(error, match=message) as caught:
            ws.step("abc", 5)
        if isinstance(caught.value, gsc.ServerError):
            assert caught.value.route == "ws step" and caught.value.status is None
        assert ws._connection is None
        assert ws.step("abc", 0) == STEP_ANSWER  # on a new connection
    finally:
        ws.shutdown()
    server.join()
    assert server.seen == [(8, True, code.to_bytes(2, "big"))]
    assert server.connections == 2


def test_a_connection_dropped_without_a_close_frame(serve):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    with pytest.raises(gsc.ServerUnreachable, match=r"closed during step \(no close frame received\)"):
        ws.step("abc", 0)
    assert ws._connection is None


def test_idle_pings_are_answered_and_an_idle_close_means_a_new_connection(serve):
    answered = threading.Event()

    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
        if number == 0:
            connection.sendall(ws_frame(9, b"idle ping"))  # while the client is idle
            server.seen.append(reader.frame())  # answered before the next call
            read_call(reader)
            connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
            connection.sendall(ws_frame(8, close_payload(1001, "going away")))  # then closes, idle
            answered.set()
            server.seen.append(reader.frame())
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        assert ws.step("abc", 0) == STEP_ANSWER
        connection = ws._connection
        deadline = time.monotonic() + 10
        while transport._closed_by_peer(connection.stream.sock) is False and time.monotonic() < deadline:
            time.sleep(0.01)  # until the ping has arrived
        assert ws.step("abc", 0) == STEP_ANSWER
        assert ws._connection is connection  # a ping does not end the connection
        assert answered.wait(10)
        deadline = time.monotonic() + 10
        while transport._closed_by_peer(connection.stream.sock) is False and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ws.step("abc", 0) == STEP_ANSWER  # the close was seen: a new connection, no error
        assert ws._connection is not connection
    finally:
        ws.shutdown()
    server.join()
    assert server.seen[0] == (10, True, b"idle ping")
    assert server.seen[1] == (8, True, (1001).to_bytes(2, "big"))
    assert server.connections == 2


def test_frames_after_the_answer_in_the_same_read_are_kept(serve):
    """An answer and a ping in one write: the answer is read, the ping answered before the next
    call (not lost with the rest of what was read)."""
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()) + ws_frame(9, b"x"))
        server.seen.append(reader.frame())
        read_call(reader)
        connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        assert ws.step("abc", 0) == STEP_ANSWER
        assert ws.step("abc", 0) == STEP_ANSWER
    finally:
        ws.shutdown()
    server.join()
    assert server.seen == [(10, True, b"x")] and server.connections == 1


@pytest.mark.parametrize(
    "answer, message",
    [
        (ws_frame(1, b'{"observation": 1}', mask=b"abcd"), "masked frame"),
        (bytes((0xC1, 2)) + b"{}", "reserved bits"),
        (ws_frame(0, b"{}"), "continuation frame with no message begun"),
        (ws_frame(2, b"\x00\x01"), "answered a binary message"),
        (ws_frame(1, b"\xff\xfe"), "not UTF-8"),
        (ws_frame(1, b"not json"), "answered text that is not JSON"),
    ],
    ids=["masked", "rsv", "continuation", "binary", "not-utf8", "not-json"],
)
def test_frames_the_protocol_does_not_allow(serve, answer, message):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        connection.sendall(answer)
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        with pytest.raises(gsc.ProtocolError, match=message):
            ws.step("abc", 0)
    finally:
        ws.shutdown()


def test_a_json_error_answer_raises_and_keeps_the_connection(serve):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        connection.sendall(ws_frame(1, b'{"message": "Cannot call env.step() before calling env.reset()"}'))
        read_call(reader)
        connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    try:
        with pytest.raises(gsc.ResetNeeded):
            ws.step("abc", 0)
        assert ws.step("abc", 0) == STEP_ANSWER
    finally:
        ws.shutdown()
    assert server.connections == 1


def test_websocket_no_answer_within_the_timeout(serve):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=0.3)
    with pytest.raises(gsc.ServerUnreachable, match="no answer to step within 0.3 s"):
        ws.step("abc", 0)
    assert ws._connection is None


def test_shutdown_sends_a_close_frame(serve):
    def handler(connection, number):
        reader = Reader(connection)
        accept_upgrade(connection, reader)
        read_call(reader)
        connection.sendall(ws_frame(1, json.dumps(STEP_ANSWER).encode()))
        server.seen.append(reader.frame())
        connection.sendall(ws_frame(8, close_payload(1000)))
        ws_until_closed(connection, reader)
    server = serve(handler)
    ws = WebSocketTransport(server.url, timeout=TIMEOUT)
    assert ws.step("abc", 0) == STEP_ANSWER
    ws.shutdown()
    server.join()
    assert server.seen == [(8, True, (1000).to_bytes(2, "big"))]


# ---- waiting for an answer: polled, then blocked ----------------------------------------------


class ScriptedSocket:
    """A socket with its own clock: a non-blocking read finds nothing ``polls_before_answer``
    times (``None``: ever), each costing 1 µs, then ``b"answer"``; a blocking read returns
    ``b"blocked"`` after ``blocked_us``. Records each read's flags."""

    def __init__(self, polls_before_answer: int | None, blocked_us: float = 50.0) -> None:
        self.polls_before_answer = polls_before_answer
        self.blocked_us = blocked_us
        self.now = 0.0
        self.flags: list[int] = []
        self._empty = polls_before_answer

    def answer_after(self, polls: int | None) -> None:
        """From the next read on, the answer comes after ``polls`` empty polls."""
        self.polls_before_answer = self._empty = polls

    def clock(self) -> float:
        return self.now

    def recv(self, size: int, flags: int = 0) -> bytes:
        self.flags.append(flags)
        if not flags:
            self.now += self.blocked_us * 1e-6
            self._empty = self.polls_before_answer
            return b"blocked"
        self.now += 1e-6
        if self._empty is None or self._empty > 0:
            if self._empty is not None:
                self._empty -= 1
            raise BlockingIOError
        self._empty = self.polls_before_answer
        return b"answer"

    def reads(self, wait: transport.SpinWait, count: int, sending: bool = True) -> list[list[int]]:
        """``count`` exchanges through ``wait`` (a request written, its answer read; with
        ``sending`` false, reads alone): the flags of each read."""
        flags = []
        for _ in range(count):
            self.flags = []
            if sending:
                wait.sending()
                self.now += 3e-6  # (the write)
            wait.recv(self, 100)
            flags.append(self.flags)
        return flags


POLL = socket.MSG_DONTWAIT
PROBES = transport.SpinWait.PROBE_EXCHANGES
CYCLE = transport.SpinWait.CYCLE_EXCHANGES


def test_probes_then_polling_where_polling_answers_sooner():
    """A cycle begins with 16 blocking reads and 16 polling ones; polling answered in 6 µs and
    blocking in 50, so the rest of the cycle polls (and never blocks)."""
    sock = ScriptedSocket(polls_before_answer=5, blocked_us=50)
    wait = transport.SpinWait(60.0, clock=sock.clock)
    assert sock.reads(wait, PROBES) == [[0]] * PROBES
    assert sock.reads(wait, PROBES) == [[POLL] * 6] * PROBES
    assert sock.reads(wait, CYCLE - 2 * PROBES) == [[POLL] * 6] * (CYCLE - 2 * PROBES)
    assert sock.reads(wait, 1) == [[0]]  # the next cycle's probes


def test_probes_then_blocking_where_blocking_answers_sooner():
    """Blocking in 20 µs against polling in 41: the cycle blocks; the next cycle's probes find
    polling sooner (6 µs) and it polls again."""
    sock = ScriptedSocket(polls_before_answer=40, blocked_us=20)
    wait = transport.SpinWait(60.0, clock=sock.clock)
    sock.reads(wait, 2 * PROBES)
    assert sock.reads(wait, CYCLE - 2 * PROBES) == [[0]] * (CYCLE - 2 * PROBES)
    sock.answer_after(5)
    sock.reads(wait, 2 * PROBES)
    assert sock.reads(wait, 3) == [[POLL] * 6] * 3
    # Within 5% of each other, polling is kept (it spares the CPU a halt and a wake-up): each
    # exchange here is the write's 3 µs and the wait, 45 against 46.
    sock.blocked_us = 42
    sock.answer_after(42)
    sock.reads(wait, CYCLE - 2 * PROBES - 3 + 2 * PROBES)
    assert sock.reads(wait, 2) == [[POLL] * 43] * 2


def test_a_budget_run_out_now_and_then_counts():
    """Each exchange 9 µs either way (the write's 3 µs and a 6 µs wait), but one polling probe
    in eight runs out of its budget (60 µs, then blocks): polling loses, those probes counted
    as 4 medians each (36 µs) in the mean."""
    sock = ScriptedSocket(polls_before_answer=5, blocked_us=6)
    wait = transport.SpinWait(60e-6, clock=sock.clock)
    sock.reads(wait, PROBES)
    for n in range(PROBES):
        sock.answer_after(None if n % 8 == 0 else 5)
        sock.reads(wait, 1)
    sock.answer_after(5)
    assert sock.reads(wait, 2) == [[0]] * 2


def test_a_pause_between_requests_does_not_swamp_the_probes():
    """Blocking answers in 6 µs an exchange and polling in 9, but the process paused for a
    second after one blocked probe (a trainer's update): that probe counts as 4 medians, and
    blocking still wins."""
    sock = ScriptedSocket(polls_before_answer=5, blocked_us=3)
    wait = transport.SpinWait(60e-6, clock=sock.clock)
    sock.reads(wait, 1)
    sock.now += 1.0
    sock.reads(wait, 2 * PROBES - 1)
    assert sock.reads(wait, 2) == [[0]] * 2


def test_reads_with_no_request_before_them_wait_as_the_cycle_does_uncounted():
    """The rest of a long answer: read the cycle's way, and neither a probe nor a step of the
    cycle."""
    sock = ScriptedSocket(polls_before_answer=5, blocked_us=50)
    wait = transport.SpinWait(60.0, clock=sock.clock)
    assert sock.reads(wait, 40, sending=False) == [[POLL] * 6] * 40  # (polling, before any verdict)
    assert sock.reads(wait, PROBES) == [[0]] * PROBES  # the cycle's probes, all still to come
    sock.reads(wait, PROBES)
    sock.blocked_us = 5  # blocking sooner now, but these reads are not probes
    sock.reads(wait, 100, sending=False)
    assert sock.reads(wait, CYCLE - 2 * PROBES) == [[POLL] * 6] * (CYCLE - 2 * PROBES)
    assert sock.reads(wait, PROBES) == [[0]] * PROBES


def test_waits_that_outrun_the_budget_back_off_and_an_answer_in_time_resets_it():
    """Two polls that run out in a row stop the polling for 1 read, the next two for 2, then 4 ...
    up to 1,024; an answer that comes while polling puts it back to every read."""
    sock = ScriptedSocket(polls_before_answer=0)
    wait = transport.SpinWait(1e-6, clock=sock.clock)
    sock.reads(wait, 2 * PROBES)  # (polling chosen: an answer at the first poll)
    sock.answer_after(None)  # from here, no answer within the budget
    reads = sock.reads(wait, 2 + 1 + 2 + 2 + 2 + 4 + 2)
    polled = [flags[0] == POLL for flags in reads]
    assert polled == [True, True, False, True, True, False, False, True, True] + [False] * 4 + [True, True]
    assert all(flags[-1] == 0 for flags in reads)  # each ends in the blocking read
    sock.reads(wait, 8)  # skipping 8 reads now
    sock.answer_after(0)  # the server answers at once from here on
    assert sock.reads(wait, 1) == [[POLL]]
    sock.answer_after(None)
    sock.reads(wait, 2)
    assert sock.reads(wait, 1) == [[0]]  # two misses: one read skipped again (the backoff started over)


@pytest.mark.parametrize(("after_blocked", "after_polled", "polls"), [(30, 0, True), (0, 30, False)])
def test_what_the_process_does_after_an_answer_counts(after_blocked, after_polled, polls):
    """Each probe runs from its request's write to the next one's: with both waits 20 µs, the
    way after which the process's own work ran 30 µs slower (a trainer's forward pass after its
    CPU halted) loses."""
    sock = ScriptedSocket(polls_before_answer=19, blocked_us=20)
    wait = transport.SpinWait(60.0, clock=sock.clock)
    for _ in range(2 * PROBES + 1):  # (the verdict comes with the write after the last probe's answer)
        wait.sending()
        sock.flags = []
        wait.recv(sock, 100)
        sock.now += (after_polled if sock.flags[0] == POLL else after_blocked) * 1e-6 + 100e-6
    assert sock.reads(wait, 2) == ([[POLL] * 20] if polls else [[0]]) * 2


def test_with_no_budget_a_read_blocks_at_once():
    sock = ScriptedSocket(polls_before_answer=0)
    assert transport.SpinWait(0.0).recv(sock, 100) == b"blocked" and sock.flags == [0]


@pytest.mark.parametrize(("value", "budget"), [("0", 0.0), ("150", 150e-6), (" 2.5 ", 2.5e-6), ("1000000", 1.0)])
def test_the_budget_from_the_environment(monkeypatch, value, budget):
    monkeypatch.setenv("GYM_SERVER_SPIN_US", value)
    assert transport.spin_budget() == pytest.approx(budget)


@pytest.mark.parametrize("value", ["abc", "-1", "1e7", "nan", "inf"])
def test_a_budget_that_is_not_microseconds_is_refused(monkeypatch, value):
    monkeypatch.setenv("GYM_SERVER_SPIN_US", value)
    with pytest.raises(ValueError, match="GYM_SERVER_SPIN_US must be a number of microseconds from 0 to 1000000"):
        transport.spin_budget()


@pytest.mark.parametrize(("cpus", "quota", "budget"), [(1, 0, 0.0), (2, 0, 200e-6), (64, 0, 200e-6), (8, 1, 0.0), (8, 2, 200e-6), (2, 4, 200e-6)])
def test_the_default_budget_polls_only_with_a_second_cpu(monkeypatch, cpus, quota, budget):
    monkeypatch.delenv("GYM_SERVER_SPIN_US", raising=False)
    monkeypatch.setattr(transport.os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(transport, "quota_cpus", lambda: quota)
    assert transport.usable_cpus() == (quota if 0 < quota < cpus else cpus)
    assert transport.spin_budget() == budget


@pytest.mark.parametrize(("cpu_max", "cpus"), [
    ("max 100000\n", 0), ("100000 100000\n", 1), ("150000 100000", 2), ("50000 100000", 1), ("400000 100000", 4),
    ("", 0), ("max", 0), ("x 100000", 0), ("100000 0", 0), ("-1 100000", 0), ("1 2 3", 0)])
def test_a_cgroup_v2_quota_in_cpus(cpu_max, cpus):
    assert transport.quota_cpus(cpu_max=cpu_max) == cpus


@pytest.mark.parametrize(("quota", "period", "cpus"), [("-1\n", "100000\n", 0), ("100000", "100000", 1), ("250000", "100000", 3), ("x", "1", 0)])
def test_a_cgroup_v1_quota_in_cpus(quota, period, cpus):
    assert transport.quota_cpus(v1=(quota, period)) == cpus


def test_the_quota_is_read_from_this_machines_cgroup():
    assert transport.quota_cpus() >= 0
    assert 1 <= transport.usable_cpus() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("spin", ["0", "200", "300000"])
@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_answers_and_timeouts_whatever_the_budget(serve, monkeypatch, spin, kind):
    """Answers (whole, and a byte at a time) read the same polled or not; a server that never
    answers still times out (after the budget's polling, 0.3 s at most here)."""
    monkeypatch.setenv("GYM_SERVER_SPIN_US", spin)
    ws = kind == "websocket"

    def handler(connection, number):
        reader = Reader(connection)
        if ws:
            accept_upgrade(connection, reader)
        for step in range(3):
            if ws:
                read_call(reader)
                answer = ws_frame(1, json.dumps(STEP_ANSWER).encode())
            else:
                reader.request()
                answer = http_answer(json.dumps(STEP_ANSWER))
            if step == 2:  # never answers
                if ws:
                    ws_until_closed(connection, reader)
                else:
                    until_closed(connection)
                return
            send_bytewise(connection, answer) if step == 1 else connection.sendall(answer)
    server = serve(handler)
    client = WebSocketTransport(server.url, timeout=0.3) if ws else HttpTransport(HttpApi(server.url, timeout=0.3))
    try:
        assert client.step("abc", 0) == STEP_ANSWER
        stream = client._connection.stream if ws else client.api._connection
        if transport._KERNEL_TIMEOUTS:  # (elsewhere Python applies the timeout: no polling)
            assert stream._wait.budget == pytest.approx(float(spin) / 1e6)
        assert client.step("abc", 0) == STEP_ANSWER
        start = time.monotonic()
        with pytest.raises(gsc.ServerUnreachable, match="within 0.3 s" if ws else "timed out"):
            client.step("abc", 0)
        assert time.monotonic() - start >= 0.3
    finally:
        client.shutdown()
