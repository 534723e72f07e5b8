// The seed's random events, built for speed:
//
//   {"event_id":"kp-1a2b3c4d5e6f-000000000042","ts":"2025-11-06T12:30:00.123Z","value":45.67,"source":"kpipe-producer"}
//
// event_id: a per-run random prefix (48 bits) + a 12-digit sequence number from 1, so ids are
//           unique across runs and sort in send order within one run;
// ts:       ISO-8601 UTC with milliseconds and 'Z', from the wall clock passed to next();
// value:    uniform in 0.00 .. 100.00, two decimals, like the seed's 45.67;
// source:   the --source text, JSON-escaped once at construction.
//
// Every event is written into one reused buffer with std::to_chars: no heap allocation per event.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kpipe {

class EventGenerator {
 public:
  struct Event {
    std::string_view key;   // the event_id; valid until the next call to next()
    std::string_view json;  // the whole event; valid until the next call to next()
  };

  // `seed` drives the values only; pass random_run_prefix() as `run_prefix` in production.
  EventGenerator(std::string_view source, std::string run_prefix, uint64_t seed);

  Event next(std::chrono::system_clock::time_point now);

  uint64_t sequence() const { return sequence_; }  // of the last event built

 private:
  void write_timestamp(char*& out, std::chrono::system_clock::time_point now);
  uint64_t random();

  std::string run_prefix_;
  std::string source_json_;  // the source as a JSON string literal, quotes included
  std::string buffer_;
  uint64_t rng_state_;
  uint64_t sequence_ = 0;
  int64_t cached_second_ = INT64_MIN;  // the second whose "YYYY-MM-DDTHH:MM:SS" is in cached_text_
  char cached_text_[32] = {};
  size_t cached_len_ = 0;
};

// "kp-" and 12 random hex digits, different for every run.
std::string random_run_prefix();

}  // namespace kpipe
