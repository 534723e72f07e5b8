"""Checks kpipe's Delta stats of a Parquet file with nested columns against delta-rs.

usage: delta_stats_nested_check.py FILE.parquet OUR_STATS.json SCRATCH_DIR

1. delta-rs (deltalake.write_deltalake) writes the same rows as a Delta table of its own; its
   add.stats must agree with ours: the same nesting (struct fields as objects, no lists or maps),
   numbers equal, decimals equal (delta-rs's pass through a double: equal to 15 digits; ours
   are exact), TIMESTAMP_NTZ bounds within the millisecond rounding.
   Known differences, checked as such: delta-rs writes no nullCount for BINARY columns (Spark's
   Delta writer does, as we do); it writes NTZ bounds as "2025-11-06 12:30:00.123" truncated,
   ours are "2025-11-06T12:30:00.124", the max rounded up so it stays an upper bound.
2. The same commit with OUR file and OUR stats (protocol and schemaString taken from delta-rs's
   own commit, so this check does not depend on kpipe's schema string): delta-rs opens the table,
   parses our stats (get_add_actions), reads the rows back equal to pyarrow's reading of the
   file, and answers filtered queries whose pruning uses our min/max correctly.
Prints one line per check; exits 1 with the reasons on any disagreement.
"""

import datetime as dt
import json
import os
import shutil
import sys
from decimal import Decimal

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq

problems = []


def fail(msg):
    problems.append(msg)


def ntz(text):
    return dt.datetime.fromisoformat(text.replace(" ", "T"))


def compare(path, ours, theirs, kind):
    """Compares one stats section (nested dicts) of ours and delta-rs's."""
    for key in sorted(set(ours) | set(theirs)):
        name = f"{path}.{key}" if path else key
        a, b = ours.get(key), theirs.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            if not (isinstance(a, dict) and isinstance(b, dict)):
                fail(f"{kind} {name}: ours {a!r}, delta-rs {b!r}: nesting differs")
            else:
                compare(name, a, b, kind)
            continue
        if kind == "nullCount" and b is None and name == "payload":
            print(f"{kind} {name}: ours {a}, delta-rs none (it skips binary columns)")
            continue
        if isinstance(a, str) and isinstance(b, str):  # TIMESTAMP_NTZ
            delta = (ntz(a) - ntz(b)).total_seconds()
            ok = delta == 0 if kind == "minValues" else 0 <= delta <= 0.001
            if not ok:
                fail(f"{kind} {name}: ours {a}, delta-rs {b}")
        elif isinstance(a, Decimal) and isinstance(b, Decimal) and a != b:
            # delta-rs writes decimals through a double: close, but not the exact bound.
            if abs(a - b) > abs(a) * Decimal("1e-15"):
                fail(f"{kind} {name}: ours {a} is not delta-rs's {b} (a double) within its precision")
        elif a != b:
            fail(f"{kind} {name}: ours {a!r} != delta-rs {b!r}")
        print(f"{kind} {name}: ours {a!r}, delta-rs {b!r}")


def delta_rs_commit(table, scratch):
    deltalake.write_deltalake(scratch, table)
    with open(f"{scratch}/_delta_log/00000000000000000000.json") as f:
        return [json.loads(line) for line in f]


def table_with_our_file(actions, parquet_path, ours_text, scratch):
    os.makedirs(f"{scratch}/_delta_log")
    shutil.copy(parquet_path, f"{scratch}/part-0.parquet")
    add = {"path": "part-0.parquet", "partitionValues": {}, "size": os.path.getsize(parquet_path),
           "modificationTime": 1796119200000, "dataChange": True, "stats": ours_text}
    with open(f"{scratch}/_delta_log/00000000000000000000.json", "w") as f:
        for action in actions:
            if "protocol" in action or "metaData" in action:
                f.write(json.dumps(action) + "\n")
        f.write(json.dumps({"add": add}) + "\n")
    return deltalake.DeltaTable(scratch)


def count(table, where):
    qb = deltalake.QueryBuilder().register("t", table)
    batches = qb.execute(f"SELECT count(*) AS n FROM t WHERE {where}").read_all()
    return batches.column(0)[0].as_py()


def main():
    path, stats_path, scratch = sys.argv[1:4]
    ours_text = open(stats_path, encoding="utf-8").read()
    ours = json.loads(ours_text, parse_float=Decimal)
    table = pq.read_table(path)

    actions = delta_rs_commit(table, f"{scratch}/theirs")
    theirs = [json.loads(a["add"]["stats"], parse_float=Decimal) for a in actions if "add" in a]
    if len(theirs) != 1:
        fail(f"delta-rs wrote {len(theirs)} files, expected 1")
    else:
        if ours["numRecords"] != theirs[0]["numRecords"]:
            fail(f"numRecords {ours['numRecords']} != delta-rs {theirs[0]['numRecords']}")
        for kind in ("minValues", "maxValues", "nullCount"):
            compare("", ours[kind], theirs[0][kind], kind)

    ours_table = table_with_our_file(actions, path, ours_text, f"{scratch}/ours")
    if ours_table.to_pyarrow_table().to_pylist() != table.to_pylist():
        fail("delta-rs reads other rows from the table with our stats than pyarrow reads from the file")
    else:
        print(f"delta-rs reads the table with our stats: {ours_table.to_pyarrow_table().num_rows} rows, as pyarrow")
    adds = pa.table(ours_table.get_add_actions(flatten=True)).to_pylist()
    parsed = {k: v for k, v in adds[0].items() if k.startswith(("min.", "max.", "null_count."))}
    print("delta-rs parsed our stats: " + ", ".join(f"{k}={v}" for k, v in sorted(parsed.items())))
    for key, want in [("min.user.id", 1), ("max.user.id", 7), ("null_count.user.id", 2), ("min.t8", -128),
                      ("max.t16", 32767), ("max.rate", Decimal("1.50")), ("null_count.payload", 1)]:
        if parsed.get(key) != want:
            fail(f"delta-rs parsed {key} = {parsed.get(key)!r}, expected {want!r}")
    for where, want in [("t8 > 127", 0), ("t8 >= 127", 1), ("rate > 1.5", 0), ("rate >= 1.5", 1),
                        ("local > TIMESTAMP '2025-11-06 12:30:00.123456'", 0),
                        ("local >= TIMESTAMP '2025-11-06 12:30:00.123456'", 1), ("t.\"user\"['id'] > 7", 0),
                        ("t.\"user\"['id'] = 7", 1)]:
        got = count(ours_table, where)
        print(f"delta-rs WHERE {where}: {got} rows")
        if got != want:
            fail(f"delta-rs WHERE {where}: {got} rows, expected {want}")

    for p in problems:
        print("DISAGREE:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
