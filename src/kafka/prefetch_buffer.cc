#include "kafka/prefetch_buffer.h"

#include <algorithm>
#include <cstring>

namespace kpipe {
namespace {

// A chunk is a quarter of a partition's budget, within these bounds (more for one larger
// message), so that a partition holds a few chunks whatever its share: fixed 1 MiB chunks made
// every partition hold at least one, and memory grew with the partition count. One entry per
// 128 bytes of payload (the seed's events are 115): 8,192 entries in a 1 MiB chunk.
constexpr size_t kMinChunkDataBytes = 16 << 10;
constexpr size_t kMaxChunkDataBytes = 1 << 20;
constexpr size_t kPayloadBytesPerEntry = 128;

}  // namespace

size_t PrefetchBuffer::data_size(const Item& it) {
  return it.payload.size() + it.key.size() + (it.headers.empty() ? 0 : sizeof(uint32_t) + it.headers.size());
}

PrefetchBuffer::Chunk& PrefetchBuffer::tail_for(Partition& part, size_t data_bytes) {
  if (!part.chunks.empty()) {
    Chunk& tail = part.chunks.back();
    if (tail.count < tail.entry_capacity && tail.data_capacity - tail.data_used >= data_bytes) return tail;
  }
  if (data_bytes <= chunk_data_bytes_ && !spare_.empty()) {
    part.chunks.push_back(std::move(spare_.back()));
    spare_.pop_back();
    spare_bytes_ -= part.chunks.back().bytes();
  } else {
    Chunk& c = part.chunks.emplace_back();
    c.data_capacity = std::max(chunk_data_bytes_, data_bytes);
    c.data.reset(new char[c.data_capacity]);
    c.entry_capacity = chunk_data_bytes_ / kPayloadBytesPerEntry;
    c.entries.reset(new Entry[c.entry_capacity]);
  }
  Chunk& c = part.chunks.back();
  part.bytes += c.bytes();
  bytes_ += c.bytes();
  return c;
}

void PrefetchBuffer::append(int32_t partition, const std::vector<Item>& items) {
  if (items.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Partition& part = parts_[partition];
    for (const Item& it : items) {
      const size_t size = data_size(it);
      Chunk& c = tail_for(part, size);
      char* out = c.data.get() + c.data_used;
      auto copy = [&out](std::string_view bytes) {
        if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
        out += bytes.size();
      };
      copy(it.payload);
      copy(it.key);
      uint8_t flags = it.has_key ? kHasKey : 0;
      if (!it.headers.empty()) {
        flags |= kHasHeaders;
        const auto headers_len = static_cast<uint32_t>(it.headers.size());
        std::memcpy(out, &headers_len, sizeof headers_len);
        out += sizeof headers_len;
        copy(it.headers);
      }
      c.entries[c.count] = Entry{it.offset,
                                 it.timestamp_ms,
                                 static_cast<uint32_t>(c.data_used),
                                 static_cast<uint32_t>(it.payload.size()),
                                 static_cast<uint32_t>(it.key.size()),
                                 it.kind,
                                 it.timestamp_type,
                                 flags};
      c.data_used += size;
      ++c.count;
    }
    ++appended_;
  }
  data_cv_.notify_all();
}

void PrefetchBuffer::retire_locked(Chunk&& chunk) {
  const size_t budget = per_partition_bytes_ * std::max<size_t>(parts_.size(), 1);
  const bool standard =
      chunk.data_capacity == chunk_data_bytes_ && chunk.entry_capacity == chunk_data_bytes_ / kPayloadBytesPerEntry;
  if (!standard || spare_bytes_ + chunk.bytes() > budget) return;  // freed with the deque entry
  chunk.data_used = 0;
  chunk.count = 0;
  spare_bytes_ += chunk.bytes();
  spare_.push_back(std::move(chunk));
}

bool PrefetchBuffer::full(int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(partition);
  return it != parts_.end() && it->second.bytes >= per_partition_bytes_;
}

bool PrefetchBuffer::wants_more_locked(const Partition& part) const {
  // The last chunk stays allocated for the producer even when fully read, so a partition whose
  // budget is under two chunks (or whose last chunk holds one large message) never drops below
  // half: holding nothing unread counts as below.
  const bool drained = part.chunks.empty() || (part.chunks.size() == 1 && part.read == part.chunks.front().count);
  return drained || part.bytes < per_partition_bytes_ / 2;
}

bool PrefetchBuffer::wants_more(int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(partition);
  return it == parts_.end() || wants_more_locked(it->second);
}

bool PrefetchBuffer::consume(int32_t partition, const std::function<bool(const Item&)>& take) {
  bool wanted_before = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto pit = parts_.find(partition);
    if (pit == parts_.end()) return false;
    wanted_before = wants_more_locked(pit->second);
  }
  for (;;) {
    Chunk* chunk = nullptr;
    size_t start = 0, count = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Partition& part = parts_.at(partition);  // only clear() removes it, never during consume()
      if (part.chunks.empty()) break;
      chunk = &part.chunks.front();
      start = part.read;
      count = chunk->count;
      if (start == count) {
        // Fully read: drop it unless the producer may still append to it.
        if (part.chunks.size() == 1) break;
        part.bytes -= chunk->bytes();
        bytes_ -= chunk->bytes();
        retire_locked(std::move(*chunk));
        part.chunks.pop_front();
        part.read = 0;
        continue;
      }
    }
    size_t i = start;
    for (; i < count; ++i) {
      const Entry& e = chunk->entries[i];
      const char* data = chunk->data.get() + e.pos;
      Item it{e.kind, e.offset, e.timestamp_ms, std::string_view(data, e.len)};
      it.timestamp_type = e.timestamp_type;
      it.has_key = (e.flags & kHasKey) != 0;
      it.key = std::string_view(data + e.len, e.key_len);
      if (e.flags & kHasHeaders) {
        uint32_t headers_len = 0;
        std::memcpy(&headers_len, data + e.len + e.key_len, sizeof headers_len);
        it.headers = std::string_view(data + e.len + e.key_len + sizeof headers_len, headers_len);
      }
      if (!take(it)) break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      parts_[partition].read = i;
    }
    if (i < count) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return !wanted_before && wants_more_locked(parts_.at(partition));
}

std::optional<std::pair<int64_t, int64_t>> PrefetchBuffer::first_record(int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto pit = parts_.find(partition);
  if (pit == parts_.end()) return std::nullopt;
  const Partition& part = pit->second;
  size_t from = part.read;
  for (const Chunk& chunk : part.chunks) {
    for (size_t i = from; i < chunk.count; ++i) {
      const Entry& e = chunk.entries[i];
      if (e.kind == Kind::kRecord) return std::make_pair(e.offset, e.timestamp_ms);
      if (e.kind != Kind::kEnd) return std::nullopt;
    }
    from = 0;
  }
  return std::nullopt;
}

std::map<int32_t, int64_t> PrefetchBuffer::held_to() const {
  std::map<int32_t, int64_t> held;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [partition, part] : parts_) {
    if (part.chunks.empty()) continue;
    const Chunk& tail = part.chunks.back();
    if (tail.count == 0 || (part.chunks.size() == 1 && part.read == tail.count)) continue;
    const Entry& last = tail.entries[tail.count - 1];
    if (last.kind == Kind::kRecord) held[partition] = last.offset + 1;
    if (last.kind == Kind::kEnd) held[partition] = last.offset;
  }
  return held;
}

void PrefetchBuffer::wait_for_data(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  data_cv_.wait_for(lock, timeout, [&] { return appended_ != seen; });
}

uint64_t PrefetchBuffer::appended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appended_;
}

void PrefetchBuffer::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [partition, part] : parts_) {
    for (Chunk& chunk : part.chunks) retire_locked(std::move(chunk));
  }
  parts_.clear();
  bytes_ = 0;
}

void PrefetchBuffer::set_budget(size_t per_partition_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  per_partition_bytes_ = per_partition_bytes;
  const size_t chunk_data_bytes = std::clamp(per_partition_bytes / 4, kMinChunkDataBytes, kMaxChunkDataBytes);
  if (chunk_data_bytes != chunk_data_bytes_) {
    spare_.clear();
    spare_bytes_ = 0;
  }
  chunk_data_bytes_ = chunk_data_bytes;
}

size_t PrefetchBuffer::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t PrefetchBuffer::spare_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spare_bytes_;
}

}  // namespace kpipe
