#include "delta/delta_checkpoint.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "sink/arrow_boundary.h"

namespace kpipe {
namespace {

using arrow::field;

std::shared_ptr<arrow::DataType> string_map() { return arrow::map(arrow::utf8(), arrow::utf8()); }

// The checkpoint schema of PROTOCOL.md ("Checkpoint Schema") for the actions kpipe's tables hold.
std::shared_ptr<arrow::Schema> checkpoint_schema() {
  auto txn = arrow::struct_(
      {field("appId", arrow::utf8()), field("version", arrow::int64()), field("lastUpdated", arrow::int64())});
  auto add = arrow::struct_({field("path", arrow::utf8()), field("partitionValues", string_map()),
                             field("size", arrow::int64()), field("modificationTime", arrow::int64()),
                             field("dataChange", arrow::boolean()), field("stats", arrow::utf8()),
                             field("tags", string_map())});
  auto remove = arrow::struct_({field("path", arrow::utf8()), field("deletionTimestamp", arrow::int64()),
                                field("dataChange", arrow::boolean()), field("extendedFileMetadata", arrow::boolean()),
                                field("partitionValues", string_map()), field("size", arrow::int64())});
  auto format = arrow::struct_({field("provider", arrow::utf8()), field("options", string_map())});
  auto metadata =
      arrow::struct_({field("id", arrow::utf8()), field("name", arrow::utf8()), field("description", arrow::utf8()),
                      field("format", format), field("schemaString", arrow::utf8()),
                      field("partitionColumns", arrow::list(arrow::utf8())), field("configuration", string_map()),
                      field("createdTime", arrow::int64())});
  auto protocol = arrow::struct_({field("minReaderVersion", arrow::int32()), field("minWriterVersion", arrow::int32()),
                                  field("readerFeatures", arrow::list(arrow::utf8())),
                                  field("writerFeatures", arrow::list(arrow::utf8()))});
  return arrow::schema({field("txn", txn), field("add", add), field("remove", remove), field("metaData", metadata),
                        field("protocol", protocol)});
}

template <typename B>
B* child(arrow::StructBuilder& s, int i) {
  return static_cast<B*>(s.field_builder(i));
}

arrow::Status append_map(arrow::ArrayBuilder* b, const std::map<std::string, std::string>& m) {
  auto* map = static_cast<arrow::MapBuilder*>(b);
  ARROW_RETURN_NOT_OK(map->Append());
  auto* keys = static_cast<arrow::StringBuilder*>(map->key_builder());
  auto* items = static_cast<arrow::StringBuilder*>(map->item_builder());
  for (const auto& [k, v] : m) {
    ARROW_RETURN_NOT_OK(keys->Append(k));
    ARROW_RETURN_NOT_OK(items->Append(v));
  }
  return arrow::Status::OK();
}

arrow::Status append_list(arrow::ArrayBuilder* b, const std::vector<std::string>& values) {
  auto* list = static_cast<arrow::ListBuilder*>(b);
  ARROW_RETURN_NOT_OK(list->Append());
  auto* items = static_cast<arrow::StringBuilder*>(list->value_builder());
  for (const auto& v : values) ARROW_RETURN_NOT_OK(items->Append(v));
  return arrow::Status::OK();
}

// Appends one row to the five action columns: `which` is the column that holds the action,
// `fill` appends it; the others get a null.
template <typename Fill>
arrow::Status append_row(std::vector<std::unique_ptr<arrow::StructBuilder>>& cols, int which, Fill fill) {
  for (int i = 0; i < static_cast<int>(cols.size()); ++i) {
    if (i != which) {
      ARROW_RETURN_NOT_OK(cols[i]->AppendNull());
      continue;
    }
    ARROW_RETURN_NOT_OK(cols[i]->Append());
    ARROW_RETURN_NOT_OK(fill(*cols[i]));
  }
  return arrow::Status::OK();
}

arrow::Status append_opt(arrow::Int64Builder* b, const std::optional<int64_t>& v) {
  return v ? b->Append(*v) : b->AppendNull();
}

arrow::Result<std::shared_ptr<arrow::Table>> build_table(const DeltaSnapshot& s) {
  auto schema = checkpoint_schema();
  std::vector<std::unique_ptr<arrow::StructBuilder>> cols;
  for (const auto& f : schema->fields()) {
    std::unique_ptr<arrow::ArrayBuilder> b;
    ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), f->type(), &b));
    cols.emplace_back(static_cast<arrow::StructBuilder*>(b.release()));
  }
  enum { kTxn, kAdd, kRemove, kMeta, kProtocol };
  ARROW_RETURN_NOT_OK(append_row(cols, kProtocol, [&](arrow::StructBuilder& p) -> arrow::Status {
    ARROW_RETURN_NOT_OK(child<arrow::Int32Builder>(p, 0)->Append(s.protocol.min_reader_version));
    ARROW_RETURN_NOT_OK(child<arrow::Int32Builder>(p, 1)->Append(s.protocol.min_writer_version));
    // Feature lists only where the versions have them (reader 3, writer 7), as the protocol says.
    if (s.protocol.min_reader_version >= 3) {
      ARROW_RETURN_NOT_OK(append_list(p.field_builder(2), s.protocol.reader_features));
    } else {
      ARROW_RETURN_NOT_OK(p.field_builder(2)->AppendNull());
    }
    if (s.protocol.min_writer_version >= 7) return append_list(p.field_builder(3), s.protocol.writer_features);
    return p.field_builder(3)->AppendNull();
  }));
  const DeltaMetadata& m = s.metadata;
  ARROW_RETURN_NOT_OK(append_row(cols, kMeta, [&](arrow::StructBuilder& b) -> arrow::Status {
    ARROW_RETURN_NOT_OK(child<arrow::StringBuilder>(b, 0)->Append(m.id));
    ARROW_RETURN_NOT_OK(m.name.empty() ? child<arrow::StringBuilder>(b, 1)->AppendNull()
                                       : child<arrow::StringBuilder>(b, 1)->Append(m.name));
    ARROW_RETURN_NOT_OK(m.description.empty() ? child<arrow::StringBuilder>(b, 2)->AppendNull()
                                              : child<arrow::StringBuilder>(b, 2)->Append(m.description));
    auto* format = child<arrow::StructBuilder>(b, 3);
    ARROW_RETURN_NOT_OK(format->Append());
    ARROW_RETURN_NOT_OK(child<arrow::StringBuilder>(*format, 0)->Append(m.format_provider));
    ARROW_RETURN_NOT_OK(append_map(format->field_builder(1), {}));
    ARROW_RETURN_NOT_OK(child<arrow::StringBuilder>(b, 4)->Append(m.schema_string));
    ARROW_RETURN_NOT_OK(append_list(b.field_builder(5), m.partition_columns));
    ARROW_RETURN_NOT_OK(append_map(b.field_builder(6), m.configuration));
    return append_opt(child<arrow::Int64Builder>(b, 7), m.created_time);
  }));
  // Named references, not structured bindings: lambdas capture those only from C++20 on, and
  // clang-tidy's clang refuses them.
  for (const auto& txn_entry : s.txns) {
    const DeltaTxn& t = txn_entry.second;
    ARROW_RETURN_NOT_OK(append_row(cols, kTxn, [&](arrow::StructBuilder& b) -> arrow::Status {
      ARROW_RETURN_NOT_OK(child<arrow::StringBuilder>(b, 0)->Append(t.app_id));
      ARROW_RETURN_NOT_OK(child<arrow::Int64Builder>(b, 1)->Append(t.version));
      return append_opt(child<arrow::Int64Builder>(b, 2), t.last_updated);
    }));
  }
  for (const auto& file_entry : s.files) {
    const DeltaAdd& a = file_entry.second;
    ARROW_RETURN_NOT_OK(append_row(cols, kAdd, [&](arrow::StructBuilder& b) -> arrow::Status {
      ARROW_RETURN_NOT_OK(child<arrow::StringBuilder>(b, 0)->Append(a.path));
      ARROW_RETURN_NOT_OK(append_map(b.field_builder(1), a.partition_values));
      ARROW_RETURN_NOT_OK(child<arrow::Int64Builder>(b, 2)->Append(a.size));
      ARROW_RETURN_NOT_OK(child<arrow::Int64Builder>(b, 3)->Append(a.modification_time));
      ARROW_RETURN_NOT_OK(child<arrow::BooleanBuilder>(b, 4)->Append(a.data_change));
      ARROW_RETURN_NOT_OK(a.stats.empty() ? child<arrow::StringBuilder>(b, 5)->AppendNull()
                                          : child<arrow::StringBuilder>(b, 5)->Append(a.stats));
      return b.field_builder(6)->AppendNull();
    }));
  }
  arrow::ArrayVector arrays;
  for (auto& c : cols) {
    std::shared_ptr<arrow::Array> a;
    ARROW_RETURN_NOT_OK(c->Finish(&a));
    arrays.push_back(std::move(a));
  }
  return arrow::Table::Make(schema, arrays);
}

// Reading: columns by name, with the types Spark, delta-rs and kpipe write (string or
// large_string, int32 or int64).
struct Col {
  std::shared_ptr<arrow::StructArray> array;
  std::shared_ptr<arrow::Array> get(std::string_view name) const {
    return array ? array->GetFieldByName(std::string(name)) : nullptr;
  }
  bool valid(int64_t i) const { return array && array->IsValid(i); }
};

bool present(const std::shared_ptr<arrow::Array>& a, int64_t i) { return a && a->IsValid(i); }

std::string str_at(const std::shared_ptr<arrow::Array>& a, int64_t i) {
  if (!present(a, i)) return "";
  if (a->type_id() == arrow::Type::STRING) return std::string(static_cast<const arrow::StringArray&>(*a).GetView(i));
  if (a->type_id() == arrow::Type::LARGE_STRING) {
    return std::string(static_cast<const arrow::LargeStringArray&>(*a).GetView(i));
  }
  return "";
}

std::optional<int64_t> int_at(const std::shared_ptr<arrow::Array>& a, int64_t i) {
  if (!present(a, i)) return std::nullopt;
  switch (a->type_id()) {
    case arrow::Type::INT64: return static_cast<const arrow::Int64Array&>(*a).Value(i);
    case arrow::Type::INT32: return static_cast<const arrow::Int32Array&>(*a).Value(i);
    default: return std::nullopt;
  }
}

std::map<std::string, std::string> map_at(const std::shared_ptr<arrow::Array>& a, int64_t i) {
  std::map<std::string, std::string> out;
  if (!present(a, i) || a->type_id() != arrow::Type::MAP) return out;
  const auto& m = static_cast<const arrow::MapArray&>(*a);
  for (int64_t j = m.value_offset(i); j < m.value_offset(i) + m.value_length(i); ++j) {
    out[str_at(m.keys(), j)] = str_at(m.items(), j);
  }
  return out;
}

std::vector<std::string> list_at(const std::shared_ptr<arrow::Array>& a, int64_t i) {
  std::vector<std::string> out;
  if (!present(a, i) || a->type_id() != arrow::Type::LIST) return out;
  const auto& l = static_cast<const arrow::ListArray&>(*a);
  for (int64_t j = l.value_offset(i); j < l.value_offset(i) + l.value_length(i); ++j)
    out.push_back(str_at(l.values(), j));
  return out;
}

Status corrupt(int64_t version, const std::string& why) {
  return Status::fatal("Delta checkpoint of version " + std::to_string(version) + ": " + why, StatusCode::kDataLoss);
}

Status read_part(const std::shared_ptr<arrow::Buffer>& buffer, int64_t version, DeltaSnapshot& s,
                 std::vector<std::string>& removed) {
  std::unique_ptr<parquet::arrow::FileReader> reader;
  auto opened =
      parquet::arrow::OpenFile(std::make_shared<arrow::io::BufferReader>(buffer), arrow::default_memory_pool());
  if (!opened.ok()) return corrupt(version, "not Parquet: " + opened.status().ToString());
  reader = std::move(opened).ValueOrDie();
  auto read = reader->ReadTable();
  if (!read.ok()) return corrupt(version, read.status().ToString());
  std::shared_ptr<arrow::Table> table = *read;
  auto combined = table->CombineChunksToBatch();
  KPIPE_ASSIGN_OR_RETURN(std::shared_ptr<arrow::RecordBatch> batch,
                         from_arrow(std::move(combined), "reading the Delta checkpoint"));
  auto column = [&](const char* name) {
    Col c;
    auto a = batch->GetColumnByName(name);
    if (a && a->type_id() == arrow::Type::STRUCT) c.array = std::static_pointer_cast<arrow::StructArray>(a);
    return c;
  };
  for (const char* v2 : {"checkpointMetadata", "sidecar"}) {
    Col c = column(v2);
    if (c.array && c.array->null_count() < c.array->length()) {
      return Status::fatal("Delta checkpoint of version " + std::to_string(version) + " is a V2 checkpoint (it has " +
                               v2 + " rows); kpipe reads classic checkpoints only",
                           StatusCode::kInvalidArgument);
    }
  }
  const Col txn = column("txn"), add = column("add"), remove = column("remove"), meta = column("metaData"),
            protocol = column("protocol");
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    if (add.valid(i)) {
      DeltaAdd a;
      a.path = str_at(add.get("path"), i);
      if (a.path.empty()) return corrupt(version, "an add row without path");
      a.partition_values = map_at(add.get("partitionValues"), i);
      a.size = int_at(add.get("size"), i).value_or(0);
      a.modification_time = int_at(add.get("modificationTime"), i).value_or(0);
      auto dc = add.get("dataChange");
      if (present(dc, i) && dc->type_id() == arrow::Type::BOOL) {
        a.data_change = static_cast<const arrow::BooleanArray&>(*dc).Value(i);
      }
      a.stats = str_at(add.get("stats"), i);
      std::string path = a.path;
      s.files[path] = std::move(a);
    } else if (remove.valid(i)) {
      removed.push_back(str_at(remove.get("path"), i));
    } else if (txn.valid(i)) {
      DeltaTxn t;
      t.app_id = str_at(txn.get("appId"), i);
      t.version = int_at(txn.get("version"), i).value_or(-1);
      t.last_updated = int_at(txn.get("lastUpdated"), i);
      s.txns[t.app_id] = std::move(t);
    } else if (meta.valid(i)) {
      DeltaMetadata& m = s.metadata;
      m.id = str_at(meta.get("id"), i);
      m.name = str_at(meta.get("name"), i);
      m.description = str_at(meta.get("description"), i);
      auto format = meta.get("format");
      if (present(format, i) && format->type_id() == arrow::Type::STRUCT) {
        std::string provider = str_at(static_cast<const arrow::StructArray&>(*format).GetFieldByName("provider"), i);
        if (!provider.empty()) m.format_provider = provider;
      }
      m.schema_string = str_at(meta.get("schemaString"), i);
      m.partition_columns = list_at(meta.get("partitionColumns"), i);
      m.configuration = map_at(meta.get("configuration"), i);
      m.created_time = int_at(meta.get("createdTime"), i);
    } else if (protocol.valid(i)) {
      s.protocol.min_reader_version = static_cast<int32_t>(int_at(protocol.get("minReaderVersion"), i).value_or(1));
      s.protocol.min_writer_version = static_cast<int32_t>(int_at(protocol.get("minWriterVersion"), i).value_or(2));
      s.protocol.reader_features = list_at(protocol.get("readerFeatures"), i);
      s.protocol.writer_features = list_at(protocol.get("writerFeatures"), i);
    }
  }
  return Status::success();
}

}  // namespace

Result<std::shared_ptr<arrow::Buffer>> encode_checkpoint(const DeltaSnapshot& s) {
  KPIPE_ASSIGN_OR_RETURN(auto table, from_arrow(build_table(s), "building the Delta checkpoint"));
  KPIPE_ASSIGN_OR_RETURN(auto sink,
                         from_arrow(arrow::io::BufferOutputStream::Create(), "building the Delta checkpoint"));
  auto props = parquet::WriterProperties::Builder().compression(parquet::Compression::SNAPPY)->build();
  try {
    KPIPE_RETURN_IF_ERROR(
        from_arrow(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), sink, 64 * 1024, props),
                   "writing the Delta checkpoint"));
  } catch (const parquet::ParquetException& e) {
    return Status::fatal(std::string("writing the Delta checkpoint: ") + e.what(), StatusCode::kInternal);
  }
  return from_arrow(sink->Finish(), "writing the Delta checkpoint");
}

Result<DeltaSnapshot> decode_checkpoint(const std::vector<std::shared_ptr<arrow::Buffer>>& parts, int64_t version) {
  DeltaSnapshot s;
  s.version = version;
  std::vector<std::string> removed;
  try {
    for (const auto& p : parts) KPIPE_RETURN_IF_ERROR(read_part(p, version, s, removed));
  } catch (const parquet::ParquetException& e) {
    return corrupt(version, e.what());
  }
  for (const auto& r : removed) s.files.erase(r);  // tombstones
  if (s.metadata.id.empty()) return corrupt(version, "no metaData row");
  return s;
}

std::string encode_last_checkpoint(int64_t version, int64_t size, int64_t size_in_bytes, int64_t num_add_files) {
  JsonWriter w;
  w.begin_object()
      .field("version", version)
      .field("size", size)
      .field("sizeInBytes", size_in_bytes)
      .field("numOfAddFiles", num_add_files)
      .end_object();
  return w.take();
}

Result<LastCheckpoint> parse_last_checkpoint(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  LastCheckpoint c;
  if (parser.parse(simdjson::padded_string(json)).get(doc) != simdjson::SUCCESS ||
      doc["version"].get_int64().get(c.version) != simdjson::SUCCESS) {
    return Status::fatal("_last_checkpoint is not {\"version\": N, ...}", StatusCode::kDataLoss);
  }
  int64_t v = 0;
  if (doc["size"].get_int64().get(v) == simdjson::SUCCESS) c.size = v;
  if (doc["parts"].get_int64().get(v) == simdjson::SUCCESS) c.parts = v;
  if (doc["sizeInBytes"].get_int64().get(v) == simdjson::SUCCESS) c.size_in_bytes = v;
  if (doc["numOfAddFiles"].get_int64().get(v) == simdjson::SUCCESS) c.num_of_add_files = v;
  return c;
}

}  // namespace kpipe
