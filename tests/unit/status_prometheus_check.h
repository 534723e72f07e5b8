// A strict checker of the Prometheus text exposition format 0.0.4, for the status tests:
// every line is a HELP, a TYPE or a sample matching the grammar; every sample's family has
// HELP and TYPE before its first sample; a family's samples are contiguous; counters end in
// _total; summaries' samples are <name>{quantile=...}, <name>_sum and <name>_count;
// values are floats (NaN, +Inf, -Inf allowed); no series appears twice.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace kpipe::testing_prom {

struct Exposition {
  std::map<std::string, double> samples;     // "name{k=\"v\",...}" exactly as written → value
  std::map<std::string, std::string> types;  // family → type
  std::map<std::string, std::string> help;   // family → help text
  std::vector<std::string> errors;

  bool ok() const { return errors.empty(); }
  std::string error_text() const {
    std::string out;
    for (const auto& e : errors) out += e + "\n";
    return out;
  }
  bool has(const std::string& series) const { return samples.count(series) != 0; }
  double value(const std::string& series) const {
    auto it = samples.find(series);
    return it == samples.end() ? std::nan("") : it->second;
  }
};

inline bool is_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

inline bool is_label_name(std::string_view s) {
  if (s.empty() || s.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

inline std::optional<double> parse_value(const std::string& s) {
  if (s == "NaN") return std::nan("");
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return std::nullopt;
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

inline Exposition check_exposition(const std::string& text) {
  Exposition out;
  auto err = [&](size_t line_no, const std::string& line, const std::string& why) {
    out.errors.push_back("line " + std::to_string(line_no) + ": " + why + ": " + line);
  };
  if (!text.empty() && text.back() != '\n') out.errors.push_back("the body must end with a newline");

  std::set<std::string> finished;  // families whose samples ended (a later sample is an error)
  std::string current;             // family of the previous sample line
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) {
      err(n, line, "empty line");
      continue;
    }
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name;
      words >> hash >> kind >> name;
      if (hash != "#") {
        err(n, line, "a comment starts with '# '");
        continue;
      }
      if (kind != "HELP" && kind != "TYPE") continue;  // other comments are allowed
      if (!is_metric_name(name)) {
        err(n, line, "bad metric name in " + kind);
        continue;
      }
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (kind == "HELP") {
        if (out.help.count(name)) err(n, line, "second HELP for " + name);
        if (rest.empty()) err(n, line, "empty HELP");
        out.help[name] = rest;
      } else {
        static const std::set<std::string> kTypes = {"counter", "gauge", "summary", "histogram", "untyped"};
        if (!kTypes.count(rest)) err(n, line, "unknown TYPE '" + rest + "'");
        if (out.types.count(name)) err(n, line, "second TYPE for " + name);
        if (finished.count(name) || current == name) err(n, line, "TYPE after samples of " + name);
        out.types[name] = rest;
        if (rest == "counter" && !(name.size() > 6 && name.substr(name.size() - 6) == "_total")) {
          err(n, line, "a counter's name must end in _total");
        }
      }
      continue;
    }

    // name{label="value",...} value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    std::string name = line.substr(0, i);
    if (!is_metric_name(name)) {
      err(n, line, "bad metric name");
      continue;
    }
    std::string labels_text;
    std::map<std::string, std::string> labels;
    bool bad = false;
    if (i < line.size() && line[i] == '{') {
      size_t start = i;
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          bad = true;
          break;
        }
        std::string lname = line.substr(i, eq - i);
        if (!is_label_name(lname) || labels.count(lname)) {
          bad = true;
          break;
        }
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          bad = true;
          break;
        }
        ++i;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size()) {
              bad = true;
              break;
            }
            char e = line[i + 1];
            if (e == 'n')
              value.push_back('\n');
            else if (e == '\\' || e == '"')
              value.push_back(e);
            else {
              bad = true;
              break;
            }
            i += 2;
          } else {
            value.push_back(line[i++]);
          }
        }
        if (bad || i >= line.size()) {
          bad = true;
          break;
        }
        ++i;  // closing quote
        labels[lname] = value;
        if (i < line.size() && line[i] == ',')
          ++i;
        else if (i < line.size() && line[i] != '}') {
          bad = true;
          break;
        }
      }
      if (bad || i >= line.size()) {
        err(n, line, "bad label set");
        continue;
      }
      ++i;  // '}'
      labels_text = line.substr(start, i - start);
    }
    if (i >= line.size() || line[i] != ' ') {
      err(n, line, "expected a space before the value");
      continue;
    }
    std::string rest = line.substr(i + 1);
    std::string value_text = rest, ts;
    if (size_t sp = rest.find(' '); sp != std::string::npos) {
      value_text = rest.substr(0, sp);
      ts = rest.substr(sp + 1);
    }
    auto value = parse_value(value_text);
    if (!value) {
      err(n, line, "value is not a number");
      continue;
    }
    if (!ts.empty() && ts.find_first_not_of("-0123456789") != std::string::npos) {
      err(n, line, "bad timestamp");
      continue;
    }

    // Which family does the sample belong to?
    std::string family = name;
    for (const char* suffix : {"_sum", "_count", "_bucket"}) {
      std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        std::string base = name.substr(0, name.size() - s.size());
        auto t = out.types.find(base);
        if (t != out.types.end() && (t->second == "summary" || t->second == "histogram")) family = base;
      }
    }
    if (!out.types.count(family)) err(n, line, "no TYPE before the first sample of " + family);
    if (!out.help.count(family)) err(n, line, "no HELP before the first sample of " + family);
    if (family != current) {
      if (finished.count(family)) err(n, line, "samples of " + family + " are not together");
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    const std::string& type = out.types[family];
    if (type == "summary" && name == family && !labels.count("quantile"))
      err(n, line, "summary sample without quantile");
    if (type == "histogram" && name == family) err(n, line, "histogram sample without a suffix");
    std::string key = name + labels_text;
    if (out.samples.count(key)) err(n, line, "series appears twice");
    out.samples[key] = *value;
  }
  return out;
}

}  // namespace kpipe::testing_prom
