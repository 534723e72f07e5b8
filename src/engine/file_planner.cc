#include "engine/file_planner.h"

#include <algorithm>

namespace kpipe {

std::vector<FileSlice> plan_files(int64_t rows, const FileLayout& layout) {
  std::vector<FileSlice> slices;
  if (rows <= 0) return slices;
  const int64_t per_file_cap = std::max<int64_t>(1, layout.max_records_per_file);
  const int64_t wanted = std::clamp<int64_t>(layout.files_per_partition, 1, rows);
  const int64_t needed = (rows + per_file_cap - 1) / per_file_cap;
  const int64_t files = std::max(wanted, needed);
  const int64_t base = rows / files;
  const int64_t extra = rows % files;
  int64_t offset = 0;
  for (int64_t i = 0; i < files; ++i) {
    int64_t len = base + (i < extra ? 1 : 0);
    slices.push_back(FileSlice{offset, len});
    offset += len;
  }
  return slices;
}

}  // namespace kpipe
