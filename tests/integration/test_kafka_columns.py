"""KAFKA_COLUMNS and PARTITION_FROM=timestamp against a real broker: records produced with keys
(null, empty, binary), headers (a null value among them) and CreateTime timestamps over three
days, read back with pyarrow and DuckDB and compared with what the producer sent and the broker
acknowledged (partition, offset).

confluent-kafka is the producer: kcat sets neither per-message headers nor timestamps.
"""
from __future__ import annotations

import base64
import csv
import json
import signal
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer

from output_check import data_files, read_delta, read_parquet, stream_env
from test_stream import run_stream

BASE = datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc)
ALL = "headers, Key,topic , partition,offset,TIMESTAMP,timestampType"  # any case, any order


def produce(bootstrap: str, topic: str, messages: list[dict]) -> list[dict]:
    """Produces each {value, key, headers, timestamp_ms, partition}; returns them with the offset
    the broker gave each one."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, "log_level": 0})
    acked: dict[int, tuple[int, int]] = {}
    errors = []

    def report(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                acked[i] = (msg.partition(), msg.offset())
        return on_delivery

    for i, m in enumerate(messages):
        kwargs = {"partition": m["partition"], "timestamp": m["timestamp_ms"], "on_delivery": report(i)}
        if m["headers"] is not None:
            kwargs["headers"] = m["headers"]
        producer.produce(topic, value=m["value"], key=m["key"], **kwargs)
    assert producer.flush(60) == 0, "messages left undelivered"
    assert not errors, errors
    return [{**m, "partition": acked[i][0], "offset": acked[i][1]} for i, m in enumerate(messages)]


def messages(n: int) -> list[dict]:
    out = []
    for i in range(n):
        key = [None, b"", b"k\x00\xff-" + str(i).encode()][i % 3]
        headers = None if i % 4 == 0 else [("trace", f"t-{i}".encode()), ("gone", None), ("trace", b"")]
        ts = BASE + timedelta(hours=i, milliseconds=i)  # 20:00 on day one to the third day
        out.append({"value": json.dumps({"id": f"m-{i}", "n": i, "key": "not the Kafka key"}).encode(),
                    "key": key, "headers": headers, "partition": i % 3, "timestamp_ms": int(ts.timestamp() * 1000)})
    return out


def test_kafka_columns_hold_what_the_producer_sent_and_dt_is_the_kafka_date(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    sent = produce(kafka.bootstrap, unique_topic, messages(60))
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, SINKS="parquet", SCHEMA="id STRING, n INT",
                     PARTITION_FROM="timestamp", KAFKA_COLUMNS=ALL, PARQUET_TABLE_FORMAT="none")
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]

    table = read_parquet(tmp_path / "out" / "parquet")
    # Spark's Kafka source names and types, after SCHEMA's columns, in Spark's order.
    header = pa.struct([("key", pa.string()), ("value", pa.binary())])
    expected = [("id", pa.string()), ("n", pa.int32()), ("key", pa.binary()), ("topic", pa.string()),
                ("partition", pa.int32()), ("offset", pa.int64()), ("timestamp", pa.timestamp("us", tz="UTC")),
                ("timestampType", pa.int32())]
    for name, type_ in expected:
        assert table.schema.field(name).type == type_, name
    assert table.schema.names[:9] == [name for name, _ in expected] + ["headers"]
    headers_type = table.schema.field("headers").type
    assert pa.types.is_list(headers_type) and headers_type.value_type == header, headers_type

    rows = {r["id"]: r for r in table.to_pylist()}
    assert len(rows) == table.num_rows == len(sent)
    for i, m in enumerate(sent):
        r = rows[f"m-{i}"]
        ts = datetime.fromtimestamp(m["timestamp_ms"] / 1000, tz=timezone.utc)
        assert r["key"] == m["key"], i  # None stays None, b"" stays b""
        assert r["topic"] == unique_topic
        assert (r["partition"], r["offset"]) == (m["partition"], m["offset"])
        assert r["timestamp"] == ts
        assert r["timestampType"] == 0  # CreateTime
        want = None if m["headers"] is None else [{"key": k, "value": v} for k, v in m["headers"]]
        assert r["headers"] == want, i
        assert str(r["dt"]) == ts.date().isoformat(), i
    assert {str(r["dt"]) for r in rows.values()} == {"2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"}

    # DuckDB, another reader: the same keys and headers.
    con = duckdb.connect()
    got = dict(con.execute(
        f"SELECT id, key FROM read_parquet('{tmp_path}/out/parquet/*/*.parquet', hive_partitioning = true)").fetchall())
    assert got == {f"m-{i}": m["key"] for i, m in enumerate(sent)}
    nulls = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/out/parquet/*/*.parquet'), unnest(headers) AS h(x) "
        "WHERE x.key = 'gone' AND x.value IS NULL").fetchone()[0]
    assert nulls == sum(1 for m in sent if m["headers"] is not None)

    # The write-ahead entry records the setting, as it was given.
    entry = json.loads((tmp_path / "out" / "_checkpoint" / "offsets" / "0").read_text())
    assert entry["decode"]["kafkaColumns"] == ALL
    assert entry["decode"]["partitionFrom"] == "timestamp"


def test_kafka_columns_in_csv_and_beside_a_payload_timestamp(kafka, kpipe_bin, unique_topic, tmp_path):
    """The non-binary Kafka columns in CSV (read by DuckDB); dt still from the payload's ts."""
    kafka.create_topic(unique_topic, 2)
    ts = "2026-03-10T12:00:00Z"
    msgs = [{"value": json.dumps({"event_id": f"e-{i}", "ts": ts, "value": 1.0, "source": "s"}).encode(),
             "key": None, "headers": None, "partition": i % 2,
             "timestamp_ms": int((BASE + timedelta(days=5)).timestamp() * 1000)} for i in range(10)]
    sent = produce(kafka.bootstrap, unique_topic, msgs)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, KAFKA_COLUMNS="topic,partition,offset,timestampType")
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT event_id, topic, partition, \"offset\", timestampType, CAST(dt AS VARCHAR) FROM "
        f"read_csv('{tmp_path}/out/csv/*/*.csv', header = true, hive_partitioning = true)").fetchall()
    assert sorted(rows) == sorted((f"e-{i}", unique_topic, m["partition"], m["offset"], 0, "2026-03-10")
                                  for i, m in enumerate(sent))


def test_a_replay_after_a_kill_reads_the_keys_and_headers_its_entry_recorded(kafka, kpipe_bin, unique_topic, tmp_path):
    """Killed right after the write-ahead entry of batch 0 (planned with KAFKA_COLUMNS=key,headers),
    then restarted without KAFKA_COLUMNS: the replay still asks Kafka for keys and headers, and
    batch 0's files hold them; what comes after it has no Kafka columns."""
    kafka.create_topic(unique_topic, 1)
    first = produce(kafka.bootstrap, unique_topic, [{**m, "partition": 0} for m in messages(8)])
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, SINKS="parquet", SCHEMA="id STRING, n INT",
                     PARTITION_FROM="timestamp", KAFKA_COLUMNS="key,headers", PARQUET_TABLE_FORMAT="none")
    p = run_stream(kpipe_bin, {**env, "KPIPE_TEST_CRASH_AT": "after_offsets@0"}, tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    later = [{**m, "partition": 0, "value": m["value"].replace(b'"m-', b'"later-')} for m in messages(3)]
    produce(kafka.bootstrap, unique_topic, later)
    p = run_stream(kpipe_bin, {**env, "KAFKA_COLUMNS": ""}, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    batch0 = [f for f in data_files(tmp_path / "out" / "parquet", ".parquet") if "-00000-" in f.name]
    assert batch0
    rows = {r["id"]: r for f in batch0 for r in pq.read_table(f).to_pylist()}
    assert set(rows) == {f"m-{i}" for i in range(8)}
    for i, m in enumerate(first):
        assert rows[f"m-{i}"]["key"] == m["key"]
        want = None if m["headers"] is None else [{"key": k, "value": v} for k, v in m["headers"]]
        assert rows[f"m-{i}"]["headers"] == want
    others = [f for f in data_files(tmp_path / "out" / "parquet", ".parquet") if "-00000-" not in f.name]
    assert others and all("key" not in pq.read_schema(f).names for f in others)


def test_the_delta_table_reads_back_the_kafka_columns(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    sent = produce(kafka.bootstrap, unique_topic, messages(12))
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, SINKS="parquet", SCHEMA="id STRING, n INT",
                     PARTITION_FROM="timestamp", KAFKA_COLUMNS="key,headers")
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = {r["id"]: r for r in read_delta(tmp_path / "out" / "parquet").to_pylist()}
    for i, m in enumerate(sent):
        assert rows[f"m-{i}"]["key"] == m["key"]
        want = None if m["headers"] is None else [{"key": k, "value": v} for k, v in m["headers"]]
        assert rows[f"m-{i}"]["headers"] == want


@pytest.mark.parametrize("settings, message", [
    ({"KAFKA_COLUMNS": "key,keys"}, "KAFKA_COLUMNS: unknown column 'keys'"),
    ({"KAFKA_COLUMNS": "offset", "SCHEMA": "event_id STRING, ts TIMESTAMP, Offset BIGINT"},
     "KAFKA_COLUMNS: 'offset' is also a column of SCHEMA ('Offset'"),
    ({"PARTITION_FROM": "created"}, "PARTITION_FROM=timestamp takes the Kafka record's timestamp"),
])
def test_a_bad_setting_exits_2_before_anything_starts(kpipe_bin, tmp_path, settings, message):
    # No broker needed: the settings are checked first.
    env = stream_env(tmp_path, "127.0.0.1:1", "nowhere", **settings)
    p = run_stream(kpipe_bin, env, tmp_path, timeout=60)
    assert p.returncode == 2, p.stderr[-2000:]
    assert message in p.stderr
    assert not (tmp_path / "out" / "_checkpoint" / "offsets").exists()  # (only the writer lock is taken)


def test_key_and_headers_in_csv_as_base64_and_json_text(kafka, kpipe_bin, unique_topic, tmp_path):
    """CSV has no binary or nested types: the key is base64, the headers their JSON text with
    base64 values, as for any BINARY and ARRAY<STRUCT> column (README, Output); the console sink
    runs beside them."""
    kafka.create_topic(unique_topic, 3)
    sent = produce(kafka.bootstrap, unique_topic, messages(9))
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, SINKS="parquet,csv,console", SCHEMA="id STRING, n INT",
                     PARTITION_FROM="timestamp", KAFKA_COLUMNS="key,headers")
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = {}
    for f in data_files(tmp_path / "out" / "csv", ".csv"):
        with open(f, newline="", encoding="utf-8") as fh:
            rows.update({r["id"]: r for r in csv.DictReader(fh)})
    assert set(rows) == {f"m-{i}" for i in range(len(sent))}
    for i, m in enumerate(sent):
        row = rows[f"m-{i}"]
        assert row["key"] == ("" if m["key"] is None else base64.b64encode(m["key"]).decode()), row
        if m["headers"] is None:
            assert row["headers"] == ""
        else:
            got = [(h["key"], None if h["value"] is None else base64.b64decode(h["value"]))
                   for h in json.loads(row["headers"])]
            assert got == m["headers"]
