"""The seed's Structured Streaming job (spark/app.py of the seed), for `make bench-spark`.

Kafka → from_json with the event schema → dt = to_date(ts) → partitionBy("dt"), one query
writing Parquet and one writing CSV (the seed starts one query per sink, so each reads Kafka),
FILES_PER_PARTITION files per dt and batch (repartition by dt), at most MAX_RECORDS_PER_FILE rows
per file, with checkpoints. The seed's ProcessingTime trigger becomes availableNow: the queries
process the backlog present at start and stop, as `kpipe stream --once` does. The console sink
is left out on both sides. With BENCH_SPARK_TRIGGER_SECONDS set (bench/steady.py), the seed's own
ProcessingTime trigger instead, running until it is stopped (SIGTERM).

Settings come from the environment (set by bench/run). Prints one line
`BENCH_RESULT {json}` with the rows each query read and the seconds from the first start() to
the end of the last query, which is what bench/run divides by.
"""
import json
import os
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json, to_date
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

SCHEMA = StructType([
    StructField("event_id", StringType()),
    StructField("ts", TimestampType()),
    StructField("value", DoubleType()),
    StructField("source", StringType()),
])


def main():
    env = os.environ
    t_session = time.monotonic()
    spark = (SparkSession.builder.appName("kpipe-bench-seed-job")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    session_seconds = time.monotonic() - t_session

    events = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", env["KAFKA_BOOTSTRAP_SERVERS"])
              .option("subscribe", env["KAFKA_TOPIC"])
              .option("startingOffsets", "earliest")
              .load()
              .select(from_json(col("value").cast("string"), SCHEMA).alias("e"))
              .select("e.*")
              .withColumn("dt", to_date(col("ts"))))
    out = events.repartition(int(env.get("FILES_PER_PARTITION", "1")), "dt")

    trigger_seconds = env.get("BENCH_SPARK_TRIGGER_SECONDS")
    trigger = {"processingTime": f"{trigger_seconds} seconds"} if trigger_seconds else {"availableNow": True}

    def start(fmt, path, checkpoint, **options):
        writer = (out.writeStream.format(fmt)
                  .option("path", path)
                  .option("checkpointLocation", checkpoint)
                  .option("maxRecordsPerFile", int(env.get("MAX_RECORDS_PER_FILE", "5000")))
                  .partitionBy("dt")
                  .trigger(**trigger))
        for k, v in options.items():
            writer = writer.option(k, v)
        return writer.start()

    t0 = time.monotonic()
    queries = [start("parquet", env["OUTPUT_PATH"], env["CHECKPOINT_PATH"] + "/parquet")]
    if env.get("SINKS", "parquet,csv") == "parquet,csv":
        queries.append(start("csv", env["CSV_OUTPUT_PATH"], env["CHECKPOINT_PATH"] + "/csv", header="true"))
    if trigger_seconds:
        spark.streams.awaitAnyTermination()  # runs until stopped
    for q in queries:
        q.awaitTermination()
    seconds = time.monotonic() - t0
    rows = [sum(p["numInputRows"] for p in q.recentProgress) for q in queries]
    print("BENCH_RESULT " + json.dumps({
        "spark_version": spark.version,
        "session_seconds": round(session_seconds, 3),
        "query_seconds": round(seconds, 3),
        "rows_per_query": rows,
        "master": spark.sparkContext.master,
        "default_parallelism": spark.sparkContext.defaultParallelism,
    }), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
