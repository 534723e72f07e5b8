"""A corpus of nested events (issue 11) and what a reader must see for each: the schema as DDL,
the payloads as they go to Kafka, and, per good event, the row every reader must return.

The events are our own, drawn with a fixed seed: depth (a struct in a struct in a struct, an
array of arrays, a map of arrays), empty arrays and maps, nulls inside arrays and as map values,
maps whose keys are unicode, escaped, empty or look like JSON, decimals at the edges of their
precision (38 nines, the smallest step of DECIMAL(38,38), negatives, exponents, numbers as JSON
strings), unicode text, base64 binary, TINYINT/SMALLINT bounds, fields missing at every depth
and fields the schema does not know at every depth.

`expected(event)` is written from the schema's meaning, not from kpipe's code: missing or null →
None, unknown → dropped, decimals exact (Decimal), BINARY base64-decoded, TIMESTAMP in UTC,
TIMESTAMP_NTZ naive, MAP as a list of (key, value) pairs in the order of the JSON object.
`canon(kind, value)` turns what pyarrow, delta-rs, DuckDB or Spark return into one comparable
form, so every reader is compared with the same expectation.
"""
from __future__ import annotations

import base64
import json
import random
from datetime import date, datetime, timedelta, timezone
import decimal
from decimal import Decimal

decimal.getcontext().prec = 100  # DECIMAL(38, 38) and 38 nines need more than the default 28 digits

# The schema as a tree: (name, type) with type one of "STRING", "BIGINT", ..., ("DECIMAL", p, s),
# ("STRUCT", [fields]), ("ARRAY", type), ("MAP", type).
GEO = ("STRUCT", [("lat", "DOUBLE"), ("lon", "DOUBLE")])
ADDRESS = ("STRUCT", [("city", "STRING"), ("geo", GEO)])
USER = ("STRUCT", [("id", "BIGINT"), ("name", "STRING"), ("tags", ("ARRAY", "STRING")), ("address", ADDRESS)])
ITEM = ("STRUCT", [("sku", "STRING"), ("qty", "SMALLINT"), ("price", ("DECIMAL", 10, 2))])
FIELDS = [
    ("id", "STRING"),
    ("ts", "TIMESTAMP"),
    ("user", USER),
    ("items", ("ARRAY", ITEM)),
    ("attrs", ("MAP", "STRING")),
    ("scores", ("MAP", ("ARRAY", "INT"))),
    ("matrix", ("ARRAY", ("ARRAY", "DOUBLE"))),
    ("big", ("DECIMAL", 38, 0)),
    ("frac", ("DECIMAL", 38, 38)),
    ("flag", "TINYINT"),
    ("blob", "BINARY"),
    ("local", "TIMESTAMP_NTZ"),
    ("day", "DATE"),
    ("ok", "BOOLEAN"),
]


def ddl_type(t) -> str:
    if isinstance(t, str):
        return t
    if t[0] == "DECIMAL":
        return f"DECIMAL({t[1]},{t[2]})"
    if t[0] == "STRUCT":
        return "STRUCT<" + ", ".join(f"{n}: {ddl_type(ft)}" for n, ft in t[1]) + ">"
    if t[0] == "ARRAY":
        return f"ARRAY<{ddl_type(t[1])}>"
    return f"MAP<STRING, {ddl_type(t[1])}>"


DDL = ", ".join(f"{n} {ddl_type(t)}" for n, t in FIELDS)
NAMES = [n for n, _ in FIELDS]

BASE = datetime(2025, 11, 6, tzinfo=timezone.utc)
ODD_KEYS = ["", "ключ", "emoji 🎉", 'quote"d', "back\\slash", "tab\there", "{\"json\":1}", "dup"]
WORDS = ["alpha", "βeta", "日本語", "with, comma", 'say "hi"', "new\nline", ""]


def _decimal_text(rnd: random.Random, p: int, s: int) -> str | float | int:
    """A value of DECIMAL(p, s) as a producer might send it: a string or a number."""
    pick = rnd.randrange(8)
    if p == 38 and s == 0:
        edge = ["9" * 38, "-" + "9" * 38, "0", "1E+37", "12345678901234567890123456789012345678"]
        return edge[pick % len(edge)] if pick < 5 else str(rnd.randrange(-10**18, 10**18))
    if p == 38 and s == 38:
        edge = ["0." + "9" * 38, "-0." + "0" * 37 + "1", "0", "1E-38", "0.5"]
        return edge[pick % len(edge)]
    units = rnd.randrange(-10**(p - s) + 1, 10**(p - s))
    cents = rnd.randrange(0, 10**s)
    text = f"{'-' if units < 0 else ''}{abs(units)}.{cents:0{s}d}"
    if pick == 0:
        return text.rstrip("0").rstrip(".") or "0"  # fewer fraction digits than the scale
    if pick == 1:
        return float(Decimal(text).quantize(Decimal(1)))  # a JSON number without a fraction
    if pick == 2:
        return json.loads(text, parse_float=float) if abs(units) < 10**6 else text
    return text


def make_event(i: int, rnd: random.Random) -> dict:
    e: dict = {"id": f"n-{i:05d}", "ts": (BASE + timedelta(seconds=rnd.randrange(2 * 86400))).isoformat().replace(
        "+00:00", "Z")}
    def maybe(p=0.8):
        return rnd.random() < p
    if maybe():
        user: dict = {"id": rnd.randrange(-2**63, 2**63), "name": rnd.choice(WORDS)}
        if maybe():
            user["tags"] = [rnd.choice(WORDS) if maybe(0.85) else None for _ in range(rnd.randrange(0, 4))]
        if maybe():
            addr: dict = {"city": rnd.choice(WORDS)}
            if maybe():
                addr["geo"] = {"lat": round(rnd.uniform(-90, 90), 6), "lon": round(rnd.uniform(-180, 180), 6),
                               "alt": 12}  # alt: unknown at depth 3
            elif maybe(0.3):
                addr["geo"] = None
            user["address"] = addr
        if maybe(0.3):
            user["unknown"] = {"deep": [1, {"x": None}]}
        e["user"] = user
    elif maybe(0.5):
        e["user"] = None
    if maybe():
        items = []
        for _ in range(rnd.randrange(0, 4)):
            if maybe(0.1):
                items.append(None)
                continue
            item: dict = {"sku": f"sku-{rnd.randrange(1000)}", "price": _decimal_text(rnd, 10, 2)}
            if maybe():
                item["qty"] = rnd.choice([-32768, 32767, 0, rnd.randrange(-100, 100)])
            if maybe(0.2):
                item["note"] = "unknown inside an array"
            items.append(item)
        e["items"] = items
    if maybe():
        attrs = {}
        for _ in range(rnd.randrange(0, 4)):
            attrs[rnd.choice(ODD_KEYS) + (str(rnd.randrange(3)) if maybe(0.5) else "")] = (
                rnd.choice(WORDS) if maybe(0.85) else None)
        e["attrs"] = attrs
    if maybe(0.5):
        e["scores"] = {k: ([rnd.randrange(-2**31, 2**31) if maybe(0.9) else None for _ in range(rnd.randrange(3))]
                           if maybe(0.9) else None) for k in rnd.sample(["a", "b", "c"], rnd.randrange(0, 3))}
    if maybe(0.5):
        e["matrix"] = [[rnd.uniform(-1e6, 1e6) for _ in range(rnd.randrange(3))] for _ in range(rnd.randrange(3))]
    if maybe():
        e["big"] = _decimal_text(rnd, 38, 0)
    if maybe():
        e["frac"] = _decimal_text(rnd, 38, 38)
    if maybe():
        e["flag"] = rnd.choice([-128, 127, 0, 5])
    if maybe():
        e["blob"] = base64.b64encode(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 12)))).decode()
    if maybe():
        e["local"] = (datetime(2025, 1, 1) + timedelta(seconds=rnd.randrange(10**8), microseconds=rnd.randrange(10**6))
                      ).isoformat()
    if maybe():
        e["day"] = (date(2025, 1, 1) + timedelta(days=rnd.randrange(365))).isoformat()
    if maybe():
        e["ok"] = rnd.random() < 0.5
    if maybe(0.2):
        e["extra_top"] = {"ignored": True}
    return e


def make_events(n: int, seed: int = 11) -> list[dict]:
    rnd = random.Random(seed)
    return [make_event(i, rnd) for i in range(n)]


# Events that do not fit the schema, and the path the dead-letter reason must name. Spark's
# from_json finds each of them bad too (all fields null), except "bad-price": Spark rounds
# 12.345 HALF_UP to 12.35 in DECIMAL(10,2), where kpipe refuses to lose a digit (PRECISION_LOSS).
BAD_EVENTS = [
    ({"id": "bad-price", "ts": "2025-11-06T00:00:00Z",
      "items": [{"sku": "a", "price": "1.00"}, {"sku": "b", "price": "2"}, {"sku": "c", "price": "12.345"}]},
     "items[2].price"),
    ({"id": "bad-user-id", "ts": "2025-11-06T00:00:00Z", "user": {"id": "seven"}}, "user.id"),
    ({"id": "bad-tags", "ts": "2025-11-06T00:00:00Z", "user": {"tags": "a,b"}}, "user.tags"),
    ({"id": "bad-flag", "ts": "2025-11-06T00:00:00Z", "flag": 128}, "flag"),
    ({"id": "bad-qty", "ts": "2025-11-06T00:00:00Z", "items": [{"sku": "a", "qty": 40000}]}, "items[0].qty"),
    ({"id": "bad-big", "ts": "2025-11-06T00:00:00Z", "big": "1" + "0" * 38}, "big"),
    ({"id": "bad-blob", "ts": "2025-11-06T00:00:00Z", "blob": "not base64!"}, "blob"),
    ({"id": "bad-geo", "ts": "2025-11-06T00:00:00Z", "user": {"address": {"geo": {"lat": "north"}}}},
     "user.address.geo.lat"),
    ({"id": "bad-score", "ts": "2025-11-06T00:00:00Z", "scores": {"a": [1, 2.5]}}, "scores"),
    ({"id": "bad-items", "ts": "2025-11-06T00:00:00Z", "items": {"sku": "not an array"}}, "items"),
]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def expected_value(t, v):
    """The value a reader must return for JSON value v of type t (None for null or missing)."""
    if v is None:
        return None
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "DECIMAL":
            return Decimal(str(v)).quantize(Decimal(1).scaleb(-t[2]))
        if kind == "STRUCT":
            return {n: expected_value(ft, v.get(n)) for n, ft in t[1]}
        if kind == "ARRAY":
            return [expected_value(t[1], x) for x in v]
        return [(k, expected_value(t[1], x)) for k, x in v.items()]
    if t == "TIMESTAMP":
        return _ts(v)
    if t == "TIMESTAMP_NTZ":
        return datetime.fromisoformat(v)
    if t == "DATE":
        return date.fromisoformat(v)
    if t == "BINARY":
        return base64.b64decode(v)
    if t == "DOUBLE":
        return float(v)
    return v


def expected_row(e: dict) -> dict:
    row = {n: expected_value(t, e.get(n)) for n, t in FIELDS}
    row["dt"] = _ts(e["ts"]).date().isoformat()
    return row


def canon(t, v):
    """What a reader returned for type t, in one comparable form (see expected_value)."""
    if v is None:
        return None
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "DECIMAL":
            return Decimal(v).quantize(Decimal(1).scaleb(-t[2]))
        if kind == "STRUCT":
            if not isinstance(v, dict):
                v = v.asDict()  # a Spark Row
            return {n: canon(ft, v.get(n)) for n, ft in t[1]}
        if kind == "ARRAY":
            return [canon(t[1], x) for x in v]
        if isinstance(v, dict) and set(v) == {"key", "value"} and isinstance(v["key"], list):
            pairs = list(zip(v["key"], v["value"]))  # DuckDB's older MAP form
        elif isinstance(v, dict):
            pairs = list(v.items())  # DuckDB, Spark
        else:
            pairs = list(v)  # pyarrow, delta-rs: [(key, value), ...]
        return [(k, canon(t[1], x)) for k, x in pairs]
    if t == "TIMESTAMP":
        return v.astimezone(timezone.utc) if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if t == "TIMESTAMP_NTZ":
        return v.replace(tzinfo=None)
    if t == "BINARY":
        return bytes(v)
    if t == "DOUBLE":
        return float(v)
    return v


def canon_row(row: dict, maps_unordered: bool = False) -> dict:
    out = {n: canon(t, row.get(n)) for n, t in FIELDS}
    dt = row.get("dt")
    out["dt"] = dt.isoformat() if hasattr(dt, "isoformat") else str(dt)
    if maps_unordered:
        out = unorder_maps(out)
    return out


def unorder_maps(row: dict) -> dict:
    """Maps as sorted pairs, for readers that return maps as dicts in another order (DuckDB, Spark)."""
    def walk(t, v):
        if v is None or not isinstance(t, tuple):
            return v
        if t[0] == "STRUCT":
            return {n: walk(ft, v.get(n)) for n, ft in t[1]}
        if t[0] == "ARRAY":
            return [walk(t[1], x) for x in v]
        if t[0] == "MAP":
            return sorted(((k, walk(t[1], x)) for k, x in v), key=lambda kv: kv[0])
        return v
    return {**{n: walk(t, row.get(n)) for n, t in FIELDS}, "dt": row["dt"]}


def payloads(events: list[dict]) -> list[bytes]:
    return [json.dumps(e, ensure_ascii=False).encode() for e in events]
