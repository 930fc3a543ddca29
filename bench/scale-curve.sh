#!/usr/bin/env bash
# The scale curve of the go-live rehearsal (issue #7): chart overview and patient search p99 on
# regions of 10,000, 100,000 and 1,000,000 patients on one PostgreSQL server, measured the same way
# (the bench verbs, in-process, audited). Goal: flat within 1.5x from the smallest to the largest.
#
#   bash bench/scale-curve.sh "Host=127.0.0.1;Port=55450;Username=postgres" scale_10k scale_100k rehearsal_1m
#
# The databases must exist and be seeded (bench seed verb or `stadig seed`) with 10k, 100k and 1M
# patients; the first argument is the connection string without a database.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$1"; shift
dotnet build -c Release "$ROOT/bench/Stadig.Bench" >/dev/null
BENCH=(dotnet "$ROOT/bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll")
printf "%-16s %10s %14s %14s %16s\n" database patients "chart p99 ms" "search p99 ms" "slowest kind p99"
for db in "$@"; do
    conn="$BASE;Database=$db"
    "${BENCH[@]}" migrate --connection "$conn" >/dev/null
    patients=$(psql "postgresql://$(sed -E 's/.*Username=([^;]*).*/\1/' <<<"$BASE")@$(sed -E 's/.*Host=([^;]*).*/\1/' <<<"$BASE"):$(sed -E 's/.*Port=([^;]*).*/\1/' <<<"$BASE")/$db" -Atc "SELECT COUNT(*) FROM patient")
    chart=$("${BENCH[@]}" chart --connection "$conn" --iterations 1000 | awk '/^chart overview/ {print $(NF-2)}')
    search=$("${BENCH[@]}" search --connection "$conn" --iterations 300)
    overall=$(awk '/^overall/ {print $(NF-1)}' <<<"$search")
    # The slowest kind of search by p99 (rows: name…, n, p50, p95, p99, max, hits).
    worst=$(awk '$1 != "overall" && $(NF-2) ~ /^[0-9.]+$/ && $(NF-5) ~ /^[0-9]+$/ {v=$(NF-2); if (v+0 > m+0) m=v} END {print m}' <<<"$search")
    printf "%-16s %10s %14s %14s %16s\n" "$db" "$patients" "$chart" "$overall" "$worst"
done
