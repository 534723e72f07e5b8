"""Many partitions against a real broker: every event exactly once in Parquet and CSV.

Regression test for issue 14 (cost grew with the partition count: 64 partitions took 20 times as
long as 3 for the same events, and memory grew with them). Speed is measured by bench/ (the
`curves` step), not here; this test holds the output to the exactly-once invariant.
"""
from __future__ import annotations

import json

from output_check import progress_lines, stream_env
from test_stream import check_exactly_once, make_events, run_stream

PARTITIONS = 64
EVENTS = 120_000


def test_sixty_four_partitions_exactly_once_in_several_batches(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, PARTITIONS)
    events = make_events(EVENTS, days=2)
    # kcat's random partitioner, message by message: every partition gets about 1,900 events.
    kafka.produce(unique_topic, (json.dumps(e).encode() for e in events), timeout=300)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_BATCH_RECORDS="25000")
    p = run_stream(kpipe_bin, env, tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]

    check_exactly_once(tmp_path / "out", {e["event_id"] for e in events})
    batches = [b for b in progress_lines(p.stderr) if b["numInputRows"] > 0]
    assert sum(b["numInputRows"] for b in batches) == EVENTS
    assert len(batches) == 5  # 120,000 events in batches of at most 25,000
    # MAX_BATCH_RECORDS is a memory bound: each batch reads a few partitions in turn (a fetch
    # brings a whole producer batch of every partition it touches), and together they read every
    # partition, each range starting where the last one of its partition ended.
    read_to = {}
    for b in batches:
        read = [s for s in b["sources"] if s["endOffset"] > s["startOffset"]]
        assert len(read) < PARTITIONS // 2, [s["partition"] for s in read]
        for s in read:
            assert s["startOffset"] == read_to.get(s["partition"], 0), s
            read_to[s["partition"]] = s["endOffset"]
    assert sorted(read_to) == list(range(PARTITIONS))
    # The last batch ends at each partition's end.
    ends = {s["partition"]: s["endOffset"] for s in batches[-1]["sources"]}
    assert sum(ends.values()) == EVENTS


def test_large_events_are_read_in_batches_of_at_most_max_batch_bytes(kafka, kpipe_bin, unique_topic, tmp_path):
    """MAX_BATCH_BYTES bounds a batch by the bytes of its records, which MAX_BATCH_RECORDS alone
    does not: 2,400 events of about 10 KB (24 MB, far under the record cap) with a 2 MiB limit
    are read in about a dozen batches, each ending at the record that reached the limit, every
    range starting where the last one of its partition ended, every event once."""
    kafka.create_topic(unique_topic, 3)
    events = make_events(2_400, days=2)
    for i, e in enumerate(events):
        e["source"] = f"{i:05d}" + "x" * 10_000
    lines = [json.dumps(e) for e in events]
    kafka.produce(unique_topic, (line.encode() for line in lines), timeout=300)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_BATCH_BYTES="2m", MAX_RECORDS_PER_FILE="1000")
    p = run_stream(kpipe_bin, env, tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]

    check_exactly_once(tmp_path / "out", {e["event_id"] for e in events})
    batches = [b for b in progress_lines(p.stderr) if b["numInputRows"] > 0]
    assert sum(b["numInputRows"] for b in batches) == len(events)
    size = len(lines[0])  # every line is within a few bytes of it
    most = (2 << 20) // (size - 16) + 1  # the limit, and the record that reached it
    assert all(b["numInputRows"] <= most for b in batches), [b["numInputRows"] for b in batches]
    assert len(batches) >= len(events) * size // (2 << 20), len(batches)
    read_to = {}
    for b in batches:
        for s in b["sources"]:
            if s["endOffset"] > s["startOffset"]:
                assert s["startOffset"] == read_to.get(s["partition"], 0), s
                read_to[s["partition"]] = s["endOffset"]
    assert sum(read_to.values()) == len(events)
