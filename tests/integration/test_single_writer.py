"""One writer per checkpoint (issue 13): a second `kpipe stream` on a checkpoint in use is refused at
start with exit 2 naming the other process; killed and restarted in every order while the producer
runs, the output still holds every event once in Parquet and in CSV."""
from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from test_stream import check_exactly_once, clean_env, kafka_values, run_stream, stream_env


def start(kpipe_bin, env, cwd: Path, name: str) -> tuple[subprocess.Popen, Path]:
    # stderr to a file: a long-running stream writes a progress line per batch, which would fill a pipe.
    log = cwd / f"{name}-{time.monotonic_ns()}.log"
    p = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=log.open("w"))
    return p, log


def wait_for_lock(checkpoint: Path, pid: int, timeout: float = 30):
    deadline = time.monotonic() + timeout
    lock = checkpoint / "lock"
    while time.monotonic() < deadline:
        if lock.exists() and f"pid {pid} " in lock.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} did not take {lock}")


def test_second_stream_on_a_checkpoint_in_use_exits_2_naming_the_other(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Both on one status address too, as two starts with the same settings are: the second must be
    # told about the checkpoint, not about the port.
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.5, STATUS_ADDR=f"127.0.0.1:{port}")
    first, _ = start(kpipe_bin, env, tmp_path, "first")
    try:
        wait_for_lock(tmp_path / "out" / "_checkpoint", first.pid)
        second = run_stream(kpipe_bin, env, tmp_path, timeout=60)
        assert second.returncode == 2, second.stderr[-2000:]
        checkpoint = env["CHECKPOINT_PATH"]
        assert (f"CHECKPOINT_PATH={checkpoint} is in use by another kpipe stream (pid {first.pid} on host "
                in second.stderr), second.stderr[-2000:]
        assert first.poll() is None, "the first writer must go on"
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0


def test_two_writers_killed_and_restarted_in_every_order_keep_exactly_once(kafka, kpipe_bin, unique_topic,
                                                                            tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.3, MAX_RECORDS_PER_FILE=500)
    checkpoint = tmp_path / "out" / "_checkpoint"
    producer = subprocess.Popen([str(kpipe_bin), "produce", "--rate", "3000", "--duration", "25"],
                                env=clean_env({"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}),
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # (first to start, how it ends, gap between the starts in seconds)
        rounds = [("a", signal.SIGKILL, 0.2), ("b", signal.SIGKILL, 0.05), ("a", signal.SIGTERM, 0.3),
                  ("b", signal.SIGKILL, 0.0), ("a", signal.SIGKILL, 0.1), ("b", signal.SIGTERM, 0.2)]
        for first_name, how, gap in rounds:
            first, first_log = start(kpipe_bin, env, tmp_path, first_name)
            time.sleep(gap)
            second, second_log = start(kpipe_bin, env, tmp_path, "b" if first_name == "a" else "a")
            # Exactly one of the two holds the checkpoint; the other stops with exit 2.
            deadline = time.monotonic() + 30
            while first.poll() is None and second.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            loser, loser_log, winner = (first, first_log, second) if first.poll() is not None else \
                (second, second_log, first)
            assert loser.wait(timeout=30) == 2, loser_log.read_text()[-2000:]
            assert "is in use by another kpipe stream" in loser_log.read_text()
            assert winner.poll() is None, "the writer holding the lock must go on"
            time.sleep(0.8)  # a batch or two
            winner.send_signal(how)
            winner.wait(timeout=30)
        # The last round's writer was killed: the next start takes its stale lock over by itself.
        last, _ = start(kpipe_bin, env, tmp_path, "last")
        time.sleep(1.0)
        last.send_signal(signal.SIGKILL)
        last.wait(timeout=30)
        assert producer.wait(timeout=120) == 0, producer.stderr.read()[-2000:]
    finally:
        if producer.poll() is None:
            producer.kill()
    final = run_stream(kpipe_bin, env, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    # Every SIGKILLed writer left its owner line; the writer after it said it took the lock over.
    assert "took over the lock of CHECKPOINT_PATH" in final.stderr, final.stderr[-2000:]
    assert (checkpoint / "lock").read_text() == "", "a clean stop leaves no owner in the lock file"
    ids = [r["event_id"] for r in kafka_values(kafka, unique_topic)]
    assert len(ids) > 50_000
    check_exactly_once(tmp_path / "out", set(ids))
