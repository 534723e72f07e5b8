#include "engine/group_claims.h"

#include "common/json_writer.h"
#include "common/time_util.h"
#include "delta/delta_json.h"
#include "delta/delta_log.h"

namespace kpipe {
namespace {

// Claims race only with the other instances' commits, one a trigger each: this many in a row
// means something is wrong, and the trigger loop retries.
constexpr int kMaxConflicts = 50;

std::optional<int64_t> txn_version(const DeltaSnapshot& s, const std::string& app_id) {
  auto it = s.txns.find(app_id);
  if (it == s.txns.end()) return std::nullopt;
  return it->second.version;
}

}  // namespace

std::string partition_app_id(std::string_view query_id, int32_t partition) {
  return "kpipe-" + std::string(query_id) + "-p" + std::to_string(partition);
}

std::string owner_app_id(std::string_view query_id, int32_t partition) {
  return partition_app_id(query_id, partition) + "-owner";
}

std::string writer_app_id(std::string_view query_id, std::string_view writer) {
  return "kpipe-" + std::string(query_id) + "-w-" + std::string(writer);
}

Claim claim_in(const DeltaSnapshot& table, std::string_view query_id, int32_t partition) {
  Claim c;
  c.epoch = txn_version(table, owner_app_id(query_id, partition)).value_or(0);
  c.last = txn_version(table, partition_app_id(query_id, partition));
  return c;
}

bool writer_committed(const DeltaSnapshot& table, std::string_view query_id, std::string_view writer,
                      int64_t batch_id) {
  auto txn = table.txns.find(writer_app_id(query_id, writer));
  return txn != table.txns.end() && txn->second.version >= batch_id;
}

bool can_never_commit(const DeltaSnapshot& table, std::string_view query_id, const OffsetsEntry& entry) {
  for (const auto& r : entry.ranges) {
    if (r.end <= r.start) continue;
    auto planned = entry.epochs.find(r.partition);
    if (planned == entry.epochs.end()) continue;
    const Claim now = claim_in(table, query_id, r.partition);
    if (now.epoch != planned->second) return true;      // another owner since
    if (now.last && *now.last >= r.start) return true;  // its offsets are in the table already
  }
  return false;
}

Result<std::map<int32_t, Claim>> claim_partitions(FileSystem& fs, const std::string& root, DeltaSnapshot& table,
                                                  std::string_view query_id, const std::vector<int32_t>& partitions,
                                                  std::string_view member, std::string_view temp_owner) {
  for (int conflict = 0;; ++conflict) {
    const int64_t now = wall_clock_ms();
    std::map<int32_t, Claim> claims;
    std::string txns;
    JsonWriter info;
    info.begin_object().field("timestamp", now).field("operation", "kpipe ownership");
    info.key("kpipe").begin_object().field("member", member).key("claimed").begin_object();
    for (int32_t p : partitions) {
      Claim c = claim_in(table, query_id, p);
      c.epoch += 1;
      info.field(std::to_string(p), c.epoch);
      txns += action_line(DeltaTxn{owner_app_id(query_id, p), c.epoch, now});
      claims[p] = c;
    }
    info.end_object().end_object().end_object();
    const std::string actions = commit_info_line(info.str()) + txns;
    const int64_t version = table.version + 1;
    Status st = write_commit(fs, root, version, actions, temp_owner);
    if (st.ok()) {
      KPIPE_RETURN_IF_ERROR(apply_commit(actions, version, table, delta_commit_name(version)));
      return claims;
    }
    if (st.code() != StatusCode::kAlreadyExists || conflict >= kMaxConflicts) {
      return st.with_context("claiming partitions in the Delta log of " + root);
    }
    KPIPE_RETURN_IF_ERROR(catch_up(fs, root, table));
  }
}

Result<std::string> group_batch_txns(const DeltaSnapshot& before, std::string_view query_id,
                                     const std::map<int32_t, Claim>& claims, const std::vector<PartitionRange>& ranges,
                                     int64_t now_ms) {
  std::string txns;
  for (const auto& r : ranges) {
    if (r.end <= r.start) continue;
    auto ours = claims.find(r.partition);
    const Claim now = claim_in(before, query_id, r.partition);
    const std::string where = "partition " + std::to_string(r.partition);
    if (ours == claims.end() || now.epoch != ours->second.epoch) {
      return Status::retriable(where + " has another owner now (owner epoch " + std::to_string(now.epoch) +
                                   " in the Delta log, this instance holds " +
                                   (ours == claims.end() ? std::string("none") : std::to_string(ours->second.epoch)) +
                                   ")",
                               StatusCode::kFenced);
    }
    const bool continues = now.last ? *now.last == r.start - 1 : !ours->second.last;
    if (!continues) {
      return Status::retriable(where + " was committed up to offset " +
                                   (now.last ? std::to_string(*now.last) : std::string("none")) +
                                   " by another writer; this batch starts at " + std::to_string(r.start),
                               StatusCode::kFenced);
    }
    txns += action_line(DeltaTxn{partition_app_id(query_id, r.partition), r.end - 1, now_ms});
  }
  return txns;
}

}  // namespace kpipe
