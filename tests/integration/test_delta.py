"""The Parquet output as a Delta Lake table (PARQUET_TABLE_FORMAT=delta, the default), read by
readers no one here wrote: delta-rs (the deltalake package) and Polars. Spark reads it in
test_delta_spark.py."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from output_check import data_files, duplicates, progress_lines, read_delta, read_parquet, stream_env
from test_stream import clean_env, make_events, produce_lines, run_stream, spawn


def batch_rows_by_version(table: DeltaTable) -> dict[int, int]:
    """Rows each version added, from the commitInfo kpipe writes (operationMetrics.numOutputRows)."""
    out = {}
    for h in table.history():
        rows = int(h.get("operationMetrics", {}).get("numOutputRows", 0) or 0)
        out[h["version"]] = rows
    return out


def query_id(checkpoint: Path) -> str:
    return json.loads((checkpoint / "metadata").read_text())["queryId"]


def test_table_has_one_version_per_batch_with_exact_rows_and_time_travel(kafka, kpipe_bin, unique_topic, run_kpipe,
                                                                        tmp_path):
    kafka.create_topic(unique_topic, 3)
    events = make_events(3000, days=2)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_OFFSETS_PER_TRIGGER=1000, MAX_RECORDS_PER_FILE=400)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    batches = progress_lines(p.stderr)
    assert len(batches) == 3
    root = tmp_path / "out" / "parquet"

    table = DeltaTable(str(root))
    assert table.version() == 3  # version 0 creates the table, then one commit per batch
    assert table.metadata().partition_columns == ["dt"]
    assert table.transaction_version(query_id(tmp_path / "out" / "_checkpoint")) == 2
    schema = pa.schema(table.schema())
    assert schema.field("dt").type == pa.date32()
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")

    # delta-rs and Polars: exactly the rows of the plain folder, each once.
    want = sorted(e["event_id"] for e in events)
    rows = read_delta(root)
    assert sorted(rows.column("event_id").to_pylist()) == want
    polars_rows = pl.read_delta(str(root))
    assert sorted(polars_rows["event_id"].to_list()) == want
    assert polars_rows.filter(pl.col("event_id") == events[0]["event_id"])["value"].to_list() == [events[0]["value"]]
    plain = read_parquet(root)
    assert sorted(plain.column("event_id").to_pylist()) == want
    # dt of every row is the UTC date of its ts, in the table as in the folders.
    for r in rows.select(["ts", "dt"]).to_pylist():
        assert r["dt"] == r["ts"].date()

    # History: one STREAMING UPDATE per batch, epochId = batch id, rows as the batch reported.
    history = sorted(table.history(), key=lambda h: h["version"])
    assert [h["operation"] for h in history] == ["CREATE TABLE"] + ["STREAMING UPDATE"] * 3
    assert [h["operationParameters"]["epochId"] for h in history[1:]] == ["0", "1", "2"]
    assert [int(h["operationMetrics"]["numOutputRows"]) for h in history[1:]] == [b["numInputRows"] for b in batches]

    # Time travel: version N holds batches 0..N-1 exactly.
    seen = set()
    for version in range(1, 4):
        ids = read_delta(root, version=version).column("event_id").to_pylist()
        assert duplicates(ids) == {}
        assert len(ids) == sum(b["numInputRows"] for b in batches[:version])
        assert seen <= set(ids)
        seen = set(ids)
    assert read_delta(root, version=0).num_rows == 0


def test_stats_match_the_files(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 2)
    events = make_events(1500, days=2)
    lines = [json.dumps(e) for e in events] + [json.dumps({"event_id": "no-value", "ts": events[0]["ts"]})]
    produce_lines(run_kpipe, kafka, unique_topic, lines, tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_RECORDS_PER_FILE=500)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    root = tmp_path / "out" / "parquet"
    adds = pa.table(DeltaTable(str(root)).get_add_actions(flatten=True)).to_pylist()
    assert len(adds) == len(data_files(root, ".parquet"))
    for add in adds:
        f = root / add["path"]
        data = pq.read_table(f)
        assert add["size_bytes"] == f.stat().st_size
        assert add["num_records"] == data.num_rows
        assert add["partition.dt"] == __import__("datetime").date.fromisoformat(f.parent.name[3:])
        for col in ("event_id", "value", "source"):
            assert add[f"null_count.{col}"] == data.column(col).null_count
            assert add[f"min.{col}"] == pc.min(data.column(col)).as_py()
            assert add[f"max.{col}"] == pc.max(data.column(col)).as_py()
        # Timestamps to the millisecond: the min floored, the max never below the true max.
        ts = data.column("ts")
        assert add["min.ts"] <= pc.min(ts).as_py() and (pc.min(ts).as_py() - add["min.ts"]).total_seconds() < 0.001
        assert add["max.ts"] >= pc.max(ts).as_py() and (add["max.ts"] - pc.max(ts).as_py()).total_seconds() < 0.001
    # Data skipping works off them: a filter on value reads the right rows.
    some = DeltaTable(str(root)).to_pyarrow_table(filters=[("value", ">", 99.0)])
    assert sorted(some.column("event_id").to_pylist()) == sorted(e["event_id"] for e in events if e["value"] > 99.0)


def test_checkpoint_every_ten_commits_read_by_delta_rs_and_expired_log_removed(kafka, kpipe_bin, unique_topic,
                                                                              run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    events = make_events(1200, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_OFFSETS_PER_TRIGGER=100)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    root = tmp_path / "out" / "parquet"
    log = root / "_delta_log"
    assert DeltaTable(str(root)).version() == 12
    assert (log / "00000000000000000010.checkpoint.parquet").exists()
    assert json.loads((log / "_last_checkpoint").read_text())["version"] == 10
    want = sorted(e["event_id"] for e in events)

    # delta-rs reading from our checkpoint alone: the commits it covers moved away.
    covered = [log / f"{v:020d}.json" for v in range(0, 11)]
    for f in covered:
        f.rename(f.with_suffix(".moved"))
    assert sorted(read_delta(root).column("event_id").to_pylist()) == want
    assert DeltaTable(str(root)).transaction_version(query_id(tmp_path / "out" / "_checkpoint")) == 11
    for f in covered:
        f.with_suffix(".moved").rename(f)

    # Commits older than the retention (30 days by default) that a checkpoint covers are removed
    # when the next checkpoint is written; the newer ones stay.
    old = time.time() - 40 * 86400
    for v in range(0, 10):
        os.utime(log / f"{v:020d}.json", (old, old))
    more = make_events(800, days=1, prefix="m")
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in more], tmp_path)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (log / "00000000000000000020.checkpoint.parquet").exists()
    assert not any((log / f"{v:020d}.json").exists() for v in range(0, 10))
    assert all((log / f"{v:020d}.json").exists() for v in range(10, 21))
    table = DeltaTable(str(root))
    assert table.version() == 20
    assert sorted(table.to_pyarrow_table().column("event_id").to_pylist()) == sorted(want + [e["event_id"] for e in more])
    assert read_delta(root, version=10).num_rows == 1000  # versions from the oldest checkpoint on stay readable


def test_reader_polling_during_a_run_never_sees_part_of_a_batch(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.3, MAX_RECORDS_PER_FILE=200,
                     FILES_PER_PARTITION=4)
    root = tmp_path / "out" / "parquet"
    producer = spawn(kpipe_bin, ["produce", "--rate", "3000", "--duration", "12"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    stream = spawn(kpipe_bin, ["stream"], env, tmp_path)
    snapshots = []
    try:
        deadline = time.monotonic() + 60
        while producer.poll() is None and time.monotonic() < deadline:
            if (root / "_delta_log").exists():
                try:
                    t = DeltaTable(str(root))
                    snapshots.append((t.version(), t.to_pyarrow_table(columns=["event_id"]).num_rows))
                except Exception as e:  # a reader must never fail on a table being written
                    pytest.fail(f"reading the table while it is written: {e!r}")
            time.sleep(0.05)
        assert producer.wait(timeout=60) == 0
        time.sleep(2)
    finally:
        stream.terminate()
        stream.wait(timeout=30)
        if producer.poll() is None:
            producer.kill()
    rows = batch_rows_by_version(DeltaTable(str(root)))
    assert len(snapshots) > 20 and len({v for v, _ in snapshots}) > 5, snapshots[-5:]
    for version, count in snapshots:
        assert count == sum(rows[v] for v in range(version + 1)), f"version {version}: {count} rows"


def test_another_querys_table_is_refused_unless_appending(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    events = make_events(300, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    other = {**env, "CHECKPOINT_PATH": str(tmp_path / "other_checkpoint"), "CSV_OUTPUT_PATH": str(tmp_path / "csv2")}
    p = run_stream(kpipe_bin, other, tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "OUTPUT_PATH=" in p.stderr and "another query" in p.stderr and "PARQUET_TABLE_APPEND=true" in p.stderr
    assert not (tmp_path / "csv2").exists() or data_files(tmp_path / "csv2", ".csv") == []
    assert DeltaTable(str(tmp_path / "out" / "parquet")).version() == 1
    p = run_stream(kpipe_bin, {**other, "PARQUET_TABLE_APPEND": "true"}, tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    ids = read_delta(tmp_path / "out" / "parquet").column("event_id").to_pylist()
    assert len(ids) == 600 and set(ids) == {e["event_id"] for e in events}  # the second query read the topic again


def test_schema_change_on_restart(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    first = make_events(200, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in first], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    root = tmp_path / "out" / "parquet"

    # A type changed: refused before anything is read, naming both schemas.
    bad = {**env, "SCHEMA": "event_id STRING, ts TIMESTAMP, value STRING, source STRING"}
    p = run_stream(kpipe_bin, bad, tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "value" in p.stderr and "double" in p.stderr and "string" in p.stderr
    assert "table:" in p.stderr and "SCHEMA:" in p.stderr
    # A dropped column: refused too.
    p = run_stream(kpipe_bin, {**env, "SCHEMA": "event_id STRING, ts TIMESTAMP, value DOUBLE"}, tmp_path)
    assert p.returncode == 2 and "source" in p.stderr, p.stderr[-2000:]
    assert DeltaTable(str(root)).version() == 1

    # A new nullable column: a metaData commit, then batches with it; old rows read it as null.
    second = [{**e, "event_id": "n" + e["event_id"], "region": "eu"} for e in make_events(100, days=1, seed=9)]
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in second], tmp_path)
    wider = {**env, "SCHEMA": "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING, region STRING"}
    p = run_stream(kpipe_bin, wider, tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    table = DeltaTable(str(root))
    assert [f.name for f in pa.schema(table.schema())] == ["event_id", "ts", "value", "source", "dt", "region"]
    assert table.history()[0]["operation"] == "STREAMING UPDATE"
    assert any(h["operation"] == "ADD COLUMNS" for h in table.history())
    rows = {r["event_id"]: r["region"] for r in table.to_pyarrow_table(columns=["event_id", "region"]).to_pylist()}
    assert len(rows) == 300
    assert all(rows[e["event_id"]] is None for e in first) and all(rows[e["event_id"]] == "eu" for e in second)
    assert sorted(pl.read_delta(str(root))["event_id"].to_list()) == sorted(rows)


def test_plain_files_only_with_table_format_none(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    events = make_events(100, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, PARQUET_TABLE_FORMAT="none")
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    root = tmp_path / "out" / "parquet"
    assert not (root / "_delta_log").exists()
    assert read_parquet(root).num_rows == 100
    p = run_stream(kpipe_bin, {**env, "PARQUET_TABLE_FORMAT": "iceberg"}, tmp_path)
    assert p.returncode == 2 and "PARQUET_TABLE_FORMAT" in p.stderr


def test_appends_to_a_table_another_tool_created_from_its_checkpoint(kafka, kpipe_bin, unique_topic, run_kpipe,
                                                                    tmp_path):
    """A table delta-rs made (its own checkpoint, the commits before it gone): kpipe reads that
    checkpoint, refuses the table by default, and with PARQUET_TABLE_APPEND=true adds its batches."""
    from datetime import date, datetime, timezone
    from deltalake import write_deltalake
    root = tmp_path / "out" / "parquet"
    schema = pa.schema([("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("value", pa.float64()),
                        ("source", pa.string()), ("dt", pa.date32())])
    theirs = [{"event_id": f"old-{i}", "ts": datetime(2025, 1, 2, 3, i, tzinfo=timezone.utc), "value": float(i),
               "source": "rs", "dt": date(2025, 1, 2)} for i in range(5)]
    for i in range(3):
        write_deltalake(str(root), pa.Table.from_pylist(theirs[i::3], schema=schema), mode="append", partition_by=["dt"])
    DeltaTable(str(root)).create_checkpoint()
    for v in range(0, 2):
        (root / "_delta_log" / f"{v:020d}.json").unlink()
    kafka.create_topic(unique_topic, 1)
    events = make_events(200, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 2 and "a table kpipe did not create" in p.stderr, p.stderr[-2000:]
    p = run_stream(kpipe_bin, {**env, "PARQUET_TABLE_APPEND": "true"}, tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    table = DeltaTable(str(root))
    assert table.version() == 3
    ids = table.to_pyarrow_table().column("event_id").to_pylist()
    assert sorted(ids) == sorted([r["event_id"] for r in theirs] + [e["event_id"] for e in events])
