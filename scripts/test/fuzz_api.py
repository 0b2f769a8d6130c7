#!/usr/bin/env python3
"""A property-based fuzz of a live gym-server with schemathesis, against the OpenAPI documents the
server serves: the API port's at /openapi.json (docs/openapi.json) and the files port's at
/_openapi.json (docs/openapi-files.json), both built into the binary.

  * The served document equals docs/openapi.json.
  * schemathesis runs every operation of the document: its examples, the coverage phase's
    boundary values, random valid and invalid data, and stateful sequences that follow the
    document's links (create -> reset -> step -> close, ...). Every answer must not be a 5xx,
    must have a status the operation documents, its content type, and a body that matches the
    schema of that status. So that random data reaches real environments rather than only
    "unknown instance", the run uses the served document with one change: an instance id is one
    of a few dozen instances made beforehand (every environment, vector instances, reset or not,
    one with a monitor) -- or, in the invalid data, anything else.
  * Then the files port the same way, on real files made beforehand (see scripts/test/fuzz_files.py):
    no 5xx, documented statuses and content types, JSON matching its schema.
  * The server is still running afterwards and logged no unexpected error.

    python scripts/test/fuzz_api.py --server .build/release/gym-server [--max-examples 25] [--seed 1]

Run with .venv/schemathesis/bin/python (scripts/setup/make-venv.sh installs schemathesis there). The
seed is fixed by default so that a run is repeatable; `--seed random` explores. A run takes about
two minutes on two cores; `--max-examples` and `--files-max-examples` scale it.
"""

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_files  # noqa: E402
from e2e_support import Server, assert_serves_document, check, summary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "docs", "openapi.json")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="the gym-server binary")
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation and phase")
    parser.add_argument("--seed", default="1", help="schemathesis' random seed, or 'random'")
    parser.add_argument("--files-max-examples", type=int, default=20, help="the same for the files port")
    parser.add_argument("--max-time", type=int, default=240, help="each schemathesis run's budget in seconds")
    args = parser.parse_args()
    seed = random.randrange(2**32) if args.seed == "random" else int(args.seed)
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if not os.path.exists(schemathesis):
        sys.exit(f"no {schemathesis}: run scripts/setup/make-venv.sh and this script with .venv/schemathesis/bin/python")

    monitor = tempfile.mkdtemp(prefix="gym-fuzz-")
    reports = tempfile.mkdtemp(prefix="gym-fuzz-report-")
    server = Server(args.server, monitor, *fuzz_files.SERVER_OPTIONS)
    stream = None
    try:
        served_document(server)
        document = os.path.join(reports, "openapi-live-ids.json")
        with open(document, "w") as f:
            json.dump(with_live_instances(server), f)
        fuzz(server, schemathesis, document, args, seed, reports)

        fuzz_files.served_document(server)
        rendered = fuzz_files.make_files(server)
        stream = fuzz_files.HeldStream(server, rendered)
        files_document = os.path.join(reports, "openapi-files-live.json")
        with open(files_document, "w") as f:
            json.dump(fuzz_files.live_document(server, rendered), f)
        fuzz_files_port(server, schemathesis, files_document, args, seed, reports)
        fuzz_files.stream_conforms(stream, requests.get(server.files + "/_openapi.json", timeout=10).json())
        still_running(server)
    finally:
        if stream:
            stream.close()
        server.stop()
        shutil.rmtree(monitor, ignore_errors=True)
        shutil.rmtree(reports, ignore_errors=True)
    return summary()


@check("GET /openapi.json serves docs/openapi.json")
def served_document(server):
    assert_serves_document(server.base + "/openapi.json", DOCUMENT)


def with_live_instances(server):
    """The served document with `instance_id` (path parameter and batch items) one of the ids of
    instances made here, each env id single and some as vectors, some reset, one monitored."""
    def post(route, body=None):
        response = requests.post(server.base + route, json=body, timeout=30)
        assert response.status_code in (200, 201), (route, body, response.status_code, response.text)
        return response.json()

    document = requests.get(server.base + "/openapi.json", timeout=10).json()
    env_ids = document["components"]["schemas"]["EnvId"]["anyOf"][0]["enum"]
    made = []
    for index, env_id in enumerate(env_ids):
        made.append(post("/v1/envs/", {"env_id": env_id, "seed": index})["instance_id"])
        if index % 2 == 0:
            post(f"/v1/envs/{made[-1]}/reset/")
    for env_id, mode in [("CartPole-v1", "next_step"), ("Taxi-v3", "same_step"), ("Pendulum-v1", "disabled")]:
        made.append(post("/v1/envs/", {"env_id": env_id, "num_envs": 3, "autoreset_mode": mode})["instance_id"])
        post(f"/v1/envs/{made[-1]}/reset/")
    post(f"/v1/envs/{made[0]}/monitor/start/", {"directory": "fuzz/monitored", "force": True, "video_callable": False})
    # close/ gets instances of its own, so that it cannot close those the other operations use.
    closable = [post("/v1/envs/", {"env_id": env_id})["instance_id"] for env_id in env_ids[:6]]
    live = copy.deepcopy(document)
    ids = {"type": "string", "enum": made}
    live["components"]["parameters"]["InstanceId"]["schema"] = ids
    for item in ("BatchStepItem", "BatchResetItem"):
        live["components"]["schemas"][item]["properties"]["instance_id"] = ids
    parameter = dict(live["components"]["parameters"]["InstanceId"], schema={"type": "string", "enum": closable})
    live["paths"]["/v1/envs/{instance_id}/close/"]["post"]["parameters"] = [parameter]
    print(f"{len(made) + len(closable)} instances made for the fuzz", flush=True)
    return live


@check("schemathesis on the API port: no 5xx, every status documented, every answer matching its schema")
def fuzz(server, schemathesis, document, args, seed, reports):
    run_schemathesis(schemathesis, document, server.base, "examples,coverage,fuzzing,stateful", args.max_examples,
                     seed, args.max_time, reports)


@check("schemathesis on the files port: no 5xx, every status documented, every answer matching its schema")
def fuzz_files_port(server, schemathesis, document, args, seed, reports):
    # The document has no links: nothing for the stateful phase.
    run_schemathesis(schemathesis, document, server.files, "examples,coverage,fuzzing", args.files_max_examples,
                     seed, args.max_time, reports)


def run_schemathesis(schemathesis, document, url, phases, max_examples, seed, budget, reports):
    command = [
        schemathesis, "run", document, "--url", url,
        "--checks", CHECKS,
        "--phases", phases,
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        # One worker: Hypothesis' lambda descriptions break under threads on Python 3.11
        # (SystemError: AST constructor recursion depth mismatch).
        "--workers", "1",
        "--request-timeout", "30",
        "--generation-database", "none",
        "--suppress-health-check", "too_slow,filter_too_much",
        "--report", "junit", "--report-dir", reports,
        "--no-color",
    ]
    print(f"$ schemathesis run {os.path.basename(document)} --url {url} ... --max-examples {max_examples} --seed {seed}", flush=True)
    started = time.time()
    try:
        result = subprocess.run(command, timeout=budget, cwd=reports)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"schemathesis ran over its budget of {budget} s")
    print(f"schemathesis took {time.time() - started:.0f} s (seed {seed})", flush=True)
    assert result.returncode == 0, f"schemathesis found failures (exit {result.returncode}); rerun with --seed {seed}"


@check("the server is still running and logged no unexpected error")
def still_running(server):
    assert server.process.poll() is None, "the server exited: " + server.log()[-3000:]
    assert requests.get(server.base + "/v1/help", timeout=10).status_code == 200
    unexpected = [line for line in server.log().splitlines() if "Unexpected error" in line]
    assert not unexpected, "\n".join(unexpected[:20])


if __name__ == "__main__":
    sys.exit(main())
