"""Progress of long runs on stderr: `kpipe stream --once` over a backlog and `kpipe produce --count N`
draw a bar redrawn in place on a terminal (a pseudo-terminal here) and write plain lines when
stderr is a pipe."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time

from kafka_fixture import clean_env
from output_check import stream_env
from test_stream import make_events

BAR = re.compile(r"\[([# ]{10})\] ([\d,]+)/([\d,]+) (records|messages)  ([\d,]+) rec/s  ETA (\S+)")


def run_on_pty(args: list[str], env: dict, cwd, timeout: float = 300, stdout_too: bool = False) -> tuple[int, str]:
    """Runs with stderr (and stdout with stdout_too) on a pseudo-terminal, reading it as it comes (a
    full pty would block the writer); returns the exit code and everything written there."""
    master, slave = os.openpty()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=slave if stdout_too else subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the last writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
        else:
            proc.kill()
            raise AssertionError(f"{args} did not end within {timeout} s")
        return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def bars(text: str) -> list[tuple[int, int, str, str]]:
    return [(int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")), m.group(4), m.group(6))
            for m in BAR.finditer(text)]


EVENTS = 60_000


def backlog(kafka, topic, tmp_path):
    kafka.create_topic(topic, 3)
    kafka.produce(topic, (json.dumps(e).encode() for e in make_events(EVENTS)), timeout=300)
    # Batches of 1,000: a run of several seconds, so the bar is redrawn on the way.
    return stream_env(tmp_path, kafka.bootstrap, topic, MAX_BATCH_RECORDS="1000", PARQUET_TABLE_FORMAT="none")


def test_stream_once_draws_a_bar_on_a_terminal(kafka, kpipe_bin, unique_topic, tmp_path):
    env = backlog(kafka, unique_topic, tmp_path)
    rc, err = run_on_pty([str(kpipe_bin), "stream", "--once"], clean_env({**env, "TERM": "xterm"}), tmp_path)
    assert rc == 0, err[-3000:]
    seen = bars(err)
    assert seen, err[-3000:]
    assert all(total == EVENTS and unit == "records" for _, total, unit, _ in seen)
    # Redrawn in place on the way (\r, then the line erased), with the ETA known once rows move...
    assert "\r\x1b[K[" in err
    assert any(0 < done < EVENTS and eta != "?" for done, _, _, eta in seen), seen
    # ...and finished at the total, on a line of its own.
    assert seen[-1][:2] == (EVENTS, EVENTS)
    assert re.search(r"\[##########\] 60,000/60,000 records  [\d,]+ rec/s  ETA 0s\r?\n", err)
    # The batches' log lines are written above the bar, never into it.
    for line in err.replace("\r\x1b[K", "\n").splitlines():
        if line.startswith("{"):
            json.loads(line)


def test_the_console_sink_on_the_same_terminal_prints_above_the_bar(kafka, kpipe_bin, unique_topic, tmp_path):
    env = backlog(kafka, unique_topic, tmp_path)
    env["SINKS"] = "parquet,console"
    rc, out = run_on_pty([str(kpipe_bin), "stream", "--once"], clean_env({**env, "TERM": "xterm"}), tmp_path,
                         stdout_too=True)
    assert rc == 0, out[-3000:]
    summaries = re.findall(r"(.{0,8})Batch \d+: [\d,]+ rows", out)
    assert len(summaries) == EVENTS // 1000, out[-3000:]
    # Every table starts on a line of its own: the bar was cleared first (or there was none yet).
    tables = [m.start() for m in re.finditer(r"-{43}\r?\nBatch: \d+", out)]
    assert len(tables) == EVENTS // 1000
    for start in tables:
        before = out[max(0, start - 4):start]
        assert before.endswith(("\n", "\x1b[K")), repr(out[max(0, start - 120):start + 20])
    assert bars(out)[-1][:2] == (EVENTS, EVENTS)


def test_stream_once_writes_plain_lines_when_stderr_is_not_a_terminal(kafka, kpipe_bin, unique_topic, tmp_path):
    env = backlog(kafka, unique_topic, tmp_path)
    p = subprocess.run([str(kpipe_bin), "stream", "--once"], env=clean_env({**env, "TERM": "xterm"}), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "\r" not in p.stderr and "\x1b" not in p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("progress: ")]
    assert lines and lines[-1].startswith("progress: 60,000/60,000 records (100.0%), "), p.stderr[-2000:]
    assert lines[-1].endswith("ETA 0s")


def test_stream_once_without_a_backlog_draws_nothing(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 1)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    rc, err = run_on_pty([str(kpipe_bin), "stream", "--once"], clean_env({**env, "TERM": "xterm"}), tmp_path)
    assert rc == 0, err
    assert not bars(err) and "progress: " not in err


def test_produce_count_draws_a_bar_on_a_terminal_and_plain_lines_otherwise(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = clean_env({"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic, "TERM": "xterm"})
    # A steady 2,000 messages/s for 3 s: several redraws, with an ETA.
    args = [str(kpipe_bin), "produce", "--rate", "2000", "--count", "6000"]
    rc, err = run_on_pty(args, env, tmp_path)
    assert rc == 0, err[-3000:]
    seen = bars(err)
    assert all(total == 6000 and unit == "messages" for _, total, unit, _ in seen) and seen, err[-3000:]
    assert any(0 < done < 6000 and eta not in ("?", "0s") for done, _, _, eta in seen), seen
    assert seen[-1][:2] == (6000, 6000)
    assert "done: sent 6000, delivered 6000" in err

    p = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "\r" not in p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("progress: ")]
    # One line every 5 s of a run of about 3 s, then the final one.
    assert 1 <= len(lines) <= 2 and lines[-1].startswith("progress: 6,000/6,000 messages (100.0%), "), p.stderr
