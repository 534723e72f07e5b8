# kpipe for Docker users, built the way the native path builds it (README "Docker"):
#   1. build:   Debian 12; scripts/bootstrap (Debian packages, .venv with the pyarrow wheel that
#               carries Arrow C++ and the confluent-kafka wheel that carries librdkafka, npm ci for
#               the status page's uPlot) without the local Kafka broker, the browser and the
#               development tools (clang, clang-format, clang-tidy); CMake → build/kpipe;
#               scripts/stage-runtime collects kpipe and the Arrow and librdkafka libraries it
#               loads from the wheels.
#   2. runtime: Debian 12 slim with the Debian libraries kpipe links (libsimdjson14,
#               libcpp-httplib0.11), kpipe, tini, a non-root user; WORKDIR /app, so the relative
#               paths of .env put the output in /app/data/output.
# docker-compose.yml runs `kpipe produce` and `kpipe stream` from it; on its own:
#   docker build -t kpipe . && docker run --rm kpipe stream --help

FROM debian:bookworm-slim AS build
WORKDIR /src
# scripts/bootstrap installs without recommends; npm needs the CA certificates for HTTPS.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
# What scripts/bootstrap reads, alone first, so that a source change reuses this layer.
COPY scripts/ scripts/
COPY requirements.txt package.json package-lock.json ./
RUN KPIPE_SKIP_DEV_TOOLS=1 KPIPE_SKIP_KAFKA=1 KPIPE_NO_BROWSER=1 scripts/bootstrap \
 && rm -rf /var/lib/apt/lists/* /root/.cache/pip /root/.npm
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build --target kpipe \
 && build/kpipe version \
 && scripts/stage-runtime build/kpipe /stage

FROM debian:bookworm-slim AS runtime
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libsimdjson14 libcpp-httplib0.11 tini ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 kpipe \
 && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin kpipe
COPY --from=build /stage/ /
# The Arrow and librdkafka libraries are in /usr/local/lib: refresh the loader's cache, and fail the build here
# if kpipe cannot load something.
RUN ldconfig && kpipe version
WORKDIR /app
RUN mkdir -p /app/data/output && chown -R kpipe:kpipe /app
# The status page (STATUS_ADDR must be 0.0.0.0:8080 in a container to be published).
EXPOSE 8080
# tini reaps and forwards signals; kpipe-entrypoint drops root (scripts/docker-entrypoint).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/kpipe-entrypoint", "kpipe"]
CMD ["--help"]
