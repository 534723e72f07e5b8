"""The consumer lag of a live `kpipe stream` against a real broker (issue 12).

Before, the lag was set when a batch was planned (its start offset against the high watermark of
that moment) and never updated: after a batch the page and /metrics still showed that batch's
own size as lag, for a whole trigger. Now committed = the end offsets of the last committed
batch, latest = the high watermark sampled every 2 s, and the age of the oldest uncommitted
record is now - its Kafka timestamp. Checked here against the broker's own offsets and
timestamps (kcat), in /api/status and in /metrics read by prometheus_client's parser:

1. caught up: committed = latest = the broker's end offsets, lag 0, age 0, over several samples;
2. records produced between two batches show up within a sample: lag = end - committed exactly,
   the age is that of the first uncommitted record, before any batch reads them;
3. with the job stopped (SIGSTOP) while more records arrive, the lag and the age have grown when
   it resumes, still before the next batch;
4. the next batch brings everything back to 0.

TRIGGER_SECONDS is long (25 s) and the steps are timed from a batch's start, so that no batch
runs in between; a test that sees one fails saying so.
"""
from __future__ import annotations

import json
import math
import os
import signal
import time

import pytest

from metrics_check import prometheus_samples
from output_check import stream_env
from test_status_page import Pipeline, get_json, http_get

TRIGGER = 25
PARTITIONS = 3


def event(i: int) -> bytes:
    return json.dumps({"event_id": f"lag-{i}", "ts": "2026-12-06T03:00:00Z", "value": 1.5, "source": "lag"}).encode()


class Job:
    def __init__(self, pipe: Pipeline, kafka):
        self.pipe, self.kafka, self.sent = pipe, kafka, 0

    def status(self) -> dict:
        return get_json(self.pipe.url + "api/status")

    def metrics(self) -> dict[str, float]:
        code, text = http_get(self.pipe.url + "metrics")
        assert code == 200, text
        return prometheus_samples(text)

    def produce(self, per_partition: list[int]) -> None:
        for p, n in enumerate(per_partition):
            self.kafka.produce(self.pipe.topic, [event(self.sent + i) for i in range(n)], partition=p)
            self.sent += n

    def end_offsets(self) -> dict[int, int]:
        return self.kafka.end_offsets(self.pipe.topic, PARTITIONS)

    def wait_for_batch_with_everything(self) -> dict:
        """Waits until the records sent so far are committed; returns that batch's progress."""
        self.pipe.wait_for(lambda: self.status()["totals"]["inputRows"] == self.sent, TRIGGER + 30,
                           f"{self.sent} records committed")
        return get_json(self.pipe.url + "api/progress?last=1")[-1]


def by_partition(st: dict, field: str) -> dict[int, float]:
    return {lag["partition"]: lag[field] for lag in st["lag"]}


@pytest.fixture
def job(kafka, kpipe_bin, tmp_path):
    pipe = Pipeline(kpipe_bin, kafka, f"t-lag-{os.getpid()}-{time.time_ns() % 10**6}", tmp_path)
    kafka.create_topic(pipe.topic, PARTITIONS)
    j = Job(pipe, kafka)
    j.produce([10, 11, 12])
    pipe.spawn("stream", ["stream"], stream_env(tmp_path, kafka.bootstrap, pipe.topic,
                                                STATUS_ADDR=f"127.0.0.1:{pipe.port}", TRIGGER_SECONDS=TRIGGER,
                                                STARTING_OFFSETS="earliest"))
    try:
        pipe.wait_for(lambda: http_get(pipe.url + "healthz", timeout=1)[0] == 200, 30, "the status server to answer")
        j.wait_for_batch_with_everything()
        yield j
    finally:
        if "stream" in pipe.procs and pipe.procs["stream"].poll() is None:
            pipe.procs["stream"].send_signal(signal.SIGCONT)
        pipe.stop_all()


def assert_caught_up(j: Job, end: dict[int, int]) -> None:
    st, m = j.status(), j.metrics()
    assert by_partition(st, "committedOffset") == end, st["lag"]
    assert by_partition(st, "latestOffset") == end, st["lag"]
    assert st["totalLag"] == 0 and st["oldestUncommittedAgeSeconds"] == 0, st
    assert m["kpipe_consumer_total_lag_records"] == 0
    for p, offset in end.items():
        assert m[f'kpipe_committed_offset{{partition="{p}"}}'] == offset
        assert m[f'kpipe_latest_offset{{partition="{p}"}}'] == offset
        assert m[f'kpipe_consumer_lag_records{{partition="{p}"}}'] == 0
        assert m[f'kpipe_oldest_uncommitted_age_seconds{{partition="{p}"}}'] == 0


def assert_behind(j: Job, committed: dict[int, int], end: dict[int, int], batch: int) -> dict:
    """Waits until the status shows `end` as latest, then checks it exactly against the broker:
    lag = end - committed per partition, the age = now - the Kafka timestamp of the record at the
    committed offset; /metrics says the same. Returns the status."""
    timestamps = {(m["partition"], m["offset"]): m["timestamp"] for m in j.kafka.consume(j.pipe.topic)}
    oldest_ms = {p: timestamps[(p, c)] for p, c in committed.items() if end[p] > c}

    def shows_it():
        st = j.status()
        ages = by_partition(st, "oldestUncommittedAgeSeconds")
        return by_partition(st, "latestOffset") == end and all(
            ages[p] is not None and abs(ages[p] - (st["nowMs"] - ms) / 1000) < 0.002 for p, ms in oldest_ms.items())

    j.pipe.wait_for(shows_it, 6, f"latest offsets {end} and the oldest records' ages")
    st = j.status()
    assert st["lastCommittedBatch"] == batch, "a batch ran during the test's window: the checks below prove nothing"
    assert by_partition(st, "committedOffset") == committed
    assert by_partition(st, "lag") == {p: end[p] - committed[p] for p in end}
    assert st["totalLag"] == sum(end.values()) - sum(committed.values())
    ages = by_partition(st, "oldestUncommittedAgeSeconds")
    for p in end:
        expected = (st["nowMs"] - oldest_ms[p]) / 1000 if p in oldest_ms else 0
        assert ages[p] == pytest.approx(expected, abs=0.002), (p, ages[p], expected)
    assert st["oldestUncommittedAgeSeconds"] == pytest.approx(max(ages.values()), abs=1e-9)

    m = j.metrics()
    assert m["kpipe_consumer_total_lag_records"] == st["totalLag"]
    for p in end:
        assert m[f'kpipe_committed_offset{{partition="{p}"}}'] == committed[p]
        assert m[f'kpipe_latest_offset{{partition="{p}"}}'] == end[p]
        assert m[f'kpipe_consumer_lag_records{{partition="{p}"}}'] == end[p] - committed[p]
        # Read a moment later than the status: the same record, a little older.
        age = m[f'kpipe_oldest_uncommitted_age_seconds{{partition="{p}"}}']
        assert not math.isnan(age) and ages[p] <= age <= ages[p] + 2 if p in oldest_ms else age == 0
    return st


def test_lag_is_exact_between_batches_and_grows_while_the_job_is_paused(job):
    j = job
    # Time the steps from a batch's start: the next one starts TRIGGER seconds after it.
    j.produce([1, 0, 0])
    last = j.wait_for_batch_with_everything()
    batch = last["batchId"]
    window_ends = last["timestampMs"] / 1000 + TRIGGER - 2

    # 1. Caught up, sample after sample; committed is the last batch's end offsets.
    end = j.end_offsets()
    assert {s["partition"]: s["endOffset"] for s in last["sources"]} == end
    for _ in range(3):
        assert_caught_up(j, end)
        time.sleep(1)

    # 2. Records arrive between batches (partition 2 gets none).
    committed = end
    j.produce([5, 7, 0])
    end2 = j.end_offsets()
    st2 = assert_behind(j, committed, end2, batch)
    assert st2["totalLag"] == 12

    # 3. The job stopped while more arrive: more lag, older records, once it resumes.
    stream = j.pipe.procs["stream"]
    stream.send_signal(signal.SIGSTOP)
    try:
        paused_at = time.monotonic()
        j.produce([3, 0, 4])
        time.sleep(max(0.0, 3 - (time.monotonic() - paused_at)))
    finally:
        stream.send_signal(signal.SIGCONT)
    end3 = j.end_offsets()
    st3 = assert_behind(j, committed, end3, batch)
    assert st3["totalLag"] == 19 > st2["totalLag"]
    assert by_partition(st3, "oldestUncommittedAgeSeconds")[0] >= by_partition(st2, "oldestUncommittedAgeSeconds")[0] + 3
    assert by_partition(st3, "oldestUncommittedAgeSeconds")[2] > 0  # partition 2 is behind now
    assert time.time() < window_ends, "the checks took longer than a trigger: a batch may have run"

    # 4. The next batch reads it all: back to 0, at the broker's end offsets.
    j.wait_for_batch_with_everything()
    j.pipe.wait_for(lambda: j.status()["totalLag"] == 0, 5, "no lag after the batch")
    assert_caught_up(j, end3)
