"""README's Troubleshooting table, tried: each failure a user runs into is caused for real (a
taken port, a second job on a checkpoint, no broker, no topic, a full disk, events that do not fit
the schema) and the line kpipe prints must be the table's line as written, with `<...>` standing
for the values of the run.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kafka_fixture import REPO_ROOT, clean_env, free_port
from output_check import stream_env

PLACEHOLDER = re.compile(r"<[^<>]+>")


def troubleshooting_rows() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"\n## Troubleshooting\n(.*?)(?=\n## )", text, re.S)
    assert m, "README has no Troubleshooting section"
    rows = []
    for line in m.group(1).splitlines():
        if line.startswith("| ") and not line.startswith("| problem") and not line.startswith("| ---"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    assert rows and all(len(r) == 4 for r in rows), f"the table has 4 columns in every row: {rows}"
    return rows


def readme_message(problem: str) -> str:
    """The first `...` of the 'what you see' column of the row whose problem names `problem`."""
    rows = [r for r in troubleshooting_rows() if problem in r[0]]
    assert len(rows) == 1, f"README's Troubleshooting table needs one row for '{problem}', found {len(rows)}"
    spans = re.findall(r"`([^`]+)`", rows[0][2])
    assert spans, f"the row '{rows[0][0]}' shows no message in `...`"
    return spans[0]


def message_pattern(message: str) -> re.Pattern:
    parts = PLACEHOLDER.split(message)
    return re.compile(".+?".join(re.escape(p) for p in parts))


def assert_prints(stderr: str, problem: str) -> None:
    message = readme_message(problem)
    assert message_pattern(message).search(stderr), \
        f"README says kpipe prints, for '{problem}':\n  {message}\nbut it printed:\n{stderr[-3000:]}"


def test_the_table_keeps_the_seeds_problems_and_names_every_message():
    problems = " ".join(r[0] for r in troubleshooting_rows())
    for seed_problem in ("too many output files", "no data in Parquet/CSV", "job not starting", "slow runs"):
        assert seed_problem in problems, f"the seed's problem '{seed_problem}' is not in the table"
    for problem in ("port taken", "checkpoint in use", "broker unreachable", "topic missing", "disk full",
                    "bad record rate"):
        readme_message(problem)


def test_placeholders_match_values_not_the_fixed_words():
    pattern = message_pattern("cannot reach <host>:<port> (Connection refused); retrying")
    assert pattern.search("WARN kafka: cannot reach 127.0.0.1:1 (Connection refused); retrying")
    assert not pattern.search("WARN kafka: cannot reach 127.0.0.1:1 (Connection reset); retrying")


def test_port_taken(kafka, run_kpipe, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = run_kpipe(["stream"], env=stream_env(tmp_path, kafka.bootstrap, unique_topic,
                                                 STATUS_ADDR=f"127.0.0.1:{port}"), timeout=60)
    assert p.returncode == 2, p.stderr
    assert_prints(p.stderr, "port taken")


def test_checkpoint_in_use(kafka, kpipe_bin, run_kpipe, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    first = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp_path,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lock = Path(env["CHECKPOINT_PATH"]) / "lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read().decode()
            time.sleep(0.1)
        p = run_kpipe(["stream"], env=env, timeout=60)
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert p.returncode == 2, p.stderr
    assert_prints(p.stderr, "checkpoint in use")


def test_broker_unreachable(run_kpipe, tmp_path):
    closed = free_port()  # nothing listens there
    p = run_kpipe(["stream", "--once"], env=stream_env(tmp_path, f"127.0.0.1:{closed}", "events", ONCE_TIMEOUT=2),
                  timeout=60)
    assert p.returncode != 0
    assert_prints(p.stderr, "broker unreachable")


def test_topic_missing(kafka, run_kpipe, unique_topic, tmp_path):
    p = run_kpipe(["stream", "--once"], env=stream_env(tmp_path, kafka.bootstrap, unique_topic, ONCE_TIMEOUT=3),
                  timeout=60)
    assert p.returncode != 0
    assert_prints(p.stderr, "topic missing")


def test_bad_record_rate(kafka, run_kpipe, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    good = [{"event_id": f"e{i}", "ts": "2025-11-06T12:00:00Z", "value": 1.5, "source": "s"} for i in range(8)]
    bad = [{"event_id": "b1", "ts": "yesterday", "value": 1.5, "source": "s"},
           {"event_id": "b2", "ts": "2025-11-06T12:00:00Z", "value": "high", "source": "s"}]
    kafka.produce(unique_topic, [json.dumps(e).encode() for e in good + bad])
    p = run_kpipe(["stream", "--once"], env=stream_env(tmp_path, kafka.bootstrap, unique_topic,
                                                       STARTING_OFFSETS="earliest"), timeout=120)
    assert p.returncode == 0, p.stderr
    assert_prints(p.stderr, "bad record rate")
    assert "2 of 10 records (20.0%)" in p.stderr and "offset 8: field 'ts'" in p.stderr, p.stderr


def test_disk_full(kafka, run_kpipe, unique_topic, tmp_path, small_disk):
    disk = small_disk("200k")
    kafka.create_topic(unique_topic, 1)
    events = [{"event_id": f"event-{i:06d}", "ts": "2025-11-06T12:00:00Z", "value": i + 0.25,
               "source": f"sensor-{i % 13}-{'x' * 40}"} for i in range(6000)]
    kafka.produce(unique_topic, [json.dumps(e).encode() for e in events])
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, STARTING_OFFSETS="earliest", ONCE_TIMEOUT=3,
                     OUTPUT_PATH=disk / "parquet", CSV_OUTPUT_PATH=disk / "csv")
    p = run_kpipe(["stream", "--once"], env=env, timeout=60)
    assert p.returncode != 0, "a 200 KiB disk cannot hold 6000 events as CSV"
    assert_prints(p.stderr, "disk full")
