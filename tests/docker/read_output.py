"""Reads the stack's output back with pyarrow, as a user would (README "Verify"): every Parquet
and CSV file under OUTPUT_ROOT/{parquet,csv}/dt=*, with the seed's columns and some rows.

    read_output.py OUTPUT_ROOT      exit 0 and one summary line, or exit 1 saying what is wrong
"""
from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from output_check import data_files, read_parquet  # noqa: E402

COLUMNS = {"event_id", "ts", "value", "source"}


def read_csv(root: Path) -> pa.Table:
    files = data_files(root, ".csv")
    return pa.concat_tables(pacsv.read_csv(f) for f in files) if files else pa.table({})


def check(name: str, table: pa.Table) -> str | None:
    missing = COLUMNS - set(table.column_names)
    if missing:
        return f"{name}: no column {sorted(missing)} (has {table.column_names})"
    if table.num_rows == 0:
        return f"{name}: no rows"
    if table.column("event_id").null_count:
        return f"{name}: {table.column('event_id').null_count} rows without event_id"
    return None


def main(root: Path) -> int:
    parquet, csv = read_parquet(root / "parquet"), read_csv(root / "csv")
    errors = [e for e in (check("Parquet", parquet), check("CSV", csv)) if e]
    if "dt" not in parquet.column_names:
        errors.append("Parquet: no dt=* folders")
    for e in errors:
        print(f"read_output: {e}", file=sys.stderr)
    if not errors:
        days = sorted(str(d) for d in parquet.column("dt").unique().to_pylist())
        print(f"read_output: {parquet.num_rows} Parquet rows in {len(data_files(root / 'parquet', '.parquet'))} "
              f"file(s), {csv.num_rows} CSV rows in {len(data_files(root / 'csv', '.csv'))} file(s), dt {days}",
              file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
