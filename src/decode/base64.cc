#include "decode/base64.h"

#include <array>
#include <cstdint>

namespace kpipe {
namespace {

constexpr int8_t kInvalid = -1;

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kTable = make_table();

int sextet(char c) { return kTable[static_cast<unsigned char>(c)]; }

}  // namespace

long decode_base64(std::string_view text, char* out, size_t& error_at) {
  const size_t n = text.size();
  size_t i = 0;
  long written = 0;
  // A character, or the end of the text, where a group needs one more: the position is the error.
  auto fail = [&](size_t at) {
    error_at = at;
    return -1L;
  };
  while (true) {
    while (i < n && static_cast<unsigned char>(text[i]) <= ' ') ++i;  // between groups only
    if (i == n) return written;
    const int a = sextet(text[i]);
    if (a < 0) return fail(i);
    if (++i == n) return fail(n);
    const int b = sextet(text[i]);
    if (b < 0) return fail(i);
    if (++i == n) return fail(n);
    out[written++] = static_cast<char>((a << 2) | (b >> 4));
    if (text[i] == '=') {
      if (++i == n) return fail(n);
      if (text[i] != '=') return fail(i);
      ++i;
      continue;
    }
    const int c = sextet(text[i]);
    if (c < 0) return fail(i);
    if (++i == n) return fail(n);
    out[written++] = static_cast<char>(((b & 0xF) << 4) | (c >> 2));
    if (text[i] == '=') {
      ++i;
      continue;
    }
    const int d = sextet(text[i]);
    if (d < 0) return fail(i);
    ++i;
    out[written++] = static_cast<char>(((c & 0x3) << 6) | d);
  }
}

}  // namespace kpipe
