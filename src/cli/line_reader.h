// Reads the lines of `kpipe produce --input FILE|-` from a file descriptor.
//
// Not std::getline: a read blocked on a quiet stdin pipe must still notice Ctrl-C, and the
// signal may be delivered to any of the process's threads (librdkafka has several), so a read
// is only started once poll() says data is there, and the wait is cut into short slices that
// check `should_stop`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kpipe {

class LineReader {
 public:
  // Does not own `fd`.
  LineReader(int fd, std::function<bool()> should_stop);

  // The next non-empty line without its line end ("\n" or "\r\n"); a last line without a
  // newline counts. Valid until the next call. nullopt at the end of the input, when
  // should_stop() turned true, or on a read error (error() then says which).
  std::optional<std::string_view> next();

  const std::string& error() const { return error_; }
  int64_t line_number() const { return line_number_; }      // of the line last returned
  int64_t skipped_empty() const { return skipped_empty_; }  // empty lines passed over

 private:
  bool fill();  // reads more into the buffer; false at the end, on stop or on error

  int fd_;
  std::function<bool()> should_stop_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread data is buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  std::string error_;
  int64_t line_number_ = 0;
  int64_t skipped_empty_ = 0;
};

}  // namespace kpipe
