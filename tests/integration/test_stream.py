"""`kpipe stream` against a real broker; output read back with pyarrow and DuckDB."""
from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from output_check import (assert_every_file_opens, data_files, duplicates, hidden_files, progress_lines,
                          read_csv_duckdb, read_dead_letter, read_delta, read_parquet, read_parquet_duckdb, stream_env)

KPIPE_SETTING_PREFIXES = ("KAFKA_", "MSGS_PER_SEC", "OUTPUT_PATH", "CSV_OUTPUT_PATH", "CHECKPOINT_PATH",
                          "DEAD_LETTER_PATH", "TRIGGER_SECONDS", "MAX_RECORDS_PER_FILE", "FILES_PER_PARTITION",
                          "SINKS", "STARTING_OFFSETS", "MAX_OFFSETS_PER_TRIGGER", "FAIL_ON_DATA_LOSS",
                          "PARQUET_COMPRESSION", "ON_BAD_RECORD", "SCHEMA", "PARTITION_FROM", "STATUS_ADDR",
                          "MAX_RECORD_BYTES", "MAX_STRING_BYTES", "KPIPE_TEST_CRASH_AT", "ONCE", "PARQUET_TABLE_")

BASE = datetime(2025, 11, 6, 0, 0, tzinfo=timezone.utc)


def clean_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(KPIPE_SETTING_PREFIXES)}
    env.update(extra)
    return env


def spawn(kpipe_bin, args, env, cwd, **kw):
    return subprocess.Popen([str(kpipe_bin), *args], env=clean_env(env), cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **kw)


def run_stream(kpipe_bin, env, cwd, args=("--once",), timeout=300):
    p = subprocess.run([str(kpipe_bin), "stream", *args], env=clean_env(env), cwd=cwd, capture_output=True,
                       text=True, timeout=timeout)
    return p


def make_events(n: int, days: int = 3, prefix: str = "e", seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    events = []
    for i in range(n):
        ts = BASE + timedelta(seconds=rnd.randrange(days * 86400), milliseconds=rnd.randrange(1000))
        events.append({"event_id": f"{prefix}-{i:07d}", "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                       "value": round(rnd.uniform(0, 100), 2), "source": rnd.choice(["a", "b, with comma", 'q"uote'])})
    return events


def produce_lines(run_kpipe, kafka, topic, lines: list[str], tmp: Path):
    f = tmp / f"input-{random.randrange(1 << 30)}.jsonl"
    f.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    p = run_kpipe(["produce", "--input", str(f), "--rate", "0"],
                  env={"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": topic}, timeout=120)
    assert p.returncode == 0, p.stderr


def check_exactly_once(out: Path, expected_ids: set[str]):
    pq_table = read_parquet(out / "parquet")
    pq_ids = pq_table.column("event_id").to_pylist()
    assert duplicates(pq_ids) == {}
    assert set(pq_ids) == expected_ids, f"parquet missing {len(expected_ids - set(pq_ids))}, extra {len(set(pq_ids) - expected_ids)}"
    # The Delta table over the same files (PARQUET_TABLE_FORMAT=delta, the default): every row once.
    delta_ids = read_delta(out / "parquet").column("event_id").to_pylist()
    assert duplicates(delta_ids) == {}
    assert set(delta_ids) == expected_ids, f"delta missing {len(expected_ids - set(delta_ids))}"
    csv_rows = read_csv_duckdb(out / "csv")
    csv_ids = [r[0] for r in csv_rows]
    assert duplicates(csv_ids) == {}
    assert set(csv_ids) == expected_ids
    assert hidden_files(out / "parquet", out / "csv", out / "_dead_letter") == []
    assert_every_file_opens(out / "parquet", out / "csv")


def test_backlog_three_days_exactly_once_with_values_and_types(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 3)
    events = make_events(50_000)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    p = run_stream(kpipe_bin, stream_env(tmp_path, kafka.bootstrap, unique_topic), tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "out"
    by_id = {e["event_id"]: e for e in events}
    check_exactly_once(out, set(by_id))

    table = read_parquet(out / "parquet")
    assert table.schema.field("event_id").type == pa.string()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("source").type == pa.string()
    dts = set()
    for row in table.to_pylist():
        e = by_id[row["event_id"]]
        ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
        assert row["ts"] == ts
        assert row["value"] == e["value"]
        assert row["source"] == e["source"]
        assert str(row["dt"]) == ts.date().isoformat(), row  # each row in the folder of its ts date
        dts.add(str(row["dt"]))
    assert len(dts) >= 3
    # DuckDB reads the same Parquet rows, and the CSV rows carry the same values.
    duck = read_parquet_duckdb(out / "parquet")
    assert len(duck) == 50_000
    for eid, ts, value, source, dt in read_csv_duckdb(out / "csv")[:2000]:
        e = by_id[eid]
        assert value == e["value"] and source == e["source"]
        assert ts.startswith(e["ts"][:19].replace("T", " ")) or ts.startswith(e["ts"][:19])
        assert dt == e["ts"][:10]
    # The three partitions were all read.
    batches = progress_lines(p.stderr)
    assert batches and sum(b["numInputRows"] for b in batches) == 50_000
    assert {s["partition"] for b in batches for s in b["sources"]} == {0, 1, 2}


def test_arrow_allocator_is_the_systems_unless_arrow_default_memory_pool_says_otherwise(kafka, kpipe_bin,
                                                                                        unique_topic, tmp_path):
    # The system allocator keeps a batch's freed memory for the next one; Arrow's jemalloc gave it
    # back to the kernel between triggers (bench/results/PROFILE.md). The first log line names it.
    kafka.create_topic(unique_topic, 1)
    for pool in [None, "jemalloc"]:
        env = stream_env(tmp_path / (pool or "default"), kafka.bootstrap, unique_topic)
        if pool:
            env["ARROW_DEFAULT_MEMORY_POOL"] = pool
        p = run_stream(kpipe_bin, env, tmp_path, timeout=120)
        assert p.returncode == 0, p.stderr[-3000:]
        assert f"(Arrow allocator: {pool or 'system'})" in p.stderr, p.stderr[:2000]


@pytest.mark.parametrize("files_per_partition,max_records", [(1, 5000), (3, 5000), (1, 700), (4, 300), (2, 1)])
def test_file_count_limits(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path, files_per_partition, max_records):
    kafka.create_topic(unique_topic, 3)
    n = 2000 if max_records > 1 else 15
    events = make_events(n, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, FILES_PER_PARTITION=files_per_partition,
                     MAX_RECORDS_PER_FILE=max_records)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    import pyarrow.parquet as pq
    for sink, suffix in (("parquet", ".parquet"), ("csv", ".csv")):
        files = data_files(tmp_path / "out" / sink, suffix)
        assert {f.parent.name for f in files} == {"dt=2025-11-06"}
        expect_files = max(min(files_per_partition, n), -(-n // max_records))
        assert len(files) == expect_files, (sink, [f.name for f in files])
        if sink == "parquet":
            rows = [pq.ParquetFile(f).metadata.num_rows for f in files]
        else:
            rows = [sum(1 for _ in open(f, encoding="utf-8")) - 1 for f in files]
        assert sum(rows) == n
        assert max(rows) <= max_records and min(rows) > 0


def test_trigger_mode_batches_about_every_second_and_sigterm_is_clean(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=1)
    stream = spawn(kpipe_bin, ["stream"], env, tmp_path)
    producer = spawn(kpipe_bin, ["produce", "--rate", "300", "--duration", "7"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    try:
        assert producer.wait(timeout=60) == 0, producer.stderr.read()
        time.sleep(1.5)
    finally:
        stream.send_signal(signal.SIGTERM)
        _, err = stream.communicate(timeout=30)
    assert stream.returncode == 0, err[-3000:]
    batches = progress_lines(err)
    assert len(batches) >= 5, err[-2000:]
    starts = [b["timestampMs"] for b in batches]
    gaps = [(b - a) / 1000 for a, b in zip(starts, starts[1:])]
    assert 0.8 <= sorted(gaps)[len(gaps) // 2] <= 1.3, gaps  # median gap about TRIGGER_SECONDS
    out = tmp_path / "out"
    ids = [r["event_id"] for r in kafka_values(kafka, unique_topic)]
    check_exactly_once(out, set(ids))


def kafka_values(kafka, topic):
    return [json.loads(m["value"]) for m in kafka.consume(topic)]


BAD_RECORDS = [
    (b'{"event_id": "bad-1", "ts": ', "malformed"),
    (b'{"event_id": "bad-2", "ts": "2025-11-06T00:00:00Z", "value": "high", "source": "x"}', "value"),
    (b'{"event_id": "bad-3", "value": 1.5, "source": "x"}', "ts"),
    (b'{"event_id": "bad-4", "ts": "99999-01-01T00:00:00Z", "value": 1, "source": "x"}', "ts"),
    (b'{"event_id": "bad-5", "ts": "2025-11-06T00:00:00Z", "value": 1, "source": "' + b"x" * 999_000 + b'"}', "MAX_STRING_BYTES"),
    (b'{"event_id": "bad-6", "ts": "2025-11-06T00:00:00Z", "value": 1, "source": "\xff\xfe"}', "UTF-8"),
    (b"", "empty"),
    (b'[{"event_id": "bad-8"}]', "object"),
]


def good_records(n, prefix):
    return [json.dumps(e).encode() for e in make_events(n, days=1, prefix=prefix)]


def test_bad_records_go_to_dead_letter_with_reasons(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    good = good_records(100, "g")
    values = good[:50] + [b for b, _ in BAD_RECORDS] + good[50:]
    kafka.produce(unique_topic, values, partition=0)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "out"
    check_exactly_once(out, {json.loads(g)["event_id"] for g in good})
    dlq = read_dead_letter(out / "_dead_letter")
    assert len(dlq) == len(BAD_RECORDS)
    by_offset = {d["offset"]: d for d in dlq}
    for i, (raw, reason_word) in enumerate(BAD_RECORDS):
        d = by_offset[50 + i]
        assert d["topic"] == unique_topic and d["partition"] == 0
        assert reason_word.lower() in d["reason"].lower(), d["reason"]
        payload = base64.b64decode(d["payload_base64"]) if d.get("payload_base64") else d["payload"].encode()
        assert payload == raw


def test_on_bad_record_fail_stops_with_offset_and_commits_nothing(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    kafka.produce(unique_topic, good_records(10, "f") + [b"not json"] + good_records(5, "h"), partition=0)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, ON_BAD_RECORD="fail")
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode != 0
    assert "offset 10" in p.stderr and "ON_BAD_RECORD" in p.stderr, p.stderr[-2000:]
    out = tmp_path / "out"
    assert not list((out / "_checkpoint" / "commits").glob("*"))
    assert data_files(out / "parquet", ".parquet") == [] and data_files(out / "csv", ".csv") == []


CRASH_STEPS = ["after_offsets", "after_read", "after_temp_files", "mid_rename", "after_rename", "after_delta_commit",
               "after_commit"]


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_crash_at_each_protocol_step_then_exactly_once(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path, step):
    kafka.create_topic(unique_topic, 3)
    events = make_events(3000)
    lines = [json.dumps(e) for e in events] + ["{broken", "[1]"]
    produce_lines(run_kpipe, kafka, unique_topic, lines, tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_OFFSETS_PER_TRIGGER=1000, MAX_RECORDS_PER_FILE=400)
    crashed = run_stream(kpipe_bin, {**env, "KPIPE_TEST_CRASH_AT": f"{step}@1"}, tmp_path)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert f"killing the process at {step}" in crashed.stderr
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    out = tmp_path / "out"
    check_exactly_once(out, {e["event_id"] for e in events})
    dlq = read_dead_letter(out / "_dead_letter")
    assert sorted(d["payload"] for d in dlq) == sorted(["{broken", "[1]"])


def test_restart_with_changed_max_records_while_batch_uncommitted(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 3)
    events = make_events(2000, days=1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_RECORDS_PER_FILE=100)
    crashed = run_stream(kpipe_bin, {**env, "KPIPE_TEST_CRASH_AT": "mid_rename@0"}, tmp_path)
    assert crashed.returncode == -signal.SIGKILL
    final = run_stream(kpipe_bin, {**env, "MAX_RECORDS_PER_FILE": "1000"}, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    check_exactly_once(tmp_path / "out", {e["event_id"] for e in events})


@pytest.mark.slow
def test_thirty_random_sigkills_while_producing(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.2, MAX_RECORDS_PER_FILE=300)
    producer = spawn(kpipe_bin, ["produce", "--rate", "2000", "--duration", "40"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    rnd = random.Random(42)
    kills = 0
    try:
        while kills < 30:
            s = spawn(kpipe_bin, ["stream"], env, tmp_path)
            time.sleep(rnd.uniform(0.3, 1.2))
            if s.poll() is not None:
                pytest.fail(f"stream exited early: {s.returncode} {s.stderr.read()[-2000:]}")
            s.kill()
            s.wait(timeout=10)
            s.stderr.close()
            kills += 1
        assert producer.wait(timeout=120) == 0, producer.stderr.read()[-2000:]
    finally:
        if producer.poll() is None:
            producer.kill()
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    ids = [r["event_id"] for r in kafka_values(kafka, unique_topic)]
    assert len(ids) > 10_000
    check_exactly_once(tmp_path / "out", set(ids))
