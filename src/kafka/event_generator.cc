#include "kafka/event_generator.h"

#include <unistd.h>

#include <charconv>
#include <cstring>
#include <random>

#include "common/json_writer.h"

namespace kpipe {
namespace {

constexpr std::string_view kOpen = R"({"event_id":")";
constexpr std::string_view kTs = R"(","ts":")";
constexpr std::string_view kValue = R"(","value":)";
constexpr std::string_view kSource = R"(,"source":)";
constexpr int kSequenceDigits = 12;

void put(char*& out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  out += s.size();
}

// Writes v with at least `width` digits, zero-padded.
void put_padded(char*& out, uint64_t v, int width) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, v);
  for (auto n = r.ptr - digits; n < width; ++n) *out++ = '0';
  put(out, std::string_view(digits, static_cast<size_t>(r.ptr - digits)));
}

// Days since 1970-01-01 → civil date (Howard Hinnant's days_from_civil inverse), so formatting
// needs no gmtime_r and no locale.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

}  // namespace

EventGenerator::EventGenerator(std::string_view source, std::string run_prefix, uint64_t seed)
    : run_prefix_(std::move(run_prefix)), rng_state_(seed) {
  JsonWriter::escape(source, source_json_);
  // Room for the longest event: sequence up to 20 digits, a 24-char timestamp, "100.00".
  buffer_.resize(kOpen.size() + run_prefix_.size() + 1 + 20 + kTs.size() + 32 + kValue.size() + 8 + kSource.size() +
                 source_json_.size() + 1);
}

uint64_t EventGenerator::random() {
  // splitmix64: fast, and good enough for demo values (not for anything secret).
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void EventGenerator::write_timestamp(char*& out, std::chrono::system_clock::time_point now) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cached_second_) {
    const int64_t days = second >= 0 ? second / 86400 : (second - 86399) / 86400;
    const int64_t in_day = second - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    char* p = cached_text_;
    put_padded(p, static_cast<uint64_t>(y), 4);
    *p++ = '-';
    put_padded(p, m, 2);
    *p++ = '-';
    put_padded(p, d, 2);
    *p++ = 'T';
    put_padded(p, static_cast<uint64_t>(in_day / 3600), 2);
    *p++ = ':';
    put_padded(p, static_cast<uint64_t>(in_day / 60 % 60), 2);
    *p++ = ':';
    put_padded(p, static_cast<uint64_t>(in_day % 60), 2);
    *p++ = '.';
    cached_len_ = static_cast<size_t>(p - cached_text_);
    cached_second_ = second;
  }
  put(out, std::string_view(cached_text_, cached_len_));
  put_padded(out, static_cast<uint64_t>(ms - second * 1000), 3);
  *out++ = 'Z';
}

EventGenerator::Event EventGenerator::next(std::chrono::system_clock::time_point now) {
  ++sequence_;
  char* const begin = buffer_.data();
  char* out = begin;
  put(out, kOpen);
  char* const id_begin = out;
  put(out, run_prefix_);
  *out++ = '-';
  put_padded(out, sequence_, kSequenceDigits);
  const std::string_view id(id_begin, static_cast<size_t>(out - id_begin));
  put(out, kTs);
  write_timestamp(out, now);
  put(out, kValue);
  const uint64_t cents = random() % 10001;  // 0.00 .. 100.00
  put_padded(out, cents / 100, 1);
  *out++ = '.';
  put_padded(out, cents % 100, 2);
  put(out, kSource);
  put(out, source_json_);
  *out++ = '}';
  return Event{id, std::string_view(begin, static_cast<size_t>(out - begin))};
}

std::string random_run_prefix() {
  // random_device alone may be a fixed-seed PRNG on some platforms; mixing in the time and the
  // pid keeps two runs apart even there.
  std::random_device rd;
  uint64_t bits = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  bits ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) * 0x9e3779b97f4a7c15ULL;
  bits ^= static_cast<uint64_t>(::getpid()) << 17;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "kp-";
  for (int i = 11; i >= 0; --i) out.push_back(kHex[(bits >> (i * 4)) & 15]);
  return out;
}

}  // namespace kpipe
