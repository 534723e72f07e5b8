// The `kpipe` executable: dispatches to a subcommand, each of which owns its flags and --help.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cli/produce_command.h"
#include "cli/stream_command.h"
#include "cli/verify_command.h"
#include "kafka/kafka_config.h"

namespace {

constexpr char kUsage[] =
    "kpipe — the seed's Kafka → Parquet/CSV streaming pipeline, as one native program\n"
    "\n"
    "Usage: kpipe <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  stream    read the topic in micro-batches and write Parquet, CSV and console output (exactly once)\n"
    "  produce   send random events, or the lines of a JSON-lines file, to the topic at a steady rate\n"
    "  verify    audit the output and checkpoint of `stream` (same settings), also while it runs; exit 1 on findings\n"
    "  version   print the versions of kpipe and librdkafka\n"
    "\n"
    "Settings come from flags, then the environment, then ./.env (or --env-file PATH), then defaults.\n"
    "Run 'kpipe <command> --help' for the settings of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "version" || command == "--version") {
    std::printf("kpipe %s\nlibrdkafka %s\n", KPIPE_VERSION, kpipe::librdkafka_version().c_str());
    return 0;
  }
  if (command == "produce") return kpipe::run_produce(argc - 2, argv + 2);
  if (command == "stream" || command == "verify") {
    const int rc = command == "stream" ? kpipe::run_stream(argc - 2, argv + 2) : kpipe::run_verify(argc - 2, argv + 2);
    if (kpipe::abandoned_kafka_clients() > 0) {
      // A librdkafka thread is still inside a destroy that hung: end without running static
      // destructors under it.
      std::fflush(nullptr);
      std::_Exit(rc);
    }
    return rc;
  }
  std::fprintf(stderr, "kpipe: unknown command '%.*s'\n\n%s", static_cast<int>(command.size()), command.data(), kUsage);
  return 2;
}
