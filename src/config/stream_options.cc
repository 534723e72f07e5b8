#include "config/stream_options.h"

#include <filesystem>
#include <sstream>

#include "common/strings.h"

namespace kpipe {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

const std::vector<SettingSpec>& stream_setting_specs() {
  static const std::vector<SettingSpec> specs = {
      {"KAFKA_BOOTSTRAP_SERVERS",
       "localhost:9092",
       "Kafka brokers to read from (host:port,...)",
       {"--bootstrap-servers"}},
      {"KAFKA_TOPIC", "events", "topic to read", {"--topic"}},
      {"OUTPUT_PATH",
       "data/output/parquet",
       "root folder of the Parquet output (dt=YYYY-MM-DD/ below it)",
       {"--output"}},
      {"CSV_OUTPUT_PATH", "", "root folder of the CSV output (default: csv beside OUTPUT_PATH)", {"--csv-output"}},
      {"CHECKPOINT_PATH", "data/output/_checkpoint", "checkpoint folder: offsets and commit logs", {"--checkpoint"}},
      {"DEAD_LETTER_PATH",
       "data/output/_dead_letter",
       "folder for records that do not fit the schema",
       {"--dead-letter"}},
      {"TRIGGER_SECONDS", "30", "seconds between micro-batch starts", {"--trigger"}},
      {"MAX_RECORDS_PER_FILE", "5000", "rows per output file at most", {}},
      {"FILES_PER_PARTITION", "1", "files per dt partition per batch and sink (fewer when fewer rows)", {}},
      {"SINKS", "parquet,csv,console", "comma list of parquet, csv, console", {"--sinks"}},
      {"STARTING_OFFSETS", "earliest", "earliest|latest: where a new checkpoint starts", {}},
      {"MAX_OFFSETS_PER_TRIGGER", "0", "offsets per batch at most, over all partitions (0 = no cap)", {}},
      {"MAX_BATCH_RECORDS",
       "100000",
       "records one batch holds in memory at most; a larger backlog is read in several batches, back to back",
       {}},
      {"FAIL_ON_DATA_LOSS", "true", "stop when offsets were deleted before being read (false: skip and report)", {}},
      {"PARQUET_COMPRESSION", "snappy", "snappy|zstd|none", {"--compression"}},
      {"PARQUET_TABLE_FORMAT",
       "delta",
       "delta: the Parquet output is also a Delta Lake table (OUTPUT_PATH/_delta_log, one commit per batch) | none: "
       "plain files only",
       {}},
      {"PARQUET_TABLE_APPEND",
       "false",
       "true: append to a Delta table at OUTPUT_PATH that another query or tool created (else kpipe refuses it)",
       {}},
      {"ON_BAD_RECORD", "dlq", "dlq (dead-letter output) | skip (count only) | fail (stop the job)", {}},
      {"SCHEMA",
       "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING",
       "event schema as a Spark DDL string",
       {"--schema"}},
      {"PARTITION_FROM", "ts", "TIMESTAMP or DATE column whose UTC date is dt", {}},
      {"MAX_RECORD_BYTES", "1048576", "messages larger than this go to the dead-letter output", {}},
      {"MAX_STRING_BYTES", "65536", "string values longer than this send their record to the dead-letter output", {}},
      {"STATUS_ADDR", "127.0.0.1:8080", "host:port of the status page and /metrics, or off", {"--status-addr"}},
      {"ONCE", "false", "process everything available at start, in batches, then exit", {"--once"}, true, false, false},
      {"ONCE_TIMEOUT",
       "120",
       "with --once: exit with an error after this many seconds of retrying without a batch done (0 = retry forever)",
       {}},
      {"KAFKA_PROP",
       "",
       "librdkafka property key=value (repeatable), e.g. security.protocol=SASL_SSL",
       {"--kafka-prop"},
       false,
       true,
       false},
  };
  return specs;
}

Result<StreamOptions> load_stream_options(const Settings& s) {
  StreamOptions o;
  KPIPE_ASSIGN_OR_RETURN(o.bootstrap_servers, s.get_non_empty("KAFKA_BOOTSTRAP_SERVERS"));
  KPIPE_ASSIGN_OR_RETURN(o.topic, s.get_non_empty("KAFKA_TOPIC"));
  KPIPE_ASSIGN_OR_RETURN(o.output_path, s.get_non_empty("OUTPUT_PATH"));
  o.csv_output_path = s.get("CSV_OUTPUT_PATH");
  if (o.csv_output_path.empty()) {
    std::filesystem::path p(o.output_path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "out/parquet/" → "out/parquet"
    o.csv_output_path = (p.parent_path() / "csv").string();
  }
  KPIPE_ASSIGN_OR_RETURN(o.checkpoint_path, s.get_non_empty("CHECKPOINT_PATH"));
  KPIPE_ASSIGN_OR_RETURN(o.dead_letter_path, s.get_non_empty("DEAD_LETTER_PATH"));
  KPIPE_ASSIGN_OR_RETURN(o.trigger_seconds, s.get_double("TRIGGER_SECONDS", 0.001, 86400.0 * 365));
  KPIPE_ASSIGN_OR_RETURN(o.max_records_per_file, s.get_int("MAX_RECORDS_PER_FILE", 1, int64_t{1} << 40));
  KPIPE_ASSIGN_OR_RETURN(o.files_per_partition, s.get_int("FILES_PER_PARTITION", 1, 100000));
  o.sink_parquet = o.sink_csv = o.sink_console = false;
  auto sinks = split_list(s.get("SINKS"));
  for (const auto& name : sinks) {
    std::string n = ascii_lower(name);
    if (n == "parquet")
      o.sink_parquet = true;
    else if (n == "csv")
      o.sink_csv = true;
    else if (n == "console")
      o.sink_console = true;
    else {
      return s.invalid("SINKS", "unknown sink '" + name + "' (expected a comma list of parquet, csv, console)");
    }
  }
  if (sinks.empty()) {
    return s.invalid("SINKS", "name at least one of parquet, csv, console");
  }
  KPIPE_ASSIGN_OR_RETURN(auto starting, s.get_choice("STARTING_OFFSETS", {"earliest", "latest"}));
  o.starting_earliest = starting == "earliest";
  KPIPE_ASSIGN_OR_RETURN(o.max_offsets_per_trigger, s.get_int("MAX_OFFSETS_PER_TRIGGER", 0, INT64_MAX));
  KPIPE_ASSIGN_OR_RETURN(o.max_batch_records, s.get_int("MAX_BATCH_RECORDS", 1000, int64_t{1} << 40));
  KPIPE_ASSIGN_OR_RETURN(o.fail_on_data_loss, s.get_bool("FAIL_ON_DATA_LOSS"));
  KPIPE_ASSIGN_OR_RETURN(o.parquet_compression,
                         s.get_choice("PARQUET_COMPRESSION", {"snappy", "zstd", "none", "uncompressed"}));
  if (o.parquet_compression == "uncompressed") o.parquet_compression = "none";
  KPIPE_ASSIGN_OR_RETURN(o.parquet_table_format, s.get_choice("PARQUET_TABLE_FORMAT", {"delta", "none"}));
  KPIPE_ASSIGN_OR_RETURN(o.parquet_table_append, s.get_bool("PARQUET_TABLE_APPEND"));
  KPIPE_ASSIGN_OR_RETURN(o.on_bad_record, s.get_choice("ON_BAD_RECORD", {"dlq", "skip", "fail"}));
  KPIPE_ASSIGN_OR_RETURN(o.schema, s.get_non_empty("SCHEMA"));
  KPIPE_ASSIGN_OR_RETURN(o.partition_from, s.get_non_empty("PARTITION_FROM"));
  KPIPE_ASSIGN_OR_RETURN(o.max_record_bytes, s.get_int("MAX_RECORD_BYTES", 1, int64_t{1} << 30));
  KPIPE_ASSIGN_OR_RETURN(o.max_string_bytes, s.get_int("MAX_STRING_BYTES", 1, int64_t{1} << 30));
  KPIPE_ASSIGN_OR_RETURN(o.status_addr, s.get_non_empty("STATUS_ADDR"));
  KPIPE_ASSIGN_OR_RETURN(o.once, s.get_bool("ONCE"));
  KPIPE_ASSIGN_OR_RETURN(o.once_timeout_seconds, s.get_double("ONCE_TIMEOUT", 0.0, 86400.0 * 365));
  for (const auto& kv : s.get_list("KAFKA_PROP")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return s.invalid("KAFKA_PROP", "'" + kv + "' is not key=value, e.g. --kafka-prop security.protocol=SASL_SSL");
    }
    o.kafka_props.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  o.effective = s.effective();
  return o;
}

}  // namespace kpipe
