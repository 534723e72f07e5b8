"""kpipe-ceiling (bench/ceiling/ceiling.cc), the benchmark's ceiling reader, against the session broker:
it must count exactly what is in the topic, in both settings modes and both loops, or the ceiling
bench/run compares kpipe with is a wrong number; and a bad topic or broker must fail clearly. The
last test holds bench/ceilings.py's note on a round where kpipe beat its ceiling (no broker).

The binary is built beside kpipe: $KPIPE_BIN's folder, or build/.
"""
from __future__ import annotations

import json
import statistics
import subprocess

import pytest

from kafka_fixture import default_kpipe_bin

PARTITIONS = 3


@pytest.fixture(scope="module")
def ceiling_bin():
    path = default_kpipe_bin().parent / "kpipe-ceiling"
    if not path.is_file():
        pytest.fail(f"kpipe-ceiling not found at {path}: build it (cmake --build build --target kpipe-ceiling)")
    return path


def run_ceiling(ceiling_bin, *args, timeout=90):
    return subprocess.run([str(ceiling_bin), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def filled_topic(kafka):
    """A 3-partition topic with a different number of messages of different sizes in each
    partition (one of them empty): (topic, messages, payload bytes)."""
    topic = "t-bench-ceiling-filled"
    kafka.create_topic(topic, PARTITIONS)
    messages = total = 0
    for p, n in enumerate([1500, 700, 1201]):
        values = [f"p{p}-{i}-".encode() + b"x" * (i % 173) for i in range(n)]
        values[7] = b""
        kafka.produce(topic, values, partition=p)
        messages += len(values)
        total += sum(len(v) for v in values)
    assert sum(kafka.end_offsets(topic, PARTITIONS).values()) == messages
    return topic, messages, total


@pytest.mark.parametrize("settings,loop", [("kpipe", "batch"), ("default", "batch"), ("kpipe", "poll"),
                                           ("default", "poll")])
def test_counts_every_message_and_byte(kafka, ceiling_bin, filled_topic, settings, loop):
    topic, messages, total = filled_topic
    p = run_ceiling(ceiling_bin, "--bootstrap-servers", kafka.bootstrap, "--topic", topic, "--settings", settings,
                    "--loop", loop, "--timeout", "60")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, p.stdout
    count = json.loads(lines[0])
    assert (count["messages"], count["bytes"]) == (messages, total)
    assert count["settings"] == settings and count["loop"] == loop
    assert 0 < count["read_seconds"] <= count["seconds"] < 60
    assert 0 <= count["stalled_seconds"] <= count["read_seconds"]


def test_empty_topic_counts_nothing_and_exits_at_once(kafka, ceiling_bin, unique_topic):
    kafka.create_topic(unique_topic, PARTITIONS)
    p = run_ceiling(ceiling_bin, "-b", kafka.bootstrap, "-t", unique_topic, "--timeout", "30")
    assert p.returncode == 0, p.stderr
    count = json.loads(p.stdout)
    assert (count["messages"], count["bytes"]) == (0, 0)


def test_missing_topic_fails_clearly(kafka, ceiling_bin, unique_topic):
    p = run_ceiling(ceiling_bin, "--bootstrap-servers", kafka.bootstrap, "--topic", unique_topic, "--timeout", "30")
    assert p.returncode == 1
    assert p.stdout == ""
    assert f"kpipe-ceiling: topic '{unique_topic}' does not exist on {kafka.bootstrap}" in p.stderr


def test_unreachable_broker_fails_within_the_timeout(ceiling_bin):
    p = run_ceiling(ceiling_bin, "--bootstrap-servers", "127.0.0.1:1", "--topic", "any", "--timeout", "3",
                    timeout=30)
    assert p.returncode == 1
    assert "cannot read metadata of topic 'any' from 127.0.0.1:1" in p.stderr
    assert "cannot reach 127.0.0.1:1" in p.stderr


@pytest.mark.parametrize("args,message", [
    (["--topic", "t"], "--bootstrap-servers is required"),
    (["-b", "h:1", "-t", "t", "--settings", "fast"], "--settings fast: expected kpipe or default"),
    (["-b", "h:1", "-t", "t", "--timeout", "0"], "--timeout 0: expected seconds > 0"),
])
def test_bad_arguments_exit_2(ceiling_bin, args, message):
    p = run_ceiling(ceiling_bin, *args)
    assert p.returncode == 2
    assert message in p.stderr


def test_report_flags_a_round_where_kpipe_beat_its_ceiling_with_the_reason(repo_root, monkeypatch):
    """bench/ceilings.py on made-up rounds: round 1's fastest ceiling reader stalled for 0.7 s
    (kpipe beat it), round 2's did not (kpipe did not)."""
    monkeypatch.syspath_prepend(str(repo_root / "bench"))
    import ceilings

    def reader(wall, stalled=None, stalls=0, read=None):
        r = {"wall_s": wall, "events_per_s": 1_000_000 / wall}
        if stalled is not None:
            r.update(stalled_seconds=stalled, stalls=stalls, read_seconds=read)
        return r

    steps = {"kcat": [reader(2.0), reader(2.0)],
             "ceiling-default": [reader(1.0, 0.7, 1, 0.95), reader(0.4, 0.0, 0, 0.35)],
             "ceiling-kpipe": [reader(3.0, 2.7, 3, 2.9), reader(3.0, 2.7, 3, 2.9)],
             "kpipe": [reader(0.6), reader(0.62)]}
    load = {"before": {"loadavg": [0.5]}, "after": {"loadavg": [0.7]}}
    med = {n: {"events_per_s": statistics.median(r["events_per_s"] for r in runs)} for n, runs in steps.items()}
    notes = ceilings.ceiling_beaten(steps, med, load).splitlines()
    assert len(notes) == 1, notes
    assert notes[0].startswith("- **kpipe beat its ceiling in round 1**: 1,666,667 events/s (0.60 s) against "
                               "1,000,000 (1.00 s) for kpipe-ceiling, librdkafka defaults")
    assert "waited 0.70 s in 1 stall of 100 ms or more" in notes[0]
    assert "would have taken 0.30 s against kpipe's 0.60 s" in notes[0]
