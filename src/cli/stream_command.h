#pragma once
namespace kpipe {
// `kpipe stream`: args exclude the program name and the subcommand. Returns the exit code.
int run_stream(int argc, char** argv);
}  // namespace kpipe
