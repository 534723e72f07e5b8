// Helpers shared by the sink tests: a scratch directory, the independent Python readers
// (sink_readback.py), and record batches with every column type the schema supports.
#pragma once

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace kpipe::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kpipe_sink_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct ProcessOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `args` (a script under tests/unit and its arguments, already quoted) with the project's
// .venv Python.
inline ProcessOutput run_python(const std::string& args) {
  std::string cmd = std::string("'") + KPIPE_TEST_PYTHON + "' " + args + " 2>&1";
  ProcessOutput result;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs tests/unit/sink_readback.py MODE FILE with the project's .venv Python.
inline ProcessOutput read_back(const std::string& mode, const std::string& file) {
  return run_python(std::string("'") + KPIPE_SOURCE_DIR + "/tests/unit/sink_readback.py' " + mode + " '" + file + "'");
}

// Lines of `text` that start with `prefix`, joined with '\n' (each line ends with one).
inline std::string lines_starting_with(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.starts_with(prefix)) {
      out.append(line);
      out.push_back('\n');
    }
    pos = end + 1;
  }
  return out;
}

template <typename Builder, typename T>
std::shared_ptr<arrow::Array> make_array(std::shared_ptr<arrow::DataType> type,
                                         const std::vector<std::optional<T>>& values) {
  Builder builder(type, arrow::default_memory_pool());
  for (const auto& v : values) {
    arrow::Status st = v ? builder.Append(*v) : builder.AppendNull();
    if (!st.ok()) throw std::runtime_error(st.ToString());
  }
  return builder.Finish().ValueOrDie();
}

constexpr int64_t kTs20251106 = 1762432200123000;  // 2025-11-06T12:30:00.123Z
constexpr int64_t kTs1900 = -2208988799999999;     // 1900-01-01T00:00:00.000001Z
constexpr int32_t kDay20251106 = 20398;
constexpr int32_t kDay1900 = -25567;

// One column of every type the schema supports; row 2 is all nulls, rows 1 and 4 hold the
// hard strings (unicode, quotes, comma, newline), row 1 and 4 pre-1970 instants.
inline std::shared_ptr<arrow::RecordBatch> all_types_batch(bool with_nan) {
  using S = std::optional<std::string>;
  auto s = make_array<arrow::StringBuilder, std::string>(
      arrow::utf8(), std::vector<S>{"plain", "h\xC3\xA9llo \"q\", x\ny \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
                                    std::nullopt, "", "a,b\r\nc"});
  auto i64 = make_array<arrow::Int64Builder, int64_t>(
      arrow::int64(), {1, std::numeric_limits<int64_t>::max(), std::nullopt, std::numeric_limits<int64_t>::min(), -42});
  auto i32 = make_array<arrow::Int32Builder, int32_t>(
      arrow::int32(), {1, std::numeric_limits<int32_t>::min(), std::nullopt, 0, std::numeric_limits<int32_t>::max()});
  auto d = make_array<arrow::DoubleBuilder, double>(
      arrow::float64(), {1.5, 0.1, std::nullopt, with_nan ? std::numeric_limits<double>::quiet_NaN() : -0.25, 1e300});
  auto f = make_array<arrow::FloatBuilder, float>(arrow::float32(), {0.5f, 0.1f, std::nullopt, 1e-7f, 3.4e38f});
  auto b = make_array<arrow::BooleanBuilder, bool>(arrow::boolean(), {true, false, std::nullopt, true, false});
  auto ts_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  auto ts = make_array<arrow::TimestampBuilder, int64_t>(ts_type, {kTs20251106, -1, std::nullopt, 0, kTs1900});
  auto dt = make_array<arrow::Date32Builder, int32_t>(arrow::date32(), {kDay20251106, -1, std::nullopt, 0, kDay1900});
  auto schema = arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("i64", arrow::int64()),
                               arrow::field("i32", arrow::int32()), arrow::field("d", arrow::float64()),
                               arrow::field("f", arrow::float32()), arrow::field("b", arrow::boolean()),
                               arrow::field("ts", ts_type), arrow::field("dt", arrow::date32())});
  return arrow::RecordBatch::Make(schema, 5, {s, i64, i32, d, f, b, ts, dt});
}

// An array of `type` from JSON text (Arrow's ArrayFromJSONString: structs as objects, lists as
// arrays, maps as [[key, value], ...], decimals as strings "12.30").
inline std::shared_ptr<arrow::Array> from_json(const std::shared_ptr<arrow::DataType>& type, const std::string& json) {
  auto r = arrow::json::ArrayFromJSONString(type, json);
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  return *r;
}

constexpr int64_t kTsNtz20251106 = 1762432200123456;  // 2025-11-06T12:30:00.123456 (wall clock)

// The issue's nested event and every type the schema adds beyond the flat eight, as the
// decoder builds them (schema.cc's arrow_type: list<element>, map<key not null, value>):
//   user STRUCT<id: INT, tags: ARRAY<STRING>>, items ARRAY<STRUCT<sku: STRING,
//   price: DECIMAL(10,2)>>, attrs MAP<STRING, STRING>, rate DECIMAL(5,2), big DECIMAL(38,10),
//   payload BINARY, t8 TINYINT, t16 SMALLINT, local TIMESTAMP_NTZ, deep ARRAY<ARRAY<INT>>,
//   m2 MAP<STRING, STRUCT<a: INT, b: STRING>>
// Row 0 ordinary values, row 1 nulls inside every container, odd keys and the types' edges,
// row 2 all nulls, row 3 empty containers and the smallest decimals.
inline std::shared_ptr<arrow::RecordBatch> nested_batch() {
  auto list_of = [](std::shared_ptr<arrow::DataType> t) { return arrow::list(arrow::field("element", std::move(t))); };
  auto map_of = [](std::shared_ptr<arrow::DataType> t) {
    return std::make_shared<arrow::MapType>(arrow::field("key", arrow::utf8(), false), arrow::field("value", t));
  };
  auto user_t = arrow::struct_({arrow::field("id", arrow::int32()), arrow::field("tags", list_of(arrow::utf8()))});
  auto item_t = arrow::struct_({arrow::field("sku", arrow::utf8()), arrow::field("price", arrow::decimal128(10, 2))});
  auto ab_t = arrow::struct_({arrow::field("a", arrow::int32()), arrow::field("b", arrow::utf8())});
  auto user = from_json(user_t, R"([{"id": 7, "tags": ["a", "b"]}, {"id": null, "tags": [null, "b", ""]}, null,
                                    {"id": 1, "tags": []}])");
  auto items = from_json(list_of(item_t), R"([[{"sku": "x", "price": "12.30"}], [null, {"sku": null, "price": null}],
                                              null, []])");
  auto attrs = from_json(map_of(arrow::utf8()), R"([[["k", "v"]], [["k", null], ["\u00e9 \"q\"", "w,x"]], null, []])");
  auto rate = from_json(arrow::decimal128(5, 2), R"(["1.50", "-0.05", null, "0.00"])");
  auto big = from_json(arrow::decimal128(38, 10), R"(["12345678901234567890.0123456789",
                        "-9999999999999999999999999999.9999999999", null, "0.0000000001"])");
  auto payload = make_array<arrow::BinaryBuilder, std::string>(
      arrow::binary(), {std::string("\x01\x02\x03"), std::string(), std::nullopt, std::string("\xFF\x00", 2)});
  auto t8 = make_array<arrow::Int8Builder, int8_t>(arrow::int8(), {-128, 127, std::nullopt, 0});
  auto t16 = make_array<arrow::Int16Builder, int16_t>(arrow::int16(), {32767, -32768, std::nullopt, 0});
  auto local = make_array<arrow::TimestampBuilder, int64_t>(arrow::timestamp(arrow::TimeUnit::MICRO),
                                                            {kTsNtz20251106, -1, std::nullopt, 1762387200000000});
  auto deep = from_json(list_of(list_of(arrow::int32())), "[[[1, 2], [], null, [null]], [], null, [[3]]]");
  auto m2 = from_json(map_of(ab_t), R"([[["k", {"a": 1, "b": null}]], [], null, [["z", null]]])");
  auto schema = arrow::schema(
      {arrow::field("user", user_t), arrow::field("items", items->type()), arrow::field("attrs", attrs->type()),
       arrow::field("rate", rate->type()), arrow::field("big", big->type()), arrow::field("payload", arrow::binary()),
       arrow::field("t8", arrow::int8()), arrow::field("t16", arrow::int16()), arrow::field("local", local->type()),
       arrow::field("deep", deep->type()), arrow::field("m2", m2->type())});
  return arrow::RecordBatch::Make(schema, 4, {user, items, attrs, rate, big, payload, t8, t16, local, deep, m2});
}

// The seed's event schema, `n` rows shaped like the producer's events: a per-run prefix and a
// sequence number as id, millisecond timestamps, full-entropy random doubles (they do not
// compress, as the producer's random values do not), one source.
inline std::shared_ptr<arrow::RecordBatch> event_batch(int64_t n) {
  arrow::StringBuilder ids, sources;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), arrow::default_memory_pool());
  arrow::DoubleBuilder values;
  char id[64];
  for (int64_t i = 0; i < n; ++i) {
    int len = std::snprintf(id, sizeof id, "run-7f3a9c21-%012lld", static_cast<long long>(i));
    (void)ids.Append(id, len);
    (void)ts.Append(kTs20251106 + i * 1000 + (i % 7) * 1000000);
    uint64_t z = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    (void)values.Append(static_cast<double>(z >> 11) * 0x1.0p-53 * 1000.0);
    (void)sources.Append("kpipe-producer");
  }
  auto schema = arrow::schema({arrow::field("event_id", arrow::utf8()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
                               arrow::field("value", arrow::float64()), arrow::field("source", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, n,
                                  {ids.Finish().ValueOrDie(), ts.Finish().ValueOrDie(), values.Finish().ValueOrDie(),
                                   sources.Finish().ValueOrDie()});
}

}  // namespace kpipe::testing
