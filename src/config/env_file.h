// Reads a `.env` file the way Docker Compose does, so the seed's own file works unchanged.
//
//   # a comment line              blank lines and lines starting with '#' are skipped
//   export KEY=value              an optional `export ` prefix is ignored
//   KEY = value   # comment       key and unquoted value are trimmed; an inline comment starts
//                                 at a '#' preceded by whitespace ("a#b" stays "a#b")
//   KEY='it''s $HOME # literal'   single quotes: everything up to the closing quote, literally
//   KEY="line1\nline2 \"q\" \\"   double quotes: \n \r \t \" \\ escapes; '#' inside is text
//   KEY="spans                    a quoted value may span lines
//   two lines"
//   KEY=                          an empty value (the setting is present and empty)
//
// Not supported, on purpose: `${VAR}` interpolation (a '$' is kept as it is), a bare `KEY`
// line without '=' (an error, so a typo does not silently drop a setting).
// Errors are Status::fatal and name the file and line ("x/.env:3: ...").
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kpipe {

// KEY → VALUE pairs in file order; a key that appears twice appears twice (the later one wins
// when the caller builds a map).
Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(std::string_view text,
                                                                        std::string_view file_name_for_errors);

// One entry with the line it starts on, for messages such as "(from .env:3)".
struct EnvEntry {
  std::string key;
  std::string value;
  int line = 0;
};
Result<std::vector<EnvEntry>> parse_env_entries(std::string_view text, std::string_view file_name_for_errors);

// Reads and parses the file at `path`. A missing or unreadable file is a fatal error naming it.
Result<std::vector<EnvEntry>> read_env_file(const std::string& path);

}  // namespace kpipe
