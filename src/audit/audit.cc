#include "audit/audit.h"

#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "audit/group_audit.h"
#include "common/json_writer.h"
#include "delta/delta_json.h"
#include "sink/file_naming.h"

namespace kpipe {

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<int64_t> stats_rows(const std::string& stats) {
  if (stats.empty()) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(stats).get(doc) != simdjson::SUCCESS) return std::nullopt;
  int64_t n;
  if (doc["numRecords"].get_int64().get(n) != simdjson::SUCCESS) return std::nullopt;
  return n;
}

namespace {

constexpr std::string_view kParquet = "parquet";
constexpr std::string_view kDeadLetter = "dead-letter";

std::string str(int64_t v) { return std::to_string(v); }

// "12..40" for the offsets [start, end).
std::string span(int64_t start, int64_t end) { return str(start) + ".." + str(end - 1); }

class Auditor {
 public:
  explicit Auditor(const AuditInput& in) : in_(in) {
    for (const auto& [root, paths] : in_.listing) {
      for (const auto& p : paths) listed_.emplace(root, p);
    }
    if (!in_.offsets.empty()) {
      const int64_t last = in_.offsets.rbegin()->first;
      if (!in_.commits.count(last)) report_.pending = last;
    }
    oldest_ = std::numeric_limits<int64_t>::min();
    if (!in_.offsets.empty() || !in_.commits.empty()) {
      oldest_ = std::numeric_limits<int64_t>::max();
      if (!in_.offsets.empty()) oldest_ = in_.offsets.begin()->first;
      if (!in_.commits.empty()) oldest_ = std::min(oldest_, in_.commits.begin()->first);
    }
    collect_owned_files();
  }

  AuditReport run() {
    report_.findings = in_.read_findings;
    check_logs();
    check_offsets();
    check_committed_files();
    check_listing();
    check_kafka();
    check_delta();
    return std::move(report_);
  }

 private:
  void find(std::string kind, int64_t batch, std::string file, int32_t partition, std::string message) {
    report_.findings.push_back(AuditFinding{std::move(kind), batch, std::move(file), partition, std::move(message)});
  }

  // Where `sink`'s files of batch `batch` are: the root its write-ahead entry recorded, else the
  // root the settings give; "" when neither knows the sink.
  std::string root_of(int64_t batch, const std::string& sink) const {
    auto e = in_.offsets.find(batch);
    if (e != in_.offsets.end()) {
      for (const auto& s : e->second.sinks) {
        if (s.name == sink) return s.root;
      }
    }
    for (const auto& s : in_.sinks) {
      if (s.name == sink) return s.root;
    }
    return "";
  }

  // Files a commit holds, and files a batch in flight (planned after the first read) may have
  // published: none of them is a stray.
  void collect_owned_files() {
    for (const auto& [id, c] : in_.commits) {
      for (const auto& f : c.files) owned_.emplace(root_of(id, f.sink), f.path);
    }
    for (const auto& [id, e] : in_.offsets) {
      if (id <= in_.settled) continue;
      for (const auto& f : e.files) owned_.emplace(root_of(id, f.sink), f.path);
    }
  }

  // (4) Both logs without holes; only the newest offsets entry may lack its commit.
  void check_logs() {
    auto holes = [&](const auto& log, const char* name) {
      int64_t prev = -1;
      bool first = true;
      for (const auto& [id, entry] : log) {
        if (!first && id != prev + 1) {
          find("log-gap", prev + 1, "", -1,
               std::string(name) + "/" + str(prev + 1) + (id == prev + 2 ? "" : ".." + str(id - 1)) +
                   " missing from the checkpoint between " + name + "/" + str(prev) + " and " + name + "/" + str(id));
        }
        prev = id;
        first = false;
      }
    };
    holes(in_.offsets, "offsets");
    holes(in_.commits, "commits");
    const int64_t first_offsets =
        in_.offsets.empty() ? std::numeric_limits<int64_t>::max() : in_.offsets.begin()->first;
    for (const auto& [id, c] : in_.commits) {
      if (id >= first_offsets && !in_.offsets.count(id)) {
        find("commit-without-offsets", id, "", -1,
             "commits/" + str(id) + " has no write-ahead entry offsets/" + str(id));
      }
    }
    const int64_t first_commit = in_.commits.empty() ? 0 : in_.commits.begin()->first;
    for (const auto& [id, e] : in_.offsets) {
      if (report_.pending == id || id < first_commit || in_.commits.count(id)) continue;
      find("uncommitted-batch", id, "", -1,
           "offsets/" + str(id) + " has no commit, yet later batches were planned: batch " + str(id) +
               " was never committed");
    }
  }

  // (5) Each batch starts every partition where the previous batch ended it.
  void check_offsets() {
    const OffsetsEntry* prev = nullptr;
    for (const auto& [id, e] : in_.offsets) {
      if (prev && prev->batch_id + 1 == id) compare_ranges(*prev, e);
      if (!prev && id == 0) note_skipped(e, nullptr);
      prev = &e;
    }
  }

  void note_skipped(const OffsetsEntry& e, const PartitionRange* only) {
    for (const auto& s : e.skipped) {
      if (only && !(s == *only)) continue;
      report_.infos.push_back("batch " + str(e.batch_id) + " skipped offsets " + span(s.start, s.end) + " of " +
                              in_.topic + "/" + str(s.partition) +
                              ", deleted from Kafka before they were read (FAIL_ON_DATA_LOSS=false)");
    }
  }

  void compare_ranges(const OffsetsEntry& a, const OffsetsEntry& b) {
    std::map<int32_t, PartitionRange> next;
    for (const auto& r : b.ranges) next[r.partition] = r;
    for (const auto& r : a.ranges) {
      const std::string where = in_.topic + "/" + str(r.partition);
      auto n = next.find(r.partition);
      if (n == next.end()) {
        find("offsets-gap", b.batch_id, "", r.partition,
             "offsets/" + str(b.batch_id) + " has no range for " + where + ", which batch " + str(a.batch_id) +
                 " read up to offset " + str(r.end));
        continue;
      }
      const PartitionRange& s = n->second;
      if (s.start < r.end) {
        find("offsets-overlap", b.batch_id, "", r.partition,
             "batch " + str(b.batch_id) + " reads " + where + " from offset " + str(s.start) + " but batch " +
                 str(a.batch_id) + " read it up to " + str(r.end) + ": offsets " + span(s.start, r.end) +
                 " are read twice");
      } else if (s.start > r.end) {
        const PartitionRange gap{r.partition, r.end, s.start};
        if (std::find(b.skipped.begin(), b.skipped.end(), gap) != b.skipped.end()) {
          note_skipped(b, &gap);
        } else {
          find("offsets-gap", b.batch_id, "", r.partition,
               "batch " + str(b.batch_id) + " reads " + where + " from offset " + str(s.start) + " but batch " +
                   str(a.batch_id) + " ended it at " + str(r.end) + ": offsets " + span(r.end, s.start) +
                   " were never read, and no FAIL_ON_DATA_LOSS=false skip records them");
        }
      }
    }
  }

  // (1) The files of every settled commit, with their rows.
  void check_committed_files() {
    for (const auto& [id, c] : in_.commits) {
      if (id > in_.settled) {
        report_.infos.push_back("batch " + str(id) +
                                " was committed during the audit: its files are checked next time");
        continue;
      }
      ++report_.batches;
      report_.rows += c.output_rows;
      std::map<std::string, int64_t> per_sink;
      for (const auto& f : c.files) {
        ++report_.files;
        per_sink[f.sink] += f.rows;
        check_file(id, f);
      }
      check_commit_rows(c, per_sink);
    }
  }

  void check_file(int64_t batch, const CommittedFile& f) {
    const std::string root = root_of(batch, f.sink);
    const std::string full = root + "/" + f.path;
    if (root.empty()) {
      find("unknown-sink", batch, f.path, -1,
           "commits/" + str(batch) + " lists " + f.path + " of sink '" + f.sink + "', whose root nothing records");
      return;
    }
    if (!listed_.count({root, f.path})) {
      find("missing-file", batch, full, -1,
           full + " of batch " + str(batch) + " (" + str(f.rows) + " rows) is missing");
      return;
    }
    auto rows = in_.count_rows(f.sink, full);
    if (!rows.ok()) {
      find("unreadable-file", batch, full, -1, full + " of batch " + str(batch) + ": " + rows.status().message());
    } else if (*rows != f.rows) {
      find("row-count", batch, full, -1,
           full + " holds " + str(*rows) + " rows; commits/" + str(batch) + " records " + str(f.rows));
    }
  }

  void check_commit_rows(const CommitEntry& c, const std::map<std::string, int64_t>& per_sink) {
    auto e = in_.offsets.find(c.batch_id);
    if (e == in_.offsets.end()) return;
    for (const auto& s : e->second.sinks) {
      const int64_t want = s.name == kDeadLetter ? c.dead_letter_rows : c.output_rows;
      auto got = per_sink.find(s.name);
      const int64_t have = got == per_sink.end() ? 0 : got->second;
      if (have != want) {
        find("commit-rows", c.batch_id, "", -1,
             "commits/" + str(c.batch_id) + " lists " + str(have) + " rows in " + s.name + " files but records " +
                 str(want) + (s.name == kDeadLetter ? " dead-letter rows" : " output rows"));
      }
    }
  }

  // (2) and (3) Every file under the roots: ours and committed, in flight, purged, or a finding.
  void check_listing() {
    const std::string prefix = file_name_prefix(in_.query_id);
    int64_t others = 0;
    for (const auto& [root, paths] : in_.listing) {
      for (const auto& path : paths) {
        const std::string name = base_name(path);
        const std::string full = root + "/" + path;
        if (name == "_SUCCESS") continue;  // a dt folder's completion marker
        if (is_temp_file_name(name)) {
          check_temp_file(full, name);
          continue;
        }
        auto batch = batch_id_of(name, in_.query_id);
        if (!batch) {
          if (name.rfind("part-", 0) == 0) ++others;
          continue;
        }
        if (owned_.count({root, path})) continue;
        if (*batch < oldest_) {
          ++report_.purged_files;
          continue;
        }
        find("stray-file", *batch, full, -1,
             full + " is named as a file of batch " + str(*batch) + " of this query, but no commit lists it" +
                 (in_.offsets.count(*batch) ? "" : " and the checkpoint has no batch " + str(*batch)));
      }
    }
    if (report_.purged_files > 0) {
      report_.infos.push_back(str(report_.purged_files) + " file(s) of batches before " + str(oldest_) +
                              ", whose entries the checkpoint no longer keeps, were not checked");
    }
    if (others > 0) {
      report_.infos.push_back(str(others) + " file(s) of other queries (not " + prefix +
                              "*) are beside this query's: not checked");
    }
  }

  void check_temp_file(const std::string& full, const std::string& name) {
    const std::string final_name = name.substr(1, name.size() - 5);
    auto batch = batch_id_of(final_name, in_.query_id);
    if (batch && *batch > in_.settled && in_.offsets.count(*batch)) return;  // the batch in flight
    find("hidden-leftover", batch.value_or(-1), full, -1,
         full + " is a temp file no running batch is writing" +
             std::string(batch ? " (batch " + str(*batch) + ")" : "") +
             ": a crashed attempt left it; kpipe stream removes it at its next start");
  }

  // (6) The newest planned offsets against what Kafka has now.
  void check_kafka() {
    if (!in_.kafka_error.empty()) {
      report_.warnings.push_back("Kafka not checked: " + in_.kafka_error);
      return;
    }
    if (!in_.watermarks || in_.offsets.empty()) return;
    const auto& marks = *in_.watermarks;
    const OffsetsEntry& last = in_.offsets.rbegin()->second;
    int64_t lag = 0;
    for (const auto& r : last.ranges) {
      const std::string where = in_.topic + "/" + str(r.partition);
      auto w = marks.find(r.partition);
      if (w == marks.end()) {
        find("kafka-partition-missing", last.batch_id, "", r.partition,
             "batch " + str(last.batch_id) + " read " + where +
                 ", which Kafka no longer has (topic deleted or recreated?)");
        continue;
      }
      if (r.end > w->second.high) {
        find("kafka-offsets-ahead", last.batch_id, "", r.partition,
             "batch " + str(last.batch_id) + " read " + where + " up to offset " + str(r.end) +
                 " but Kafka's high watermark is " + str(w->second.high) + " (topic recreated or truncated?)");
      } else if (r.end < w->second.low) {
        report_.infos.push_back("offsets " + span(r.end, w->second.low) + " of " + where +
                                " were deleted from Kafka before kpipe read them: the next batch fails unless "
                                "FAIL_ON_DATA_LOSS=false");
      }
      if (w->second.high > r.end) lag += w->second.high - std::max(r.end, w->second.low);
    }
    report_.infos.push_back("Kafka: " + str(lag) + " record(s) of " + in_.topic + " after batch " + str(last.batch_id) +
                            " (not read yet)");
    auto first = in_.offsets.find(0);
    if (first == in_.offsets.end() || !in_.starting_earliest) return;
    for (const auto& r : first->second.ranges) {
      auto w = marks.find(r.partition);
      if (w == marks.end() || r.start <= w->second.low) continue;
      bool skipped = false;
      for (const auto& s : first->second.skipped) skipped |= s.partition == r.partition && s.end == r.start;
      if (skipped) continue;
      report_.infos.push_back("batch 0 began " + in_.topic + "/" + str(r.partition) + " at offset " + str(r.start) +
                              " but Kafka still has offsets from " + str(w->second.low) + ": offsets " +
                              span(w->second.low, r.start) +
                              " were never read (the checkpoint began with STARTING_OFFSETS=latest?)");
    }
  }

  // (7) The Delta table against the commit log.
  void check_delta() {
    if (!in_.delta || in_.delta->version < 0) return;
    const DeltaSnapshot& t = *in_.delta;
    const std::string& root = in_.delta_root;
    std::map<std::string, const DeltaAdd*> ours;  // by file path
    for (const auto& [log_path, add] : t.files) {
      const std::string path = percent_decode(log_path);
      const auto batch = batch_id_of(base_name(path), in_.query_id);
      // The in-flight batch's files may have been renamed after the listing, its Delta commit
      // made before the table was read; its entry is in the second read of the logs.
      const bool in_flight = batch && *batch > in_.settled && in_.offsets.count(*batch);
      if (!in_flight && !listed_.count({root, path})) {
        find("delta-missing-file", batch.value_or(-1), root + "/" + path, -1,
             "the Delta table at " + root + " lists " + path + ", which is not there: table readers fail on it");
      }
      if (batch) ours[path] = &add;
    }
    int64_t before_table = 0, last_expected = -1;
    for (const auto& [id, c] : in_.commits) {
      if (id > in_.settled) continue;
      if (t.metadata.created_time && c.committed_at_ms < *t.metadata.created_time) {
        ++before_table;
        continue;
      }
      if (root_of(id, std::string(kParquet)) != root) continue;
      last_expected = id;
      for (const auto& f : c.files) {
        if (f.sink != kParquet) continue;
        auto a = ours.find(f.path);
        if (a == ours.end()) {
          find("delta-missing-add", id, root + "/" + f.path, -1,
               root + "/" + f.path + " of batch " + str(id) + " is committed but not in the Delta table");
          continue;
        }
        auto rows = stats_rows(a->second->stats);
        if (rows && *rows != f.rows) {
          find("delta-row-count", id, root + "/" + f.path, -1,
               "the Delta add of " + f.path + " says " + str(*rows) + " rows; commits/" + str(id) + " records " +
                   str(f.rows));
        }
      }
    }
    if (before_table > 0) {
      report_.infos.push_back(str(before_table) +
                              " batch(es) were committed before the Delta table was created: their files are not in "
                              "the table");
    }
    for (const auto& [path, add] : ours) {
      const int64_t batch = *batch_id_of(base_name(path), in_.query_id);
      if (batch < oldest_ || owned_.count({root, path})) continue;
      find("delta-extra-add", batch, root + "/" + path, -1,
           "the Delta table adds " + path + " of batch " + str(batch) + ", which the checkpoint's commit log " +
               (in_.offsets.count(batch) || in_.commits.count(batch) ? "does not list" : "has no batch for"));
    }
    check_delta_txn(t, last_expected);
  }

  // kpipe's Delta commit of batch N carries txn(appId = query id, version = N), before commits/N.
  void check_delta_txn(const DeltaSnapshot& t, int64_t last_expected) {
    if (last_expected < 0) return;
    const int64_t newest = in_.offsets.empty() ? last_expected : in_.offsets.rbegin()->first;
    auto txn = t.txns.find(in_.query_id);
    if (txn == t.txns.end()) {
      find("delta-txn", last_expected, "", -1,
           "the Delta table has no txn of query " + in_.query_id + ", yet batch " + str(last_expected) +
               " is committed to it");
    } else if (txn->second.version < last_expected || txn->second.version > newest) {
      find("delta-txn", txn->second.version, "", -1,
           "the Delta table's txn of query " + in_.query_id + " is at batch " + str(txn->second.version) +
               "; the commit log's last batch is " + str(last_expected));
    }
  }

  const AuditInput& in_;
  AuditReport report_;
  std::set<std::pair<std::string, std::string>> listed_;  // (root, path)
  std::set<std::pair<std::string, std::string>> owned_;   // (root, path) a commit or a batch in flight holds
  int64_t oldest_ = 0;                                    // oldest batch the logs still hold
};

}  // namespace

AuditReport audit(const AuditInput& in) { return in.group ? audit_group(in) : Auditor(in).run(); }

int64_t count_csv_rows(std::string_view bytes) {
  int64_t lines = 0;
  bool quoted = false;
  for (char c : bytes) {
    if (c == '"') quoted = !quoted;
    if (c == '\n' && !quoted) ++lines;
  }
  if (!bytes.empty() && bytes.back() != '\n') ++lines;
  return std::max<int64_t>(lines - 1, 0);
}

int64_t count_json_lines(std::string_view bytes) {
  int64_t lines = std::count(bytes.begin(), bytes.end(), '\n');
  if (!bytes.empty() && bytes.back() != '\n') ++lines;
  return lines;
}

std::string format_report_text(const AuditReport& r) {
  std::string out;
  for (const auto& f : r.findings) out += "FINDING " + f.kind + ": " + f.message + "\n";
  for (const auto& w : r.warnings) out += "WARNING: " + w + "\n";
  for (const auto& i : r.infos) out += "INFO: " + i + "\n";
  const auto counted = [](int64_t n, const char* one, const char* many) {
    return str(n) + " " + (n == 1 ? one : many);
  };
  out += "verified " + counted(r.batches, "batch", "batches") + ", " + counted(r.files, "file", "files") + ", " +
         counted(r.rows, "row", "rows");
  if (r.pending) out += " (batch " + str(*r.pending) + " in flight)";
  out += r.ok() ? ": OK\n" : ": " + str(static_cast<int64_t>(r.findings.size())) + " finding(s)\n";
  return out;
}

std::string format_report_json(const AuditReport& r) {
  JsonWriter w;
  w.begin_object()
      .field("ok", r.ok())
      .field("batches", r.batches)
      .field("files", r.files)
      .field("rows", r.rows)
      .field("purgedFiles", r.purged_files);
  w.key("pendingBatch");
  if (r.pending)
    w.value(*r.pending);
  else
    w.null();
  w.key("findings").begin_array();
  for (const auto& f : r.findings) {
    w.begin_object().field("kind", f.kind);
    w.key("batch");
    if (f.batch >= 0)
      w.value(f.batch);
    else
      w.null();
    w.key("file");
    if (!f.file.empty())
      w.value(f.file);
    else
      w.null();
    w.key("partition");
    if (f.partition >= 0)
      w.value(f.partition);
    else
      w.null();
    w.field("message", f.message).end_object();
  }
  w.end_array();
  w.key("warnings").begin_array();
  for (const auto& x : r.warnings) w.value(x);
  w.end_array();
  w.key("infos").begin_array();
  for (const auto& x : r.infos) w.value(x);
  w.end_array();
  w.end_object();
  return w.take() + "\n";
}

}  // namespace kpipe
