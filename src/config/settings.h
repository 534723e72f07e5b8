// Settings of one `kpipe` command, from four layers (a later layer wins):
//
//   1. the defaults in the command's SettingSpec list;
//   2. the .env file: `--env-file PATH` when given (missing → error), else ./.env if present;
//   3. the process environment (a variable that is set but empty counts as set: KAFKA_TOPIC=);
//   4. command-line flags: `--topic x`, `--topic=x`, and always `--kafka-topic x` (the name in
//      lower case with dashes), switches without a value (`--once`), repeatable flags kept in order.
//
// Only names in the spec list are read from .env and the environment; other names in the file
// (another command's settings) are ignored, so stream and produce share one .env.
// A command validates once at start-up with the typed getters, whose errors name the setting,
// its value and where the value came from, so the user knows which layer to fix.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kpipe {

struct SettingSpec {
  std::string name;                // env/.env name, e.g. "KAFKA_TOPIC"
  std::string default_value;       // as text, e.g. "events"; "" = empty
  std::string help;                // one line for --help and the README table
  std::vector<std::string> flags;  // e.g. {"--topic"}; every setting ALSO accepts --<name in lower-case with dashes>
  bool is_switch = false;          // a flag without a value (e.g. --once): present → "true"; --once=false also works
  bool repeatable = false;         // e.g. --kafka-prop: every occurrence kept, in order (get_list)
  bool from_environment = true;    // false for command-only flags like --count (not read from env/.env)
};

// std::getenv, as the default source of the environment layer.
std::optional<std::string> real_getenv(const std::string& name);

class Settings {
 public:
  using Getenv = std::function<std::optional<std::string>(const std::string&)>;

  // `args` are the words after the subcommand. Unknown flag, missing value or a positional word
  // → Status::fatal("unknown flag '--foo' (see 'kpipe --help')"). `--help`/`-h` → a Settings
  // with help_requested() true (nothing else is read then).
  static Result<Settings> load(const std::vector<SettingSpec>& specs, const std::vector<std::string>& args,
                               Getenv getenv = real_getenv);
  // The same, naming the command in usage errors: "(see 'kpipe produce --help')".
  static Result<Settings> load(std::string_view command, const std::vector<SettingSpec>& specs,
                               const std::vector<std::string>& args, Getenv getenv = real_getenv);

  bool help_requested() const { return help_requested_; }

  // Raw text of a setting. Asking for a name that is not in the specs is a bug: std::out_of_range.
  const std::string& get(std::string_view name) const;
  // "default" | ".env" | "environment" | "flag"
  std::string_view source(std::string_view name) const;
  // Every value of a repeatable setting, in order (flags replace the lower layers as a whole).
  const std::vector<std::string>& get_list(std::string_view name) const;

  // Typed getters. Errors are Status::fatal naming the setting, its value and its origin:
  // "MSGS_PER_SEC='-5' (from environment): must be a number >= 0".
  Result<int64_t> get_int(std::string_view name, int64_t min, int64_t max) const;
  Result<double> get_double(std::string_view name, double min, double max) const;
  // A byte count: a whole number, or one with a binary unit as Spark takes them (k/kb/kib,
  // m/mb/mib, g/gb/gib, any case, a space allowed: "64m" and "64 MiB" are 67108864).
  Result<int64_t> get_bytes(std::string_view name, int64_t min, int64_t max) const;
  Result<bool> get_bool(std::string_view name) const;  // true/false/1/0/yes/no/on/off, any case
  // The value lower-cased, when it is one of `choices` (given in lower case).
  Result<std::string> get_choice(std::string_view name, std::initializer_list<std::string_view> choices) const;
  // The value without surrounding whitespace; empty or blank is an error.
  Result<std::string> get_non_empty(std::string_view name) const;

  // A fatal error about a setting's current value in the same form as the getters' errors, for
  // checks the getters cannot express: invalid(name, "expected key=value").
  Status invalid(std::string_view name, std::string_view why) const;

  // name → value of every setting, in spec order, for the status page and logs. A repeatable
  // setting's values are joined with ", ". Secrets are masked: a setting whose name contains
  // PASSWORD, SECRET or TOKEN, and key=value items whose key contains password, secret, token
  // or jaas show "***" as the value.
  std::vector<std::pair<std::string, std::string>> effective() const;

  // The --help text: the usage line, then for every setting its flags, env name, default, help.
  static std::string help_text(std::string_view usage_line, const std::vector<SettingSpec>& specs);

  // `--kafka-topic` for KAFKA_TOPIC.
  static std::string flag_for_name(std::string_view name);

 private:
  struct Entry {
    SettingSpec spec;
    std::string value;
    std::vector<std::string> list;
    std::string_view source = "default";
    std::string origin;  // for messages: "environment", ".env:3", "flag --rate"
  };

  const Entry& entry(std::string_view name) const;
  Entry* find(std::string_view name);
  Status bad_value(const Entry& e, std::string_view why) const;

  std::vector<Entry> entries_;
  bool help_requested_ = false;
};

}  // namespace kpipe
