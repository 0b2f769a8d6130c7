# gym-server in a container: the API on :5000, the files and the web view on :8000.
#
#   docker build -t gym-server .
#   docker run -p 5000:5000 -p 8000:8000 -v "$PWD/monitor:/monitor" gym-server
#
# Two stages: the Swift toolchain image builds the release binary (the Swift runtime and
# Foundation linked in statically), and a slim Debian runtime holds that binary plus the C
# libraries it loads (libpng, FFmpeg's libav* with libx264).

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
# instead of 121 MB).
RUN swift build -c release --product gym-server --static-swift-stdlib \
 && install -D -s "$(swift build -c release --show-bin-path)/gym-server" /out/gym-server

# ---- run -----------------------------------------------------------------------------------
FROM debian:bookworm-slim
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
