#include "cli/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kpipe {
namespace {

constexpr size_t kInitialBuffer = 1 << 16;
constexpr int kPollSliceMs = 100;

}  // namespace

LineReader::LineReader(int fd, std::function<bool()> should_stop)
    : fd_(fd), should_stop_(std::move(should_stop)), buffer_(kInitialBuffer) {}

std::optional<std::string_view> LineReader::next() {
  for (;;) {
    const char* data = buffer_.data();
    const void* nl = std::memchr(data + begin_, '\n', end_ - begin_);
    if (nl == nullptr && eof_) {
      if (begin_ == end_) return std::nullopt;
      nl = data + end_;  // the last line has no newline
    }
    if (nl == nullptr) {
      if (!fill()) {
        if (!eof_) return std::nullopt;  // stopped or failed
      }
      continue;
    }
    const size_t line_end = static_cast<size_t>(static_cast<const char*>(nl) - data);
    std::string_view line(data + begin_, line_end - begin_);
    begin_ = std::min(line_end + 1, end_);
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      ++skipped_empty_;
      continue;
    }
    return line;
  }
}

bool LineReader::fill() {
  if (begin_ > 0) {  // keep the partial line, at the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than the buffer
  for (;;) {
    if (should_stop_ && should_stop_()) return false;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, kPollSliceMs);
    if (ready < 0 && errno != EINTR) {
      error_ = std::string("cannot wait for input: ") + std::strerror(errno);
      return false;
    }
    if (ready <= 0) continue;
    ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error_ = std::string("cannot read input: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<size_t>(n);
    return true;
  }
}

}  // namespace kpipe
