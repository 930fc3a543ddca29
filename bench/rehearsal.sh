#!/usr/bin/env bash
# The go-live rehearsal in one command: seed a synthetic region, start Stadig (Release) on it, drive it
# with simulated clinicians, a lab feed and FHIR integrations, write the report, stop the server.
#
#   bash bench/rehearsal.sh --patients 100000 --engine sqlite --clinicians 50 --minutes 5
#   bash bench/rehearsal.sh --patients 1000000 --engine postgres \
#       --connection "Host=127.0.0.1;Port=55433;Username=postgres;Database=stadig_rehearsal" --clinicians 50 --minutes 5
#
# Options:
#   --patients N        size of the seeded region (default 100000)
#   --engine E          sqlite (default; a fresh database file in the results folder) or postgres
#   --connection C      PostgreSQL connection string (required for postgres: an EMPTY database, unless --no-seed)
#   --no-seed           use the database as it is (already seeded with --demo-users); with sqlite give --connection "Data Source=…"
#   --clinicians N      simulated clinicians (default: the config's, 50)
#   --minutes M | --seconds S   how long to measure (default: the config's, 5 minutes)
#   --config FILE       the mix (default bench/Stadig.Rehearsal/regional-day.json)
#   --lab-rate R        ORU^R01 messages per second (default: scaled by clinicians, see the config)
#   --fhir-rate R       FHIR requests per second (default: scaled by clinicians)
#   --port P            HTTP port of the server (default 5080); --mllp-port P (default 2576)
#   --server-arg ARG    one more argument for the server, e.g. --server-arg --Stadig:Admission:MaxConcurrent=32 (repeatable)
#   --think-scale X     multiply every think time and the autosave interval (e.g. 0.1: each clinician 10 × as busy; the report says so)
#   --bucket-seconds S  width of a point of the latency-over-time plots (default: the config's, 10)
#   --generator-nice N  run the load generator at niceness N (e.g. 19): on a machine that also runs the
#                       server and its database, the generator then takes the cores only when they would
#                       idle, as if it ran on another machine (the server's own work is what is judged)
#
# The overload run (issue 7): baseline, then FACTOR × the load, then back (replaces --minutes/--seconds):
#   --overload F        load factor during the overload, e.g. 3 (clinicians, lab and FHIR); off by default
#   --baseline-seconds S --overload-seconds S --recovery-seconds S   the three phases (default 60 each)
#   A bulk FHIR $export (demo administrator, system/*.read) starts with the overload; /health/live is probed
#   every 250 ms. The report gets an "Overload" section with a verdict per criterion. E.g. at 3 × 50 clinicians:
#     bash bench/rehearsal.sh --patients 100000 --clinicians 50 --think-scale 0.1 --overload 3 \
#         --baseline-seconds 60 --overload-seconds 60 --recovery-seconds 60 --bucket-seconds 2
#
# Output: bench/results/<UTC timestamp>/report.html, report.json, server.log (and stadig.db for sqlite).
# Exit code: 0 without errors, 3 when actions failed, 4 when an overload criterion failed, 1 when the run itself could not be done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COMMAND="bash bench/rehearsal.sh $*"

PATIENTS=100000; ENGINE=sqlite; CONNECTION=""; SEED=1; PORT=5080; MLLP_PORT=2576; GENERATOR_NICE=0
CONFIG="$ROOT/bench/Stadig.Rehearsal/regional-day.json"
GENERATOR_ARGS=(); SERVER_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --patients) PATIENTS="$2"; shift 2 ;;
        --engine) ENGINE="$2"; shift 2 ;;
        --connection) CONNECTION="$2"; shift 2 ;;
        --no-seed) SEED=0; shift ;;
        --clinicians) GENERATOR_ARGS+=(--clinicians "$2"); shift 2 ;;
        --minutes) GENERATOR_ARGS+=(--seconds "$(( $2 * 60 ))"); shift 2 ;;
        --seconds) GENERATOR_ARGS+=(--seconds "$2"); shift 2 ;;
        --config) CONFIG="$(realpath "$2")"; shift 2 ;;
        --lab-rate) GENERATOR_ARGS+=(--lab-rate "$2"); shift 2 ;;
        --fhir-rate) GENERATOR_ARGS+=(--fhir-rate "$2"); shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --mllp-port) MLLP_PORT="$2"; shift 2 ;;
        --server-arg) SERVER_ARGS+=("$2"); shift 2 ;;
        --generator-nice) GENERATOR_NICE="$2"; shift 2 ;;
        --think-scale) GENERATOR_ARGS+=(--think-scale "$2"); shift 2 ;;
        --bucket-seconds) GENERATOR_ARGS+=(--bucket-seconds "$2"); shift 2 ;;
        --overload) GENERATOR_ARGS+=(--overload "$2"); shift 2 ;;
        --baseline-seconds) GENERATOR_ARGS+=(--baseline-seconds "$2"); shift 2 ;;
        --overload-seconds) GENERATOR_ARGS+=(--overload-seconds "$2"); shift 2 ;;
        --recovery-seconds) GENERATOR_ARGS+=(--recovery-seconds "$2"); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
        *) echo "rehearsal: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done

OUT="$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
case "$ENGINE" in
    sqlite) [[ -n "$CONNECTION" ]] || CONNECTION="Data Source=$OUT/stadig.db" ;;
    postgres) [[ -n "$CONNECTION" ]] || { echo "rehearsal: --engine postgres needs --connection \"Host=…;Database=…\"" >&2; exit 1; } ;;
    *) echo "rehearsal: --engine is sqlite or postgres" >&2; exit 1 ;;
esac

echo "== build (Release)"
dotnet build -c Release -v quiet -nologo src/Stadig/Stadig.csproj >/dev/null
dotnet build -c Release -v quiet -nologo bench/Stadig.Rehearsal/Stadig.Rehearsal.csproj >/dev/null
STADIG=(dotnet "$ROOT/src/Stadig/bin/Release/net10.0/stadig.dll")

if [[ $SEED == 1 ]]; then
    echo "== seed $PATIENTS patients with demo users ($ENGINE)"
    "${STADIG[@]}" seed --database "$CONNECTION" --patients "$PATIENTS" --demo-users | grep -v "^Demo login" | tail -n 3
fi

# A fresh key per run: the integrations' tokens are signed with it, and nothing else knows it.
JWT_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
echo "== start Stadig on http://127.0.0.1:$PORT (MLLP $MLLP_PORT), log in $OUT/server.log"
# All simulated clinicians come from 127.0.0.1, so the per-address login limit is lifted for the run.
"${STADIG[@]}" serve --database "$CONNECTION" --urls "http://127.0.0.1:$PORT" \
    --Stadig:SeedDemoAtStart=false --Stadig:Mllp:Port="$MLLP_PORT" \
    --Stadig:Jwt:SigningKey="$JWT_KEY" --Stadig:Jwt:Issuer=stadig-rehearsal --Stadig:Jwt:Audience=stadig \
    --Stadig:LoginAttemptsPerMinute=1000000 "${SERVER_ARGS[@]}" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap stop_server EXIT

for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "rehearsal: the server stopped; see $OUT/server.log" >&2; tail -n 5 "$OUT/server.log" >&2; exit 1; }
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null || { echo "rehearsal: the server did not get ready" >&2; exit 1; }

echo "== rehearsal"
set +e
nice -n "$GENERATOR_NICE" dotnet "$ROOT/bench/Stadig.Rehearsal/bin/Release/net10.0/Stadig.Rehearsal.dll" \
    --url "http://127.0.0.1:$PORT" --mllp-port "$MLLP_PORT" --database "$CONNECTION" \
    --jwt-key "$JWT_KEY" --jwt-issuer stadig-rehearsal --jwt-audience stadig \
    --config "$CONFIG" --server-pid "$SERVER_PID" --out "$OUT" \
    --engine "$ENGINE" --patients "$PATIENTS" --command "$COMMAND" \
    --commit "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" "${GENERATOR_ARGS[@]}"
STATUS=$?
set -e
stop_server
echo "== done: $OUT/report.html"
exit $STATUS
