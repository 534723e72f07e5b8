// Base64 text → bytes for BINARY columns, as Spark's from_json reads them (Jackson's default
// variant): the standard alphabet (A-Z a-z 0-9 + /), '=' padding required, whitespace and other
// control bytes allowed only between 4-character groups ("aGk= aGk=" is "hihi", "aG k=" is bad).
// Padded groups may follow one another ("YQ==YQ==" is "aa"), as Jackson accepts.
//
// Pure function: no allocation, no exceptions.
#pragma once

#include <cstddef>
#include <string_view>

namespace kpipe {

// Decodes `text` into `out`, which must hold at least base64_max_decoded_size(text.size()) bytes.
// Returns the number of bytes written, or -1 if `text` is not base64 as described above; then
// `error_at` is the offset of the offending character (text.size() when the text ends too early).
long decode_base64(std::string_view text, char* out, size_t& error_at);

inline constexpr size_t base64_max_decoded_size(size_t text_size) { return text_size / 4 * 3 + 3; }

}  // namespace kpipe
