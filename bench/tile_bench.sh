#!/usr/bin/env bash
# Tile rendering benchmark: lagebild vs. Mapnik vs. MapServer, side by side.
#
#   bench/tile_bench.sh [N ...]          default: 10000 100000 1000000
#
# For every N (total synthetic features, uniformly over Germany):
#   1. generate the data once with build/bench/lbgen (cached in
#      bench/out/tiles/N/, regenerated when N or the seed change) and ingest it
#      with build/lagebild into DIR/tiles.sqlite, using a derived config
#      DIR/tiles.yaml: lbgen's bench.yaml plus ONE uniform style for every layer
#      (DIR/uniform.json: opaque fill, 2 px lines and outlines, circles of
#      radius 4 px -- the style of tests/test_mapserver_agreement.py) and a map
#      "bench" of all layers;
# then, with the data of all N at hand,
#   2. make one tile list per N (DIR/tiles.txt, >= BENCH_TILES tiles at zooms
#      6-16, 256 px and @2x alternating, deterministic) with EQUAL CONTENT
#      DENSITY over the N of the run: the number of features per tile (by
#      feature box centre) is binned in powers of two (1, 2-3, 4-7, ...,
#      1024-2047) and every list takes the same number of tiles from each
#      bin -- at larger N those tiles simply lie at higher zooms -- chosen by
#      a hash of z/x/y among the candidates of that bin;
#   3. render every list with
#        lagebild   build/bench/tilebench (snapshots built once, untimed; then
#                   per tile lb_render_tile + lb_png_encode level 2, cold),
#        Mapnik     bench/mapnik_bench.py   (sqlite plugin, same style),
#        MapServer  bench/mapserver_bench.py (OGR connection, same style),
#      all single-threaded, PNG (zlib level 2) kept in memory, the three
#      interleaved in batches of BENCH_BATCH tiles by bench/interleave.py:
#      all three do their untimed set-up (in parallel), then they take turns,
#      one batch of one tool at a time (by default lagebild's first 10 tiles,
#      Mapnik's, MapServer's, then the next batches in an order rotated by
#      one), until each has rendered its list once.  The VM has slow phases
#      of seconds to a minute; a tool whose whole run fell into one got a
#      worse figure than the others, interleaved a slow phase hits all tools
#      alike.  The per-tile timing is the same as in a run of the tool on its
#      own, but each batch starts with caches the other tools have used (the
#      cost is in bench/README.md); BENCH_INTERLEAVE=0 runs the three one
#      after the other instead;
#   4. print per N and tool: median and p95 ms per tile (render + encode),
#      the ratio to lagebild, the encode share, the peak RSS; lagebild's peak
#      RSS per million snapshot vertices; and lagebild's p95(max N)/p95(min N)
#      at equal feature density (from the runs of step 3), and at equal
#      content: lagebild on the smallest N's data against a "self-similar"
#      set of the largest N (lbgen --size-scale sqrt(min N / max N)), both
#      lists interleaved in one run (ideally ~1: the cost of a larger store).
#
# All timed runs (step 3 and the equal-content run) are pinned to ONE CPU,
# BENCH_CPU (default: the last one; "none" leaves placement to the kernel), as
# the issue asks for rendering "on one core": the two vCPUs of these machines
# differ by up to 40 % in speed for minutes at a time, and unpinned, the
# kernel keeps each tool on whichever CPU it last ran on, so one tool could
# render all its batches on the fast CPU and another on the slow one.  Pinned,
# every tool takes its turns on the same CPU (bench/README.md, session 9).
#
# With BENCH_ROUNDS=R (default 1) step 3 runs R times (fresh processes each
# round) and the summary takes, per tool, the median over the rounds of each
# figure.
#
# Environment: BENCH_SEED (1), BENCH_TILES (300), BENCH_BUILD (build), BENCH_ROUNDS (1),
# BENCH_CPU (the last CPU; a CPU number, or "none"),
# BENCH_BATCH (10: tiles per batch), BENCH_INTERLEAVE (1; 0: the tools one
# after the other, lagebild, Mapnik, MapServer, lagebild, ...),
# BENCH_OUT (bench/out/tiles), BENCH_REINGEST=1 (ingest again even when the
# store is up to date), BENCH_KEEP_PNG=1 (keep every tool's tiles in
# DIR/png/TOOL/ for inspection).
# Installs missing packages with apt-get only (python3-mapnik,
# python3-mapscript, python3-gdal, python3-numpy, sqlite3); builds lagebild,
# lbgen and tilebench when they are missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ $# -gt 0 ]; then
  NS=("$@")
else
  NS=(10000 100000 1000000)
fi
SEED=${BENCH_SEED:-1}
ROUNDS=${BENCH_ROUNDS:-1}
INTERLEAVE=${BENCH_INTERLEAVE:-1}
BATCH=${BENCH_BATCH:-10}
NTILES=${BENCH_TILES:-300}
BUILD=${BENCH_BUILD:-build}
OUT=${BENCH_OUT:-bench/out/tiles}
LAGEBILD="$BUILD/lagebild"
LBGEN="$BUILD/bench/lbgen"
TILEBENCH="$BUILD/bench/tilebench"
PY=/usr/bin/python3
CPU=${BENCH_CPU:-$(($(nproc) - 1))}

die() { echo "tile_bench: $*" >&2; exit 1; }
say() { echo "== $*"; }

for n in "${NS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] || die "N must be a positive integer, not '$n'"
  [ "$n" -ge 20 ] || die "N must be at least 20"
done
[[ $NTILES =~ ^[1-9][0-9]*$ ]] || die "BENCH_TILES must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ $INTERLEAVE =~ ^[01]$ ]] || die "BENCH_INTERLEAVE must be 0 or 1"
[[ $BATCH =~ ^[1-9][0-9]*$ ]] || die "BENCH_BATCH must be a positive integer"
if [ "$CPU" = none ]; then
  PIN=()
else
  [[ $CPU =~ ^[0-9]+$ ]] && [ "$CPU" -lt "$(nproc)" ] ||
    die "BENCH_CPU must be a CPU number below $(nproc) or 'none', not '$CPU'"
  command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the runs to one CPU"
  PIN=(taskset -c "$CPU")
fi

# ---- packages and binaries ---------------------------------------------------
missing=()
for p in python3-mapnik python3-mapscript python3-gdal python3-numpy sqlite3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ! -x "$LAGEBILD" ] || [ ! -x "$LBGEN" ] || [ ! -x "$TILEBENCH" ]; then
  command -v cmake >/dev/null || missing+=(cmake)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing with apt-get: ${missing[*]}"
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install ${missing[*]}"
    SUDO=sudo
  fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$LAGEBILD" ] || [ ! -x "$LBGEN" ] || [ ! -x "$TILEBENCH" ]; then
  say "building lagebild, lbgen and tilebench in $BUILD"
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target lagebild lbgen tilebench
fi
for b in "$LAGEBILD" "$LBGEN" "$TILEBENCH"; do [ -x "$b" ] || die "$b was not built"; done

# ---- data: generate, derive the config, ingest --------------------------------
# The uniform style (the same as tests/test_mapserver_agreement.py's).
write_style() {
  cat >"$1" <<'EOF'
{
  "version": 8,
  "name": "uniform (bench/tile_bench.sh)",
  "layers": [
    {"id": "areas", "type": "fill", "paint": {"fill-color": "#1f78b4"}},
    {"id": "lines", "type": "line",
     "layout": {"line-cap": "round", "line-join": "round"},
     "paint": {"line-color": "#1f78b4", "line-width": 2}},
    {"id": "points", "type": "circle",
     "paint": {"circle-color": "#1f78b4", "circle-radius": 4}}
  ]
}
EOF
}

# bench.yaml (written by lbgen) -> tiles.yaml: own store, style on every layer,
# and a map "bench" of all layers in declaration order (added to lbgen's maps,
# if any).  Prints the layer ids, comma-separated.
derive_config() { # dir
  "$PY" - "$1" <<'EOF'
import re, sys
d = sys.argv[1]
text = open(f"{d}/bench.yaml", encoding="utf-8").read()
out, section, layers, maps_end = [], None, [], None
for line in text.splitlines():
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
    if m:
        if section == "maps":
            maps_end = len(out)
        section = m.group(1)
    if section == "store" and re.match(r"^  path:", line):
        line = "  path: tiles.sqlite"
    if section == "layers" and re.match(r"^    style:", line):
        continue  # replaced by the uniform style
    if section == "maps" and re.match(r"^  bench:", line):
        sys.exit("tile_bench: bench.yaml already has a map 'bench'")
    out.append(line)
    m = re.match(r"^  ([a-z][a-z0-9_]*):\s*(#.*)?$", line)
    if section == "layers" and m:
        layers.append(m.group(1))
        out.append("    style: uniform.json")
if not layers:
    sys.exit("tile_bench: no layers in bench.yaml")
bench = ["  bench:", "    title: Tile benchmark (uniform style)",
         f"    layers: [{', '.join(layers)}]"]
if section == "maps":
    maps_end = len(out)
if maps_end is None:
    out += ["", "maps:"] + bench
else:
    while maps_end > 0 and not out[maps_end - 1].strip():
        maps_end -= 1
    out[maps_end:maps_end] = bench
open(f"{d}/tiles.yaml", "w", encoding="utf-8").write("\n".join(out) + "\n")
print(",".join(layers))
EOF
}

# prepare_data DIR N SCALE: lbgen's data (cached), tiles.yaml and the ingested
# store in DIR; sets LAYERS[DIR] to the layer ids.
declare -A LAYERS
prepare_data() {
  local dir=$1 n=$2 scale=$3 store t0
  local stamp="$dir/.lbgen-stamp" want="n=$n seed=$SEED"
  [ "$scale" = 1 ] || want+=" size-scale=$scale"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/bench.yaml" ]; then
    say "N=$n: using cached data in $dir"
  else
    say "N=$n: generating data in $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    t0=$(date +%s.%N)
    "$LBGEN" --out "$dir" --features "$n" --seed "$SEED" --size-scale "$scale" --quiet
    echo "   (lbgen: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s)"
    echo "$want" >"$stamp"
  fi
  write_style "$dir/uniform.json.new"
  cmp -s "$dir/uniform.json.new" "$dir/uniform.json" 2>/dev/null && rm "$dir/uniform.json.new" ||
    mv "$dir/uniform.json.new" "$dir/uniform.json"
  LAYERS[$dir]=$(derive_config "$dir")
  store="$dir/tiles.sqlite"
  # re-ingest also when lagebild was rebuilt: the store layout may have
  # changed (a store of an older layout once made Mapnik draw nothing)
  if [ "${BENCH_REINGEST:-0}" = 1 ] || [ ! -f "$store" ] || [ "$stamp" -nt "$store" ] ||
    [ "$LAGEBILD" -nt "$store" ]; then
    say "N=$n: ingesting into $store"
    rm -f "$store" "$store-wal" "$store-shm" "$store-journal"
    t0=$(date +%s.%N)
    "$LAGEBILD" ingest --config "$dir/tiles.yaml" --quiet >"$dir/ingest.log" 2>&1 ||
      { cat "$dir/ingest.log" >&2; die "lagebild ingest failed (see $dir/ingest.log)"; }
    echo "   (ingest: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s)"
  else
    say "N=$n: store $store is up to date"
  fi
  # fold the WAL into the database so every reader sees one plain file
  sqlite3 "$store" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
}
for n in "${NS[@]}"; do prepare_data "$OUT/$n" "$n" 1; done

# ---- tile lists of equal content density ----------------------------------------
# make_lists NAME DIR... : DIR/NAME for every DIR, of equal density over them all
make_lists() {
  local name=$1 d args=()
  shift
  for d in "$@"; do args+=("$d" "${LAYERS[$d]}"); done
  "$PY" - "$NTILES" "$name" "${args[@]}" <<'EOF'
import hashlib, math, sqlite3, sys
import numpy as np

ntiles = int(sys.argv[1])
name = sys.argv[2]
dirs = sys.argv[3::2]
layer_lists = sys.argv[4::2]
ORIGIN = 20037508.3427892
ZOOMS = range(6, 17)
BINS = range(0, 11)  # features per tile in [2^b, 2^(b+1))

def centres(d, layers):
    db = sqlite3.connect(f"file:{d}/tiles.sqlite?mode=ro", uri=True)
    xs, ys = [], []
    for t in layers.split(","):
        rows = db.execute(f'SELECT (xmin + xmax) / 2, (ymin + ymax) / 2 FROM "idx_{t}_geom"').fetchall()
        if rows:
            a = np.array(rows, dtype=np.float64)
            xs.append(a[:, 0])
            ys.append(a[:, 1])
    db.close()
    lon, lat = np.concatenate(xs), np.clip(np.concatenate(ys), -85.0511287798, 85.0511287798)
    mx = 6378137.0 * np.radians(lon)
    my = 6378137.0 * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return mx, my

def candidates(mx, my):
    """{bin: [(hash, z, x, y, count)]} over all zooms."""
    out = {b: [] for b in BINS}
    for z in ZOOMS:
        n = 1 << z
        span = 2 * ORIGIN / n
        tx = np.clip(np.floor((mx + ORIGIN) / span).astype(np.int64), 0, n - 1)
        ty = np.clip(np.floor((ORIGIN - my) / span).astype(np.int64), 0, n - 1)
        keys, counts = np.unique(tx * n + ty, return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist()):
            b = int(math.floor(math.log2(c)))
            if b in out:
                x, y = divmod(k, n)
                h = hashlib.blake2b(f"{z}/{x}/{y}".encode(), digest_size=8).digest()
                out[b].append((h, z, x, y, c))
    for b in out:
        out[b].sort()
    return out

cands = [candidates(*centres(d, l)) for d, l in zip(dirs, layer_lists)]
avail = {b: min(len(c[b]) for c in cands) for b in BINS}
cap, take = 1, {}
while True:
    take = {b: min(cap, avail[b]) for b in BINS}
    if sum(take.values()) >= ntiles or all(take[b] == avail[b] for b in BINS):
        break
    cap += 1
if sum(take.values()) < ntiles:
    print(f"   note: only {sum(take.values())} tiles of matching density exist", file=sys.stderr)
print("   tiles per bin (features/tile): " +
      ", ".join(f"{1 << b}-{(2 << b) - 1}: {take[b]}" for b in BINS if take[b]))
for d, c in zip(dirs, cands):
    tiles = []
    for b in BINS:
        for i, (_, z, x, y, cnt) in enumerate(c[b][:take[b]]):
            tiles.append((z, x, y, 1 + i % 2, cnt))
    with open(f"{d}/{name}", "w") as f:
        f.write("# z x y scale   (features by box centre)\n")
        for z, x, y, s, cnt in tiles:
            f.write(f"{z} {x} {y} {s}   # {cnt}\n")
    zh = {}
    for t in tiles:
        zh[t[0]] = zh.get(t[0], 0) + 1
    counts = [t[4] for t in tiles]
    print(f"   {d}/{name}: {len(tiles)} tiles, features/tile median "
          f"{int(np.median(counts))} mean {np.mean(counts):.0f}; zooms " +
          " ".join(f"{z}:{zh[z]}" for z in sorted(zh)))
EOF
}
say "making tile lists (>= $NTILES tiles per N, zooms 6-16, equal density over N = ${NS[*]})"
dirs=()
for n in "${NS[@]}"; do dirs+=("$OUT/$n"); done
make_lists tiles.txt "${dirs[@]}"

# The scaling figure's data: lists of equal feature density at different N
# are not lists of equal content, since lbgen's features have a fixed size in
# metres: the N=1000000 tiles holding k features lie ~3.3 zoom levels deeper
# than the N=10000 tiles holding k, so every feature is drawn ~10 times
# larger in each direction (longer lines, larger fills, more vertices kept).
# A "self-similar" set of the largest N, its features scaled by
# sqrt(min N / max N), has tiles that hold what the smallest N's tiles of the
# same feature count hold; only the store is larger.
SCALE_DIR=
if [ ${#NS[@]} -gt 1 ]; then
  first=${NS[0]} last=${NS[${#NS[@]}-1]}
  if [ "$last" -ne "$first" ]; then
    sscale=$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.6g", sqrt(a / b)}')
    SCALE_DIR="$OUT/self-similar-$last"
    prepare_data "$SCALE_DIR" "$last" "$sscale"
    say "making the scaling lists (N=$first and N=$last with features scaled by $sscale)"
    make_lists scaling.txt "$OUT/$first" "$SCALE_DIR"
  fi
fi

# ---- run ------------------------------------------------------------------------
echo
if [ "$INTERLEAVE" = 1 ]; then
  method="tools interleaved in batches of $BATCH tiles"
else
  method="tools one after the other"
fi
echo "tile benchmark: N = ${NS[*]}; one thread, cold, PNG zlib level 2; seed $SEED; $method"
echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo); $("$LAGEBILD" --version); timed runs on CPU ${CPU}"
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host skews the times)"
echo

field() { # line key
  sed -nE "s/.* $2=([^ ]+).*/\\1/p" <<<"$1"
}

# rounds_median FILE...: one TILEBENCH line whose median_ms, p95_ms, mean_ms,
# encode_share and vmhwm_kb are the medians over the TILEBENCH lines of the
# files (one per round); the other fields are the last round's.
rounds_median() {
  grep -h '^TILEBENCH ' "$@" | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); last[kv[1]] = kv[2]; key[i] = kv[1]
        if (kv[1] ~ /^(median_ms|p95_ms|mean_ms|encode_share|vmhwm_kb)$/) vals[kv[1], NR] = kv[2] }
      nf = NF }
    END { line = "TILEBENCH"
      for (i = 2; i <= nf; i++) { k = key[i]; v = last[k]
        if (k ~ /^(median_ms|p95_ms|mean_ms|encode_share|vmhwm_kb)$/) {
          n = 0; for (r = 1; r <= NR; r++) a[++n] = vals[k, r] + 0
          for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
          v = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        line = line " " k "=" v }
      print line }'
}

declare -A RES
for n in "${NS[@]}"; do
  dir="$OUT/$n"
  logs="$dir/logs"
  mkdir -p "$logs"
  png_lb=() png_mn=() png_ms=()
  if [ "${BENCH_KEEP_PNG:-0}" = 1 ]; then
    mkdir -p "$dir/png/lagebild" "$dir/png/mapnik" "$dir/png/mapserver"
    png_lb=(--out "$dir/png/lagebild") png_mn=(--out "$dir/png/mapnik")
    png_ms=(--out "$dir/png/mapserver")
  fi
  cmd_lb=("$TILEBENCH" --config "$dir/tiles.yaml" --map bench --tiles "$dir/tiles.txt"
    --label "$n" "${png_lb[@]}")
  cmd_mn=("$PY" bench/mapnik_bench.py --store "$dir/tiles.sqlite" --layers "${LAYERS[$OUT/$n]}"
    --tiles "$dir/tiles.txt" --label "$n" "${png_mn[@]}")
  cmd_ms=("$PY" bench/mapserver_bench.py --store "$dir/tiles.sqlite" --layers "${LAYERS[$OUT/$n]}"
    --tiles "$dir/tiles.txt" --label "$n" "${png_ms[@]}")
  rm -f "$logs"/*.[0-9]*.out
  for ((round = 1; round <= ROUNDS; round++)); do
    rl=""
    [ "$ROUNDS" -gt 1 ] && rl=" (round $round of $ROUNDS)"
    if [ "$INTERLEAVE" = 1 ]; then
      say "N=$n: lagebild, Mapnik, MapServer interleaved in batches of $BATCH tiles$rl"
      "${PIN[@]}" "$PY" bench/interleave.py --batch "$BATCH" \
        --tool lagebild "$logs/lagebild.$round.out" "$logs/lagebild.err" -- "${cmd_lb[@]}" \
        --tool mapnik "$logs/mapnik.$round.out" "$logs/mapnik.err" -- "${cmd_mn[@]}" \
        --tool mapserver "$logs/mapserver.$round.out" "$logs/mapserver.err" -- "${cmd_ms[@]}" |
        sed 's/^/   /' || die "interleaved run failed (N=$n, round $round; logs in $logs)"
      for tool in lagebild mapnik mapserver; do
        echo "   -- $tool"
        sed 's/^/   /' "$logs/$tool.$round.out" | grep -v '^   TILEBENCH'
      done
    else
      say "N=$n: lagebild$rl"
      "${PIN[@]}" "${cmd_lb[@]}" >"$logs/lagebild.$round.out" 2>"$logs/lagebild.err" ||
        { cat "$logs/lagebild.err" >&2; die "tilebench failed"; }
      sed 's/^/   /' "$logs/lagebild.$round.out" | grep -v '^   TILEBENCH'
      say "N=$n: Mapnik$rl"
      "${PIN[@]}" "${cmd_mn[@]}" >"$logs/mapnik.$round.out" 2>"$logs/mapnik.err" ||
        { cat "$logs/mapnik.err" >&2; die "mapnik_bench failed"; }
      sed 's/^/   /' "$logs/mapnik.$round.out" | grep -v '^   TILEBENCH'
      say "N=$n: MapServer$rl"
      "${PIN[@]}" "${cmd_ms[@]}" >"$logs/mapserver.$round.out" 2>"$logs/mapserver.err" ||
        { cat "$logs/mapserver.err" >&2; die "mapserver_bench failed"; }
      sed 's/^/   /' "$logs/mapserver.$round.out" | grep -v '^   TILEBENCH'
    fi
    if [ "$ROUNDS" -gt 1 ]; then
      l=$(grep -h '^TILEBENCH ' "$logs/lagebild.$round.out" "$logs/mapnik.$round.out" \
            "$logs/mapserver.$round.out" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "=");
              v[kv[1]] = kv[2] } printf " %s %.3f/%.3f", v["tool"], v["median_ms"], v["p95_ms"] }')
      echo "   round $round, median/p95 ms:$l"
    fi
  done
  # per tool: the median over the rounds of each figure (other fields: last round)
  for tool in lagebild mapnik mapserver; do
    cat "$logs/$tool".[0-9]*.out >"$logs/$tool.out"
  done
  for tool in lagebild mapnik mapserver; do
    RES[$n,$tool]=$(rounds_median "$logs/$tool.out")
  done
  echo
done

# ---- the scaling figure side by side ---------------------------------------------
# p95 of lagebild on the smallest N's data and on the self-similar set of the
# largest N (see above), both scaling lists rendered in one interleaved run
# (two tilebench processes, batches of BENCH_BATCH, R rounds): the same
# phases of the VM for both, the same content per tile, only the store size
# differs.
SIDE=""
if [ -n "$SCALE_DIR" ]; then
  slogs="$OUT/scaling"
  mkdir -p "$slogs"
  rm -f "$slogs"/*.[0-9]*.out
  for ((round = 1; round <= ROUNDS; round++)); do
    say "lagebild N=$first and self-similar N=$last interleaved in batches of $BATCH tiles (round $round of $ROUNDS)"
    "${PIN[@]}" "$PY" bench/interleave.py --batch "$BATCH" \
      --tool "lagebild-$first" "$slogs/min.$round.out" "$slogs/min.err" -- \
        "$TILEBENCH" --config "$OUT/$first/tiles.yaml" --map bench --tiles "$OUT/$first/scaling.txt" --label "$first" \
      --tool "lagebild-$last" "$slogs/max.$round.out" "$slogs/max.err" -- \
        "$TILEBENCH" --config "$SCALE_DIR/tiles.yaml" --map bench --tiles "$SCALE_DIR/scaling.txt" --label "$last" |
      sed 's/^/   /' || die "interleaved scaling run failed (logs in $slogs)"
  done
  smin=$(rounds_median "$slogs"/min.[0-9]*.out) smax=$(rounds_median "$slogs"/max.[0-9]*.out)
  p_min=$(field "$smin" p95_ms) p_max=$(field "$smax" p95_ms)
  m_min=$(field "$smin" median_ms) m_max=$(field "$smax" median_ms)
  SIDE=$(awk -v f="$first" -v l="$last" -v a="$p_min" -v b="$p_max" -v c="$m_min" -v d="$m_max" \
    -v r="$ROUNDS" -v sc="$sscale" 'BEGIN {
    printf "lagebild at equal content (N=%d against the N=%d set with features scaled by %s, one interleaved run,\n", f, l, sc
    printf "  median over %d round%s): p95 %.3f ms and %.3f ms, p95(%d)/p95(%d) = %.2f; median %.3f and %.3f ms, ratio %.2f\n",
      r, (r > 1 ? "s" : ""), a, b, l, f, b / a, c, d, d / c }')
fi

echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Summary: ms per tile (render + PNG encode), median and p95 over each N's tile list"
[ "$ROUNDS" -gt 1 ] && echo "(each figure: the median over $ROUNDS rounds);"
echo "ratio = tool / lagebild (above 1: slower than lagebild); RSS = peak of the process"
echo
printf '%9s  %-9s %6s %9s %9s %8s %8s %7s %9s %12s\n' "N" "tool" "tiles" "median" "p95" \
  "med/lb" "p95/lb" "encode" "RSS MB" "RSS MB/Mvtx"
for n in "${NS[@]}"; do
  lb=${RES[$n,lagebild]}
  lb_med=$(field "$lb" median_ms) lb_p95=$(field "$lb" p95_ms)
  for tool in lagebild mapnik mapserver; do
    l=${RES[$n,$tool]}
    med=$(field "$l" median_ms) p95=$(field "$l" p95_ms)
    per_mv=-
    [ "$tool" = lagebild ] && per_mv=$(field "$l" hwm_mb_per_mvertex)
    awk -v n="$n" -v t="$tool" -v k="$(field "$l" tiles)" -v m="$med" -v p="$p95" \
        -v lm="$lb_med" -v lp="$lb_p95" -v e="$(field "$l" encode_share)" \
        -v r="$(field "$l" vmhwm_kb)" -v pm="$per_mv" 'BEGIN {
      printf "%9d  %-9s %6d %9.3f %9.3f %8.2f %8.2f %6.1f%% %9.1f %12s\n",
        n, t, k, m, p, m / lm, p / lp, 100 * e, r / 1024, (pm == "-" ? "-" : sprintf("%.1f", pm)) }'
  done
done
echo
for n in "${NS[@]}"; do
  l=${RES[$n,lagebild]}
  echo "lagebild N=$n: $(field "$l" vertices) snapshot vertices (all levels), snapshots" \
       "$(field "$l" snapshot_mb) MB built in $(field "$l" snapshot_ms) ms;" \
       "peak RSS above start $(field "$l" hwm_above_start_mb_per_mvertex) MB per million vertices"
done
if [ ${#NS[@]} -gt 1 ]; then
  first=${NS[0]} last=${NS[${#NS[@]}-1]}
  a=${RES[$first,lagebild]} b=${RES[$last,lagebild]}
  awk -v f="$first" -v l="$last" -v p1="$(field "$a" p95_ms)" -v p2="$(field "$b" p95_ms)" \
      -v m1="$(field "$a" median_ms)" -v m2="$(field "$b" median_ms)" 'BEGIN {
    printf "lagebild at equal feature density (the lists above): p95(%d)/p95(%d) = %.2f, median(%d)/median(%d) = %.2f\n",
      l, f, p2 / p1, l, f, m2 / m1 }'
fi
[ -n "$SIDE" ] && echo "$SIDE"
exit 0
