# syntax=docker/dockerfile:1
#
# The tracedojo image: the one `tracedojo` binary, which runs every part of the shop. Each
# container picks its part with its command, e.g. `service catalog`, `explore`, `fault serve`
# or `load` (docker-compose.yml runs them all from this one image).
#
#   docker build -t tracedojo:local .
#   docker run --rm -p 8090:8090 tracedojo:local explore --ui-address 0.0.0.0:8090
#
# Two stages: the first compiles the binary with the full Rust toolchain, the second is a
# small Debian image holding only the binary and the CA certificates (for HTTPS backends).

# ---- build ---------------------------------------------------------------------------------
# Bookworm for the builder too: the binary links against the C library of the image it is
# built on, so it must not be newer than the runtime's.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crates downloaded and the compiled dependencies between builds
# (BuildKit, the default builder of current Docker), so a rebuild after a code change compiles
# only the crates that changed. The target directory is a cache, not part of the image, so the
# binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tracedojo \
    && cp target/release/tracedojo /usr/local/bin/tracedojo

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# Not pinned to a version: Debian's security updates replace the pinned one in the archive,
# and the build would then fail.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A user of its own, without a login shell; its home is the working directory, where a
# service started without a database URL keeps its SQLite files (tracedojo-data/).
RUN groupadd --system --gid 10001 tracedojo \
    && useradd --system --uid 10001 --gid tracedojo --home-dir /var/lib/tracedojo \
        --create-home --shell /usr/sbin/nologin tracedojo
COPY --from=build /usr/local/bin/tracedojo /usr/local/bin/tracedojo
# By number, so that a platform can tell it is not root without reading /etc/passwd
# (Kubernetes' runAsNonRoot).
USER 10001:10001
WORKDIR /var/lib/tracedojo
# The shop's ports (frontend 8080 ... recommendation 8087), the fault control API, the
# explorer's UI and its OTLP receivers. Nothing listens beyond the container's loopback unless
# told to (--host 0.0.0.0, TRACEDOJO_HOST, --listen, --ui-address ...).
EXPOSE 8080-8087 8089 8090 4317 4318
# A shop service answers GET /health on its port (PORT, as docker-compose.yml sets it; 8080
# if unset). The image has no curl or wget and tracedojo has no probe command, so the check
# speaks HTTP through bash's /dev/tcp (bash, head and grep are part of every Debian image).
# Containers that run something else (explore, fault serve, load) set their own check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["tracedojo"]
CMD ["--help"]
