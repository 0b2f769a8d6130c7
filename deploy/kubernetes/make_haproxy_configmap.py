#!/usr/bin/env python3
"""Writes deploy/kubernetes/haproxy-configmap.yaml: HAProxy's configuration for the StatefulSet's pods.

    deploy/kubernetes/make_haproxy_configmap.py              # write the file (3 replicas)
    deploy/kubernetes/make_haproxy_configmap.py --check      # exit 1 if the file is not what it would write
    deploy/kubernetes/make_haproxy_configmap.py --replicas 4 # after changing the StatefulSet's replicas

The ConfigMap's haproxy.cfg is exactly what deploy/haproxy/make_config.py prints for

    --replica 0=gym-server-0.gym-server:5000:8000 ... --replica N-1=gym-server-<N-1>.gym-server:5000:8000
    --resolvers --stats-bind :8404

(make_config.py's own main() runs, with those arguments, so the two never drift).
scripts/test/validate_kubernetes.py checks the committed file against this script.
Standard library only.
"""
import argparse
import contextlib
import importlib.util
import io
import os
import sys

sys.dont_write_bytecode = True  # it imports deploy/haproxy/make_config.py: leave no __pycache__ there

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CONFIG = os.path.join(HERE, "..", "haproxy", "make_config.py")
CONFIGMAP = os.path.join(HERE, "haproxy-configmap.yaml")

STATEFULSET = "gym-server"      # the StatefulSet's name: its pods are gym-server-0, gym-server-1, ...
SERVICE = "gym-server"          # its headless Service (serviceName)
API_PORT, FILES_PORT, STATS_BIND = 5000, 8000, ":8404"
NAME = "gym-server-haproxy"     # the ConfigMap's name


def make_config_argv(replicas):
    """make_config.py's arguments for a fleet of `replicas` pods."""
    argv = []
    for rid in range(replicas):
        argv += ["--replica", f"{rid}={STATEFULSET}-{rid}.{SERVICE}:{API_PORT}:{FILES_PORT}"]
    return argv + ["--resolvers", "--stats-bind", STATS_BIND]


def load_make_config():
    spec = importlib.util.spec_from_file_location("gym_server_haproxy_make_config", MAKE_CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def haproxy_cfg(replicas):
    """What `python3 deploy/haproxy/make_config.py <make_config_argv(replicas)>` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        load_make_config().main(make_config_argv(replicas))
    return out.getvalue()


def configmap_yaml(replicas):
    cfg = haproxy_cfg(replicas)
    if any(line != line.rstrip() or "\t" in line for line in cfg.splitlines()):
        raise SystemExit("make_haproxy_configmap: the configuration has trailing blanks or tabs, "
                         "which a YAML block scalar would not keep")
    command = " ".join(["python3 deploy/haproxy/make_config.py"] + make_config_argv(replicas))
    header = [
        "# HAProxy's configuration for the gym-server fleet (haproxy-deployment.yaml mounts it at",
        "# /usr/local/etc/haproxy/haproxy.cfg): the API on :5000 and the files/web port on :8000, routed to",
        "# the StatefulSet's pods by instance id, HAProxy's stats and metrics on :8404. The servers are the",
        "# pods' names under the headless Service, resolved by DNS at run time (haproxy-deployment.yaml's",
        "# start script completes them with the namespace's DNS domain: HAProxy's resolver uses no search list).",
        "#",
        "# Made by deploy/kubernetes/make_haproxy_configmap.py: do not edit, run it again. haproxy.cfg is",
        "# exactly the output of",
        f"#   {command}",
    ]
    body = "".join(("    " + line if line else "") + "\n" for line in cfg.splitlines())
    return "\n".join(header) + "\n" + "\n".join([
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {NAME}",
        "  labels:",
        "    app.kubernetes.io/name: gym-server",
        "    app.kubernetes.io/component: front",
        "data:",
        "  haproxy.cfg: |",
    ]) + "\n" + body


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3, help="the StatefulSet's replicas (default 3)")
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    parser.add_argument("--output", default=CONFIGMAP, help="the file to write or check ('-': standard output)")
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 256:
        parser.error("--replicas must be from 1 to 256 (replica ids are 0-255)")
    text = configmap_yaml(args.replicas)
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"make_haproxy_configmap: {args.output} is out of date: run "
                  f"deploy/kubernetes/make_haproxy_configmap.py --replicas {args.replicas}", file=sys.stderr)
            return 1
        return 0
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
