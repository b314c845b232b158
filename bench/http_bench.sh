#!/usr/bin/env bash
# HTTP benchmark of `lagebild serve` on the demo scenario, with nginx serving
# the same PNG bytes as static files as the baseline, in the same run.
#
#   bench/http_bench.sh            all three parts, about 6 minutes on 2 cores
#   BENCH_PARTS="a" bench/http_bench.sh
#
# (a) Cached tiles.  The demo is ingested into $OUT/demo.sqlite (a copy of
#     demo/lagebild.yaml with absolute source paths and its own store), and a
#     fixed list of 300 tiles with content (zooms 10-16, every 4th @2x, chosen
#     with equal content density by bench/http_client.py tiles) is fetched
#     once for principal demo-lagezentrum from each lagebild server.  That
#     warms its cache, and the bytes of the first server are written to an
#     nginx root with the same path layout ($OUT/nginx/root/maps/lage/z/x/y.png);
#     nginx's answers are then checked to be byte-identical to lagebild's.
#     wrk (bench/http_urls.lua: the URL list, Authorization: Bearer header)
#     runs against every target with the same settings, the targets
#     alternating (A A' B A A' B ...):
#       lagebild --threads T for each T in BENCH_SERVER_THREADS (8 = default)
#       nginx: 2 worker processes, sendfile, access log off, keep-alive
#     Reported per target: requests/s (median and every run), ratio
#     lagebild/nginx, latency p50/p90/p99/max, errors (wrk's socket errors
#     and HTTP >= 400), and two checks wrk cannot make itself:
#       starved  = server-side connections that sent not one byte during a
#                  window in the middle of the run (about a third to half of
#                  it), of the connections open at its start.  wrk does not
#                  count a request that never gets an answer as an error, so a
#                  server that serves only some of the 64 connections would
#                  otherwise show no errors at all.
#       probe    = a new client during the run: curl /health on a fresh
#                  connection every second, 3 s timeout (answered/tried, max s).
# (b) Mixed load: a fresh server per T in BENCH_MIXED_THREADS, warmed with the
#     300 tiles of (a); then wrk for BENCH_MIXED_DURATION s on a list that
#     alternates those cached tiles with never-requested ones (the 6 demo
#     roles' principals, zooms 15-18, 256 and 512 px: other keys, so cache
#     misses; not demo-admin, whose rights equal demo-lagezentrum's and so
#     share its tiles).
#     Reported: requests/s, latency percentiles, errors, starved, probe,
#     composite cache hits against cached requests (from /metrics), layer
#     tiles rendered, VmRSS/VmHWM before and after.
# (c) Static map 7680x4320 of the demo area (EPSG:4326 bbox, demo-lagezentrum):
#     wall time of BENCH_STATIC_RUNS sequential requests on a fresh server
#     (curl, each on a new connection), median, the PNG size, and the server's
#     CPU seconds per request (user + system; with the host's other load, CPU
#     / cores is the wall time an idle machine would get at best).
#
# Environment: BENCH_DURATION (20), BENCH_CONNS (64), BENCH_WRK_THREADS (2),
# BENCH_REPEAT (2: rounds of the alternation), BENCH_SERVER_THREADS ("8 64"),
# BENCH_MIXED_THREADS ("8 64"), BENCH_MIXED_DURATION (60), BENCH_STATIC_RUNS
# (5), BENCH_PARTS ("a b c"), BENCH_CONN_CLOSE (0; 1 = wrk sends "Connection:
# close", a new connection per request, for (a) and (b) -- a diagnosis run
# that takes lagebild's per-response Nagle stall out, see bench/README.md), BENCH_LAGEBILD (build/lagebild; copied to $OUT
# before use, so a rebuild during the run changes nothing), BENCH_OUT
# (bench/out/http).  Installs wrk, nginx-light and curl with apt-get when
# missing.  Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BENCH_NAME=http_bench
OUT=$(mkdir -p "${BENCH_OUT:-bench/out/http}" && cd "${BENCH_OUT:-bench/out/http}" && pwd)
. "$ROOT/bench/http_common.sh"

DURATION=${BENCH_DURATION:-20}
CONNS=${BENCH_CONNS:-64}
WRK_T=${BENCH_WRK_THREADS:-2}
REPEAT=${BENCH_REPEAT:-2}
SERVER_THREADS=(${BENCH_SERVER_THREADS:-8 64})
MIXED_THREADS=(${BENCH_MIXED_THREADS:-8 64})
MIXED_DURATION=${BENCH_MIXED_DURATION:-60}
STATIC_RUNS=${BENCH_STATIC_RUNS:-5}
PARTS=${BENCH_PARTS:-a b c}
CLOSE=${BENCH_CONN_CLOSE:-0}
CACHED_TOKEN=demo-lagezentrum
STATIC_URL='/maps/lage/static.png?bbox=9.15,51.95,9.60,52.25&crs=EPSG:4326&width=7680&height=4320&token=demo-lagezentrum'

need_pkgs wrk:wrk nginx:nginx-light curl:curl ss:iproute2 /usr/bin/python3:python3
LB_SRC=${BENCH_LAGEBILD:-$ROOT/build/lagebild}
snapshot_binary "$LB_SRC"
LB_SRC_DESC="$LB_SRC (built $(date -r "$LB_SRC" '+%F %T'))"
CLIENT="$ROOT/bench/http_client.py"
LUA="$ROOT/bench/http_urls.lua"

PIDS_TO_STOP=()
cleanup() { # only servers of this script that still run (a reaped pid may be reused)
  local p live
  live=" $(jobs -p | tr '\n' ' ') "
  for p in "${PIDS_TO_STOP[@]}"; do
    [[ $live == *" $p "* ]] && kill -TERM "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# ---- data ---------------------------------------------------------------------
say "ingesting the demo into $OUT/demo.sqlite"
sed -e "s#^  path: lagebild.sqlite#  path: $OUT/demo.sqlite#" \
    -e "s#path: data/#path: $ROOT/demo/data/#" demo/lagebild.yaml >"$OUT/demo.yaml"
grep -q "path: $OUT/demo.sqlite" "$OUT/demo.yaml" || die "could not redirect the store in $OUT/demo.yaml"
rm -f "$OUT"/demo.sqlite*
"$LB" ingest --config "$OUT/demo.yaml" --quiet >"$OUT/ingest.log" 2>&1 ||
  { cat "$OUT/ingest.log" >&2; die "ingest failed"; }
"$PY" "$CLIENT" tiles --store "$OUT/demo.sqlite" --zooms 10-16 --n 300 --retina-every 4 \
  >"$OUT/tiles.txt"
"$PY" "$CLIENT" urls --tiles "$OUT/tiles.txt" --map lage --token "$CACHED_TOKEN" >"$OUT/cached.txt"

echo
echo "http benchmark: wrk -t$WRK_T -c$CONNS -d${DURATION}s, $(wc -l <"$OUT/cached.txt") cached tile URLs$([ "$CLOSE" = 1 ] && echo ", Connection: close (new connection per request)")"
host_line
echo

# ---- measuring helpers ------------------------------------------------------------
field() { sed -nE "s/.* $2=([^ ]+).*/\\1/p" <<<"$1"; }

# conn_bytes PORT: "peer bytes_sent" of every server-side connection of PORT
# (sockets still in the accept queue included; they have sent nothing).
conn_bytes() {
  ss -Htni state established "( sport = :$1 )" | awk '
    /^[0-9]/ { peer = $4; next }
    { b = 0; if (match($0, /bytes_sent:[0-9]+/)) b = substr($0, RSTART + 11, RLENGTH - 11); print peer, b }'
}

# run_wrk LABEL PORT URLFILE SECONDS: one wrk run with the starvation check and
# the new-client probe; sets RES (the WRK line plus starved= probe=).
#   starved: server-side connections that sent no byte during a window in the
#            middle of the run (from once wrk has connected -- its Lua init
#            formats every request first, a few seconds for (b)'s long list --
#            to half the duration, at least 3 s), of those open at its start;
#   probe:   curl /health on a new connection every second, 3 s timeout.
run_wrk() {
  local label=$1 port=$2 urls=$3 secs=$4 log="$OUT/wrk-$1.log"
  local probe="$OUT/probe-$label.txt" s1="$OUT/conns1-$label.txt" s2="$OUT/conns2-$label.txt"
  : >"$probe"
  rm -f "$s1" "$s2"
  WRK_URLS=$urls WRK_THREADS=$WRK_T WRK_CLOSE=$CLOSE wrk -t"$WRK_T" -c"$CONNS" -d"${secs}s" --timeout 10s \
    -s "$LUA" "http://127.0.0.1:$port" >"$log" 2>&1 &
  local wpid=$! t0=$SECONDS
  (
    i=0
    while kill -0 "$wpid" 2>/dev/null && [ $i -lt 300 ] &&
      [ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -lt "$CONNS" ]; do
      sleep 0.1
      i=$((i + 1))
    done
    sleep 1
    conn_bytes "$port" >"$s1"
    local until=$((t0 + secs / 2 + 1)) now
    [ $((until - SECONDS)) -ge 3 ] || until=$((SECONDS + 3))
    while kill -0 "$wpid" 2>/dev/null; do
      curl -s -o /dev/null --max-time 3 -w '%{http_code} %{time_total}\n' \
        "http://127.0.0.1:$port/health" >>"$probe" 2>/dev/null || echo "000 3" >>"$probe"
      if [ ! -e "$s2" ] && [ "$SECONDS" -ge "$until" ]; then
        conn_bytes "$port" >"$s2"
        echo "window $((SECONDS - t0))" >>"$s2.info"
      fi
      sleep 1
    done
  ) &
  local ppid=$!
  wait "$wpid" || true
  wait "$ppid" || true
  RES=$(grep '^WRK ' "$log" | tail -n 1)
  [ -n "$RES" ] || { cat "$log" >&2; die "wrk printed no result ($log)"; }
  local starved pr
  if [ -s "$s1" ] && [ -e "$s2" ]; then
    starved=$(awk 'NR == FNR {b[$1] = $2; n++; next} ($1 in b) && b[$1] == $2 {s++}
                   END {printf "%d/%d", s, n}' "$s1" "$s2")
  else
    starved=na
  fi
  rm -f "$s2.info"
  pr=$(awk '{n++; if ($1 != "000") ok++; if ($2 > m) m = $2} END {printf "%d/%d,max=%.2fs", ok, n, m}' "$probe")
  RES="$RES starved=$starved probe=$pr"
}

metric() { # port name
  curl -s -H "Authorization: Bearer demo-admin" "http://127.0.0.1:$1/metrics" |
    awk -v n="lagebild_$2" '$1 == n {print $2}'
}

# ---- (a) cached tiles: lagebild vs nginx -------------------------------------------------
part_a() {
  say "(a) cached tiles: starting lagebild (--threads ${SERVER_THREADS[*]}) and nginx"
  echo "   uptime: $(uptime)"
  local targets=() t
  declare -gA PORT PIDOF
  for t in "${SERVER_THREADS[@]}"; do
    lb_start "a-t$t" "$OUT/demo.yaml" --threads "$t"
    PORT[lb$t]=$LB_PORT PIDOF[lb$t]=$LB_PID
    PIDS_TO_STOP+=("$LB_PID")
    targets+=("lb$t")
  done
  # warm every server's cache; the first one's bytes become the nginx root
  rm -rf "$OUT/nginx"
  mkdir -p "$OUT/nginx/root" "$OUT/nginx/tmp"
  local first=1
  for t in "${SERVER_THREADS[@]}"; do
    if [ $first = 1 ]; then
      "$PY" "$CLIENT" fetch --base "http://127.0.0.1:${PORT[lb$t]}" --urls "$OUT/cached.txt" \
        --root "$OUT/nginx/root" | sed 's/^/   warm lagebild --threads '"$t"': /'
      first=0
    else
      "$PY" "$CLIENT" fetch --base "http://127.0.0.1:${PORT[lb$t]}" --urls "$OUT/cached.txt" \
        | sed 's/^/   warm lagebild --threads '"$t"': /'
    fi
  done
  chmod -R a+rX "$OUT/nginx/root"
  local np
  np=$(free_port)
  cat >"$OUT/nginx/nginx.conf" <<EOF
# written by bench/http_bench.sh: static files, the strongest simple baseline
worker_processes 2;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  types { image/png png; }
  default_type application/octet-stream;
  client_body_temp_path $OUT/nginx/tmp;
  server {
    listen 127.0.0.1:$np;
    root $OUT/nginx/root;
    location / { try_files \$uri =404; }
  }
}
EOF
  nginx -t -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" >/dev/null 2>&1 ||
    { nginx -t -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf"; die "bad nginx config"; }
  nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' >"$OUT/nginx/stdout" 2>&1 &
  PIDOF[nginx]=$!
  PIDS_TO_STOP+=("${PIDOF[nginx]}")
  PORT[nginx]=$np
  local i
  for i in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$np/" && break
    sleep 0.1
  done
  "$PY" "$CLIENT" fetch --base "http://127.0.0.1:${PORT[lb${SERVER_THREADS[0]}]}" \
    --urls "$OUT/cached.txt" --compare "http://127.0.0.1:$np" >/dev/null
  echo "   nginx on 127.0.0.1:$np serves the same bytes for all $(wc -l <"$OUT/cached.txt") URLs (checked)"
  targets+=(nginx)

  declare -gA A_RES
  local r
  for r in $(seq 1 "$REPEAT"); do
    for t in "${targets[@]}"; do
      run_wrk "a-$t-$r" "${PORT[$t]}" "$OUT/cached.txt" "$DURATION"
      A_RES[$t,$r]=$RES
      printf '   run %d %-7s %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %d  starved %s  probe %s\n' \
        "$r" "$t" "$(field "$RES" rps)" "$(field "$RES" lat_p50_ms)" "$(field "$RES" lat_p99_ms)" \
        $(( $(field "$RES" err_connect) + $(field "$RES" err_read) + $(field "$RES" err_write) + \
            $(field "$RES" err_timeout) + $(field "$RES" http_ge_400) )) \
        "$(field "$RES" starved)" "$(field "$RES" probe)"
    done
  done
  for t in "${SERVER_THREADS[@]}"; do
    LB_PID=${PIDOF[lb$t]}
    echo "   lagebild --threads $t: VmRSS $(rss_kb "$LB_PID" VmRSS) kB, VmHWM $(rss_kb "$LB_PID" VmHWM) kB"
    lb_stop "a-t$t"
  done
  kill -TERM "${PIDOF[nginx]}"
  wait "${PIDOF[nginx]}" || true
  echo "   uptime: $(uptime)"

  echo
  echo "(a) summary: cached tiles, wrk -t$WRK_T -c$CONNS -d${DURATION}s, $REPEAT runs per target, alternating"
  echo "    ratio = lagebild req/s / nginx req/s of the same round; latency = median over the runs"
  printf '%-18s %10s %-24s %9s %9s %9s %9s %9s %7s %9s %s\n' target "req/s med" "req/s runs" \
    "ratio" "p50 ms" "p90 ms" "p99 ms" "max ms" errors starved probe
  for t in "${targets[@]}"; do
    local runs="" rps=() ratios=() p50=() p90=() p99=() mx=() errs=0 uns="" probes=""
    for r in $(seq 1 "$REPEAT"); do
      local x=${A_RES[$t,$r]} n=${A_RES[nginx,$r]}
      rps+=("$(field "$x" rps)")
      runs+="${runs:+ }$(printf '%.0f' "$(field "$x" rps)")"
      ratios+=("$(awk -v a="$(field "$x" rps)" -v b="$(field "$n" rps)" 'BEGIN {printf "%.4f", a / b}')")
      p50+=("$(field "$x" lat_p50_ms)") p90+=("$(field "$x" lat_p90_ms)")
      p99+=("$(field "$x" lat_p99_ms)") mx+=("$(field "$x" lat_max_ms)")
      errs=$((errs + $(field "$x" err_connect) + $(field "$x" err_read) + $(field "$x" err_write) + \
              $(field "$x" err_timeout) + $(field "$x" http_ge_400)))
      uns+="${uns:+,}$(field "$x" starved)"
      probes+="${probes:+ }$(field "$x" probe)"
    done
    local name=$t
    [ "$t" = nginx ] || name="lagebild -t ${t#lb}"
    printf '%-18s %10.0f %-24s %9s %9.2f %9.2f %9.2f %9.2f %7d %9s %s\n' "$name" "$(med "${rps[@]}")" \
      "$runs" "$(med "${ratios[@]}" | awk '{printf "%.3f", $1}')" "$(med "${p50[@]}")" \
      "$(med "${p90[@]}")" "$(med "${p99[@]}")" "$(med "${mx[@]}")" "$errs" "$uns" "$probes"
  done
  echo
}

med() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# ---- (b) mixed cold/cached ---------------------------------------------------------------
part_b() {
  say "(b) mixed load: building the URL list (cached tiles alternating with never-requested ones)"
  local ncold=120000
  "$PY" "$CLIENT" coldlist --store "$OUT/demo.sqlite" --zooms 15-18 --map lage \
    --tokens demo-police,demo-fire,demo-military,demo-kritis,demo-lagezentrum,demo-landkreis \
    --n "$ncold" --exclude "$OUT/cached.txt" >"$OUT/cold.txt"
  awk 'NR == FNR {c[n++] = $0; next} {print c[(FNR - 1) % n]; print}' "$OUT/cached.txt" "$OUT/cold.txt" \
    >"$OUT/mixed.txt"
  echo "   $(wc -l <"$OUT/mixed.txt") URLs: cached and cold alternating, $(wc -l <"$OUT/cold.txt") distinct cold ones"
  declare -gA B_RES
  local t
  for t in "${MIXED_THREADS[@]}"; do
    echo "   uptime: $(uptime)"
    lb_start "b-t$t" "$OUT/demo.yaml" --threads "$t"
    PIDS_TO_STOP+=("$LB_PID")
    "$PY" "$CLIENT" fetch --base "http://127.0.0.1:$LB_PORT" --urls "$OUT/cached.txt" \
      | sed 's/^/   warm: /'
    local rss0 hwm0 hits0 rend0
    rss0=$(rss_kb "$LB_PID" VmRSS) hwm0=$(rss_kb "$LB_PID" VmHWM)
    hits0=$(metric "$LB_PORT" cache_hits_total) rend0=$(metric "$LB_PORT" tiles_rendered_total)
    run_wrk "b-t$t" "$LB_PORT" "$OUT/mixed.txt" "$MIXED_DURATION"
    local hits1 rend1 errs1 cbytes
    hits1=$(metric "$LB_PORT" cache_hits_total) rend1=$(metric "$LB_PORT" tiles_rendered_total)
    errs1=$(metric "$LB_PORT" errors_total) cbytes=$(metric "$LB_PORT" cache_bytes)
    B_RES[$t]="$RES rss0=$rss0 hwm0=$hwm0 rss1=$(rss_kb "$LB_PID" VmRSS) hwm1=$(rss_kb "$LB_PID" VmHWM)"
    B_RES[$t]+=" hits=$((hits1 - hits0)) rendered=$((rend1 - rend0)) srv_errors=$errs1 cache_bytes=$cbytes"
    lb_stop "b-t$t"
  done
  echo "   uptime: $(uptime)"
  echo
  echo "(b) summary: mixed cold/cached, wrk -t$WRK_T -c$CONNS -d${MIXED_DURATION}s; cache budget 256 MiB (default)"
  echo "    hits = composite cache hits during the run / cached-list requests (about half of all)"
  printf '%-16s %9s %8s %8s %9s %9s %7s %9s %-16s %-17s %9s %-21s %-21s\n' server "req/s" "p50 ms" "p90 ms" \
    "p99 ms" "max ms" errors starved probe "hits/cached req" "layer rnd" "RSS before->after MB" "HWM before->after MB"
  for t in "${MIXED_THREADS[@]}"; do
    local x=${B_RES[$t]} req
    req=$(field "$x" requests)
    printf '%-16s %9.1f %8.2f %8.2f %9.2f %9.2f %7d %9s %-16s %-17s %9d %-21s %-21s\n' "lagebild -t $t" \
      "$(field "$x" rps)" "$(field "$x" lat_p50_ms)" "$(field "$x" lat_p90_ms)" "$(field "$x" lat_p99_ms)" \
      "$(field "$x" lat_max_ms)" \
      $(( $(field "$x" err_connect) + $(field "$x" err_read) + $(field "$x" err_write) + \
          $(field "$x" err_timeout) + $(field "$x" http_ge_400) )) \
      "$(field "$x" starved)" "$(field "$x" probe)" "$(field "$x" hits)/$(( (req + 1) / 2 ))" \
      "$(field "$x" rendered)" \
      "$(awk -v a="$(field "$x" rss0)" -v b="$(field "$x" rss1)" 'BEGIN {printf "%.0f->%.0f", a / 1024, b / 1024}')" \
      "$(awk -v a="$(field "$x" hwm0)" -v b="$(field "$x" hwm1)" 'BEGIN {printf "%.0f->%.0f", a / 1024, b / 1024}')"
    if [ "$req" -gt $((2 * ncold)) ]; then
      echo "    note: $req requests > list length; cold URLs repeated (raise ncold)"
    fi
    [ "$(field "$x" srv_errors)" = 0 ] || echo "    server errors_total: $(field "$x" srv_errors)"
  done
  echo
}

# ---- (c) static map --------------------------------------------------------------------
part_c() {
  say "(c) static map 7680x4320 of the demo area, $STATIC_RUNS requests on a fresh server"
  echo "   uptime: $(uptime)"
  lb_start c "$OUT/demo.yaml"
  PIDS_TO_STOP+=("$LB_PID")
  local i times=() cpus=() line code size tt c0 c1
  for i in $(seq 1 "$STATIC_RUNS"); do
    c0=$(cpu_s "$LB_PID")
    line=$(curl -s -o "$OUT/static.png" --max-time 60 -w '%{http_code} %{size_download} %{time_total}' \
      "http://127.0.0.1:$LB_PORT$STATIC_URL" || echo "000 0 60")
    read -r code size tt <<<"$line"
    c1=$(cpu_s "$LB_PID")
    times+=("$tt")
    cpus+=("$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')")
    echo "   request $i: HTTP $code, $size bytes, $tt s wall, ${cpus[-1]} s server CPU"
  done
  local dims
  dims=$("$PY" -c 'import struct, sys
d = open(sys.argv[1], "rb").read(24)
print("%dx%d" % struct.unpack(">II", d[16:24]) if d[:8] == b"\x89PNG\r\n\x1a\n" else "not a PNG")' "$OUT/static.png")
  echo "   VmHWM after the static maps: $(rss_kb "$LB_PID" VmHWM) kB"
  lb_stop c
  echo "   uptime: $(uptime)"
  echo
  echo "(c) summary: static map $dims, $size bytes PNG; wall time per request (s):" \
    "median $(med "${times[@]}"), runs ${times[*]} (goal: median < 2 s);" \
    "server CPU per request: median $(med "${cpus[@]}") s on $(nproc) CPUs"
  echo
}

for p in $PARTS; do
  case $p in
    a) part_a ;;
    b) part_b ;;
    c) part_c ;;
    *) die "unknown part '$p' (a, b, c)" ;;
  esac
done
echo "done: $(uptime)"
