# syntax=docker/dockerfile:1
# One image with Flint's three binaries: flint-controller, flint-invoker and
# the flint CLI. The Helm chart (charts/flint) runs the first two from it.
#
#   docker build -t REGISTRY/flint:0.1.0 .
#
# charts/lint.sh checks that this file agrees with the repository (toolchain,
# package and binary names, user id); no Docker engine runs where CI runs, so
# the image itself is not built there.

# --- build ------------------------------------------------------------------
# The toolchain pinned in rust-toolchain.toml. Debian bookworm, like the
# runtime stage: a binary linked against a newer glibc does not start on an
# older one. rustup reads rust-toolchain.toml here too and may add the
# components it lists (wasm32-wasip2, clippy, rustfmt); the servers need none.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io downloads and the target folder between
# builds (BuildKit). The binaries are copied out of the cached target folder,
# which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p flint-controller -p flint-invoker -p flint \
    && mkdir -p /out \
    && cp target/release/flint-controller target/release/flint-invoker target/release/flint /out/

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: for TLS to Kafka brokers and other HTTPS endpoints.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed, non-root uid/gid (10001): the chart's securityContext runs as it
# and sets fsGroup to it so the volumes are writable.
RUN groupadd --system --gid 10001 flint \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/flint \
       --no-create-home --shell /usr/sbin/nologin flint \
    && mkdir -p /var/lib/flint /var/cache/flint \
    && chown 10001:10001 /var/lib/flint /var/cache/flint
COPY --from=build /out/ /usr/local/bin/
# Where the chart mounts the controller's store and the invoker's artifact cache.
ENV FLINT_DATA=/var/lib/flint \
    FLINT_CACHE=/var/cache/flint
WORKDIR /var/lib/flint
USER 10001:10001
# 7070: controller API; 8080: invoker HTTP ingress; 9090: invoker admin.
EXPOSE 7070 8080 9090
LABEL org.opencontainers.image.title="flint" \
      org.opencontainers.image.description="Flint: self-hosted Function-as-a-Service for WebAssembly components" \
      org.opencontainers.image.licenses="Apache-2.0"
# The chart sets the command (flint-controller or flint-invoker); a bare
# `docker run` prints the CLI's help.
CMD ["flint", "--help"]
