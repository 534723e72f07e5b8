"""The local broker (scripts/kafka) and the client library kpipe links (librdkafka, through kcat)
work together: produce, fetch and consumer-group commits on our pinned Kafka version."""
from __future__ import annotations

import os
import subprocess
from collections import Counter, defaultdict

import pytest

from kafka_fixture import KAFKA_SCRIPT, SASL_PASSWORD, SASL_USERNAME, clean_env


def payloads(n: int) -> list[bytes]:
    """n distinct payloads, some of them hostile to line- or text-based tools."""
    special = [b"", b"\n", b"line one\nline two\r\n", b"\x00\x01\x02\xff\xfe", b" leading space",
               "unicode \u00e9\u4e2d".encode(), b"%p %o %s", b"@@kpipe-not-a-delimiter@@"]
    out = []
    for i in range(n):
        extra = special[i % len(special)] if i % 7 == 0 else b""
        out.append(b'{"i": %d}' % i + extra + os.urandom(i % 13))
    return out


def kafka_script(kafka, *args, timeout=120):
    return subprocess.run([str(KAFKA_SCRIPT), *args], env=kafka.env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def test_produce_then_consume_1000_messages_exactly(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=3)
    values = payloads(1000)
    kafka.produce(unique_topic, values)

    messages = kafka.consume(unique_topic, timeout=60)

    assert len(messages) == 1000
    assert Counter(m["value"] for m in messages) == Counter(values)
    assert all(m["key"] is None for m in messages)
    by_partition = defaultdict(list)
    for m in messages:
        by_partition[m["partition"]].append(m)
    assert sorted(by_partition) == [0, 1, 2], "the random partitioner should reach every partition"
    end = kafka.end_offsets(unique_topic)
    index = {v: i for i, v in enumerate(values)}
    for p, ms in by_partition.items():
        assert [m["offset"] for m in ms] == list(range(len(ms)))
        assert end[p] == len(ms)
        order = [index[m["value"]] for m in ms]
        assert order == sorted(order), f"partition {p} lost the produce order"


def test_keys_and_explicit_partition_round_trip(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=3)
    keys = [b"k-%d" % i for i in range(50)] + [b"\x00bin\nkey", None]
    values = [b"v-%d" % i for i in range(50)] + [b"", b"last"]
    kafka.produce(unique_topic, values, partition=1, keys=keys)

    messages = kafka.consume(unique_topic)

    assert [m["partition"] for m in messages] == [1] * 52
    assert [m["value"] for m in messages] == values
    # kcat sends a None key as an empty one when keys are given (documented in produce()).
    assert [m["key"] for m in messages] == keys[:-1] + [b""]


def test_consumer_group_commits_offsets(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=3)
    kafka.produce(unique_topic, payloads(1000))
    end = kafka.end_offsets(unique_topic)
    assert sum(end.values()) == 1000 and all(end.values())
    group = f"g-{unique_topic}"

    # The balanced consumer (JoinGroup/SyncGroup, classic protocol) reads everything and commits
    # on close; -e stops it once every assigned partition is at its end.
    proc = subprocess.run(
        ["kcat", "-F", "/dev/null", "-b", kafka.bootstrap, "-G", group, "-o", "beginning", "-e", "-q",
         "-X", "auto.commit.interval.ms=100", "-f", "%p %o\n", unique_topic],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1000

    committed = kafka.group_offsets(group)

    assert committed == {(unique_topic, p): end[p] for p in range(3)}


def test_topic_command_is_idempotent(kafka, unique_topic):
    first = kafka_script(kafka, "topic", unique_topic, "4")
    again = kafka_script(kafka, "topic", unique_topic, "4")
    other = kafka_script(kafka, "topic", unique_topic)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert f"topic '{unique_topic}' ready (4 partitions)" in again.stdout
    assert other.returncode == 0, other.stderr
    assert "exists with 4 partitions" in other.stdout
    assert kafka.partition_count(unique_topic) == 4


def test_status_reports_address_and_topics(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=2)

    proc = kafka_script(kafka, "status")

    assert proc.returncode == 0, proc.stderr
    assert f"running at {kafka.bootstrap}" in proc.stdout
    assert f"{unique_topic} (2 partitions)" in proc.stdout


def test_second_start_says_already_running(kafka):
    proc = kafka_script(kafka, "start")

    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout
    assert kafka.is_running()


def test_restart_keeps_data_and_address(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=3)
    values = payloads(100)
    kafka.produce(unique_topic, values)
    try:
        kafka.stop()
        assert not kafka.is_running()
        status = kafka_script(kafka, "status")
        assert status.returncode == 3 and "not running" in status.stdout
    finally:
        kafka.start()

    assert Counter(m["value"] for m in kafka.consume(unique_topic)) == Counter(values)


def sasl_kcat(kafka, password, *args, input=None, metadata_timeout=10):
    return subprocess.run(
        ["kcat", "-F", "/dev/null", "-b", kafka.sasl_bootstrap, "-m", str(metadata_timeout),
         "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
         "-X", f"sasl.username={SASL_USERNAME}", "-X", f"sasl.password={password}", *args],
        input=input, capture_output=True, timeout=60)


def test_sasl_plain_listener_accepts_the_user_and_rejects_a_wrong_password(kafka, unique_topic):
    kafka.create_topic(unique_topic, partitions=1)

    produced = sasl_kcat(kafka, SASL_PASSWORD, "-P", "-t", unique_topic, input=b"a\nb\n")
    consumed = sasl_kcat(kafka, SASL_PASSWORD, "-C", "-t", unique_topic, "-o", "beginning", "-e", "-q")
    rejected = sasl_kcat(kafka, "wrong-password", "-L", metadata_timeout=2)

    assert produced.returncode == 0, produced.stderr
    assert consumed.stdout == b"a\nb\n"
    assert rejected.returncode != 0
    assert b"Authentication failed" in rejected.stderr


def test_clean_env_drops_inherited_kpipe_settings(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC", "from-the-shell")
    monkeypatch.setenv("MSGS_PER_SEC", "5")
    monkeypatch.setenv("TRIGGER_SECONDS", "1")
    monkeypatch.setenv("KPIPE_CACHE", "/somewhere")

    env = clean_env({"KAFKA_TOPIC": "mine", "OUTPUT_PATH": None})

    assert env["KAFKA_TOPIC"] == "mine"
    assert "MSGS_PER_SEC" not in env and "TRIGGER_SECONDS" not in env and "OUTPUT_PATH" not in env
    assert env["KPIPE_CACHE"] == "/somewhere" and env["PATH"] == os.environ["PATH"]
