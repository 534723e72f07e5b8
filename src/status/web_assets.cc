#include "status/web_assets.h"

#include <array>
#include <iterator>

#include "status/kpipe_web_assets.h"  // generated into ${CMAKE_BINARY_DIR}/generated

namespace kpipe {
namespace {

constexpr size_t kCount = std::size(generated::kEmbeddedAssets);

std::array<WebAsset, kCount> make_table() {
  std::array<WebAsset, kCount> table{};
  for (size_t i = 0; i < kCount; ++i) {
    const auto& a = generated::kEmbeddedAssets[i];
    table[i] =
        WebAsset{a.name, a.content_type, std::string_view(reinterpret_cast<const char*>(a.data), a.size), a.etag};
  }
  return table;
}

}  // namespace

const WebAsset* find_web_asset(std::string_view name) {
  static const std::array<WebAsset, kCount> table = make_table();
  for (const auto& a : table) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace kpipe
