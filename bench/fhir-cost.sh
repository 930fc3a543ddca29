#!/usr/bin/env bash
# Issue 23: what a FHIR read, a search by identifier and a create cost, measured as an integrator
# would: sequential requests on one keep-alive connection, then 16 connections at once. Starts the
# real server on a seeded database (warm-up on, admission queues long enough not to shed), runs
# Stadig.Bench fhir-http against it, and prints p50/p95/p99 and requests per CPU-second of the
# server process (from /proc/<pid>/stat). Each answer's Server-Timing also carries the server's
# database round trips and statements (db-round-trips, db-statements).
#
#   bash bench/fhir-cost.sh --connection "Data Source=/tmp/bench.db"
#   bash bench/fhir-cost.sh --connection "Host=127.0.0.1;Port=55470;Username=postgres;Database=stadig_fhir" --requests 5000
#
# Seed first (20,000 patients for issue 23's figures):
#   dotnet bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll seed --connection "…" --patients 20000
#
# Options:
#   --connection C   the seeded database (required)
#   --requests N     measured requests per row (default 2000)
#   --warm-up W      untimed requests before each row (default 300)
#   --concurrency K  connections in the concurrent rows (default 16)
#   --port P         HTTP port (default 5091)
#   --no-build       use the Release builds as they are
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONNECTION=""; REQUESTS=2000; WARM=300; CONCURRENCY=16; PORT=5091; BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connection) CONNECTION="$2"; shift 2 ;;
        --requests) REQUESTS="$2"; shift 2 ;;
        --warm-up) WARM="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
        *) echo "fhir-cost: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
[[ -n "$CONNECTION" ]] || { echo "fhir-cost: --connection is required (a seeded database)" >&2; exit 1; }
if [[ $BUILD == 1 ]]; then
    echo "== build (Release)"
    dotnet build -c Release -v quiet -nologo src/Stadig/Stadig.csproj >/dev/null
    dotnet build -c Release -v quiet -nologo bench/Stadig.Bench/Stadig.Bench.csproj >/dev/null
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
}
trap stop_server EXIT

dotnet "$ROOT/src/Stadig/bin/Release/net10.0/stadig.dll" serve --database "$CONNECTION" --urls "$URL" \
    --Stadig:SeedDemoAtStart=false --Stadig:Mllp:Port=0 --Stadig:Jwt:SigningKey="$KEY" --Stadig:WarmUp:Enabled=true \
    --Stadig:Admission:QueueWaitMilliseconds=5000 --Stadig:Admission:PriorityQueueWaitMilliseconds=5000 >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 2400); do
    curl -fsS -o /dev/null "$URL/health/ready" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "fhir-cost: the server stopped; see $OUT/server.log" >&2; exit 1; }
    sleep 0.05
done
curl -fsS -o /dev/null "$URL/health/ready" || { echo "fhir-cost: the server did not get ready" >&2; exit 1; }
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), connection: ${CONNECTION%%;Password=*}" | tee "$OUT/summary.txt"
dotnet "$ROOT/bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll" fhir-http --connection "$CONNECTION" --url "$URL" \
    --server-pid "$SERVER_PID" --signing-key "$KEY" --requests "$REQUESTS" --warm-up "$WARM" --concurrency "$CONCURRENCY" | tee -a "$OUT/summary.txt"
echo "== $OUT/summary.txt"
