# Coffer: build with the pinned toolchain, run as a non-root user on a slim base.
# Stages: `runtime` (the image without a command), `test` (a throwaway S3 for CI jobs, a
# static binary and nothing else: `docker build --target test -t coffer:test .`) and
# `production`, the last, which a plain `docker build` gives.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p coffer-server \
 && install -D -m 0755 target/release/coffer /out/coffer

# No packages added: Coffer opens no outbound connection (no CA bundle needed), rustls with
# ring needs no OpenSSL, and the binary needs only the base's glibc.
FROM debian:bookworm-slim AS runtime
RUN groupadd --system --gid 10001 coffer \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin coffer \
 && mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data
COPY --from=builder /out/coffer /usr/local/bin/coffer
# Numeric, so that an orchestrator can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 9000
# The slim base has no curl: the binary probes its own readiness (README "Health and
# metrics"); unhealthy while sealed, shutting down or unable to write /data. The address
# comes from the variable, not a flag, so `-e COFFER_HEALTH_ADDR=127.0.0.1:9477` points it
# at the metrics listener when 9000 serves TLS only (the probe speaks plain HTTP).
# --timeout exceeds the probe's own 5 s limit, so the probe reports why it failed.
ENV COFFER_HEALTH_ADDR=127.0.0.1:9000
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
  CMD ["coffer", "health"]
ENTRYPOINT ["coffer"]

# The test image's binary: linked statically (musl), so its stage needs no base image at
# all. musl's allocator is slower than glibc's under many threads: fine for a test suite's
# S3, and why production keeps the glibc build above. The target follows the build
# machine (x86_64 or aarch64).
FROM rust:1.95-bookworm AS static-builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && cargo build --release --locked -p coffer-server --target "$target" \
 && install -D -m 0755 "target/$target/release/coffer" /out/coffer

# Test mode (README "Container"), for a CI job's service container, which cannot replace
# the command: no files at all (--in-memory: data, index and keys in memory, sealed as on
# disk, at most --max-memory, default 1GiB, set by COFFER_MAX_MEMORY), fixture
# buckets from COFFER_BUCKETS=a,b, and fixed credentials from COFFER_ROOT_ACCESS_KEY and
# COFFER_ROOT_SECRET_KEY (the secret 16 characters or more: --test-credentials needs a
# loopback listener); without them it generates credentials and prints them on stdout.
# It runs until the container is stopped: a container's stdin and parent say nothing about
# the job, so --exit-with-parent is off. Plain HTTP on 0.0.0.0 (--insecure-http) with CI
# credentials: for throwaway jobs only. Ready once the health check passes (a job can
# poll sooner with --health-interval) or the `serving` log line appears.
# The image is the binary alone: no shell, no /tmp (so --ephemeral would need a writable
# TMPDIR mounted; --in-memory needs none), no /etc/passwd (the user is numeric).
# examples/github-actions/s3-tests.yml uses it; tests/integration/examples.rs runs this
# command with that workflow's service environment and steps.
FROM scratch AS test
COPY --from=static-builder /out/coffer /usr/local/bin/coffer
ENV PATH=/usr/local/bin
USER 10001:10001
EXPOSE 9000
# As the runtime's health check: the binary probes its own readiness.
ENV COFFER_HEALTH_ADDR=127.0.0.1:9000
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
  CMD ["coffer", "health"]
ENTRYPOINT ["coffer"]
CMD ["serve", "--in-memory", "--listen", "0.0.0.0:9000", "--insecure-http", "--exit-with-parent", "off"]

# Production, the default stage.
FROM runtime AS production
# P7: plain HTTP is served only on loopback unless --insecure-http is given. Inside a
# container the listener must bind 0.0.0.0, so this default opts in explicitly. In
# production, mount a certificate and override the command with --tls-cert/--tls-key
# (SIGHUP reloads it; --insecure-http must then go), or terminate TLS in front of the
# container; never publish this port unencrypted. Add --domain NAME when clients address
# buckets as <bucket>.NAME (README: "Serving under a hostname"). Behind docker's port
# publishing or a proxy every client may share one address: raise
# --max-connections-per-address (default 64) to match.
# Config file: flags beat the file, so to configure from one, mount it (e.g. at
# /etc/coffer/coffer.toml) and replace this command with
# `serve --config /etc/coffer/coffer.toml`; the file then sets data.dir = "/data" and
# listen.address = "0.0.0.0:9000" itself (README "Configuration").
# Credentials: pass COFFER_ROOT_ACCESS_KEY / COFFER_ROOT_SECRET_KEY or read the generated
# ones from the first start's output. Keys: mount a key file as a secret (not in /data) and
# set COFFER_MASTER_KEY_FILE to it; without one the data directory must be set up with
# `coffer init` and the container starts sealed until `coffer unlock`.
CMD ["serve", "--data", "/data", "--listen", "0.0.0.0:9000", "--insecure-http"]
