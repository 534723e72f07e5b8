// Internal to src/decode: small helpers over simdjson On-Demand values and JSON text that the
// record parser's files share (names of JSON types, the number grammar, quoting for reasons).
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace kpipe::json_text {

// Largest number of bytes of a value quoted in a reason; the payload itself keeps everything.
inline constexpr size_t kMaxQuotedBytes = 64;

inline std::string_view type_name(simdjson::ondemand::json_type type) {
  using simdjson::ondemand::json_type;
  switch (type) {
    case json_type::array: return "array";
    case json_type::object: return "object";
    case json_type::number: return "number";
    case json_type::string: return "string";
    case json_type::boolean: return "boolean";
    case json_type::null: return "null";
  }
  return "unknown";
}

inline std::string_view trim_right(std::string_view token) {
  while (!token.empty() &&
         (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r')) {
    token.remove_suffix(1);
  }
  return token;
}

inline bool is_integer_token(std::string_view token) {
  size_t i = token.size() > 0 && token[0] == '-' ? 1 : 0;
  if (i == token.size()) return false;
  for (; i < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9') return false;
  }
  return true;
}

// The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
inline bool is_json_number(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// simdjson's On-Demand number parser refuses a few valid JSON numbers that its DOM parser
// accepts (found by fuzzing: 0e39999999999999999999 is zero, but On-Demand reports NUMBER_ERROR).
// When it refuses, the grammar and from_chars decide; a number beyond double range stays refused.
template <typename Value>
simdjson::error_code read_double(Value& value, std::string_view token, double& out) {
  const simdjson::error_code error = value.get_double().get(out);
  if (error != simdjson::NUMBER_ERROR || !is_json_number(token)) return error;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, out);
  if (ec == std::errc::result_out_of_range && token.find_first_of("eE") != std::string_view::npos &&
      token[token.find_first_of("eE") + 1] == '-') {
    out = token[0] == '-' ? -0.0 : 0.0;  // underflow is zero, as in simdjson's own parser
    return simdjson::SUCCESS;
  }
  if (ec != std::errc() || ptr != end || !std::isfinite(out)) return simdjson::NUMBER_ERROR;
  return simdjson::SUCCESS;
}

// 'value' for a reason, cut at a UTF-8 character boundary so the reason stays valid UTF-8.
inline std::string quoted(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + std::string(value) + "'";
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...' (" + std::to_string(value.size()) + " bytes)";
}

inline std::string document_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::EMPTY: return "empty message (only whitespace)";
    default: return std::string("malformed JSON: ") + simdjson::error_message(error);
  }
}

}  // namespace kpipe::json_text
