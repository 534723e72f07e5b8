#!/bin/sh
# Kafka's TopicCommand, as the official image's kafka-topics.sh runs it; log lines to stderr only.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.properties \
  -Dkpipe.log.level=WARN -Dkpipe.log.target=SYSTEM_ERR -cp "/opt/kafka/libs/*" \
  org.apache.kafka.tools.TopicCommand "$@"
