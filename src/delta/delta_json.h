// A Delta commit file as text: one JSON action per line (PROTOCOL.md "Delta Log Entries"), both
// ways. Writing covers what kpipe commits; reading applies any commit of a table kpipe can write
// to (reader version 1, writer version ≤ 2) to a snapshot, and ignores the actions that do not
// change what kpipe needs (commitInfo, cdc, domainMetadata).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "delta/delta_actions.h"

namespace kpipe {

// One action as one line (with its '\n').
std::string action_line(const DeltaProtocol& p);
std::string action_line(const DeltaMetadata& m);
std::string action_line(const DeltaAdd& a);
std::string action_line(const DeltaTxn& t);
// commitInfo is free-form: `object_json` is the whole object.
std::string commit_info_line(std::string_view object_json);

// Applies every action of the commit `text` (version `version`) to `snapshot` and sets its
// version. `file` names the commit in errors (kDataLoss: the log is not what the protocol says).
Status apply_commit(std::string_view text, int64_t version, DeltaSnapshot& snapshot, std::string_view file);

// A path of a data file as the log holds it: percent-encoded except for the characters RFC 2396
// leaves unreserved, and '/', '=' and ':' — what Spark and delta-rs write for partition folders.
std::string encode_log_path(std::string_view path);

}  // namespace kpipe
