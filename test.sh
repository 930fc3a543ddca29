#!/usr/bin/env bash
# Runs every Stadig test on a fresh Debian 12 machine: installs what is missing (PostgreSQL server
# binaries, the tests start their own throwaway cluster; Patroni, etcd and HAProxy for the failover
# test; Debian's Chromium for the browser tests),
# restores packages, builds, runs all tests,
# and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
# The failover test (PatroniFailoverTests) starts bench/ha/loopback.sh's layout itself, on loopback
# ports in a folder of its own: Patroni (python3-etcd is its etcd client), etcd and HAProxy; the
# script asks Patroni's REST API with curl.
command -v patroni >/dev/null 2>&1 || need_apt+=(patroni python3-etcd)
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Nothing is started system-wide: etcd-server, haproxy and postgresql would start their services on
  # install (policy-rc.d answering 101 forbids it, with or without systemd); the tests start their own.
  no_services=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && no_services=1
  fi
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  installed=$?
  [ "$no_services" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$installed" -eq 0 ] || { echo "apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The host's zone must never show on a page: run as a container does (UTC), so a time shown in the
# host's zone instead of the region's fails a test here and not first on a ward.
export TZ=UTC

results=$(mktemp -d)
dotnet test Stadig.slnx -c Release --logger "trx;LogFilePrefix=run" --results-directory "$results" 2>&1 | tee "$results/output.log"
status=${PIPESTATUS[0]}

# Count outcomes from the TRX files: every test project, every test case.
passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  p=$(grep -o '<Counters [^>]*' "$trx" | grep -o 'passed="[0-9]*"' | grep -o '[0-9]*')
  f=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a build failure is a failure

# The readiness gate's short form (docs/readiness.md): this release's regulatory file from this run's
# results (every hazard needs its tests passed, every package a purpose), then the gate on what CI can
# produce. Evidence only a region has (rehearsal, drills, training, incidents) is reported as not checked.
stadig=src/Stadig/bin/Release/net10.0/stadig.dll
if [ -f "$stadig" ] && ls "$results"/*.trx >/dev/null 2>&1; then
  rm -rf artifacts/regulatory artifacts/readiness artifacts/sbom
  # The CycloneDX SBOM of what ships (the tool and version pinned in .config/dotnet-tools.json), from the
  # restore graph the build just used: the SOUP list is checked against it.
  sbom=()
  if dotnet tool restore >"$results/sbom.log" 2>&1 \
     && dotnet CycloneDX src/Stadig/Stadig.csproj --output artifacts/sbom --filename bom.json --output-format Json \
          --disable-package-restore >>"$results/sbom.log" 2>&1 \
     && [ -f artifacts/sbom/bom.json ]; then
    sbom=(--sbom artifacts/sbom/bom.json)
  else
    echo "The CycloneDX SBOM could not be made:"; tail -n 5 "$results/sbom.log"; failed=$((failed + 1))
  fi
  dotnet "$stadig" regulatory-file --out artifacts/regulatory --test-results "$results" "${sbom[@]}" | tail -n 5
  dotnet "$stadig" readiness --short --regulatory artifacts/regulatory --database "Data Source=$results/readiness.db" --out artifacts/readiness
  [ $? -eq 0 ] || { echo "The readiness gate's short form answered NO-GO (artifacts/readiness/readiness.html)."; failed=$((failed + 1)); }
fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
