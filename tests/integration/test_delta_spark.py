"""Spark 3.5.1 + delta-spark 3.2.1 read a Delta table, as a kpipe user's Spark would (issue 17).

For now the table is written by the Python `deltalake` package (delta-rs): several appends of
rows with a `dt` date partition column, as kpipe lays out OUTPUT_PATH (dt=YYYY-MM-DD/part-*.parquet
plus _delta_log/). This proves the Spark path itself; a kpipe test can call read_with_spark() on
kpipe's output with the same checks.

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
from deltalake import write_deltalake

from spark_reader import SETUP_HINT, read_with_spark, spark_settings

# One append per entry: (day, rows). Versions 0, 1, 2 of the table.
APPENDS = [("2025-11-06", 5), ("2025-11-07", 3), ("2025-11-06", 4)]


def append_rows(n: int) -> list[dict]:
    day, count = APPENDS[n]
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    return [{"event_id": f"a{n}-{i:02d}", "ts": start + timedelta(minutes=37 * i, milliseconds=i),
             "value": 1.5 * i + n, "source": f"append-{n}", "dt": date.fromisoformat(day)} for i in range(count)]


SCHEMA = pa.schema([("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("value", pa.float64()),
                    ("source", pa.string()), ("dt", pa.date32())])


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
def table(spark_ready, tmp_path_factory):
    """(path, what Spark read): a table of len(APPENDS) appends, read once by Spark."""
    path = tmp_path_factory.mktemp("delta") / "parquet"
    for n in range(len(APPENDS)):
        write_deltalake(str(path), pa.Table.from_pylist(append_rows(n), schema=SCHEMA), mode="append",
                        partition_by=["dt"])
    return path, read_with_spark(path, versions=list(range(len(APPENDS))))


def test_table_has_the_kpipe_layout(table):
    path, _ = table
    assert (path / "_delta_log" / "00000000000000000000.json").is_file()
    days = sorted(p.name for p in path.iterdir() if p.name.startswith("dt="))
    assert days == ["dt=2025-11-06", "dt=2025-11-07"]


def test_delta_reader_returns_the_exact_rows(table):
    _, read = table
    expected = sorted_rows([as_spark_row(r) for n in range(len(APPENDS)) for r in append_rows(n)])
    assert read["delta_rows"] == expected
    assert set(read["columns"]["delta"]) == set(SCHEMA.names)


def test_plain_parquet_reader_returns_the_same_rows(table):
    _, read = table
    assert set(read["columns"]["parquet"]) == set(SCHEMA.names)
    assert read["parquet_rows"] == read["delta_rows"]


def test_history_has_one_version_per_append(table):
    _, read = table
    assert [h["version"] for h in read["history"]] == list(range(len(APPENDS)))
    assert all(h["operation"] in ("WRITE", "CREATE TABLE") for h in read["history"]), read["history"]


def test_version_as_of_n_has_the_first_n_plus_one_appends(table):
    _, read = table
    expected = {str(n): sum(count for _, count in APPENDS[: n + 1]) for n in range(len(APPENDS))}
    assert read["version_counts"] == expected
