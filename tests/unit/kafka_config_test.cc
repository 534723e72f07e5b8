#include "kafka/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using ::testing::HasSubstr;

TEST(DescribeKafkaError, ConnectionRefusedNamesTheAddress) {
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__TRANSPORT,
                                 "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused "
                                 "(after 0ms in state CONNECT)"),
            "cannot reach 127.0.0.1:1 (Connection refused); retrying");
  // librdkafka's suppression counter must not make each retry's text different.
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__TRANSPORT,
                                 "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused "
                                 "(after 1ms in state CONNECT, 4 identical error(s) suppressed)"),
            "cannot reach 127.0.0.1:1 (Connection refused); retrying");
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__TRANSPORT,
                                 "[::1]:9092/bootstrap: Connect to ipv6#[::1]:9092 failed: Connection refused"),
            "cannot reach [::1]:9092 (Connection refused); retrying");
}

TEST(DescribeKafkaError, UnresolvableHost) {
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__RESOLVE,
                                 "nohost.invalid:9092/bootstrap: Failed to resolve 'nohost.invalid:9092': Name or "
                                 "service not known (after 3ms in state CONNECT)"),
            "cannot resolve nohost.invalid:9092 (Name or service not known); retrying");
}

TEST(DescribeKafkaError, OtherErrorsKeepTheReasonAndNameTheCode) {
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"),
            "no broker reachable (1/1 brokers are down); retrying");
  EXPECT_EQ(describe_kafka_error(RD_KAFKA_RESP_ERR__SSL, "ssl handshake failed (after 5ms in state SSL_HANDSHAKE)"),
            "ssl handshake failed (_SSL)");
}

TEST(KafkaProperties, BadPropertyIsNamed) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  EXPECT_TRUE(apply_kafka_properties(conf, {{"linger.ms", "7"}}).ok());
  Status st = apply_kafka_properties(conf, {{"client.id", "x"}, {"no.such.property", "1"}});
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("kafka property no.such.property='1'"));
  EXPECT_THAT(st.message(), HasSubstr("No such configuration property"));
  st = set_kafka_property(conf, "linger.ms", "soon");
  EXPECT_THAT(st.message(), HasSubstr("kafka property linger.ms='soon'"));
  rd_kafka_conf_destroy(conf);
}

TEST(KafkaProperties, UserPropertiesAreNamedAsTyped) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  EXPECT_TRUE(apply_user_kafka_props(conf, {{"linger.ms", "7"}}).ok());
  Status st = apply_user_kafka_props(conf, {{"foo", "bar"}});
  EXPECT_EQ(st.message(), "--kafka-prop foo=bar: No such configuration property: \"foo\"");
  rd_kafka_conf_destroy(conf);
}

TEST(KafkaErrorLog, RemembersTheLastError) {
  KafkaErrorLog log("kafka-test", std::chrono::hours(1));
  EXPECT_EQ(log.last_error(), "");
  log.on_error(RD_KAFKA_RESP_ERR__TRANSPORT, "h:1/bootstrap: Connect to ipv4#h:1 failed: Connection refused");
  EXPECT_EQ(log.last_error(), "cannot reach h:1 (Connection refused); retrying");
  log.on_log(4, "CONFWARN", "a warning does not replace the last error");
  EXPECT_EQ(log.last_error(), "cannot reach h:1 (Connection refused); retrying");
}

// Regression: `kpipe stream` with a wrong SASL password retried forever, saying only "Broker
// transport failure". The source now fails fatally when the last error was an authentication one.
TEST(KafkaErrorLog, StreamRetriedForeverOnWrongCredentials) {
  KafkaErrorLog log("kafka-test", std::chrono::hours(1));
  EXPECT_FALSE(log.last_error_is_authentication());
  log.on_error(RD_KAFKA_RESP_ERR__AUTHENTICATION,
               "sasl_plaintext://h:1/bootstrap: SASL authentication error: Authentication failed: Invalid "
               "username or password (after 3ms in state AUTH_REQ)");
  EXPECT_TRUE(log.last_error_is_authentication());
  EXPECT_EQ(log.last_error(),
            "authentication failed: sasl_plaintext://h:1/bootstrap: SASL authentication error: Authentication "
            "failed: Invalid username or password");
  // A later, different error (the broker went away) is what counts.
  log.on_error(RD_KAFKA_RESP_ERR__TRANSPORT, "h:1/bootstrap: Connect to ipv4#h:1 failed: Connection refused");
  EXPECT_FALSE(log.last_error_is_authentication());
}

TEST(LibrdkafkaVersion, IsTheLinkedOne) { EXPECT_EQ(librdkafka_version(), rd_kafka_version_str()); }

}  // namespace
}  // namespace kpipe
