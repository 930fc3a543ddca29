#!/usr/bin/env bash
# Failover under load (issue 20, item 2): the rehearsal's clinicians and lab feed write against Stadig
# on the loopback Patroni layout (bench/ha/loopback.sh: three PostgreSQL nodes, synchronous
# replication, HAProxy), and the primary is killed twice:
#   1. kill -9 of the primary's postmaster (Patroni on that node lives, fails over, and brings the
#      old primary back as a replica);
#   2. kill -9 of every process of the new primary's node (Patroni, the postmaster and its children);
#      the node is started again afterwards and rejoins.
# Then every acknowledged write (note created, autosave at its version, signature with its hash,
# attestation, lab message answered AA, each with its audit event) is looked up on the new primary,
# the audit chain is verified (`stadig verify`), and the write outage of each kill is measured: the
# seconds from the kill until the first write sent after it was acknowledged.
#
#   bash bench/failover.sh                              # the full drill (defaults below)
#   bash bench/failover.sh --patients 2000 --clinicians 8 --settle 15   # a brief proof that it works
#
# Options:
#   --patients N      region seeded into the fresh cluster (default 100000)
#   --clinicians N    simulated clinicians (default 50); --think-scale X (default 0.2: busier, more writes)
#   --lab-rate R      ORU^R01 per second (default 5: a write every 200 ms, the outage's resolution)
#   --settle S        seconds of load before the first kill, between the kills and after the last (default 60)
#   --base-port P     the loopback layout's ports (default 15400); --port P Stadig's HTTP port (default 5090)
#   --fast            fsync off in the layout (a busy test machine; a killed process loses nothing either way)
#
# Output: bench/results/<UTC>-failover/failover.txt and failover.json (the judgement: PASS needs 0
# acknowledged writes lost, writes resumed after each kill and the audit chain intact; failover.json
# is the readiness gate's evidence file of that name, docs/readiness.md), the
# rehearsal's report.html/json, ledger.tsv (the acknowledged writes), events.tsv, server.log, cluster.log.
# Exit code: 0 PASS, 5 FAIL, 1 when the drill itself could not run. The goal (issue 20) is ≤ 10 s of
# refused writes per kill; the script reports the figure and does not judge it (timing is the quiet
# machine's to measure).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATIENTS=100000; CLINICIANS=50; THINK=0.2; LAB_RATE=5; SETTLE=60; BASE=15400; PORT=5090; MLLP_PORT=2590; FAST=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --patients) PATIENTS="$2"; shift 2 ;;
        --clinicians) CLINICIANS="$2"; shift 2 ;;
        --think-scale) THINK="$2"; shift 2 ;;
        --lab-rate) LAB_RATE="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --base-port) BASE="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --fast) FAST=(--fast); shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
        *) echo "failover: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done

OUT="$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-failover"
mkdir -p "$OUT"
CLUSTER="$OUT/cluster"
LOOPBACK=(bash "$ROOT/bench/ha/loopback.sh")
STADIG=(dotnet "$ROOT/src/Stadig/bin/Release/net10.0/stadig.dll")
now_ms() { date +%s%3N; }

echo "== build (Release)"
dotnet build -c Release -v quiet -nologo src/Stadig/Stadig.csproj >/dev/null
dotnet build -c Release -v quiet -nologo bench/Stadig.Rehearsal/Stadig.Rehearsal.csproj >/dev/null

SERVER_PID=""; LOAD_PID=""; SAMPLER_PID=""
cleanup() {
    [[ -n "$SAMPLER_PID" ]] && kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    [[ -n "$LOAD_PID" ]] && kill -TERM "$LOAD_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    "${LOOPBACK[@]}" stop --dir "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The machine's load average every 5 s: the outage is Patroni's timing, but a busy machine stretches it.
while sleep 5; do printf '%s\t%s\n' "$(now_ms)" "$(cut -d' ' -f1-3 /proc/loadavg)"; done >"$OUT/loadavg.tsv" &
SAMPLER_PID=$!

echo "== the loopback layout in $CLUSTER"
"${LOOPBACK[@]}" start --dir "$CLUSTER" --base-port "$BASE" "${FAST[@]}" | tee "$OUT/cluster.log"
# shellcheck disable=SC1091
source "$CLUSTER/env"

echo "== seed $PATIENTS patients"
"${STADIG[@]}" seed --database "$PRIMARY" --patients "$PATIENTS" --demo-users | grep -v "^Demo login" | tail -n 2

JWT_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
echo "== start Stadig on http://127.0.0.1:$PORT (primary and replicas through HAProxy)"
"${STADIG[@]}" serve --database "$PRIMARY" --urls "http://127.0.0.1:$PORT" \
    --Stadig:ReplicaDatabase="$REPLICAS" \
    --Stadig:SeedDemoAtStart=false --Stadig:Mllp:Port="$MLLP_PORT" \
    --Stadig:Downtime:AuditSpoolFolder="$OUT/audit-spool" \
    --Stadig:Jwt:SigningKey="$JWT_KEY" --Stadig:Jwt:Issuer=stadig-rehearsal --Stadig:Jwt:Audience=stadig \
    --Stadig:LoginAttemptsPerMinute=1000000 >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do
    curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "failover: the server stopped; see $OUT/server.log" >&2; exit 1; }
    sleep 0.5
done

# The load runs for the whole drill and ends with the stop file; each phase waits on the cluster, so
# this is only an upper bound.
TOTAL=$((SETTLE * 3 + 1200))
echo "== load: $CLINICIANS clinicians, lab $LAB_RATE/s, up to $TOTAL s"
dotnet "$ROOT/bench/Stadig.Rehearsal/bin/Release/net10.0/Stadig.Rehearsal.dll" \
    --url "http://127.0.0.1:$PORT" --mllp-port "$MLLP_PORT" --database "$PRIMARY" \
    --jwt-key "$JWT_KEY" --jwt-issuer stadig-rehearsal --jwt-audience stadig \
    --server-pid "$SERVER_PID" --out "$OUT" --engine postgres --patients "$PATIENTS" \
    --clinicians "$CLINICIANS" --think-scale "$THINK" --lab-rate "$LAB_RATE" --seconds "$TOTAL" \
    --ledger "$OUT/ledger.tsv" --stop-file "$OUT/stop" --command "bash bench/failover.sh $*" >"$OUT/load.log" 2>&1 &
LOAD_PID=$!

wait_healthy() {
    local deadline=$((SECONDS + 180))
    until "${LOOPBACK[@]}" status --dir "$CLUSTER" 2>/dev/null | grep -q 'sync_standby' \
        && [[ $("${LOOPBACK[@]}" status --dir "$CLUSTER" 2>/dev/null | grep -cE ' (running|streaming) ') -eq 3 ]]; do
        (( SECONDS < deadline )) || { echo "failover: the cluster did not heal within 180 s" >&2; "${LOOPBACK[@]}" status --dir "$CLUSTER" >&2 || true; return 1; }
        sleep 1
    done
}

# The rehearsal signs its clinicians in and warms up before it writes: the settling starts with the first
# acknowledged write, so that the first kill falls on a running load.
deadline=$((SECONDS + 600))
until [[ -s "$OUT/ledger.tsv" ]]; do
    (( SECONDS < deadline )) || { echo "failover: the load acknowledged no write within 600 s; see $OUT/load.log" >&2; exit 1; }
    kill -0 "$LOAD_PID" 2>/dev/null || { echo "failover: the load stopped; see $OUT/load.log" >&2; exit 1; }
    sleep 1
done
sleep "$SETTLE"
victim=$("${LOOPBACK[@]}" primary --dir "$CLUSTER")
# The moment of the kill is the script's own, taken right after kill -9 (starting the script takes a while on a busy machine).
read -r _ at < <("${LOOPBACK[@]}" kill-postgres "$victim" --dir "$CLUSTER") || true
[[ -n "${at:-}" ]] || { echo "failover: kill-postgres of $victim failed" >&2; exit 1; }
printf '%s\tkill -9 postgres of the primary (%s)\n' "$at" "$victim" >>"$OUT/events.tsv"
echo "== killed the postmaster of $victim; waiting for the cluster to heal"
wait_healthy
"${LOOPBACK[@]}" status --dir "$CLUSTER" | tee -a "$OUT/cluster.log"

sleep "$SETTLE"
victim=$("${LOOPBACK[@]}" primary --dir "$CLUSTER")
at=""
read -r _ at < <("${LOOPBACK[@]}" kill-node "$victim" --dir "$CLUSTER") || true
[[ -n "$at" ]] || { echo "failover: kill-node of $victim failed" >&2; exit 1; }
printf '%s\tkill -9 of every process of the primary node (%s)\n' "$at" "$victim" >>"$OUT/events.tsv"
echo "== killed node $victim whole; waiting for a new primary, then starting $victim again"
deadline=$((SECONDS + 120))
until new=$("${LOOPBACK[@]}" primary --dir "$CLUSTER" 2>/dev/null) && [[ "$new" != "$victim" ]]; do
    (( SECONDS < deadline )) || { echo "failover: no new primary within 120 s" >&2; exit 1; }
    sleep 0.5
done
"${LOOPBACK[@]}" restart-node "$victim" --dir "$CLUSTER"
wait_healthy
"${LOOPBACK[@]}" status --dir "$CLUSTER" | tee -a "$OUT/cluster.log"

sleep "$SETTLE"
echo "== stopping the load"
touch "$OUT/stop"
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=""
kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo "== verify on the primary now ($("${LOOPBACK[@]}" primary --dir "$CLUSTER"))"
set +e
"${STADIG[@]}" verify --database "$PRIMARY" | tee "$OUT/verify.log"
VERIFY=${PIPESTATUS[0]}
dotnet "$ROOT/bench/Stadig.Rehearsal/bin/Release/net10.0/Stadig.Rehearsal.dll" \
    --verify-ledger "$OUT/ledger.tsv" --database "$PRIMARY" --events "$OUT/events.tsv" --out "$OUT" --audit-verify "$VERIFY" \
    --commit "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
STATUS=$?
set -e
kill -TERM "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
awk -F'\t' '{ split($2, l, " "); n++; sum += l[1]; if (l[1] > max) max = l[1] }
    END { if (n) printf "  machine load average (1 min) during the run: mean %.1f, max %.1f (%d samples, %d cores)\n", sum / n, max, n, cores }' \
    cores="$(nproc)" "$OUT/loadavg.tsv" | tee -a "$OUT/failover.txt"
echo "== report: $OUT/failover.txt and failover.json"
exit $STATUS
