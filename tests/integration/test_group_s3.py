"""A consumer group (GROUP_ID) writing to S3 (S3Proxy), against the real broker: the instances
commit to one Delta log with conditional PUTs (If-None-Match: *), and an instance killed after it
published a batch's files but before its commit leaves files that the others remove once the
partitions have moved on (no locks on S3: the batch's epochs tell that it can never commit).
Read back from the bucket by delta-rs, pyarrow and DuckDB."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

from group_check import GROUP_PROPS
from kafka_fixture import clean_env, run_kpipe, wait_until
from output_check import duplicates
from test_s3 import s3_env
from test_stream import kafka_values, spawn


def start(kpipe_bin, env: dict, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(kpipe_bin), "stream", *GROUP_PROPS], env=clean_env({**env, **(extra_env or {})}),
                            cwd=log.parent, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))


def delta_rows(s3, bucket: str) -> list[tuple[int, int, str]]:
    from deltalake import DeltaTable
    t = DeltaTable(f"s3://{bucket}/out/parquet", storage_options=s3.delta_storage_options()).to_pyarrow_table()
    return list(zip(t.column("partition").to_pylist(), t.column("offset").to_pylist(),
                    t.column("event_id").to_pylist()))


def test_a_group_on_s3_is_exactly_once_through_a_kill_between_publish_and_commit(s3, kafka, kpipe_bin, unique_topic,
                                                                                  tmp_path):
    kafka.create_topic(unique_topic, 4)
    bucket = s3.new_bucket()
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, GROUP_ID=f"g-{unique_topic}",
                 KAFKA_COLUMNS="partition,offset", TRIGGER_SECONDS=1, MAX_RECORDS_PER_FILE=200,
                 STARTING_OFFSETS="earliest")
    producer = spawn(kpipe_bin, ["produce", "--rate", "400", "--duration", "20"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    logs = {n: tmp_path / f"{n}.log" for n in ("a", "b", "c")}
    procs: dict[str, subprocess.Popen] = {}
    try:
        # a publishes batch 3's files, then dies before its Delta commit (SIGKILL at that step).
        procs["a"] = start(kpipe_bin, env, logs["a"], {"KPIPE_TEST_CRASH_AT": "after_rename@3"})
        wait_until(lambda: "claimed partitions" in logs["a"].read_text() or procs["a"].poll() is not None, 60,
                   what="the first instance's claim")
        procs["b"] = start(kpipe_bin, env, logs["b"])
        assert procs["a"].wait(timeout=90) == -signal.SIGKILL, logs["a"].read_text()[-3000:]
        assert "killing the process at after_rename" in logs["a"].read_text()
        procs["c"] = start(kpipe_bin, env, logs["c"])
        assert producer.wait(timeout=120) == 0, producer.stderr.read()[-2000:]
        expected = {(m["partition"], m["offset"]): json.loads(m["value"])["event_id"]
                    for m in kafka.consume(unique_topic, timeout=120)}
        # The group settles: every event in the table (a's partitions taken over after 6 s).
        wait_until(lambda: len(delta_rows(s3, bucket)) >= len(expected), 120, interval=2,
                   what=f"{len(expected)} events in the Delta table on S3")
        for name in ("b", "c"):
            assert procs[name].poll() is None, logs[name].read_text()[-3000:]
            procs[name].send_signal(signal.SIGTERM)
        for name in ("b", "c"):
            assert procs[name].wait(timeout=60) == 0, logs[name].read_text()[-3000:]
    finally:
        for p in [producer, *procs.values()]:
            if p.poll() is None:
                p.kill()
    swept = logs["b"].read_text() + logs["c"].read_text()
    assert "can no longer commit" in swept, "nobody removed the killed instance's files:\n" + swept[-3000:]

    rows = delta_rows(s3, bucket)
    assert duplicates([(p, o) for p, o, _ in rows]) == {}, "an offset twice in the Delta table"
    assert {(p, o): e for p, o, e in rows} == expected
    # The plain Parquet files, from the bucket: the killed instance's are gone.
    plain = ds.dataset(f"{bucket}/out/parquet", filesystem=s3.fs(), format="parquet", partitioning="hive",
                       ignore_prefixes=["_", "."]).to_table(columns=["partition", "offset"])
    pairs = list(zip(plain.column("partition").to_pylist(), plain.column("offset").to_pylist()))
    assert duplicates(pairs) == {} and set(pairs) == set(expected)
    csv = s3.download(f"{bucket}/out/csv", tmp_path / "csv")
    con = duckdb.connect()
    got = con.execute(f"""SELECT count(*), count(DISTINCT ("partition", "offset")) FROM read_csv('{csv}/dt=*/*.csv',
        header = true, hive_partitioning = false, types = {{'partition': 'INTEGER', 'offset': 'BIGINT'}})""").fetchone()
    assert got == (len(expected), len(expected))

    audit = run_kpipe(["verify", "--json"], env=env, cwd=tmp_path, timeout=120, kpipe_bin=kpipe_bin)
    report = json.loads(audit.stdout)
    assert audit.returncode == 0 and report["ok"] and report["rows"] == len(expected), audit.stdout[-3000:]


def test_a_group_refuses_a_store_without_conditional_puts_naming_it(s3, kafka, kpipe_bin, unique_topic, tmp_path):
    """Only S3Proxy is here, and it honours If-None-Match; what a store that does not would see is
    in the unit tests (FileSystemTest.AStoreThatIgnoresOrRefusesConditionalPutsIsNamedByTheProbe).
    Here: the probe passes on S3Proxy and leaves nothing behind."""
    kafka.create_topic(unique_topic, 2)
    bucket = s3.new_bucket()
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, GROUP_ID="g1", TRIGGER_SECONDS=1)
    log = tmp_path / "i.log"
    p = start(kpipe_bin, env, log)
    try:
        wait_until(lambda: "claimed partitions" in log.read_text() or p.poll() is not None, 60, what="a claim")
        assert p.poll() is None, log.read_text()[-3000:]
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    assert not [k for k in s3.keys(f"{bucket}/out") if "kpipe-probe" in k], s3.keys(f"{bucket}/out")
