#!/usr/bin/env bash
# The downtime drill (issue 19, item 5; hazard H-11). With the rehearsal's clinicians, lab feed and FHIR
# integrations working against Stadig on PostgreSQL — the primary archiving its WAL into a pgBackRest
# repository (full backup after seeding, an incremental one under load), a streaming replica behind
# Stadig:ReplicaDatabase, every ward's downtime snapshot made by the schedule — it
#   (a) stops the database primary as a crash does (pg_ctl -m immediate) and measures how long reads go on
#       (from the replica, in read-only mode), checks that every write is refused cleanly (503 with
#       Retry-After, or AR to the lab; never 500), starts it again, and looks up every acknowledged write
#       with its audit event on the primary (as bench/failover.sh does), with `stadig verify`;
#   (b) stops Stadig entirely and opens each ward's last snapshot in headless Chromium with no server and no
#       network: it must hold every current patient of the ward and be no older than the schedule allows;
#       its PDF for printing must be refused without the ward's key and, opened with it, name every one of them;
#   (c) restores the database from the backup to a point in time under load (pgBackRest PITR: full +
#       incremental + WAL) into a new data directory, checks it with restore-check (migrations, counts, audit
#       chain) and looks up every write acknowledged before that point; the recovery time is measured;
#   (d) once writes are back: registers the downtime period (the node's own suggestion, confirmed) and
#       back-enters paper records (a note, a vital sign, an admission, a dose), which must show as back-entered.
# (The order run is a, d, b, c: the paper records are entered while Stadig still runs.)
#
# The driver is tests/Stadig.Tests/Downtime/Drill (DowntimeDrill); CI runs its short form
# (DowntimeDrillTests: 150 patients, 4 clinicians, each stretch only until a few writes are acknowledged).
# Needs Debian's postgresql, pgbackrest and chromium (./test.sh installs them).
#
#   bash bench/downtime-drill.sh                          # the full drill (defaults below)
#   bash bench/downtime-drill.sh --patients 2000 --phase-seconds 10   # a brief proof that it works
#
# Options:
#   --patients N          region seeded into the fresh cluster (default 100000)
#   --clinicians N        simulated clinicians (default 20); --think-scale X (default 0.2: busier than the modelled day)
#   --phase-seconds S     at least this long for each stretch of load: before the incremental backup, before
#                         and after the recovery target, and the primary's stop (default 60)
#   --archive-timeout S   the primary's archive_timeout: with the WAL push, the recovery point's bound (default 60)
#   --snapshot-interval M Stadig:Downtime:Snapshots:IntervalMinutes (default 15)
#   --no-replica          a single database node: reads are refused too while the primary is stopped
#   --out DIR             report folder (default bench/results/<UTC>-downtime-drill)
#   --no-build            use the Release build as it is
#
# Output in the report folder: downtime-drill.json (the readiness gate's evidence: copy it into the
# region's evidence folder, docs/readiness.md) and downtime-drill.html, drill.log, the load's report
# (load/report.html), the acknowledged writes (ledger.tsv, and each check of them in ledger-*/), the
# snapshots. Exit code 0 when the drill passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATIENTS=100000; CLINICIANS=20; THINK=0.2; PHASE=60; ARCHIVE=60; INTERVAL=15; REPLICA=1; OUT=""; BUILD=1
ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --patients) PATIENTS="$2"; shift 2 ;;
    --clinicians) CLINICIANS="$2"; shift 2 ;;
    --think-scale) THINK="$2"; shift 2 ;;
    --phase-seconds) PHASE="$2"; shift 2 ;;
    --archive-timeout) ARCHIVE="$2"; shift 2 ;;
    --snapshot-interval) INTERVAL="$2"; shift 2 ;;
    --no-replica) REPLICA=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
    *) echo "downtime-drill: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v pgbackrest >/dev/null || { echo "downtime-drill: pgbackrest is missing (apt-get install pgbackrest)" >&2; exit 1; }
OUT="${OUT:-bench/results/$(date -u +%Y%m%d-%H%M%S)-downtime-drill}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

[ "$BUILD" -eq 1 ] && dotnet build tests/Stadig.Tests -c Release -v q --nologo

export TZ=UTC STADIG_DRILL_REPORT="$OUT" STADIG_DRILL_PATIENTS="$PATIENTS" STADIG_DRILL_CLINICIANS="$CLINICIANS" \
  STADIG_DRILL_THINK_SCALE="$THINK" STADIG_DRILL_PHASE_SECONDS="$PHASE" STADIG_DRILL_ARCHIVE_TIMEOUT="$ARCHIVE" \
  STADIG_DRILL_SNAPSHOT_INTERVAL="$INTERVAL" STADIG_DRILL_SNAPSHOT_WARDS=0 STADIG_DRILL_LAB_RATE=5 STADIG_DRILL_FHIR_RATE=5 \
  STADIG_DRILL_COMMAND="bash bench/downtime-drill.sh $ARGS"
[ "$REPLICA" -eq 0 ] && export STADIG_DRILL_NO_REPLICA=1
status=0
dotnet test tests/Stadig.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Stadig.Tests.Downtime.Drill.DowntimeDrillTests" --logger "console;verbosity=normal" > "$OUT/run.log" 2>&1 || status=$?
cat "$OUT/drill.log" 2>/dev/null || tail -n 50 "$OUT/run.log"
echo "Report: $OUT/downtime-drill.html and downtime-drill.json (the readiness evidence); the test run's log: $OUT/run.log"
exit $status
