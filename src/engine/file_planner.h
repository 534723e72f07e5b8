// Step 3 of the batch protocol: how the rows of one dt partition of one sink are cut into files.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/checkpoint.h"

namespace kpipe {

struct FileSlice {
  int64_t offset = 0;  // first row of the file within the partition's rows
  int64_t length = 0;  // rows in the file, > 0
  bool operator==(const FileSlice&) const = default;
};

// FILES_PER_PARTITION files (fewer when there are fewer rows), more when a file would exceed
// MAX_RECORDS_PER_FILE; rows are split as evenly as possible, in order, never an empty file.
// Deterministic: the same rows and layout always give the same slices.
std::vector<FileSlice> plan_files(int64_t rows, const FileLayout& layout);

}  // namespace kpipe
