// Which columns of a Parquet file are worth a dictionary.
//
// Arrow's Parquet writer dictionary-encodes every column and gives the dictionary up only when
// it outgrows dictionary_pagesize_limit (1 MiB), which a file of MAX_RECORDS_PER_FILE rows never
// reaches. For a column of unique values (event ids, microsecond timestamps, measurements) the
// dictionary then holds every value once more than plain encoding would, plus an index per row:
// a larger file, and a hash of every value to build it (7 % of a Parquet-only drain's CPU,
// bench/results/PROFILE.md). parquet-mr, which Spark writes with, keeps a dictionary only when
// dictionary plus indices are smaller than plain encoding (checked at its first page); this is
// the same rule, on a sample.
#pragma once

#include <arrow/record_batch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kpipe {

// Values of each column looked at: the first this many non-null values of the rows.
inline constexpr int64_t kDictionarySampleValues = 1024;

// The names of the top-level columns of `rows` to write PLAIN: those of a primitive type with a
// dictionary encoding in Parquet (strings, binary, integers, floating point, dates, times,
// timestamps, decimals) whose sample would take at least as many bytes dictionary-encoded
// (every distinct value once, plus ceil(log2(distinct)) bits per value) as plain (every value,
// a byte array with its 4-byte length). Booleans (never dictionary-encoded), nested columns and
// columns without a non-null value keep Arrow's default. In schema order.
std::vector<std::string> columns_without_dictionary(const arrow::RecordBatch& rows);

}  // namespace kpipe
