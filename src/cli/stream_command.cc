#include "cli/stream_command.h"

#include <cstdio>

namespace kpipe {
int run_stream(int, char**) {
  std::fprintf(stderr, "kpipe stream: not built yet\n");
  return 1;
}
}  // namespace kpipe
