"""Reads kpipe's output the way a user would — with pyarrow and DuckDB, never with kpipe's own
code — and checks the exactly-once invariant."""
from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def data_files(root: Path, suffix: str) -> list[Path]:
    """The data files below root, as plain readers list them: nothing under a name starting with
    '.' or '_' (hidden temp files, the Delta log's _delta_log/ with its checkpoints)."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffix)
                  and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts))


def hidden_files(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        if Path(root).exists():
            out += [p for p in Path(root).rglob(".*") if p.is_file()]
    return out


def read_parquet(root: Path):
    """Every row of the Parquet output as a pyarrow Table, dt from the folder names."""
    dataset = ds.dataset(str(root), format="parquet", partitioning="hive")
    return dataset.to_table()


def read_delta(root: Path, version: int | None = None):
    """The rows of the Delta table at root as delta-rs (the deltalake package) reads them."""
    from deltalake import DeltaTable
    return DeltaTable(str(root), version=version).to_pyarrow_table()


def read_parquet_duckdb(root: Path) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(
        f"SELECT event_id, ts, value, source, CAST(dt AS VARCHAR) FROM read_parquet('{root}/*/*.parquet', "
        "hive_partitioning = true)").fetchall()


def read_csv_duckdb(root: Path) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(
        f"SELECT event_id, CAST(ts AS VARCHAR), value, source, CAST(dt AS VARCHAR) FROM read_csv('{root}/*/*.csv', "
        "header = true, hive_partitioning = true, types = {'event_id': 'VARCHAR', 'ts': 'VARCHAR', "
        "'value': 'DOUBLE', 'source': 'VARCHAR'})").fetchall()


def read_dead_letter(root: Path) -> list[dict]:
    rows = []
    for f in data_files(root, ".jsonl"):
        with open(f, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def duplicates(ids) -> dict:
    return {k: n for k, n in collections.Counter(ids).items() if n > 1}


def assert_every_file_opens(parquet_root: Path, csv_root: Path):
    for f in data_files(parquet_root, ".parquet"):
        pq.ParquetFile(f).metadata  # raises on a torn file
    con = duckdb.connect()
    for f in data_files(csv_root, ".csv"):
        con.execute(f"SELECT count(*) FROM read_csv('{f}', header = true)").fetchone()


def stream_env(tmp: Path, bootstrap: str, topic: str, **extra) -> dict:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "OUTPUT_PATH": str(tmp / "out" / "parquet"),
        "CSV_OUTPUT_PATH": str(tmp / "out" / "csv"),
        "CHECKPOINT_PATH": str(tmp / "out" / "_checkpoint"),
        "DEAD_LETTER_PATH": str(tmp / "out" / "_dead_letter"),
        "SINKS": "parquet,csv",
        "STATUS_ADDR": "off",
        "TRIGGER_SECONDS": "1",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def progress_lines(stderr: str) -> list[dict]:
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{") and '"batchId"' in line:
            out.append(json.loads(line))
    return out
