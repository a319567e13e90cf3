#!/usr/bin/env bash
# A local three-node Apache Kafka cluster (KRaft; each node broker and controller) on loopback,
# for what one broker cannot show: replication 3, min.insync.replicas 2, leader failover.
#
#   scripts/kafka-cluster.sh up|down|destroy|status|kill N|start N|brokers
#
# up:      writes the nodes' configuration, formats their storage (once), starts the three
#          nodes, waits until they answer and creates the topic (LOGAGG_KAFKA_TOPIC, default
#          "events"; LOGAGG_KAFKA_PARTITIONS, default 6) with replication 3 and
#          min.insync.replicas=2. Reuses running nodes.
# down:    SIGTERM each node (SIGKILL after LOGAGG_KAFKA_STOP_TIMEOUT); data is kept.
# destroy: SIGKILL every node and delete the cluster's directory (what tests do when done).
# kill N:  SIGKILL node N (1..3), as a crash would.   start N: starts node N again.
# brokers: prints the bootstrap list (for LOGAGG_KAFKA_BROKERS).
#
# Where: LOGAGG_CLUSTER_HOME (default .local/kafka-cluster); ports: node N's broker listens on
# LOGAGG_CLUSTER_PORT+N-1 (default 19092..19094), its controller on LOGAGG_CLUSTER_PORT+100+N-1.
# The jars are the single broker's (.local/kafka/libs, fetched by `scripts/kafka.sh fetch`).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_HOME="${LOGAGG_CLUSTER_HOME:-$LOGAGG_LOCAL/kafka-cluster}"
CLUSTER_PORT="${LOGAGG_CLUSTER_PORT:-19092}"
CLUSTER_HEAP="${LOGAGG_CLUSTER_HEAP_OPTS:--Xmx384m -Xms128m}"
NODES=(1 2 3)

broker_port() { echo $((CLUSTER_PORT + $1 - 1)); }
controller_port() { echo $((CLUSTER_PORT + 100 + $1 - 1)); }
node_dir() { echo "$CLUSTER_HOME/node$1"; }
node_pidfile() { echo "$(node_dir "$1")/kafka.pid"; }

brokers() {
  local n list=()
  for n in "${NODES[@]}"; do list+=("$KAFKA_HOST:$(broker_port "$n")"); done
  (IFS=,; echo "${list[*]}")
}

voters() {
  local n list=()
  for n in "${NODES[@]}"; do list+=("$n@$KAFKA_HOST:$(controller_port "$n")"); done
  (IFS=,; echo "${list[*]}")
}

# pid of node N, or nothing.
node_pid() {
  local pid
  pid="$(read_pidfile "$(node_pidfile "$1")")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmdline_has "$pid" "$(node_dir "$1")/server.properties"; then
    printf '%s' "$pid"
  fi
}

node_answers() {
  kcat -b "$KAFKA_HOST:$(broker_port "$1")" -L -m 5 2>/dev/null | grep -q "broker $1 at"
}

write_node_config() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh (rewritten on every start). Node $n of 3, loopback only.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://$KAFKA_HOST:$(broker_port "$n"),CONTROLLER://$KAFKA_HOST:$(controller_port "$n")
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$(broker_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
$(kafka_replication_properties 3 2)
unclean.leader.election.enable=false
# A crashed node is fenced (its partitions led elsewhere) within seconds, not the default 9 s.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=2
log.segment.bytes=104857600
EOF
  sed "s|\${sys:kafka.logs.dir}|$dir/logs|" "$KAFKA_CONFIG_DIR/log4j2.xml" >"$dir/log4j2.xml"
}

format_node() {
  local n="$1" cluster_id="$2" dir
  dir="$(node_dir "$n")"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  kraft_format "$dir/server.properties" "$cluster_id" "$dir/logs/format.out"
}

launch_node() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  rm -f "$(node_pidfile "$n")"
  printf '==== %s starting node %s\n' "$(date -Is)" "$n" >>"$dir/logs/kafka.out"
  # shellcheck disable=SC2086,SC2016
  (
    cd "$dir"
    setsid bash -c 'echo $$ >"$0"; '"$EXEC_CLEAN" "$(node_pidfile "$n")" \
      java -server $CLUSTER_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$dir/log4j2.xml" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
      </dev/null >>"$dir/logs/kafka.out" 2>&1 &
  )
  wait_until 10 "node $n's pid file" test -s "$(node_pidfile "$n")" || die "node $n did not start"
}

cmd_start_node() {
  local n="$1"
  [[ " ${NODES[*]} " == *" $n "* ]] || die "no node $n (1..3)"
  if [[ -n "$(node_pid "$n")" ]]; then
    info "node $n already running"
    return 0
  fi
  write_node_config "$n"
  launch_node "$n"
}

cmd_kill_node() {
  local pid
  pid="$(node_pid "$1")"
  [[ -n "$pid" ]] || { info "node $1 not running"; return 0; }
  kill -KILL "$pid"
  wait_until 10 "node $1 (pid $pid) to die" eval "! pid_alive $pid" || die "node $1 survived SIGKILL"
  info "node $1 killed (pid $pid)"
}

create_topic() {
  local out deadline=$((SECONDS + 60))
  until out="$("$LOGAGG_SCRIPTS/kafka-tool.sh" topics --bootstrap-server "$(brokers)" \
    --create --if-not-exists --topic "$KAFKA_TOPIC" --partitions "$KAFKA_PARTITIONS" \
    --replication-factor 3 --config min.insync.replicas=2 2>&1)"; do
    ((SECONDS < deadline)) || { printf '%s\n' "$out" >&2; die "could not create topic $KAFKA_TOPIC"; }
    sleep 1
  done
  info "topic $KAFKA_TOPIC: $KAFKA_PARTITIONS partitions, replication 3, min.insync.replicas=2"
}

cmd_up() {
  need_cmd kcat kcat
  need_cmd java openjdk-17-jre-headless
  "$LOGAGG_SCRIPTS/kafka.sh" fetch
  local n cluster_id
  for n in "${NODES[@]}"; do write_node_config "$n"; done
  cluster_id="$(cat "$CLUSTER_HOME/cluster-id" 2>/dev/null || true)"
  if [[ -z "$cluster_id" ]]; then
    cluster_id="$(new_kraft_cluster_id)"
    printf '%s\n' "$cluster_id" >"$CLUSTER_HOME/cluster-id"
  fi
  for n in "${NODES[@]}"; do format_node "$n" "$cluster_id" & done
  wait
  for n in "${NODES[@]}"; do
    [[ -n "$(node_pid "$n")" ]] || launch_node "$n"
  done
  for n in "${NODES[@]}"; do
    wait_until "$KAFKA_START_TIMEOUT" "node $n to answer" node_answers "$n" ||
      { tail_log "$(node_dir "$n")/logs/server.log" 40; die "node $n did not come up"; }
  done
  create_topic
  info "cluster up: LOGAGG_KAFKA_BROKERS=$(brokers) (logs under $CLUSTER_HOME/node*/logs)"
}

# Sends signal $1 to every running node.
signal_nodes() {
  local n pid
  for n in "${NODES[@]}"; do
    pid="$(node_pid "$n")"
    [[ -n "$pid" ]] && kill "-$1" "$pid" 2>/dev/null || true
  done
}

cmd_down() {
  local n pid
  signal_nodes TERM
  for n in "${NODES[@]}"; do
    pid="$(read_pidfile "$(node_pidfile "$n")")"
    [[ -n "$pid" ]] || continue
    if ! wait_until "$KAFKA_STOP_TIMEOUT" "node $n to exit" eval "! pid_alive $pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(node_pidfile "$n")"
  done
  info "cluster stopped (data kept in $CLUSTER_HOME)"
}

cmd_destroy() {
  signal_nodes KILL
  rm -rf "$CLUSTER_HOME"
  info "cluster destroyed"
}

cmd_status() {
  local n pid rc=0
  for n in "${NODES[@]}"; do
    pid="$(node_pid "$n")"
    if [[ -z "$pid" ]]; then
      echo "node $n: not running"
      rc=3
    elif node_answers "$n"; then
      echo "node $n: running (pid $pid) on $KAFKA_HOST:$(broker_port "$n")"
    else
      echo "node $n: running (pid $pid) but not answering"
      rc=1
    fi
  done
  return "$rc"
}

mkdir -p "$CLUSTER_HOME"
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  destroy) cmd_destroy ;;
  status) cmd_status ;;
  kill) cmd_kill_node "${2:?node number}" ;;
  start) cmd_start_node "${2:?node number}" ;;
  brokers) brokers ;;
  *)
    echo "usage: $0 up|down|destroy|status|kill N|start N|brokers" >&2
    exit 2
    ;;
esac
