#!/usr/bin/env bash
# Downtime snapshot generation time for a 30-bed ward (issue 19, item 1; target: a region of 1,000,000
# patients). On a seeded database it sets up a ward of its own with 30 patients drawn at random from
# the registry (Stadig.Bench snapshot-ward; safe to re-run), gives it a downtime key, and makes its
# snapshot RUNS times in one process with `stadig snapshot --repeat`: read through the checkpoint
# (ward list, one audited read per patient), render, encrypt, write and prune. The first run also
# derives the key (PBKDF2, 600,000 iterations) and compiles; the summary line is over the runs after
# it, which is what the 15-minute schedule costs a serving node. It writes to the database: the ward,
# its admissions and the snapshots' audit events. Use a bench database.
#
#   bash bench/snapshot.sh --connection "Host=127.0.0.1;Port=55470;Username=postgres;Database=stadig_1m" --runs 20
#   bash bench/snapshot.sh --connection "Data Source=/tmp/bench.db" --runs 5
#
# Options:
#   --connection C   the seeded database (stadig seed --patients 1000000, or Stadig.Bench seed)
#   --runs N         snapshots to make (default 20)
#   --beds B         the ward's size (default 30)
#   --no-build       use the Release builds as they are
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONNECTION=""; RUNS=20; BEDS=30; BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --connection) CONNECTION="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --beds) BEDS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$CONNECTION" ] || { echo "--connection is required" >&2; exit 2; }

if [ "$BUILD" = 1 ]; then
  dotnet build src/Stadig -c Release -v q -nologo >/dev/null
  dotnet build bench/Stadig.Bench -c Release -v q -nologo >/dev/null
fi
WARD=SE2321000016-BENCHW
dotnet bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll snapshot-ward --connection "$CONNECTION" --beds "$BEDS"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/keys"
( umask 077; printf 'bänkens egen reservnyckel' > "$WORK/keys/$WARD.key" )
OUT="bench/results/snapshot-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
dotnet src/Stadig/bin/Release/net10.0/stadig.dll snapshot --unit "$WARD" --repeat "$RUNS" --database "$CONNECTION" \
  --Stadig:Downtime:Snapshots:Folder="$WORK/share" --Stadig:Downtime:Snapshots:KeyFolder="$WORK/keys" \
  --Stadig:Downtime:AuditSpoolFolder="$WORK/spool" | tee "$OUT/summary.txt"
ls -l "$WORK/share/$WARD" | tee -a "$OUT/summary.txt"
