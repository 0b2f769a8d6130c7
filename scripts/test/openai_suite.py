#!/usr/bin/env python3
"""Runs openai/gym-http-api's own tests (tests/test_api.py, with its gym_http_client.py) and its
example_agent.py against a gym-server binary. Their code is not part of this repository: point the
script at a checkout of https://github.com/openai/gym-http-api, or at a git directory of one.

    python scripts/test/openai_suite.py --server .build/release/gym-server --gym-http-api DIR

The suite talks to http://127.0.0.1:5000 (hard-coded in it), so port 5000 must be free. It imports
gym_http_server (openai's Flask server) only to start it in nose-style setup functions, which
pytest no longer calls; a stand-in module takes its place. OPENAI_GYM_API_KEY is set, so all 16
tests run (two of them are skipped without it). Needs pytest, requests and six.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_support import Server


def export(source, path, target):
    """Copies `path` of a checkout, or of a git directory, to `target`."""
    plain = os.path.join(source, path)
    if os.path.isfile(plain):
        shutil.copy(plain, target)
        return
    text = subprocess.run(["git", "-C", source, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout
    with open(target, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--gym-http-api", default=os.environ.get("GYM_HTTP_API_DIR"),
                        help="a checkout (or git directory) of openai/gym-http-api")
    args = parser.parse_args()
    if not args.gym_http_api:
        print("SKIP openai's own suite: give --gym-http-api DIR or GYM_HTTP_API_DIR (GitHub is not reachable from CI; "
              "scripts/test/e2e_service_test.py runs the same 16 tests written again)")
        return 0
    work = tempfile.mkdtemp(prefix="openai-suite-")
    monitor = tempfile.mkdtemp(prefix="openai-suite-monitor-")
    try:
        export(args.gym_http_api, "tests/test_api.py", os.path.join(work, "test_api.py"))
        export(args.gym_http_api, "gym_http_client.py", os.path.join(work, "gym_http_client.py"))
        export(args.gym_http_api, "example_agent.py", os.path.join(work, "example_agent.py"))
        with open(os.path.join(work, "gym_http_server.py"), "w") as f:
            f.write("# Stands in for openai's Flask server: the suite's nose-style setup is not run by pytest.\napp = None\n")
        server = Server(os.path.abspath(args.server), monitor, port=5000)
        env = dict(os.environ, OPENAI_GYM_API_KEY="openai-suite-key", PYTHONPATH=work)
        try:
            suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_api.py"],
                                   cwd=work, env=env)
            agent = subprocess.run([sys.executable, "example_agent.py"], cwd=work, env=env, capture_output=True, text=True)
            print(agent.stdout[-2000:], agent.stderr[-2000:])
        finally:
            server.stop()
        results = os.path.join(monitor, "tmp", "random-agent-results")
        stats = [f for f in os.listdir(results) if f.endswith(".stats.json")] if os.path.isdir(results) else []
        print(f"openai suite: pytest exit {suite.returncode}; example_agent.py exit {agent.returncode}, "
              f"its monitor directory inside the root: {results} ({len(stats)} stats file)")
        return 0 if suite.returncode == 0 and agent.returncode == 0 and stats else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(monitor, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
