// The schema tree (ColumnSpec) flattened into one array for the decoder's hot path: the parser
// and the row appender walk nodes by index instead of chasing ColumnSpec children.
//
// nodes[0] is the record itself, a STRUCT whose fields are the top-level columns, so a top-level
// column i is node i + 1 and the record is read like any nested struct. A node's children are
// contiguous: a STRUCT's fields, an ARRAY's element, a MAP's key then value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "decode/schema.h"

namespace kpipe {

struct FieldNode {
  std::string name;  // "element", "key" and "value" for the children of ARRAY and MAP
  ColumnType type = ColumnType::kString;
  bool nullable = true;
  bool plain_name = true;     // no '"' or '\': a JSON key without escapes equals it iff the raw bytes do
  bool has_required = false;  // STRUCT: some field is NOT NULL
  KafkaField kafka = KafkaField::kNone;
  int precision = 0;  // DECIMAL
  int scale = 0;      // DECIMAL
  uint32_t first_child = 0;
  uint32_t child_count = 0;
  int32_t lookup = -1;  // a wide STRUCT: its index in FieldTree::lookups; -1 = scan the fields
};

class FieldTree {
 public:
  explicit FieldTree(const std::vector<ColumnSpec>& columns);
  // lookups hold views of the nodes' names: never copied or moved.
  FieldTree(const FieldTree&) = delete;
  FieldTree& operator=(const FieldTree&) = delete;

  static constexpr uint32_t kRecord = 0;

  const FieldNode& node(uint32_t index) const { return nodes_[index]; }
  size_t size() const { return nodes_.size(); }
  // The child of STRUCT `node` whose name is exactly `key`; -1 if none.
  int64_t find_field(uint32_t node, std::string_view key) const;

 private:
  void add_children(uint32_t parent, const std::vector<ColumnSpec>& children);

  std::vector<FieldNode> nodes_;
  std::vector<std::unordered_map<std::string_view, uint32_t>> lookups_;  // name → child index
};

}  // namespace kpipe
