#include "config/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <stdexcept>
#include <system_error>

#include "common/strings.h"
#include "config/env_file.h"

namespace kpipe {
namespace {

constexpr std::string_view kDefaultEnvFile = ".env";

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// 2000000 rather than to_chars' shortest "2e+06", which reads badly in a message.
std::string number_text(double v) {
  char buf[64];
  auto r = std::abs(v) < 1e15 && v == std::floor(v) ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                                                    : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool contains_secret_word(std::string_view text) {
  std::string lower = ascii_lower(text);
  for (std::string_view word : {"password", "secret", "token", "jaas"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

// "sasl.password=hunter2" → "sasl.password=***"; other items unchanged.
std::string mask_item(const std::string& item) {
  auto eq = item.find('=');
  if (eq != std::string::npos && contains_secret_word(item.substr(0, eq))) return item.substr(0, eq + 1) + "***";
  return item;
}

// One flag occurrence from the command line, applied after the .env and environment layers.
struct FlagUse {
  size_t entry;
  std::string flag;
  std::string value;
};

}  // namespace

std::optional<std::string> real_getenv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string Settings::flag_for_name(std::string_view name) {
  std::string flag = "--" + ascii_lower(name);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

Result<Settings> Settings::load(const std::vector<SettingSpec>& specs, const std::vector<std::string>& args,
                                Getenv getenv) {
  return load("kpipe", specs, args, std::move(getenv));
}

Result<Settings> Settings::load(std::string_view command, const std::vector<SettingSpec>& specs,
                                const std::vector<std::string>& args, Getenv getenv) {
  Settings s;
  std::map<std::string, size_t, std::less<>> by_flag;
  for (const auto& spec : specs) {
    size_t index = s.entries_.size();
    Entry e;
    e.spec = spec;
    e.value = spec.default_value;
    if (spec.repeatable && !spec.default_value.empty()) e.list.push_back(spec.default_value);
    e.origin = "default";
    s.entries_.push_back(std::move(e));
    std::vector<std::string> flags = spec.flags;
    flags.push_back(flag_for_name(spec.name));
    for (const auto& f : flags) {
      auto [it, inserted] = by_flag.emplace(f, index);
      if (!inserted && it->second != index) throw std::logic_error("two settings share the flag " + f);
    }
  }

  const std::string see_help = " (see '" + std::string(command) + " --help')";
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      s.help_requested_ = true;
      return s;
    }
  }

  std::optional<std::string> env_file;
  std::vector<FlagUse> uses;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      return Status::fatal("unexpected argument '" + arg + "'" + see_help);
    }
    auto eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    std::optional<std::string> inline_value;
    if (eq != std::string::npos) inline_value = arg.substr(eq + 1);

    auto value_of_next = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) return args[++i];
      return std::nullopt;
    };

    if (flag == "--env-file") {
      env_file = value_of_next();
      if (!env_file) return Status::fatal("flag '--env-file' needs a value" + see_help);
      continue;
    }
    auto it = by_flag.find(flag);
    if (it == by_flag.end()) return Status::fatal("unknown flag '" + flag + "'" + see_help);
    const SettingSpec& spec = s.entries_[it->second].spec;
    std::optional<std::string> value =
        spec.is_switch ? std::optional<std::string>(inline_value.value_or("true")) : value_of_next();
    if (!value) return Status::fatal("flag '" + flag + "' needs a value" + see_help);
    uses.push_back({it->second, flag, std::move(*value)});
  }

  // The .env layer. The default file is optional; one named with --env-file must exist.
  std::string env_path = env_file.value_or(std::string(kDefaultEnvFile));
  std::error_code ec;
  if (env_file || std::filesystem::exists(env_path, ec)) {
    KPIPE_ASSIGN_OR_RETURN(auto entries, read_env_file(env_path));
    for (auto& kv : entries) {
      Entry* e = s.find(kv.key);
      if (e == nullptr || !e->spec.from_environment) continue;
      e->value = kv.value;
      e->list.clear();
      if (!kv.value.empty()) e->list.push_back(kv.value);
      e->source = ".env";
      e->origin = env_path + ":" + std::to_string(kv.line);
    }
  }

  for (auto& e : s.entries_) {
    if (!e.spec.from_environment || !getenv) continue;
    auto v = getenv(e.spec.name);
    if (!v) continue;
    e.value = *v;
    e.list.clear();
    if (!v->empty()) e.list.push_back(*v);
    e.source = "environment";
    e.origin = "environment";
  }

  std::vector<bool> seen_flag(s.entries_.size(), false);
  for (auto& use : uses) {
    Entry& e = s.entries_[use.entry];
    if (!seen_flag[use.entry]) e.list.clear();  // flags replace a lower layer's list as a whole
    seen_flag[use.entry] = true;
    e.value = use.value;
    e.list.push_back(use.value);
    e.source = "flag";
    e.origin = "flag " + use.flag;
  }
  return s;
}

Settings::Entry* Settings::find(std::string_view name) {
  for (auto& e : entries_) {
    if (e.spec.name == name) return &e;
  }
  return nullptr;
}

const Settings::Entry& Settings::entry(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.spec.name == name) return e;
  }
  throw std::out_of_range("no setting named " + std::string(name));
}

const std::string& Settings::get(std::string_view name) const { return entry(name).value; }

std::string_view Settings::source(std::string_view name) const { return entry(name).source; }

const std::vector<std::string>& Settings::get_list(std::string_view name) const { return entry(name).list; }

Status Settings::bad_value(const Entry& e, std::string_view why) const {
  return Status::fatal(e.spec.name + "='" + e.value + "' (" + (e.origin == "default" ? "default" : "from " + e.origin) +
                       "): " + std::string(why));
}

Status Settings::invalid(std::string_view name, std::string_view why) const { return bad_value(entry(name), why); }

Result<int64_t> Settings::get_int(std::string_view name, int64_t min, int64_t max) const {
  const Entry& e = entry(name);
  std::string_view text = trim(e.value);
  int64_t v = 0;
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || err != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    if (max == std::numeric_limits<int64_t>::max()) {
      return bad_value(e, "must be a whole number >= " + std::to_string(min));
    }
    return bad_value(e, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

Result<int64_t> Settings::get_bytes(std::string_view name, int64_t min, int64_t max) const {
  const Entry& e = entry(name);
  std::string_view text = trim(e.value);
  int64_t v = 0;
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  const std::string unit = ascii_lower(trim(text.substr(static_cast<size_t>(ptr - text.data()))));
  int shift = -1;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  }
  const bool fits = shift >= 0 && v >= 0 && v <= (max >> shift);
  if (text.empty() || err != std::errc() || !fits || (v << shift) < min) {
    return bad_value(e, "must be a byte count from " + std::to_string(min) + " to " + std::to_string(max) +
                            " (a whole number, or with a unit: 64m, 1536 KiB, 1g)");
  }
  return v << shift;
}

Result<double> Settings::get_double(std::string_view name, double min, double max) const {
  const Entry& e = entry(name);
  std::string_view text = trim(e.value);
  double v = 0;
  auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || err != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v) || v < min ||
      v > max) {
    if (max >= 1e300) return bad_value(e, "must be a number >= " + number_text(min));
    return bad_value(e, "must be a number from " + number_text(min) + " to " + number_text(max));
  }
  return v;
}

Result<bool> Settings::get_bool(std::string_view name) const {
  const Entry& e = entry(name);
  std::string v = ascii_lower(trim(e.value));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return bad_value(e, "must be true or false");
}

Result<std::string> Settings::get_choice(std::string_view name, std::initializer_list<std::string_view> choices) const {
  const Entry& e = entry(name);
  std::string v = ascii_lower(trim(e.value));
  std::string list;
  for (auto c : choices) {
    if (v == c) return v;
    if (!list.empty()) list += ", ";
    list += c;
  }
  return bad_value(e, "must be one of " + list);
}

Result<std::string> Settings::get_non_empty(std::string_view name) const {
  const Entry& e = entry(name);
  std::string_view v = trim(e.value);
  if (v.empty()) return bad_value(e, "must not be empty");
  return std::string(v);
}

std::vector<std::pair<std::string, std::string>> Settings::effective() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : entries_) {
    std::string value;
    if (contains_secret_word(e.spec.name) && !e.value.empty()) {
      value = "***";
    } else if (e.spec.repeatable) {
      for (const auto& item : e.list) {
        if (!value.empty()) value += ", ";
        value += mask_item(item);
      }
    } else {
      value = e.value;
    }
    out.emplace_back(e.spec.name, std::move(value));
  }
  return out;
}

std::string Settings::help_text(std::string_view usage_line, const std::vector<SettingSpec>& specs) {
  std::string out(usage_line);
  out +=
      "\n\nSettings (flags > environment > .env file > defaults; every setting also has a flag named\n"
      "after it, e.g. KAFKA_TOPIC → --kafka-topic):\n";
  for (const auto& spec : specs) {
    std::string flags;
    for (const auto& f : spec.flags.empty() ? std::vector<std::string>{flag_for_name(spec.name)} : spec.flags) {
      if (!flags.empty()) flags += ", ";
      flags += f;
    }
    if (!spec.is_switch) flags += spec.repeatable ? " VALUE (repeatable)" : " VALUE";
    out += "  " + flags + "\n      " + spec.help;
    std::string where;
    if (spec.from_environment) where = "env " + spec.name;
    if (!spec.default_value.empty()) {
      if (!where.empty()) where += ", ";
      where += "default " + spec.default_value;
    }
    if (!where.empty()) out += "  [" + where + "]";
    out += "\n";
  }
  out += "  --env-file PATH\n      read settings from PATH instead of ./.env (which is optional)\n";
  out += "  -h, --help\n      show this help\n";
  return out;
}

}  // namespace kpipe
