#include "config/producer_options.h"

#include <limits>

namespace kpipe {
namespace {

constexpr double kNoMax = std::numeric_limits<double>::max();
// librdkafka's message.timeout.ms is an int32 of milliseconds.
constexpr double kMaxTimeoutSeconds = 2'000'000;

}  // namespace

const std::vector<SettingSpec>& producer_setting_specs() {
  static const std::vector<SettingSpec> specs = {
      {"KAFKA_BOOTSTRAP_SERVERS",
       "localhost:9092",
       "Kafka brokers to write to (host:port,...)",
       {"--bootstrap-servers"}},
      {"KAFKA_TOPIC", "events", "topic to write to", {"--topic"}},
      {"MSGS_PER_SEC",
       "5",
       "messages per second, spread evenly over each second (0 = as fast as possible)",
       {"--rate"}},
      {"COUNT", "0", "stop after this many messages (0 = no limit)", {"--count"}, false, false, false},
      {"DURATION", "0", "stop sending after this many seconds (0 = no limit)", {"--duration"}, false, false, false},
      {"INPUT",
       "",
       "send each non-empty line of this file (or - for stdin) as one message, instead of random events",
       {"--input"},
       false,
       false,
       false},
      {"SOURCE", "kpipe-producer", "the \"source\" field of generated events", {"--source"}, false, false, false},
      {"TIMEOUT",
       "30",
       "seconds without any delivery (while messages wait) before giving up with an error",
       {"--timeout"},
       false,
       false,
       false},
      {"PRODUCER_STATUS_ADDR",
       "",
       "host:port serving the producer's Prometheus /metrics (sent, delivered, failed, rate); empty or off = none",
       {"--status-addr"},
       false,
       false,
       false},
      {"KAFKA_PROP",
       "",
       "librdkafka property key=value, applied last, e.g. security.protocol=SASL_SSL",
       {"--kafka-prop"},
       false,
       true,
       false},
  };
  return specs;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_key_values(const Settings& settings,
                                                                          std::string_view name) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : settings.get_list(name)) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::fatal(Settings::flag_for_name(name) + " '" + kv +
                           "': expected key=value, e.g. --kafka-prop security.protocol=SASL_SSL");
    }
    out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

Result<ProducerOptions> load_producer_options(const Settings& s) {
  ProducerOptions o;
  KPIPE_ASSIGN_OR_RETURN(o.bootstrap_servers, s.get_non_empty("KAFKA_BOOTSTRAP_SERVERS"));
  KPIPE_ASSIGN_OR_RETURN(o.topic, s.get_non_empty("KAFKA_TOPIC"));
  KPIPE_ASSIGN_OR_RETURN(o.rate, s.get_double("MSGS_PER_SEC", 0, kNoMax));
  KPIPE_ASSIGN_OR_RETURN(o.count, s.get_int("COUNT", 0, INT64_MAX));
  KPIPE_ASSIGN_OR_RETURN(o.duration_seconds, s.get_double("DURATION", 0, kNoMax));
  o.input_path = s.get("INPUT");
  o.source = s.get("SOURCE");
  KPIPE_ASSIGN_OR_RETURN(o.timeout_seconds, s.get_double("TIMEOUT", 0.001, kMaxTimeoutSeconds));
  o.status_addr = s.get("PRODUCER_STATUS_ADDR");
  KPIPE_ASSIGN_OR_RETURN(o.kafka_props, parse_key_values(s, "KAFKA_PROP"));
  o.effective = s.effective();
  return o;
}

}  // namespace kpipe
