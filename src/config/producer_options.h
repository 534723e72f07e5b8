// Every setting of `kpipe produce`, validated once at start-up. Precedence:
// command-line flags > environment > .env file > the defaults below.
// The environment/.env names are the seed's (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, MSGS_PER_SEC);
// the rest are command-only flags, so one .env serves `kpipe stream` and `kpipe produce`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/settings.h"

namespace kpipe {

struct ProducerOptions {
  std::string bootstrap_servers = "localhost:9092";  // KAFKA_BOOTSTRAP_SERVERS, --bootstrap-servers: host:port,...
  std::string topic = "events";                      // KAFKA_TOPIC, --topic
  double rate = 5;              // MSGS_PER_SEC, --rate: messages per second, spread evenly; 0 = as fast as possible
  int64_t count = 0;            // --count: stop after this many messages; 0 = no limit
  double duration_seconds = 0;  // --duration: stop sending after this many seconds; 0 = no limit
  std::string input_path;       // --input: JSON-lines file to send line by line, "-" = stdin, "" = generate events
  std::string source = "kpipe-producer";  // --source: the "source" field of generated events
  double timeout_seconds = 30;  // --timeout: give up after this many seconds without a delivery while messages
                                //   wait (also librdkafka's message.timeout.ms); > 0
  std::string status_addr;      // --status-addr: host:port for a status endpoint, "" = off (not served yet)
  std::vector<std::pair<std::string, std::string>> kafka_props;  // --kafka-prop key=value, repeatable, applied last
  std::vector<std::pair<std::string, std::string>> effective;    // every setting as resolved, secrets masked
};

const std::vector<SettingSpec>& producer_setting_specs();
Result<ProducerOptions> load_producer_options(const Settings& settings);

// Splits the values of a repeatable key=value setting ("--kafka-prop acks=all").
Result<std::vector<std::pair<std::string, std::string>>> parse_key_values(const Settings& settings,
                                                                          std::string_view name);

}  // namespace kpipe
