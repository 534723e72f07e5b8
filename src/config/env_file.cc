#include "config/env_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace kpipe {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_eol(char c) { return c == '\n' || c == '\r'; }
bool is_key_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

// A cursor over the file text that keeps the line number for messages.
class EnvParser {
 public:
  EnvParser(std::string_view text, std::string_view file) : text_(text), file_(file) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // editors on Windows add a UTF-8 BOM
  }

  Result<std::vector<EnvEntry>> parse() {
    std::vector<EnvEntry> out;
    while (!at_end()) {
      skip_blanks();
      if (at_end()) break;
      if (is_eol(peek()) || peek() == '#') {
        skip_to_next_line();
        continue;
      }
      auto entry = parse_assignment();
      if (!entry.ok()) return entry.status();
      out.push_back(std::move(entry).value());
    }
    return out;
  }

 private:
  Result<EnvEntry> parse_assignment() {
    EnvEntry e;
    e.line = line_;
    if (text_.substr(pos_, 7) == "export " || text_.substr(pos_, 7) == "export\t") {
      pos_ += 7;
      skip_blanks();
    }
    size_t key_start = pos_;
    while (!at_end() && !is_eol(peek()) && !is_blank(peek()) && peek() != '=') ++pos_;
    e.key = std::string(text_.substr(key_start, pos_ - key_start));
    if (e.key.empty()) return error("a line starts with '=': expected KEY=VALUE");
    if (!is_key_start(e.key[0]) || !std::all_of(e.key.begin(), e.key.end(), is_key_char)) {
      return error("'" + e.key + "' is not a valid variable name (letters, digits, '_', '.', '-')");
    }
    skip_blanks();
    if (at_end() || peek() != '=') return error("expected KEY=VALUE, found '" + current_line_text(key_start) + "'");
    ++pos_;
    skip_blanks();
    if (!at_end() && (peek() == '\'' || peek() == '"')) {
      const char quote = peek();
      const int opened_on = line_;
      ++pos_;
      auto value = quote == '\'' ? read_single_quoted() : read_double_quoted();
      if (!value) {
        line_ = opened_on;
        return error(std::string("the ") + (quote == '\'' ? "single" : "double") +
                     " quote opened here is never closed");
      }
      e.value = std::move(*value);
      skip_blanks();
      if (!at_end() && !is_eol(peek()) && peek() != '#') {
        return error("unexpected text after the closing quote of " + e.key);
      }
      skip_to_next_line();
      return e;
    }
    e.value = read_unquoted();
    skip_to_next_line();
    return e;
  }

  std::optional<std::string> read_single_quoted() {
    std::string v;
    while (!at_end() && peek() != '\'') take_char(v);
    if (at_end()) return std::nullopt;
    ++pos_;
    return v;
  }

  std::optional<std::string> read_double_quoted() {
    std::string v;
    while (!at_end() && peek() != '"') {
      if (peek() == '\\' && pos_ + 1 < text_.size()) {
        char next = text_[pos_ + 1];
        switch (next) {
          case 'n': v.push_back('\n'); break;
          case 'r': v.push_back('\r'); break;
          case 't': v.push_back('\t'); break;
          case '"': v.push_back('"'); break;
          case '\\': v.push_back('\\'); break;
          default:  // an unknown escape stays as written, as Compose does
            v.push_back('\\');
            ++pos_;
            continue;
        }
        pos_ += 2;
        continue;
      }
      take_char(v);
    }
    if (at_end()) return std::nullopt;
    ++pos_;
    return v;
  }

  // Up to the end of the line; a '#' after whitespace starts a comment ("5000   # max").
  std::string read_unquoted() {
    size_t start = pos_;
    size_t end = pos_;
    while (end < text_.size() && !is_eol(text_[end])) {
      if (text_[end] == '#' && is_blank(text_[end - 1])) break;  // end > 0: there is a '=' before
      ++end;
    }
    pos_ = end;
    while (end > start && is_blank(text_[end - 1])) --end;
    return std::string(text_.substr(start, end - start));
  }

  // Keeps "\r\n" inside a quoted value as "\n", so a file saved on Windows reads the same.
  void take_char(std::string& v) {
    char c = text_[pos_++];
    if (c == '\r' && !at_end() && peek() == '\n') c = text_[pos_++];
    if (c == '\n') ++line_;
    v.push_back(c);
  }

  void skip_blanks() {
    while (!at_end() && is_blank(peek())) ++pos_;
  }
  void skip_to_next_line() {
    while (!at_end() && peek() != '\n') ++pos_;
    if (!at_end()) {
      ++pos_;
      ++line_;
    }
  }
  std::string current_line_text(size_t from) const {
    size_t end = from;
    while (end < text_.size() && !is_eol(text_[end])) ++end;
    return std::string(text_.substr(from, end - from));
  }

  Status error(const std::string& what) const {
    return Status::fatal(std::string(file_) + ":" + std::to_string(line_) + ": " + what);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  std::string_view text_;
  std::string_view file_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Result<std::vector<EnvEntry>> parse_env_entries(std::string_view text, std::string_view file_name_for_errors) {
  return EnvParser(text, file_name_for_errors).parse();
}

Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(std::string_view text,
                                                                        std::string_view file_name_for_errors) {
  KPIPE_ASSIGN_OR_RETURN(auto entries, parse_env_entries(text, file_name_for_errors));
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(entries.size());
  for (auto& e : entries) out.emplace_back(std::move(e.key), std::move(e.value));
  return out;
}

Result<std::vector<EnvEntry>> read_env_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::fatal("cannot read the env file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::fatal("cannot read the env file '" + path + "': read error");
  return parse_env_entries(text.str(), path);
}

}  // namespace kpipe
