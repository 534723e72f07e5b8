// Small text helpers, defined once.
#pragma once

#include <string>
#include <string_view>

namespace kpipe {

// ASCII lower case (setting names and values, compression names); other bytes unchanged.
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace kpipe
