#!/usr/bin/env bash
# The first request of each main page after a fresh start, and then the steady state (issue 17, item 11).
# Starts the real server RUNS times on a seeded database, with the start-up warm-up on and off, and
# each time, as the demo physician on a ward: logs in, then the first patient search, the first chart
# overview and the first new note (the form post and the editor it leads to), then ITERATIONS more
# of each. Times are the server's own (the Server-Timing header: arrival to the answer's headers).
# A request may wait up to 1 s for an admission slot (instead of 20 ms) and a shed one is sent again:
# on a machine shared with other work the first request would otherwise be shed, not measured.
#
#   bash bench/first-request.sh --engine sqlite --connection "Data Source=/tmp/bench.db" --runs 10 --iterations 50
#   bash bench/first-request.sh --engine postgres \
#       --connection "Host=127.0.0.1;Port=55470;Username=postgres;Database=stadig_first" --runs 10 --iterations 50
#
# The database must be seeded with demo users first (it gets new draft notes from the runs):
#   dotnet src/Stadig/bin/Release/net10.0/stadig.dll seed --database "…" --patients 10000 --demo-users
#
# Options:
#   --engine E        sqlite or postgres (only a label in the output; the connection decides)
#   --connection C    the seeded database
#   --runs N          fresh starts per warm-up setting (default 10)
#   --iterations M    steady-state requests of each kind per run (default 50)
#   --warm-up W       on, off or both (default both)
#   --port P          HTTP port (default 5090)
#   --no-build        use the Release build as it is
#   --server-env V=X  an environment variable for the server (repeatable), e.g. DOTNET_TieredPGO=0
#   --label L         a label for the rows (default: the warm-up setting)
#   --server-dll F    run this stadig.dll instead of the Release build (e.g. a ReadyToRun publish; implies --no-build)
#
# Output: bench/results/first-request-<UTC timestamp>/samples.tsv (every sample) and summary.txt:
# per action and phase (first / steady) the server's p50, p95, p99 and max, and from the same
# Server-Timing header the time outside the database (total minus db), the round trips, the most
# methods the process compiled during one request (jit: hundreds on a first request = not warmed;
# with tiered compilation a few on steady requests are background recompilations) and the KiB it
# allocated meanwhile (alloc-kb), and how many new database connections the requests opened (db-connects,
# summed: on PostgreSQL each is a new server process that parses and plans every statement anew; with
# the warm-up on, none is expected while one request runs at a time).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENGINE=sqlite; CONNECTION=""; RUNS=10; ITERATIONS=50; MODES=(on off); PORT=5090; BUILD=1; SERVER_ENV=(); LABEL=""
SERVER_DLL="$ROOT/src/Stadig/bin/Release/net10.0/stadig.dll"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --engine) ENGINE="$2"; shift 2 ;;
        --connection) CONNECTION="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --iterations) ITERATIONS="$2"; shift 2 ;;
        --warm-up) case "$2" in both) MODES=(on off) ;; on|off) MODES=("$2") ;; *) echo "first-request: --warm-up is on, off or both" >&2; exit 1 ;; esac; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --server-env) SERVER_ENV+=("$2"); shift 2 ;;
        --label) LABEL="$2"; shift 2 ;;
        --server-dll) SERVER_DLL="$(realpath "$2")"; BUILD=0; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
        *) echo "first-request: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
[[ -n "$CONNECTION" ]] || { echo "first-request: --connection is required (a database seeded with --demo-users)" >&2; exit 1; }

OUT="$ROOT/bench/results/first-request-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
if [[ $BUILD == 1 ]]; then
    echo "== build (Release)"
    dotnet build -c Release -v quiet -nologo src/Stadig/Stadig.csproj >/dev/null
fi
URL="http://127.0.0.1:$PORT"
JAR="$OUT/cookies.txt"; BODY="$OUT/body.html"; HEADERS="$OUT/headers.txt"
SAMPLES="$OUT/samples.tsv"
printf 'engine\tlabel\trun\taction\tphase\tserver_ms\tdb_ms\tround_trips\tjit_methods\talloc_kib\tdb_connects\n' >"$SAMPLES"

SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap stop_server EXIT

start_server() { # $1: on|off
    env "${SERVER_ENV[@]}" dotnet "$SERVER_DLL" serve --database "$CONNECTION" --urls "$URL" \
        --Stadig:SeedDemoAtStart=false --Stadig:Mllp:Port=0 --Stadig:LoginAttemptsPerMinute=1000000 \
        --Stadig:Admission:QueueWaitMilliseconds=1000 --Stadig:Admission:IntegrationQueueWaitMilliseconds=1000 --Stadig:Admission:PriorityQueueWaitMilliseconds=1000 \
        --Stadig:Admission:LoginQueueWaitMilliseconds=1000 \
        --Stadig:WarmUp:Enabled="$([[ $1 == on ]] && echo true || echo false)" >>"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    local started; started=$(date +%s%N)
    for _ in $(seq 1 1200); do
        if curl -fsS -o /dev/null "$URL/health/ready" 2>/dev/null; then
            READY_MS=$(( ($(date +%s%N) - started) / 1000000 ))
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "first-request: the server stopped; see $OUT/server.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "first-request: the server did not get ready" >&2; exit 1
}

# One request: the body in $BODY, the status in $CODE, the redirect in $LOCATION, the server's time in $MS.
# A request shed by admission control (503 + Retry-After: the machine was busier than the node's
# slots) is counted as "shed" and sent again, so the time measured is that of the answered request.
request() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        curl -sS -b "$JAR" -c "$JAR" -o "$BODY" -D "$HEADERS" "$@"
        CODE=$(head -n 1 "$HEADERS" | awk '{print $2}')
        if [[ "$CODE" == 503 ]] && grep -qi '^retry-after:' "$HEADERS"; then
            # Sent again after the server's own Retry-After (seconds), as a well-behaved client would.
            local after; after=$(grep -i '^retry-after:' "$HEADERS" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r')
            [[ "$after" =~ ^[0-9]+$ ]] || after=1
            record shed - - - - - - -; sleep "$after"; continue
        fi
        break
    done
    LOCATION=$(grep -i '^location:' "$HEADERS" | sed 's/^[Ll]ocation: *//' | tr -d '\r' | sed 's|^http://[^/]*||' || true)
    local timing; timing=$(grep -i '^server-timing:' "$HEADERS" | tr -d '\r')
    MS=$(metric "$timing" 'total;dur')
    # The database's share, and what the process compiled (methods) and allocated (KiB) meanwhile.
    DB_MS=$(metric "$timing" 'db;dur'); TRIPS=$(metric "$timing" 'db-round-trips;desc')
    JIT=$(metric "$timing" 'jit;desc'); ALLOC=$(metric "$timing" 'alloc-kb;desc'); CONNECTS=$(metric "$timing" 'db-connects;desc')
}

metric() { # $1: the Server-Timing header, $2: "name;dur" or "name;desc"; "-" when absent
    local value; value=$(printf '%s' "$1" | grep -o "\(^\|[ ,:]\)$2=[0-9.]*" | head -n 1 | sed 's/.*=//')
    echo "${value:--}"
}

token() { grep -o 'name="__RequestVerificationToken"[^>]*value="[^"]*"' "$BODY" | head -n 1 | sed 's/.*value="//; s/"$//; s/&#x2B;/+/g; s/&#x2F;/\//g; s/&#x3D;/=/g; s/&amp;/\&/g'; }

login() {
    rm -f "$JAR"
    request "$URL/login"
    request --data-urlencode "__RequestVerificationToken=$(token)" -d username=lakare -d password=demo -d returnUrl=/ "$URL/login"
    [[ "$LOCATION" == /assignment* ]] || { echo "first-request: login refused ($CODE)" >&2; exit 1; }
    request "$URL$LOCATION"
    # The first assignment offered is on a ward (Medicinavdelning 3 in the demo region).
    local assignment; assignment=$(grep -o 'name="assignmentId" value="[^"]*"' "$BODY" | head -n 1 | sed 's/.*value="//; s/"$//')
    request --data-urlencode "__RequestVerificationToken=$(token)" -d "assignmentId=$assignment" -d returnUrl=/ "$URL/assignment"
    [[ "$CODE" == 302 ]] || { echo "first-request: assignment refused ($CODE)" >&2; exit 1; }
}

RUN=0; ROW_LABEL=setup; DB_MS=-; TRIPS=-; JIT=-; ALLOC=-; CONNECTS=-
# $1 action, $2 phase, $3 server ms; the other columns from the last request unless given ($4 db ms, $5 round trips, $6 methods, $7 KiB, $8 new connections).
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ENGINE" "$ROW_LABEL" "$RUN" "$1" "$2" "$3" "${4:-$DB_MS}" "${5:-$TRIPS}" "${6:-$JIT}" "${7:-$ALLOC}" "${8:-$CONNECTS}" >>"$SAMPLES"; }

search() { # $1: phase, $2: query
    request -G --data-urlencode "q=$2" "$URL/"
    [[ "$CODE" == 200 ]] && grep -q 'id="search-results"' "$BODY" || { echo "first-request: search failed ($CODE)" >&2; exit 1; }
    record search "$1" "$MS"
}

chart() { # $1: phase, $2: patient id
    request "$URL/patients/$2"
    [[ "$CODE" == 200 ]] && grep -q 'class="chart-grid"' "$BODY" || { echo "first-request: no chart ($CODE)" >&2; exit 1; }
    record chart "$1" "$MS"
}

new_note() { # $1: phase, $2: patient id; the chart page is in $BODY
    request --data-urlencode "__RequestVerificationToken=$(token)" -d _handler=new-note -d NewNote.NoteType=Daganteckning "$URL/patients/$2"
    [[ "$CODE" == 302 && "$LOCATION" == /notes/* ]] || { echo "first-request: note not created ($CODE)" >&2; exit 1; }
    local post=$MS post_db=$DB_MS post_trips=$TRIPS post_jit=$JIT post_alloc=$ALLOC post_connects=$CONNECTS
    request "$URL$LOCATION"
    [[ "$CODE" == 200 ]] && grep -q 'id="note-editor"' "$BODY" || { echo "first-request: no note editor ($CODE)" >&2; exit 1; }
    record note-create-post "$1" "$post" "$post_db" "$post_trips" "$post_jit" "$post_alloc" "$post_connects"
    record note-editor "$1" "$MS"
    record note-create "$1" "$(awk -v a="$post" -v b="$MS" 'BEGIN { printf "%.1f", a + b }')" \
        "$(awk -v a="$post_db" -v b="$DB_MS" 'BEGIN { printf "%.1f", a + b }')" $((post_trips + TRIPS)) $((post_jit + JIT)) $((post_alloc + ALLOC)) \
        "$(awk -v a="$post_connects" -v b="$CONNECTS" 'BEGIN { if (a == "-" || b == "-") print "-"; else print a + b }')"
}

echo "== the ward's patients (one start, not measured)"
: >"$OUT/server.log"
start_server off
login
request "$URL/ward"
mapfile -t PATIENTS < <(grep -o 'href="/patients/[0-9a-f-]*">[^<]*' "$BODY" | sed 's|href="/patients/||; s|">|\t|')
stop_server
[[ ${#PATIENTS[@]} -gt 0 ]] || { echo "first-request: the ward has no patients (seed with --demo-users)" >&2; exit 1; }
echo "   ${#PATIENTS[@]} patients"

# The settings take turns run by run, so that both see the machine as it was at the time.
for RUN in $(seq 1 "$RUNS"); do
    for MODE in "${MODES[@]}"; do
        ROW_LABEL="${LABEL:-warm-up $MODE}"
        start_server "$MODE"
        record ready start "$READY_MS" - - - - -
        login
        i=$(( RUN % ${#PATIENTS[@]} ))
        id="${PATIENTS[$i]%%$'\t'*}"; name="${PATIENTS[$i]#*$'\t'}"
        # "Family, Given Names" searched as two words, family and first given name: the heavier kind of search.
        query="${name%%,*} $(echo "${name#*, }" | awk '{print $1}')"
        search first "$query"
        chart first "$id"
        new_note first "$id"
        for n in $(seq 1 "$ITERATIONS"); do
            i=$(( (RUN * ITERATIONS + n) % ${#PATIENTS[@]} ))
            id="${PATIENTS[$i]%%$'\t'*}"; name="${PATIENTS[$i]#*$'\t'}"
            search steady "${name%%,*} $(echo "${name#*, }" | awk '{print $1}')"
            chart steady "$id"
            new_note steady "$id"
        done
        stop_server
        echo "   $ROW_LABEL run $RUN: ready after ${READY_MS} ms"
    done
done

# Percentiles (nearest rank) per engine, label, action and phase: the server's time, and apart from
# it the time outside the database (server minus db), the round trips, the methods the process
# compiled during the request (a first request that compiles hundreds was not warmed up) and the KiB
# it allocated meanwhile.
values_of() { # $1 key (engine, label, action, phase tab-separated), $2 an awk expression of the row's fields
    awk -F'\t' -v key="$1" 'NR > 1 && ($1 "\t" $2 "\t" $4 "\t" $5) == key && $7 != "-" { print '"$2"' }' "$SAMPLES" | sort -g
}
pct() { awk -v q="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int(NR * q + 0.999999); if (i < 1) i = 1; print a[i] }'; }
summarise() {
    awk -F'\t' 'NR > 1 && $4 != "shed" { print $1 "\t" $2 "\t" $4 "\t" $5 }' "$SAMPLES" | sort -u | while IFS=$'\t' read -r engine label action phase; do
        key="$engine"$'\t'"$label"$'\t'"$action"$'\t'"$phase"
        server=$(awk -F'\t' -v key="$key" 'NR > 1 && ($1 "\t" $2 "\t" $4 "\t" $5) == key { print $6 }' "$SAMPLES" | sort -g)
        n=$(printf '%s\n' "$server" | grep -c .)
        printf '| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$engine" "$label" "$action" "$phase" "$n" \
            "$(pct 0.50 <<<"$server")" "$(pct 0.95 <<<"$server")" "$(pct 0.99 <<<"$server")" "$(pct 1 <<<"$server")" \
            "$(values_of "$key" '$6 - $7' | pct 0.50)" "$(values_of "$key" '$6 - $7' | pct 0.99)" \
            "$(values_of "$key" '$8' | pct 0.50)" "$(values_of "$key" '$9' | pct 1)" "$(values_of "$key" '$10' | pct 0.50)" \
            "$(awk -F'\t' -v key="$key" 'NR > 1 && ($1 "\t" $2 "\t" $4 "\t" $5) == key && $11 ~ /^[0-9]+$/ { n += $11; seen = 1 } END { print seen ? n : "-" }' "$SAMPLES")"
    done
}
{
    echo "bash bench/first-request.sh --engine $ENGINE --runs $RUNS --iterations $ITERATIONS (${SERVER_ENV[*]:-})"
    echo "$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| engine | label | action | phase | n | p50 ms | p95 ms | p99 ms | max ms | outside db p50 ms | outside db p99 ms | round trips p50 | methods compiled max | KiB allocated p50 | new connections |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    summarise
} | tee "$OUT/summary.txt"
rm -f "$JAR" "$BODY" "$HEADERS"
