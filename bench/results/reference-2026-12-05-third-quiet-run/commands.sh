set -x
cd "$(git rev-parse --show-toplevel)"
C="Host=/tmp/qb-sock;Port=55480;Username=postgres;Database=m1"
B=bench/Stadig.Bench/bin/Release/net10.0/Stadig.Bench.dll
Q=${OUT:-/tmp/qb4}; mkdir -p $Q
date > $Q/start
dotnet $B fhir --connection "$C" > $Q/fhir.txt 2>&1
dotnet $B search --connection "$C" --iterations 2000 > $Q/search.txt 2>&1
dotnet $B chart --connection "$C" --iterations 2000 > $Q/chart.txt 2>&1
dotnet $B medication --connection "$C" --beds 30 --iterations 1000 --patients 200 > $Q/medication.txt 2>&1
bash bench/snapshot.sh --connection "$C" --runs 20 --no-build > $Q/snapshot.txt 2>&1
bash bench/first-request.sh --engine postgres --connection "Host=/tmp/qb-sock;Port=55480;Username=postgres;Database=bench" --runs 5 --iterations 100 --warm-up on --no-build > $Q/first-request.txt 2>&1
date > $Q/done
