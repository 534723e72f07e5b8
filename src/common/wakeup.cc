#include "common/wakeup.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

namespace kpipe {

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Wakeup::~Wakeup() {
  if (fd_ >= 0) ::close(fd_);
}

void Wakeup::notify() {
  if (fd_ < 0) return;
  const uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

void Wakeup::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) {
    std::this_thread::sleep_until(deadline);
    return;
  }
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left.count() <= 0) return;
  // Rounded up, so the wait never ends just before its deadline and spins on a zero timeout.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  pollfd p{fd_, POLLIN, 0};
  // A signal (EINTR) ends the wait early too; the caller looks at its flags and waits again.
  if (::poll(&p, 1, static_cast<int>(ms)) > 0) {
    uint64_t count = 0;
    (void)!::read(fd_, &count, sizeof count);
  }
}

}  // namespace kpipe
