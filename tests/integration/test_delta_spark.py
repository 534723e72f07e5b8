"""Spark 3.5.1 + delta-spark 3.2.0 read the Delta table kpipe writes, as a kpipe user's Spark would
(issue 17): spark.read.format("delta") and spark.read.parquet give the same, exact rows; the
history has one version per batch; versionAsOf N holds batches 0..N-1.

One Spark JVM start for the module (module fixture), since a start takes 10 to 20 s here. Spark
is set up by scripts/setup-spark (run by scripts/bootstrap); without it the tests skip locally and
fail under CI (CI=true), where a skip would hide that the reader never ran.
"""
from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from output_check import progress_lines, stream_env
from spark_reader import SETUP_HINT, read_with_spark, spark_settings
from test_stream import make_events, run_stream

SCHEMA_NAMES = ["event_id", "ts", "value", "source", "dt"]


def event_row(e: dict) -> dict:
    ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
    return {"event_id": e["event_id"], "ts": ts, "value": e["value"], "source": e["source"], "dt": ts.date()}


def as_spark_row(row: dict) -> dict:
    """The row as spark_reader.py prints it: dates and timestamps as Spark's strings (UTC)."""
    ts = row["ts"].strftime("%Y-%m-%d %H:%M:%S")
    if row["ts"].microsecond:
        ts += f".{row['ts'].microsecond:06d}".rstrip("0")
    return {**row, "ts": ts, "dt": row["dt"].isoformat()}


def sorted_rows(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


@pytest.fixture(scope="module")
def spark_ready():
    if spark_settings() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark is not set up under CI: {SETUP_HINT}", pytrace=False)
        pytest.skip(f"Spark is not set up: {SETUP_HINT}")


@pytest.fixture(scope="module")
def table(spark_ready, kafka, kpipe_bin, tmp_path_factory):
    """(path, events, batches, what Spark read): kpipe's table of three batches, read once by Spark."""
    tmp = tmp_path_factory.mktemp("delta-spark")
    topic = "t-delta-spark"
    kafka.create_topic(topic, 2)
    events = make_events(1200, days=2)
    kafka.produce(topic, [json.dumps(e).encode() for e in events])
    env = stream_env(tmp, kafka.bootstrap, topic, MAX_OFFSETS_PER_TRIGGER=400, MAX_RECORDS_PER_FILE=250)
    p = run_stream(kpipe_bin, env, tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    batches = progress_lines(p.stderr)
    assert len(batches) == 3
    path = tmp / "out" / "parquet"
    return path, events, batches, read_with_spark(path, versions=[0, 1, 2, 3])


def test_delta_reader_returns_the_exact_rows(table):
    _, events, _, read = table
    assert read["delta_rows"] == sorted_rows([as_spark_row(event_row(e)) for e in events])
    assert set(read["columns"]["delta"]) == set(SCHEMA_NAMES)


def test_plain_parquet_reader_returns_the_same_rows(table):
    _, _, _, read = table
    assert set(read["columns"]["parquet"]) == set(SCHEMA_NAMES)
    assert read["parquet_rows"] == read["delta_rows"]


def test_history_has_one_version_per_batch(table):
    _, _, _, read = table
    history = sorted(read["history"], key=lambda h: h["version"])
    assert [h["version"] for h in history] == [0, 1, 2, 3]
    assert [h["operation"] for h in history] == ["CREATE TABLE"] + ["STREAMING UPDATE"] * 3, history


def test_version_as_of_n_has_batches_before_n(table):
    _, _, batches, read = table
    expected = {str(n): sum(b["numInputRows"] for b in batches[:n]) for n in range(4)}
    assert read["version_counts"] == expected
