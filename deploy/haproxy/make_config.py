#!/usr/bin/env python3
"""Writes the HAProxy configuration of a gym-server fleet (docs/SCALING.md).

    deploy/haproxy/make_config.py --replica 0=127.0.0.1:5001:8001 --replica 1=127.0.0.1:5002:8002 > haproxy.cfg

Each --replica is ID=HOST:API_PORT:FILES_PORT, as gym-server's --peer. The front listens on
--api-bind (5000) and --files-bind (8000) and routes:

* a request naming an instance to the replica its id names (the id's first two hex
  characters): /v1/envs/<id>/..., a batch by its first item's instance_id, a WebSocket opened
  as /gym?instance_id=<id>, the files port's /<id>/... and /_live/<id>/...,
  /_live/events?instance_id=<id>,...;
* everything else (creates, Gymie's /gym sockets, lists, pages) to the least loaded replica
  that is up (leastconn);
* a request for an instance whose replica is down gets a JSON 503 naming the replica at once.
  On the files port the other replicas stand in for a down one (the monitor root is shared).

--resolvers makes HAProxy resolve the hosts by DNS at run time (Kubernetes: the StatefulSet's
pods behind its headless Service), with the nameservers of /etc/resolv.conf.
Standard library only; the output is deterministic, so a committed copy can be checked.
"""
import argparse
import json
import re
import sys

REPLICA = re.compile(r"^(\d{1,3})=(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5}):(\d{1,5})$")


def parse_replica(text):
    match = REPLICA.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"--replica '{text}' must look like ID=HOST:API_PORT:FILES_PORT")
    rid, host, api, files = int(match[1]), match[2], int(match[3]), int(match[4])
    if rid > 255 or not (1 <= api <= 65535) or not (1 <= files <= 65535):
        raise argparse.ArgumentTypeError(f"--replica '{text}': ids are 0-255, ports 1-65535")
    return rid, host, api, files


def prefix(rid):
    return f"{rid:02x}"


def error_json(message):
    # HAProxy's string argument: double-quoted, with \" for quotes.
    return json.dumps({"message": message, "error": message}).replace("\\", "\\\\").replace('"', '\\"')


def make_config(replicas, api_bind, files_bind, resolvers, stats_bind, check_interval_ms, threads=None):
    lines = []
    add = lines.append
    resolve = " resolvers dns init-addr last,libc,none" if resolvers else ""
    check = f"check inter {check_interval_ms} fall 2 rise 1"
    add("# Made by deploy/haproxy/make_config.py: do not edit, run it again (docs/SCALING.md).")
    add("# Replicas: " + ", ".join(f"{rid}={host}:{api}:{files}" for rid, host, api, files in replicas))
    add("global")
    add("    maxconn 4096")
    if threads:
        # One machine whose cores the replicas share: fewer threads hand fewer requests across.
        add(f"    nbthread {threads}")
    add("    log stderr format short local0 notice")
    add("")
    if resolvers:
        add("resolvers dns")
        add("    parse-resolv-conf")
        add("    hold valid 5s")
        add("    hold nx 5s")
        add("")
    add("defaults")
    add("    mode http")
    add("    log global")
    add("    option dontlognull")
    add("    timeout connect 1s")
    add("    timeout http-request 15s")
    # Long-lived: a trainer's keep-alive connection, Gymie's WebSocket, the live view's streams.
    add("    timeout client 1h")
    add("    timeout server 1h")
    add("    timeout tunnel 1h")
    add("    timeout queue 5s")
    # A retry of a request whose server refused the connection goes to another server of the
    # backend (creates, lists, pages); a replica's own backend has one server and no retry, so a
    # down replica's instances get their 503 at once.
    add("    retries 1")
    add("    option redispatch 1")
    # HAProxy's own answers as JSON, as the servers' errors are.
    for status, message in ((502, "The replica answered nothing usable (it may be stopping): try again"),
                            (504, "The replica did not answer in time")):
        add(f'    http-error status {status} content-type "application/json" string "{error_json(message)}"')
    add("    option httpchk GET /healthz")
    add("    http-check expect status 200")
    add("")
    add("frontend api")
    add(f"    bind {api_bind}")
    # A batch is routed by its first item: its body (only a batch's) is read before the backend
    # is chosen; every other request is forwarded as its head arrives.
    add("    acl batch path_beg /v1/batch/")
    add("    http-request wait-for-body time 5s if batch")
    add("    http-request set-var(txn.first_item) req.body,json_query('$[0].instance_id') if batch")
    for rid, *_ in replicas:
        p = prefix(rid)
        add(f"    use_backend api_r{rid} if {{ path_beg /v1/envs/{p} }}")
        add(f"    use_backend api_r{rid} if batch {{ var(txn.first_item) -m beg {p} }}")
        # A WebSocket that says which instance it is for (/gym?instance_id=...: the Python
        # client's reconnections) goes to that instance's replica.
        add(f"    use_backend api_r{rid} if {{ path /gym /gym/ }} {{ urlp(instance_id) -m beg {p} }}")
    add("    default_backend api_any")
    add("")
    add("frontend files")
    add(f"    bind {files_bind}")
    for rid, *_ in replicas:
        p = prefix(rid)
        add(f"    use_backend files_r{rid} if {{ path_reg ^/{p}([0-9a-f]{{6}}|[0-9a-f]{{30}})(/|$) }}")
        add(f"    use_backend files_r{rid} if {{ path_beg /_live/{p} }}")
        add(f"    use_backend files_r{rid} if {{ path_beg /_live/events }} {{ urlp(instance_id) -m beg {p} }}")
    add("    default_backend files_any")
    add("")
    for rid, host, api, files in replicas:
        message = (f"Replica {rid} is down: the instances it held (ids beginning with {prefix(rid)}) are gone "
                   f"with it. Create new instances: the front sends them to a replica that is up")
        add(f"backend api_r{rid}")
        add("    retries 0")
        add(f'    http-error status 503 content-type "application/json" string "{error_json(message)}"')
        add(f"    server r{rid} {host}:{api} {check}{resolve}")
        add("")
    add("backend api_any")
    add("    balance leastconn")
    message = "No replica is up: try again shortly"
    add(f'    http-error status 503 content-type "application/json" string "{error_json(message)}"')
    for rid, host, api, files in replicas:
        add(f"    server r{rid} {host}:{api} {check}{resolve}")
    add("")
    for rid, host, api, files in replicas:
        message = f"Replica {rid} is down, and no other replica could stand in for it"
        add(f"backend files_r{rid}")
        add("    option httpchk GET /config.json")
        add(f'    http-error status 503 content-type "application/json" string "{error_json(message)}"')
        add(f"    server r{rid} {host}:{files} {check}{resolve}")
        # The monitor root is shared: another replica serves a down one's files.
        for other, ohost, oapi, ofiles in replicas:
            if other != rid:
                add(f"    server r{other} {ohost}:{ofiles} {check} backup{resolve}")
        add("")
    add("backend files_any")
    add("    balance leastconn")
    add("    option httpchk GET /config.json")
    for rid, host, api, files in replicas:
        add(f"    server r{rid} {host}:{files} {check}{resolve}")
    if stats_bind:
        add("")
        add("frontend stats")
        add(f"    bind {stats_bind}")
        add("    http-request use-service prometheus-exporter if { path /metrics }")
        add("    stats enable")
        add("    stats uri /")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replica", action="append", type=parse_replica, required=True,
                        help="ID=HOST:API_PORT:FILES_PORT (repeatable)")
    parser.add_argument("--api-bind", default=":5000")
    parser.add_argument("--files-bind", default=":8000")
    parser.add_argument("--resolvers", action="store_true", help="resolve the hosts by DNS at run time")
    parser.add_argument("--stats-bind", default=None, help="HAProxy's own stats page and /metrics, e.g. :8404")
    parser.add_argument("--check-interval-ms", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None,
                        help="HAProxy's threads (default: one per core, HAProxy's own choice)")
    args = parser.parse_args(argv)
    ids = [r[0] for r in args.replica]
    if len(set(ids)) != len(ids):
        parser.error("a replica id is given twice")
    replicas = sorted(args.replica)
    sys.stdout.write(make_config(replicas, args.api_bind, args.files_bind, args.resolvers, args.stats_bind,
                                 args.check_interval_ms, args.threads))


if __name__ == "__main__":
    main()
