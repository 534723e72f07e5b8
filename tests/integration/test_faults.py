"""Faults a streaming job meets in production, each against a real broker: the broker down at
start, SIGKILLed and restarted under load, partitions added, the topic deleted; a full disk;
hostile records; SASL credentials right and wrong.

The invariant is the one of test_stream.py: whatever happens, every event Kafka holds ends up in
the Parquet output exactly once and in the CSV output exactly once, read back with pyarrow and
DuckDB, and no reader sees a half-written file. Tests that break a broker break their own one
(`own_broker`, or a broker of their own), never the session's.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kafka_fixture import SASL_PASSWORD, SASL_USERNAME, KafkaBroker, clean_env, free_port, wait_until
from output_check import (assert_every_file_opens, data_files, duplicates, hidden_files, progress_lines,
                          read_csv_duckdb, read_dead_letter, read_parquet, stream_env)
from test_stream import check_exactly_once, make_events

TOPIC_TOOL = "org.apache.kafka.tools.TopicCommand"


# --- helpers ---------------------------------------------------------------------------------

class Proc:
    """A kpipe process in the background; stderr goes to a file that the test can read while it
    runs (a pipe would fill up and block the process)."""

    def __init__(self, kpipe_bin, args, env, cwd: Path, name: str):
        self.log = Path(cwd) / f"{name}-{time.monotonic_ns()}.log"
        self._fh = open(self.log, "w", encoding="utf-8")
        self.p = subprocess.Popen([str(kpipe_bin), *args], env=clean_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=self._fh)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (a clean stop), then the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        finally:
            self._fh.close()

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=30)
        self._fh.close()


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def parquet_rows(out: Path) -> int:
    if not data_files(out / "parquet", ".parquet"):
        return 0
    return read_parquet(out / "parquet").num_rows


def commits(out: Path) -> list[int]:
    d = out / "_checkpoint" / "commits"
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def topic_ids(broker, topic) -> list[str]:
    return [json.loads(m["value"])["event_id"] for m in broker.consume(topic, timeout=120)]


def sigkill_broker(broker: KafkaBroker) -> None:
    pid = int((broker.data_dir / "kafka.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not broker.is_running(), 30, what="broker gone after SIGKILL")


def topic_tool(broker, *args) -> subprocess.CompletedProcess:
    p = broker.kafka_tool(TOPIC_TOOL, "--bootstrap-server", broker.bootstrap, *args)
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def produce_summary(stderr: str) -> tuple[int, int]:
    m = re.search(r"done: sent (\d+), delivered (\d+)", stderr)
    assert m, stderr[-2000:]
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    """A broker of this module's own, for tests that kill it. Each such test leaves it running."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-faults"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# --- 1. broker faults ------------------------------------------------------------------------

def test_broker_down_at_start_waits_with_clear_message_and_503_then_proceeds(kpipe_bin, tmp_path, tmp_path_factory):
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-late"))  # not started yet
    topic = "late-topic"
    status_port = free_port()
    env = stream_env(tmp_path, broker.bootstrap, topic, STATUS_ADDR=f"127.0.0.1:{status_port}")
    stream = Proc(kpipe_bin, ["stream"], env, tmp_path, "stream")
    try:
        # It waits: /healthz says why, stderr names the address, the process stays up.
        wait_until(lambda: http_get(status_port, "/healthz")[0] == 503, 90, what="/healthz 503")
        code, body = http_get(status_port, "/healthz")
        assert code == 503 and body.startswith("retrying: ") and broker.bootstrap in body, body
        wait_until(lambda: f"cannot reach {broker.bootstrap}" in stream.stderr(), 30, what="message on stderr")
        assert "retrying" in stream.stderr()
        assert stream.running()
        # The broker comes up; the job proceeds on its own.
        broker.start()
        broker.create_topic(topic, 2)
        events = make_events(500, days=2)
        broker.produce(topic, [json.dumps(e).encode() for e in events])
        wait_until(lambda: parquet_rows(tmp_path / "out") >= 500, 120, interval=1, what="output after the outage")
        wait_until(lambda: http_get(status_port, "/healthz")[0] == 200, 30, what="/healthz 200")
        assert stream.stop() == 0, stream.stderr()[-3000:]
        check_exactly_once(tmp_path / "out", {e["event_id"] for e in events})
    finally:
        stream.kill()
        broker.stop()


def test_once_gives_up_after_once_timeout_and_retries_forever_with_zero(run_kpipe, kpipe_bin, tmp_path):
    # A batch scheduler running `--once` needs an end: nothing listens on this port.
    address = f"127.0.0.1:{free_port()}"
    env = stream_env(tmp_path / "a", address, "never-there", ONCE_TIMEOUT="2")
    start = time.monotonic()
    p = run_kpipe(["stream", "--once"], env=env, cwd=tmp_path, timeout=90)
    took = time.monotonic() - start
    assert p.returncode == 1, p.stderr[-2000:]
    assert "--once: giving up after" in p.stderr and "(ONCE_TIMEOUT=2)" in p.stderr, p.stderr[-2000:]
    assert f"cannot reach {address}" in p.stderr, p.stderr[-2000:]
    assert took < 60, f"gave up only after {took:.0f} s"
    assert not list((tmp_path / "a" / "out").rglob("*.parquet"))

    # ONCE_TIMEOUT=0: still retrying well past one failed attempt (a metadata request waits 10 s),
    # and a SIGTERM stops it cleanly.
    stream = Proc(kpipe_bin, ["stream", "--once"], stream_env(tmp_path / "b", address, "never-there", ONCE_TIMEOUT="0"),
                  tmp_path, "stream-forever")
    try:
        wait_until(lambda: f"cannot reach {address}" in stream.stderr(), 30, what="the first failed attempt")
        time.sleep(12)
        assert stream.running(), stream.stderr()[-2000:]
        assert "giving up" not in stream.stderr()
    finally:
        assert stream.stop() == 0, stream.stderr()[-2000:]


def test_broker_sigkilled_twice_while_producing_and_streaming_loses_nothing(own_broker, kpipe_bin, tmp_path):
    broker = own_broker
    topic = "killed-broker"
    broker.create_topic(topic, 3)
    env = stream_env(tmp_path, broker.bootstrap, topic, TRIGGER_SECONDS=1, MAX_RECORDS_PER_FILE=500)
    stream = Proc(kpipe_bin, ["stream"], env, tmp_path, "stream")
    producer = Proc(kpipe_bin, ["produce", "--rate", "400", "--duration", "24", "--timeout", "90"],
                    {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TOPIC": topic}, tmp_path, "produce")
    outages = 0
    try:
        for pause in (6, 5):
            time.sleep(pause)
            sigkill_broker(broker)
            outages += 1
            time.sleep(4)
            broker.start()
        assert producer.p.wait(timeout=180) == 0, producer.stderr()[-3000:]
        sent, delivered = produce_summary(producer.stderr())
        assert sent == delivered and delivered > 5000
        ids = topic_ids(broker, topic)
        # Every delivered event is in Kafka once (idempotent producer), and in each output once.
        assert len(ids) == delivered and duplicates(ids) == {}
        wait_until(lambda: parquet_rows(tmp_path / "out") >= len(ids), 180, interval=1,
                   what="the job catching up after the outages")
        assert stream.running(), stream.stderr()[-3000:]
        assert stream.stop() == 0, stream.stderr()[-3000:]
    finally:
        producer.kill()
        stream.kill()
        if not broker.is_running():
            broker.start()
    assert outages == 2
    check_exactly_once(tmp_path / "out", set(ids))
    # The job saw the outage and said so, rather than hanging silently.
    assert "retrying" in stream.stderr() or "cannot reach" in stream.stderr()


def test_partitions_added_while_running_are_read_from_the_next_batch(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 2)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.5)
    stream = Proc(kpipe_bin, ["stream"], env, tmp_path, "stream")
    try:
        first = make_events(200, prefix="before")
        kafka.produce(unique_topic, [json.dumps(e).encode() for e in first])
        wait_until(lambda: parquet_rows(tmp_path / "out") >= 200, 60, what="first events")
        topic_tool(kafka, "--alter", "--topic", unique_topic, "--partitions", "4")
        wait_until(lambda: kafka.partition_count(unique_topic) == 4, 30, what="4 partitions")
        second = make_events(100, prefix="after")
        for p in (2, 3):
            kafka.produce(unique_topic, [json.dumps(e).encode() for e in second[(p - 2) * 50:(p - 1) * 50]],
                          partition=p)
        wait_until(lambda: parquet_rows(tmp_path / "out") >= 300, 60, what="events of the new partitions")
        assert stream.stop() == 0, stream.stderr()[-3000:]
    finally:
        stream.kill()
    check_exactly_once(tmp_path / "out", {e["event_id"] for e in first + second})
    read = {s["partition"] for b in progress_lines(stream.stderr()) for s in b["sources"] if s["endOffset"] > s["startOffset"]}
    assert read == {0, 1, 2, 3}


def test_topic_deleted_is_a_clear_error_and_nothing_is_committed_wrongly(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 2)
    status_port = free_port()
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.5,
                     STATUS_ADDR=f"127.0.0.1:{status_port}")
    out = tmp_path / "out"
    stream = Proc(kpipe_bin, ["stream"], env, tmp_path, "stream")
    try:
        events = make_events(300)
        kafka.produce(unique_topic, [json.dumps(e).encode() for e in events])
        wait_until(lambda: parquet_rows(out) >= 300, 60, what="events before the deletion")
        committed = commits(out)
        topic_tool(kafka, "--delete", "--topic", unique_topic)
        # The job says what is wrong, /healthz reports it, and nothing new is committed.
        wait_until(lambda: f"topic '{unique_topic}'" in stream.stderr() and "does not exist" in stream.stderr(),
                   60, what="an error naming the topic")
        wait_until(lambda: http_get(status_port, "/healthz")[0] == 503, 30, what="/healthz 503")
        assert "does not exist" in http_get(status_port, "/healthz")[1]
        assert stream.running()
        assert commits(out) == committed
        check_exactly_once(out, {e["event_id"] for e in events})
        # Re-created under the same name with fewer offsets than the checkpoint read: the job
        # refuses to go on (reading the new topic from the old offsets would skip or mix data).
        kafka.create_topic(unique_topic, 2)
        kafka.produce(unique_topic, [json.dumps(e).encode() for e in make_events(10, prefix="new")])
        rc = stream.p.wait(timeout=90)
    finally:
        stream.kill()
    assert rc == 1, stream.stderr()[-3000:]
    err = stream.stderr()
    assert "recreated or truncated" in err and "CHECKPOINT_PATH" in err, err[-3000:]
    assert commits(out) == committed
    check_exactly_once(out, {e["event_id"] for e in events})


# --- 2. disk full ----------------------------------------------------------------------------

def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_disk_full_fails_the_batch_retries_and_completes_exactly_once(kafka, kpipe_bin, unique_topic, tmp_path,
                                                                       small_disk):
    disk = small_disk("4m")
    kafka.create_topic(unique_topic, 2)
    events = make_events(6000, days=2)
    kafka.produce(unique_topic, [json.dumps(e).encode() for e in events])
    out = disk / "out"
    out.mkdir()
    # Leave room for the checkpoint entries but not for the batch's files (about 1 MB).
    ballast = disk / "ballast"
    with open(ballast, "wb") as f:
        f.write(b"\0" * (free_bytes(disk) - 96 * 1024))
    status_port = free_port()
    env = stream_env(disk, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.5,
                     STATUS_ADDR=f"127.0.0.1:{status_port}")
    stream = Proc(kpipe_bin, ["stream"], env, tmp_path, "stream")
    try:
        wait_until(lambda: "No space left on device" in http_get(status_port, "/healthz")[1], 60,
                   what="/healthz reporting the full disk")
        code, body = http_get(status_port, "/healthz")
        assert code == 503 and body.startswith("retrying: "), body
        wait_until(lambda: stream.stderr().count("retrying in") >= 2, 30, what="two retries")
        state = json.loads(http_get(status_port, "/api/status")[1])
        assert state["state"] == "retrying", state
        # Nothing half-written is visible, nothing is committed, the failed attempt's hidden
        # files are removed (they would hold the space the disk lacks).
        assert data_files(out / "parquet", ".parquet") == [] and data_files(out / "csv", ".csv") == []
        assert commits(out) == []
        assert (out / "_checkpoint" / "offsets" / "0").exists()
        assert progress_lines(stream.stderr()) == []
        wait_until(lambda: free_bytes(disk) > 64 * 1024, 15, interval=0.1,
                   what="the failed attempt's partial files removed between retries")
        ballast.unlink()
        wait_until(lambda: commits(out) == [0], 90, interval=0.5, what="the batch committed after freeing space")
        wait_until(lambda: http_get(status_port, "/healthz")[0] == 200, 30, what="/healthz 200")
        assert stream.stop() == 0, stream.stderr()[-3000:]
    finally:
        stream.kill()
    err = stream.stderr()
    assert "No space left on device" in err and "retrying in" in err
    batches = progress_lines(err)
    assert [b["batchId"] for b in batches] == [0] and batches[0]["numInputRows"] == 6000, err[-3000:]
    check_exactly_once(out, {e["event_id"] for e in events})


# --- 3. hostile input ------------------------------------------------------------------------

HOSTILE_TS = [
    "../../etc", "../../../../tmp/x", "/etc/passwd", "2025-11-06/../../x", "dt=../..", "2025-13-45T00:00:00Z",
    "2025-02-30T00:00:00Z", "2025-11-06T25:00:00Z", "0000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z",
    "-0001-01-01T00:00:00Z", "99999-01-01T00:00:00Z", "9999-12-31T23:30:00-01:00", "2025-11-06\u0000../..",
    "2025-11-06T00:00:00Z\n../", "1e309", "", " 2025-11-06T00:00:00Z",
]
HOSTILE_NUMBERS = [1e300, -1e300, 9223372036854775807, -62135596800001, 253402300800000]
HOSTILE_DATES = ["../../etc", "2025-13-45", "2025-1-1", "+12345-01-01", "0000-00-00", "2025-11-06/..", "..", "",
                 "2025-11-06T00:00:00Z"]


def test_dt_comes_only_from_a_range_checked_date(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    """No value of the partition column can name a folder: hostile ones are dead-lettered."""
    kafka.create_topic(unique_topic, 1)
    good = make_events(20, days=1)
    edge = [{"event_id": "../../etc/passwd", "ts": "0001-01-01T00:00:00Z", "value": 1.0, "source": "../.."},
            {"event_id": "max", "ts": "9999-12-31T23:59:59.999999Z", "value": 2.0, "source": "/"}]
    bad = [{"event_id": f"bad-ts-{i}", "ts": ts, "value": 1.0, "source": "x"} for i, ts in enumerate(HOSTILE_TS)]
    bad += [{"event_id": f"bad-num-{i}", "ts": n, "value": 1.0, "source": "x"} for i, n in enumerate(HOSTILE_NUMBERS)]
    kafka.produce(unique_topic, [json.dumps(e).encode() for e in good + edge + bad], partition=0)
    before = set(tmp_path.rglob("*"))
    p = run_kpipe(["stream", "--once"], env=stream_env(tmp_path, kafka.bootstrap, unique_topic), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "out"
    created = {c for c in set(tmp_path.rglob("*")) - before if c.is_dir()}
    assert all(out in c.parents or c == out for c in created), created
    for sink in ("parquet", "csv"):
        dirs = {d.name for d in (out / sink).iterdir() if d.name != "_delta_log"}
        assert all(re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", d) for d in dirs), dirs
        assert {"dt=0001-01-01", "dt=9999-12-31"} <= dirs
    check_exactly_once(out, {e["event_id"] for e in good + edge})
    dlq = read_dead_letter(out / "_dead_letter")
    assert sorted(json.loads(d["payload"])["event_id"] for d in dlq) == sorted(e["event_id"] for e in bad)
    assert all("ts" in d["reason"] for d in dlq), [d["reason"] for d in dlq]

    # The same with a DATE column as PARTITION_FROM.
    topic2 = unique_topic + "-date"
    kafka.create_topic(topic2, 1)
    rows = [{"event_id": f"d-{i}", "day": d, "value": 1.0} for i, d in enumerate(HOSTILE_DATES)]
    rows.append({"event_id": "ok", "day": "2025-11-06", "value": 1.0})
    kafka.produce(topic2, [json.dumps(r).encode() for r in rows], partition=0)
    out2 = tmp_path / "out2"
    env = stream_env(tmp_path, kafka.bootstrap, topic2, SCHEMA="event_id STRING, day DATE, value DOUBLE",
                     PARTITION_FROM="day", OUTPUT_PATH=out2 / "parquet", CSV_OUTPUT_PATH=out2 / "csv",
                     CHECKPOINT_PATH=out2 / "_checkpoint", DEAD_LETTER_PATH=out2 / "_dead_letter")
    p = run_kpipe(["stream", "--once"], env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert sorted(d.name for d in (out2 / "parquet").iterdir()) == ["_delta_log", "dt=2025-11-06"]
    assert sorted(d.name for d in (out2 / "csv").iterdir()) == ["dt=2025-11-06"]
    assert len(read_dead_letter(out2 / "_dead_letter")) == len(HOSTILE_DATES)
    created = {c for c in set(tmp_path.rglob("*")) - before if c.is_dir()}
    assert all(out in c.parents or out2 in c.parents or c in (out, out2) for c in created), created


def test_size_limits_dead_letter_big_records_without_crash_or_unbounded_memory(kafka, kpipe_bin, unique_topic,
                                                                                tmp_path):
    kafka.create_topic(unique_topic, 1)
    good = make_events(10, days=1)
    ts = "2025-11-06T00:00:00Z"
    huge = [json.dumps({"event_id": f"huge-{i}", "ts": ts, "value": 1, "source": "x" * 900_000})
            for i in range(60)]  # 54 MB in all, each under the broker's 1 MB message limit
    long_strings = [json.dumps({"event_id": f"long-{i}", "ts": ts, "value": 1, "source": "y" * 5000})
                    for i in range(50)]
    # Under MAX_RECORD_BYTES, so the parser meets them: 30000 levels of nesting, 4000 fields.
    deep = '{"event_id": "deep", "ts": "%s", "x": %s%s}' % (ts, "[" * 30_000, "]" * 30_000)
    wide = '{"event_id": "wide", ' + ", ".join(f'"f{i}": {i}' for i in range(4000)) + "}"
    payloads = [json.dumps(e) for e in good] + huge + long_strings + [deep, wide]
    kafka.produce(unique_topic, [s.encode() for s in payloads], partition=0)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_RECORD_BYTES=65536, MAX_STRING_BYTES=1024)
    log = tmp_path / "stream.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([str(kpipe_bin), "stream", "--once"], env=clean_env(env), cwd=tmp_path,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            _, wait_status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
        finally:
            proc.returncode = 0
    assert os.waitstatus_to_exitcode(wait_status) == 0, log.read_text()[-3000:]
    peak_mb = usage.ru_maxrss / 1024
    print(f"kpipe stream --once peak RSS with 54 MB of oversized records: {peak_mb:.0f} MB")
    # The dead-letter output keeps every oversized payload (54 MB), so the bound is a few times
    # that, not the records' total size times anything.
    assert peak_mb < 1024, peak_mb
    out = tmp_path / "out"
    check_exactly_once(out, {e["event_id"] for e in good})
    dlq = read_dead_letter(out / "_dead_letter")
    assert len(dlq) == 60 + 50 + 2, len(dlq)
    # A regex, not json.loads: Python's own parser cannot nest 30000 levels deep.
    by_id = {re.match(r'\{"event_id": "([^"]+)"', d["payload"]).group(1): d["reason"] for d in dlq}
    assert all("MAX_RECORD_BYTES" in by_id[f"huge-{i}"] for i in range(60))
    assert all("MAX_STRING_BYTES" in by_id[f"long-{i}"] for i in range(50))
    assert "deep" in by_id["deep"], by_id["deep"]
    assert "ts" in by_id["wide"], by_id["wide"]


# --- Kafka security through --kafka-prop -----------------------------------------------------

def sasl_props(password: str) -> list[str]:
    props = ["security.protocol=SASL_PLAINTEXT", "sasl.mechanisms=PLAIN", f"sasl.username={SASL_USERNAME}",
             f"sasl.password={password}"]
    return [a for p in props for a in ("--kafka-prop", p)]


def test_sasl_plain_right_credentials_work_and_wrong_ones_fail_clearly(kafka, unique_topic, run_kpipe, tmp_path):
    assert kafka.sasl_bootstrap, "the session broker has a SASL listener"
    kafka.create_topic(unique_topic, 2)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.sasl_bootstrap, "KAFKA_TOPIC": unique_topic}
    p = run_kpipe(["produce", "--count", "300", "--rate", "0", *sasl_props(SASL_PASSWORD)], env=env, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    s = run_kpipe(["stream", "--once", *sasl_props(SASL_PASSWORD)],
                  env=stream_env(tmp_path, kafka.sasl_bootstrap, unique_topic), cwd=tmp_path, timeout=120)
    assert s.returncode == 0, s.stderr[-2000:]
    assert parquet_rows(tmp_path / "out") == 300

    wrong = "not-the-password"
    started = time.monotonic()
    p = run_kpipe(["produce", "--count", "10", "--timeout", "10", *sasl_props(wrong)], env=env, timeout=90)
    took = time.monotonic() - started
    assert p.returncode != 0 and took < 60, (took, p.stderr[-2000:])
    assert "authentication" in p.stderr.lower(), p.stderr[-2000:]
    assert wrong not in p.stderr

    started = time.monotonic()
    s = run_kpipe(["stream", "--once", *sasl_props(wrong)],
                  env=stream_env(tmp_path / "wrong", kafka.sasl_bootstrap, unique_topic), cwd=tmp_path, timeout=90)
    took = time.monotonic() - started
    assert s.returncode == 1 and took < 60, (took, s.stderr[-2000:])
    assert "authentication failed" in s.stderr.lower(), s.stderr[-2000:]
    assert wrong not in s.stderr
    assert not (tmp_path / "wrong" / "out" / "_checkpoint" / "offsets" / "0").exists()
