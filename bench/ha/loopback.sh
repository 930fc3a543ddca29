#!/usr/bin/env bash
# The production database layout of docs/operations.md ("High availability") on one machine, on
# loopback ports in a folder of its own, for tests and the failover drill:
#
#   etcd (one member here; three in production, one per database node)
#   three PostgreSQL nodes under Patroni, synchronous replication (synchronous_mode_strict: an
#     acknowledged commit is on two nodes), failover on a crash at once (primary_start_timeout 0)
#   HAProxy in front: port BASE+10 always reaches the primary (Patroni's /primary check),
#     port BASE+11 the replicas (/replica, lag under 16 MB), round robin
#
#   bash bench/ha/loopback.sh start  [--dir DIR] [--base-port P] [--fast]
#   bash bench/ha/loopback.sh status [--dir DIR]      # the members, their roles and lag
#   bash bench/ha/loopback.sh primary [--dir DIR]     # the leader's node name (node1, node2, node3)
#   bash bench/ha/loopback.sh kill-postgres [NODE] [--dir DIR]   # kill -9 of that node's postmaster (default: the primary's)
#   bash bench/ha/loopback.sh kill-node [NODE] [--dir DIR]       # kill -9 of all its processes: Patroni, the postmaster and its children
#                                          (both print the node and the moment of the kill, Unix ms: "node2 1796479205300")
#   bash bench/ha/loopback.sh restart-node NODE [--dir DIR]      # start its Patroni again (it rejoins as a replica)
#   bash bench/ha/loopback.sh stop [--dir DIR]        # stops everything it started and removes DIR
#
# Defaults: DIR=/tmp/stadig-ha, base port 15400. --fast turns fsync off (tests on a busy machine: a
# killed process loses nothing the kernel has; only a machine crash would). `start` prints the
# connection strings and writes them to DIR/env (PRIMARY=…, REPLICAS=…) for the drill and the tests.
# Needs (Debian 12): patroni etcd-server haproxy postgresql-15. As root, the database processes run
# as the postgres user (PostgreSQL refuses root).
set -euo pipefail
# Debian installs haproxy in /usr/sbin, outside a plain user's PATH.
PATH="$PATH:/usr/sbin:/sbin"

COMMAND="${1:-}"; shift || true
DIR=/tmp/stadig-ha; BASE=15400; FAST=0; NODE=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --base-port) BASE="$2"; shift 2 ;;
        --fast) FAST=1; shift ;;
        node[123]) NODE="$1"; shift ;;
        *) echo "loopback: unknown argument $1" >&2; exit 2 ;;
    esac
done

ETCD_PORT=$BASE; ETCD_PEER=$((BASE + 1)); PRIMARY_PORT=$((BASE + 10)); REPLICA_PORT=$((BASE + 11))
pg_port() { echo $((BASE + 20 + ${1#node})); }
api_port() { echo $((BASE + 30 + ${1#node})); }
NODES=(node1 node2 node3)

as_db() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The values `start` chose are kept in DIR/env, so the other commands need only --dir.
if [[ "$COMMAND" != start && -f "$DIR/env" ]]; then
    # shellcheck disable=SC1091
    source "$DIR/env"
    BASE=$BASE_PORT; ETCD_PORT=$BASE; PRIMARY_PORT=$((BASE + 10)); REPLICA_PORT=$((BASE + 11))
fi

leader() {
    local n role
    for n in "${NODES[@]}"; do
        role=$(curl -fsS -m 2 "http://127.0.0.1:$(api_port "$n")/patroni" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("role",""))' 2>/dev/null || true)
        if [[ "$role" == master || "$role" == primary ]]; then echo "$n"; return 0; fi
    done
    return 1
}

# Members seen by any live node's REST API: name role state lag (one line each).
members() {
    local n
    for n in "${NODES[@]}"; do
        if curl -fsS -m 2 "http://127.0.0.1:$(api_port "$n")/cluster" 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m["name"], m["role"], m["state"], m.get("lag", 0))'; then return 0; fi
    done
    return 1
}

# One leader, a synchronous standby, every member running or streaming: the layout keeps its promise.
healthy() {
    local out
    out=$(members 2>/dev/null) || return 1
    [[ $(grep -c . <<<"$out") -eq 3 ]] || return 1
    grep -qE '^node[123] leader running' <<<"$out" || return 1
    grep -qE '^node[123] sync_standby (running|streaming)' <<<"$out" || return 1
    ! grep -qvE ' (running|streaming) ' <<<"$out"
}

wait_for() {
    local what="$1" seconds="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if (( SECONDS > deadline )); then echo "loopback: $what did not happen within $seconds s (logs in $DIR)" >&2; return 1; fi
        sleep 0.2
    done
}

# Each daemon's pid file holds its own pid (the shell writes its pid, then becomes the program), not
# runuser's: stop and kill-node signal the daemon itself. Each is started with the caller's stdin and
# stdout closed (</dev/null >/dev/null): runuser stays as the daemon's parent, and one holding the
# caller's output open would make a `start | tee` or a test reading the output wait for ever.
start_patroni() {
    local n="$1"
    rm -f "$DIR/$n/patroni.pid"
    as_db bash -c "echo \$\$ >'$DIR/$n/patroni.pid'; exec patroni '$DIR/$n/patroni.yml' >>'$DIR/$n/patroni.log' 2>&1" </dev/null >/dev/null 2>&1 &
    wait_for "$n's Patroni to start" 10 test -s "$DIR/$n/patroni.pid"
}

postmaster_pid() { head -n 1 "$DIR/$1/data/postmaster.pid" 2>/dev/null || true; }

kill_tree_of_node() {
    local n="$1" pids=() pm
    pm=$(postmaster_pid "$n")
    [[ -f "$DIR/$n/patroni.pid" ]] && pids+=("$(cat "$DIR/$n/patroni.pid")")
    if [[ -n "$pm" ]]; then pids+=("$pm"); pids+=($(ps -o pid= --ppid "$pm" 2>/dev/null || true)); fi
    [[ ${#pids[@]} -gt 0 ]] && kill -9 "${pids[@]}" 2>/dev/null || true
}

case "$COMMAND" in
start)
    if [[ -f "$DIR/env" ]]; then echo "loopback: $DIR is in use (run stop first)" >&2; exit 1; fi
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    for tool in patroni etcd haproxy; do command -v "$tool" >/dev/null || { echo "loopback: $tool is not installed (apt-get install patroni etcd-server haproxy)" >&2; exit 1; }; done
    mkdir -p "$DIR"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$DIR"
    chmod 700 "$DIR"
    cat >"$DIR/env" <<EOF
BASE_PORT=$BASE
PRIMARY="Host=127.0.0.1;Port=$PRIMARY_PORT;Username=postgres;Password=loopback;Database=stadig"
REPLICAS="Host=127.0.0.1;Port=$REPLICA_PORT;Username=postgres;Password=loopback;Database=stadig"
EOF

    # etcd: the distributed configuration store holding the leader key.
    as_db mkdir -m 700 -p "$DIR/etcd"
    as_db bash -c "echo \$\$ >'$DIR/etcd.pid'; exec etcd --name e1 --data-dir '$DIR/etcd' \
        --listen-client-urls http://127.0.0.1:$ETCD_PORT --advertise-client-urls http://127.0.0.1:$ETCD_PORT \
        --listen-peer-urls http://127.0.0.1:$ETCD_PEER --initial-advertise-peer-urls http://127.0.0.1:$ETCD_PEER \
        --initial-cluster e1=http://127.0.0.1:$ETCD_PEER --initial-cluster-state new --initial-cluster-token stadig-$BASE \
        >'$DIR/etcd.log' 2>&1" </dev/null >/dev/null 2>&1 &
    wait_for "etcd start" 60 curl -fs -m 1 "http://127.0.0.1:$ETCD_PORT/health" -o /dev/null

    fsync=on; [[ $FAST == 1 ]] && fsync=off
    for n in "${NODES[@]}"; do
        as_db mkdir -p "$DIR/$n"
        as_db bash -c "cat >'$DIR/$n/patroni.yml'" <<EOF
scope: stadig
namespace: /stadig-loopback-$BASE/
name: $n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$(api_port "$n")
  connect_address: 127.0.0.1:$(api_port "$n")
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    # The leader key lives 6 s without renewal: a node that dies whole is replaced about 7-9 s after
    # (docs/operations.md, "High availability": the trade-off against a stalled primary demoted).
    ttl: 6
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    # A crashed primary is failed over at once, not restarted in place: with synchronous replication the
    # standby has every acknowledged commit, so nothing is lost by not waiting.
    primary_start_timeout: 0
    master_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 300
        synchronous_commit: "on"
        # A standby whose primary went away retries every second, not every 5 s: after a failover the
        # new primary's writes wait (synchronous_mode_strict) until a standby streams from it.
        wal_retrieve_retry_interval: 1s
        fsync: "$fsync"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $DIR/$n/data
  bin_dir: $PGBIN
  pgpass: $DIR/$n/pgpass
  authentication:
    superuser: { username: postgres, password: loopback }
    replication: { username: postgres, password: loopback }
    rewind: { username: postgres, password: loopback }
  parameters:
    unix_socket_directories: $DIR/$n
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
EOF
    done
    # node1 bootstraps the cluster (so it is the first primary); the others clone it.
    start_patroni node1
    wait_for "node1 becoming the primary" 120 bash -c "[[ \$(curl -fs -m 1 http://127.0.0.1:$(api_port node1)/primary -o /dev/null -w '%{http_code}') == 200 ]]"
    start_patroni node2
    start_patroni node3

    as_db bash -c "cat >'$DIR/haproxy.cfg'" <<EOF
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s
listen primary
    bind 127.0.0.1:$PRIMARY_PORT
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
$(for n in "${NODES[@]}"; do echo "    server $n 127.0.0.1:$(pg_port "$n") maxconn 500 check port $(api_port "$n")"; done)
listen replicas
    bind 127.0.0.1:$REPLICA_PORT
    balance roundrobin
    option httpchk OPTIONS /replica?lag=16MB
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
$(for n in "${NODES[@]}"; do echo "    server $n 127.0.0.1:$(pg_port "$n") maxconn 500 check port $(api_port "$n")"; done)
EOF
    as_db bash -c "echo \$\$ >'$DIR/haproxy.pid'; exec haproxy -db -f '$DIR/haproxy.cfg' >'$DIR/haproxy.log' 2>&1" </dev/null >/dev/null 2>&1 &

    wait_for "three members with a synchronous standby" 180 healthy
    wait_for "the primary through HAProxy" 30 as_db psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -qAtc "SELECT 1" -o /dev/null
    as_db psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -qAtc "CREATE DATABASE stadig" >/dev/null
    wait_for "a replica through HAProxy" 30 as_db psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d stadig -qAtc "SELECT 1" -o /dev/null
    # shellcheck disable=SC1091
    source "$DIR/env"
    echo "primary (read-write): $PRIMARY"
    echo "replicas (read-only): $REPLICAS"
    members
    ;;
status)
    members || { echo "loopback: no member answers" >&2; exit 1; }
    ;;
primary)
    leader || { echo "loopback: no primary" >&2; exit 1; }
    ;;
kill-postgres)
    n="${NODE:-$(leader)}"
    pm=$(postmaster_pid "$n")
    [[ -n "$pm" ]] || { echo "loopback: $n has no postmaster" >&2; exit 1; }
    kill -9 "$pm"
    echo "$n $(date +%s%3N)"
    ;;
kill-node)
    n="${NODE:-$(leader)}"
    kill_tree_of_node "$n"
    echo "$n $(date +%s%3N)"
    ;;
restart-node)
    [[ -n "$NODE" ]] || { echo "loopback: restart-node needs the node's name" >&2; exit 2; }
    start_patroni "$NODE"
    ;;
stop)
    [[ -f "$DIR/env" ]] || { echo "loopback: nothing runs in $DIR"; exit 0; }
    # Each process by the id it was started with: HAProxy, the Patronis (which stop their PostgreSQL), etcd.
    for f in "$DIR/haproxy.pid" "$DIR"/node*/patroni.pid; do
        [[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null || true
    done
    for n in "${NODES[@]}"; do
        for _ in $(seq 1 100); do [[ -n "$(postmaster_pid "$n")" ]] && kill -0 "$(postmaster_pid "$n")" 2>/dev/null || break; sleep 0.1; done
        kill_tree_of_node "$n"
    done
    [[ -f "$DIR/etcd.pid" ]] && kill -TERM "$(cat "$DIR/etcd.pid")" 2>/dev/null || true
    for f in "$DIR/etcd.pid" "$DIR/haproxy.pid"; do
        [[ -f "$f" ]] || continue
        for _ in $(seq 1 50); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    rm -rf "$DIR"
    ;;
*)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-
    exit 2
    ;;
esac
