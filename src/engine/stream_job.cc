#include "engine/stream_job.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "common/log.h"
#include "common/time_util.h"
#include "common/worker_pool.h"
#include "decode/kafka_columns.h"
#include "engine/batch_planner.h"
#include "engine/delta_committer.h"
#include "engine/group_members.h"
#include "engine/group_run.h"
#include "engine/lag_tracker.h"
#include "kafka/consumer_settings.h"
#include "kafka/source.h"
#include "sink/file_naming.h"

namespace kpipe {

void crash_point(const char* step, int64_t batch_id) {
  static const char* spec = std::getenv("KPIPE_TEST_CRASH_AT");
  if (!spec || !*spec) return;
  std::string_view s(spec);
  std::string_view want_step = s.substr(0, s.find('@'));
  if (want_step != step) return;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    if (std::string(s.substr(at + 1)) != std::to_string(batch_id)) return;
  }
  std::fprintf(stderr, "KPIPE_TEST_CRASH_AT: killing the process at %s of batch %lld\n", step,
               static_cast<long long>(batch_id));
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

namespace {

StreamSeams seams_with(std::shared_ptr<FileSystem> fs) {
  StreamSeams seams;
  seams.fs = std::move(fs);
  return seams;
}

// Twice the cores: a worker waiting for its file's fsync leaves its core to another that
// encodes (5M events, 2 cores: 4.4 s with 4 workers against 5.0 s with 2). The caller of
// WorkerPool::run is one of them.
unsigned write_threads() { return std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u) - 1; }

}  // namespace

struct StreamJob::Impl {
  StreamOptions opt;
  StreamSeams seams;
  SteadyClock steady;
  Clock* clock = nullptr;
  std::shared_ptr<JobStatus> status;
  std::unique_ptr<FileLock> lock;
  std::unique_ptr<WriterFence> fence;  // instead of `lock` for a checkpoint on an object store
  const std::atomic<bool>* stop = nullptr;
  bool storage_checked = false;
  std::unique_ptr<Checkpoint> checkpoint;
  std::unique_ptr<WorkerPool> pool;
  std::vector<std::unique_ptr<Committer>> committers;
  std::vector<std::unique_ptr<BatchObserver>> observers;
  std::unique_ptr<BatchRunner> runner;
  std::unique_ptr<LagTracker> lag;
  std::optional<std::vector<PartitionRange>> initial_ranges;  // STARTING_OFFSETS resolved before the first batch
  bool more_available = false;                                // the last plan left data for an immediate next batch

  std::unique_ptr<Decoding> decoding;  // until the runner takes it
  std::unique_ptr<Committer> delta;    // the Delta table's committer, until the chain takes it
  bool locked = false;                 // lock_checkpoint done (the lock may be null: see there)

  // GROUP_ID (engine/group_run.h): this process's own checkpoint in the shared one, the group
  // membership, the claims the Delta commits are checked against, and the batch step.
  std::string member_name;
  std::unique_ptr<FileLock> member_lock;
  std::unique_ptr<Checkpoint> member_checkpoint;
  std::shared_ptr<std::map<int32_t, Claim>> claims;
  Committer* delta_committer = nullptr;
  std::unique_ptr<GroupMembership> member;
  std::unique_ptr<GroupRun> group;
  bool grouped() const { return !opt.group_id.empty(); }
  Status open_member_checkpoint();
  Status join_group();

  Status check_settings();
  Status check_storage();
  Status hold_checkpoint();
  Status start();
  Status recover();
  Status clean_temp_files(const std::string& root, bool with_day_dirs);
  Result<std::map<int32_t, Watermarks>> read_watermarks();
  // The end offsets of the last committed batch; before the first, where the first one starts.
  std::map<int32_t, int64_t> committed_offsets() const;
  void update_lag();
  // Offsets between where the next new batch starts and `marks`' high watermarks.
  int64_t backlog(const std::map<int32_t, Watermarks>& marks) const;
  // Plans and runs the next batch; returns rows planned (0 = nothing new).
  Result<int64_t> run_next_batch(const std::map<int32_t, int64_t>& stop_at, const std::atomic<bool>& stop);
  // `sample_lag`: keep the consumer lag up to date meanwhile (not while backing off from errors,
  // when the broker may be the problem and each sample would wait for its deadline).
  void sleep_until(Clock::TimePoint until, const std::atomic<bool>& stop, bool sample_lag = false);
};

StreamJob::StreamJob(StreamOptions options, std::shared_ptr<FileSystem> fs, std::shared_ptr<JobStatus> status)
    : StreamJob(std::move(options), seams_with(std::move(fs)), std::move(status)) {}

StreamJob::StreamJob(StreamOptions options, StreamSeams seams, std::shared_ptr<JobStatus> status)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->seams = std::move(seams);
  if (impl_->seams.checkpoint_lock) {
    impl_->lock = std::move(*impl_->seams.checkpoint_lock);
    impl_->locked = true;
  }
  if (!impl_->seams.fs) impl_->seams.fs = local_file_system();
  impl_->clock = impl_->seams.clock ? impl_->seams.clock : &impl_->steady;
  impl_->status = std::move(status);
}

StreamJob::~StreamJob() = default;

Status StreamJob::Impl::check_settings() {
  // The settings first: a bad SCHEMA must not wait for a lock or a broker.
  KPIPE_ASSIGN_OR_RETURN(decoding, make_decoding(decode_spec(opt)));
  return make_file_sinks(sink_specs(opt), opt.topic).status();
}

// Idempotent, so that a retriable failure (a disk full while the checkpoint is created, a broker
// not up yet) is retried by the trigger loop from where it stopped.
Status StreamJob::Impl::start() {
  FileSystem& fs = *seams.fs;
  if (!storage_checked) {
    KPIPE_RETURN_IF_ERROR(check_storage());
    storage_checked = true;
  }
  if (!locked && !grouped()) {
    KPIPE_RETURN_IF_ERROR(hold_checkpoint());
    locked = true;
  }
  if (!checkpoint) {
    KPIPE_ASSIGN_OR_RETURN(checkpoint, Checkpoint::open(seams.fs, opt.checkpoint_path, opt.topic, opt.group_id));
    status->set_query_id(checkpoint->query_id());
    const auto& last = checkpoint->latest_offsets();
    if (last && last->days && last->days->after.complete_through) {
      status->set_complete_through(*last->days->after.complete_through);
    }
    log_info("stream", std::string(checkpoint->created_now() ? "new checkpoint " : "checkpoint ") +
                           opt.checkpoint_path + " (query " + checkpoint->query_id() + ")");
  }
  if (grouped() && !member_checkpoint) KPIPE_RETURN_IF_ERROR(open_member_checkpoint());
  // The table before the broker: a table this job may not write to is a settings error (exit 2).
  if (opt.sink_parquet && opt.parquet_table_format == "delta" && !delta) {
    DeltaTableSpec spec;
    spec.root = opt.output_path;
    spec.query_id = checkpoint->query_id();
    spec.topic = opt.topic;
    spec.schema = decoding->schema;
    spec.append = opt.parquet_table_append;
    spec.last_committed_batch = checkpoint->latest_commit() ? checkpoint->latest_commit()->batch_id : -1;
    if (grouped()) {
      claims = std::make_shared<std::map<int32_t, Claim>>();
      spec.batch_app_id = writer_app_id(checkpoint->query_id(), member_checkpoint->query_id());
      spec.temp_owner = member_name;
      spec.guard = [claims = claims, query_id = checkpoint->query_id()](const DeltaSnapshot& before,
                                                                        const OffsetsEntry& entry) {
        return group_batch_txns(before, query_id, *claims, entry.ranges, wall_clock_ms());
      };
    }
    KPIPE_ASSIGN_OR_RETURN(delta, open_delta_table(fs, spec));
    delta_committer = delta.get();
  }
  if (!seams.source) {
    SourceOptions so;
    so.bootstrap_servers = opt.bootstrap_servers;
    so.topic = opt.topic;
    so.kafka_props = opt.kafka_props;
    // Fetched ahead: enough to keep reading while a batch is written (the prefetch thread pauses
    // a partition whose share is full), at most about one batch of the seed's events.
    so.prefetch_bytes = static_cast<size_t>(std::clamp<int64_t>(opt.max_batch_records * 128, 6 << 20, 16 << 20));
    so.fetch_wait =
        fetch_wait_for(std::chrono::milliseconds(static_cast<int64_t>(opt.trigger_seconds * 1000)), opt.once);
    // Keys and headers only when KAFKA_COLUMNS shows them: now, or in the batch a restart replays
    // with its recorded settings.
    std::vector<std::string> kafka_columns = {decoding->spec.kafka_columns};
    if (auto pending = checkpoint->pending_batch(); pending && pending->decode) {
      kafka_columns.push_back(pending->decode->kafka_columns);
    }
    for (const auto& columns : kafka_columns) {
      so.with_key = so.with_key || kafka_columns_include(columns, KafkaField::kKey);
      so.with_headers = so.with_headers || kafka_columns_include(columns, KafkaField::kHeaders);
    }
    KPIPE_ASSIGN_OR_RETURN(seams.source, KafkaSource::open(so));
  }
  pool = std::make_unique<WorkerPool>(write_threads());
  // The table's commit before the checkpoint's: commits/N then means the table has batch N.
  if (delta) committers.push_back(std::move(delta));
  Checkpoint& writes = grouped() ? *member_checkpoint : *checkpoint;  // the write-ahead entries' log
  committers.push_back(make_checkpoint_committer(writes));
  observers.push_back(make_status_observer(status, checkpoint->query_id()));
  observers.push_back(make_bad_record_observer(opt.dead_letter_path));
  if (opt.sink_console) observers.push_back(make_console_observer());
  for (auto& o : seams.observers) observers.push_back(std::move(o));
  seams.observers.clear();
  BatchSeams bs;
  bs.fs = seams.fs.get();
  bs.source = seams.source.get();
  bs.checkpoint = &writes;
  bs.pool = pool.get();
  bs.committers = &committers;
  bs.observers = &observers;
  bs.crash = seams.crash;
  bs.fence = fence.get();
  runner = std::make_unique<BatchRunner>(opt, std::move(decoding), std::move(bs));
  LagTrackerOptions lo;
  lo.sample_every = seams.lag_sample_every;
  lag = std::make_unique<LagTracker>(*seams.source, *status, *clock, lo);
  if (grouped()) return join_group();
  return Status::success();
}

// The shared checkpoint (query id, GROUP_ID) is opened; this process gets a directory of its own
// in it, locked first so that no sweeper takes it for a dead instance's.
Status StreamJob::Impl::open_member_checkpoint() {
  if (member_name.empty()) member_name = new_query_id();
  const std::string dir = members_dir(opt.checkpoint_path) + "/" + member_name;
  // (An object store has no locks: a sweeper tells a dead process's batch by its epochs instead.)
  if (!member_lock && !seams.fs->is_object_store(dir)) {
    KPIPE_ASSIGN_OR_RETURN(member_lock, lock_checkpoint(*seams.fs, dir));
  }
  KPIPE_ASSIGN_OR_RETURN(member_checkpoint, Checkpoint::open(seams.fs, dir, opt.topic, opt.group_id));
  log_info("group", "GROUP_ID=" + opt.group_id + ": this instance writes through " + dir + " (files part-" +
                        member_checkpoint->query_id().substr(0, 8) + "-*)");
  return Status::success();
}

Status StreamJob::Impl::join_group() {
  if (!member) {
    GroupOptions go;
    go.bootstrap_servers = opt.bootstrap_servers;
    go.topic = opt.topic;
    go.group_id = opt.group_id;
    go.kafka_props = opt.kafka_props;
    go.wakeup = seams.wakeup;
    auto join = seams.join_group ? seams.join_group : join_kafka_group;
    KPIPE_ASSIGN_OR_RETURN(member, join(go));
  }
  GroupRunSeams gs;
  gs.fs = seams.fs;
  gs.member_checkpoint = member_checkpoint.get();
  gs.member_name = member_name;
  gs.query_id = checkpoint->query_id();
  gs.delta = delta_committer;
  gs.source = seams.source.get();
  gs.runner = runner.get();
  gs.member = member.get();
  gs.lag = lag.get();
  gs.status = status.get();
  gs.claims = claims;
  group = std::make_unique<GroupRun>(opt, std::move(gs));
  return Status::success();
}

// Every object-store path, before anything is written: a wrong key or a missing bucket is a
// settings error now (exit 2), not a retry loop at the first batch.
Status StreamJob::Impl::check_storage() {
  const std::pair<const char*, const std::string*> paths[] = {{"OUTPUT_PATH", &opt.output_path},
                                                              {"CSV_OUTPUT_PATH", &opt.csv_output_path},
                                                              {"DEAD_LETTER_PATH", &opt.dead_letter_path},
                                                              {"CHECKPOINT_PATH", &opt.checkpoint_path}};
  for (const auto& [setting, path] : paths) {
    if (!seams.fs->is_object_store(*path)) continue;
    if (std::string(setting) == "CSV_OUTPUT_PATH" && !opt.sink_csv) continue;
    if (std::string(setting) == "OUTPUT_PATH" && !opt.sink_parquet) continue;
    auto names = seams.fs->list_dir(*path);
    if (!names.ok()) {
      Status st = names.status();
      if (st.is_retriable()) return st.with_context(setting);
      return Status::fatal(std::string(setting) + "='" + *path + "': " + st.message(), StatusCode::kInvalidArgument);
    }
    // GROUP_ID: the instances commit to one Delta log (and create the shared checkpoint) with
    // create-if-absent, which on S3 must be a conditional PUT the store honours.
    const bool shared = std::string(setting) == "OUTPUT_PATH" || std::string(setting) == "CHECKPOINT_PATH";
    if (grouped() && shared) KPIPE_RETURN_IF_ERROR(check_create_if_absent(*seams.fs, *path, setting));
  }
  return Status::success();
}

// One writer per checkpoint: a file lock on a local disk; on an object store, which has no locks,
// a Kafka fence (transactional.id "kpipe:<checkpoint>"): acquiring it fences every older holder,
// which stops at its next check (BatchRunner checks before the write-ahead entry and before the
// commit).
Status StreamJob::Impl::hold_checkpoint() {
  if (!seams.fs->is_object_store(opt.checkpoint_path)) {
    KPIPE_ASSIGN_OR_RETURN(lock, lock_checkpoint(*seams.fs, opt.checkpoint_path));
    return Status::success();
  }
  WriterFenceOptions fo;
  fo.bootstrap_servers = opt.bootstrap_servers;
  fo.kafka_props = opt.kafka_props;
  fo.transactional_id = "kpipe:" + opt.checkpoint_path;
  fo.group_id = "kpipe:" + opt.checkpoint_path;
  fo.holder = owner_line();
  auto acquire = seams.acquire_fence ? seams.acquire_fence : acquire_kafka_fence;
  KPIPE_ASSIGN_OR_RETURN(fence, acquire(fo));
  log_info("stream", "holding checkpoint " + opt.checkpoint_path + " through the Kafka fence (transactional.id " +
                         fo.transactional_id + "); waiting " + std::to_string(seams.fence_grace.count()) +
                         " ms for a fenced holder's last commit to land");
  sleep_until(clock->now() + seams.fence_grace, *stop);
  return Status::success();
}

Status StreamJob::Impl::clean_temp_files(const std::string& root, bool with_day_dirs) {
  KPIPE_ASSIGN_OR_RETURN(auto names, seams.fs->list_dir(root));
  for (const auto& n : names) {
    if (is_temp_file_name(n)) {
      KPIPE_RETURN_IF_ERROR(seams.fs->remove(root + "/" + n));
    } else if (with_day_dirs && (n.rfind("dt=", 0) == 0 || n == "_delta_log")) {
      // A day's files, or the Delta log's: a checkpoint (and _last_checkpoint) is written through a
      // temp file that a kill can leave.
      KPIPE_RETURN_IF_ERROR(clean_temp_files(root + "/" + n, false));
    }
  }
  return Status::success();
}

Status StreamJob::Impl::recover() {
  // A group's roots hold the hidden files of live instances too: what a stopped one left is
  // swept by the instance that claims one of its partitions (group_members.h).
  if (grouped()) return Status::success();
  // The roots of the sinks in force and of those the pending batch recorded (a restart may have
  // changed SINKS or a path).
  std::set<std::pair<std::string, bool>> roots;
  auto add = [&](const std::vector<SinkSpec>& specs) {
    for (const auto& s : specs) roots.emplace(s.root, s.name != kDeadLetterSink);
  };
  add(sink_specs(opt));
  if (auto pending = checkpoint->pending_batch()) add(pending->sinks);
  roots.emplace(opt.dead_letter_path, false);
  for (const auto& [root, day_dirs] : roots) {
    KPIPE_RETURN_IF_ERROR(clean_temp_files(root, day_dirs));
    // On S3: the uploads a killed run of this query left unfinished (its temp files, in effect).
    KPIPE_ASSIGN_OR_RETURN(int aborted,
                           seams.fs->abort_unfinished_uploads(root, file_name_prefix(checkpoint->query_id())));
    if (aborted > 0) {
      log_info("stream", "aborted " + std::to_string(aborted) + " unfinished upload(s) below " + root +
                             " left by an earlier run");
    }
  }
  KPIPE_RETURN_IF_ERROR(clean_temp_files(opt.checkpoint_path + "/offsets", false));
  KPIPE_RETURN_IF_ERROR(clean_temp_files(opt.checkpoint_path + "/commits", false));
  return Status::success();
}

Result<std::map<int32_t, Watermarks>> StreamJob::Impl::read_watermarks() {
  KPIPE_ASSIGN_OR_RETURN(auto ids, seams.source->partitions());
  return seams.source->watermarks(ids);
}

std::map<int32_t, int64_t> StreamJob::Impl::committed_offsets() const {
  std::map<int32_t, int64_t> committed;
  const auto& offsets = checkpoint->latest_offsets();
  if (offsets) {
    const bool done = checkpoint->latest_commit() && checkpoint->latest_commit()->batch_id == offsets->batch_id;
    // A batch in progress starts where the last committed one ended.
    for (const auto& r : offsets->ranges) committed[r.partition] = done ? r.end : r.start;
  } else if (initial_ranges) {
    for (const auto& r : *initial_ranges) committed[r.partition] = r.start;
  }
  return committed;
}

void StreamJob::Impl::update_lag() {
  if (!lag || !checkpoint) return;
  lag->set_committed(group ? group->committed() : committed_offsets());
  lag->tick();
}

int64_t StreamJob::Impl::backlog(const std::map<int32_t, Watermarks>& marks) const {
  std::map<int32_t, int64_t> next;
  const auto& last = checkpoint->latest_offsets();
  if (last) {
    for (const auto& r : last->ranges) next[r.partition] = r.end;
  } else if (initial_ranges) {
    for (const auto& r : *initial_ranges) next[r.partition] = r.end;
  }
  int64_t total = 0;
  for (const auto& [p, w] : marks) {
    auto it = next.find(p);
    const int64_t from = it != next.end() ? std::max(it->second, w.low) : opt.starting_earliest ? w.low : w.high;
    total += std::max<int64_t>(0, w.high - from);
  }
  return total;
}

Result<int64_t> StreamJob::Impl::run_next_batch(const std::map<int32_t, int64_t>& stop_at,
                                                const std::atomic<bool>& stop) {
  if (auto pending = checkpoint->pending_batch()) {
    log_warn("stream", "batch " + std::to_string(pending->batch_id) +
                           " was planned but not committed: running it again with its recorded offsets");
    KPIPE_RETURN_IF_ERROR(runner->replay(*pending, stop));
    update_lag();
    int64_t rows = 0;
    for (const auto& r : pending->ranges) rows += r.end - r.start;
    return std::max<int64_t>(rows, 1);
  }
  KPIPE_ASSIGN_OR_RETURN(auto marks, read_watermarks());
  PlanInput in;
  in.topic = opt.topic;
  in.partitions = marks;
  if (checkpoint->latest_offsets())
    in.previous = checkpoint->latest_offsets()->ranges;
  else if (initial_ranges)
    in.previous = initial_ranges;
  in.starting = opt.starting_earliest ? StartingOffsets::kEarliest : StartingOffsets::kLatest;
  in.max_offsets_per_trigger = opt.max_offsets_per_trigger;
  in.max_batch_records = opt.max_batch_records;
  in.fail_on_data_loss = opt.fail_on_data_loss;
  in.stop_at = stop_at;
  in.held = seams.source->held_ranges();
  in.batch_id = checkpoint->latest_offsets() ? checkpoint->latest_offsets()->batch_id + 1 : 0;
  KPIPE_ASSIGN_OR_RETURN(Plan plan, plan_batch(in));
  more_available = plan.more_available;
  for (const auto& d : plan.data_loss) log_warn("stream", d + " (FAIL_ON_DATA_LOSS=false: skipped)");

  // The plan's watermarks are a fresh sample of `latest`; `committed` stays the last committed
  // batch's until this one commits (update_lag after it).
  lag->set_latest(marks);

  std::map<int32_t, bool> caught_up;
  for (const auto& r : plan.ranges) caught_up[r.partition] = r.end >= marks[r.partition].high;
  const int64_t batch_id = in.batch_id;
  if (plan.total() == 0) {
    // Every partition idle: a day that completes now by the clock gets its markers from a batch
    // without rows, which goes through the whole protocol (write-ahead entry, markers, commits).
    if (runner->days_due(caught_up)) {
      KPIPE_RETURN_IF_ERROR(runner->run_new(batch_id, plan.ranges, plan.data_loss, plan.skipped, caught_up, stop));
      update_lag();
      return int64_t{0};
    }
    // Nothing to write: no checkpoint entry, no files. Remember where a new checkpoint starts,
    // so data that arrives from now on is read even with STARTING_OFFSETS=latest.
    if (!checkpoint->latest_offsets()) initial_ranges = plan.ranges;
    update_lag();
    return int64_t{0};
  }
  if (checkpoint->latest_offsets()) {
    update_lag();
  } else {  // the first batch of a new checkpoint: its ranges start where reading starts
    std::map<int32_t, int64_t> starts;
    for (const auto& r : plan.ranges) starts[r.partition] = r.start;
    lag->set_committed(starts);
    lag->tick();
  }
  const int64_t planned = plan.total();
  KPIPE_RETURN_IF_ERROR(runner->run_new(batch_id, plan.ranges, plan.data_loss, plan.skipped, caught_up, stop));
  if (plan.total() < planned) more_available = true;  // MAX_BATCH_BYTES ended it: the rest at once
  update_lag();
  return plan.total();
}

void StreamJob::Impl::sleep_until(Clock::TimePoint until, const std::atomic<bool>& stop, bool sample_lag) {
  while (!stop.load()) {
    if (sample_lag) update_lag();
    const auto now = clock->now();
    if (now >= until) return;
    if (sample_lag && group && group->rebalanced()) return;
    // Without a Wakeup, `stop` and a group's rebalance are looked at every 100 ms; every 20 ms
    // was 0.1 CPU-s a minute of an otherwise idle job.
    const auto poll_next = now + std::chrono::milliseconds(100);
    if (!seams.wakeup) {
      clock->sleep_until(std::min(until, poll_next));
      continue;
    }
    // Woken by the signal handler, or by the group's membership after a rebalance (it was given
    // the same Wakeup: GroupOptions::wakeup): sleeps to the trigger, or to the lag's next sample
    // (never sooner than 100 ms, so a lag that cannot sample does not spin).
    const auto next = sample_lag && lag ? std::max(lag->next_sample_at(), poll_next) : until;
    clock->wait_until(std::min(until, next), *seams.wakeup);
  }
}

Status StreamJob::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  m.stop = &stop;
  m.status->set_state(JobState::kStarting);
  Status st = m.check_settings();
  if (!st.ok()) {
    m.status->set_state(JobState::kFailed, st.message());
    return st;
  }
  Clock& clock = *m.clock;
  const auto trigger =
      std::chrono::duration_cast<Clock::TimePoint::duration>(std::chrono::duration<double>(m.opt.trigger_seconds));
  std::chrono::milliseconds backoff{500};
  bool recovered = false;
  std::optional<std::map<int32_t, int64_t>> stop_at;  // --once targets
  // --once is for schedulers: a broker that never answers must end the run, not hang it.
  auto last_success = clock.now();
  const auto once_timeout =
      std::chrono::duration_cast<Clock::TimePoint::duration>(std::chrono::duration<double>(m.opt.once_timeout_seconds));
  while (!stop.load()) {
    const auto tick = clock.now();
    Status step;
    int64_t planned = -1;
    if (!m.runner) {
      step = m.start();
    } else if (m.grouped() && !m.group) {
      step = m.join_group();  // start() got as far as the runner
    }
    if (step.ok() && !recovered) {
      step = m.recover();
      if (step.ok()) recovered = true;
    }
    if (step.ok() && m.opt.once && !stop_at) {
      auto marks = m.read_watermarks();
      if (marks.ok()) {
        stop_at.emplace();
        for (const auto& [p, w] : *marks) (*stop_at)[p] = w.high;
        if (m.seams.once_backlog) m.seams.once_backlog(m.backlog(*marks));
      } else {
        step = marks.status();
      }
    }
    if (step.ok()) {
      auto r = m.group ? m.group->next_batch(stop)
                       : m.run_next_batch(stop_at ? *stop_at : std::map<int32_t, int64_t>{}, stop);
      if (r.ok())
        planned = *r;
      else
        step = r.status();
    }
    if (!step.ok()) {
      m.status->record_error(Status::kind_name(step.kind()));
      if (step.kind() == ErrorKind::kFatal) {
        m.status->set_state(JobState::kFailed, step.message());
        return step;
      }
      if (stop.load()) break;
      if (m.opt.once && m.opt.once_timeout_seconds > 0 && clock.now() - last_success >= once_timeout) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "--once: giving up after %.0f s of retrying without a batch done (ONCE_TIMEOUT=%g): ",
                      std::chrono::duration<double>(clock.now() - last_success).count(), m.opt.once_timeout_seconds);
        Status gave_up = Status::fatal(text + step.message(), step.code());
        m.status->set_state(JobState::kFailed, gave_up.message());
        return gave_up;
      }
      m.status->set_state(JobState::kRetrying, step.message());
      log_warn("stream", step.message() + "; retrying in " + std::to_string(backoff.count()) + " ms");
      auto until = clock.now() + backoff;
      if (m.opt.once && m.opt.once_timeout_seconds > 0) until = std::min(until, last_success + once_timeout);
      m.sleep_until(until, stop);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    last_success = clock.now();
    m.status->set_state(planned > 0 ? JobState::kRunning : JobState::kWaitingForData);
    if (m.opt.once) {
      if (planned == 0) break;
      continue;  // the next capped batch right away
    }
    if (m.group ? m.group->more_available() : m.more_available) continue;
    // Like Spark's ProcessingTime trigger: batches start every TRIGGER_SECONDS; one that
    // overran starts the next at once.
    if (const auto wait = tick + trigger - clock.now(); wait.count() > 0) {
      m.seams.source->idle(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    }
    m.sleep_until(tick + trigger, stop, true);
  }
  m.status->set_state(JobState::kStopped);
  return Status::success();
}

}  // namespace kpipe
