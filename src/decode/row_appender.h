// Internal to src/decode (RecordDecoder's second half): the Arrow builders of a schema, and the
// walk that appends one parsed record (RecordParser's tape, see record_parser.h) to them along the
// schema tree: a STRUCT's fields to its StructBuilder's children, an ARRAY's elements to its
// ListBuilder's value builder, a MAP's entries to its MapBuilder's key and item builders, at any
// depth.
//
// Builders for every node are created once and kept: finish() hands their buffers to the arrays
// and reserve() sizes them for the next batch from the last one, so a batch's records after the
// first grow them only geometrically, never once per record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <arrow/array/builder_base.h>
#include <arrow/memory_pool.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include "decode/field_tree.h"
#include "decode/record_parser.h"

namespace kpipe {

class RowAppender {
 public:
  // `schema` must be arrow_schema() of the columns `tree` was built from; throws
  // std::invalid_argument when a field's Arrow type does not match its node.
  RowAppender(const FieldTree& tree, const arrow::Schema& schema, arrow::MemoryPool* pool);

  // The builder of top-level column `column`.
  arrow::ArrayBuilder* column_builder(size_t column) const { return columns_[column].get(); }

  // Appends tape[slot], a value of `node` (a top-level column is node column + 1), with all it
  // holds. Fails only if a builder fails (out of memory, Arrow's 2 GiB limits).
  arrow::Status append(uint32_t node, const std::vector<Slot>& tape, uint32_t slot);

  // Approximate bytes the builders hold.
  size_t buffered_bytes() const;
  // Builds one array per top-level column and resets the builders; remembers their sizes.
  arrow::Status finish(arrow::ArrayVector& arrays);
  void reset();
  // Reserves for the next batch what the last one used (bounded), at least `min_rows` rows.
  arrow::Status reserve(int64_t min_rows);

 private:
  void bind(uint32_t node, arrow::ArrayBuilder* builder);
  arrow::Status append_struct(uint32_t node, const std::vector<Slot>& tape, const Slot& slot);
  arrow::Status append_list(uint32_t node, const std::vector<Slot>& tape, const Slot& slot);
  arrow::Status append_map(uint32_t node, const std::vector<Slot>& tape, const Slot& slot);

  const FieldTree& tree_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> columns_;
  std::vector<arrow::ArrayBuilder*> builders_;  // per node; the record (node 0) has none
  std::vector<int64_t> last_length_;            // per node: values in the last batch
  std::vector<int64_t> last_data_bytes_;        // per STRING/BINARY node: bytes in the last batch
};

}  // namespace kpipe
