// The status page's files (web/ and uPlot from node_modules), embedded in the binary at build
// time by src/status/embed_assets.cmake. The views point into static storage: valid forever.
#pragma once

#include <string_view>

namespace kpipe {

struct WebAsset {
  std::string_view name;          // "index.html", "app.js", "style.css", "uPlot.min.js", ...
  std::string_view content_type;  // with charset for text
  std::string_view body;
  std::string_view etag;  // quoted, for If-None-Match
};

// The asset called exactly `name`, or nullptr. Names never contain '/', so no path can escape.
const WebAsset* find_web_asset(std::string_view name);

}  // namespace kpipe
