#!/usr/bin/env python3
"""REST step throughput of a gym-server binary, measured with wrk over loopback.

Scenarios (each on fresh CartPole-v1 instances, stepped round-robin by wrk's connections):
  step            {"action": 0}
  step+render     {"action": 0, "render": true}   (rasterise, PNG, rendered/<n>.png + latest.png)
  step+monitor    {"action": 0} with a monitor recording statistics (no video)
  step+monitor+video  the same, filming every episode (video_callable 1): frames rasterised and
                  H.264-encoded on the monitor's thread
Each wrk thread has one connection and one instance, and resets it when an episode ends.
Prints `bench-api scenario=... steps_per_s=... p50_ms=... p99_ms=...` lines.

    python3 scripts/bench/bench_api.py --server .build/release/gym-server [--seconds 5] [--connections 8]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, route, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + route, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


LUA = r"""
local ids = {%s}
local body = '%s'
local headers = {["Content-Type"] = "application/json"}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", ids[next_id])
end
function init(args)
  needs_reset = false
  steps = 0
  failures = 0
end
function request()
  if needs_reset then
    needs_reset = false
    return wrk.format("POST", "/v1/envs/" .. id .. "/reset/", headers, "{}")
  end
  return wrk.format("POST", "/v1/envs/" .. id .. "/step/", headers, body)
end
function response(status, hdrs, answer)
  if status ~= 200 then failures = failures + 1 end
  if string.find(answer, '"done": true', 1, true) then needs_reset = true end
  if string.find(answer, '"reward"', 1, true) then steps = steps + 1 end
end
"""

# Each wrk thread (one connection) owns one instance: its requests are sequential, so it can reset
# its own episode when it ends. done() sums the threads' step counts.
LUA_DONE = r"""
local all_threads = {}
local original_setup = setup
function setup(thread)
  original_setup(thread)
  table.insert(all_threads, thread)
end
function done(summary, latency, requests)
  local steps, failures = 0, 0
  for _, t in ipairs(all_threads) do
    steps = steps + t:get("steps")
    failures = failures + t:get("failures")
  end
  io.write(string.format("RESULT %d %d %f %f %d\n", steps, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    failures + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(base, ids, body, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (", ".join(f'"{i}"' for i in ids), json.dumps(body)) + LUA_DONE)
        script = f.name
    try:
        out = subprocess.run(["wrk", "-t", str(len(ids)), "-c", str(len(ids)), "-d", f"{seconds}s", "-s", script, base],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    _, steps, duration_us, p50, p99, errors = line.split()
    return int(steps) / (int(duration_us) / 1e6), float(p50), float(p99), int(errors)


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def file_create_cost(directory, count=200):
    """Microseconds to create (and name) one new file in `directory`: what each rendered frame costs the kernel."""
    probe = tempfile.mkdtemp(dir=directory)
    start = time.perf_counter()
    for i in range(count):
        os.close(os.open(os.path.join(probe, f"{i}.png"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    elapsed = time.perf_counter() - start
    shutil.rmtree(probe)
    return elapsed / count * 1e6


SCENARIOS = {
    # name: (step body, monitor start body or None)
    "step": ({"action": 0}, None),
    "step+render": ({"action": 0, "render": True}, None),
    "step+monitor": ({"action": 0}, {"video_callable": False}),
    "step+monitor+video": ({"action": 0}, {"video_callable": 1}),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4, help="wrk threads, one connection and one instance each")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--env", default="CartPole-v1", help="environment id of the instances")
    parser.add_argument("--action", default="0", help="the action every step sends, as JSON")
    parser.add_argument("--monitor-parent", default=None,
                        help="where the monitor root goes (default: the system temp dir); /dev/shm puts it on tmpfs")
    args = parser.parse_args()
    monitor = tempfile.mkdtemp(prefix="gym-server-bench-", dir=args.monitor_parent)
    print(f"bench-api monitor_root={monitor} file_create_us={file_create_cost(monitor):.0f} "
          "(reference: creating one new file there, measured now; every rendered frame is a new file)")
    port = free_port()
    server = subprocess.Popen([os.path.abspath(args.server), "--port", str(port), "--files-port", "0",
                               "--monitor-dir", monitor, "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/v1/help")
                break
            except OSError:
                time.sleep(0.1)
        results = {}
        for scenario in args.scenarios.split(","):
            ids = []
            for _ in range(args.connections):
                iid = call(base, "POST", "/v1/envs/", {"env_id": args.env})["instance_id"]
                body, monitor_body = SCENARIOS[scenario]
                body = dict(body, action=json.loads(args.action))
                if monitor_body is not None:
                    call(base, "POST", f"/v1/envs/{iid}/monitor/start/", dict(monitor_body, directory=f"bench/{iid}", force=True))
                call(base, "POST", f"/v1/envs/{iid}/reset/", {"seed": 0})
                ids.append(iid)
            cpu_before = cpu_seconds(server.pid)
            rate, p50, p99, errors = run_wrk(base, ids, body, args.seconds)
            for iid in ids:  # finish the videos: their encoding is part of the cost
                if SCENARIOS[scenario][1] is not None:
                    call(base, "POST", f"/v1/envs/{iid}/monitor/close/")
            cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / (rate * args.seconds)
            results[scenario] = cpu_ms
            print(f"bench-api env={args.env} scenario={scenario} steps_per_s={rate:.0f} server_cpu_ms_per_step={cpu_ms:.3f} "
                  f"p50_ms={p50:.3f} p99_ms={p99:.3f} errors={errors}")
            for iid in ids:
                call(base, "POST", f"/v1/envs/{iid}/close/")
            shutil.rmtree(os.path.join(monitor, "bench"), ignore_errors=True)
            for iid in ids:
                shutil.rmtree(os.path.join(monitor, iid), ignore_errors=True)
        for extra in ["step+render", "step+monitor", "step+monitor+video"]:
            if "step" in results and extra in results:
                # The server's extra CPU per step (all its threads, encoder threads included),
                # against plain steps measured in the same run.
                cost = results[extra] - results["step"]
                print(f"bench-api {extra} extra_server_cpu_ms_per_step={cost:.3f} ratio_vs_step={results[extra] / results['step']:.1f}x"
                      + (" (target: recording costs <= 1 ms per step)" if "monitor" in extra else ""))
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(monitor, ignore_errors=True)


if __name__ == "__main__":
    main()
