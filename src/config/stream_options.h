// Every setting of `kpipe stream`, validated once at start-up. Precedence:
// command-line flags > environment > .env file > the defaults below.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/s3_settings.h"
#include "common/status.h"
#include "config/settings.h"

namespace kpipe {

struct StreamOptions {
  std::string bootstrap_servers = "localhost:9092";           // KAFKA_BOOTSTRAP_SERVERS
  std::string topic = "events";                               // KAFKA_TOPIC
  std::string output_path = "data/output/parquet";            // OUTPUT_PATH: root of the Parquet dt=… folders
  std::string csv_output_path;                                // CSV_OUTPUT_PATH: default `csv` beside OUTPUT_PATH
  std::string checkpoint_path = "data/output/_checkpoint";    // CHECKPOINT_PATH
  std::string dead_letter_path = "data/output/_dead_letter";  // DEAD_LETTER_PATH
  double trigger_seconds = 30;                                // TRIGGER_SECONDS: time between batch starts, > 0
  int64_t max_records_per_file = 5000;                        // MAX_RECORDS_PER_FILE: rows per output file at most
  int64_t files_per_partition = 1;  // FILES_PER_PARTITION: files per dt partition per batch (fewer if fewer rows)
  bool sink_parquet = true;         // SINKS: comma list of parquet, csv, console
  bool sink_csv = true;
  bool sink_console = true;
  bool starting_earliest = true;                // STARTING_OFFSETS: earliest|latest, only for a new checkpoint
  int64_t max_offsets_per_trigger = 0;          // MAX_OFFSETS_PER_TRIGGER: offsets per batch at most, 0 = no cap
  int64_t max_batch_records = 100000;           // MAX_BATCH_RECORDS: records one batch holds in memory at most
  int64_t max_batch_bytes = int64_t{16} << 20;  // MAX_BATCH_BYTES: bytes of record values a new batch reads at most
  bool fail_on_data_loss = true;                // FAIL_ON_DATA_LOSS
  std::string parquet_compression = "snappy";   // PARQUET_COMPRESSION: snappy|zstd|none
  std::string parquet_table_format = "delta";   // PARQUET_TABLE_FORMAT: delta|none
  bool parquet_table_append = false;            // PARQUET_TABLE_APPEND: append to another query's table
  bool direct_io = true;                        // DIRECT_IO: large local files written past the page cache
  std::string on_bad_record = "dlq";            // ON_BAD_RECORD: dlq|skip|fail
  std::string schema = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING";  // SCHEMA (Spark DDL)
  std::string partition_from = "ts";  // PARTITION_FROM: TIMESTAMP or DATE column giving dt, or timestamp (Kafka's)
  // KAFKA_COLUMNS: Kafka record fields added as columns after SCHEMA's (key, topic, partition,
  // offset, timestamp, timestampType, headers); "" = none. Validated with SCHEMA (make_decoding).
  std::string kafka_columns;
  int64_t max_record_bytes = 1 << 20;          // MAX_RECORD_BYTES: larger messages are dead-lettered
  int64_t max_string_bytes = 65536;            // MAX_STRING_BYTES: longer string values are dead-lettered
  std::string status_addr = "127.0.0.1:8080";  // STATUS_ADDR: host:port of the status page, or off
  bool once = false;                           // --once: process what is there at start, then exit
  double once_timeout_seconds = 120;           // ONCE_TIMEOUT: --once gives up retrying after this long; 0 = never
  // DT_COMPLETE_AFTER: the lateness after a day's end before dt=D/_SUCCESS is written, in
  // seconds ("30m", "1h", "2h30m", "1d"); 0 = no markers.
  int64_t dt_complete_after_seconds = 0;
  // GROUP_ID: the Kafka consumer group that instances sharing the topic (and OUTPUT_PATH,
  // CSV_OUTPUT_PATH, CHECKPOINT_PATH) join; "" = one instance reading every partition.
  std::string group_id;
  S3Settings s3;  // S3_ENDPOINT_URL, S3_ADDRESSING_STYLE, AWS_*: for s3:// paths
  std::vector<std::pair<std::string, std::string>> kafka_props;  // --kafka-prop key=value, repeatable
  std::vector<std::pair<std::string, std::string>> effective;    // every setting as resolved, for the status page
};

const std::vector<SettingSpec>& stream_setting_specs();
Result<StreamOptions> load_stream_options(const Settings& settings);

}  // namespace kpipe
