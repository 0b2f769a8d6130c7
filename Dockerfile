# gym-server in a container: the API on :5000, the files and the web view on :8000.
#
#   docker build -t gym-server .                          # slim: the native environments
#   docker build --target full -t gym-server:full .       # full: plus Gymnasium's in Python
#   docker run -p 5000:5000 -p 8000:8000 -v "$PWD/monitor:/monitor" gym-server
#
# Stages: the Swift toolchain image builds the release binary (the Swift runtime and Foundation
# linked in statically); `runtime`, a slim Debian, holds that binary plus the C libraries it loads
# (libpng, FFmpeg's libav* with libx264). Two targets run it: `slim` (the last stage, so the
# default of a plain `docker build`: the image this file made before it had targets), which is
# `runtime` with a label, and `full`, which adds Debian's Python 3.11 in a virtualenv (/opt/gym)
# with Gymnasium, Box2D, MuJoCo and Atari, the bridge on (GYM_SERVER_PYTHON) and MuJoCo drawing
# headless through OSMesa. Both need BuildKit (Docker's default builder), buildah or podman.

ARG SWIFT_VERSION=6.3

# ---- build ---------------------------------------------------------------------------------
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      pkg-config libpng-dev libavcodec-dev libavformat-dev libswscale-dev libavutil-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so they stay cached while the sources change (Package.resolved is optional).
COPY Package.swift Package.resolve[d] ./
RUN swift package resolve
COPY Sources Sources
COPY Tests Tests
# What the EmbedSources build plugin builds into the binary: the pages, the OpenAPI documents and
# the bridge's Python worker.
COPY Plugins Plugins
COPY web web
COPY docs/openapi.json docs/openapi-files.json docs/
COPY bridge/gym_server_worker.py bridge/
# As `make release` builds it, with the Swift runtime linked in; stripped (`install -s`: 71 MB
# instead of 121 MB). The build folder goes in the same step: no later build could reuse it (a
# change of sources reruns this step from the layer above), and a layer of gigabytes that a
# builder keeps (BuildKit's cache, buildah --layers) costs time and disk.
RUN swift build -c release --product gym-server --static-swift-stdlib \
 && install -D -s "$(swift build -c release --show-bin-path)/gym-server" /out/gym-server \
 && rm -rf .build

# ---- runtime: what both targets run --------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpng16-16 libavcodec59 libavformat59 libswscale6 libavutil57 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gym \
 && mkdir -p /monitor && chown gym:gym /monitor
COPY --from=build /out/gym-server /usr/local/bin/gym-server
USER gym
# Rendered frames, monitor statistics and videos; served on port 8000.
VOLUME ["/monitor"]
EXPOSE 5000 8000
# The binary asks its own GET /healthz (no HTTP client in the image): healthy while the API, the
# files port and the recorder work. A server started with another --port needs
# docker run --health-cmd '/usr/local/bin/gym-server healthcheck --port <port>'.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/gym-server", "healthcheck", "--port", "5000"]
ENTRYPOINT ["/usr/local/bin/gym-server"]
CMD ["--host", "0.0.0.0", "--port", "5000", "--files-port", "8000", "--monitor-dir", "/monitor"]

# ---- full: runtime plus Python, serving every Gymnasium id through the bridge --------------
FROM runtime AS full
LABEL org.opencontainers.image.description="gym-server with Python: every Gymnasium id (Box2D, MuJoCo, Atari) bridged"
USER root
# Bookworm's Python (3.11: box2d, pygame, mujoco and ale-py have wheels for it, no compiler is
# needed) and OSMesa, MuJoCo's software renderer: frames without a GPU or a display.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libosmesa6 \
 && rm -rf /var/lib/apt/lists/*
# Every package pinned (scripts/image/requirements-full.txt); the list stays in the image.
# WHEELS: a folder of wheels mounted at build time to install from instead of PyPI, for builders
# that cannot reach it (scripts/image/test-image.sh mounts one: buildah bud --volume
# DIR:/mnt/wheels:ro --build-arg WHEELS=/mnt/wheels). pip's cache is a BuildKit/buildah cache
# mount: a rebuild after a change of pins downloads only what changed.
COPY scripts/image/requirements-full.txt /opt/gym/requirements.txt
ARG WHEELS=""
RUN --mount=type=cache,id=gym-server-pip,target=/root/.cache/pip,sharing=locked \
    python3 -m venv /opt/gym \
 && /opt/gym/bin/pip install --disable-pip-version-check --root-user-action=ignore \
      ${WHEELS:+--no-index --find-links=$WHEELS} -r /opt/gym/requirements.txt
# More packages for the environments you serve, held to the pins above:
#   docker build --target full --build-arg EXTRA_PIP="networkx==3.6.1" -t gym-server:full .
# (examples/docker/Dockerfile.lab builds on this image instead, with a module of its own).
ARG EXTRA_PIP=""
RUN --mount=type=cache,id=gym-server-pip,target=/root/.cache/pip,sharing=locked \
    if [ -n "$EXTRA_PIP" ]; then \
      /opt/gym/bin/pip install --disable-pip-version-check --root-user-action=ignore \
        ${WHEELS:+--no-index --find-links=$WHEELS} -c /opt/gym/requirements.txt $EXTRA_PIP; \
    fi
# The bridge is on whatever options `docker run` gives (GYM_SERVER_PYTHON= turns it off); MuJoCo
# draws through OSMesa (PyOpenGL's platform with it).
ENV GYM_SERVER_PYTHON=/opt/gym/bin/python \
    MUJOCO_GL=osmesa \
    PYOPENGL_PLATFORM=osmesa
USER gym
# As runtime's, plus ale_py, which registers the ALE/* ids in every worker. Options given to
# `docker run` replace these: repeat `--python-import ale_py` to keep the Atari ids.
CMD ["--host", "0.0.0.0", "--port", "5000", "--files-port", "8000", "--monitor-dir", "/monitor", \
     "--python-import", "ale_py"]

# ---- slim: the default target: the native environments, no Python --------------------------
# (An instruction of its own: buildah 1.28 leaves a working container behind for an empty stage.)
FROM runtime AS slim
LABEL org.opencontainers.image.description="gym-server: the OpenAI gym HTTP API and Gymnasium's environments, native"
