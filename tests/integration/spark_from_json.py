"""Spark 3.5's from_json as the reference for nested events (issue 11), and Spark's read of the
Delta table kpipe wrote from the same events.

Two sides in one file, as spark_reader.py:

  from_json_with_spark(payload_file, ddl, table) -> dict   called by pytest (.venv Python)
  python spark_from_json.py PAYLOADS DDL TABLE             run with the Spark Python
      (.venv-spark); prints one JSON object on its last stdout line:
        parsed   [{"id": ..., "row": {...} | null}, ...] one per payload line (id as sent):
                 from_json(value, DDL) in Spark's default PERMISSIVE mode. Spark 3.5 does not
                 reject a record that does not fit: it nulls the top-level field that failed and
                 keeps the others (or, for a TINYINT 128 or a decimal with extra digits, changes
                 the value); "row" is null only for text that is not JSON
        table    [{...}, ...] rows of spark.read.format("delta").load(TABLE), same encoding
      The encoding: Decimal → its text, bytes → base64, timestamps → ISO text in UTC with +00:00,
      TIMESTAMP_NTZ → ISO text without zone, dates → ISO text, maps → lists of [key, value] pairs
      sorted by key, structs → objects.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spark_reader import SETUP_HINT, spark_settings  # noqa: E402


def from_json_with_spark(payload_file: Path, ddl: str, table: Path, timeout: float = 600) -> dict:
    settings = spark_settings()
    if settings is None:
        raise RuntimeError(f"Spark is not set up: {SETUP_HINT}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_"))}
    env.update(DELTA_JARS=settings["DELTA_JARS"], PYTHONUNBUFFERED="1")
    p = subprocess.run([settings["SPARK_PYTHON"], str(Path(__file__).resolve()), str(payload_file), ddl, str(table)],
                       env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"spark_from_json.py failed (exit {p.returncode}):\n{p.stderr[-6000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# --- the Spark side (.venv-spark) -----------------------------------------------------------------


def _encode(v, t):
    from datetime import date, datetime, timezone
    from decimal import Decimal

    from pyspark.sql.types import ArrayType, MapType, StructType, TimestampNTZType

    if v is None:
        return None
    if isinstance(t, StructType):
        return {f.name: _encode(v[f.name], f.dataType) for f in t.fields}
    if isinstance(t, ArrayType):
        return [_encode(x, t.elementType) for x in v]
    if isinstance(t, MapType):
        return sorted([[k, _encode(x, t.valueType)] for k, x in v.items()], key=lambda kv: kv[0])
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, datetime):
        if isinstance(t, TimestampNTZType):
            return v.replace(tzinfo=None).isoformat()
        return (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def main() -> int:
    payload_file, ddl, table = sys.argv[1], sys.argv[2], str(Path(sys.argv[3]).resolve())
    os.environ.setdefault("TZ", "UTC")
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    from spark_reader import _session

    spark = _session(os.environ["DELTA_JARS"])
    try:
        lines = spark.read.text(payload_file)
        # Spark 3.5's default: a field that does not fit nulls its whole top-level column.
        spark.conf.set("spark.sql.json.enablePartialResults", "false")
        parsed_df = lines.select("value", F.from_json("value", ddl).alias("r"))
        struct: StructType = parsed_df.schema["r"].dataType
        parsed = []
        for row in parsed_df.collect():
            r = row["r"]
            sent_id = json.loads(row["value"]).get("id")
            parsed.append({"id": sent_id, "row": None if r is None else _encode(r, struct)})
        delta = spark.read.format("delta").load(table)
        table_rows = [_encode(r, delta.schema) for r in delta.collect()]
        result = {"parsed": parsed, "table": table_rows}
    finally:
        spark.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
