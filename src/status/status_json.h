// The JSON documents of /api/status and /api/progress, built from copies of the job's state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/job_status.h"
#include "status/status_server.h"

namespace kpipe {

// Consumer lag per partition at one moment, sampled by the server once a second.
struct LagSample {
  int64_t at_ms = 0;  // wall clock, epoch ms
  std::vector<PartitionLag> lag;
};

// /api/status: {component, version, queryId, state, stateDetail, healthy, startedAtMs, nowMs,
// uptimeSeconds, kafka{bootstrapServers, topic}, currentBatch, lastCommittedBatch,
// totals{batches, inputRows, deadLettered, batchDurationMs}, sinks{<sink>{rows, files, bytes}},
// lag[{partition, committedOffset, latestOffset, lag, oldestUncommittedAgeSeconds (null while not
// known)}], totalLag, oldestUncommittedAgeSeconds (the largest), lagSampledAtMs,
// group{groupId, memberId, ownedPartitions[int], rebalances, fencedBatches, lastRebalanceAt
// (ISO 8601 UTC, null before the first)} only with GROUP_ID (the lag then covers only the owned
// partitions), filesPerDt{<sink>[{dt: "YYYY-MM-DD", files, rows}]}, deadLettered, errorsByKind{<kind>: n},
// config[{name, value}]}, and with `lag_history`: lagHistory[{atMs, lag[{partition, lag}]}],
// oldest first. `now_ms`: wall clock, epoch ms.
std::string status_json(const StatusSnapshot& s, const StatusInfo& info, int64_t now_ms,
                        const std::vector<LagSample>* lag_history = nullptr);

// /api/progress: a JSON array of progress_json() objects, oldest first.
std::string progress_array_json(const std::vector<BatchProgress>& batches, std::string_view query_id);

// "YYYY-MM-DD" of a day number (days since 1970-01-01, UTC).
std::string dt_string(int32_t day);

}  // namespace kpipe
