#!/usr/bin/env python3
"""What the Python client adds to a step: gym_server_client's RemoteEnv.step against "the floor",
a plain Python keep-alive socket asking the same of the same server, over REST (HTTP) and over
Gymie's WebSocket protocol. Measured in the same run, in interleaved rounds (in each round every
variant steps N times, in blocks of 100 taken in turn), so that all see the same machine; prints
each round, the medians of the per-step times and the ratios client / floor, and the CPU time
this process spends on a step of each (the client's own work, whatever the scheduler does).

    python3 scripts/bench/bench_client.py --server .build/release/gym-server [--rounds 5] [--steps 3000]
        [--quick] [--pin none|same|split] [--spin-us MICROSECONDS]

The variants step one CartPole-v1 instance per transport, made by the RemoteEnv, over the
RemoteEnv's own connection: each floor writes on the very socket its client holds (between
whole exchanges, so the two never interleave). The server answers a connection on one of its
event loops, and on this 2-core machine which one (and so where its thread runs against this
process) moves the per-step time by ~100 µs; on one socket floor and client see the same.
Where the server's threads run against this process changes every figure too: on the same core
(--pin same) a step is a context switch each way and the client's work adds to it one for one;
on the other core (--pin split) a step waits for a halted virtual CPU to wake, twice, and what
the client spends between steps can move that wait.
  http floor        one sendall per step (the request built once), reads up to the end of the
                    headers, finds Content-Length, reads the body; the episode ended if the body
                    holds "true" ("done": true)
  http client       RemoteEnv(transport="http").step(0)
  http floor 10 µs on  the http floor, each request sent 10 µs after the previous answer came
                    (a busy wait, not timed): what the floor pays when, as in any client, something
                    happens between an answer and the next request. Printed for reference.
  http floor+json   the http floor, and json.loads of the body and numpy.asarray(observation,
                    float32): what no Gymnasium client can skip. Printed for reference.
  websocket floor   one masked text frame per step, the message the client sends:
                    {"method": "step", "params": {"instance_id": ..., "action": 0, "full": true}}
                    (the answer is REST's object), reads one frame; ended if it holds "true"
  websocket client  RemoteEnv(transport="websocket").step(0)
  gymie floor       the websocket floor without "full": {"method": "step", "params": {"instance_id": ...,
                    "action": 0}}, answered [observation, reward, done, info]. The server's
                    Gymie fast path answers only this form (GymieFastPath takes "full" only when
                    false), so it is cheaper for the server than what the client must ask: its
                    done flag alone cannot say terminated from truncated. Printed for reference.
Floors and clients wait for an answer the same way, the client's (transport.SpinWait): polling the
socket for up to a budget before blocking, or blocking at once where that proved faster in the last
probes (GYM_SERVER_SPIN_US; 200 µs by default with two CPUs or more, 0 always blocks at once).
Every variant steps with action 0 and resets when the episode ends (terminated or truncated);
only the steps are timed (each one, with perf_counter_ns), not the resets. Needs the client
installed (scripts/setup/make-client-venv.sh; e2e_support needs requests): run it with the
client venv's Python.
"""

import argparse
import gc
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test"))
from e2e_support import Server  # noqa: E402

from gym_server_client import RemoteEnv  # noqa: E402
from gym_server_client.transport import SPIN_ENV, SpinWait, spin_budget  # noqa: E402

TARGET = 1.2


# ---- the floors: what a plain socket pays ---------------------------------------------------------


def read_until(sock, wait, buffer: bytes, stop: int) -> bytes:
    """`buffer` with what the socket sends next, until it holds `stop` bytes."""
    while len(buffer) < stop:
        chunk = wait.recv(sock, 65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    return buffer

class HttpFloor:
    """REST over a keep-alive socket: one sendall per request, a minimal parse of the answer."""

    def __init__(self, sock, host, instance_id):
        self.sock = sock
        self.wait = SpinWait(spin_budget())  # waits for an answer as the client does
        self.buffer = b""
        self.step_request = self._request(host, f"/v1/envs/{instance_id}/step/", b'{"action": 0}')
        self.reset_request = self._request(host, f"/v1/envs/{instance_id}/reset/", b"{}")

    @staticmethod
    def _request(host, path, body):
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode("ascii") + body

    def _exchange(self, request):
        sock = self.sock
        self.wait.sending()
        sock.sendall(request)
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            chunk = self.wait.recv(sock, 65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
            end = buffer.find(b"\r\n\r\n")
        at = buffer.find(b"Content-Length:", 0, end) + 15
        length = int(buffer[at:buffer.find(b"\r\n", at)])
        start = end + 4
        stop = start + length
        buffer = read_until(sock, self.wait, buffer, stop)
        self.buffer = buffer[stop:]
        if not buffer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(buffer[:stop].decode("utf-8", "replace"))
        return buffer[start:stop]

    def step(self):
        """One step; whether the episode ended."""
        return b"true" in self._exchange(self.step_request)

    def reset(self):
        self._exchange(self.reset_request)


class DecodingHttpFloor(HttpFloor):
    """The http floor that also reads what a Gymnasium client must: json.loads of the body and the
    observation as a float32 array (what RemoteEnv cannot do without)."""

    def step(self):
        answer = json.loads(self._exchange(self.step_request))
        numpy.asarray(answer["observation"], dtype=numpy.float32)
        return answer["terminated"] or answer["truncated"]


class PausingHttpFloor(HttpFloor):
    """The http floor, each request sent 10 µs after the previous answer came (busy, not timed):
    as any client that reads the answer before it asks again. Printed for reference: an answer
    read within ~2 µs finds the server's CPU still awake, one 5 µs or more later has it halted
    and wakes it (~15-20 µs on this VM)."""

    pause_ns = 10_000


class WebSocketFloor:
    """Gymie's protocol over an open WebSocket: a masked text frame per message, one frame read."""

    def __init__(self, sock, instance_id, full):
        self.sock = sock
        self.wait = SpinWait(spin_budget())  # waits for an answer as the client does
        self.buffer = b""
        params = {"instance_id": instance_id, "action": 0}
        if full:
            params["full"] = True
        self.step_message = json.dumps({"method": "step", "params": params}).encode()
        self.reset_message = json.dumps({"method": "reset", "params": {"instance_id": instance_id}}).encode()

    def _exchange(self, payload):
        sock = self.sock
        length = len(payload)
        mask = os.urandom(4)
        key = mask * (length // 4) + mask[:length % 4]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
        if length < 126:
            head = bytes((0x81, 0x80 | length))
        else:
            head = struct.pack("!BBH", 0x81, 0xFE, length)
        self.wait.sending()
        sock.sendall(head + mask + masked)
        buffer = self.buffer
        while len(buffer) < 4:
            chunk = self.wait.recv(sock, 65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
        size = buffer[1]
        start = 2
        if size == 126:
            size = int.from_bytes(buffer[2:4], "big")
            start = 4
        elif size > 126:
            raise RuntimeError(f"an answer of 64 KiB or more, or masked: {buffer[:16]!r}")
        stop = start + size
        buffer = read_until(sock, self.wait, buffer, stop)
        self.buffer = buffer[stop:]
        if buffer[0] != 0x81:
            raise RuntimeError(f"expected one text frame, got {buffer[:stop]!r}")
        return buffer[start:stop]

    def step(self):
        return b"true" in self._exchange(self.step_message)

    def reset(self):
        self._exchange(self.reset_message)


# ---- the client ----------------------------------------------------------------------------------


class Client:
    def __init__(self, url, transport):
        self.env = RemoteEnv("CartPole-v1", url=url, transport=transport, seed=0)

    def step(self):
        _, _, terminated, truncated, _ = self.env.step(0)
        return terminated or truncated

    def reset(self):
        self.env.reset()

    def socket(self):
        """The socket the client's transport holds (private attributes: this script goes with
        the package)."""
        transport = self.env._transport
        connection = transport.api._connection if transport.name == "http" else transport._connection.stream
        return connection.sock


def per_step_ns(variant, steps):
    """Steps `steps` times (resetting when an episode ends, untimed); the ns spent stepping, and
    the CPU time (of this thread) the resets and pauses took. A variant with a ``pause_ns``
    sends each step that long after the previous answer came (busy, untimed)."""
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    step, reset = variant.step, variant.reset
    pause = getattr(variant, "pause_ns", 0)
    total = untimed_cpu = 0
    for _ in range(steps):
        if pause:
            started = cpu_clock()
            ready = clock() + pause
            while clock() < ready:
                pass
            untimed_cpu += cpu_clock() - started
        started = clock()
        done = step()
        total += clock() - started
        if done:
            started = cpu_clock()
            reset()
            untimed_cpu += cpu_clock() - started
    return total, untimed_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the gym-server binary")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000, help="steps per variant per round")
    parser.add_argument("--block", type=int, default=100, help="steps a variant takes before the next one's turn")
    parser.add_argument("--quick", action="store_true", help="a short run: 3 rounds of 500 steps")
    parser.add_argument("--pin", choices=("none", "same", "split"), default="none",
                        help="CPUs (Linux): the server and this process on CPU 0 (same) or the server on CPU 1, "
                             "this process on CPU 0 (split); default none (where the scheduler puts them)")
    parser.add_argument("--spin-us", default=None,
                        help=f"how long every read polls before it blocks, floors and clients alike ({SPIN_ENV}; "
                             "default: the client's default, 200 µs with two CPUs or more); 0 blocks at once")
    args = parser.parse_args()
    if args.spin_us is not None:
        os.environ[SPIN_ENV] = args.spin_us
    if args.quick:
        args.rounds, args.steps = 3, 500
    blocks = max(1, args.steps // args.block)
    steps = blocks * args.block
    monitor = tempfile.mkdtemp(prefix="gym-bench-client-")
    if args.pin != "none":
        os.sched_setaffinity(0, {0 if args.pin == "same" else 1})  # what the server (all its threads) inherits
    server = Server(os.path.abspath(args.server), monitor, "--log-level", "warning")
    if args.pin != "none":
        os.sched_setaffinity(0, {0})
    clients = []
    budget = spin_budget() * 1e6
    print(f"bench-client: every read, the floors' and the clients', "
          + (f"polls for its answer for up to {budget:.0f} µs before it blocks" if budget else "blocks at once")
          + f" ({SPIN_ENV}={os.environ.get(SPIN_ENV, 'unset')})", flush=True)
    try:
        host = f"127.0.0.1:{server.port}"
        http_client, ws_client = Client(server.base, "http"), Client(server.base, "websocket")
        clients = [http_client, ws_client]
        for client in clients:
            client.reset()  # (and the connection open)
        variants = {
            "http floor": HttpFloor(http_client.socket(), host, http_client.env.instance_id),
            "http client": http_client,
            "http floor+json": DecodingHttpFloor(http_client.socket(), host, http_client.env.instance_id),
            "http floor 10 µs on": PausingHttpFloor(http_client.socket(), host, http_client.env.instance_id),
            "websocket floor": WebSocketFloor(ws_client.socket(), ws_client.env.instance_id, full=True),
            "websocket client": ws_client,
            "gymie floor": WebSocketFloor(ws_client.socket(), ws_client.env.instance_id, full=False),
        }
        for variant in variants.values():
            per_step_ns(variant, max(50, steps // 10))  # warm-up
        names = list(variants)
        results = {name: [] for name in names}
        cpu = {name: [] for name in names}  # this thread's CPU time per step (resets left out)
        for round_number in range(args.rounds):
            gc.collect()
            totals = dict.fromkeys(names, 0)
            cpu_totals = dict.fromkeys(names, 0)
            for block in range(blocks):
                turn = (round_number + block) % len(names)
                for name in names[turn:] + names[:turn]:
                    started = time.thread_time_ns()
                    wall, untimed_cpu = per_step_ns(variants[name], args.block)
                    totals[name] += wall
                    cpu_totals[name] += time.thread_time_ns() - started - untimed_cpu
            for name in names:
                results[name].append(totals[name] / steps / 1000)
                cpu[name].append(cpu_totals[name] / steps / 1000)
            print(f"bench-client: round {round_number + 1}: "
                  + ", ".join(f"{name} {results[name][-1]:6.1f} µs" for name in names), flush=True)
        median = {name: statistics.median(values) for name, values in results.items()}
        print("bench-client: CPU time of this process a step (user + system, resets and pauses left out): "
              + ", ".join(f"{name} {statistics.median(cpu[name]):.1f} µs" for name in names))
        ratios = {}
        for transport in ("http", "websocket"):
            floor, client = median[f"{transport} floor"], median[f"{transport} client"]
            ratios[transport] = client / floor
            print(f"bench-client: {transport:9}: floor {floor:6.1f} µs/step, client {client:6.1f} µs/step, "
                  f"client/floor {ratios[transport]:.2f}x ({args.rounds} rounds x {steps} steps, medians)")
        paused = median["http floor 10 µs on"]
        print(f"bench-client: http     : floor {paused:6.1f} µs/step when each request goes 10 µs after the previous "
              f"answer (as a client's must), http client/that {median['http client'] / paused:.2f}x")
        gymie = median["gymie floor"]
        print(f"bench-client: gymie    : floor {gymie:6.1f} µs/step without \"full\" (the server's Gymie fast path), "
              f"websocket client/that {median['websocket client'] / gymie:.2f}x, websocket floor/that "
              f"{median['websocket floor'] / gymie:.2f}x")
        decoding = median["http floor+json"]
        print(f"bench-client: http+json: floor {decoding:6.1f} µs/step with json.loads and the float32 observation, "
              f"http client/that {median['http client'] / decoding:.2f}x, that/http floor {decoding / median['http floor']:.2f}x")
        waiting = f"reads polling up to {budget:.0f} µs (blocking where that proved faster)" if budget else "reads blocking at once"
        print(f"client step vs floor, {waiting}: http {ratios['http']:.2f}x, websocket {ratios['websocket']:.2f}x "
              f"(target <= {TARGET}x)")
        return 0
    finally:
        for client in clients:
            try:
                client.env.close()
            except Exception as e:  # noqa: BLE001 - the figures are printed already
                print(f"bench-client: closing: {e}", file=sys.stderr)
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
