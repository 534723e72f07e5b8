#include <charconv>
#include <cstdint>
#include <string>

#include "common/json_writer.h"
#include "common/time_format.h"
#include "sink/encoders.h"
#include "sink/value_text.h"

namespace kpipe {
namespace {

// RFC 3629: rejects overlong forms, surrogates (U+D800..DFFF) and code points past U+10FFFF,
// exactly the byte strings a strict decoder (Python's, Java's, DuckDB's) would refuse.
bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

void append_int(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string encode_dead_letter(std::string_view topic, const std::vector<BadRecord>& bad) {
  std::string out;
  size_t estimate = 0;
  for (const BadRecord& r : bad) estimate += 160 + topic.size() + r.reason.size() + r.payload.size() * 2;
  out.reserve(estimate);
  for (const BadRecord& r : bad) {
    out += "{\"topic\":";
    JsonWriter::escape(topic, out);
    out += ",\"partition\":";
    append_int(r.partition, out);
    out += ",\"offset\":";
    append_int(r.offset, out);
    out += ",\"timestamp\":";
    if (r.timestamp_ms < 0) {
      out += "null";
    } else {
      char text[kMaxTimeText];
      char* end = format_timestamp(r.timestamp_ms * 1000, TimestampStyle::kIsoUtcMillis, text);
      out.push_back('"');
      out.append(text, end);
      out.push_back('"');
    }
    out += ",\"reason\":";
    // A reason may quote part of the bad payload; keep the line valid JSON whatever it holds.
    if (is_valid_utf8(r.reason)) {
      JsonWriter::escape(r.reason, out);
    } else {
      std::string cleaned;
      for (unsigned char c : r.reason) cleaned.push_back(c < 0x80 ? static_cast<char>(c) : '?');
      JsonWriter::escape(cleaned, out);
    }
    if (is_valid_utf8(r.payload)) {
      out += ",\"payload\":";
      JsonWriter::escape(r.payload, out);
      out += ",\"payload_base64\":null}\n";
    } else {
      out += ",\"payload\":null,\"payload_base64\":\"";
      append_base64(r.payload, out);
      out += "\"}\n";
    }
  }
  return out;
}

}  // namespace kpipe
