"""Checks kpipe's Delta stats of one Parquet file against two independent readers.

usage: delta_stats_check.py FILE.parquet OUR_STATS.json SCRATCH_DIR

1. pyarrow reads the footer: every row group's column chunk statistics, combined per column.
   Our nullCount must equal theirs; numbers and dates must equal their min/max; a timestamp min
   is theirs floored to the millisecond, a max theirs rounded up; a string min is a prefix of
   theirs, a string max is >= theirs in UTF-8 byte order.
2. delta-rs (deltalake.write_deltalake) writes the same rows as a Delta table; its add.stats
   must agree with ours. Known differences, checked as such: delta-rs keeps min/max for booleans
   (Delta's Spark writer does not, nor do we); it truncates a timestamp max down to the
   millisecond (ours is rounded up, so at most 1 ms above); it cuts a long string max by raising
   its last code point (ours appends U+FFFD): both must be >= the true max.
Prints one line per column checked; exits 1 with the reasons on any disagreement.
"""

import datetime as dt
import json
import sys

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
problems = []


def fail(msg):
    problems.append(msg)


def ts_micros(text):
    return round((dt.datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) / dt.timedelta(microseconds=1))


def footer_stats(path):
    """{column: (min, max, null_count)} from pyarrow's view of the footer (None where unknown)."""
    meta = pq.ParquetFile(path).metadata
    out = {}
    for c in range(meta.num_columns):
        name = meta.schema.column(c).name
        lo = hi = None
        nulls = 0
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(c).statistics
            nulls += st.null_count
            if st.has_min_max:
                lo = st.min if lo is None else min(lo, st.min)
                hi = st.max if hi is None else max(hi, st.max)
        out[name] = (lo, hi, nulls)
    return out


def utf8(s):
    return s.encode("utf-8")


def check_against_footer(ours, table, footer):
    for field in table.schema:
        name, typ = field.name, field.type
        lo, hi, nulls = footer[name]
        if ours["nullCount"].get(name) != nulls:
            fail(f"{name}: nullCount {ours['nullCount'].get(name)} != footer {nulls}")
        mn, mx = ours["minValues"].get(name), ours["maxValues"].get(name)
        if pa.types.is_boolean(typ) or lo is None:
            if mn is not None or mx is not None:
                fail(f"{name}: has min/max {mn}/{mx}, expected none")
            continue
        if pa.types.is_timestamp(typ):
            lo_us, hi_us = ts_micros(lo.isoformat()), ts_micros(hi.isoformat())
            if ts_micros(mn) != lo_us // 1000 * 1000:
                fail(f"{name}: min {mn} is not the footer's {lo} floored to ms")
            if ts_micros(mx) != -(-hi_us // 1000) * 1000:
                fail(f"{name}: max {mx} is not the footer's {hi} rounded up to ms")
        elif pa.types.is_date(typ):
            if mn != lo.isoformat() or mx != hi.isoformat():
                fail(f"{name}: {mn}/{mx} != footer {lo}/{hi}")
        elif pa.types.is_string(typ):
            if not lo.startswith(mn) or len(mn) > 32:
                fail(f"{name}: min {mn!r} is not a <=32 code point prefix of {lo!r}")
            if utf8(mx) < utf8(hi):
                fail(f"{name}: max {mx!r} < footer max {hi!r}")
        else:
            if mn != lo or mx != hi:
                fail(f"{name}: {mn}/{mx} != footer {lo}/{hi}")
        print(f"pyarrow {name}: ours {mn!r}..{mx!r}, footer {lo!r}..{hi!r}, nulls {nulls}")


def check_against_delta_rs(ours, table, scratch):
    deltalake.write_deltalake(scratch, table)
    adds = [json.loads(l)["add"] for l in open(f"{scratch}/_delta_log/00000000000000000000.json") if '"add"' in l]
    if len(adds) != 1:
        fail(f"delta-rs wrote {len(adds)} files, expected 1")
        return
    theirs = json.loads(adds[0]["stats"])
    if theirs["numRecords"] != ours["numRecords"]:
        fail(f"numRecords {ours['numRecords']} != delta-rs {theirs['numRecords']}")
    if theirs["nullCount"] != ours["nullCount"]:
        fail(f"nullCount {ours['nullCount']} != delta-rs {theirs['nullCount']}")
    for field in table.schema:
        name, typ = field.name, field.type
        for kind in ("minValues", "maxValues"):
            a, b = ours[kind].get(name), theirs[kind].get(name)
            if pa.types.is_boolean(typ):
                if a is not None:
                    fail(f"{name}: boolean with {kind} {a}")
                continue
            if a is None or b is None:
                if a != b:
                    fail(f"{name}: {kind} ours {a!r}, delta-rs {b!r}")
                continue
            if pa.types.is_timestamp(typ) and kind == "maxValues":
                if not 0 <= ts_micros(a) - ts_micros(b) <= 1000:
                    fail(f"{name}: max ours {a}, delta-rs {b}: not within the 1 ms rounding")
            elif pa.types.is_string(typ) and kind == "maxValues" and a != b:
                true_max = max(v for v in table.column(name).to_pylist() if v is not None)
                if utf8(a) < utf8(true_max) or utf8(b) < utf8(true_max):
                    fail(f"{name}: max ours {a!r} or delta-rs {b!r} below {true_max!r}")
            elif a != b:
                fail(f"{name}: {kind} ours {a!r} != delta-rs {b!r}")
        print(f"delta-rs {name}: ours {ours['minValues'].get(name)!r}..{ours['maxValues'].get(name)!r}, "
              f"delta-rs {theirs['minValues'].get(name)!r}..{theirs['maxValues'].get(name)!r}")


def main():
    path, stats_path, scratch = sys.argv[1:4]
    ours = json.load(open(stats_path, encoding="utf-8"))
    table = pq.read_table(path)
    check_against_footer(ours, table, footer_stats(path))
    check_against_delta_rs(ours, table, scratch)
    for p in problems:
        print("DISAGREE:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
