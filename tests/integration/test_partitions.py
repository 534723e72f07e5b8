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
