"""Cost curves of `kpipe stream --once` for bench/run's `curves` step: events/s, MB/s and peak RSS
as one dimension of the work grows and everything else stays at the base point.

    partitions   3, 12, 48, 96 partitions; the seed's events (`kpipe produce --rate 0`)
    days         a batch's events spread over 1, 30, 365 days (the backfill case: every day of a
                 batch is a folder with its own files)
    event_bytes  events of about 100 B, 1 KB, 10 KB (a `note` STRING column carries the padding)
    columns      4 columns (the seed's schema) or 50 (46 more, doubles and strings)

The base point is 3 partitions, 1 day, the seed's schema. A point holds about as many input bytes
as BENCH_CURVE_EVENTS seed events (1,000,000 by default) and at most that many events, so a curve
of event size compares MB/s at the same volume. Each point is a topic of its own, filled before it
is read; runs repeat BENCH_REPEAT times, the chart shows medians. bench/plot.py draws one PNG per
dimension (bench/results/curve-<dimension>.png).
"""
import json
import random
import string
import time
from pathlib import Path

DIMENSIONS = {
    "partitions": [3, 12, 48, 96],
    "days": [1, 30, 365],
    "event_bytes": [100, 1000, 10000],
    "columns": [4, 50],
}
BASE = {"partitions": 3, "days": 1, "event_bytes": None, "columns": 4}
SEED_SCHEMA = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING"
SEED_EVENT_BYTES = 115  # what `kpipe produce` sends, on average


def extra_columns(columns):
    """Names and types of the columns past the seed's four: doubles and strings in turn."""
    return [(f"c{i:02d}", "DOUBLE" if i % 2 else "STRING") for i in range(5, columns + 1)]


def schema_of(point):
    schema = SEED_SCHEMA
    if point["event_bytes"]:
        schema += ", note STRING"
    schema += "".join(f", {name} {kind}" for name, kind in extra_columns(point["columns"]))
    return schema


def event_line(i, rnd, point, now_s, pad):
    ts = now_s - rnd.randrange(point["days"] * 86400)
    event = {
        "event_id": f"ev-{i:09d}",
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{rnd.randrange(1000):03d}Z",
        "value": round(rnd.uniform(0, 100), 2),
        "source": rnd.choice(["sensor-a", "sensor-b", "sensor-c"]),
    }
    if pad:
        event["note"] = pad
    for name, kind in extra_columns(point["columns"]):
        event[name] = round(rnd.uniform(0, 1000), 3) if kind == "DOUBLE" else rnd.choice(["alpha", "beta", "gamma"])
    return json.dumps(event, separators=(",", ":"))


def write_events(path, point, events):
    """A JSON-lines file of `events` events of `point`'s shape; returns their average size."""
    rnd = random.Random(7)
    now_s = int(time.time())
    pad = ""
    if point["event_bytes"]:
        bare = len(event_line(0, rnd, dict(point, event_bytes=None), now_s, "")) + len(',"note":""')
        pad = "".join(rnd.choice(string.ascii_letters) for _ in range(max(point["event_bytes"] - bare, 0)))
    total = 0
    with open(path, "w") as f:
        for i in range(events):
            line = event_line(i, rnd, point, now_s, pad)
            total += len(line)
            f.write(line + "\n")
    return total / events


def points(dimensions, base_events):
    """(dimension, value, point, events) for every point of the chosen dimensions."""
    out = []
    for dim in dimensions:
        for value in DIMENSIONS[dim]:
            point = dict(BASE, **{dim: value})
            size = point["event_bytes"] or SEED_EVENT_BYTES * (1 if point["columns"] == 4 else 8)
            events = min(base_events, base_events * SEED_EVENT_BYTES // size)
            out.append((dim, value, point, events))
    return out


def uses_seed_events(dim):
    """The partitions curve reads the seed's own events, from `kpipe produce --rate 0`: keyed,
    spread evenly over the partitions. The others read generated events (JSON lines, no key),
    the same generator for every point of a curve."""
    return dim == "partitions"


def topic_name(dim, value):
    return f"curve-{dim}-{value}".replace("_", "-")


def produce_point(broker, raw, kpipe, dim, value, point, events, run_measured):
    """Creates and fills the point's topic; returns (topic, bytes per event)."""
    topic = topic_name(dim, value)
    broker.topic(topic, point["partitions"])
    args = [kpipe, "produce", "--env-file", "/dev/null", "--bootstrap-servers", broker.address, "--topic", topic,
            "--rate", "0", "--status-addr", "off"]
    if uses_seed_events(dim):
        args += ["--count", str(events)]
        size = SEED_EVENT_BYTES
    else:
        data = Path(raw) / f"{topic}.jsonl"
        size = write_events(data, point, events)
        args += ["--input", str(data)]
    run_measured(args, Path(raw) / f"produce-{topic}.log", timeout=900)
    if not uses_seed_events(dim):
        data.unlink()
    return topic, size


def run_curves(dimensions, base_events, repeat, broker, raw, work, kpipe, run_measured, run_kpipe, say):
    """Every point of `dimensions`: produced, then read `repeat` times, round by round."""
    result = {}
    plan = points(dimensions, base_events)
    topics = {}
    for dim, value, point, events in plan:
        topics[(dim, value)] = produce_point(broker, raw, kpipe, dim, value, point, events, run_measured)
        say(f"curve {dim}={value}: {events:,} events of {topics[(dim, value)][1]:.0f} B in "
            f"{point['partitions']} partitions")
    for i in range(repeat):
        for dim, value, point, events in plan:
            topic, size = topics[(dim, value)]
            r = run_kpipe(topic, f"curve-{dim}-{value}", size, i, events, {"SCHEMA": schema_of(point)})
            entry = result.setdefault(dim, {}).setdefault(str(value), {"events": events, "bytes_per_event": size,
                                                                       "partitions": point["partitions"], "runs": []})
            entry["runs"].append(r)
    return result
