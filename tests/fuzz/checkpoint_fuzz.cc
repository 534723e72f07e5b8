// libFuzzer target for the checkpoint log reader (src/engine/checkpoint.h): parse_offsets and
// parse_commit read files that a crash, a full disk or a person editing them may have damaged.
// Beyond "no crash, no sanitizer report" it checks:
//   - a rejected entry is a fatal Status naming the file (never a retriable one: re-reading a
//     damaged file does not repair it);
//   - an accepted offsets entry holds only values the engine can use: batch id and offsets
//     not negative, ranges that do not end before they start, partitions in int32 range and
//     not repeated, a file layout of at least one file and one record;
//   - an accepted commit entry has non-negative counts;
//   - serialize(parse(x)) parses back to the same entry (what kpipe writes, kpipe reads).
// The first input byte picks the parser; the rest is the file.
// Built and run by tests/fuzz/run (make fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "engine/checkpoint.h"

namespace {

constexpr std::string_view kFile = "_checkpoint/offsets/7";

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "checkpoint_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_error(const kpipe::Status& st) {
  if (st.kind() != kpipe::ErrorKind::kFatal) fail("damaged entry is not a fatal error:", st.message());
  if (st.message().find(kFile) == std::string::npos) fail("error does not name the file:", st.message());
}

void check_offsets(std::string_view text) {
  kpipe::Result<kpipe::OffsetsEntry> e = kpipe::parse_offsets(text, kFile);
  if (!e.ok()) return check_error(e.status());
  if (e->batch_id < 0) fail("negative batch id accepted");
  if (e->layout.files_per_partition < 1 || e->layout.max_records_per_file < 1) fail("bad file layout accepted");
  std::set<int32_t> seen;
  for (const kpipe::PartitionRange& r : e->ranges) {
    if (r.partition < 0) fail("negative partition accepted");
    if (!seen.insert(r.partition).second) fail("repeated partition accepted");
    if (r.start < 0 || r.end < r.start) fail("bad range accepted");
  }
  const std::string again = kpipe::serialize_offsets(*e);
  kpipe::Result<kpipe::OffsetsEntry> back = kpipe::parse_offsets(again, kFile);
  if (!back.ok()) fail("serialized offsets do not parse:", back.status().message());
  if (!(*back == *e)) fail("offsets do not round-trip:", again);
}

void check_commit(std::string_view text) {
  kpipe::Result<kpipe::CommitEntry> e = kpipe::parse_commit(text, kFile);
  if (!e.ok()) return check_error(e.status());
  if (e->batch_id < 0 || e->input_rows < 0 || e->output_rows < 0 || e->dead_letter_rows < 0) {
    fail("negative count accepted");
  }
  for (const kpipe::CommittedFile& f : e->files) {
    if (f.rows < 0) fail("negative file row count accepted");
  }
  const std::string again = kpipe::serialize_commit(*e);
  kpipe::Result<kpipe::CommitEntry> back = kpipe::parse_commit(again, kFile);
  if (!back.ok()) fail("serialized commit does not parse:", back.status().message());
  if (!(*back == *e)) fail("commit does not round-trip:", again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    check_commit(text);
  else
    check_offsets(text);
  return 0;
}
