"""`kpipe produce` against a real broker; messages read back with kcat (the `kafka` fixture)."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from kafka_fixture import REPO_ROOT, clean_env

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ID_RE = re.compile(r"^kp-[0-9a-f]{12}-\d{12}$")


def kafka_env(kafka, topic: str, **extra) -> dict:
    return {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": topic, **extra}


def parse_ts(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def summary(stderr: str) -> dict:
    """The numbers of the 'done:' line."""
    m = re.search(r"done: sent (\d+), delivered (\d+), failed (\d+)", stderr)
    assert m, f"no summary line in:\n{stderr}"
    return {"sent": int(m.group(1)), "delivered": int(m.group(2)), "failed": int(m.group(3))}


def test_ten_thousand_events_read_back(kafka, unique_topic, run_kpipe):
    kafka.create_topic(unique_topic, partitions=3)
    started = datetime.now(timezone.utc)
    p = run_kpipe(["produce", "--rate", "0", "--count", "10000"], env=kafka_env(kafka, unique_topic))
    finished = datetime.now(timezone.utc)
    assert p.returncode == 0, p.stderr
    assert summary(p.stderr) == {"sent": 10000, "delivered": 10000, "failed": 0}

    messages = kafka.consume(unique_topic)
    assert len(messages) == 10000
    ids = set()
    for m in messages:
        event = json.loads(m["value"])
        assert list(event) == ["event_id", "ts", "value", "source"], event
        assert isinstance(event["event_id"], str) and ID_RE.match(event["event_id"]), event
        assert isinstance(event["ts"], str) and TS_RE.match(event["ts"]), event
        assert isinstance(event["value"], float) and 0 <= event["value"] <= 100, event
        assert round(event["value"], 2) == event["value"], event
        assert event["source"] == "kpipe-producer"
        ts = parse_ts(event["ts"])
        assert started - timedelta(seconds=1) <= ts <= finished + timedelta(seconds=1), event
        assert m["key"] == event["event_id"].encode(), m
        ids.add(event["event_id"])
    assert len(ids) == 10000
    # One run, one prefix; the sequence numbers are exactly 1..10000.
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 1
    assert sorted(int(i.rsplit("-", 1)[1]) for i in ids) == list(range(1, 10001))
    # Keys spread the events over every partition.
    assert len({m["partition"] for m in messages}) == 3


def test_event_ids_differ_between_runs(kafka, unique_topic, run_kpipe):
    kafka.create_topic(unique_topic, partitions=1)
    for _ in range(2):
        p = run_kpipe(["produce", "--rate", "0", "--count", "50", "--source", "run"],
                      env=kafka_env(kafka, unique_topic))
        assert p.returncode == 0, p.stderr
    ids = [json.loads(m["value"])["event_id"] for m in kafka.consume(unique_topic)]
    assert len(ids) == 100 and len(set(ids)) == 100
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 2


def test_rate_is_steady(kafka, unique_topic, run_kpipe):
    kafka.create_topic(unique_topic, partitions=3)
    p = run_kpipe(["produce", "--rate", "200", "--duration", "5"], env=kafka_env(kafka, unique_topic))
    assert p.returncode == 0, p.stderr
    messages = kafka.consume(unique_topic)
    assert 950 <= len(messages) <= 1050, len(messages)
    # Spread over the second, not one burst per second: 200/s is 20 per 100 ms.
    stamps = sorted(parse_ts(json.loads(m["value"])["ts"]) for m in messages)
    start = stamps[0]
    per_100ms = Counter(int((t - start).total_seconds() * 10) for t in stamps)
    assert max(per_100ms.values()) <= 40, sorted(per_100ms.items())
    assert (stamps[-1] - start).total_seconds() >= 4.5


def test_input_file_lines_are_sent_unchanged(kafka, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, partitions=3)
    lines = [
        '{"event_id":"u1","ts":"2025-11-06T12:30:00Z","value":1.5,"source":"été 🚀 日本語"}',
        '{"event_id":"q1","note":"say \\"hi\\" and C:\\\\path","value":2}',
        "not json at all, sent as it is",
        "  leading and trailing spaces  ",
        '{"tab":"a\tb"}',
    ]
    f = tmp_path / "events.jsonl"
    # Empty lines are skipped; a CRLF line end is a line end; the last line has no newline.
    f.write_bytes(("\n".join(lines[:2]) + "\n\n" + lines[2] + "\r\n" + "\n".join(lines[3:])).encode("utf-8"))
    p = run_kpipe(["produce", "--rate", "0", "--input", str(f)], env=kafka_env(kafka, unique_topic))
    assert p.returncode == 0, p.stderr
    assert summary(p.stderr) == {"sent": 5, "delivered": 5, "failed": 0}
    assert "skipped 1 empty lines" in p.stderr
    messages = kafka.consume(unique_topic)
    assert sorted(m["value"].decode("utf-8") for m in messages) == sorted(lines)
    assert all(m["key"] is None for m in messages)


def test_input_from_stdin_keeps_order_on_one_partition(kafka, unique_topic, run_kpipe):
    kafka.create_topic(unique_topic, partitions=1)
    lines = [json.dumps({"n": i, "s": "ü"}, ensure_ascii=False) for i in range(500)]
    p = run_kpipe(["produce", "--rate", "0", "--input", "-"], env=kafka_env(kafka, unique_topic),
                  input="\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    assert [m["value"].decode("utf-8") for m in kafka.consume(unique_topic)] == lines


def test_unreachable_broker_fails_naming_the_address(run_kpipe):
    t0 = time.monotonic()
    p = run_kpipe(["produce", "--timeout", "5"], env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, timeout=60)
    elapsed = time.monotonic() - t0
    assert p.returncode == 1, p.stderr
    assert elapsed < 12, elapsed
    assert "cannot reach 127.0.0.1:1 (Connection refused); retrying" in p.stderr
    assert "nothing delivered to 127.0.0.1:1 for 5 s" in p.stderr
    assert "done: sent" in p.stderr


def test_missing_topic_is_named(kafka, unique_topic, run_kpipe):
    # The test broker, like a production cluster, does not create topics on first use.
    p = run_kpipe(["produce", "--count", "2", "--timeout", "3"], env=kafka_env(kafka, unique_topic), timeout=60)
    assert p.returncode == 1, p.stderr
    assert f"topic '{unique_topic}' does not exist at {kafka.bootstrap}" in p.stderr


@pytest.mark.parametrize(
    "args, env, expected",
    [
        (["--foo"], {}, "unknown flag '--foo' (see 'kpipe produce --help')"),
        (["--rate", "abc"], {}, "MSGS_PER_SEC='abc' (from flag --rate): must be a number >= 0"),
        (["--rate", "-1"], {}, "MSGS_PER_SEC='-1' (from flag --rate): must be a number >= 0"),
        ([], {"MSGS_PER_SEC": "-5"}, "MSGS_PER_SEC='-5' (from environment): must be a number >= 0"),
        ([], {"KAFKA_TOPIC": ""}, "KAFKA_TOPIC='' (from environment): must not be empty"),
        (["--count", "many"], {}, "COUNT='many' (from flag --count): must be a whole number >= 0"),
        (["--env-file", "missing.env"], {}, "missing.env"),
        (["--kafka-prop", "no.such.property=1"], {}, "--kafka-prop no.such.property=1"),
    ],
    ids=["unknown-flag", "rate-not-a-number", "rate-negative", "rate-negative-env", "empty-topic", "count",
         "missing-env-file", "bad-kafka-prop"],
)
def test_bad_settings_exit_2_with_one_line(run_kpipe, args, env, expected):
    p = run_kpipe(["produce", *args], env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **env}, timeout=30)
    assert p.returncode == 2, p.stderr
    assert expected in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_dotenv_in_the_working_directory_is_read(kafka, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, partitions=1)
    other = unique_topic + "-env"
    kafka.create_topic(other, partitions=1)
    (tmp_path / ".env").write_text(
        "# seed style, inline comments included\n"
        f"KAFKA_TOPIC={unique_topic}            # topic\n"
        f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap}   # broker\n"
        "MSGS_PER_SEC=0         # as fast as possible\n",
        encoding="utf-8",
    )
    p = run_kpipe(["produce", "--count", "30"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "as fast as possible" in p.stderr
    assert len(kafka.consume(unique_topic)) == 30

    # The environment beats .env, and a flag beats both.
    p = run_kpipe(["produce", "--count", "20"], env={"KAFKA_TOPIC": other}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = run_kpipe(["produce", "--count", "10", "--topic", unique_topic], env={"KAFKA_TOPIC": other}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(kafka.consume(other)) == 20
    assert len(kafka.consume(unique_topic)) == 40


def test_repository_env_file_parses(kafka, unique_topic, run_kpipe):
    kafka.create_topic(unique_topic, partitions=1)
    p = run_kpipe(["produce", "--env-file", str(REPO_ROOT / ".env"), "--count", "5", "--topic", unique_topic,
                   "--bootstrap-servers", kafka.bootstrap])
    assert p.returncode == 0, p.stderr
    assert ": 5 msgs/s, 5 messages" in p.stderr  # MSGS_PER_SEC=5 from the file
    assert len(kafka.consume(unique_topic)) == 5


def test_sigterm_at_full_speed_flushes_and_summarizes(kafka, unique_topic, kpipe_bin, tmp_path):
    kafka.create_topic(unique_topic, partitions=3)
    proc = subprocess.Popen([str(kpipe_bin), "produce", "--rate", "0"], env=clean_env(kafka_env(kafka, unique_topic)),
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.stderr.read()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert elapsed < 8, elapsed
    assert "stopped by SIGTERM" in stderr, stderr
    numbers = summary(stderr)
    assert proc.returncode == 0, stderr
    assert numbers["failed"] == 0 and numbers["delivered"] == numbers["sent"] > 0
    # The idempotent producer wrote each delivered message exactly once.
    assert sum(kafka.end_offsets(unique_topic, 3).values()) == numbers["delivered"]


def test_sigint_while_waiting_on_stdin(kafka, unique_topic, kpipe_bin, tmp_path):
    kafka.create_topic(unique_topic, partitions=1)
    proc = subprocess.Popen([str(kpipe_bin), "produce", "--input", "-"], env=clean_env(kafka_env(kafka, unique_topic)),
                            cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write('{"first":1}\n')
        proc.stdin.flush()
        time.sleep(1.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)  # stdin stays open and quiet
        _, stderr = proc.communicate(timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert elapsed < 3, elapsed
    assert proc.returncode == 0, stderr
    assert "stopped by SIGINT" in stderr
    assert [m["value"] for m in kafka.consume(unique_topic)] == [b'{"first":1}']


def test_command_line_entry_points(run_kpipe):
    p = run_kpipe(["version"])
    assert p.returncode == 0
    assert re.match(r"kpipe \d+\.\d+\.\d+\nlibrdkafka \d+\.\d+\.\d+", p.stdout), p.stdout
    p = run_kpipe(["--help"])
    assert p.returncode == 0 and "produce" in p.stdout and "stream" in p.stdout
    p = run_kpipe(["produce", "--help"])
    assert p.returncode == 0
    for name in ("--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", "--topic", "KAFKA_TOPIC", "--rate", "MSGS_PER_SEC",
                 "--count", "--duration", "--input", "--source", "--timeout", "--kafka-prop", "--env-file"):
        assert name in p.stdout, name
    p = run_kpipe(["frobnicate"])
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr
    p = run_kpipe([])
    assert p.returncode == 2 and "Usage: kpipe" in p.stderr


def test_status_addr_serves_producer_metrics(kafka, unique_topic, kpipe_bin, tmp_path):
    import socket
    import urllib.request
    kafka.create_topic(unique_topic, partitions=3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(kpipe_bin), "produce", "--rate", "500", "--duration", "4",
                             "--status-addr", f"127.0.0.1:{port}"], env=clean_env(kafka_env(kafka, unique_topic)),
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert 300 <= samples["kpipe_producer_delivered_records_total"] <= 2000, text
    assert samples["kpipe_producer_failed_records_total"] == 0
    assert "# TYPE kpipe_producer_sent_records_total counter" in text
