#pragma once
namespace kpipe {
// `kpipe verify [--json] [stream settings]`: audits the output and checkpoint that `kpipe stream`
// with the same settings writes (src/audit/audit.h). Exit 0: everything holds; 1: findings;
// 2: bad settings or no readable checkpoint.
int run_verify(int argc, char** argv);
}  // namespace kpipe
