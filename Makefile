# kpipe — the two commands are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
BUILD_DIR ?= build
CMAKE_FLAGS ?=
PYTEST_ARGS ?=
PY := .venv/bin/python

.PHONY: all bootstrap build test unit-test integration-test run down clean-data clean bench bench-spark bench-micro

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR)

# Every test: unit tests (GoogleTest, via ctest), then integration tests against a real broker
# that the test session starts on a free port and stops.
test: build
	@$(MAKE) --no-print-directory unit-test integration-test

unit-test:
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

integration-test:
	@KPIPE_BIN=$(CURDIR)/$(BUILD_DIR)/kpipe $(PY) -m pytest tests/integration $(PYTEST_ARGS)

# The whole stack, like the seed's `docker compose up`: local Kafka, the topic, the streaming
# job and the producer, their logs in this terminal. Ctrl-C stops both; Kafka runs on until
# `make down`.
run: build
	@scripts/run

down:
	@scripts/kafka stop

# Like `docker compose down -v`: stop Kafka and remove its data and all output.
clean-data: down
	@rm -rf .local/kafka data/output
	@echo "removed .local/kafka and data/output"

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
