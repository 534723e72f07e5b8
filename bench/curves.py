"""Cost curves of `kpipe stream --once` for bench/run's `curves` step: events/s, MB/s and peak RSS
as one dimension of the work grows and everything else stays at the base point.

    partitions   3, 12, 48, 96 partitions; the seed's events (`kpipe produce --rate 0`)
    days         a batch's events spread over 1, 30, 365 days (the backfill case: every day of a
                 batch is a folder with its own files)
    event_bytes  events of about 100 B, 1 KB, 10 KB (a `note` STRING column carries the padding)
    columns      4 columns (the seed's schema) or 50 (46 more, doubles and strings)
    event_shape  events of about 1 KB, flat (the seed's padded with a `note`) or nested (a user
                 STRUCT with an ARRAY, an ARRAY of item STRUCTs with DECIMAL prices, a MAP, a
                 BINARY, TINYINT/SMALLINT): what nesting costs at the same bytes

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
    "event_shape": ["flat", "nested"],
}
BASE = {"partitions": 3, "days": 1, "event_bytes": None, "columns": 4, "event_shape": "flat"}
NESTED_SCHEMA = ("event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING, "
                 "user STRUCT<id: BIGINT, name: STRING, tags: ARRAY<STRING>, "
                 "address: STRUCT<city: STRING, zip: STRING, geo: STRUCT<lat: DOUBLE, lon: DOUBLE>>>, "
                 "items ARRAY<STRUCT<sku: STRING, qty: SMALLINT, price: DECIMAL(10,2), tags: ARRAY<STRING>>>, "
                 "attrs MAP<STRING, STRING>, level TINYINT, digest BINARY")
SEED_SCHEMA = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING"
SEED_EVENT_BYTES = 115  # what `kpipe produce` sends, on average


def extra_columns(columns):
    """Names and types of the columns past the seed's four: doubles and strings in turn."""
    return [(f"c{i:02d}", "DOUBLE" if i % 2 else "STRING") for i in range(5, columns + 1)]


def schema_of(point):
    if point["event_shape"] == "nested":
        return NESTED_SCHEMA
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
    if point["event_shape"] == "nested":
        nested_fields(event, rnd)
        return json.dumps(event, separators=(",", ":"))
    if pad:
        event["note"] = pad
    for name, kind in extra_columns(point["columns"]):
        event[name] = round(rnd.uniform(0, 1000), 3) if kind == "DOUBLE" else rnd.choice(["alpha", "beta", "gamma"])
    return json.dumps(event, separators=(",", ":"))


def nested_fields(event, rnd):
    """About 900 bytes of nested fields: the rest of a ~1 KB nested event."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    event["user"] = {"id": rnd.randrange(1 << 40), "name": f"user-{rnd.randrange(10**6)}",
                     "tags": rnd.sample(words, 3),
                     "address": {"city": rnd.choice(["Berlin", "Lisbon", "Osaka"]), "zip": f"{rnd.randrange(10**5):05d}",
                                 "geo": {"lat": round(rnd.uniform(-90, 90), 5), "lon": round(rnd.uniform(-180, 180), 5)}}}
    event["items"] = [{"sku": f"sku-{rnd.randrange(10**6):06d}", "qty": rnd.randrange(1, 20),
                       "price": f"{rnd.randrange(1, 10**5)}.{rnd.randrange(100):02d}", "tags": rnd.sample(words, 2)}
                      for _ in range(7)]
    event["attrs"] = {f"k{j}": rnd.choice(words) + str(rnd.randrange(1000)) for j in range(6)}
    event["level"] = rnd.randrange(-128, 128)
    event["digest"] = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(43)) + "="


def write_events(path, point, events):
    """A JSON-lines file of `events` events of `point`'s shape; returns their average size."""
    rnd = random.Random(7)
    now_s = int(time.time())
    pad = ""
    if point["event_bytes"] and point["event_shape"] != "nested":
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
            if dim == "event_shape":
                point["event_bytes"] = 1000  # both shapes at about 1 KB
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
