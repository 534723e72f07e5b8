// libFuzzer target for the .env parser (src/config/env_file.h): a file the user edits by hand.
// Beyond "no crash, no sanitizer report" it checks:
//   - an error is a fatal Status that names the file and a line ("fuzz.env:N: ...") within the
//     input's line count;
//   - every key is a valid variable name, entries come in line order, and parse_env_file agrees
//     with parse_env_entries;
//   - quoting round-trips: the first entry's value, written back double-quoted with the escapes
//     the parser knows (or single-quoted when it has no quote), parses to the same value.
// Built and run by tests/fuzz/run (make fuzz).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/env_file.h"

namespace {

constexpr std::string_view kFile = "fuzz.env";

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "env_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool valid_key(std::string_view k) {
  auto start = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  auto rest = [&](char c) { return start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; };
  return !k.empty() && start(k[0]) && std::all_of(k.begin(), k.end(), rest);
}

std::string double_quoted(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

void check_round_trip(const std::string& key, const std::string& value, const std::string& file_text) {
  auto parsed = kpipe::parse_env_entries(file_text, kFile);
  if (!parsed.ok()) fail("quoted value does not parse:", parsed.status().message());
  if (parsed->size() != 1 || (*parsed)[0].key != key || (*parsed)[0].value != value) {
    fail("quoted value does not round-trip:", file_text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto lines = 1 + std::count(input.begin(), input.end(), '\n');
  auto entries = kpipe::parse_env_entries(input, kFile);
  auto pairs = kpipe::parse_env_file(input, kFile);
  if (entries.ok() != pairs.ok()) fail("parse_env_file and parse_env_entries disagree");
  if (!entries.ok()) {
    const std::string& msg = entries.status().message();
    if (entries.status().kind() != kpipe::ErrorKind::kFatal) fail("error is not fatal");
    if (msg.rfind("fuzz.env:", 0) != 0) fail("error does not name the file:", msg);
    const long line = std::strtol(msg.c_str() + kFile.size() + 1, nullptr, 10);
    if (line < 1 || line > lines) fail("error names a line outside the file:", msg);
    return 0;
  }
  if (entries->size() != pairs->size()) fail("entry counts differ");
  int previous_line = 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    const kpipe::EnvEntry& e = (*entries)[i];
    if (!valid_key(e.key)) fail("invalid key accepted:", e.key);
    if (e.key != (*pairs)[i].first || e.value != (*pairs)[i].second) fail("entries differ");
    if (e.line <= previous_line || e.line > lines) fail("entry line out of order or range");
    previous_line = e.line;
  }
  if (!entries->empty()) {
    const kpipe::EnvEntry& e = entries->front();
    // The parser keeps "\r\n" inside quotes as "\n", so a lone '\r' is what the escape is for.
    check_round_trip(e.key, e.value, e.key + "=" + double_quoted(e.value) + "\n");
    if (e.value.find('\'') == std::string::npos && e.value.find('\r') == std::string::npos) {
      check_round_trip(e.key, e.value, "export " + e.key + " = '" + e.value + "'  # comment\n");
    }
  }
  return 0;
}
