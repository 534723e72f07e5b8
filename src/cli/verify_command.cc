#include "cli/verify_command.h"

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_reader.h"
#include "common/file_system.h"
#include "config/settings.h"
#include "config/stream_options.h"
#include "storage/s3_file_system.h"

namespace kpipe {

int run_verify(int argc, char** argv) {
  // --json is verify's own switch; everything else is a `kpipe stream` setting, so verify runs
  // beside the job with the job's .env, environment and flags.
  std::vector<std::string> args;
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else {
      args.push_back(a);
    }
  }
  auto settings = Settings::load("kpipe verify", stream_setting_specs(), args);
  if (!settings.ok()) {
    std::fprintf(stderr, "kpipe verify: %s\n", settings.status().message().c_str());
    return 2;
  }
  if (settings->help_requested()) {
    std::fputs(Settings::help_text(
                   "usage: kpipe verify [--json] [flags]\n\nAudits the output and checkpoint of `kpipe stream` with "
                   "the same settings, also while the job runs: every committed batch's files exist with their "
                   "recorded row counts, no stray or leftover file, offsets contiguous, the Delta log agrees with "
                   "the commit log, the committed offsets are within Kafka's watermarks.\nPrints one FINDING line "
                   "per problem and a summary (--json: one JSON document). Exit 0 when everything holds, 1 with "
                   "findings, 2 for bad settings or no readable checkpoint.",
                   stream_setting_specs())
                   .c_str(),
               stdout);
    return 0;
  }
  auto options = load_stream_options(*settings);
  if (!options.ok()) {
    std::fprintf(stderr, "kpipe verify: %s\n", options.status().message().c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  {
    std::shared_ptr<FileSystem> fs = routing_file_system(local_file_system(), options->s3);
    auto input = read_audit_input(fs, *options, AuditReadOptions{});
    if (!input.ok()) {
      std::fprintf(stderr, "kpipe verify: %s\n", input.status().message().c_str());
      rc = 2;
    } else {
      const AuditReport report = audit(*input);
      const std::string out = json ? format_report_json(report) : format_report_text(report);
      std::fwrite(out.data(), 1, out.size(), stdout);
      rc = report.ok() ? 0 : 1;
    }
  }
  finalize_s3();
  return rc;
}

}  // namespace kpipe
