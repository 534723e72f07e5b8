"""Spark's from_json as the reference for nested events (issue 11): the same payloads, the same
schema, in Spark 3.5.1. For every event kpipe keeps, the row Spark reads from kpipe's Delta table
is the row from_json gives (same values, same nulls, unknown fields dropped alike). Spark keeps
every record and nulls the top-level field that does not fit; kpipe dead-letters exactly those
events, plus the two kinds Spark changes silently (a decimal with more digits than its scale,
rounded; a TINYINT of 128, wrapped) — listed here, so any other difference fails.

One Spark JVM for the module, as test_delta_spark.py; without Spark set up the tests skip
locally and fail under CI."""
from __future__ import annotations

import json
import os

import pytest

import nested_corpus as nc
from output_check import read_dead_letter, stream_env
from spark_from_json import from_json_with_spark
from spark_reader import SETUP_HINT, spark_settings
from test_stream import run_stream

# Events Spark does not null but changes silently, where kpipe dead-letters them: a decimal with
# more digits than its scale (Spark rounds 12.345 to 12.35) and a TINYINT of 128 (Spark wraps it
# to -128). Any other difference between the two fails the tests.
KPIPE_STRICTER = {"bad-price": "items", "bad-flag": "flag"}


def spark_dropped(event: dict, row: dict | None) -> list[str]:
    """The top-level fields the event has (not null) that Spark's from_json returned as null: what
    Spark 3.5 does with a field that does not fit the schema (it keeps the record)."""
    if row is None:
        return ["<record>"]
    return [n for n in nc.NAMES if event.get(n) is not None and row.get(n) is None]


@pytest.fixture(scope="module")
def reference(kafka, kpipe_bin, tmp_path_factory):
    if spark_settings() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark is not set up under CI: {SETUP_HINT}", pytrace=False)
        pytest.skip(f"Spark is not set up: {SETUP_HINT}")
    tmp = tmp_path_factory.mktemp("nested-spark")
    topic = "t-nested-spark"
    kafka.create_topic(topic, 2)
    events = nc.make_events(250, seed=23) + [e for e, _ in nc.BAD_EVENTS]
    payloads = nc.payloads(events)
    kafka.produce(topic, payloads)
    env = stream_env(tmp, kafka.bootstrap, topic, SCHEMA=nc.DDL)
    p = run_stream(kpipe_bin, env, tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    payload_file = tmp / "payloads.jsonl"
    payload_file.write_bytes(b"".join(x + b"\n" for x in payloads))
    spark = from_json_with_spark(payload_file, nc.DDL, tmp / "out" / "parquet")
    dead = {json.loads(d["payload"])["id"]: d for d in read_dead_letter(tmp / "out" / "_dead_letter")}
    return {e["id"]: e for e in events}, {p["id"]: p["row"] for p in spark["parsed"]}, spark["table"], dead


def test_spark_reads_from_kpipes_table_exactly_what_from_json_gives(reference):
    events, parsed, table_rows, dead = reference
    table = {}
    for r in table_rows:
        r = dict(r)
        r.pop("dt")
        table[r["id"]] = r
    assert set(table) == set(events) - set(dead)
    for i in sorted(table):
        assert table[i] == parsed[i], f"event {i}: Spark reads {table[i]} from kpipe's table, from_json gives " \
                                      f"{parsed[i]}"
        assert spark_dropped(events[i], parsed[i]) == [], f"event {i}"


def test_kpipe_dead_letters_exactly_what_spark_nulls_or_changes(reference):
    events, parsed, _, dead = reference
    spark_bad = {i for i, e in events.items() if spark_dropped(e, parsed[i])}
    assert spark_bad, "the corpus has events Spark cannot keep whole"
    assert set(dead) == spark_bad | set(KPIPE_STRICTER), \
        f"kpipe only: {sorted(set(dead) - spark_bad - set(KPIPE_STRICTER))}; Spark only: {sorted(spark_bad - set(dead))}"
    for i in KPIPE_STRICTER:
        assert not spark_dropped(events[i], parsed[i]), f"Spark now nulls {i}"
    # What Spark makes of them: 12.345 → 12.35, 128 → -128.
    assert parsed["bad-price"]["items"][2]["price"] == "12.35"
    assert parsed["bad-flag"]["flag"] == -128
