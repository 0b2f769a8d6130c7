#!/usr/bin/env python3
"""gym-server's health check and metrics, seen by the tools that read them, live.

  * `GET /healthz` of a release binary on real ports: 200, the files port listening, the
    recorder healthy; `gym-server healthcheck` exits 0 against it and 1 against a port where
    nothing listens.
  * A real Prometheus server (Debian's `prometheus`) on loopback scrapes the gym-server every
    second, with API keys on and the scrape authorised by `--metrics-token` (Prometheus's
    `authorization` setting). Episodes are stepped over REST, and the step, reset and episode
    counters and the request counter of the step route are read back through Prometheus's HTTP
    query API (/api/v1/query) and must equal what was done. The scrape target must be up.

    python scripts/test/e2e_metrics_test.py --server .build/release/gym-server [--prometheus /usr/bin/prometheus]

Needs requests; and the `prometheus` binary (scripts/setup/install-deps.sh test installs it): without
it the Prometheus check is reported as SKIP, and the run says so.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_support import Server, check, free_port, stop_process, summary  # noqa: E402

KEY = "e2e-metrics-key-1"
TOKEN = "e2e-scrape-token-2"
EPISODES = 4


def api(server, method, route, body=None):
    response = requests.request(method, server.base + route, json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert response.status_code == 200, (route, response.status_code, response.text[:300])
    return response.json()


def run_episodes(server, env_id, episodes):
    """Steps `episodes` episodes with action 0; returns (steps, resets, episodes)."""
    iid = api(server, "POST", "/v1/envs/", {"env_id": env_id, "seed": 3})["instance_id"]
    steps = 0
    for _ in range(episodes):
        api(server, "POST", f"/v1/envs/{iid}/reset/")
        while True:
            steps += 1
            if api(server, "POST", f"/v1/envs/{iid}/step/", {"action": 0})["done"]:
                break
    return steps, episodes, episodes


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping one target every second."""

    def __init__(self, binary, target, token, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gym-server
    scrape_interval: 1s
    scrape_timeout: 900ms
    authorization:
      type: Bearer
      credentials: {token}
    static_configs:
      - targets: ["{target}"]
""")
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}",
             f"--storage.tsdb.path={os.path.join(workdir, 'data')}", "--storage.tsdb.retention.time=1h"],
            stdout=self.output, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/-/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.log())
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready: " + self.log())

    def query(self, expression):
        answer = requests.get(self.base + "/api/v1/query", params={"query": expression}, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, expression):
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expression, want, timeout=30):
        """Waits until the query's single value equals `want`; returns the last value seen."""
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            seen = self.value(expression)
            if seen == want:
                return seen
            time.sleep(0.5)
        return seen

    def log(self):
        self.output.seek(0)
        return self.output.read()[-3000:]

    def stop(self):
        stop_process(self.process)


@check("/healthz answers 200: files port listening, recorder healthy; `gym-server healthcheck` exits 0, and 1 with no server")
def healthz(binary, server):
    answer = requests.get(server.base + "/healthz", timeout=10)
    assert answer.status_code == 200, answer.status_code
    health = answer.json()
    assert health["status"] == "ok", health
    assert health["files_port"] == {"healthy": True, "state": "listening", "port": server.files_port}, health
    assert health["recorder"]["healthy"] is True, health
    ok = subprocess.run([binary, "healthcheck", "--port", str(server.port)], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, (ok.returncode, ok.stdout, ok.stderr)
    assert ok.stdout.startswith("healthy:"), ok.stdout
    down = subprocess.run([binary, "healthcheck", "--port", str(free_port()), "--timeout", "2"],
                          capture_output=True, text=True, timeout=30)
    assert down.returncode == 1, (down.returncode, down.stdout, down.stderr)
    assert "unhealthy" in down.stdout, down.stdout


@check("/metrics needs the key or the token: 401 without, 200 with the Bearer token")
def metrics_access(server):
    assert requests.get(server.base + "/metrics", timeout=10).status_code == 401
    answer = requests.get(server.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.status_code
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4"), answer.headers
    # Series of env ids appear with their first instance; the server-wide ones are there from the start.
    for family in ("gym_http_requests_total counter", "gym_frames_rendered_total counter", "gym_live_viewers gauge"):
        assert f"# TYPE {family}" in answer.text, answer.text[:500]


@check("a real Prometheus scraping gym-server reads back its steps, resets, episodes and step requests")
def prometheus_reads_counters(prometheus_binary, server):
    workdir = tempfile.mkdtemp(prefix="gym-prometheus-")
    prometheus = None
    try:
        prometheus = Prometheus(prometheus_binary, f"127.0.0.1:{server.port}", TOKEN, workdir)
        steps, resets, episodes = run_episodes(server, "CartPole-v1", EPISODES)
        lake_steps, _, lake_episodes = run_episodes(server, "FrozenLake-v1", 2)
        cart = 'env_id="CartPole-v1"'
        seen = prometheus.wait_for(f"gym_steps_total{{{cart}}}", steps)
        assert seen == steps, (f"gym_steps_total: Prometheus has {seen}, {steps} steps were taken", prometheus.log())
        assert prometheus.value(f"gym_episodes_total{{{cart}}}") == episodes
        assert prometheus.value(f"gym_resets_total{{{cart}}}") == resets
        assert prometheus.value(f"gym_instances_live{{{cart}}}") == 1
        assert prometheus.wait_for('gym_episodes_total{env_id="FrozenLake-v1"}', lake_episodes) == lake_episodes
        assert prometheus.value('gym_steps_total{env_id="FrozenLake-v1"}') == lake_steps
        requests_expr = ('sum(gym_http_requests_total{port="api",route="/v1/envs/{instance_id}/step",'
                         'method="POST",status="200"})')
        assert prometheus.value(requests_expr) == steps + lake_steps
        histogram = ('sum(gym_http_request_duration_seconds_count{route="/v1/envs/{instance_id}/step",'
                     'status="200"})')
        assert prometheus.value(histogram) == steps + lake_steps
        up = prometheus.query('up{job="gym-server"}')
        assert up and up[0]["value"][1] == "1", up
        print(f"  Prometheus read {steps} + {lake_steps} steps and {episodes} + {lake_episodes} episodes back",
              flush=True)
    finally:
        if prometheus:
            prometheus.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--prometheus", default=shutil.which("prometheus"))
    args = parser.parse_args()
    binary = os.path.abspath(args.server)
    monitor_dir = tempfile.mkdtemp(prefix="gym-metrics-e2e-")
    server = Server(binary, monitor_dir, "--api-key", KEY, "--metrics-token", TOKEN)
    try:
        healthz(binary, server)
        metrics_access(server)
        if args.prometheus:
            prometheus_reads_counters(args.prometheus, server)
        else:
            print("SKIP a real Prometheus scraping gym-server: no prometheus binary "
                  "(apt-get install prometheus; scripts/setup/install-deps.sh test does)", flush=True)
    finally:
        code = server.stop()
        if code not in (0, None):
            print(server.log())
        shutil.rmtree(monitor_dir, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
