// `kpipe produce`: the seed's producer.py rebuilt on librdkafka.
//
//   1. Load settings (flags > environment > .env > defaults); a bad one → one line, exit 2.
//   2. Create the idempotent producer; a poller thread serves delivery reports, prints progress
//      every 5 s and watches for a broker that takes nothing for --timeout seconds.
//   3. Send generated events (or the lines of --input) paced by the rate limiter, until --count,
//      --duration, the end of the input, SIGINT/SIGTERM, or the watchdog.
//   4. Flush what is in flight (at most --timeout + 5 s; 5 s after a signal; a second signal
//      exits at once), then print a summary.
// --input sends each non-empty line as it is, without its line end ("\n" or "\r\n"), with a null
// key (the file's records are the user's; kpipe adds nothing). Empty lines are skipped and
// counted in the summary: a JSON-lines file's blank lines are not records.
// Exit code: 0 when every message sent was delivered, 1 otherwise, 2 for bad settings.
#pragma once

#include <string>
#include <vector>

namespace kpipe {

// `args` exclude the program name and the subcommand. Returns the exit code.
int run_produce(const std::vector<std::string>& args);
int run_produce(int argc, char** argv);

}  // namespace kpipe
