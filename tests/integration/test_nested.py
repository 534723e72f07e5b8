"""Nested events end to end (issue 11): a corpus of our own (nested_corpus.py) through a real
broker and `kpipe stream --once`, read back by pyarrow, delta-rs and DuckDB and compared field by
field with what was sent; the CSV holds each nested value as its JSON text; the bad events are
in the dead-letter output with the path of the field that did not fit; SCHEMA_FILE with Spark's
StructType JSON gives the same table; a bad schema exits 2 before anything starts."""
from __future__ import annotations

import base64
import csv
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import nested_corpus as nc
from output_check import (data_files, hidden_files, read_dead_letter, read_delta, read_parquet, stream_env)
from test_stream import run_stream

N = 400


@pytest.fixture(scope="module")
def nested_run(kafka, kpipe_bin, tmp_path_factory):
    """(tmp, events, bad events, completed process): the corpus and the bad events, one run."""
    tmp = tmp_path_factory.mktemp("nested")
    topic = "t-nested"
    kafka.create_topic(topic, 3)
    events = nc.make_events(N)
    bad = [e for e, _ in nc.BAD_EVENTS]
    kafka.produce(topic, nc.payloads(events + bad))
    env = stream_env(tmp, kafka.bootstrap, topic, SCHEMA=nc.DDL, MAX_OFFSETS_PER_TRIGGER=150,
                     MAX_RECORDS_PER_FILE=60)
    p = run_stream(kpipe_bin, env, tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp, events, bad, p


def by_id(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for r in rows:
        assert r["id"] not in out, f"{r['id']} twice"
        out[r["id"]] = r
    return out


def assert_rows_equal(got: dict[str, dict], events: list[dict], reader: str, maps_unordered=False):
    want = {e["id"]: nc.expected_row(e) for e in events}
    if maps_unordered:
        want = {k: nc.unorder_maps(v) for k, v in want.items()}
    assert set(got) == set(want), f"{reader}: missing {sorted(set(want) - set(got))[:5]}, " \
                                  f"extra {sorted(set(got) - set(want))[:5]}"
    for i, (k, w) in enumerate(want.items()):
        for name in [*nc.NAMES, "dt"]:
            assert got[k][name] == w[name], f"{reader}: event {k} field {name}: got {got[k][name]!r}, " \
                                            f"sent {w[name]!r}"


def test_pyarrow_reads_every_nested_value_as_sent(nested_run):
    tmp, events, _, _ = nested_run
    table = read_parquet(tmp / "out" / "parquet")
    rows = by_id([nc.canon_row(r) for r in table.to_pylist()])
    assert_rows_equal(rows, events, "pyarrow")
    # The Parquet types are the nested ones, not strings.
    types = {f.name: str(f.type) for f in table.schema}
    assert types["items"].startswith("list<element: struct<sku: string, qty: int16, price: decimal128(10, 2)>")
    assert types["attrs"].startswith("map<string, string")
    assert types["frac"] == "decimal128(38, 38)"
    assert types["local"] == "timestamp[us]"


def test_delta_rs_reads_the_same_rows(nested_run):
    tmp, events, _, _ = nested_run
    rows = by_id([nc.canon_row(r) for r in read_delta(tmp / "out" / "parquet").to_pylist()])
    assert_rows_equal(rows, events, "delta-rs")


def test_duckdb_reads_the_same_rows(nested_run):
    tmp, events, _, _ = nested_run
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cur = con.execute(f"SELECT * FROM read_parquet('{tmp}/out/parquet/*/*.parquet', hive_partitioning = true)")
    names = [d[0] for d in cur.description]
    rows = by_id([nc.canon_row(dict(zip(names, r)), maps_unordered=True) for r in cur.fetchall()])
    assert_rows_equal(rows, events, "DuckDB", maps_unordered=True)
    # DuckDB sees real nested types: a path into the struct, an unnest of the list.
    n = con.execute(f"SELECT count(*) FROM (SELECT unnest(items) AS it FROM read_parquet('{tmp}/out/parquet/*/*.parquet')"
                    ") WHERE it.price IS NOT NULL").fetchone()[0]
    assert n == sum(1 for e in events for it in e.get("items") or [] if it and it.get("price") is not None)


def csv_json(kind, v):
    """The JSON value a CSV cell must hold for a nested value (decimals exact, binary base64)."""
    if v is None:
        return None
    if isinstance(kind, tuple):
        if kind[0] == "DECIMAL":
            return Decimal(str(v))
        if kind[0] == "STRUCT":
            return {n: csv_json(t, v.get(n)) for n, t in kind[1]}
        if kind[0] == "ARRAY":
            return [csv_json(kind[1], x) for x in v]
        return {k: csv_json(kind[1], x) for k, x in v.items()}
    if kind == "BINARY":
        return v  # already base64 text in the event
    if kind == "DOUBLE":
        return float(v)
    return v


def test_csv_holds_nested_values_as_json_text(nested_run):
    tmp, events, _, _ = nested_run
    want = {e["id"]: e for e in events}
    seen = 0
    for f in data_files(tmp / "out" / "csv", ".csv"):
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                e = want[row["id"]]
                for name in ("user", "items", "attrs", "scores", "matrix"):
                    kind = dict(nc.FIELDS)[name]
                    if e.get(name) is None:
                        assert row[name] == "", f"{row['id']} {name}: {row[name]!r}"
                        continue
                    got = json.loads(row[name], parse_float=Decimal)
                    sent = csv_json(kind, e[name])
                    if name == "user" and isinstance(sent, dict):  # the unknown field is not written
                        sent.pop("unknown", None)
                    assert normalise_numbers(got) == normalise_numbers(sent), f"{row['id']} {name}: {row[name]}"
                if e.get("big") is not None:
                    assert Decimal(row["big"]) == Decimal(str(e["big"]))
                if e.get("blob") is not None:
                    assert base64.b64decode(row["blob"]) == base64.b64decode(e["blob"])
                seen += 1
    assert seen == len(events)


def normalise_numbers(v):
    """Numbers compared by value (12.30 == 12.3), timestamps inside nested values left as text."""
    if isinstance(v, dict):
        return {k: normalise_numbers(x) for k, x in v.items() if k not in ("alt", "note")}
    if isinstance(v, list):
        return [normalise_numbers(x) for x in v]
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return Decimal(str(v)).normalize()
    return v


def test_bad_events_are_dead_lettered_with_the_field_path(nested_run):
    tmp, _, bad, _ = nested_run
    dead = read_dead_letter(tmp / "out" / "_dead_letter")
    by_payload = {}
    for d in dead:
        text = d.get("payload") or d.get("value") or ""
        by_payload[json.loads(text)["id"] if text.startswith("{") else text] = d
    for event, path in nc.BAD_EVENTS:
        assert event["id"] in by_payload, f"{event['id']} not dead-lettered: {sorted(by_payload)}"
        reason = by_payload[event["id"]].get("reason", "")
        assert path in reason, f"{event['id']}: reason {reason!r} does not name {path}"
    assert len(dead) == len(nc.BAD_EVENTS)
    assert hidden_files(tmp / "out" / "parquet", tmp / "out" / "csv") == []


def test_schema_file_with_sparks_struct_type_json_gives_the_same_table(kafka, kpipe_bin, tmp_path):
    topic = "t-nested-schema-file"
    kafka.create_topic(topic, 1)
    events = nc.make_events(40, seed=5)
    kafka.produce(topic, nc.payloads(events))
    # What PySpark's StructType.json() prints for part of the corpus schema (keys in its order).
    spark_json = {"fields": [
        {"metadata": {}, "name": "id", "nullable": True, "type": "string"},
        {"metadata": {}, "name": "ts", "nullable": True, "type": "timestamp"},
        {"metadata": {"comment": "the cart"}, "name": "items", "nullable": True, "type": {
            "containsNull": True, "elementType": {"fields": [
                {"metadata": {}, "name": "sku", "nullable": True, "type": "string"},
                {"metadata": {}, "name": "qty", "nullable": True, "type": "short"},
                {"metadata": {}, "name": "price", "nullable": True, "type": "decimal(10,2)"}], "type": "struct"},
            "type": "array"}},
        {"metadata": {}, "name": "attrs", "nullable": True, "type": {
            "keyType": "string", "type": "map", "valueContainsNull": True, "valueType": "string"}}],
        "type": "struct"}
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(spark_json), encoding="utf-8")
    env = stream_env(tmp_path, kafka.bootstrap, topic, SCHEMA_FILE=str(schema_file))
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    table = read_delta(tmp_path / "out" / "parquet")
    assert table.column_names == ["id", "ts", "items", "attrs", "dt"]
    rows = {r["id"]: r for r in table.to_pylist()}
    for e in events:
        want = nc.expected_value(dict(nc.FIELDS)["items"], e.get("items"))
        assert nc.canon(dict(nc.FIELDS)["items"], rows[e["id"]]["items"]) == want
    from deltalake import DeltaTable
    schema = json.loads(DeltaTable(str(tmp_path / "out" / "parquet")).schema().to_json())
    items = next(f for f in schema["fields"] if f["name"] == "items")
    assert items["metadata"] == {"comment": "the cart"}
    assert items["type"]["elementType"]["fields"][2]["type"] == "decimal(10,2)"


@pytest.mark.parametrize("setting,value,message", [
    ("SCHEMA", "id STRING, user STRUCT<id: INT, tags: ARRAY<STRNG>>",
     "unknown type 'STRNG' for field 'user.tags.element' at position 45"),
    ("SCHEMA", "id STRING, m MAP<INT, STRING>", "JSON object keys are strings"),
    ("SCHEMA", "id STRING, p DECIMAL(40, 2)", "the precision must be 1 to 38"),
])
def test_a_bad_schema_exits_2_before_anything_starts(kpipe_bin, tmp_path, setting, value, message):
    # No broker at this address: the schema must be refused before any connection is tried.
    env = stream_env(tmp_path, "127.0.0.1:1", "t-never", **{setting: value})
    p = run_stream(kpipe_bin, env, tmp_path, timeout=30)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert "SCHEMA: SCHEMA" not in p.stderr
    assert "reading t-never" not in p.stderr  # refused before start-up says what it reads
    assert not (tmp_path / "out").exists()
