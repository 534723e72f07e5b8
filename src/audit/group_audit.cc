#include "audit/group_audit.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/file_sink.h"
#include "engine/group_claims.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

using BatchKey = std::pair<std::string, int64_t>;  // (writer8, batch id)

std::string batch_text(const BatchKey& k) { return "batch " + str(k.second) + " of writer " + k.first; }

class GroupAuditor {
 public:
  explicit GroupAuditor(const AuditInput& in) : in_(in), g_(*in.group) {
    for (const auto& m : g_.members) {
      if (!m.pending) continue;
      const BatchKey key{m.writer8, m.pending->batch_id};
      // Without locks, a batch that can never commit is a stopped (or zombie) writer's.
      const bool dead = !m.live || (m.unknown && in_.delta && can_never_commit(*in_.delta, in_.query_id, *m.pending));
      (dead ? unswept_ : in_flight_)[key] = m.name;
    }
    for (const auto& s : in_.sinks) {
      if (s.name == kCsvSink) csv_root_ = s.root;
    }
  }

  AuditReport run() {
    report_.findings = in_.read_findings;
    report_.warnings = g_.warnings;
    if (!in_.delta) {
      report_.warnings.push_back("no Delta table at " + in_.delta_root + " to audit (a group writes one)");
    } else {
      check_adds();
      check_rows_once();
    }
    check_listing(in_.delta_root, std::string(kParquetSink));
    if (!csv_root_.empty()) {
      check_listing(csv_root_, std::string(kCsvSink));
      check_csv_batches();
    }
    check_log_temps();
    check_kafka();
    describe_members();
    return std::move(report_);
  }

 private:
  void find(std::string kind, int64_t batch, std::string file, int32_t partition, std::string message) {
    report_.findings.push_back(AuditFinding{std::move(kind), batch, std::move(file), partition, std::move(message)});
  }

  const std::vector<std::string>& listed(const std::string& root) const {
    static const std::vector<std::string> none;
    auto it = in_.listing.find(root);
    return it == in_.listing.end() ? none : it->second;
  }

  // (1) and the rows of each batch the table has (as read before the listing).
  void check_adds() {
    const std::vector<std::string>& paths = listed(in_.delta_root);
    const std::set<std::string> present(paths.begin(), paths.end());
    for (const auto& [encoded, add] : in_.delta->files) {
      const std::string rel = percent_decode(encoded);
      in_table_.insert(rel);
      const std::string full = in_.delta_root + "/" + rel;
      auto key = writer_and_batch_of(base_name(rel));
      const int64_t batch = key ? key->second : -1;
      auto said = stats_rows(add.stats);
      // (The table was read before the listing: its files were all published by then.)
      if (!present.count(rel)) {
        find("missing-file", batch, full, -1, full + " is in the Delta table but not in " + in_.delta_root);
        if (key) table_rows_[*key] += said.value_or(0);  // its batch is in the table all the same
        continue;
      }
      auto rows = in_.count_rows(std::string(kParquetSink), full);
      if (!rows.ok()) {
        find("unreadable-file", batch, full, -1, full + ": " + rows.status().message());
        if (key) table_rows_[*key] += said.value_or(0);
        continue;
      }
      if (said && *said != *rows) {
        find("delta-row-count", batch, full, -1,
             "the Delta add of " + rel + " says " + str(*said) + " rows; the file has " + str(*rows));
      }
      ++report_.files;
      report_.rows += *rows;
      if (key) table_rows_[*key] += *rows;
      if (g_.read_offsets) read_rows_of(full, batch);
    }
    report_.batches = static_cast<int64_t>(table_rows_.size());
    if (g_.delta_after) {
      for (const auto& [encoded, add] : g_.delta_after->files) {
        const std::string rel = percent_decode(encoded);
        in_table_.insert(rel);
        if (auto key = writer_and_batch_of(base_name(rel))) later_keys_.insert(*key);
      }
    }
  }

  void read_rows_of(const std::string& full, int64_t batch) {
    auto rows = g_.read_offsets(full);
    if (!rows.ok()) {
      find("unreadable-file", batch, full, -1, full + ": " + rows.status().message());
      return;
    }
    for (const auto& [p, o] : *rows) offsets_[p].push_back(o);
  }

  // (2) Each event once in the table, none past its partition's txn.
  void check_rows_once() {
    if (!g_.read_offsets) {
      report_.infos.push_back(
          "KAFKA_COLUMNS lacks partition or offset: the table's rows were counted, not checked one by one for "
          "duplicates");
      return;
    }
    for (auto& [p, offs] : offsets_) {
      std::sort(offs.begin(), offs.end());
      int64_t dups = 0, first_dup = -1;
      for (size_t i = 1; i < offs.size(); ++i) {
        if (offs[i] != offs[i - 1]) continue;
        if (dups++ == 0) first_dup = offs[i];
      }
      if (dups > 0) {
        find("duplicate", -1, "", p,
             "partition " + str(p) + ": " + str(dups) +
                 " row(s) of the Delta table repeat an offset already in it "
                 "(first: offset " +
                 str(first_dup) + ")");
      }
      const Claim c = claim_in(*in_.delta, in_.query_id, p);
      if (!offs.empty() && (!c.last || offs.back() > *c.last)) {
        find("delta-txn", -1, "", p,
             "partition " + str(p) + ": the Delta table holds offset " + str(offs.back()) + ", past its txn (" +
                 (c.last ? "offset " + str(*c.last) : std::string("none")) + ")");
      }
    }
  }

  // Whose is a file outside the table: a running instance's batch in flight (fine), a stopped
  // one's unswept batch, or nobody's.
  void judge_outside(const std::string& full, const BatchKey& key) {
    if (in_flight_.count(key)) return;
    auto stopped = unswept_.find(key);
    if (stopped != unswept_.end()) {
      find("unswept-file", key.second, full, -1,
           full + " is of " + batch_text(key) + " of the stopped instance " + stopped->second +
               ", written and never committed: the next instance to claim a partition removes it");
      return;
    }
    find("stray-file", key.second, full, -1,
         full + " is of " + batch_text(key) + ", which is not in the Delta table nor in flight");
  }

  // (3) and (4) for the files of one root.
  void check_listing(const std::string& root, const std::string& sink) {
    for (const auto& rel : listed(root)) {
      const std::string name = base_name(rel);
      const std::string full = root + "/" + rel;
      if (is_temp_file_name(name)) {
        check_temp(full, std::string(final_name_of_temp(name)));
        continue;
      }
      auto key = writer_and_batch_of(name);
      if (!key) continue;  // not kpipe's (_SUCCESS, a user's file)
      if (sink == kParquetSink) {
        if (!in_table_.count(rel)) judge_outside(full, *key);
        continue;
      }
      if (!table_rows_.count(*key)) {
        if (!committed_later(*key)) judge_outside(full, *key);
        continue;
      }
      auto rows = in_.count_rows(sink, full);
      if (!rows.ok()) {
        find("unreadable-file", key->second, full, -1, full + ": " + rows.status().message());
        continue;
      }
      csv_rows_[*key] += *rows;
      ++report_.files;
    }
  }

  // A batch of `key` in the table read after the listing (committed during the audit).
  bool committed_later(const BatchKey& key) const { return later_keys_.count(key) > 0; }

  void check_temp(const std::string& full, const std::string& final_name) {
    auto key = writer_and_batch_of(final_name);
    for (const auto& m : g_.members) {
      if (m.live && key && m.writer8 == key->first) return;  // its batch in flight
    }
    find("hidden-leftover", key ? key->second : -1, full, -1,
         full + " is a temp file no running instance is writing: left by a killed one");
  }

  // (3): each batch of the table has its CSV rows.
  void check_csv_batches() {
    for (const auto& [key, rows] : table_rows_) {
      auto csv = csv_rows_.find(key);
      const int64_t got = csv == csv_rows_.end() ? 0 : csv->second;
      if (got == rows) continue;
      find(got == 0 ? "missing-file" : "row-count", key.second, "", -1,
           batch_text(key) + " has " + str(rows) + " rows in the Delta table and " + str(got) +
               " in the CSV files of " + csv_root_);
    }
  }

  void check_log_temps() {
    for (const auto& name : g_.log_temp_files) {
      const bool running = std::any_of(g_.members.begin(), g_.members.end(), [&](const GroupMemberState& m) {
        return m.live && is_temp_file_of(name, m.name);
      });
      if (running) continue;
      const std::string full = in_.delta_root + "/_delta_log/" + name;
      find("hidden-leftover", -1, full, -1,
           full + " is a temp file of the Delta log no running instance is writing: left by a killed one");
    }
  }

  // (5)
  void check_kafka() {
    if (!in_.watermarks) {
      if (!in_.kafka_error.empty()) {
        report_.warnings.push_back("the offsets were not compared with Kafka's: " + in_.kafka_error);
      }
      return;
    }
    if (!in_.delta) return;
    int64_t behind = 0;
    std::vector<std::string> empty;
    for (const auto& [p, w] : *in_.watermarks) {
      const Claim c = claim_in(*in_.delta, in_.query_id, p);
      if (!c.last) {
        if (w.high > w.low) empty.push_back(str(p));
        behind += w.high - w.low;
        continue;
      }
      if (*c.last >= w.high) {
        find("offset-beyond-end", -1, "", p,
             "partition " + str(p) + ": the Delta table is at offset " + str(*c.last) +
                 ", yet Kafka's high watermark is " + str(w.high) + " (the topic was recreated or truncated?)");
        continue;
      }
      behind += w.high - (std::max(*c.last + 1, w.low));
    }
    report_.infos.push_back("the Delta table is " + str(behind) + " offset(s) behind the end of " + in_.topic +
                            " (the group's lag)");
    if (!empty.empty()) {
      std::string list;
      for (const auto& p : empty) list += (list.empty() ? "" : ",") + p;
      report_.infos.push_back("partition(s) " + list + " have events and none in the Delta table yet");
    }
  }

  void describe_members() {
    int live = 0, stopped = 0;
    for (const auto& m : g_.members) (m.live ? live : stopped)++;
    std::string line = "consumer group " + g_.group_id + ": " + str(live) + " running instance(s)";
    if (stopped > 0) line += ", " + str(stopped) + " stopped one(s) not swept yet";
    report_.infos.push_back(line);
    if (!in_flight_.empty()) report_.pending = in_flight_.begin()->first.second;
  }

  const AuditInput& in_;
  const GroupAuditInput& g_;
  AuditReport report_;
  std::string csv_root_;
  std::map<BatchKey, std::string> in_flight_;  // → member name
  std::map<BatchKey, std::string> unswept_;
  std::set<std::string> in_table_;  // decoded paths of the adds
  std::map<BatchKey, int64_t> table_rows_;
  std::set<BatchKey> later_keys_;
  std::map<BatchKey, int64_t> csv_rows_;
  std::map<int32_t, std::vector<int64_t>> offsets_;
};

}  // namespace

AuditReport audit_group(const AuditInput& in) { return GroupAuditor(in).run(); }

}  // namespace kpipe
