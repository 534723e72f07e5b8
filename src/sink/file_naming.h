// Output file names (steps 3 and 6 of the batch protocol in docs/design.md).
//
// A file is written under a hidden temporary name, then renamed to its final name:
//   temp   .part-1a2b3c4d-00042-000.snappy.parquet.tmp   (leading '.': Spark, pyarrow, DuckDB and
//                                                        Hive skip it, so no reader sees it torn)
//   final  part-1a2b3c4d-00042-000.snappy.parquet
//          part-<query8>-<batch>-<file index><extension>
// query8 is the first 8 characters of the query id with '-' left out (a UUID's first group), so
// a new checkpoint never collides with files of an old one. The batch id is zero-padded to at
// least 5 digits and the file index to at least 3, so names sort in batch and file order while
// batch < 100000 and index < 1000 (wider numbers still parse, they just sort by length first).
// The name is a pure function of (query id, batch, index, extension): a re-run of a batch
// rewrites exactly the names the failed attempt used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kpipe {

std::string final_file_name(std::string_view query_id, int64_t batch_id, int file_index, std::string_view extension);
// "part-<query8>-": what every final name of `query_id` starts with.
std::string file_name_prefix(std::string_view query_id);
// "." + final_name + ".tmp"
std::string temp_file_name(std::string_view final_name);
// True for names made by temp_file_name (and write_atomically, which uses the same shape).
bool is_temp_file_name(std::string_view name);
// The final name a temp_file_name was made from ("" for a name that is not a temp name).
std::string_view final_name_of_temp(std::string_view temp_name);
// The batch id of a final name made for `query_id`; nullopt for temp names, other queries'
// files and anything else (_SUCCESS, user files). Used to remove a partial attempt's files.
std::optional<int64_t> batch_id_of(std::string_view final_name, std::string_view query_id);
// (query8, batch id) of any query's final name: who wrote it (a group member's files carry its own
// query id's) and in which batch. nullopt as for batch_id_of.
std::optional<std::pair<std::string, int64_t>> writer_and_batch_of(std::string_view final_name);
// "dt=YYYY-MM-DD" for `days` since 1970-01-01 (proleptic Gregorian, UTC). Years outside
// 0000..9999 are written with a sign as ISO 8601 expanded years ("dt=+10000-01-01").
std::string dt_dir_name(int32_t days);

}  // namespace kpipe
