#!/usr/bin/env bash
# Push benchmark: latency from POST to event and to a fresh tile, and push
# throughput, with N features in the store; baselines side by side.
#
#   bench/push_bench.sh [N]          default N = 1000000
#
# 1. generates lbgen's N-feature set once (bench/out/push/N/, kept) and
#    ingests it once into bench/out/push/N/bench.sqlite (kept); every run
#    works on a fresh copy of it (run.sqlite), so runs are alike,
# 2. writes push.yaml: lbgen's config plus the police style on the police
#    layer, a writer role (write: [police]), a reader and an admin token,
# 3. starts `lagebild serve` on it and runs bench/push_client.py, which
#    measures (see its header): latency over BENCH_UPDATES (200) single-feature
#    pushes (ack, event, fresh tile: p50/p99), a SIGHUP full reload as the
#    baseline for "a change reaches the screen", and throughput for batches
#    of 1, 100 and 10,000 features against a plain SpatiaLite insert of the
#    same batches (storage floor),
# 4. prints the JSON result and a summary; the server's RSS and CPU seconds.
#
# Environment: BENCH_BUILD (build), BENCH_OUT (bench/out/push), BENCH_UPDATES (200),
# BENCH_LAGEBILD (the binary, default $BENCH_BUILD/lagebild).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${1:-1000000}
BUILD=${BENCH_BUILD:-build}
OUT=${BENCH_OUT:-bench/out/push}/$N
LAGEBILD=${BENCH_LAGEBILD:-$BUILD/lagebild}
LBGEN=${BENCH_LBGEN:-$BUILD/bench/lbgen}
UPDATES=${BENCH_UPDATES:-200}
say() { echo "push_bench: $*" >&2; }

if [ ! -x "$LAGEBILD" ] || [ ! -x "$LBGEN" ]; then
  say "building"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2 --target lagebild lbgen
fi
mkdir -p "$OUT"
if [ ! -f "$OUT/.ingested" ]; then
  say "generating $N features"
  "$LBGEN" --out "$OUT" --features "$N" --quiet
  rm -f "$OUT"/bench.sqlite*
  say "ingesting"
  "$LAGEBILD" ingest --config "$OUT/bench.yaml" --quiet
  touch "$OUT/.ingested"
fi

tok() { printf '  %s: {hash: "sha256:%s", roles: [%s]%s}\n' "$1" \
  "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" "$2" "${3:-}"; }
{
  sed -e 's/^    attribution: Polizei (synthetisch)$/&\n    style: police/' \
    -e 's/^  path: bench.sqlite$/  path: run.sqlite/' "$OUT/bench.yaml"
  cat <<'EOF'
roles:
  writer:
    title: Polizei-Lagedienst (schreibt)
    clearance: {level: VS-NfD, groups: [police]}
    layers: ["*"]
    write: [police]
  reader:
    title: Polizei
    clearance: {level: VS-NfD, groups: [police]}
    layers: ["*"]
push:
  max_body_bytes: 67108864
tokens:
EOF
  tok bench-writer writer
  tok bench-reader reader
  tok bench-admin reader ", admin: true"
} >"$OUT/push.yaml"

rm -f "$OUT"/run.sqlite*
cp "$OUT/bench.sqlite" "$OUT/run.sqlite"
[ -f "$OUT/bench.sqlite-wal" ] && cp "$OUT/bench.sqlite-wal" "$OUT/run.sqlite-wal"
ERR="$OUT/serve.err"
say "starting the server on $N features"
"$LAGEBILD" serve --config "$OUT/push.yaml" --listen 127.0.0.1:0 --threads 16 --quiet \
  --audit "$OUT/audit.jsonl" >"$OUT/serve.out" 2>"$ERR" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
t0=$(date +%s.%N)
for _ in $(seq 1 600); do
  grep -q 'listening on' "$OUT/serve.out" 2>/dev/null && break
  kill -0 $PID 2>/dev/null || { cat "$ERR" >&2; exit 1; }
  sleep 0.2
done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/serve.out")
say "listening on $PORT after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
cpu0=$(awk '{print $14 + $15}' /proc/$PID/stat)
/usr/bin/python3 bench/push_client.py --port "$PORT" --writer bench-writer --reader bench-reader \
  --admin bench-admin --source police --server-pid $PID --baseline-db "$OUT/baseline.sqlite" \
  --updates "$UPDATES" >"$OUT/result.json"
cpu1=$(awk '{print $14 + $15}' /proc/$PID/stat)
rss=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
echo "server CPU seconds: $(( (cpu1 - cpu0) / $(getconf CLK_TCK) )), peak RSS: $((rss / 1024)) MiB"
/usr/bin/python3 - "$OUT/result.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("latency over %s updates (ms):" % "single-feature")
for k in ("ack", "event", "tile"):
    v = r["latency"][k]
    print("  %-6s p50 %8.1f  p99 %8.1f  max %8.1f" % (k, v["p50_ms"], v["p99_ms"], v["max_ms"]))
b = r["reload_baseline"]
print("baseline SIGHUP full reload: median %.2f s (%s)" % (b["median_s"], b["all_s"]))
print("ratio event p99 / reload median: %.3f" % (r["latency"]["event"]["p99_ms"] / 1e3 / b["median_s"]))
print("throughput (features/s): batch  lagebild  sqlite-floor  ratio")
for k, v in r["throughput"].items():
    print("  %6s  %9.1f  %12.1f  %5.3f" % (k, v["features_per_s"], v["baseline_features_per_s"], v["ratio"]))
EOF
