#include "delta/delta_json.h"

#include <simdjson.h>

#include "common/json_writer.h"

namespace kpipe {
namespace {

void string_map(JsonWriter& w, std::string_view key, const std::map<std::string, std::string>& m) {
  w.key(key).begin_object();
  for (const auto& [k, v] : m) w.field(k, v);
  w.end_object();
}

std::string finish(JsonWriter& w) {
  std::string out = w.take();
  out += '\n';
  return out;
}

Status corrupt(std::string_view file, const std::string& why) {
  return Status::fatal("Delta log " + std::string(file) + ": " + why, StatusCode::kDataLoss);
}

// Reads an optional member; a member of the wrong type is corruption.
template <typename T>
bool member(simdjson::dom::element obj, const char* key, T& out) {
  return obj[key].get(out) == simdjson::SUCCESS;
}

Status string_map_of(simdjson::dom::element obj, const char* key, std::map<std::string, std::string>& out,
                     std::string_view file) {
  simdjson::dom::object m;
  auto err = obj[key].get_object().get(m);
  if (err == simdjson::NO_SUCH_FIELD) return Status::success();
  if (err) {
    // null is allowed where the protocol says a map may be absent.
    if (obj[key].is_null()) return Status::success();
    return corrupt(file, std::string("'") + key + "' is not an object");
  }
  for (auto [k, v] : m) {
    std::string_view s;
    if (v.is_null()) {
      out[std::string(k)] = "";  // a null partition value; kpipe's dt is never null
      continue;
    }
    if (v.get_string().get(s) != simdjson::SUCCESS)
      return corrupt(file, std::string("'") + key + "' value is not a string");
    out[std::string(k)] = std::string(s);
  }
  return Status::success();
}

Status read_add(simdjson::dom::element a, DeltaAdd& out, std::string_view file) {
  std::string_view path;
  if (!member(a, "path", path)) return corrupt(file, "add without path");
  out.path = std::string(path);
  KPIPE_RETURN_IF_ERROR(string_map_of(a, "partitionValues", out.partition_values, file));
  int64_t v = 0;
  if (member(a, "size", v)) out.size = v;
  if (member(a, "modificationTime", v)) out.modification_time = v;
  bool b = true;
  if (member(a, "dataChange", b)) out.data_change = b;
  std::string_view stats;
  if (member(a, "stats", stats)) out.stats = std::string(stats);
  return Status::success();
}

Status read_metadata(simdjson::dom::element m, DeltaMetadata& out, std::string_view file) {
  std::string_view s;
  if (!member(m, "id", s)) return corrupt(file, "metaData without id");
  out.id = std::string(s);
  if (member(m, "name", s)) out.name = std::string(s);
  if (member(m, "description", s)) out.description = std::string(s);
  if (!member(m, "schemaString", s)) return corrupt(file, "metaData without schemaString");
  out.schema_string = std::string(s);
  simdjson::dom::element format;
  if (member(m, "format", format) && member(format, "provider", s)) out.format_provider = std::string(s);
  out.partition_columns.clear();
  simdjson::dom::array cols;
  if (member(m, "partitionColumns", cols)) {
    for (simdjson::dom::element c : cols) {
      if (c.get_string().get(s) != simdjson::SUCCESS) return corrupt(file, "partitionColumns holds a non-string");
      out.partition_columns.emplace_back(s);
    }
  }
  out.configuration.clear();
  KPIPE_RETURN_IF_ERROR(string_map_of(m, "configuration", out.configuration, file));
  int64_t t = 0;
  out.created_time.reset();
  if (member(m, "createdTime", t)) out.created_time = t;
  return Status::success();
}

Status read_protocol(simdjson::dom::element p, DeltaProtocol& out, std::string_view file) {
  int64_t r = 0, w = 0;
  if (!member(p, "minReaderVersion", r) || !member(p, "minWriterVersion", w)) {
    return corrupt(file, "protocol without minReaderVersion/minWriterVersion");
  }
  out = DeltaProtocol{};
  out.min_reader_version = static_cast<int32_t>(r);
  out.min_writer_version = static_cast<int32_t>(w);
  auto features = [&](const char* key, std::vector<std::string>& into) {
    simdjson::dom::array a;
    if (!member(p, key, a)) return;
    for (simdjson::dom::element f : a) {
      std::string_view s;
      if (f.get_string().get(s) == simdjson::SUCCESS) into.emplace_back(s);
    }
  };
  features("readerFeatures", out.reader_features);
  features("writerFeatures", out.writer_features);
  return Status::success();
}

}  // namespace

std::string action_line(const DeltaProtocol& p) {
  JsonWriter w;
  w.begin_object().key("protocol").begin_object();
  w.field("minReaderVersion", p.min_reader_version).field("minWriterVersion", p.min_writer_version);
  if (!p.reader_features.empty()) {
    w.key("readerFeatures").begin_array();
    for (const auto& f : p.reader_features) w.value(f);
    w.end_array();
  }
  if (!p.writer_features.empty()) {
    w.key("writerFeatures").begin_array();
    for (const auto& f : p.writer_features) w.value(f);
    w.end_array();
  }
  w.end_object().end_object();
  return finish(w);
}

std::string action_line(const DeltaMetadata& m) {
  JsonWriter w;
  w.begin_object().key("metaData").begin_object();
  w.field("id", m.id);
  if (!m.name.empty()) w.field("name", m.name);
  if (!m.description.empty()) w.field("description", m.description);
  w.key("format").begin_object().field("provider", m.format_provider);
  w.key("options").begin_object().end_object();
  w.end_object();
  w.field("schemaString", m.schema_string);
  w.key("partitionColumns").begin_array();
  for (const auto& c : m.partition_columns) w.value(c);
  w.end_array();
  string_map(w, "configuration", m.configuration);
  if (m.created_time) w.field("createdTime", *m.created_time);
  w.end_object().end_object();
  return finish(w);
}

std::string action_line(const DeltaAdd& a) {
  JsonWriter w;
  w.begin_object().key("add").begin_object();
  w.field("path", a.path);
  string_map(w, "partitionValues", a.partition_values);
  w.field("size", a.size).field("modificationTime", a.modification_time).field("dataChange", a.data_change);
  if (!a.stats.empty()) w.field("stats", a.stats);
  w.end_object().end_object();
  return finish(w);
}

std::string action_line(const DeltaTxn& t) {
  JsonWriter w;
  w.begin_object().key("txn").begin_object();
  w.field("appId", t.app_id).field("version", t.version);
  if (t.last_updated) w.field("lastUpdated", *t.last_updated);
  w.end_object().end_object();
  return finish(w);
}

std::string commit_info_line(std::string_view object_json) {
  std::string out = R"({"commitInfo":)";
  out += object_json;
  out += "}\n";
  return out;
}

Status apply_commit(std::string_view text, int64_t version, DeltaSnapshot& snapshot, std::string_view file) {
  simdjson::dom::parser parser;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::element doc;
    auto err = parser.parse(simdjson::padded_string(line)).get(doc);
    if (err) return corrupt(file, "line " + std::to_string(line_no) + " is not JSON: " + simdjson::error_message(err));
    simdjson::dom::element a;
    if (member(doc, "add", a)) {
      DeltaAdd add;
      KPIPE_RETURN_IF_ERROR(read_add(a, add, file));
      snapshot.files[add.path] = std::move(add);
    } else if (member(doc, "remove", a)) {
      std::string_view path;
      if (!member(a, "path", path)) return corrupt(file, "remove without path");
      snapshot.files.erase(std::string(path));
    } else if (member(doc, "txn", a)) {
      std::string_view app;
      int64_t v = 0;
      if (!member(a, "appId", app) || !member(a, "version", v)) return corrupt(file, "txn without appId/version");
      DeltaTxn t{std::string(app), v, std::nullopt};
      int64_t at = 0;
      if (member(a, "lastUpdated", at)) t.last_updated = at;
      snapshot.txns[t.app_id] = std::move(t);
    } else if (member(doc, "metaData", a)) {
      KPIPE_RETURN_IF_ERROR(read_metadata(a, snapshot.metadata, file));
    } else if (member(doc, "protocol", a)) {
      KPIPE_RETURN_IF_ERROR(read_protocol(a, snapshot.protocol, file));
    }
    // commitInfo, cdc, domainMetadata and the like change nothing kpipe reads.
  }
  snapshot.version = version;
  return Status::success();
}

std::string encode_log_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("-_.!~*'()/=:").find(static_cast<char>(c)) != std::string_view::npos;
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace kpipe
