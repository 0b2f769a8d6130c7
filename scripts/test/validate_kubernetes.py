#!/usr/bin/env python3
"""Checks the Kubernetes manifests of deploy/kubernetes/ offline: no cluster, no network.

    .venv/k8s/bin/python scripts/test/validate_kubernetes.py              # check deploy/kubernetes
    .venv/k8s/bin/python scripts/test/validate_kubernetes.py --self-test  # and prove it fails on broken copies

(scripts/setup/make-k8s-venv.sh makes .venv/k8s.) Three kinds of checks:

(a) schema: every manifest against the Kubernetes API's JSON schemas of one named version
    (--kubernetes-version, default 1.30.0), as bundled by kubernetes-validate, in strict mode: an
    unknown field fails, as a wrong type does. YAML with a key given twice fails too.
(b) HAProxy: the ConfigMap's haproxy.cfg is exactly what deploy/haproxy/make_config.py prints for
    the StatefulSet's peers (and haproxy-configmap.yaml what make_haproxy_configmap.py writes);
    `haproxy -c` accepts it; the HAProxy Deployment's start script completes the servers' names
    with a namespace's DNS domain, and `haproxy -c` accepts the result. Without haproxy on the PATH
    the `haproxy -c` checks are skipped, and say so.
(c) topology: the replica count, GYM_SERVER_PEERS and HAProxy's servers agree; the Services,
    the claim, the Secret and the ConfigMap are the ones the workloads name; the probes ask
    /healthz on the API port; the arguments name the mounted files; the user is the image's
    (Dockerfile).

Exits 1 when a check fails, naming it; the last line reads 'kubernetes: N passed, N failed'.
--self-test copies deploy/ to a temporary folder, breaks one thing at a time (an unknown field,
replicas: 4, a drifted haproxy.cfg, ...) and checks that this script then fails, with the
expected message; it also checks that an unbroken copy passes.
"""
import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # it imports deploy/'s generators: leave no __pycache__ there

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DIR = os.path.join(ROOT, "deploy", "kubernetes")
DEFAULT_KUBERNETES_VERSION = "1.30.0"

try:
    import yaml
    import kubernetes_validate
    from kubernetes_validate import utils as kv_utils
    from kubernetes_validate.version import __version__ as KV_VERSION
except ImportError as error:  # pragma: no cover
    sys.exit(f"validate_kubernetes: {error}: run it with .venv/k8s/bin/python (scripts/setup/make-k8s-venv.sh)")

# What the manifests must hold: (kind, name).
STATEFULSET = ("StatefulSet", "gym-server")
HEADLESS = ("Service", "gym-server")
PVC = ("PersistentVolumeClaim", "gym-server-monitor")
SECRET = ("Secret", "gym-server-keys")
CONFIGMAP = ("ConfigMap", "gym-server-haproxy")
HAPROXY = ("Deployment", "gym-server-haproxy")
FRONT = ("Service", "gym-server-front")
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
HAPROXY_CFG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
PEER = re.compile(r"^(\d{1,3})=([A-Za-z0-9._-]+):(\d{1,5}):(\d{1,5})$")


class Report:
    """The checks' results, printed as they come."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, condition, name, problem=""):
        if condition:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}" + (f": {problem}" if problem else ""))
        return bool(condition)

    def equal(self, actual, expected, name):
        return self.check(actual == expected, name, f"is {actual!r}, expected {expected!r}")

    def fail(self, name, problem):
        return self.check(False, name, problem)

    def skip(self, name, why):
        self.skipped += 1
        print(f"  SKIP  {name}: {why}")


# ---- reading ----------------------------------------------------------------------------------

class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with a key given twice (YAML readers keep either one)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_manifests(directory, report):
    """{(kind, name): (file, object)} of every *.yaml but kustomization.yaml, and the files' names."""
    resources, files = {}, sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))
    manifests = [f for f in files if f not in ("kustomization.yaml", "kustomization.yml")]
    for name in manifests:
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            text = f.read()
        report.check(text.startswith("# "), f"header: {name} begins with a comment saying what it is for")
        try:
            documents = [d for d in yaml.load_all(text, Loader=StrictLoader) if d is not None]
        except yaml.YAMLError as error:
            report.fail(f"yaml: {name}", str(error).replace("\n", " "))
            continue
        report.check(len(documents) > 0, f"yaml: {name} holds an object", "it is empty")
        for document in documents:
            if not (isinstance(document, dict) and isinstance(document.get("metadata"), dict)
                    and document.get("kind") and document.get("apiVersion") and document["metadata"].get("name")):
                report.fail(f"yaml: {name}", "an object without apiVersion, kind and metadata.name")
                continue
            key = (document["kind"], document["metadata"]["name"])
            if key in resources:
                report.fail(f"yaml: {name}", f"{key[0]} {key[1]} is also in {resources[key][0]}")
            resources[key] = (name, document)
    return resources, manifests


# ---- (a) schemas --------------------------------------------------------------------------------

def check_schemas(resources, version, report):
    for (kind, name), (file, document) in sorted(resources.items(), key=lambda item: item[1][0]):
        label = f"schema {version} strict: {file}: {kind}/{name}"
        try:
            kubernetes_validate.validate(copy.deepcopy(document), version, strict=True)
            report.check(True, label)
        except kv_utils.ValidationError as error:
            where = ".".join(str(p) for p in error.path) or "(top)"
            report.fail(label, f"{where}: {error.message}")
        except kv_utils.SchemaNotFoundError as error:
            report.fail(label, error.message)


def check_kustomization(directory, manifests, report):
    path = os.path.join(directory, "kustomization.yaml")
    if not os.path.exists(path):
        report.skip("kustomization.yaml", "none")
        return
    try:
        with open(path, encoding="utf-8") as f:
            kustomization = yaml.load(f, Loader=StrictLoader)
    except yaml.YAMLError as error:
        report.fail("kustomization.yaml", str(error).replace("\n", " "))
        return
    report.equal((kustomization.get("apiVersion"), kustomization.get("kind")),
                 ("kustomize.config.k8s.io/v1beta1", "Kustomization"), "kustomization.yaml: apiVersion and kind")
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "namespace", "labels", "commonLabels",
                                    "commonAnnotations", "images", "namePrefix", "nameSuffix"}
    report.check(not unknown, "kustomization.yaml: known fields only", f"unknown: {sorted(unknown)}")
    listed = kustomization.get("resources") or []
    report.equal(sorted(listed), sorted(manifests), "kustomization.yaml lists every manifest, and only those")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        report.skip("kubectl kustomize", "kubectl is not installed")
        return
    run = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True, timeout=120)
    built = []
    if run.returncode == 0:
        built = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(run.stdout) if d)
    expected = []
    for name in manifests:
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            try:
                expected += [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(f) if isinstance(d, dict) and "kind" in d]
            except (yaml.YAMLError, KeyError, TypeError):
                pass
    report.check(run.returncode == 0 and built == sorted(expected), "kubectl kustomize builds every manifest's object",
                 run.stderr.strip()[-300:] or f"built {built}")


# ---- helpers ------------------------------------------------------------------------------------

def get(resources, key, report):
    if key not in resources:
        report.fail(f"{key[0]} {key[1]}", "missing")
        return None
    return resources[key][1]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container(workload, name):
    for c in pod_spec(workload).get("containers", []):
        if c.get("name") == name:
            return c
    return pod_spec(workload)["containers"][0]


def port_number(c, port):
    """A probe's or Service's port, a number or a container port's name, as a number."""
    if isinstance(port, int):
        return port
    for p in c.get("ports", []):
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def container_ports(c):
    return {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}


def options(args):
    """--name value / --name=value pairs of a container's args."""
    found, i = {}, 0
    while i < len(args):
        arg = str(args[i])
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            found[name] = value
        elif arg.startswith("--"):
            found[arg] = str(args[i + 1]) if i + 1 < len(args) and not str(args[i + 1]).startswith("--") else None
            i += found[arg] is not None
        i += 1
    return found


def env(c):
    return {e.get("name"): e for e in c.get("env", [])}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def dockerfile_facts(directory):
    """The image's uid, monitor folder and ports, as the Dockerfile at the repository's root says."""
    path = os.path.join(directory, "..", "..", "Dockerfile")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    uid = re.search(r"useradd[^\n]*--uid (\d+)", text)
    volume = re.search(r'^VOLUME \["([^"]+)"\]', text, re.M)
    expose = re.search(r"^EXPOSE ([\d ]+)$", text, re.M)
    return (int(uid[1]) if uid else None, volume[1] if volume else None,
            [int(p) for p in expose[1].split()] if expose else [])


# ---- (c) topology -------------------------------------------------------------------------------

def check_topology(directory, resources, report):
    """The gym-server side; returns what the HAProxy checks need (replicas, peers, ports)."""
    sts, headless, pvc, secret = (get(resources, k, report) for k in (STATEFULSET, HEADLESS, PVC, SECRET))
    if sts is None:
        return None
    spec, pod = sts["spec"], pod_spec(sts)
    c = container(sts, "gym-server")
    ports = container_ports(c)
    api, files = ports.get("api"), ports.get("files")
    replicas = spec.get("replicas", 1)
    labels = spec["template"]["metadata"].get("labels", {})
    args = options(c.get("args", []))
    variables = env(c)
    volumes = {v.get("name"): v for v in pod.get("volumes", [])}
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts", [])}

    report.equal(spec.get("podManagementPolicy"), "Parallel", "StatefulSet: podManagementPolicy")
    report.check(selects(spec["selector"].get("matchLabels"), labels), "StatefulSet: its selector matches its pods")
    report.equal((api, files), (5000, 8000), "StatefulSet: container ports api and files")
    report.equal((args.get("--port"), args.get("--files-port")), (str(api), str(files)),
                 "StatefulSet: --port and --files-port are the container ports")
    report.equal(args.get("--host"), "0.0.0.0", "StatefulSet: --host listens on every address")

    # The image: its user, its monitor folder.
    uid, volume, exposed = dockerfile_facts(directory)
    security = pod.get("securityContext", {})
    report.check(security.get("runAsNonRoot") is True, "StatefulSet: runAsNonRoot")
    report.equal(security.get("runAsUser"), uid, "StatefulSet: runAsUser is the image's user (Dockerfile)")
    report.equal(args.get("--monitor-dir"), volume, "StatefulSet: --monitor-dir is the image's monitor folder (Dockerfile)")
    report.check({api, files} <= set(exposed), "StatefulSet: the ports are the ones the image exposes",
                 f"{api}, {files} not in EXPOSE {exposed}")
    report.check(c.get("securityContext", {}).get("allowPrivilegeEscalation") is False,
                 "StatefulSet: allowPrivilegeEscalation false")
    limits = c.get("resources", {}).get("limits", {})
    report.check("cpu" in limits and "memory" in limits, "StatefulSet: CPU and memory limits")

    # The headless Service.
    if headless is not None:
        report.equal(spec.get("serviceName"), headless["metadata"]["name"], "StatefulSet: serviceName is the headless Service")
        report.equal(headless["spec"].get("clusterIP"), "None", "Service gym-server: headless (clusterIP: None)")
        report.check(headless["spec"].get("publishNotReadyAddresses") is True, "Service gym-server: publishNotReadyAddresses")
        report.check(selects(headless["spec"].get("selector"), labels), "Service gym-server: selects the StatefulSet's pods")
        service_ports = {p.get("port"): port_number(c, p.get("targetPort", p.get("port"))) for p in headless["spec"].get("ports", [])}
        report.equal(service_ports, {api: api, files: files}, "Service gym-server: ports 5000 and 8000 reach the container's")

    # The replica id and the peers.
    replica_id = variables.get("GYM_SERVER_REPLICA_ID", {})
    report.equal(replica_id.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath"), POD_INDEX,
                 "StatefulSet: GYM_SERVER_REPLICA_ID from the pod-index label (downward API)")
    peers = []
    peer_text = variables.get("GYM_SERVER_PEERS", {}).get("value") or ""
    for item in peer_text.split(","):
        match = PEER.match(item.strip())
        if not match:
            report.fail("StatefulSet: GYM_SERVER_PEERS", f"'{item}' is not ID=HOST:API_PORT:FILES_PORT")
            continue
        peers.append((int(match[1]), match[2], int(match[3]), int(match[4])))
    report.equal(len(peers), replicas, "StatefulSet: GYM_SERVER_PEERS has one entry per replica (spec.replicas)")
    service = spec.get("serviceName")
    expected_peers = [(i, f"{sts['metadata']['name']}-{i}.{service}", api, files) for i in range(replicas)]
    report.equal(sorted(peers), expected_peers, "StatefulSet: GYM_SERVER_PEERS names pods 0..N-1 as <pod>.<serviceName>:api:files")

    # The shared monitor root.
    claim = next((v for v in volumes.values() if "persistentVolumeClaim" in v), None)
    if pvc is not None:
        report.equal(claim and claim["persistentVolumeClaim"].get("claimName"), pvc["metadata"]["name"],
                     "StatefulSet: mounts the claim gym-server-monitor")
        report.equal(pvc["spec"].get("accessModes"), ["ReadWriteMany"], "PersistentVolumeClaim: ReadWriteMany")
    monitor_mount = next((m for m in c.get("volumeMounts", []) if claim and m.get("name") == claim.get("name")), None)
    report.equal(monitor_mount and monitor_mount.get("mountPath"), args.get("--monitor-dir"),
                 "StatefulSet: the claim is mounted at --monitor-dir")
    report.check(not spec.get("volumeClaimTemplates"), "StatefulSet: no per-pod claims (the monitor root is shared)")

    # The Secret: the keys file and the metrics token.
    if secret is not None:
        secret_name = secret["metadata"]["name"]
        secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
        used = set()
        keys_file = args.get("--api-keys-file") or ""
        mount = mounts.get(os.path.dirname(keys_file))
        volume = volumes.get(mount.get("name")) if mount else None
        secret_volume = (volume or {}).get("secret")
        if report.check(secret_volume is not None and secret_volume.get("secretName") == secret_name,
                        "StatefulSet: --api-keys-file lies in a mount of the Secret gym-server-keys",
                        f"nothing of the Secret is mounted at {os.path.dirname(keys_file)!r}"):
            report.check(mount.get("readOnly") is True, "StatefulSet: the Secret is mounted read-only")
            items = secret_volume.get("items")
            files_in_mount = {i["path"]: i["key"] for i in items} if items else {k: k for k in secret_keys}
            used |= set(files_in_mount.values())
            report.check(os.path.basename(keys_file) in files_in_mount,
                         "StatefulSet: --api-keys-file is a file of the mount", f"{keys_file} is not")
            mode = secret_volume.get("defaultMode", 0o644)
            report.check(mode & 0o004 or pod.get("securityContext", {}).get("fsGroup") is not None,
                         "StatefulSet: the keys file is readable by the server's user (mode or fsGroup)")
        token = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", args.get("--metrics-token") or "")
        ref = variables.get(token[1], {}).get("valueFrom", {}).get("secretKeyRef", {}) if token else {}
        report.equal(ref.get("name"), secret_name, "StatefulSet: --metrics-token is $(VAR), VAR from the Secret")
        for variable in variables.values():
            other = variable.get("valueFrom", {}).get("secretKeyRef")
            if other:
                report.equal(other.get("name"), secret_name, f"StatefulSet: {variable['name']} comes from the Secret gym-server-keys")
                used.add(other.get("key"))
        report.equal(sorted(secret_keys), sorted(used), "Secret: its keys are exactly the ones the StatefulSet uses")

    # Probes and Prometheus.
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe not in c and probe == "startupProbe":
            continue
        http = c.get(probe, {}).get("httpGet", {})
        report.equal((http.get("path"), port_number(c, http.get("port"))), ("/healthz", api),
                     f"StatefulSet: {probe} asks /healthz on the API port")
    annotations = spec["template"]["metadata"].get("annotations", {})
    report.equal((annotations.get("prometheus.io/scrape"), annotations.get("prometheus.io/port"),
                  annotations.get("prometheus.io/path")), ("true", str(api), "/metrics"),
                 "StatefulSet: Prometheus annotations name /metrics on the API port")
    return {"replicas": replicas, "peers": sorted(peers), "api": api, "files": files, "labels": labels}


def check_front(resources, fleet, report):
    """The HAProxy Deployment and its Service; returns the start script and the stats port."""
    deployment, front, headless = (get(resources, k, report) for k in (HAPROXY, FRONT, HEADLESS))
    if deployment is None:
        return None
    spec, pod = deployment["spec"], pod_spec(deployment)
    c = container(deployment, "haproxy")
    labels = spec["template"]["metadata"].get("labels", {})
    ports = container_ports(c)
    report.check(selects(spec["selector"].get("matchLabels"), labels), "Deployment gym-server-haproxy: its selector matches its pods")
    report.check(str(c.get("image", "")).startswith("haproxy:2.6"), "Deployment gym-server-haproxy: image haproxy:2.6")
    report.check(spec.get("replicas", 1) >= 2, "Deployment gym-server-haproxy: at least 2 replicas")
    report.equal(sorted(ports.values()), [5000, 8000, 8404], "Deployment gym-server-haproxy: ports 5000, 8000, 8404")
    security = pod.get("securityContext", {})
    report.check(security.get("runAsNonRoot") is True and security.get("runAsUser", 0) != 0,
                 "Deployment gym-server-haproxy: runs as a user that is not root")
    readiness = c.get("readinessProbe", {})
    probed = readiness.get("httpGet", readiness.get("tcpSocket", {})).get("port")
    report.equal(port_number(c, probed), 8404, "Deployment gym-server-haproxy: readiness probe on the stats port 8404")
    volumes = {v.get("name"): v for v in pod.get("volumes", [])}
    mount = next((m for m in c.get("volumeMounts", []) if m.get("mountPath") == HAPROXY_CFG_PATH), None)
    configmap = (volumes.get(mount.get("name")) or {}).get("configMap", {}) if mount else {}
    report.equal((configmap.get("name"), mount and mount.get("subPath")), (CONFIGMAP[1], "haproxy.cfg"),
                 f"Deployment gym-server-haproxy: the ConfigMap's haproxy.cfg is mounted at {HAPROXY_CFG_PATH}")
    if fleet is not None:
        report.check(not selects(spec["selector"].get("matchLabels"), fleet["labels"]),
                     "Deployment gym-server-haproxy: its selector does not take the StatefulSet's pods")
        if headless is not None:
            report.check(not selects(headless["spec"].get("selector"), labels),
                         "Service gym-server: does not select the HAProxy pods")
    if front is not None:
        report.equal(front["spec"].get("type"), "LoadBalancer", "Service gym-server-front: type LoadBalancer")
        report.check(selects(front["spec"].get("selector"), labels), "Service gym-server-front: selects the HAProxy pods")
        if fleet is not None:
            report.check(not selects(front["spec"].get("selector"), fleet["labels"]),
                         "Service gym-server-front: does not select the StatefulSet's pods")
        service_ports = {p.get("port"): port_number(c, p.get("targetPort", p.get("port"))) for p in front["spec"].get("ports", [])}
        report.equal(service_ports, {5000: 5000, 8000: 8000}, "Service gym-server-front: ports 5000 and 8000 reach HAProxy's")
    script = None
    if c.get("command", [])[:2] == ["/bin/sh", "-c"] and len(c.get("args", [])) == 1:
        script = c["args"][0]
    report.check(script is not None, "Deployment gym-server-haproxy: starts through its script (/bin/sh -c SCRIPT)")
    return {"script": script, "ports": ports}


# ---- (b) HAProxy --------------------------------------------------------------------------------

def haproxy_check(cfg_path):
    """`haproxy -c` of a file: (accepted, problem). In a network namespace of its own when it can
    make one (root), so that the servers' names are not looked up in the machine's DNS."""
    command = ["haproxy", "-c", "-f", cfg_path]
    expected = ["could not resolve address"]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-n"] + command
        expected.append("can't connect socket for nameserver")  # no network in there
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    output = (run.stdout + run.stderr).strip()
    # Unresolvable servers are expected offline (init-addr ...,none starts them in maintenance);
    # any other warning fails.
    warnings = [line for line in output.splitlines() if "[WARNING]" in line and not any(e in line for e in expected)]
    alerts = [line for line in output.splitlines() if "[ALERT]" in line]
    if run.returncode != 0 or alerts or warnings:
        return False, f"exit {run.returncode}: " + " | ".join((alerts + warnings)[:5] or output.splitlines()[-3:])
    return True, ""


def load_generator(directory):
    import importlib.util
    path = os.path.join(directory, "make_haproxy_configmap.py")
    spec = importlib.util.spec_from_file_location("make_haproxy_configmap_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server_lines(cfg):
    """(backend, server, host, port) of every server line."""
    found, backend = [], None
    for line in cfg.splitlines():
        if line.startswith("backend "):
            backend = line.split()[1]
        match = re.match(r"^\s+server\s+(\S+)\s+(\S+):(\d+)\s", line)
        if match:
            found.append((backend, match[1], match[2], int(match[3])))
    return found


def check_haproxy(directory, resources, fleet, front, report, tmp):
    configmap = get(resources, CONFIGMAP, report)
    if configmap is None:
        return
    cfg = (configmap.get("data") or {}).get("haproxy.cfg")
    if not report.check(isinstance(cfg, str), "ConfigMap gym-server-haproxy: has haproxy.cfg"):
        return
    replicas = fleet["replicas"] if fleet else 3

    # Equal to make_config.py's output for the peers, run as a user runs it.
    make_config = os.path.join(directory, "..", "haproxy", "make_config.py")
    if fleet and fleet["peers"]:
        argv = []
        for rid, host, api, files in fleet["peers"]:
            argv += ["--replica", f"{rid}={host}:{api}:{files}"]
        argv += ["--resolvers", "--stats-bind", ":8404"]
        run = subprocess.run([sys.executable, make_config] + argv, capture_output=True, text=True)
        if report.check(run.returncode == 0, "deploy/haproxy/make_config.py runs", run.stderr.strip()):
            report.check(cfg == run.stdout, "ConfigMap: haproxy.cfg is exactly make_config.py's output for GYM_SERVER_PEERS "
                         "--resolvers --stats-bind :8404", "it differs: run deploy/kubernetes/make_haproxy_configmap.py")
    try:
        generator = load_generator(directory)
        with open(os.path.join(directory, "haproxy-configmap.yaml"), encoding="utf-8") as f:
            report.check(f.read() == generator.configmap_yaml(replicas),
                         f"haproxy-configmap.yaml is what make_haproxy_configmap.py --replicas {replicas} writes",
                         f"it differs: run deploy/kubernetes/make_haproxy_configmap.py --replicas {replicas}")
    except (Exception, SystemExit) as error:  # noqa: BLE001 - a broken generator is a failed check
        report.fail("deploy/kubernetes/make_haproxy_configmap.py runs", repr(error))

    # Its servers are the fleet's.
    servers = server_lines(cfg)
    routed = sorted(int(b[len("api_r"):]) for b in re.findall(r"^backend (api_r\d+)$", cfg, re.M))
    report.equal(len(routed), replicas, "haproxy.cfg: one routed API backend per replica (spec.replicas)")
    if fleet:
        by_id = {rid: (host, api, files) for rid, host, api, files in fleet["peers"]}
        wrong = [s for s in servers if not (s[1].startswith("r") and s[1][1:].isdigit() and int(s[1][1:]) in by_id
                 and s[2] == by_id[int(s[1][1:])][0]
                 and s[3] == by_id[int(s[1][1:])][1 if s[0].startswith("api_") else 2])]
        report.check(servers and not wrong, "haproxy.cfg: every server is a replica of GYM_SERVER_PEERS on its own port",
                     f"not so: {wrong[:3]}")
    binds = sorted(int(b) for b in re.findall(r"^\s+bind \S*:(\d+)$", cfg, re.M))
    if front:
        report.equal(binds, sorted(front["ports"].values()), "haproxy.cfg: binds the HAProxy container's ports")
    report.check("parse-resolv-conf" in cfg and "resolvers dns" in cfg, "haproxy.cfg: resolves the servers by DNS at run time")

    # haproxy -c, of the ConfigMap's file and of what the start script makes of it.
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w", encoding="utf-8") as f:
        f.write(cfg)
    have_haproxy = shutil.which("haproxy") is not None
    if have_haproxy:
        version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
        accepted, problem = haproxy_check(path)
        report.check(accepted, f"haproxy -c accepts the ConfigMap's haproxy.cfg ({version})", problem)
    else:
        report.skip("haproxy -c accepts the ConfigMap's haproxy.cfg", "haproxy is not installed (apt-get install haproxy)")
    if front and front["script"]:
        check_start_script(front["script"], cfg, path, report, tmp, have_haproxy)


def check_start_script(script, cfg, cfg_path, report, tmp, have_haproxy):
    """Runs the HAProxy container's start script here, with its files moved into `tmp` and a fake
    haproxy that records how it was called, for a pod of namespace 'testns'."""
    suffix = "testns.svc.cluster.local"
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"search {suffix} svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n")
    out = os.path.join(tmp, "started.cfg")
    moved = script
    for old, new in (("/etc/resolv.conf", resolv), (HAPROXY_CFG_PATH, cfg_path), ("/tmp/haproxy.cfg", out)):
        if old not in moved:
            report.fail("HAProxy start script", f"it does not name {old}")
            return
        moved = moved.replace(old, new)
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    called = os.path.join(tmp, "haproxy-args")
    with open(os.path.join(bin_dir, "haproxy"), "w") as f:
        f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" > "{called}"\n')
    os.chmod(os.path.join(bin_dir, "haproxy"), 0o755)
    environment = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    run = subprocess.run(["/bin/sh", "-c", moved], env=dict(environment, POD_NAMESPACE="testns"),
                         capture_output=True, text=True, timeout=60)
    if not report.check(run.returncode == 0 and os.path.exists(called), "HAProxy start script runs (namespace testns)",
                        f"exit {run.returncode}: {run.stderr.strip()}"):
        return
    with open(called) as f:
        report.equal(f.read().strip(), f"-W -db -f {out}", "HAProxy start script: runs haproxy -W -db on its completed copy")
    with open(out, encoding="utf-8") as f:
        started = f.read()
    expected = re.sub(r"^(\s+server\s+\S+\s+[A-Za-z0-9-]+\.[A-Za-z0-9-]+):(\d+\s)", rf"\1.{suffix}:\2", cfg, flags=re.M)
    hosts = {s[2] for s in server_lines(started)}
    report.check(started == expected and hosts and all(h.endswith("." + suffix) for h in hosts),
                 "HAProxy start script: completes every server's name with the namespace's domain, changes nothing else",
                 f"hosts {sorted(hosts)[:3]}")
    if have_haproxy:
        accepted, problem = haproxy_check(out)
        report.check(accepted, "haproxy -c accepts the start script's configuration", problem)
    else:
        report.skip("haproxy -c accepts the start script's configuration", "haproxy is not installed")
    wrong = subprocess.run(["/bin/sh", "-c", moved], env=dict(environment, POD_NAMESPACE="elsewhere"),
                           capture_output=True, text=True, timeout=60)
    report.check(wrong.returncode != 0, "HAProxy start script: refuses a search list that is not its namespace's")


# ---- main ---------------------------------------------------------------------------------------

def validate(directory, version):
    report = Report()
    print(f"validate_kubernetes: {os.path.relpath(directory, os.getcwd())} against the Kubernetes {version} "
          f"schemas (strict) of kubernetes-validate {KV_VERSION}")
    supported = kv_utils.all_versions()
    if kv_utils.major_minor(version) not in {kv_utils.major_minor(v) for v in supported}:
        report.fail("Kubernetes version", f"kubernetes-validate {KV_VERSION} has no schemas for {version} "
                    f"(it has {supported[0]} to {supported[-1]})")
        return report
    resources, manifests = load_manifests(directory, report)
    print("(a) schemas")
    check_schemas(resources, version, report)
    check_kustomization(directory, manifests, report)
    print("(c) topology")
    fleet = front = None
    try:
        fleet = check_topology(directory, resources, report)
        front = check_front(resources, fleet, report)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
        report.fail("topology", f"a manifest lacks what the checks read: {type(error).__name__} {error}")
    print("(b) HAProxy")
    with tempfile.TemporaryDirectory(prefix="validate-k8s-") as tmp:
        try:
            check_haproxy(directory, resources, fleet, front, report, tmp)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
            report.fail("HAProxy", f"a manifest lacks what the checks read: {type(error).__name__} {error}")
    return report


# (name, file, text to replace (exactly once), replacement, what the failure must say, regenerate the ConfigMap)
MUTATIONS = [
    ("unknown field in the StatefulSet's container", "gym-server-statefulset.yaml",
     "            readOnlyRootFilesystem: true\n", "            readOnlyRootFilesystem: true\n            runAsRoot: false\n",
     "Additional properties are not allowed ('runAsRoot' was unexpected)", False),
    ("unknown field in the StatefulSet's spec", "gym-server-statefulset.yaml",
     "  podManagementPolicy: Parallel\n", "  podManagementPolicy: Parallel\n  podManagmentPolicy: Parallel\n",
     "'podManagmentPolicy' was unexpected", False),
    ("unknown field in the HAProxy Deployment", "haproxy-deployment.yaml",
     "          imagePullPolicy: IfNotPresent\n", "          imagePullPolicy: IfNotPresent\n          restartPolicyy: Always\n",
     "'restartPolicyy' was unexpected", False),
    ("replicas: 4", "gym-server-statefulset.yaml", "  replicas: 3\n", "  replicas: 4\n",
     "GYM_SERVER_PEERS has one entry per replica", False),
    ("replicas as a string", "gym-server-statefulset.yaml", "  replicas: 3\n", '  replicas: "3"\n',
     "is not of type 'integer'", False),
    ("a key given twice", "gym-server-statefulset.yaml", "  serviceName: gym-server\n",
     "  serviceName: gym-server\n  serviceName: gym-server\n", "is given twice", False),
    ("haproxy.cfg edited by hand", "haproxy-configmap.yaml", "        maxconn 4096\n", "        maxconn 8192\n",
     "haproxy.cfg is exactly make_config.py's output", False),
    ("a peer on the wrong Service", "gym-server-statefulset.yaml", "1=gym-server-1.gym-server:5000:8000",
     "1=gym-server-1.gym-srv:5000:8000", "GYM_SERVER_PEERS names pods", False),
    ("Service renamed", "gym-server-service.yaml", "  name: gym-server\n", "  name: gym-server-headless\n",
     "Service gym-server: missing", False),
    ("claim renamed", "monitor-pvc.yaml", "  name: gym-server-monitor\n", "  name: gym-server-monitors\n",
     "PersistentVolumeClaim gym-server-monitor: missing", False),
    ("Secret key renamed", "api-keys-secret.yaml", "  metrics-token: ", "  metrics_token: ",
     "its keys are exactly the ones the StatefulSet uses", False),
    ("liveness probe on another path", "gym-server-statefulset.yaml",
     "          livenessProbe:\n            httpGet:\n              path: /healthz\n",
     "          livenessProbe:\n            httpGet:\n              path: /health\n",
     "livenessProbe asks /healthz on the API port", False),
    ("readiness probe on the files port", "gym-server-statefulset.yaml",
     "          readinessProbe:\n            httpGet:\n              path: /healthz\n              port: api\n",
     "          readinessProbe:\n            httpGet:\n              path: /healthz\n              port: files\n",
     "readinessProbe asks /healthz on the API port", False),
    ("kustomization without a manifest", "kustomization.yaml", "  - monitor-pvc.yaml\n", "",
     "kustomization.yaml lists every manifest", False),
    ("start script running the short names", "haproxy-deployment.yaml",
     "exec haproxy -W -db -f /tmp/haproxy.cfg", "exec haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg",
     "runs haproxy -W -db on its completed copy", False),
    ("a configuration haproxy rejects (make_config.py broken, ConfigMap regenerated)", "../haproxy/make_config.py",
     'add("    maxconn 4096")', 'add("    maxconnections 4096")', "haproxy -c accepts the ConfigMap's haproxy.cfg", True),
]


def self_test(version):
    """Breaks copies of deploy/ one way at a time; this script must fail on each, as expected."""
    print(f"validate_kubernetes --self-test: {len(MUTATIONS)} broken copies of deploy/, and one unbroken")
    passed = failed = 0
    have_haproxy = shutil.which("haproxy") is not None

    def run(directory):
        command = [sys.executable, os.path.abspath(__file__), "--dir", directory, "--kubernetes-version", version]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    with tempfile.TemporaryDirectory(prefix="validate-k8s-self-test-") as tmp:
        def fresh(name):
            root = os.path.join(tmp, name)
            shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(root, "deploy"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(os.path.join(ROOT, "Dockerfile"), root)
            return os.path.join(root, "deploy", "kubernetes")

        directory = fresh("unbroken")
        result = run(directory)
        if result.returncode == 0:
            passed += 1
            print(f"  ok    the unbroken copy passes ({result.stdout.strip().splitlines()[-1]})")
        else:
            failed += 1
            print(f"  FAIL  the unbroken copy fails:\n{result.stdout}{result.stderr}")
        for index, (name, file, old, new, message, regenerate) in enumerate(MUTATIONS):
            if "haproxy -c" in message and not have_haproxy:
                print(f"  SKIP  {name}: haproxy is not installed")
                continue
            directory = fresh(f"m{index}")
            path = os.path.join(directory, file)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text.count(old) != 1:
                failed += 1
                print(f"  FAIL  {name}: the text to break is in {file} {text.count(old)} times, not once: update MUTATIONS")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new))
            if regenerate:
                subprocess.run([sys.executable, os.path.join(directory, "make_haproxy_configmap.py")], check=True)
            result = run(directory)
            fails = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("FAIL")]
            hit = next((line for line in fails if message in line), None)
            if result.returncode != 0 and hit:
                passed += 1
                print(f"  ok    {name}: exit {result.returncode}, {hit[:200]}")
            else:
                failed += 1
                print(f"  FAIL  {name}: exit {result.returncode}, expected a failure saying {message!r}; got {fails[:3]}"
                      f"{result.stderr.strip()[-300:]}")
    print(f"self-test: {passed} passed, {failed} failed")
    return failed == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=DEFAULT_DIR, help="the manifests' folder (default deploy/kubernetes)")
    parser.add_argument("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION,
                        help=f"the Kubernetes version whose schemas to check against (default {DEFAULT_KUBERNETES_VERSION})")
    parser.add_argument("--self-test", action="store_true",
                        help="also check that broken copies of the manifests fail")
    args = parser.parse_args(argv)
    report = validate(os.path.abspath(args.dir), args.kubernetes_version)
    print(f"kubernetes: {report.passed} passed, {report.failed} failed" + (f", {report.skipped} skipped" if report.skipped else ""))
    ok = report.failed == 0
    if args.self_test:
        ok = self_test(args.kubernetes_version) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
