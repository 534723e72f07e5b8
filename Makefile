# kpipe — the two commands are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
BUILD_DIR ?= build
CMAKE_FLAGS ?=
PYTEST_ARGS ?=
PY := .venv/bin/python
# ccache when it is installed (scripts/bootstrap installs it with the development tools): a file
# compiled before with the same flags, in this clone or another on the machine, is not compiled
# again. Looked up when a recipe runs, after bootstrap. Paths are hashed relative to the clone and
# not by directory, so a fresh clone of the same commit hits the cache.
LAUNCHER = $$(command -v ccache >/dev/null 2>&1 && echo -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all bootstrap build test unit-test integration-test test-docker run down clean-data clean
.PHONY: test-docker-arm64
.PHONY: test-asan asan-unit-test test-tsan fuzz lint bench bench-spark bench-micro

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR)

# Every test: unit tests (GoogleTest, via ctest), then integration tests against a real broker
# that the test session starts on a free port and stops.
test: build
	@$(MAKE) --no-print-directory unit-test integration-test

unit-test:
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

integration-test:
	@KPIPE_BIN=$(CURDIR)/$(BUILD_DIR)/kpipe $(PY) -m pytest tests/integration $(PYTEST_ARGS)

# The Docker path run for real, as root (tests/docker/run): podman and docker-compose set up where
# missing, the image built from the Dockerfile, docker-compose.yml up on a copy of this tree, the
# README's checks, then `down -v`. Most of it is the image build: 3.5 minutes on 2 idle cores,
# up to 14 on the shared machine under load.
test-docker: bootstrap
	@tests/docker/run

# The kpipe image built for linux/arm64 (Apple Silicon) under qemu emulation, and `kpipe version`
# run in it. Over an hour on 2 cores: not in .ci/run. Run it niced on a shared machine.
test-docker-arm64:
	@tests/docker/build-arm64

# The whole stack, like the seed's `docker compose up`: local Kafka, the topic, the streaming
# job and the producer, their logs in this terminal. Ctrl-C stops both; Kafka runs on until
# `make down`. KPIPE_STORAGE=s3 (environment or .env) writes the output to s3://S3_BUCKET/output/
# (default bucket kpipe) on the local S3 server (scripts/s3), started too and stopped by `make down`.
run: build
	@scripts/run

down:
	@scripts/kafka stop
	@scripts/s3 stop

# Like `docker compose down -v`: stop Kafka and the S3 server and remove their data and all output.
clean-data: down
	@rm -rf .local/kafka .local/s3 data/output
	@echo "removed .local/kafka, .local/s3 and data/output"

clean:
	@rm -rf $(BUILD_DIR)

# Benchmarks, not part of `make test` (bench/run says what they measure). End to end on a broker
# of their own: bench/results/RESULTS.md and throughput.png; bench-spark adds the seed's Spark job.
bench: build
	@bench/setup
	@$(PY) bench/run

bench-spark: build
	@bench/setup --spark
	@$(PY) bench/run

# Per-record micro-benchmarks of decode and encode (Google Benchmark):
bench-micro: build
	@cmake --build $(BUILD_DIR) --target kpipe_micro_bench
	@$(BUILD_DIR)/bench/micro/kpipe_micro_bench $(BENCH_MICRO_ARGS)

# --- hardening: sanitizers, fuzzing, lint (docs/reliability.md) --------------------------------
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
# The short pipeline run under a sanitizer: real broker, --once runs, crashes and bad records.
SAN_PYTEST ?= tests/integration/test_stream.py -k "file_count_limits or bad_records or crash_at_each"
SAN_CMAKE = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKPIPE_WERROR=OFF
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
# TSan: reports fail the run (exit 66); uninstrumented librdkafka/Arrow internals suppressed
# (tests/sanitizers/tsan.supp); Arrow allocates with malloc so TSan sees its memory reused.
# The start-up crash seen here was librdkafka's C11 threads (tests/sanitizers/tsan_c11_threads.cc),
# not ASLR (vm.mmap_rnd_bits is 28 here); setarch -R (no ASLR) is kept for kernels with
# mmap_rnd_bits=32, where gcc 12's TSan dies at start-up with "unexpected memory mapping".
TSAN_ENV = TSAN_OPTIONS="suppressions=$(CURDIR)/tests/sanitizers/tsan.supp second_deadlock_stack=1" \
           ARROW_DEFAULT_MEMORY_POOL=system
TSAN_RUN = $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo setarch $$(uname -m) -R)

# ASan + UBSan: every unit test (asan-unit-test, what CI runs), then the short pipeline run
# with the ASan kpipe.
test-asan: asan-unit-test
	@KPIPE_BIN=$(CURDIR)/$(ASAN_DIR)/kpipe $(PY) -m pytest $(SAN_PYTEST) $(PYTEST_ARGS)

asan-unit-test: bootstrap
	@cmake -S . -B $(ASAN_DIR) $(SAN_CMAKE) $(LAUNCHER) -DKPIPE_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_DIR) -j2
	@ctest --test-dir $(ASAN_DIR) --output-on-failure -j2

# TSan: the same, with the TSan build.
test-tsan: bootstrap
	@cmake -S . -B $(TSAN_DIR) $(SAN_CMAKE) $(LAUNCHER) -DKPIPE_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) -j2
	@$(TSAN_ENV) $(TSAN_RUN) ctest --test-dir $(TSAN_DIR) --output-on-failure -j2
	@$(TSAN_ENV) KPIPE_BIN=$(CURDIR)/$(TSAN_DIR)/kpipe $(TSAN_RUN) $(PY) -m pytest $(SAN_PYTEST) $(PYTEST_ARGS)

# libFuzzer: each target for FUZZ_SECONDS (default 60); tests/fuzz/run says more.
fuzz: bootstrap
	@tests/fuzz/run

# clang-format (check) and clang-tidy over src/ with build/compile_commands.json.
lint: build
	@scripts/lint
