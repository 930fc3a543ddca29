#!/usr/bin/env bash
# Issue 20, item 3: the crash-point harness. The real server (stadig.dll serve, its own process) runs
# under a mixed write load — note create, autosave, sign, amend; ORU^R01 over MLLP; FHIR transactions;
# attestation through the inbox's form; patient merge — and is killed with SIGKILL at random points,
# and PostgreSQL's processes too (postmaster and backends, SIGKILL). After each kill what was killed is
# started again on the same database and the database is checked: every acknowledged write present
# and intact, nothing half written (a signed note without its hash, half a FHIR transaction, a result
# without its message, half a merge), the audit log's chains intact.
#
# The driver is tests/Stadig.Tests/Reliability (CrashHarness); CI runs its short form (20 server kills
# per engine and 10 PostgreSQL kills). This script runs the counts given here on both engines, one
# build, and writes into the report folder:
#   crash-sqlite.json/.txt, crash-postgres.json/.txt  — each engine's figures (kill points, writes
#                                                        acknowledged by kind, lost, partial, findings)
#   crash-points.json                                  — the readiness gate's reliability evidence
#                                                        (docs/readiness.md), both engines together
#
#   bash bench/crash.sh                                   # 1,000 server kills per engine, 100 of PostgreSQL
#   bash bench/crash.sh --server-kills 50 --postgres-kills 10 --out /tmp/crash
#
# Options:
#   --server-kills N     kills of the server per engine (default 1000)
#   --postgres-kills M   kills of PostgreSQL in the PostgreSQL run (default 100)
#   --seed S             the kill points' and the load's seed (default: the test's own per engine)
#   --out DIR            report folder (default bench/results/crash-<UTC time>)
#   --engine E           sqlite, postgres or both (default both)
#   --no-build           use the Release build as it is
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SERVER_KILLS=1000; POSTGRES_KILLS=100; SEED=""; OUT=""; ENGINE=both; BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --server-kills) SERVER_KILLS="$2"; shift 2 ;;
    --postgres-kills) POSTGRES_KILLS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --engine) ENGINE="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-bench/results/crash-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/crash-*.json "$OUT"/crash-*.txt "$OUT"/crash-points.json

[ "$BUILD" -eq 1 ] && dotnet build tests/Stadig.Tests -c Release -v q --nologo

FILTER="FullyQualifiedName~Stadig.Tests.Reliability.CrashPointTests"
case "$ENGINE" in
  sqlite) FILTER="$FILTER&DisplayName~Sqlite" ;;
  postgres) FILTER="$FILTER&DisplayName~Postgres" ;;
  both) ;;
  *) echo "--engine is sqlite, postgres or both" >&2; exit 2 ;;
esac

export TZ=UTC STADIG_CRASH_SERVER_KILLS="$SERVER_KILLS" STADIG_CRASH_POSTGRES_KILLS="$POSTGRES_KILLS" STADIG_CRASH_REPORT="$OUT"
[ -n "$SEED" ] && export STADIG_CRASH_SEED="$SEED"
status=0
dotnet test tests/Stadig.Tests -c Release --no-build --filter "$FILTER" --logger "console;verbosity=normal" > "$OUT/run.log" 2>&1 || status=$?
cat "$OUT"/crash-*.txt 2>/dev/null || tail -n 50 "$OUT/run.log"
echo "Reports in $OUT (crash-points.json is the readiness evidence); the test run's log: $OUT/run.log"
exit $status
