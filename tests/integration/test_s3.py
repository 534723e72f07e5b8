"""`kpipe stream` with its output and checkpoint on a real S3-compatible server (S3Proxy, scripts/s3):
read back from S3 by pyarrow's S3 file system, delta-rs and DuckDB (over pyarrow: httpfs is not
available offline), and, copied to a local folder, by every check of the local-disk tests."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from output_check import duplicates, stream_env
from test_stream import (CRASH_STEPS, check_exactly_once, clean_env, kafka_values, make_events, produce_lines,
                         run_stream, spawn)


def s3_env(s3, tmp: Path, kafka, topic: str, bucket: str, **extra) -> dict:
    env = stream_env(tmp, kafka.bootstrap, topic)
    env.update(s3.env)
    for name, sub in (("OUTPUT_PATH", "parquet"), ("CSV_OUTPUT_PATH", "csv"), ("CHECKPOINT_PATH", "_checkpoint"),
                      ("DEAD_LETTER_PATH", "_dead_letter")):
        env[name] = f"s3://{bucket}/out/{sub}"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def check_s3_exactly_once(s3, bucket: str, tmp: Path, expected_ids: set[str]) -> Path:
    """Every check of the local tests on a copy of the bucket's output, and the same rows read
    straight from S3 by pyarrow, delta-rs and DuckDB. Returns the copy's folder."""
    copy = s3.download(f"{bucket}/out", tmp / f"copy-{random.randrange(1 << 30)}")
    check_exactly_once(copy, expected_ids)
    fs = s3.fs()
    table = ds.dataset(f"{bucket}/out/parquet", filesystem=fs, format="parquet", partitioning="hive",
                       exclude_invalid_files=False, ignore_prefixes=["_", "."]).to_table()
    ids = table.column("event_id").to_pylist()
    assert duplicates(ids) == {} and set(ids) == expected_ids
    from deltalake import DeltaTable
    delta = DeltaTable(f"s3://{bucket}/out/parquet", storage_options=s3.delta_storage_options()).to_pyarrow_table()
    assert sorted(delta.column("event_id").to_pylist()) == sorted(expected_ids)
    con = duckdb.connect()
    con.register("events", delta)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == \
        (len(expected_ids), len(expected_ids))
    return copy


def test_backlog_to_s3_exactly_once_read_back_from_s3(s3, kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 3)
    bucket = s3.new_bucket()
    events = make_events(4000)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events] + ["{broken"], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, MAX_OFFSETS_PER_TRIGGER=1500, MAX_RECORDS_PER_FILE=700)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "holding checkpoint s3://" in p.stderr
    copy = check_s3_exactly_once(s3, bucket, tmp_path, {e["event_id"] for e in events})
    # Nothing of the local recipe on S3: no temp names, no lock file; the checkpoint's entries and
    # the Delta log are there.
    keys = s3.keys(f"{bucket}/out")
    assert not [k for k in keys if "/." in k or k.startswith(".")], keys
    assert "_checkpoint/commits/2" in keys and "_checkpoint/lock" not in keys
    assert "parquet/_delta_log/00000000000000000003.json" in keys
    dlq = [json.loads(line) for f in (copy / "_dead_letter").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert [d["payload"] for d in dlq] == ["{broken"]


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_s3_crash_at_each_protocol_step_then_exactly_once(s3, kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path,
                                                          step):
    kafka.create_topic(unique_topic, 3)
    bucket = s3.new_bucket()
    events = make_events(3000)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in events], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, MAX_OFFSETS_PER_TRIGGER=1000, MAX_RECORDS_PER_FILE=400)
    crashed = run_stream(kpipe_bin, {**env, "KPIPE_TEST_CRASH_AT": f"{step}@1"}, tmp_path)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert f"killing the process at {step}" in crashed.stderr
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    check_s3_exactly_once(s3, bucket, tmp_path, {e["event_id"] for e in events})


def test_s3_random_sigkills_while_producing(s3, kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    bucket = s3.new_bucket()
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, TRIGGER_SECONDS=0.2, MAX_RECORDS_PER_FILE=300)
    producer = spawn(kpipe_bin, ["produce", "--rate", "2000", "--duration", "60"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    rnd = random.Random(43)
    try:
        # Each start waits out the fence's grace (5 s) before its first batch: kill later than that,
        # and sometimes within it.
        for _ in range(10):
            s = spawn(kpipe_bin, ["stream"], env, tmp_path)
            time.sleep(rnd.uniform(3.0, 7.5))
            if s.poll() is not None:
                pytest.fail(f"stream exited early: {s.returncode} {s.stderr.read()[-2000:]}")
            s.kill()
            s.wait(timeout=10)
            s.stderr.close()
        assert producer.wait(timeout=120) == 0, producer.stderr.read()[-2000:]
    finally:
        if producer.poll() is None:
            producer.kill()
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    ids = [r["event_id"] for r in kafka_values(kafka, unique_topic)]
    assert len(ids) > 100_000
    check_s3_exactly_once(s3, bucket, tmp_path, set(ids))


def test_s3_server_killed_and_restarted_mid_run_retries_then_exactly_once(s3, kafka, kpipe_bin, unique_topic,
                                                                         run_kpipe, tmp_path):
    """The store dies while a running stream has batches to write. However fast the stream is, the
    outage falls inside its run: the second half of the events is produced only once the server is
    dead, so the stream must reach the store for them. It retries, naming the setting, carries on
    once the server is back, stops cleanly, and the output is exactly-once."""
    kafka.create_topic(unique_topic, 3)
    bucket = s3.new_bucket()
    first, second = make_events(30_000, days=2, prefix="a"), make_events(30_000, days=2, prefix="b")
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in first], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, TRIGGER_SECONDS=0.3, MAX_OFFSETS_PER_TRIGGER=3000,
                 MAX_RECORDS_PER_FILE=500)
    log = tmp_path / "stream.log"
    p = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def wait_for(what: str, done, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            assert time.monotonic() < deadline and p.poll() is None, f"waiting for {what}: {log.read_text()[-3000:]}"
            time.sleep(0.1)

    outage = "cannot reach the store; check S3_ENDPOINT_URL"
    try:
        wait_for("the first commit", lambda: any(k.startswith("_checkpoint/commits/")
                                                 for k in s3.keys(f"{bucket}/out")))
        s3.kill()
        produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in second], tmp_path)
        wait_for("the outage to be seen", lambda: outage in log.read_text())
        time.sleep(2)
        s3.start()
        # A batch committed after the outage, by the same process: it recovered on its own.
        wait_for("a batch after the outage",
                 lambda: '"batchId"' in log.read_text().split(outage, 1)[1])
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
        s3.start()
    text = log.read_text()
    assert "retrying in" in text, text[-3000:]
    final = run_stream(kpipe_bin, env, tmp_path)  # whatever the first run left after its stop
    assert final.returncode == 0, final.stderr[-3000:]
    # s3.swept: what the killed server had of the PUTs it was taking (S3Proxy's own leftovers).
    check_s3_exactly_once(s3, bucket, tmp_path, {e["event_id"] for e in first + second})
    audit = run_kpipe(["verify", "--json"], env=env, cwd=tmp_path, timeout=120)
    report = json.loads(audit.stdout)
    assert audit.returncode == 0 and report["ok"] and report["rows"] == len(first) + len(second), \
        f"{audit.stdout[-3000:]} (swept after the kill: {s3.swept})"


def test_s3_wrong_credentials_or_missing_bucket_exit_2_at_once_and_commit_nothing(s3, kafka, kpipe_bin, unique_topic,
                                                                                 run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    bucket = s3.new_bucket()
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(100)], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket)
    started = time.monotonic()
    p = run_stream(kpipe_bin, {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, tmp_path, timeout=60)
    assert p.returncode == 2, p.stderr[-2000:]
    assert time.monotonic() - started < 10
    assert f"OUTPUT_PATH='s3://{bucket}/out/parquet'" in p.stderr
    assert "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in p.stderr
    assert "not-the-secret" not in p.stderr
    assert s3.keys(bucket) == []

    p = run_stream(kpipe_bin, {**env, "CHECKPOINT_PATH": "s3://no-such-bucket-kpipe/cp"}, tmp_path, timeout=60)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "CHECKPOINT_PATH='s3://no-such-bucket-kpipe/cp': " in p.stderr
    assert "the bucket no-such-bucket-kpipe does not exist" in p.stderr and "scripts/s3 bucket" in p.stderr
    assert s3.keys(bucket) == []


def test_s3_unreachable_endpoint_is_retried_naming_it(s3, kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    env = s3_env(s3, tmp_path, kafka, unique_topic, "some-bucket", S3_ENDPOINT_URL="http://127.0.0.1:1",
                 ONCE_TIMEOUT=8)
    p = run_stream(kpipe_bin, env, tmp_path, timeout=120)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "cannot reach the store; check S3_ENDPOINT_URL" in p.stderr and "retrying in" in p.stderr
    assert "--once: giving up after" in p.stderr


def test_s3_a_newer_writer_fences_the_older_one(s3, kafka, kpipe_bin, unique_topic, tmp_path):
    """No locks on S3: the checkpoint is held through a Kafka fence. The newer of two writers wins;
    the older stops with exit 2 at its next batch, before writing anything more."""
    kafka.create_topic(unique_topic, 3)
    bucket = s3.new_bucket()
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, TRIGGER_SECONDS=0.3, MAX_RECORDS_PER_FILE=500)
    producer = spawn(kpipe_bin, ["produce", "--rate", "2000", "--duration", "25"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp_path, stdout=subprocess.DEVNULL,
                         stderr=logs[0].open("w"))
    b = None
    try:
        deadline = time.monotonic() + 60
        while not any(k.startswith("_checkpoint/commits/") for k in s3.keys(f"{bucket}/out")):
            assert time.monotonic() < deadline and a.poll() is None, logs[0].read_text()[-2000:]
            time.sleep(0.1)
        b = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=logs[1].open("w"))
        assert a.wait(timeout=60) == 2, logs[0].read_text()[-2000:]
        assert "another instance took over" in logs[0].read_text(), logs[0].read_text()[-2000:]
        time.sleep(8)  # b's grace, then batches
        assert b.poll() is None, logs[1].read_text()[-2000:]
        assert producer.wait(timeout=120) == 0
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=60) == 0, logs[1].read_text()[-2000:]
    finally:
        for proc in (a, b, producer):
            if proc is not None and proc.poll() is None:
                proc.kill()
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    ids = [r["event_id"] for r in kafka_values(kafka, unique_topic)]
    check_s3_exactly_once(s3, bucket, tmp_path, set(ids))


def test_s3_secrets_are_masked_on_the_status_page(s3, kafka, kpipe_bin, unique_topic, tmp_path):
    import urllib.request

    from kafka_fixture import free_port

    kafka.create_topic(unique_topic, 1)
    bucket = s3.new_bucket()
    port = free_port()
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, STATUS_ADDR=f"127.0.0.1:{port}",
                 AWS_SESSION_TOKEN="session-token-value")
    secret = env["AWS_SECRET_ACCESS_KEY"]
    p = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp_path, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = {path: urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode()
                         for path in ("/api/status", "/", "/metrics")}
                break
            except OSError:
                assert time.monotonic() < deadline and p.poll() is None
                time.sleep(0.2)
        config = {c["name"]: c["value"] for c in json.loads(pages["/api/status"])["config"]}
        assert config["AWS_SECRET_ACCESS_KEY"] == "***" and config["AWS_SESSION_TOKEN"] == "***"
        assert config["OUTPUT_PATH"] == f"s3://{bucket}/out/parquet"
        assert config["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY_ID"]
        for text in pages.values():
            assert secret not in text and "session-token-value" not in text
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


PARTIAL_UPLOAD = """
import os, sys, time, pyarrow.fs as pafs
fs = pafs.S3FileSystem(endpoint_override=sys.argv[1], scheme="http", access_key=sys.argv[2], secret_key=sys.argv[3],
                       region="us-east-1", background_writes=False)
out = fs.open_output_stream(sys.argv[4])
out.write(os.urandom(12 << 20))  # more than Arrow's part size: a multipart upload has begun
out.write(os.urandom(1 << 20))
print("uploading", flush=True)
time.sleep(120)
"""


def leave_unfinished_upload(s3, key: str):
    """A writer killed in the middle of a multipart upload, as a SIGKILLed kpipe leaves one."""
    import sys
    e = s3.env
    p = subprocess.Popen([sys.executable, "-c", PARTIAL_UPLOAD, f"127.0.0.1:{s3.port}", e["AWS_ACCESS_KEY_ID"],
                          e["AWS_SECRET_ACCESS_KEY"], key], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "uploading"
    p.kill()
    p.wait()


def unfinished_upload_dirs(s3, bucket: str) -> list[str]:
    # S3Proxy keeps an upload's parts under <bucket>/.mpus-<upload id>-<key>; ListMultipartUploads
    # answers from them. Listing the folder is looking at the server's state, not at kpipe's.
    root = s3.data_dir / "blobs" / bucket
    return sorted(str(p.relative_to(root)) for p in root.rglob("*part-*") if ".mpus-" in str(p) and p.is_file()
                  and not p.name.endswith("-stub"))


def test_s3_a_restart_aborts_the_unfinished_uploads_of_its_query_only(s3, kafka, kpipe_bin, unique_topic, run_kpipe,
                                                                       tmp_path):
    kafka.create_topic(unique_topic, 1)
    bucket = s3.new_bucket()
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(500, days=1)], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket)
    first = run_stream(kpipe_bin, env, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    ours = next(k for k in s3.keys(f"{bucket}/out/parquet") if k.startswith("dt=")).split("/")[1]
    query8 = ours.split("-")[1]
    leave_unfinished_upload(s3, f"{bucket}/out/parquet/dt=2025-11-06/part-{query8}-00007-000.snappy.parquet")
    leave_unfinished_upload(s3, f"{bucket}/out/csv/dt=2025-11-06/part-{query8}-00007-000.csv")
    other = "0badc0de" if query8 != "0badc0de" else "1badc0de"
    leave_unfinished_upload(s3, f"{bucket}/out/parquet/dt=2025-11-06/part-{other}-00001-000.snappy.parquet")
    assert len(unfinished_upload_dirs(s3, bucket)) == 3
    second = run_stream(kpipe_bin, env, tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"aborted 1 unfinished upload(s) below s3://{bucket}/out/parquet" in second.stderr
    assert f"aborted 1 unfinished upload(s) below s3://{bucket}/out/csv" in second.stderr
    left = unfinished_upload_dirs(s3, bucket)
    assert len(left) == 1 and f"part-{other}-" in left[0], left
    # Never visible as objects, before or after.
    assert not [k for k in s3.keys(f"{bucket}/out") if "00007" in k or other in k]
