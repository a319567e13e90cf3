#!/usr/bin/env bash
# Runs an Apache Kafka CLI tool from the jars fetched by scripts/kafka.sh (.local/kafka/libs),
# like the bin/kafka-*.sh scripts of a Kafka distribution do.
#
#   scripts/kafka-tool.sh NAME [ARGS...]
#   scripts/kafka-tool.sh topics --bootstrap-server 127.0.0.1:9092 --describe --topic events
#   scripts/kafka-tool.sh consumer-groups --bootstrap-server 127.0.0.1:9092 --describe --group logagg
#
# NAME may also be spelled like the distribution's script (kafka-topics, kafka-topics.sh) or
# be a fully qualified main class. `scripts/kafka-tool.sh list` prints the names.
# JVM options: LOGAGG_KAFKA_TOOL_OPTS (default: small heap, fast start-up).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

TOOLS="
topics                 org.apache.kafka.tools.TopicCommand
consumer-groups        org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
console-producer       org.apache.kafka.tools.ConsoleProducer
console-consumer       org.apache.kafka.tools.consumer.ConsoleConsumer
get-offsets            org.apache.kafka.tools.GetOffsetShell
configs                kafka.admin.ConfigCommand
delete-records         org.apache.kafka.tools.DeleteRecordsCommand
log-dirs               org.apache.kafka.tools.LogDirsCommand
metadata-quorum        org.apache.kafka.tools.MetadataQuorumCommand
broker-api-versions    org.apache.kafka.tools.BrokerApiVersionsCommand
cluster                org.apache.kafka.tools.ClusterTool
features               org.apache.kafka.tools.FeatureCommand
groups                 org.apache.kafka.tools.GroupsCommand
transactions           org.apache.kafka.tools.TransactionsCommand
leader-election        org.apache.kafka.tools.LeaderElectionCommand
reassign-partitions    org.apache.kafka.tools.reassign.ReassignPartitionsCommand
acls                   org.apache.kafka.tools.AclCommand
producer-perf-test     org.apache.kafka.tools.ProducerPerformance
consumer-perf-test     org.apache.kafka.tools.ConsumerPerformance
dump-log               kafka.tools.DumpLogSegments
storage                kafka.tools.StorageTool
"

usage() {
  {
    echo "usage: $0 NAME [ARGS...]"
    echo "names:"
    printf '%s\n' "$TOOLS" | awk 'NF {printf "  %-22s %s\n", $1, $2}'
  } >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
name="$1"
shift
name="${name%.sh}"
name="${name#kafka-}"

case "$name" in
  -h | --help | help | list) usage ;;
  *.*) class="$name" ;; # fully qualified class name
  *)
    class="$(printf '%s\n' "$TOOLS" | awk -v n="$name" '$1 == n {print $2}')"
    [[ -n "$class" ]] || {
      echo "unknown Kafka tool: $name" >&2
      usage
    }
    ;;
esac

if ! compgen -G "$KAFKA_LIBS/kafka-tools-*.jar" >/dev/null; then
  die "Kafka jars not found in $KAFKA_LIBS; run scripts/kafka.sh start (or make up) first"
fi

log4j="$KAFKA_CONFIG_DIR/tools-log4j2.xml"
if [[ ! -f "$log4j" ]]; then
  mkdir -p "$KAFKA_CONFIG_DIR"
  cat >"$log4j.tmp.$$" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" name="logagg-kafka-tools">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers><Root level="WARN"><AppenderRef ref="stderr"/></Root></Loggers>
</Configuration>
EOF
  mv "$log4j.tmp.$$" "$log4j"
fi

case "$name" in
  *perf-test) default_opts="-Xmx512m" ;;                                 # long-running: full JIT
  *) default_opts="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1" ;; # short-lived: start fast
esac

# shellcheck disable=SC2086
exec java ${LOGAGG_KAFKA_TOOL_OPTS:-$default_opts} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j" \
  -cp "$KAFKA_LIBS/*" "$class" "$@"
