#!/usr/bin/env bash
# Access benchmark: what does serving the same tiles to 8 principals with
# different rights cost, against serving them to one?  (The access issue's
# figure: cold, 8 principals at most 2x one principal.)
#
#   bench/roles_bench.sh           N = 100000 features, about 5 minutes on 2 cores
#   bench/roles_bench.sh 10000     another N
#   bench/roles_bench.sh 1000000   the dense case, where drawing dominates a tile
#                                  (about 4 min to generate and ingest, 4 min per round)
#
# Data: a synthetic set of N features over Germany from build/bench/lbgen
# (cached in $OUT/N/), ingested once into $OUT/N/roles.sqlite with a derived
# config $OUT/N/roles.yaml = lbgen's bench.yaml (4 layers police, fire,
# military, kritis; per-feature labels with levels OFFEN / VS-NfD /
# VS-VERTRAULICH and releasability groups; each layer in its actor's style)
# plus roles and tokens.  Each token is its principal's name (bench-police ...).
#
# Principal sets (every principal has its own role):
#   one    bench-police                         (VS-NfD, group police, all layers)
#   diff8  8 principals with DIFFERENT rights:  police, fire, military (VS-V),
#          kritis (3 layers), lagezentrum (VS-V), landkreis (area limit:
#          Niedersachsen), thw, stab (VS-V, groups police + fire)
#   broad  bench-lagezentrum alone (VS-VERTRAULICH: the broadest single view), a
#          second baseline: 'one' (police) sees fewer features, so its renders
#          are the cheapest of the eight
#   eq8    control, 8 principals with EQUAL clearance (VS-NfD, police) but
#          different layer sets: bench-police plus the 4 three-layer and 3 of
#          the 6 two-layer subsets.  Their composite tiles differ (other layer
#          sets), their per-layer tiles are the same.
#
# Why principals share layer tiles: the server caches every layer's canvas under
# what is visible in the tile -- layer revision, tile, and for each distinct
# label present there whether the principal's rights draw it (server/maps.c) --
# so principals whose rights differ but who draw the same features share the
# render, and the composite PNG when all layers agree.  eq8 (equal clearances)
# shares every layer render; diff8 shares what the data lets it share.
#
# Measurement: for every set a fresh server (lagebild serve, default threads
# and cache, empty cache; its snapshots are built before "listening on"), then
# bench/http_client.py roles fetches the 300 tiles for every principal of the
# set: 2 connections, each taking whole tiles from a queue and fetching the
# tile for each principal in turn; every request on a new connection (with
# keep-alive the server's ~40 ms Nagle/delayed-ACK stall per response, see
# bench/README.md, would dominate every figure).  Sets alternate: one diff8
# eq8, one diff8 eq8, ... (BENCH_REPEAT rounds).  Reported per run: wall time,
# ms per request, latency, non-200 answers, layer tiles rendered (from
# /metrics), and per round the ratios (set time)/(one time), overall and per
# request.  The goal of the issue: diff8/one <= 2.
#
# Tile list: 300 tiles with content at zooms 6-14, every 4th @2x, chosen with
# equal content density (bench/http_client.py tiles).
#
# BENCH_KEEPALIVE=1: each client connection stays open for all its requests, as
# map clients keep theirs (the ~40 ms stall described below is gone since the
# server sets TCP_NODELAY; the default stays one connection per request so
# that figures compare with earlier runs).
#
# CPUs: the server runs on one CPU (BENCH_CPU, default the last one) and the
# client on the others, as bench/tile_bench.sh pins its timed runs: the two
# vCPUs of these machines differ by up to 40 % in speed, and a server whose
# threads move between them measures that instead of its own work.
# BENCH_CPU=none leaves placement to the kernel.
#
# Environment: BENCH_REPEAT (3), BENCH_CPU (last CPU), BENCH_TILES (300), BENCH_CONNS (2), BENCH_KEEPALIVE (0),
# BENCH_SEED (1), BENCH_LAGEBILD (build/lagebild, copied to $OUT first),
# BENCH_LBGEN (build/bench/lbgen), BENCH_OUT (bench/out/roles).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_NAME=roles_bench
OUT=$(mkdir -p "${BENCH_OUT:-bench/out/roles}" && cd "${BENCH_OUT:-bench/out/roles}" && pwd)
. "$ROOT/bench/http_common.sh"

N=${1:-100000}
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 20 ] || die "N must be an integer >= 20"
REPEAT=${BENCH_REPEAT:-3}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
CLIENT_PIN=
if [ "$CPU" != none ]; then
  [[ $CPU =~ ^[0-9]+$ ]] && [ "$CPU" -lt "$(nproc)" ] ||
    die "BENCH_CPU must be a CPU number below $(nproc) or 'none', not '$CPU'"
  command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the server; BENCH_CPU=none runs without"
  LB_PIN=$CPU
  # the client on every other CPU
  CLIENT_PIN=$(seq 0 $(($(nproc) - 1)) | awk -v c="$CPU" '$1 != c' | paste -sd, -)
fi
NTILES=${BENCH_TILES:-300}
CONNS=${BENCH_CONNS:-2}
KEEPALIVE=$([ "${BENCH_KEEPALIVE:-0}" = 1 ] && echo 1 || true)
SEED=${BENCH_SEED:-1}
LBGEN=${BENCH_LBGEN:-$ROOT/build/bench/lbgen}

need_pkgs curl:curl /usr/bin/python3:python3
LB_SRC=${BENCH_LAGEBILD:-$ROOT/build/lagebild}
snapshot_binary "$LB_SRC"
LB_SRC_DESC="$LB_SRC (built $(date -r "$LB_SRC" '+%F %T'))"
[ -x "$LBGEN" ] || { [ -f build/CMakeCache.txt ] || cmake -S . -B build >/dev/null; cmake --build build -j2 --target lbgen; }
CLIENT="$ROOT/bench/http_client.py"
trap '[ -n "${LB_PID:-}" ] && kill -TERM "$LB_PID" 2>/dev/null; true' EXIT

# ---- data and config -------------------------------------------------------------
D="$OUT/$N"
stamp="$D/.lbgen-stamp"
want="n=$N seed=$SEED lbgen=$(stat -c %Y "$LBGEN")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$D/bench.yaml" ]; then
  say "N=$N: using the data in $D"
else
  say "N=$N: generating data in $D"
  rm -rf "$D"
  mkdir -p "$D"
  "$LBGEN" --out "$D" --features "$N" --seed "$SEED" --quiet
  echo "$want" >"$stamp"
fi

# the token hash: SHA-256 of the token, which is the principal's name
tok() { printf '    %s: {hash: "sha256:%s", roles: [%s]%s}\n' "$1" \
  "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)" "$2" "${3:+, $3}"; }

cat >"$D/area_niedersachsen.geojson" <<'EOF'
{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Niedersachsen (grob)"},
 "geometry": {"type": "Polygon", "coordinates": [[[6.65, 52.25], [7.05, 53.65], [8.6, 53.9], [10.6, 53.4],
 [11.6, 52.9], [11.0, 51.9], [10.6, 51.35], [9.6, 51.3], [8.9, 51.75], [7.9, 52.05], [6.65, 52.25]]]}}]}
EOF
{
  sed -e 's#^  path: bench.sqlite$#  path: roles.sqlite#' "$D/bench.yaml"
  cat <<'EOF'

# --- added by bench/roles_bench.sh ------------------------------------------------
roles:
  police:      {title: police, clearance: {level: VS-NfD, groups: [police]}, layers: ["*"]}
  fire:        {title: fire, clearance: {level: VS-NfD, groups: [fire]}, layers: ["*"]}
  military:    {title: military, clearance: {level: VS-VERTRAULICH, groups: [military]}, layers: ["*"]}
  kritis:      {title: kritis, clearance: {level: VS-NfD, groups: [kritis]}, layers: [kritis, fire, police]}
  lagezentrum: {title: lagezentrum, clearance: {level: VS-VERTRAULICH, groups: [lagezentrum]}, layers: ["*"]}
  landkreis:
    title: landkreis
    clearance: {level: VS-NfD, groups: [landkreis]}
    layers: ["*"]
    area: {path: area_niedersachsen.geojson}
  thw:         {title: thw, clearance: {level: VS-NfD, groups: [thw]}, layers: ["*"]}
  stab:        {title: stab, clearance: {level: VS-VERTRAULICH, groups: [police, fire]}, layers: ["*"]}
  # equal clearance to police, other layer sets (the eq8 control)
  eq1: {title: eq1, clearance: {level: VS-NfD, groups: [police]}, layers: [kritis, military, fire]}
  eq2: {title: eq2, clearance: {level: VS-NfD, groups: [police]}, layers: [kritis, military, police]}
  eq3: {title: eq3, clearance: {level: VS-NfD, groups: [police]}, layers: [kritis, fire, police]}
  eq4: {title: eq4, clearance: {level: VS-NfD, groups: [police]}, layers: [military, fire, police]}
  eq5: {title: eq5, clearance: {level: VS-NfD, groups: [police]}, layers: [kritis, police]}
  eq6: {title: eq6, clearance: {level: VS-NfD, groups: [police]}, layers: [military, police]}
  eq7: {title: eq7, clearance: {level: VS-NfD, groups: [police]}, layers: [fire, police]}

tokens:
EOF
  for r in police fire military kritis lagezentrum landkreis thw stab eq1 eq2 eq3 eq4 eq5 eq6 eq7; do
    tok "bench-$r" "$r"
  done
  tok bench-admin lagezentrum "admin: true"
} >"$D/roles.yaml"
"$LB" check --config "$D/roles.yaml" >/dev/null || die "$D/roles.yaml does not check"

store="$D/roles.sqlite"
if [ ! -f "$store" ] || [ "$stamp" -nt "$store" ]; then
  say "N=$N: ingesting into $store"
  rm -f "$store" "$store-wal" "$store-shm" "$store-journal"
  "$LB" ingest --config "$D/roles.yaml" --quiet >"$D/ingest.log" 2>&1 ||
    { cat "$D/ingest.log" >&2; die "ingest failed (see $D/ingest.log)"; }
fi
command -v sqlite3 >/dev/null && sqlite3 "$store" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null || true
"$PY" "$CLIENT" tiles --store "$store" --zooms 6-14 --n "$NTILES" --retina-every 4 >"$D/tiles.txt"

declare -A SET
SET[one]=bench-police
SET[diff8]=bench-police,bench-fire,bench-military,bench-kritis,bench-lagezentrum,bench-landkreis,bench-thw,bench-stab
SET[eq8]=bench-police,bench-eq1,bench-eq2,bench-eq3,bench-eq4,bench-eq5,bench-eq6,bench-eq7
SET[broad]=bench-lagezentrum
ORDER=(one broad diff8 eq8)

echo
echo "roles benchmark: N=$N, $(wc -l <"$D/tiles.txt") tiles, cold (fresh server per run), $CONNS connections$([ -n "$KEEPALIVE" ] && echo ", kept alive" || echo ", one per request")"
echo "server on CPU ${LB_PIN:-any}, client on CPU ${CLIENT_PIN:-any}"
host_line
echo

field() { sed -nE "s/.* $2=([^ ]+).*/\\1/p" <<<"$1"; }
metric() {
  curl -s -H "Authorization: Bearer bench-admin" "http://127.0.0.1:$1/metrics" |
    awk -v n="lagebild_$2" '$1 == n {print $2}'
}

declare -A RES
for r in $(seq 1 "$REPEAT"); do
  for s in "${ORDER[@]}"; do
    lb_start "run-$s-$r" "$D/roles.yaml"
    cpu0=$(cpu_s "$LB_PID") rss0=$(rss_kb "$LB_PID" VmRSS)
    line=$(${CLIENT_PIN:+taskset -c "$CLIENT_PIN"} "$PY" "$CLIENT" roles --base "http://127.0.0.1:$LB_PORT" --tiles "$D/tiles.txt" --map lage \
      --tokens "${SET[$s]}" --conns "$CONNS" ${KEEPALIVE:+--keepalive})
    RES[$s,$r]="$line rendered=$(metric "$LB_PORT" tiles_rendered_total) hits=$(metric "$LB_PORT" cache_hits_total) encoded=$(metric "$LB_PORT" tiles_encoded_total) layer_cpu=$(metric "$LB_PORT" layer_cpu_seconds_total) enc_cpu=$(metric "$LB_PORT" encode_cpu_seconds_total) cache_bytes=$(metric "$LB_PORT" cache_bytes) hwm=$(rss_kb "$LB_PID" VmHWM)"
    RES[$s,$r]+=" rss0=$rss0 cpu_s=$(awk -v a="$cpu0" -v b="$(cpu_s "$LB_PID")" 'BEGIN {printf "%.2f", b - a}')"
    lb_stop "run-$s-$r"
    x=${RES[$s,$r]}
    printf '   round %d %-6s %5d requests %8.2f s %7.2f ms/req  server CPU %6.2f s  layer renders %6d  statuses %s  errors %s\n' "$r" "$s" \
      "$(field "$x" requests)" "$(field "$x" wall_s)" "$(field "$x" ms_per_req)" "$(field "$x" cpu_s)" "$(field "$x" rendered)" \
      "$(field "$x" statuses)" "$(field "$x" errors)"
  done
done
echo "uptime: $(uptime)"
echo
echo "Summary: ratio = this run's wall time / the 'one' run's of the same round; per req = ratio /"
echo "(requests / the one run's requests); CPU = server user+system seconds for the requests (less"
echo "sensitive to other load on the host than wall time), CPU ratio likewise; renders ="
echo "layer tiles rendered (lagebild_tiles_rendered_total); RSS = server VmRSS after start (snapshots"
echo "built, nothing requested yet) -> peak VmHWM after the run"
printf '%-6s %5s %8s %8s %8s %8s %8s %8s %9s %9s %8s %8s %13s\n' set round requests "wall s" "ms/req" \
  "lat p50" "lat p95" "renders" "ratio" "per req" "CPU s" "CPU rat" "RSS MB"
for r in $(seq 1 "$REPEAT"); do
  b=${RES[one,$r]}
  for s in "${ORDER[@]}"; do
    x=${RES[$s,$r]}
    non200=$(awk -v s="$(field "$x" statuses)" 'BEGIN {n = split(s, a, ","); for (i = 1; i <= n; i++) {
      split(a[i], kv, ":"); if (kv[1] != "200") t += kv[2]} print t + 0}')
    non200=$((non200 + $(field "$x" errors)))
    [ "$non200" -eq 0 ] || echo "   WARNING: $s round $r: $non200 requests failed or answered other than 200"
    awk -v s="$s" -v r="$r" -v q="$(field "$x" requests)" -v w="$(field "$x" wall_s)" \
        -v m="$(field "$x" ms_per_req)" -v l50="$(field "$x" lat_median_ms)" -v l95="$(field "$x" lat_p95_ms)" \
        -v rd="$(field "$x" rendered)" -v bw="$(field "$b" wall_s)" -v bq="$(field "$b" requests)" \
        -v c="$(field "$x" cpu_s)" -v bc="$(field "$b" cpu_s)" -v h="$(field "$x" hwm)" \
        -v h0="$(field "$x" rss0)" 'BEGIN {
      printf "%-6s %5d %8d %8.2f %8.2f %8.2f %8.2f %8d %9.2f %9.2f %8.2f %8.2f %6.0f->%-6.0f\n",
        s, r, q, w, m, l50, l95, rd, w / bw, (w / bw) / (q / bq), c, c / bc, h0 / 1024, h / 1024 }'
  done
done
echo
med() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "Medians over the $REPEAT rounds (the issue's goal: diff8 / one <= 2):"
for s in broad diff8 eq8; do
  wr=() cr=()
  for r in $(seq 1 "$REPEAT"); do
    wr+=("$(awk -v a="$(field "${RES[$s,$r]}" wall_s)" -v b="$(field "${RES[one,$r]}" wall_s)" 'BEGIN {print a / b}')")
    cr+=("$(awk -v a="$(field "${RES[$s,$r]}" cpu_s)" -v b="$(field "${RES[one,$r]}" cpu_s)" 'BEGIN {print a / b}')")
  done
  printf '  %-6s / one: wall time %.2f (per request %.2f), server CPU %.2f (per request %.2f); layer renders %.2f\n' "$s" \
    "$(med "${wr[@]}")" "$(awk -v x="$(med "${wr[@]}")" 'BEGIN {print x / 8}')" \
    "$(med "${cr[@]}")" "$(awk -v x="$(med "${cr[@]}")" 'BEGIN {print x / 8}')" \
    "$(awk -v a="$(field "${RES[$s,1]}" rendered)" -v b="$(field "${RES[one,1]}" rendered)" 'BEGIN {print a / b}')"
done
# the same against the broadest single principal (lagezentrum sees every feature)
wr=() cr=()
for r in $(seq 1 "$REPEAT"); do
  wr+=("$(awk -v a="$(field "${RES[diff8,$r]}" wall_s)" -v b="$(field "${RES[broad,$r]}" wall_s)" 'BEGIN {print a / b}')")
  cr+=("$(awk -v a="$(field "${RES[diff8,$r]}" cpu_s)" -v b="$(field "${RES[broad,$r]}" cpu_s)" 'BEGIN {print a / b}')")
done
printf '  diff8  / broad: wall time %.2f, server CPU %.2f; layer renders %.2f\n' "$(med "${wr[@]}")" "$(med "${cr[@]}")" \
  "$(awk -v a="$(field "${RES[diff8,1]}" rendered)" -v b="$(field "${RES[broad,1]}" rendered)" 'BEGIN {print a / b}')"
echo
echo "Where the server CPU went (medians over the rounds; from /metrics: thread CPU time making the"
echo "layer canvases not in the cache, and encoding the composites not in the cache; the rest is"
echo "compositing, HTTP, access decisions, audit), and each part's ratio to the one run's:"
printf '  %-6s %9s %10s %9s %10s %9s %10s %9s\n' set encodes "layers s" ratio "encode s" ratio "rest s" ratio
part() { # part SET ROUND: "layers encode rest" seconds
  local x=${RES[$1,$2]}
  awk -v c="$(field "$x" cpu_s)" -v l="$(field "$x" layer_cpu)" -v e="$(field "$x" enc_cpu)" \
    'BEGIN {printf "%.4f %.4f %.4f", l, e, c - l - e}'
}
for s in "${ORDER[@]}"; do
  ls=() es=() rs=() lr=() er=() rr=()
  for r in $(seq 1 "$REPEAT"); do
    read -r l e o <<<"$(part "$s" "$r")"
    read -r bl be bo <<<"$(part one "$r")"
    ls+=("$l") es+=("$e") rs+=("$o")
    lr+=("$(awk -v a="$l" -v b="$bl" 'BEGIN {print (b > 0 ? a / b : 0)}')")
    er+=("$(awk -v a="$e" -v b="$be" 'BEGIN {print (b > 0 ? a / b : 0)}')")
    rr+=("$(awk -v a="$o" -v b="$bo" 'BEGIN {print (b > 0 ? a / b : 0)}')")
  done
  printf '  %-6s %9d %10.2f %9.2f %10.2f %9.2f %10.2f %9.2f\n' "$s" "$(field "${RES[$s,1]}" encoded)" \
    "$(med "${ls[@]}")" "$(med "${lr[@]}")" "$(med "${es[@]}")" "$(med "${er[@]}")" "$(med "${rs[@]}")" "$(med "${rr[@]}")"
done
echo "  (eq8 renders nothing one does not: its ratio is what 7 more principals' composites cost, the"
echo "   floor for any 8 principals whose tiles differ)"
echo

echo "mean latency per principal (ms), last round:"
for s in diff8 eq8; do
  echo "  $s: $(field "${RES[$s,$REPEAT]}" mean_ms_by_principal | tr ',' ' ')"
done
