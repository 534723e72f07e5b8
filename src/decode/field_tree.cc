#include "decode/field_tree.h"

namespace kpipe {
namespace {

// Structs wider than this look keys up in a hash map instead of scanning their fields.
constexpr uint32_t kLinearLookupFields = 16;

FieldNode node_of(const ColumnSpec& spec) {
  FieldNode node;
  node.name = spec.name;
  node.type = spec.type;
  node.nullable = spec.nullable;
  node.plain_name = spec.name.find_first_of("\"\\") == std::string::npos;
  node.kafka = spec.kafka;
  node.precision = spec.precision;
  node.scale = spec.scale;
  return node;
}

}  // namespace

FieldTree::FieldTree(const std::vector<ColumnSpec>& columns) {
  FieldNode record;
  record.type = ColumnType::kStruct;
  record.nullable = false;
  nodes_.push_back(std::move(record));
  add_children(kRecord, columns);
  // Built last: the views point into nodes_, which no longer grows.
  for (FieldNode& node : nodes_) {
    if (node.type != ColumnType::kStruct || node.child_count <= kLinearLookupFields) continue;
    node.lookup = static_cast<int32_t>(lookups_.size());
    auto& lookup = lookups_.emplace_back();
    for (uint32_t i = 0; i < node.child_count; ++i) lookup.emplace(nodes_[node.first_child + i].name, i);
  }
}

// Breadth first per parent: the children of one node are pushed together, then each is expanded.
void FieldTree::add_children(uint32_t parent, const std::vector<ColumnSpec>& children) {
  const auto first = static_cast<uint32_t>(nodes_.size());
  nodes_[parent].first_child = first;
  nodes_[parent].child_count = static_cast<uint32_t>(children.size());
  for (const ColumnSpec& child : children) {
    nodes_.push_back(node_of(child));
    if (!child.nullable) nodes_[parent].has_required = true;
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (!children[i].children.empty()) add_children(first + static_cast<uint32_t>(i), children[i].children);
  }
}

int64_t FieldTree::find_field(uint32_t node, std::string_view key) const {
  const FieldNode& parent = nodes_[node];
  if (parent.lookup >= 0) {
    const auto& lookup = lookups_[static_cast<size_t>(parent.lookup)];
    const auto it = lookup.find(key);
    return it == lookup.end() ? int64_t{-1} : int64_t{it->second};
  }
  for (uint32_t i = 0; i < parent.child_count; ++i) {
    if (nodes_[parent.first_child + i].name == key) return i;
  }
  return -1;
}

}  // namespace kpipe
