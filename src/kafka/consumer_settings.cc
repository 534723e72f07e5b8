#include "kafka/consumer_settings.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

namespace kpipe {

std::chrono::milliseconds fetch_wait_for(std::chrono::milliseconds trigger, bool once) {
  using std::chrono::milliseconds;
  if (once) return milliseconds(10);
  return std::clamp(trigger / 20, milliseconds(100), milliseconds(500));
}

std::vector<std::pair<std::string, std::string>> stream_consumer_settings(const std::string& bootstrap_servers,
                                                                          const std::string& client_id,
                                                                          std::chrono::milliseconds fetch_wait,
                                                                          const std::string& topic, size_t partitions,
                                                                          int rdkafka_version) {
  const auto share = [&](size_t total, size_t least, size_t most) {
    return std::clamp<size_t>(total / std::max<size_t>(partitions, 1), least, most);
  };
  const size_t partition_fetch_bytes = share(3 * 128, 8, 128) << 10;
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", bootstrap_servers},
      {"client.id", client_id},
      // The checkpoint owns the offsets; the group id only satisfies the consumer API.
      {"group.id", "kpipe-stream-" + topic},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      // An offset the broker no longer has must surface as an error, not be skipped silently.
      {"auto.offset.reset", "error"},
      // A slow topic: one fetch per fetch_wait, not one per message (see fetch_wait_for).
      {"fetch.wait.max.ms", std::to_string(fetch_wait.count())},
      // One partition's fetch: the broker counts at most max.partition.fetch.bytes of each
      // partition towards it, so a single partition with a backlog fills it at once (more would
      // make a skewed backlog wait fetch_wait for every fetch).
      {"fetch.min.bytes", std::to_string(partition_fetch_bytes)},
      // Memory: librdkafka allocates about 0.35 KiB for every message of a fetch response, and
      // max.partition.fetch.bytes counts compressed bytes: 256 KiB of the producer's LZ4
      // batches is about 6,500 of the seed's events, and the old 8 MiB fetches held hundreds of
      // MB. Small fetches are not slower here, because the prefetch thread copies every message
      // out as it arrives (into PrefetchBuffer: payload plus 32 bytes) and pauses a partition
      // whose share of the buffer is full instead of leaving messages in librdkafka's queue.
      // The queue limits only matter when the prefetch thread falls behind: librdkafka then
      // stops fetching the partition, and the prefetch thread wakes it once it has drained the
      // queue (see fetch.queue.backoff.ms below). Measured on 5M events (bench/results/PROFILE.md).
      //
      // librdkafka's limits are per partition, and so is its memory: with the 3-partition values
      // (128 KiB fetches, 8,000 messages and 4 MiB queued) for each of 96 partitions it held
      // most of a million-event topic, 165 MB at peak (heaptrack). They are shared out instead,
      // like the prefetch buffer: the same totals as 3 partitions, at least 8 KiB fetches and
      // 500 messages (256 KiB) queued per partition. A fetch response stays about fetch.max.bytes.
      {"max.partition.fetch.bytes", std::to_string(partition_fetch_bytes)},
      {"fetch.max.bytes", "1048576"},
      {"queued.min.messages", std::to_string(share(3 * 8000, 500, 8000))},
      {"queued.max.messages.kbytes", std::to_string(share(3 * 4096, 256, 4096))},
      {"socket.keepalive.enable", "true"},
  };
  // librdkafka 2.1 and later wait fetch.queue.backoff.ms (1 s by default) before fetching again a
  // partition whose queue has reached the limits above. kpipe's limits are small on purpose and
  // its prefetch thread empties the queue at once, so with 2.16 every batch of a drain stalled
  // about a second: 5,000,000 events in 35-43 s instead of 3.5 s. 0 looks again at the broker
  // thread's next turn, as 2.0 did (bench/results/PROFILE.md).
  if (rdkafka_version == 0) rdkafka_version = rd_kafka_version();
  if (rdkafka_version >= 0x020100ff) settings.emplace_back("fetch.queue.backoff.ms", "0");
  return settings;
}

}  // namespace kpipe
