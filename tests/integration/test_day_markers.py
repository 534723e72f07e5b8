"""Day-completeness markers (DT_COMPLETE_AFTER) against a real broker: dt=D/_SUCCESS appears in
the Parquet and CSV roots exactly when every partition's events are past the end of D plus the
lateness (or the partition is idle), exactly once across kill -9 and restarts, is recorded in
commits/N and the Delta commitInfo, and late events still land and are counted in /metrics.

The wall clock the rule reads is fixed with KPIPE_TEST_WALL_CLOCK_MS, so "idle" (caught up and the
clock past the day's end plus the lateness) is under the test's control.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

from kafka_fixture import free_port
from output_check import progress_lines, read_delta, read_parquet, stream_env
from test_status_page import get_json, http_get, parse_metrics
from test_stream import clean_env, run_stream

D = datetime(2026, 3, 10, tzinfo=timezone.utc)
D_TEXT, D1_TEXT = "2026-03-10", "2026-03-11"


def at(hours: float) -> datetime:
    return D + timedelta(hours=hours)


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def event(eid: str, t: datetime) -> bytes:
    return json.dumps({"event_id": eid, "ts": t.isoformat().replace("+00:00", "Z"), "value": 1.0,
                       "source": "s"}).encode()


def markers(out: Path, day: str) -> dict[str, bytes | None]:
    return {sink: (p.read_bytes() if (p := out / sink / f"dt={day}" / "_SUCCESS").exists() else None)
            for sink in ("parquet", "csv")}


def delta_commit_infos(table: Path) -> list[dict]:
    infos = []
    for f in sorted((table / "_delta_log").glob("*.json")):
        for line in f.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                infos.append(action["commitInfo"])
    return infos


def completed_in_delta(table: Path) -> list[str]:
    return [d for info in delta_commit_infos(table) for d in info.get("kpipe", {}).get("completedDays", [])]


def completed_in_commits(checkpoint: Path) -> list[str]:
    days = []
    for f in (checkpoint / "commits").iterdir():
        if f.name.isdigit():
            days += json.loads(f.read_text()).get("completedDays", [])
    return days


def test_markers_appear_when_every_partition_passes_the_day_exactly_once(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    out = tmp_path / "out"
    clock = at(24.5)  # D+1 00:30: not yet past end(D) + 1 h, so no caught-up partition is idle for D
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, DT_COMPLETE_AFTER="1h",
                     KPIPE_TEST_WALL_CLOCK_MS=str(ms(clock)))

    def once(extra: dict | None = None, expect_rc: int = 0):
        p = run_stream(kpipe_bin, {**env, **(extra or {})}, tmp_path)
        assert p.returncode == expect_rc, p.stderr[-3000:]
        return p

    # Partition 0 reaches D+1 02:00, partition 1 only D 23:00, partition 2 is empty.
    kafka.produce(unique_topic, [event("p0-a", at(10)), event("p0-b", at(20)), event("p0-c", at(26))], partition=0)
    kafka.produce(unique_topic, [event("p1-a", at(9)), event("p1-b", at(23))], partition=1)
    once()
    assert (out / "parquet" / f"dt={D_TEXT}").is_dir() and (out / "csv" / f"dt={D_TEXT}").is_dir()
    assert markers(out, D_TEXT) == {"parquet": None, "csv": None}

    # Partition 2 gets an event of D+1 03:00; partition 1 still holds day D back.
    kafka.produce(unique_topic, [event("p2-a", at(27))], partition=2)
    once()
    assert markers(out, D_TEXT) == {"parquet": None, "csv": None}

    # Partition 1 passes D+1 01:00: D is complete. The batch that says so is killed right after
    # its markers, then again after its Delta commit, then finished by a third run.
    kafka.produce(unique_topic, [event("p1-c", at(25 + 5 / 60))], partition=1)
    p = once({"KPIPE_TEST_CRASH_AT": "after_markers"}, expect_rc=-signal.SIGKILL)
    assert "KPIPE_TEST_CRASH_AT" in p.stderr
    first = markers(out, D_TEXT)
    assert first["parquet"] is not None and first["csv"] is not None
    assert completed_in_commits(out / "_checkpoint") == [] and completed_in_delta(out / "parquet") == []
    once({"KPIPE_TEST_CRASH_AT": "after_delta_commit"}, expect_rc=-signal.SIGKILL)
    assert completed_in_delta(out / "parquet") == [D_TEXT]
    p = once()
    assert markers(out, D_TEXT) == first  # the same marker, not a second one
    assert [b["completedDays"] for b in progress_lines(p.stderr) if "completedDays" in b] == [[D_TEXT]]
    body = json.loads(first["parquet"])
    assert body["dt"] == D_TEXT and body["batchId"] >= 2
    assert completed_in_commits(out / "_checkpoint") == [D_TEXT]
    assert completed_in_delta(out / "parquet") == [D_TEXT]
    assert markers(out, D1_TEXT) == {"parquet": None, "csv": None}  # D+1 is still open

    # More runs with nothing new: no marker is written or recorded twice.
    once()
    assert completed_in_commits(out / "_checkpoint") == [D_TEXT]
    assert completed_in_delta(out / "parquet") == [D_TEXT]

    # A late event of D lands in dt=D and is counted, in /metrics and /api/status.
    kafka.produce(unique_topic, [event("p1-late", at(12))], partition=1)
    port = free_port()
    proc = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env({**env, "STATUS_ADDR": f"127.0.0.1:{port}"}),
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        metrics = {}
        while time.time() < deadline:
            try:
                code, text = http_get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except OSError:
                code, text = 0, ""
            if code == 200:
                metrics = parse_metrics(text)
                if metrics.get("kpipe_late_records_total") == 1:
                    break
            time.sleep(0.2)
        assert metrics.get("kpipe_late_records_total") == 1, metrics
        assert metrics["kpipe_last_completed_day_timestamp_seconds"] == D.timestamp()
        st = get_json(f"http://127.0.0.1:{port}/api/status")
        assert st["totals"]["lateRecords"] == 1 and st["lastCompletedDay"] == D_TEXT
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert markers(out, D_TEXT) == first
    assert completed_in_commits(out / "_checkpoint") == [D_TEXT]

    # Every event exactly once; the readers ignore the markers.
    ids = ["p0-a", "p0-b", "p0-c", "p1-a", "p1-b", "p1-c", "p1-late", "p2-a"]
    table = read_parquet(out / "parquet")
    assert sorted(table.column("event_id").to_pylist()) == sorted(ids)
    con = duckdb.connect()
    assert sorted(r for r, in con.execute(
        f"SELECT event_id FROM read_parquet('{out}/parquet/*/*.parquet', hive_partitioning = true) "
        f"WHERE CAST(dt AS VARCHAR) = '{D_TEXT}'").fetchall()) == ["p0-a", "p0-b", "p1-a", "p1-b", "p1-late"]
    assert sorted(read_delta(out / "parquet").column("event_id").to_pylist()) == sorted(ids)
    csv = ds.dataset(str(out / "csv"), format="csv", partitioning="hive").to_table()
    assert sorted(csv.column("event_id").to_pylist()) == sorted(ids)
    assert con.execute(f"SELECT count(*) FROM read_csv('{out}/csv/*/*.csv', hive_partitioning = true)").fetchall() == [
        (len(ids),)]

    # Later the clock passes D+1 01:00 + 1 day: every partition is caught up and idle, nothing new
    # is in Kafka, and D+1 still gets its markers, from a batch without rows. Killed after its
    # write-ahead entry, the restart (at another clock) replays what the entry decided.
    once({"KPIPE_TEST_WALL_CLOCK_MS": str(ms(at(49.5))), "KPIPE_TEST_CRASH_AT": "after_offsets"},
         expect_rc=-signal.SIGKILL)
    assert markers(out, D1_TEXT) == {"parquet": None, "csv": None}
    once({"KPIPE_TEST_WALL_CLOCK_MS": str(ms(at(24.5)))})
    assert markers(out, D1_TEXT)["parquet"] is not None and markers(out, D1_TEXT)["csv"] is not None
    assert sorted(completed_in_commits(out / "_checkpoint")) == [D_TEXT, D1_TEXT]
    assert completed_in_delta(out / "parquet") == [D_TEXT, D1_TEXT]
    assert sorted(read_delta(out / "parquet").column("event_id").to_pylist()) == sorted(ids)


def test_an_idle_empty_partition_does_not_hold_a_day_back_once_the_clock_passes(kafka, kpipe_bin, unique_topic,
                                                                                tmp_path):
    kafka.create_topic(unique_topic, 3)
    out = tmp_path / "out"
    # Partitions 0 and 1 stop at D 22:00 and D 23:30; partition 2 never gets anything.
    kafka.produce(unique_topic, [event("a", at(22))], partition=0)
    kafka.produce(unique_topic, [event("b", at(23.5))], partition=1)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, DT_COMPLETE_AFTER="30m", SINKS="parquet",
                     PARQUET_TABLE_FORMAT="none")
    for clock, expected in ((at(24.4), None), (at(24.5), True)):
        p = run_stream(kpipe_bin, {**env, "KPIPE_TEST_WALL_CLOCK_MS": str(ms(clock))}, tmp_path)
        assert p.returncode == 0, p.stderr[-3000:]
        marker = out / "parquet" / f"dt={D_TEXT}" / "_SUCCESS"
        assert marker.exists() == bool(expected), (clock, p.stderr[-2000:])
    assert not (out / "csv").exists()


def test_a_bad_lateness_exits_2_naming_the_setting(kpipe_bin, tmp_path):
    p = run_stream(kpipe_bin, {"DT_COMPLETE_AFTER": "an hour", "STATUS_ADDR": "off"}, tmp_path)
    assert p.returncode == 2
    assert "DT_COMPLETE_AFTER" in p.stderr
