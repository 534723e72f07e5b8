"""Reads a file kpipe's sinks wrote with independent readers and prints what they see.

Used by tests/unit/sink_*_test.cc, which compare the printout with the values they wrote:
    sink_readback.py parquet FILE   pyarrow (schema, rows, Parquet schema and metadata) and DuckDB
    sink_readback.py csv FILE       pyarrow.csv and DuckDB read_csv, both inferring types
    sink_readback.py jsonl FILE     Python's json module (payload bytes in hex) and DuckDB read_json
    sink_readback.py csv-json CSV PARQUET   the CSV's nested cells parsed as JSON, against the
                                    Parquet file of the same rows read by pyarrow; DuckDB's json_valid
Output is ASCII only (strings via ascii()), one fact per line, so a diff points at the value.
"""
import base64
import datetime
import decimal
import json
import sys

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def fmt(v):
    if v is None:
        return "None"
    if isinstance(v, (str, dict, list, tuple)):
        return ascii(v)  # nested values: Python's repr of every value inside, ASCII only
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    return repr(v)


def print_table(label, table):
    for field in table.schema:
        print(f"{label} type {field.name}: {field.type}")
    for row in table.to_pylist():
        print(f"{label} row: " + " | ".join(fmt(v) for v in row.values()))


def print_duckdb(source_sql):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    # Materialised first: a CAST right on read_csv is pushed into the reader, which then hands
    # back the raw text instead of the value it parsed.
    con.execute(f"CREATE TABLE t AS SELECT * FROM {source_sql}")
    described = con.execute("DESCRIBE t").fetchall()
    names = [d[0] for d in described]
    for name, typ, *_ in described:
        print(f"duckdb type {name}: {typ}")
    # DuckDB's own text form of every value: no Python conversion (and no pytz) in between.
    cols = ", ".join(f'CAST("{n}" AS VARCHAR)' for n in names)
    for row in con.execute(f"SELECT {cols} FROM t").fetchall():
        print("duckdb row: " + " | ".join(fmt(v) for v in row))


def parquet(path):
    print_table("pyarrow", pq.read_table(path))
    meta = pq.ParquetFile(path).metadata
    # The Parquet schema tree (the first line of pyarrow's text is an object address).
    for line in str(meta.schema).splitlines()[1:]:
        print(f"schema: {line.rstrip()}")
    print(f"parquet created_by: {meta.created_by}")
    print(f"parquet row_groups: {meta.num_row_groups} rows: {meta.num_rows}")
    schema = meta.schema
    for i in range(meta.num_columns):
        col = schema.column(i)
        chunk = meta.row_group(0).column(i)
        logical = col.logical_type.to_json() if col.logical_type.type != "NONE" else "none"
        stats = chunk.statistics
        has_stats = stats is not None and stats.has_null_count
        dictionary = "dict" if chunk.has_dictionary_page else "plain"
        print(f"parquet column {col.path}: {col.physical_type} {logical} {chunk.compression} "
              f"stats={has_stats} nulls={stats.null_count if has_stats else '?'} {dictionary}")
    print_duckdb(f"read_parquet('{path}')")


def csv(path):
    options = pcsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    print_table("pyarrow", pcsv.read_csv(path, convert_options=options))
    # allow_quoted_nulls=false: "" is an empty string, only an empty unquoted field is null.
    print_duckdb(f"read_csv('{path}', header=true, allow_quoted_nulls=false)")


def as_json_value(v, t):
    """A value of Arrow type `t` that pyarrow read from Parquet, as the CSV sink's JSON text
    should carry it."""
    if v is None:
        return None
    if pa.types.is_map(t):
        return {k: as_json_value(x, t.item_type) for k, x in v}
    if pa.types.is_struct(t):
        return {f.name: as_json_value(v[f.name], f.type) for f in t}
    if pa.types.is_list(t):
        return [as_json_value(x, t.value_type) for x in v]
    if pa.types.is_binary(t):
        return base64.b64encode(v).decode("ascii")
    if pa.types.is_timestamp(t):
        text = v.isoformat(timespec="milliseconds" if v.microsecond % 1000 == 0 else "microseconds")
        return text.replace("+00:00", "Z")
    if pa.types.is_date(t):
        return v.isoformat()
    return v


def csv_json(csv_path, parquet_path):
    """Every struct/list/map cell of the CSV file, parsed as JSON (decimals exactly), against the
    value pyarrow reads from the Parquet file of the same rows."""
    expected = pq.read_table(parquet_path)
    nested = [f.name for f in expected.schema if pa.types.is_nested(f.type)]
    options = pcsv.ConvertOptions(column_types={n: pa.string() for n in nested}, strings_can_be_null=True,
                                  quoted_strings_can_be_null=False)
    got = pcsv.read_csv(csv_path, convert_options=options)
    cells = 0
    for name in nested:
        typ = expected.schema.field(name).type
        for row, (text, want) in enumerate(zip(got.column(name).to_pylist(), expected.column(name).to_pylist())):
            value = None if text is None else json.loads(text, parse_float=decimal.Decimal)
            if value != as_json_value(want, typ) or (value is None) != (want is None):
                print(f"MISMATCH {name} row {row}: csv {ascii(text)} parquet {ascii(want)}")
            cells += 1
    print(f"json cells compared: {cells}")
    con = duckdb.connect()
    checks = " AND ".join(f'({n} IS NULL OR json_valid({n}))' for n in nested)
    bad = con.execute(f"SELECT count(*) FROM read_csv('{csv_path}', header=true, all_varchar=true) "
                      f"WHERE NOT ({checks})").fetchone()[0]
    print(f"duckdb rows with an invalid json cell: {bad}")


def jsonl(path):
    with open(path, "rb") as f:
        data = f.read()
    for line in data.split(b"\n")[:-1]:
        rec = json.loads(line)
        if rec["payload"] is not None:
            assert rec["payload_base64"] is None
            payload = rec["payload"].encode("utf-8")
            form = "text"
        else:
            payload = base64.b64decode(rec["payload_base64"], validate=True)
            form = "base64"
        print("json keys: " + ",".join(rec.keys()))
        print(f"json record: {fmt(rec['topic'])} {rec['partition']} {rec['offset']} {fmt(rec['timestamp'])} "
              f"{fmt(rec['reason'])} {form} {payload.hex()}")
    ends_with_newline = data.endswith(b"\n") if data else "empty"
    print(f"json trailing newline: {ends_with_newline}")
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_json('{path}', format='newline_delimited')").fetchone()[0]
    print(f"duckdb records: {n}")


if __name__ == "__main__":
    {"parquet": parquet, "csv": csv, "jsonl": jsonl, "csv-json": csv_json}[sys.argv[1]](*sys.argv[2:])
