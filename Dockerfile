# syntax=docker/dockerfile:1
#
# One image holding all three logagg binaries:
#   /usr/local/bin/logagg-api        HTTP API (also `logagg-api migrate`)
#   /usr/local/bin/logagg-consumer   consumer-group worker
#   /usr/local/bin/logagg-producer   idempotent producer / load generator
#
# docker-compose.yml picks the binary per service with `command:`.
# Build by hand:  docker build -t logagg:local .
#                 docker run --rm logagg:local logagg-api --help

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

############################## builder ##############################
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

# rdkafka is built with its `cmake-build` feature (librdkafka compiled from
# source), which needs a C/C++ toolchain, cmake and these -dev packages.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        cmake g++ make pkg-config \
        libssl-dev libcurl4-openssl-dev libsasl2-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# The whole workspace (see .dockerignore for what is left out). migrations/
# must be part of it: core embeds them at compile time (embed_migrations!).
COPY . .

# Dependency caching: BuildKit cache mounts keep the cargo registry and the
# target directory (librdkafka's cmake build included) between builds, so a
# source change recompiles only the logagg crates. The binaries are copied out
# of the cache mount inside the same step.
RUN --mount=type=cache,id=logagg-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=logagg-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=logagg-target,target=/src/target \
    cargo build --release --locked --bins -p logagg-api -p logagg-consumer -p logagg-loadgen \
 && mkdir -p /out \
 && for bin in logagg-api logagg-consumer logagg-producer; do \
        install -m 0755 "target/release/${bin}" "/out/${bin}"; \
    done

############################## runtime ##############################
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# Shared libraries the binaries link against (librdkafka's deps), CA
# certificates, curl for container health checks and tini as PID 1 so that
# SIGTERM from `docker stop` reaches the binary and zombies are reaped.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates libssl3 libcurl4 libsasl2-2 zlib1g curl tini \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 logagg \
 && useradd --system --uid 10001 --gid logagg --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin logagg

COPY --from=builder /out/logagg-api /out/logagg-consumer /out/logagg-producer /usr/local/bin/

# Container defaults: listen on all interfaces (the binaries default to
# 127.0.0.1 for local runs) and log JSON. Everything else comes from the
# environment (LOGAGG_KAFKA_BROKERS, DATABASE_URL, ...), see docker-compose.yml.
ENV LOGAGG_API_ADDR=0.0.0.0:8080 \
    LOGAGG_CONSUMER_ADDR=0.0.0.0:8081 \
    LOGAGG_LOG_JSON=true \
    RUST_LOG=info

USER 10001:10001
WORKDIR /
EXPOSE 8080 8081

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["logagg-api"]
