// `kpipe verify` of a consumer group's output (GROUP_ID): the Delta table is the truth, each
// process has a checkpoint of its own (engine/group_members.h), and a stopped process's
// directory waits for the next instance that claims a partition to sweep it.
//
// What holds when the audit finds nothing:
//   (1) every add of the table is a file in OUTPUT_PATH with the rows its stats say;
//   (2) with KAFKA_COLUMNS holding partition and offset: no (partition, offset) is twice in the
//       table, and none is past the partition's txn (kpipe-<query>-p<P>);
//   (3) every final-name file in the Parquet and CSV roots belongs to a batch in the table or to
//       the batch in flight of a running instance: no stray file, and none of a stopped
//       instance's unswept batch; every batch in the table has its CSV files, with its rows;
//   (4) no hidden temp file except a running instance's (data files and Delta log alike);
//   (5) Kafka: every partition's offset in the table is below its high watermark; the events
//       still to read (the table's lag) are an INFO line.
#pragma once

#include "audit/audit.h"

namespace kpipe {

// `in.group` must be set.
AuditReport audit_group(const AuditInput& in);

}  // namespace kpipe
