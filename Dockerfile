# syntax=docker/dockerfile:1
# Build stage: the toolchain chipwatch declares (rust-version 1.95).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY config ./config
COPY locales ./locales
COPY tests ./tests
RUN cargo build --release --locked --bin chipwatch

# Runtime stage: a small Debian with no compiler, running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin chipwatch \
 && mkdir -p /data && chown chipwatch /data
COPY --from=build /src/target/release/chipwatch /usr/local/bin/chipwatch
COPY config /etc/chipwatch
ENV CHIPWATCH_CONFIG=/etc/chipwatch/chipwatch.toml \
    CHIPWATCH_DATA_DIR=/data
VOLUME /data
USER chipwatch
# `docker stop` sends SIGTERM: chipwatch stops its loops between steps and flushes sled.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chipwatch"]
CMD ["run"]
