// librdkafka configuration and error-reporting helpers shared by the producer and the source.
//
// librdkafka reports a broker it cannot reach through its error callback, every time it retries,
// in its own words ("127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection
// refused (after 0ms in state CONNECT)"). KafkaErrorLog turns that into one readable line
// ("kafka: cannot reach 127.0.0.1:1 (Connection refused); retrying"), prints it once per
// `repeat_every` rather than on every retry, and remembers the last one for the final message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_s rd_kafka_t;

namespace kpipe {

// Sets one librdkafka property; the error names it: "kafka property linger.ms='x': Invalid value ...".
Status set_kafka_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

// Applies properties in order (kpipe's own first, then the user's --kafka-prop, so the user can
// override any of ours). Stops at the first bad one.
Status apply_kafka_properties(rd_kafka_conf_t* conf, const std::vector<std::pair<std::string, std::string>>& props);

// The same for the user's --kafka-prop list, applied after kpipe's own properties so any of them
// can be overridden; errors name the flag as typed: "--kafka-prop linger.ms=soon: Invalid value ...".
Status apply_user_kafka_props(rd_kafka_conf_t* conf, const std::vector<std::pair<std::string, std::string>>& props);

// One human line for an error callback's (err, reason); see the file comment.
std::string describe_kafka_error(int err, std::string_view reason);

// "2.16.0": the library loaded at run time (cmake/KpipeRdkafka.cmake)
std::string librdkafka_version();

// rd_kafka_consumer_close (for a consumer) and rd_kafka_destroy, with a deadline. librdkafka 2.0.2
// (Debian 12's, linked with -DKPIPE_RDKAFKA=system) can wait for ever in rd_kafka_destroy after a
// topic was deleted and re-created under an assignment (its broker thread never lets go of the
// old partition): past `deadline` the handle is left to the process exit, with a warning naming
// `what`. `keep_alive` (the state the client's callbacks use) lives as long as the handle does.
void destroy_kafka_client(rd_kafka_t* rk, bool close_consumer, std::chrono::milliseconds deadline,
                          std::string_view what, std::shared_ptr<void> keep_alive = nullptr);
// How many clients destroy_kafka_client left behind: the CLI then ends with _Exit, so that no
// static destructor runs under a librdkafka thread still at work.
int abandoned_kafka_clients();

// Thread-safe: librdkafka calls the error and log callbacks from its own threads.
class KafkaErrorLog {
 public:
  explicit KafkaErrorLog(std::string component = "kafka",
                         std::chrono::milliseconds repeat_every = std::chrono::seconds(10));

  // For rd_kafka_conf_set_error_cb: logs describe_kafka_error(err, reason) as a warning.
  // "All brokers are down" is skipped: the failed connects before it named each address.
  void on_error(int err, const char* reason);
  // For rd_kafka_conf_set_log_cb: warnings and errors, except those the error callback reports too.
  void on_log(int level, const char* facility, const char* message);

  // The last described error, "" if none.
  std::string last_error() const;
  // True when the last error was an authentication failure (wrong SASL credentials, SSL
  // handshake refused): retrying with the same settings cannot succeed.
  bool last_error_is_authentication() const;

 private:
  void report(std::string text, bool is_error);

  std::string component_;
  std::chrono::milliseconds repeat_every_;
  mutable std::mutex mu_;
  std::string last_error_;
  int last_error_code_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> last_printed_;
};

}  // namespace kpipe
