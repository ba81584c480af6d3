# Coffer: build with the pinned toolchain, run as a non-root user on a slim base.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p coffer-server \
 && install -D -m 0755 target/release/coffer /out/coffer

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin coffer \
 && mkdir -p /data && chown coffer:coffer /data && chmod 0700 /data
COPY --from=builder /out/coffer /usr/local/bin/coffer
USER coffer
VOLUME ["/data"]
EXPOSE 9000
# The slim base has no curl: the binary probes its own readiness (README "Health and
# metrics"); unhealthy while sealed, shutting down or unable to write /data. With TLS only
# on 9000, add --metrics-listen to the command and probe that address instead.
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
  CMD ["coffer", "health", "--addr", "127.0.0.1:9000"]
ENTRYPOINT ["coffer"]
# P7: plain HTTP is served only on loopback unless --insecure-http is given. Inside a
# container the listener must bind 0.0.0.0, so this default opts in explicitly. In
# production, mount a certificate and override the command with --tls-cert/--tls-key
# (SIGHUP reloads it), or terminate TLS in front of the container; never publish this
# port unencrypted. Add --domain NAME when clients address buckets as <bucket>.NAME
# (README: "Serving under a hostname"). Behind docker's port publishing or a proxy every
# client may share one address: raise --max-connections-per-address (default 64) to match.
# Credentials: pass COFFER_ROOT_ACCESS_KEY / COFFER_ROOT_SECRET_KEY or read the generated
# ones from the first start's output. Keys: mount a key file as a secret (not in /data) and
# set COFFER_MASTER_KEY_FILE to it; without one the data directory must be set up with
# `coffer init` and the container starts sealed until `coffer unlock`.
CMD ["serve", "--data", "/data", "--listen", "0.0.0.0:9000", "--insecure-http"]
