#!/usr/bin/env bash
# Issue 23: what a FHIR read, a search by identifier and a create cost, measured as an integrator
# would: sequential requests on one keep-alive connection, then 16 connections at once. Starts the
# real server on a seeded database (warm-up on, admission queues long enough not to shed), runs
# Stadig.Bench fhir-http against it once the server is ready and its background warm-up (the FHIR
# profile validator's compile) is over, and prints p50/p95/p99 and requests per CPU-second of the
# server process (from /proc/<pid>/stat), with the server's database round trips and statements
# per request from each answer's Server-Timing (db-round-trips, db-statements). On PostgreSQL the bench
# first vacuums and analyses the tables a create writes, so that one server's creates do not set off
# autovacuum during the next server's reads.
#
# Before and after in one run: with BEFORE_REV (or --before) a second server, built from that git
# revision (exported with git archive into /tmp and built there once), is measured first against the
# same database, then the working tree's; the last lines compare reads per server CPU-second at K
# connections. Several --connection options measure each database in turn (PostgreSQL and SQLite).
#
#   bash bench/fhir-cost.sh --connection "Data Source=/tmp/bench.db"
#   BEFORE_REV=9b132b5 bash bench/fhir-cost.sh \
#       --connection "Host=127.0.0.1;Port=55470;Username=postgres;Database=stadig_fhir" --connection "Data Source=/tmp/bench.db"
#
# Seed first (20,000 patients for issue 23's figures), once per database:
#   dotnet bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll seed --connection "…" --patients 20000
# The create rows add patients (serials 980–999, numbers no patient has yet), which the reads and searches never pick: before
# and after still read the same patients.
#
# Options:
#   --connection C   a seeded database (required; repeat for several)
#   --before REV     also measure the server built from git revision REV first (or BEFORE_REV=REV)
#   --requests N     measured requests per row (default 2000)
#   --warm-up W      untimed requests before each row (default 300)
#   --warm-up-seconds S  reads and searches also warm for at least S seconds before their row (default 20):
#                    a server's CPU per read kept falling for some seconds after 2,000 requests (tiered
#                    compilation with its profile, the heap's size), the after-server's more than the before's
#   --concurrency K  connections in the concurrent rows (default 16)
#   --only LIST      which requests: read,search,create (default all three)
#   --alloc          the working tree's server also counts bytes allocated per request
#                    (Stadig:Admission:CountAllocations; costs CPU itself: not for the CPU comparison)
#   --port P         HTTP port (default 5091)
#   --no-build       use the Release builds as they are
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONNECTIONS=(); REQUESTS=2000; WARM=300; WARM_SECONDS=20; CONCURRENCY=16; PORT=5091; BUILD=1; ONLY="read,search,create"; ALLOC=0
BEFORE="${BEFORE_REV:-}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connection) CONNECTIONS+=("$2"); shift 2 ;;
        --before) BEFORE="$2"; shift 2 ;;
        --requests) REQUESTS="$2"; shift 2 ;;
        --warm-up) WARM="$2"; shift 2 ;;
        --warm-up-seconds) WARM_SECONDS="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --alloc) ALLOC=1; shift ;;
        --port) PORT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
        *) echo "fhir-cost: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
[[ ${#CONNECTIONS[@]} -gt 0 ]] || { echo "fhir-cost: --connection is required (a seeded database)" >&2; exit 1; }
if [[ $BUILD == 1 ]]; then
    echo "== build (Release): working tree"
    dotnet build -c Release -v quiet -nologo src/Stadig/Stadig.csproj >/dev/null
    dotnet build -c Release -v quiet -nologo bench/Stadig.Bench/Stadig.Bench.csproj >/dev/null
fi
AFTER_DLL="$ROOT/src/Stadig/bin/Release/net10.0/stadig.dll"
BEFORE_DLL=""
if [[ -n "$BEFORE" ]]; then
    BEFORE_SHA="$(git rev-parse --verify "$BEFORE^{commit}")" || { echo "fhir-cost: $BEFORE is not a git revision" >&2; exit 1; }
    BEFORE_DIR="${TMPDIR:-/tmp}/stadig-fhir-cost-${BEFORE_SHA:0:12}"
    BEFORE_DLL="$BEFORE_DIR/src/Stadig/bin/Release/net10.0/stadig.dll"
    if [[ ! -f "$BEFORE_DLL" ]]; then
        echo "== build (Release): $BEFORE (${BEFORE_SHA:0:12}) in $BEFORE_DIR"
        rm -rf "$BEFORE_DIR" && mkdir -p "$BEFORE_DIR"
        git archive "$BEFORE_SHA" | tar -x -C "$BEFORE_DIR"
        dotnet build -c Release -v quiet -nologo "$BEFORE_DIR/src/Stadig/Stadig.csproj" >/dev/null
    fi
fi
OUT="$ROOT/bench/results/fhir-cost-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
URL="http://127.0.0.1:$PORT"
KEY="fhir-cost-bench-signing-key-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap stop_server EXIT

# measure LABEL DLL CONNECTION N: one server from DLL on CONNECTION, the bench against it, then stopped.
measure() {
    local label="$1" dll="$2" connection="$3" n="$4" extra=()
    [[ $ALLOC == 1 && "$label" == after ]] && extra+=(--Stadig:Admission:CountAllocations=true)
    # A FHIR request's own admission wait came later (8a46fc3): a before-server older than that refuses the key.
    grep -aq IntegrationQueueWaitMilliseconds "$dll" && extra+=(--Stadig:Admission:IntegrationQueueWaitMilliseconds=5000)
    dotnet "$dll" serve --database "$connection" --urls "$URL" \
        --Stadig:SeedDemoAtStart=false --Stadig:Mllp:Port=0 --Stadig:Jwt:SigningKey="$KEY" --Stadig:WarmUp:Enabled=true \
        --Stadig:Admission:QueueWaitMilliseconds=5000 --Stadig:Admission:PriorityQueueWaitMilliseconds=5000 "${extra[@]}" \
        >"$OUT/server-$n-$label.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 2400); do
        curl -fsS -o /dev/null "$URL/health/ready" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "fhir-cost: the $label server stopped; see $OUT/server-$n-$label.log" >&2; exit 1; }
        sleep 0.05
    done
    curl -fsS -o /dev/null "$URL/health/ready" || { echo "fhir-cost: the $label server did not get ready" >&2; exit 1; }
    # Ready is not yet quiet: the FHIR profile validator compiles in the background after start (tens
    # of seconds of CPU), which would land in the first row (sequential reads) and its CPU-seconds.
    for _ in $(seq 1 6000); do
        grep -q "FHIR profile validator warm" "$OUT/server-$n-$label.log" && break
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "fhir-cost: the $label server stopped; see $OUT/server-$n-$label.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "== $label: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), connection: ${connection%%;Password=*}" | tee -a "$OUT/summary.txt"
    dotnet "$ROOT/bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll" fhir-http --connection "$connection" --url "$URL" \
        --server-pid "$SERVER_PID" --signing-key "$KEY" --requests "$REQUESTS" --warm-up "$WARM" --warm-up-seconds "$WARM_SECONDS" --concurrency "$CONCURRENCY" --only "$ONLY" \
        | tee "$OUT/bench-$n-$label.txt" | tee -a "$OUT/summary.txt"
    stop_server
}

# Reads per server CPU-second at K connections, from a bench output (the req/CPU-s column).
reads_per_cpu() { awk -v k="$CONCURRENCY" '$1 == "read" && $2 == "Patient" && $3 == k { print $9 }' "$1"; }

n=0
for connection in "${CONNECTIONS[@]}"; do
    n=$((n + 1))
    [[ -n "$BEFORE_DLL" ]] && measure before "$BEFORE_DLL" "$connection" "$n"
    measure after "$AFTER_DLL" "$connection" "$n"
    if [[ -n "$BEFORE_DLL" ]]; then
        before_rate="$(reads_per_cpu "$OUT/bench-$n-before.txt")"; after_rate="$(reads_per_cpu "$OUT/bench-$n-after.txt")"
        if [[ -n "$before_rate" && -n "$after_rate" ]]; then
            echo "== reads per server CPU-second at $CONCURRENCY connections, ${connection%%;Password=*}: before ($BEFORE) $before_rate, after (working tree) $after_rate, $(awk -v a="$after_rate" -v b="$before_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')×" \
                | tee -a "$OUT/summary.txt"
        fi
    fi
done
echo "== $OUT/summary.txt"
