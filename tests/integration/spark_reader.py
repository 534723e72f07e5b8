"""Spark 3.5 + delta-spark as an independent reader of a Delta table (issue 17).

Two sides in one file, so the test and the Spark job cannot drift apart:

  read_with_spark(path, versions=[...]) -> dict     called by pytest (the .venv Python): runs this
      file as a script with the Spark Python of scripts/setup-spark (.local/spark.env) and returns
      what it printed.
  python spark_reader.py PATH [--versions 0,1,...]  run by read_with_spark (the .venv-spark
      Python): one Spark JVM (a start costs 10 to 20 s here, so every read shares it) that prints
      one JSON object on its last stdout line:
        delta_rows    rows of spark.read.format("delta").load(PATH)
        parquet_rows  rows of spark.read.parquet(PATH) (the plain folder, partitions inferred)
        columns       {"delta": [...], "parquet": [...]} column names in Spark's order
        history       [{"version": v, "operation": op}, ...] of DESCRIBE HISTORY, oldest first
        version_counts {"N": rows of versionAsOf N} for each of --versions
      Rows are dicts sorted by their JSON text; dates and timestamps are Spark's strings (session
      time zone UTC), so dt reads "2025-11-06" from both readers.

Spark runs local[1] with a small driver, no UI, bound to 127.0.0.1, with the delta-spark jars of
the cache through spark.jars: nothing is fetched from the network.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SPARK_ENV = REPO_ROOT / ".local" / "spark.env"
SETUP_HINT = "run scripts/setup-spark (scripts/bootstrap runs it) to set up PySpark and delta-spark"


def spark_settings() -> dict[str, str] | None:
    """The settings scripts/setup-spark wrote, or None when Spark is not (fully) set up."""
    if not SPARK_ENV.is_file():
        return None
    settings = {}
    for line in SPARK_ENV.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings[key] = value
    jars = [j for j in settings.get("DELTA_JARS", "").split(",") if j]
    if not Path(settings.get("SPARK_PYTHON", "")).is_file() or not jars or not all(Path(j).is_file() for j in jars):
        return None
    return settings


def read_with_spark(path: str | os.PathLike, versions: list[int] = (), timeout: float = 600) -> dict:
    settings = spark_settings()
    if settings is None:
        raise RuntimeError(f"Spark is not set up ({SPARK_ENV} missing or stale): {SETUP_HINT}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_"))}
    env.update(DELTA_JARS=settings["DELTA_JARS"], PYTHONUNBUFFERED="1")
    args = [settings["SPARK_PYTHON"], str(Path(__file__).resolve()), str(path)]
    if versions:
        args += ["--versions", ",".join(str(v) for v in versions)]
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"spark_reader.py failed (exit {p.returncode}) on {path}:\n{p.stderr[-6000:]}")
    lines = p.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"spark_reader.py printed nothing for {path}:\n{p.stderr[-6000:]}")
    return json.loads(lines[-1])


# --- the Spark side (.venv-spark) -----------------------------------------------------------------


def _session(jars: str):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("kpipe-delta-check")
             .config("spark.jars", jars)
             .config("spark.driver.memory", "512m")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "1")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _rows(df) -> list[dict]:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    as_text = (DateType, TimestampType, TimestampNTZType)
    df = df.select([F.col(f.name).cast("string").alias(f.name) if isinstance(f.dataType, as_text) else F.col(f.name)
                    for f in df.schema.fields])
    rows = [r.asDict() for r in df.collect()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--versions", default="", help="comma-separated table versions to time-travel to")
    a = ap.parse_args()
    path = str(Path(a.path).resolve())
    spark = _session(os.environ["DELTA_JARS"])
    try:
        delta = spark.read.format("delta").load(path)
        parquet = spark.read.parquet(path)
        quoted = path.replace("`", "``")
        history = spark.sql(f"DESCRIBE HISTORY delta.`{quoted}`").select("version", "operation").collect()
        counts = {v: spark.read.format("delta").option("versionAsOf", int(v)).load(path).count()
                  for v in a.versions.split(",") if v}
        result = {
            "delta_rows": _rows(delta),
            "parquet_rows": _rows(parquet),
            "columns": {"delta": delta.columns, "parquet": parquet.columns},
            "history": sorted(({"version": h.version, "operation": h.operation} for h in history),
                              key=lambda h: h["version"]),
            "version_counts": counts,
        }
    finally:
        spark.stop()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
