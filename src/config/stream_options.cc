#include "config/stream_options.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/s3_settings.h"
#include "common/strings.h"
#include "decode/schema.h"
#include "decode/schema_json.h"

namespace kpipe {
namespace {

// Seconds of a lateness: "30m", "1h", "2h30m", "1d", "90s", a bare number of seconds, or Spark's
// interval words as withWatermark takes them ("1 hour", "10 minutes", "1 hour 30 minutes"); "",
// "0" and "off" are 0. nullopt for anything else.
std::optional<int64_t> parse_duration_seconds(std::string text) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"d", 86400},    {"day", 86400},  {"days", 86400}, {"h", 3600}, {"hr", 3600},  {"hrs", 3600},
      {"hour", 3600},  {"hours", 3600}, {"m", 60},       {"min", 60}, {"mins", 60},  {"minute", 60},
      {"minutes", 60}, {"s", 1},        {"sec", 1},      {"secs", 1}, {"second", 1}, {"seconds", 1}};
  text = ascii_lower(text);
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  if (text.empty() || text == "off" || text == "0") return 0;
  int64_t total = 0;
  size_t i = 0;
  bool any = false;
  const auto is_space = [&](size_t k) { return k < text.size() && (text[k] == ' ' || text[k] == '\t'); };
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i || j - i > 9) return std::nullopt;
    const int64_t n = std::stoll(text.substr(i, j - i));
    while (is_space(j)) ++j;
    size_t k = j;
    while (k < text.size() && text[k] >= 'a' && text[k] <= 'z') ++k;
    int64_t unit = 0;
    if (k == j) {
      if (any || k < text.size()) return std::nullopt;  // "1h30": 30 what?
      unit = 1;
    }
    for (const auto& [name, seconds] : kUnits) {
      if (text.compare(j, k - j, name) == 0) unit = seconds;
    }
    if (unit == 0) return std::nullopt;
    total += n * unit;
    any = true;
    i = k;
    while (is_space(i)) ++i;
  }
  return total;
}

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

// Checks SCHEMA, or reads SCHEMA_FILE into `schema` as canonical DDL, before anything starts: a bad
// schema is a usage error (exit 2) that names the field and the position.
Status resolve_schema(const Settings& s, std::string& schema) {
  std::string path = s.get("SCHEMA_FILE");
  path.erase(0, path.find_first_not_of(" \t"));
  path.erase(path.find_last_not_of(" \t") + 1);
  if (path.empty()) {
    auto parsed = parse_ddl(schema);
    if (parsed.ok()) return Status::success();
    std::string why = parsed.status().message();
    if (why.rfind("SCHEMA: ", 0) == 0) why.erase(0, 8);
    return s.invalid("SCHEMA", why);
  }
  if (s.source("SCHEMA") != "default") {
    return s.invalid("SCHEMA_FILE",
                     "is set and so is SCHEMA (from " + std::string(s.source("SCHEMA")) + "); keep one of them");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return s.invalid("SCHEMA_FILE", std::string("cannot be read: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return s.invalid("SCHEMA_FILE", "is empty");
  Result<Schema> parsed = body[first] == '{' ? parse_schema_json(body, "SCHEMA_FILE=" + path)
                                             : parse_ddl(std::string_view(body).substr(first));
  if (!parsed.ok()) {
    std::string why = parsed.status().message();
    if (why.rfind("SCHEMA: ", 0) == 0) return s.invalid("SCHEMA_FILE", why.substr(8));
    return Status::fatal(why, StatusCode::kInvalidArgument);
  }
  schema = to_ddl(parsed->columns);
  return Status::success();
}

// GROUP_ID's needs: the Delta log is where the instances meet (each partition's offset and owner
// epoch live there), and what is not built for a group yet is refused rather than run unsafely.
Status check_group_settings(const Settings& s, const StreamOptions& o) {
  if (o.group_id.empty()) return Status::success();
  if (!o.sink_parquet || o.parquet_table_format != "delta") {
    return s.invalid("GROUP_ID",
                     "needs the Delta table (SINKS with parquet and PARQUET_TABLE_FORMAT=delta): its log holds each "
                     "partition's committed offset and owner, which the instances of the group share");
  }
  if (o.dt_complete_after_seconds > 0) {
    return s.invalid("GROUP_ID",
                     "cannot be used with DT_COMPLETE_AFTER yet: a day is complete only when every "
                     "partition is past it, and the instances of a group each see some of them");
  }
  if (o.once) {
    return s.invalid("GROUP_ID",
                     "cannot be used with --once: a group's partitions move between instances, so no "
                     "instance knows when everything available at start is written");
  }
  // On S3 the store must honour conditional PUTs: checked at start (check_create_if_absent).
  return Status::success();
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
       "root of the Parquet output (dt=YYYY-MM-DD/ below it): a folder or s3://bucket/prefix",
       {"--output"}},
      {"CSV_OUTPUT_PATH",
       "",
       "root of the CSV output, folder or s3:// (default: csv beside OUTPUT_PATH)",
       {"--csv-output"}},
      {"CHECKPOINT_PATH",
       "data/output/_checkpoint",
       "checkpoint: offsets and commit logs (folder or s3://bucket/prefix)",
       {"--checkpoint"}},
      {"DEAD_LETTER_PATH",
       "data/output/_dead_letter",
       "records that do not fit the schema (folder or s3://bucket/prefix)",
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
      {"MAX_BATCH_BYTES",
       "16m",
       "bytes of record values one batch reads at most, 1m or more (64m, 1536k, 1g: binary units); it ends at the "
       "record that reaches it",
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
      {"DIRECT_IO",
       "true",
       "true: local output files of 32 KiB or more are written with O_DIRECT, past the page cache (ordinary "
       "writes where the file system refuses it) | false: every file through the page cache",
       {}},
      {"S3_ENDPOINT_URL", "", "S3-compatible store's URL (http://127.0.0.1:9000); empty = AWS S3", {}},
      {"S3_ADDRESSING_STYLE", "auto", "auto (path-style with S3_ENDPOINT_URL) | path | virtual", {}},
      {"AWS_ACCESS_KEY_ID", "", "S3 access key; empty = the AWS SDK's chain (profile, SSO, instance role)", {}},
      {"AWS_SECRET_ACCESS_KEY", "", "S3 secret key (masked on the status page)", {}},
      {"AWS_SESSION_TOKEN", "", "session token of temporary credentials (masked)", {}},
      {"AWS_REGION", "", "the bucket's region (empty: the SDK's choice; us-east-1 with S3_ENDPOINT_URL)", {}},
      {"AWS_PROFILE", "", "profile of ~/.aws/credentials and ~/.aws/config, when no key is given", {}},
      {"ON_BAD_RECORD", "dlq", "dlq (dead-letter output) | skip (count only) | fail (stop the job)", {}},
      {"SCHEMA",
       "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING",
       "event schema as a Spark DDL string: STRING, BIGINT, INT, SMALLINT, TINYINT, DOUBLE, FLOAT, DECIMAL(p,s), "
       "BOOLEAN, BINARY, TIMESTAMP, TIMESTAMP_NTZ, DATE, STRUCT<..>, ARRAY<..>, MAP<STRING,..>",
       {"--schema"}},
      {"SCHEMA_FILE",
       "",
       "file holding the schema as Spark's StructType JSON (df.schema.json()) or as DDL; instead of SCHEMA",
       {"--schema-file"}},
      {"PARTITION_FROM",
       "ts",
       "TIMESTAMP or DATE column whose UTC date is dt; timestamp (when SCHEMA has no such column): the Kafka "
       "record's timestamp",
       {}},
      {"KAFKA_COLUMNS",
       "",
       "Kafka record fields added as columns after SCHEMA's, with Spark's names and types: a comma list of key, "
       "topic, partition, offset, timestamp, timestampType, headers; empty = none",
       {}},
      {"MAX_RECORD_BYTES", "1048576", "messages larger than this go to the dead-letter output", {}},
      {"MAX_STRING_BYTES", "65536", "string values longer than this send their record to the dead-letter output", {}},
      {"STATUS_ADDR", "127.0.0.1:8080", "host:port of the status page and /metrics, or off", {"--status-addr"}},
      {"ONCE", "false", "process everything available at start, in batches, then exit", {"--once"}, true, false, false},
      {"ONCE_TIMEOUT",
       "120",
       "with --once: exit with an error after this many seconds of retrying without a batch done (0 = retry forever)",
       {}},
      {"DT_COMPLETE_AFTER",
       "off",
       "write dt=D/_SUCCESS once every partition's events are past the end of day D plus this lateness (30m, 1h, "
       "2h30m, 1d), or it is idle; off/0/empty = no markers",
       {}},
      {"GROUP_ID",
       "",
       "Kafka consumer group shared by several kpipe stream instances with the same OUTPUT_PATH, CSV_OUTPUT_PATH and "
       "CHECKPOINT_PATH: each writes the partitions the group assigns it; empty = one instance, every partition",
       {"--group-id"}},
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
  if (o.csv_output_path.empty() && is_s3_uri(o.output_path)) {
    // "s3://b/out/parquet" → "s3://b/out/csv"; a bucket's root has no beside.
    std::string p = o.output_path;
    while (p.size() > 5 && p.back() == '/') p.pop_back();
    const auto slash = p.rfind('/');
    // (Left empty for a bucket's root: an error below, if the CSV sink is on.)
    if (slash > 5) o.csv_output_path = p.substr(0, slash) + "/csv";
  } else if (o.csv_output_path.empty()) {
    std::filesystem::path p(o.output_path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "out/parquet/" → "out/parquet"
    o.csv_output_path = (p.parent_path() / "csv").string();
  }
  KPIPE_ASSIGN_OR_RETURN(o.checkpoint_path, s.get_non_empty("CHECKPOINT_PATH"));
  KPIPE_ASSIGN_OR_RETURN(o.dead_letter_path, s.get_non_empty("DEAD_LETTER_PATH"));
  for (auto [name, path] :
       {std::pair{"OUTPUT_PATH", &o.output_path}, std::pair{"CSV_OUTPUT_PATH", &o.csv_output_path},
        std::pair{"CHECKPOINT_PATH", &o.checkpoint_path}, std::pair{"DEAD_LETTER_PATH", &o.dead_letter_path}}) {
    // "s3://b/out/" and "s3://b/out" are one place: the paths are joined with "/" below.
    const size_t keep = is_s3_uri(*path) ? 5 : 1;  // never below "s3://" or "/"
    while (path->size() > keep && path->back() == '/') path->pop_back();
    if (is_s3_uri(*path)) KPIPE_RETURN_IF_ERROR(check_s3_uri(name, *path));
  }
  o.s3.endpoint_url = s.get("S3_ENDPOINT_URL");
  KPIPE_ASSIGN_OR_RETURN(o.s3.addressing_style, s.get_choice("S3_ADDRESSING_STYLE", {"auto", "path", "virtual"}));
  o.s3.access_key_id = s.get("AWS_ACCESS_KEY_ID");
  o.s3.secret_access_key = s.get("AWS_SECRET_ACCESS_KEY");
  o.s3.session_token = s.get("AWS_SESSION_TOKEN");
  o.s3.region = s.get("AWS_REGION");
  o.s3.profile = s.get("AWS_PROFILE");
  if (!o.s3.access_key_id.empty() && o.s3.secret_access_key.empty()) {
    return s.invalid("AWS_SECRET_ACCESS_KEY", "is empty while AWS_ACCESS_KEY_ID is set: set both, or neither");
  }
  if (!o.s3.endpoint_url.empty() && o.s3.endpoint_url.rfind("http://", 0) != 0 &&
      o.s3.endpoint_url.rfind("https://", 0) != 0) {
    return s.invalid("S3_ENDPOINT_URL", "expected http://host:port or https://host");
  }
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
  if (o.sink_csv && o.csv_output_path.empty()) {
    return s.invalid("CSV_OUTPUT_PATH", "is needed when OUTPUT_PATH is a bucket's root (" + o.output_path + ")");
  }
  KPIPE_ASSIGN_OR_RETURN(auto starting, s.get_choice("STARTING_OFFSETS", {"earliest", "latest"}));
  o.starting_earliest = starting == "earliest";
  KPIPE_ASSIGN_OR_RETURN(o.max_offsets_per_trigger, s.get_int("MAX_OFFSETS_PER_TRIGGER", 0, INT64_MAX));
  KPIPE_ASSIGN_OR_RETURN(o.max_batch_records, s.get_int("MAX_BATCH_RECORDS", 1000, int64_t{1} << 40));
  KPIPE_ASSIGN_OR_RETURN(o.max_batch_bytes, s.get_bytes("MAX_BATCH_BYTES", int64_t{1} << 20, int64_t{1} << 50));
  KPIPE_ASSIGN_OR_RETURN(o.fail_on_data_loss, s.get_bool("FAIL_ON_DATA_LOSS"));
  KPIPE_ASSIGN_OR_RETURN(o.parquet_compression,
                         s.get_choice("PARQUET_COMPRESSION", {"snappy", "zstd", "none", "uncompressed"}));
  if (o.parquet_compression == "uncompressed") o.parquet_compression = "none";
  KPIPE_ASSIGN_OR_RETURN(o.parquet_table_format, s.get_choice("PARQUET_TABLE_FORMAT", {"delta", "none"}));
  KPIPE_ASSIGN_OR_RETURN(o.parquet_table_append, s.get_bool("PARQUET_TABLE_APPEND"));
  KPIPE_ASSIGN_OR_RETURN(o.direct_io, s.get_bool("DIRECT_IO"));
  KPIPE_ASSIGN_OR_RETURN(o.on_bad_record, s.get_choice("ON_BAD_RECORD", {"dlq", "skip", "fail"}));
  KPIPE_ASSIGN_OR_RETURN(o.schema, s.get_non_empty("SCHEMA"));
  KPIPE_RETURN_IF_ERROR(resolve_schema(s, o.schema));
  KPIPE_ASSIGN_OR_RETURN(o.partition_from, s.get_non_empty("PARTITION_FROM"));
  o.kafka_columns = s.get("KAFKA_COLUMNS");
  KPIPE_ASSIGN_OR_RETURN(o.max_record_bytes, s.get_int("MAX_RECORD_BYTES", 1, int64_t{1} << 30));
  KPIPE_ASSIGN_OR_RETURN(o.max_string_bytes, s.get_int("MAX_STRING_BYTES", 1, int64_t{1} << 30));
  KPIPE_ASSIGN_OR_RETURN(o.status_addr, s.get_non_empty("STATUS_ADDR"));
  KPIPE_ASSIGN_OR_RETURN(o.once, s.get_bool("ONCE"));
  KPIPE_ASSIGN_OR_RETURN(o.once_timeout_seconds, s.get_double("ONCE_TIMEOUT", 0.0, 86400.0 * 365));
  auto lateness = parse_duration_seconds(s.get("DT_COMPLETE_AFTER"));
  if (!lateness || *lateness > 86400 * 365) {
    return s.invalid("DT_COMPLETE_AFTER",
                     "expected a lateness such as 30m, 1h, 2h30m, 1d or '1 hour' (at most 365d), or off");
  }
  o.dt_complete_after_seconds = *lateness;
  o.group_id = s.get("GROUP_ID");
  KPIPE_RETURN_IF_ERROR(check_group_settings(s, o));
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
