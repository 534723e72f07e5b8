// The sinks' file formats: each turns rows of a decoded batch into the complete bytes of one
// output file, in memory. The engine owns the files: it writes these bytes through FileSystem
// under a hidden temp name, renames them into place and commits (docs/design.md, batch protocol
// steps 3-5), so an encoder never touches the disk and a failed batch leaves nothing to undo.
//
// Formats, as Spark writes them where Spark has an opinion:
//   Parquet      parquet::arrow::FileWriter; declared types kept (timestamp[us, UTC] is stored as
//                TIMESTAMP(isAdjustedToUTC=true, MICROS), never int96; TIMESTAMP_NTZ as
//                isAdjustedToUTC=false); nested types natively as Spark writes them: lists in
//                the standard 3-level form (<name> LIST { repeated group list { element } }),
//                maps as MAP { repeated group key_value { key, value } }, structs as groups;
//                DECIMAL(p, s) on INT32 for p <= 9, INT64 for p <= 18, else
//                FIXED_LEN_BYTE_ARRAY (Spark's non-legacy layout); TINYINT/SMALLINT as INT32
//                with INT(8|16, signed). One row group up to 1,048,576 rows; statistics on;
//                a dictionary for each column where it makes the column smaller, as parquet-mr
//                decides (see dictionary_choice.h); created_by "kpipe version X".
//   CSV          our own encoder (csv_encoder.cc); bare header line (quoted only if a name
//                needs it), '\n' line ends, RFC 4180 quoting where a reader needs it, as
//                Spark writes CSV: a value is quoted only when it holds ',', '"' (doubled) or a
//                line break, starts or ends with a space or tab, or is the empty string (""); a
//                null is an empty unquoted field, so the two stay distinct. Timestamps ISO 8601
//                UTC as Spark writes them, "2025-11-06T12:30:00.123Z", with 6 fraction digits
//                only when the value has sub-millisecond digits ("...00.123456Z"), so nothing of
//                a microsecond timestamp is lost. Dates "2025-11-06", booleans true/false,
//                floating point as Arrow's writer wrote it, shortest round-trip ("0.1", "1e-7",
//                "1e+300", "100"; NaN as "nan"). TIMESTAMP_NTZ as the same text without 'Z'
//                ("2025-11-06T12:30:00.123"). Decimals exactly, in plain notation with their
//                scale ("12.30", "0.00000000", where Arrow's cast and Spark write "0E-8").
//                CSV has no nested or binary type (Spark's CSV writer refuses such columns): a
//                struct, array or map is its JSON text in one cell ({"id":7,"tags":["a","b"]},
//                see append_json_value); binary is base64 text. A type the schema never makes
//                is cast to text by Arrow.
//   dead-letter  JSON lines, see encode_dead_letter.
//   console      text, see format_console_table.
//
// Arrow's compute kernels (casts of types the CSV encoder does not format itself) are registered on first use by
// make_parquet_encoder/make_csv_encoder; nobody else needs to call arrow::compute::Initialize().
#pragma once

#include <arrow/buffer.h>
#include <arrow/record_batch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace kpipe {

enum class Compression { kSnappy, kZstd, kNone };

// PARQUET_COMPRESSION: "snappy" | "zstd" | "none" | "uncompressed", any letter case.
Result<Compression> parse_compression(std::string_view text);
// ".snappy.parquet", ".zstd.parquet", ".parquet", as Spark names its files.
std::string_view parquet_extension(Compression compression);

inline constexpr std::string_view kCsvExtension = ".csv";
inline constexpr std::string_view kDeadLetterExtension = ".jsonl";

class FileEncoder {
 public:
  virtual ~FileEncoder() = default;
  virtual std::string_view sink_name() const = 0;  // "parquet", "csv"
  virtual std::string_view extension() const = 0;  // ".snappy.parquet", ".csv", ...
  // Encodes rows [offset, offset + length) of `rows` into one complete file. Stateless and
  // thread-safe: the engine encodes the files of a batch in parallel with one encoder. Errors
  // (a type the format cannot hold, out of memory) are returned, never thrown.
  // The row range is checked and Arrow's exceptions are caught here, once for every format.
  Result<std::shared_ptr<arrow::Buffer>> encode(const arrow::RecordBatch& rows, int64_t offset, int64_t length) const;

 protected:
  // One format's encoding of a valid row range; may throw (Arrow, Parquet, bad_alloc).
  virtual Result<std::shared_ptr<arrow::Buffer>> encode_rows(const arrow::RecordBatch& rows, int64_t offset,
                                                             int64_t length) const = 0;

  // The bytes to reserve for a file of `rows` rows: 64 KiB plus an eighth more than the bytes
  // per row of this encoder's recent files (a running average, so one file of huge rows moves it
  // by an eighth), `first_guess_per_row` before the first file, and never more than 64 MiB
  // (beyond that the buffer grows as it fills). Growing an output buffer copies it: with 10 KB
  // events a 5,000-row CSV file grew from its first guess through eight doublings.
  int64_t output_capacity(int64_t rows, int64_t first_guess_per_row) const;

 private:
  // The running average of bytes per row, in 1/kRowBytesScale bytes; 0 before the first file.
  static constexpr int64_t kRowBytesScale = 256;
  mutable std::atomic<int64_t> bytes_per_row_{0};
};

std::unique_ptr<FileEncoder> make_parquet_encoder(Compression compression);
std::unique_ptr<FileEncoder> make_csv_encoder();

// The dead-letter file of one batch: one JSON object per line, in the order given,
//   {"topic":"events","partition":0,"offset":42,"timestamp":"2025-11-06T12:30:00.123Z",
//    "reason":"...","payload":"<raw bytes>","payload_base64":null}
// "timestamp" is the Kafka message timestamp (ISO 8601 UTC, milliseconds) or null when the
// broker gave none. The payload round-trips byte for byte: when it is valid UTF-8 it is the JSON
// string "payload" (and "payload_base64" is null); otherwise "payload" is null and
// "payload_base64" holds the bytes in standard base64 with padding. Both keys are always
// present, so every line has the same shape for DuckDB's read_json and Spark's json reader.
std::string encode_dead_letter(std::string_view topic, const std::vector<BadRecord>& bad);

// What Spark's console sink prints for a batch (DataFrame.show(max_rows, truncate)):
//   -------------------------------------------
//   Batch: 7
//   -------------------------------------------
//   +--------+--------------------+-----+
//   |event_id|                  ts|value|
//   +--------+--------------------+-----+
//   |       a|2025-11-06 12:30:...|  1.5|
//   +--------+--------------------+-----+
//   only showing top 20 rows
// With `truncate` (Spark's default) values are right-aligned and any value longer than 20
// characters is cut to 17 + "..." — timestamps with a fraction too, as in Spark; without it
// values are whole and left-aligned (Spark's console option truncate=false). Null as "NULL"
// (Spark 3.5; 3.4 printed "null"); nested values as Spark shows them: struct "{7, [a, b]}",
// array "[a, NULL]", map "{k -> v}", binary "[01 02 FF]", decimals exactly ("12.30");
// timestamps "2025-11-06 12:30:00.123" (UTC, trailing zeros dropped); doubles as Java prints
// them ("1.0", "1.0E10", "NaN"); \n, \t, \r escaped so a value never breaks the table; East
// Asian wide characters count as two columns. The text ends with a newline.
std::string format_console_table(int64_t batch_id, const arrow::RecordBatch& rows, int max_rows = 20,
                                 bool truncate = true);

// Chooses Arrow's allocator (the system's, glibc malloc) unless ARROW_DEFAULT_MEMORY_POOL is
// set, and returns the one in use. Call before anything else uses Arrow: it picks its default
// allocator once.
std::string select_arrow_memory_pool();

}  // namespace kpipe
