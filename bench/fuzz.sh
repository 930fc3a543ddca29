#!/usr/bin/env bash
# Issue 20, item 4: the fuzz runner. Seeded mutations of real HL7 v2 messages (the samples under
# tests/Stadig.Tests/Hl7/Samples and ORU^R01 of the run's own patients), FHIR resources and bundles
# (the official R4 examples, HL7 Sweden's, Synthea records cut into transactions), FHIR search
# parameters, registry searches, form posts (with a signed-in session's antiforgery token) and query
# strings on every mapped route, and the JSON APIs. Most inputs go through the parsers and use cases
# in-process; a share through real Kestrel and the MLLP listener. An input fails on an exception
# other than its target's own refusal, an answer >= 500, or no answer within the per-input deadline.
#
# The driver is tests/Stadig.Tests/Reliability/Fuzz (FuzzRunner); CI runs its short form (25,000
# inputs per engine). This script runs the given count on each engine, one build, and writes into the
# report folder fuzz-sqlite.json/.txt, fuzz-postgres.json/.txt (inputs by target, failing inputs,
# responses >= 500, hangs) and corpus/<target>/<hash>.u16 (+ .txt) for every failing input kept: copy
# those into tests/Stadig.Tests/Reliability/Fuzz/Corpus/ with the fix, where a test replays them.
#
#   bash bench/fuzz.sh                                   # 500,000 inputs per engine: 1,000,000 in all
#   bash bench/fuzz.sh --inputs 20000 --out /tmp/fuzz
#
# Options:
#   --inputs N     inputs per engine (default 500000)
#   --seed S       the mutations' seed (default: the test's own per engine)
#   --out DIR      report folder (default bench/results/fuzz-<UTC time>)
#   --engine E     sqlite, postgres or both (default both)
#   --no-build     use the Release build as it is
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INPUTS=500000; SEED=""; OUT=""; ENGINE=both; BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --inputs) INPUTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --engine) ENGINE="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-bench/results/fuzz-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -rf "$OUT"/fuzz-*.json "$OUT"/fuzz-*.txt "$OUT"/corpus

[ "$BUILD" -eq 1 ] && dotnet build tests/Stadig.Tests -c Release -v q --nologo

FILTER="FullyQualifiedName~Stadig.Tests.Reliability.Fuzz.FuzzTests.Generated_inputs"
case "$ENGINE" in
  sqlite) FILTER="$FILTER&DisplayName~Sqlite" ;;
  postgres) FILTER="$FILTER&DisplayName~Postgres" ;;
  both) ;;
  *) echo "--engine is sqlite, postgres or both" >&2; exit 2 ;;
esac

export TZ=UTC STADIG_FUZZ_INPUTS="$INPUTS" STADIG_FUZZ_REPORT="$OUT"
[ -n "$SEED" ] && export STADIG_FUZZ_SEED="$SEED"
status=0
dotnet test tests/Stadig.Tests -c Release --no-build --filter "$FILTER" --logger "console;verbosity=normal" > "$OUT/run.log" 2>&1 || status=$?
cat "$OUT"/fuzz-*.txt 2>/dev/null || tail -n 50 "$OUT/run.log"
echo "Reports in $OUT; the test run's log: $OUT/run.log"
exit $status
