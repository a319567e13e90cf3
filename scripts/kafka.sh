#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller node) on 127.0.0.1:9092, with two
# secured listeners for the security tests (certificates from scripts/certs.sh, advertised as
# localhost because the certificate names only localhost):
#   SASL_SSL on 9094 (LOGAGG_KAFKA_SASL_SSL_PORT), SCRAM-SHA-512/256, user "logagg" with the
#            password in .local/certs/kafka-scram-password (created with kafka-configs);
#   SSL      on 9095 (LOGAGG_KAFKA_MTLS_PORT), client certificate required (mutual TLS).
#
#   scripts/kafka.sh start|stop|restart|status|fetch
#
# start: fetches the Kafka jars from Maven Central with mvn into .local/kafka/libs (once per
#        version), writes the configuration, formats the storage (once), starts the broker in
#        the background, waits until it answers and creates the topic (default "events",
#        6 partitions; LOGAGG_KAFKA_TOPIC / LOGAGG_KAFKA_PARTITIONS). Reuses a running broker.
# fetch: only the jars (and the logging configuration), for scripts/kafka-cluster.sh.
# stop:  SIGTERM, wait (LOGAGG_KAFKA_STOP_TIMEOUT, default 60 s), then SIGKILL. Safe when
#        not running.
# status: exit 0 when running and answering, 3 when not running, 1 when running but not
#        answering.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_MARKER="$KAFKA_LIBS/.logagg-kafka-version"

# pid of our broker, or nothing (a stale pid file is removed).
kafka_pid() {
  local pid
  pid="$(read_pidfile "$KAFKA_PIDFILE")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmdline_has "$pid" "kafka.Kafka" &&
    pid_cmdline_has "$pid" "$KAFKA_PROPERTIES"; then
    printf '%s' "$pid"
    return 0
  fi
  if [[ -f "$KAFKA_PIDFILE" ]]; then
    rm -f "$KAFKA_PIDFILE"
  fi
  return 0
}

# The broker answers a metadata request (kcat is native: no JVM start-up per probe).
broker_answers() {
  kcat -b "$KAFKA_LOCAL_BROKERS" -L -m 5 2>/dev/null | grep -q "broker 1 at $KAFKA_LOCAL_BROKERS"
}

# Number of partitions of $KAFKA_TOPIC (empty when the topic does not exist).
topic_partitions() {
  kcat -b "$KAFKA_LOCAL_BROKERS" -L -m 5 2>/dev/null |
    sed -n "s/^ *topic \"$KAFKA_TOPIC\" with \([0-9]*\) partitions.*/\1/p" | head -n1
}

topic_exists() {
  [[ -n "$(topic_partitions)" ]]
}

ensure_tools() {
  need_cmd kcat kcat
  need_cmd java openjdk-17-jre-headless
}

libs_fingerprint() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$LOGAGG_SCRIPTS/kafka-pom.xml" | cut -c1-16)"
}

fetch_libs() {
  local want
  want="$(libs_fingerprint)"
  if [[ -f "$KAFKA_MARKER" && "$(cat "$KAFKA_MARKER")" == "$want" ]] &&
    compgen -G "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
    return 0
  fi
  need_cmd mvn maven
  info "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mkdir -p "$KAFKA_LOGS"
  local mvnlog="$KAFKA_LOGS/mvn-fetch.log"
  if ! (cd "$LOGAGG_SCRIPTS" && mvn -B -ntp -Dstyle.color=never -f kafka-pom.xml \
    -Dkafka.version="$KAFKA_VERSION" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp") >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    tail_log "$mvnlog" 30
    die "mvn could not fetch Kafka $KAFKA_VERSION (full output in $mvnlog)"
  fi
  compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  printf '%s\n' "$want" >"$tmp/.logagg-kafka-version"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  info "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars"
}

write_tools_log4j() {
  mkdir -p "$KAFKA_CONFIG_DIR"
  cat >"$KAFKA_CONFIG_DIR/tools-log4j2.xml.tmp" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/kafka.sh: logging of the CLI tools (scripts/kafka-tool.sh). -->
<Configuration status="WARN" name="logagg-kafka-tools">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
  mv "$KAFKA_CONFIG_DIR/tools-log4j2.xml.tmp" "$KAFKA_CONFIG_DIR/tools-log4j2.xml"
}

write_config() {
  mkdir -p "$KAFKA_CONFIG_DIR" "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_PROPERTIES" <<EOF
# Written by scripts/kafka.sh (rewritten on every start; edit the script, not this file).
# Single node acting as KRaft controller and broker, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$KAFKA_HOST:$KAFKA_SASL_SSL_PORT,SSL://$KAFKA_HOST:$KAFKA_MTLS_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,SASL_SSL://localhost:$KAFKA_SASL_SSL_PORT,SSL://localhost:$KAFKA_MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL

# Secured listeners (PEM files written by scripts/certs.sh at run time).
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$CERTS_DIR/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS_DIR/ca.pem
listener.name.ssl.ssl.client.auth=required

log.dirs=$KAFKA_DATA
num.partitions=6
auto.create.topics.enable=true
delete.topic.enable=true
$(kafka_replication_properties 1 1)

num.network.threads=3
num.io.threads=4
log.retention.hours=168
log.segment.bytes=1073741824
EOF
  cat >"$KAFKA_CONFIG_DIR/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/kafka.sh: broker logging, into ${sys:kafka.logs.dir}. -->
<Configuration status="WARN" name="logagg-kafka">
  <Properties>
    <Property name="logDir">${sys:kafka.logs.dir}</Property>
    <Property name="pattern">[%d] %p %m (%c)%n</Property>
  </Properties>
  <Appenders>
    <RollingFile name="server" fileName="${logDir}/server.log" filePattern="${logDir}/server.log.%i">
      <PatternLayout pattern="${pattern}"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
    <RollingFile name="controller" fileName="${logDir}/controller.log" filePattern="${logDir}/controller.log.%i">
      <PatternLayout pattern="${pattern}"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
    <RollingFile name="stateChange" fileName="${logDir}/state-change.log" filePattern="${logDir}/state-change.log.%i">
      <PatternLayout pattern="${pattern}"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.controller" level="INFO" additivity="false"><AppenderRef ref="controller"/></Logger>
    <Logger name="org.apache.kafka.controller" level="INFO" additivity="false"><AppenderRef ref="controller"/></Logger>
    <Logger name="state.change.logger" level="INFO" additivity="false"><AppenderRef ref="stateChange"/></Logger>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.network.RequestChannel$" level="WARN"/>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="WARN"/>
  </Loggers>
</Configuration>
EOF
  write_tools_log4j
}

format_storage() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(new_kraft_cluster_id)"
  info "formatting KRaft storage in $KAFKA_DATA (cluster id $cluster_id)"
  kraft_format "$KAFKA_PROPERTIES" "$cluster_id" "$KAFKA_LOGS/format.out"
}

launch() {
  rm -f "$KAFKA_PIDFILE"
  local out="$KAFKA_LOGS/kafka.out"
  printf '==== %s starting Kafka %s\n' "$(date -Is)" "$KAFKA_VERSION" >>"$out"
  # setsid: own session, so the broker outlives the calling shell/make and gets no SIGHUP.
  # The inner bash writes its pid, closes inherited fds and execs java, so the pid file
  # holds the JVM's pid.
  # shellcheck disable=SC2086,SC2016
  (
    cd "$KAFKA_HOME"
    setsid bash -c 'echo $$ >"$0"; '"$EXEC_CLEAN" "$KAFKA_PIDFILE" \
      java -server $KAFKA_HEAP_OPTS \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dkafka.logs.dir="$KAFKA_LOGS" \
      -Dlog4j2.configurationFile="$KAFKA_CONFIG_DIR/log4j2.xml" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPERTIES" \
      </dev/null >>"$out" 2>&1 &
  )
  wait_until 10 "the Kafka pid file" test -s "$KAFKA_PIDFILE" || die "Kafka did not start"
}

kafka_failed() {
  tail_log "$KAFKA_LOGS/kafka.out" 20
  tail_log "$KAFKA_LOGS/server.log" 60
  die "$*"
}

ensure_topic() {
  local have
  have="$(topic_partitions)"
  if [[ -z "$have" ]]; then
    info "creating topic $KAFKA_TOPIC ($KAFKA_PARTITIONS partitions)"
    local deadline=$((SECONDS + 60)) out
    while true; do
      if out="$("$LOGAGG_SCRIPTS/kafka-tool.sh" topics --bootstrap-server "$KAFKA_LOCAL_BROKERS" \
        --create --if-not-exists --topic "$KAFKA_TOPIC" \
        --partitions "$KAFKA_PARTITIONS" --replication-factor 1 2>&1)"; then
        break
      fi
      ((SECONDS < deadline)) || {
        printf '%s\n' "$out" >&2
        die "could not create topic $KAFKA_TOPIC"
      }
      sleep 1
    done
    wait_until 30 "topic $KAFKA_TOPIC in the metadata" topic_exists || true
    have="$(topic_partitions)"
  fi
  if [[ "$have" != "$KAFKA_PARTITIONS" ]]; then
    warn "topic $KAFKA_TOPIC has ${have:-?} partitions, expected $KAFKA_PARTITIONS (left as is)"
  else
    info "topic $KAFKA_TOPIC ready ($have partitions)"
  fi
}

# The SCRAM user of the SASL_SSL listener, created (or its password reset) through the
# PLAINTEXT listener with Kafka's own kafka-configs. Idempotent.
ensure_scram_user() {
  local password out
  password="$(cat "$CERTS_DIR/kafka-scram-password")"
  if ! out="$("$LOGAGG_SCRIPTS/kafka-tool.sh" configs --bootstrap-server "$KAFKA_LOCAL_BROKERS" \
    --alter --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
    --add-config "SCRAM-SHA-512=[password=$password]" 2>&1)"; then
    printf '%s\n' "$out" | grep -v -- "$password" >&2 || true
    die "could not create the SCRAM user $KAFKA_SCRAM_USER"
  fi
  info "SASL_SSL on localhost:$KAFKA_SASL_SSL_PORT (SCRAM user $KAFKA_SCRAM_USER), mTLS on localhost:$KAFKA_MTLS_PORT"
}

cmd_start() {
  ensure_tools
  local pid
  pid="$(kafka_pid)"
  if [[ -n "$pid" ]]; then
    if ! broker_answers; then
      info "Kafka (pid $pid) is running but not answering yet; waiting"
      LOGAGG_WAIT_ABORT_IF="! pid_alive $pid" wait_until "$KAFKA_START_TIMEOUT" "Kafka to answer" broker_answers ||
        kafka_failed "Kafka (pid $pid) does not answer on $KAFKA_LOCAL_BROKERS"
    fi
    info "Kafka already running (pid $pid) on $KAFKA_LOCAL_BROKERS"
    ensure_topic
    if grep -q '^listeners=.*SASL_SSL' "$KAFKA_PROPERTIES"; then
      ensure_scram_user
    else
      warn "this broker was started without the secured listeners (SASL_SSL, mTLS); 'scripts/kafka.sh restart' adds them"
    fi
    return 0
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT" && broker_answers; then
    # Another checkout's (or the user's own) broker: use it rather than fail.
    info "a Kafka broker not started from this checkout already answers on $KAFKA_LOCAL_BROKERS; using it"
    ensure_topic
    return 0
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT" || port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
    die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is already in use by another process (not ours: no live pid in $KAFKA_PIDFILE)"
  fi
  fetch_libs
  "$LOGAGG_SCRIPTS/certs.sh" ensure >/dev/null
  write_config
  format_storage
  info "starting Kafka $KAFKA_VERSION (logs in $KAFKA_LOGS)"
  local t0=$SECONDS
  launch
  pid="$(read_pidfile "$KAFKA_PIDFILE")"
  LOGAGG_WAIT_ABORT_IF="! pid_alive $pid" wait_until "$KAFKA_START_TIMEOUT" "Kafka to answer on $KAFKA_LOCAL_BROKERS" broker_answers ||
    kafka_failed "Kafka did not come up (pid $pid)"
  # kcat says the broker answers metadata requests; now a real admin-API round trip.
  LOGAGG_WAIT_ABORT_IF="! pid_alive $pid" wait_until "$KAFKA_START_TIMEOUT" "the Kafka admin API" \
    "$LOGAGG_SCRIPTS/kafka-tool.sh" topics --bootstrap-server "$KAFKA_LOCAL_BROKERS" --list ||
    kafka_failed "Kafka does not answer admin requests (pid $pid)"
  info "Kafka up (pid $pid) after $((SECONDS - t0))s"
  ensure_topic
  ensure_scram_user
}

cmd_stop() {
  local pid
  pid="$(kafka_pid)"
  if [[ -z "$pid" ]]; then
    info "Kafka not running"
    return 0
  fi
  info "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "$KAFKA_STOP_TIMEOUT" "Kafka (pid $pid) to exit" eval "! pid_alive $pid"; then
    warn "Kafka (pid $pid) ignored SIGTERM for ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 10 "Kafka (pid $pid) to die" eval "! pid_alive $pid" || die "could not kill Kafka (pid $pid)"
  fi
  rm -f "$KAFKA_PIDFILE"
  wait_until 10 "port $KAFKA_PORT to be released" eval "! port_open $KAFKA_HOST $KAFKA_PORT" || true
  info "Kafka stopped"
}

cmd_status() {
  local pid
  pid="$(kafka_pid)"
  if [[ -z "$pid" ]]; then
    echo "kafka: not running"
    return 3
  fi
  if broker_answers; then
    local parts
    parts="$(topic_partitions)"
    echo "kafka: running (pid $pid) on $KAFKA_LOCAL_BROKERS, topic $KAFKA_TOPIC: ${parts:-missing} partitions; logs in $KAFKA_LOGS"
    return 0
  fi
  echo "kafka: running (pid $pid) but not answering on $KAFKA_LOCAL_BROKERS"
  return 1
}

cmd_fetch() {
  ensure_tools
  fetch_libs
  write_tools_log4j
  # The broker's logging, which the three-node cluster (scripts/kafka-cluster.sh) copies.
  [[ -f "$KAFKA_CONFIG_DIR/log4j2.xml" ]] || write_config
}

if [[ "${1:-}" == fetch ]]; then
  cmd_fetch
else
  service_main "$@"
fi
