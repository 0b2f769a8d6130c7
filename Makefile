# gym-server: `make run` runs the server (API on :5000, files and web view on :8000);
# `make test` runs every test. Both install what they need on a Debian machine first.

SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 5000
FILES_PORT ?= 8000
MONITOR_DIR ?= ./monitor
VENV ?= .venv
PYTHON ?= python3

.PHONY: run build release deps deps-test venv test test-swift test-python test-browser test-image bench clean cluster

deps:
	@scripts/setup/install-deps.sh run

deps-test:
	@scripts/setup/install-deps.sh test

release: deps
	$(SWIFT) build -c release --product gym-server
	$(SWIFT) build -c release --product gym-load

build: deps
	$(SWIFT) build

run: release
	.build/release/gym-server --host $(HOST) --port $(PORT) --files-port $(FILES_PORT) --monitor-dir $(MONITOR_DIR)

# A fleet on one machine (docs/SCALING.md): REPLICAS replicas (API ports 5001..., files ports
# 8001...) sharing MONITOR_DIR behind HAProxy on 5000 and 8000; Ctrl-C stops everything.
REPLICAS ?= 3
cluster: release
	@scripts/setup/install-deps.sh cluster
	python3 scripts/cluster/cluster.py --server .build/release/gym-server --replicas $(REPLICAS) --monitor-dir $(MONITOR_DIR) --host $(HOST)

# Python that the tests need (old gym 0.21 for load_results, Gymnasium for conformance), in an
# ignored virtualenv; the Swift build never needs it.
venv: deps-test
	@scripts/setup/make-venv.sh $(VENV)

# Every stage prints its time (scripts/test/stage.sh); CI must stay well under its 90 minutes.
test:
	@scripts/test/stage.sh setup $(MAKE) --no-print-directory deps-test venv
	@scripts/test/stage.sh swift-test $(MAKE) --no-print-directory test-swift
	@scripts/test/stage.sh python $(MAKE) --no-print-directory test-python
	@scripts/test/stage.sh client $(MAKE) --no-print-directory test-client
	@scripts/test/stage.sh trainers $(MAKE) --no-print-directory test-trainers
	@scripts/test/stage.sh cluster $(MAKE) --no-print-directory test-cluster test-kubernetes
	@scripts/test/stage.sh browser $(MAKE) --no-print-directory test-browser
	@scripts/test/stage.sh image $(MAKE) --no-print-directory test-image

# Under a watchdog (scripts/test/swift-test.sh): a test that never ends fails the run and names itself.
test-swift: deps-test venv
	GYM_TEST_PYTHON=$(abspath $(VENV))/bridge/bin/python GYM021_PYTHON=$(abspath $(VENV))/gym021/bin/python \
		SWIFT=$(SWIFT) scripts/test/swift-test.sh

test-python: release
	GYM021_PYTHON=$(abspath $(VENV))/gym021/bin/python \
		$(VENV)/gymnasium/bin/python scripts/test/e2e_test.py --server .build/release/gym-server
	GYM021_PYTHON=$(abspath $(VENV))/gym021/bin/python \
		$(VENV)/gymnasium/bin/python scripts/test/e2e_service_test.py --server .build/release/gym-server --load .build/release/gym-load
	$(VENV)/gymnasium/bin/python scripts/test/e2e_vector_test.py --server .build/release/gym-server
	$(VENV)/gymnasium/bin/python scripts/test/openai_suite.py --server .build/release/gym-server
	$(VENV)/schemathesis/bin/python scripts/test/fuzz_api.py --server .build/release/gym-server
	$(VENV)/gymnasium/bin/python scripts/test/e2e_metrics_test.py --server .build/release/gym-server
	$(VENV)/bridge/bin/python -m pytest -q bridge/tests

# The Python client (clients/python, installed in $(VENV)/client; test_sb3.py is the trainers
# stage's, in a virtualenv with torch) against the release server (and
# against one serving bridged environments with $(VENV)/bridge's Python: tests/test_bridge.py),
# then the example agents (Python and C++) against one of their own.
.PHONY: test-client
test-client: deps-test release venv
	@scripts/setup/make-client-venv.sh $(VENV)/client
	GYM_SERVER_BINARY=$(abspath .build/release/gym-server) GYM_TEST_BRIDGE_PYTHON=$(abspath $(VENV))/bridge/bin/python \
		$(VENV)/client/bin/python -m pytest -q -p no:cacheprovider clients/python/tests --ignore=clients/python/tests/test_sb3.py
	PYTHON=$(VENV)/client/bin/python examples/run_examples_test.sh --server .build/release/gym-server 3

# Stable-Baselines3 through gym-server against the same runs in process
# (clients/python/tests/test_sb3.py; the client stage runs the rest), in $(VENV)/sb3: CPU
# torch, stable-baselines3 and the client with its [sb3] extra (scripts/setup/make-sb3-venv.sh,
# made once and kept).
# The fleet (docs/SCALING.md): 3 replicas behind HAProxy on 5000/8000 (scripts/cluster/cluster.py),
# checked through the front: routing, lists, Gymie, the client (sharded too), the dashboard in
# Chromium, Prometheus, kill -9 (scripts/test/cluster_test.py).
.PHONY: test-cluster
test-cluster: deps-test release venv
	@scripts/setup/make-client-venv.sh $(VENV)/client
	$(VENV)/client/bin/python scripts/test/cluster_test.py --server .build/release/gym-server \
		--browser-python $(VENV)/browser/bin/python --suite-python $(VENV)/gymnasium/bin/python --gym021-python $(VENV)/gym021/bin/python

# The Kubernetes manifests (deploy/kubernetes/), offline: strict schemas of Kubernetes 1.30
# (kubernetes-validate in $(VENV)/k8s), HAProxy's configuration (haproxy -c), the fleet's
# topology; --self-test proves it fails on broken copies (scripts/test/validate_kubernetes.py).
.PHONY: test-kubernetes
test-kubernetes: deps-test
	@scripts/setup/make-k8s-venv.sh $(VENV)/k8s
	$(VENV)/k8s/bin/python scripts/test/validate_kubernetes.py --kubernetes-version 1.30.0 --self-test

.PHONY: test-trainers
test-trainers: deps-test release
	@scripts/setup/make-sb3-venv.sh $(VENV)/sb3
	GYM_SERVER_BINARY=$(abspath .build/release/gym-server) \
		$(VENV)/sb3/bin/python -m pytest -q -p no:cacheprovider clients/python/tests/test_sb3.py

# Headless Chromium opens the live view and the dashboard of a running release server.
test-browser: release venv
	$(VENV)/browser/bin/python scripts/test/browser_test.py --server .build/release/gym-server --python $(abspath $(VENV))/bridge/bin/python

# Builds the Dockerfile (docker, else buildah with stand-in base images) and runs the image: both
# ports, its user, its volume, videos, SIGTERM, the HEALTHCHECK, /metrics (scripts/image/test-image.sh).
test-image:
	scripts/image/test-image.sh

bench: deps-test venv release
	scripts/bench/bench.sh

clean:
	rm -rf .build $(VENV)
