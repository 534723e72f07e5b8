#include <gtest/gtest.h>

#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

using namespace std::string_literals;

using testing::lines_starting_with;
using testing::read_back;
using testing::TempDir;

BadRecord bad(int32_t partition, int64_t offset, int64_t ts_ms, std::string reason, std::string payload) {
  BadRecord r;
  r.partition = partition;
  r.offset = offset;
  r.timestamp_ms = ts_ms;
  r.reason = std::move(reason);
  r.payload = std::move(payload);
  return r;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

TEST(DeadLetterTest, ExactLines) {
  std::vector<BadRecord> records = {
      bad(0, 42, 1762432200123, "field 'value': expected DOUBLE, got string", R"({"value":"x"})"),
      bad(2, 7, -1, "not valid UTF-8", "\xff\xfe\x00z"s),
      bad(1, 0, 0, "empty message", ""),
  };
  EXPECT_EQ(
      encode_dead_letter("events", records),
      R"({"topic":"events","partition":0,"offset":42,"timestamp":"2025-11-06T12:30:00.123Z",)"
      R"("reason":"field 'value': expected DOUBLE, got string","payload":"{\"value\":\"x\"}","payload_base64":null})"
      "\n"
      R"({"topic":"events","partition":2,"offset":7,"timestamp":null,"reason":"not valid UTF-8",)"
      R"("payload":null,"payload_base64":"//4Aeg=="})"
      "\n"
      R"({"topic":"events","partition":1,"offset":0,"timestamp":"1970-01-01T00:00:00.000Z",)"
      R"("reason":"empty message","payload":"","payload_base64":null})"
      "\n");
  EXPECT_EQ(encode_dead_letter("events", {}), "");
}

// Every payload comes back byte for byte through Python's json and base64 modules, and DuckDB
// reads every line.
TEST(DeadLetterTest, PayloadsRoundTripByteExactlyThroughPython) {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  std::string megabyte(1 << 20, 'x');
  megabyte[12345] = '"';
  std::vector<BadRecord> records = {
      bad(0, 1, 1762432200123, "malformed JSON", "{\"event_id\": \"a\", \"ts\": "),
      bad(0, 2, 1762432200124, "not an object", "[1,2,3]"),
      bad(0, 3, 1762432200125, "control characters", "tab\there\nnul\0\x01\x1f\x7f end"s),
      bad(1, 4, 1762432200126, "unicode", "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8"),
      bad(1, 5, -1, "every byte value", all_bytes),
      bad(1, 6, -1, "overlong '/'", "\xC0\xAF"),
      bad(1, 7, -1, "UTF-16 surrogate", "\xED\xA0\x80"),
      bad(1, 8, -1, "past U+10FFFF", "\xF4\x90\x80\x80"),
      bad(1, 9, -1, "truncated sequence", "ab\xE6\x97"),
      bad(2, 10, -1, "empty message", ""),
      bad(2, 11, -1, "field 'event_id': string longer than 1 MB", megabyte),
      bad(2, 12, -1, "reason with invalid UTF-8 \xff quoted from the payload", "x"),
  };
  TempDir dir;
  const std::string path = dir.path() + "/part-00000000-00000-000.jsonl";
  const std::string text = encode_dead_letter("events", records);
  testing::write_bytes(path, text.data(), text.size());
  auto got = read_back("jsonl", path);
  ASSERT_EQ(got.exit_code, 0) << got.output.substr(0, 2000);

  std::string expected;
  for (size_t i = 0; i < records.size(); ++i) {
    expected += "json keys: topic,partition,offset,timestamp,reason,payload,payload_base64\n";
  }
  EXPECT_EQ(lines_starting_with(got.output, "json keys: "), expected);

  const char* forms[] = {"text",   "text",   "text",   "text", "base64", "base64",
                         "base64", "base64", "base64", "text", "text",   "text"};
  const char* timestamps[] = {"'2025-11-06T12:30:00.123Z'", "'2025-11-06T12:30:00.124Z'", "'2025-11-06T12:30:00.125Z'",
                              "'2025-11-06T12:30:00.126Z'"};
  expected.clear();
  for (size_t i = 0; i < records.size(); ++i) {
    const BadRecord& r = records[i];
    std::string reason = i == 11 ? "'reason with invalid UTF-8 ? quoted from the payload'" : "'" + r.reason + "'";
    if (r.reason.find('\'') != std::string::npos) reason = "\"" + r.reason + "\"";
    expected += "json record: 'events' " + std::to_string(r.partition) + " " + std::to_string(r.offset) + " " +
                (i < 4 ? timestamps[i] : "None") + " " + reason + " " + forms[i] + " " + hex(r.payload) + "\n";
  }
  EXPECT_EQ(lines_starting_with(got.output, "json record: "), expected);
  EXPECT_NE(got.output.find("json trailing newline: True\n"), std::string::npos);
  EXPECT_NE(got.output.find("duckdb records: 12\n"), std::string::npos) << got.output.substr(0, 2000);
}

}  // namespace
}  // namespace kpipe
