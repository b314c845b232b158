#!/usr/bin/env bash
# Ingest benchmark: lagebild vs. a plain ogr2ogr import, side by side.
#
#   bench/ingest_bench.sh [N ...]        default: 100000 1000000
#
# For every N (total features over the four agency kinds):
#   1. generate the data once with build/bench/lbgen (cached in bench/out/N/,
#      regenerated when lbgen is rebuilt or the seed changes),
#   2. time, alternating A B A B A B (BENCH_REPEAT pairs):
#      A  build/lagebild ingest --config bench/out/N/bench.yaml --quiet
#         into a fresh store (reproject, validate + repair, map, label, JSON
#         attributes, MGRS, R*Tree, one transaction per source),
#      B  the baseline: ogr2ogr reprojecting the same files into ONE SpatiaLite
#         database (-f SQLite -dsco SPATIALITE=YES -t_srs EPSG:4326), one call
#         per input layer (the MGRS CSV has no coordinates for ogr2ogr: it is
#         imported as an attribute table),
#      each under /usr/bin/time -f '%e %M' (wall seconds, peak RSS),
#   3. print the medians: features/s of both (N / wall time), the ratio
#      lagebild/ogr2ogr, peak RSS, and per-source timings of both tools.
#
# Environment: BENCH_N ("100000 1000000"), BENCH_REPEAT (3), BENCH_SEED (1),
# BENCH_KRITIS (shp|gml, default shp), BENCH_BUILD (build), BENCH_OUT
# (bench/out), BENCH_LAGEBILD (the lagebild binary to measure, default
# $BENCH_BUILD/lagebild), BENCH_KEEP=1 keeps the last stores (else they are deleted).
# Installs missing tools only with apt-get (time, gdal-bin, cmake); builds
# the project when build/lagebild is missing.
set -euo pipefail

# ---- internal mode: the baseline, run under /usr/bin/time ------------------
# ingest_bench.sh --baseline DATA_DIR DB TIMINGS KRITIS
if [ "${1:-}" = "--baseline" ]; then
  dir=$2 db=$3 timings=$4 kritis=$5
  rm -f "$db" "$db-journal" "$timings"
  first=1
  # id  file  [ogr layer]
  layers=(
    "police police.geojson"
    "fire_points fire_points.shp"
    "fire_areas fire_areas.shp"
    "military_routes military.gpkg routes"
    "military_areas military.gpkg areas"
    "military_units military_units.csv"
  )
  if [ "$kritis" = gml ]; then
    layers+=("kritis_anlagen kritis.gml anlagen" "kritis_leitungen kritis.gml leitungen")
  else
    layers+=("kritis_anlagen kritis_anlagen.shp" "kritis_leitungen kritis_leitungen.shp")
  fi
  for spec in "${layers[@]}"; do
    read -r id file lyr <<<"$spec"
    args=(-nln "$id")
    case $file in
      *.csv) ;;                      # no geometry: nothing to reproject
      *) args+=(-t_srs EPSG:4326) ;;
    esac
    if [ $first = 1 ]; then
      args+=(-f SQLite -dsco SPATIALITE=YES)
      first=0
    else
      args+=(-update)
    fi
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086  # lyr is empty or one layer name
    ogr2ogr "${args[@]}" "$db" "$dir/$file" $lyr
    t1=$(date +%s.%N)
    awk -v id="$id" -v a="$t0" -v b="$t1" 'BEGIN {printf "%s %.3f\n", id, b - a}' >>"$timings"
  done
  exit 0
fi

# ---- setup -------------------------------------------------------------------
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SELF="$ROOT/bench/ingest_bench.sh"

if [ $# -gt 0 ]; then
  NS=("$@")
else
  read -r -a NS <<<"${BENCH_N:-100000 1000000}"
fi
REPEAT=${BENCH_REPEAT:-3}
SEED=${BENCH_SEED:-1}
KRITIS=${BENCH_KRITIS:-shp}
BUILD=${BENCH_BUILD:-build}
OUT=${BENCH_OUT:-bench/out}
LAGEBILD=${BENCH_LAGEBILD:-$BUILD/lagebild}
LBGEN="$BUILD/bench/lbgen"

die() { echo "ingest_bench: $*" >&2; exit 1; }
say() { echo "== $*"; }

for n in "${NS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] || die "N must be a positive integer, not '$n'"
  [ "$n" -ge 20 ] || die "N must be at least 20"
done
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"

# Missing tools come from apt-get only.
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v ogr2ogr >/dev/null && command -v ogrinfo >/dev/null || missing+=(gdal-bin)
if [ ! -x "$LAGEBILD" ] || [ ! -x "$LBGEN" ]; then
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

# Build when the binaries are missing (the full build first; when it fails, e.g.
# because a test does not compile yet, only what the benchmark needs).
if [ ! -x "$LAGEBILD" ]; then
  say "building the project in $BUILD"
  cmake -S . -B "$BUILD"
  cmake --build "$BUILD" -j2 || {
    echo "ingest_bench: full build failed; building only lagebild and lbgen" >&2
    cmake --build "$BUILD" -j2 --target lagebild lbgen
  }
fi
if [ ! -x "$LBGEN" ] || [ bench/lbgen.c -nt "$LBGEN" ]; then
  say "building lbgen"
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD"
  cmake --build "$BUILD" -j2 --target lbgen
fi
[ -x "$LAGEBILD" ] || die "$LAGEBILD was not built"

# ---- helpers -------------------------------------------------------------------
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# /usr/bin/time -o file: last line is "%e %M" (a failing command adds a line before it)
time_wall() { tail -n 1 "$1" | awk '{print $1}'; }
time_rss_mb() { tail -n 1 "$1" | awk '{printf "%.0f\n", $2/1024}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%.0f", n/s; else print "inf"}'; }

generate() { # N -> data dir (cached)
  local n=$1 dir="$OUT/$1" stamp="$OUT/$1/.lbgen-stamp" want="n=$1 seed=$SEED kritis=$KRITIS"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ "$stamp" -nt "$LBGEN" ]; then
    say "N=$n: using cached data in $dir"
    return
  fi
  say "N=$n: generating data in $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  /usr/bin/time -f '%e %M' -o "$dir/.lbgen-time" \
    "$LBGEN" --out "$dir" --features "$n" --seed "$SEED" --kritis "$KRITIS"
  echo "   (lbgen: $(time_wall "$dir/.lbgen-time") s, peak RSS $(time_rss_mb "$dir/.lbgen-time") MB)"
  echo "$want" >"$stamp"
}

# lagebild per-source lines: "<source> -> <layer> read R, stored S, repaired P,
# rejected J; revision V (T s, F features/s)" -> "source read stored repaired rejected seconds"
parse_sources() {
  sed -nE 's/^([A-Za-z0-9_]+) +-> +[A-Za-z0-9_]+ +read ([0-9]+), stored ([0-9]+), repaired ([0-9]+), rejected ([0-9]+); revision [0-9]+ \(([0-9.]+) s,.*/\1 \2 \3 \4 \5 \6/p' "$1"
}

run_lagebild() { # dir log-prefix
  local dir=$1 log=$2
  rm -f "$dir/bench.sqlite" "$dir/bench.sqlite-wal" "$dir/bench.sqlite-shm" "$dir/bench.sqlite-journal"
  sync
  if ! /usr/bin/time -f '%e %M' -o "$log.time" \
      "$LAGEBILD" ingest --config "$dir/bench.yaml" --quiet >"$log.out" 2>"$log.err"; then
    cat "$log.err" >&2
    die "lagebild ingest failed (see $log.err)"
  fi
}

run_baseline() { # dir log-prefix
  local dir=$1 log=$2
  rm -f "$dir/baseline.sqlite" "$dir/baseline.sqlite-journal"
  sync
  if ! /usr/bin/time -f '%e %M' -o "$log.time" \
      bash "$SELF" --baseline "$dir" "$dir/baseline.sqlite" "$log.layers" "$KRITIS" \
      >"$log.out" 2>"$log.err"; then
    cat "$log.err" >&2
    die "ogr2ogr baseline failed (see $log.err)"
  fi
}

count_baseline() { # db -> total rows over the imported tables
  local db=$1 total=0 c t
  for t in police fire_points fire_areas military_routes military_areas military_units \
           kritis_anlagen kritis_leitungen; do
    c=$(ogrinfo -ro -q "$db" -sql "SELECT COUNT(*) AS n FROM $t" 2>/dev/null |
        sed -nE 's/^ *n \(Integer\) = ([0-9]+)/\1/p')
    total=$((total + ${c:-0}))
  done
  echo "$total"
}

# ---- run ----------------------------------------------------------------------
echo "lagebild ingest benchmark: N = ${NS[*]}, $REPEAT x (lagebild, ogr2ogr) alternating, seed $SEED"
echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo); $("$LAGEBILD" --version); $(ogr2ogr --version)"
echo

SUMMARY=()
SUMMARY_T=()
for n in "${NS[@]}"; do
  generate "$n"
done
echo

for n in "${NS[@]}"; do
  dir="$OUT/$n"
  logs="$dir/logs"
  rm -rf "$logs"
  mkdir -p "$logs"
  say "N=$n: $REPEAT alternating runs"
  for i in $(seq 1 "$REPEAT"); do
    run_lagebild "$dir" "$logs/lagebild.$i"
    run_baseline "$dir" "$logs/ogr2ogr.$i"
    printf '   run %d/%d: lagebild %7.2f s %6s MB   |   ogr2ogr %7.2f s %6s MB\n' "$i" "$REPEAT" \
      "$(time_wall "$logs/lagebild.$i.time")" "$(time_rss_mb "$logs/lagebild.$i.time")" \
      "$(time_wall "$logs/ogr2ogr.$i.time")" "$(time_rss_mb "$logs/ogr2ogr.$i.time")"
  done

  lb_s=$(for i in $(seq 1 "$REPEAT"); do time_wall "$logs/lagebild.$i.time"; done | median)
  og_s=$(for i in $(seq 1 "$REPEAT"); do time_wall "$logs/ogr2ogr.$i.time"; done | median)
  lb_rss=$(for i in $(seq 1 "$REPEAT"); do time_rss_mb "$logs/lagebild.$i.time"; done | sort -n | tail -n 1)
  og_rss=$(for i in $(seq 1 "$REPEAT"); do time_rss_mb "$logs/ogr2ogr.$i.time"; done | sort -n | tail -n 1)
  lb_fps=$(rate "$n" "$lb_s")
  og_fps=$(rate "$n" "$og_s")
  ratio=$(awk -v a="$lb_fps" -v b="$og_fps" 'BEGIN {printf "%.2f", a/b}')

  # features: stored by lagebild (of the last run) and by ogr2ogr
  parse_sources "$logs/lagebild.$REPEAT.out" >"$logs/sources.last"
  read -r lb_read lb_stored lb_repaired lb_rejected < <(awk '{r+=$2; s+=$3; p+=$4; j+=$5} END {print r+0, s+0, p+0, j+0}' "$logs/sources.last")
  og_rows=$(count_baseline "$dir/baseline.sqlite")
  echo "   features: input $n; lagebild read $lb_read, stored $lb_stored ($lb_repaired repaired," \
       "$lb_rejected rejected); ogr2ogr stored $og_rows"
  [ "$lb_read" -eq "$n" ] || echo "   WARNING: lagebild read $lb_read features, expected $n" >&2
  [ "$og_rows" -eq "$n" ] || echo "   WARNING: ogr2ogr stored $og_rows features, expected $n" >&2

  # per source: median seconds of both tools
  echo
  printf '   %-18s %9s  %10s %10s  %10s %10s  %7s\n' "source" "features" "lagebild s" "feat/s" \
    "ogr2ogr s" "feat/s" "ratio"
  while read -r src nread _; do
    ls_=$(for i in $(seq 1 "$REPEAT"); do parse_sources "$logs/lagebild.$i.out" | awk -v s="$src" '$1==s {print $6}'; done | median)
    os_=$(for i in $(seq 1 "$REPEAT"); do awk -v s="$src" '$1==s {print $2}' "$logs/ogr2ogr.$i.layers"; done | median)
    lf=$(rate "$nread" "$ls_")
    of=$(rate "$nread" "$os_")
    printf '   %-18s %9d  %10.2f %10s  %10.2f %10s  %7s\n' "$src" "$nread" "$ls_" "$lf" "$os_" "$of" \
      "$(awk -v a="$os_" -v b="$ls_" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}')"
  done <"$logs/sources.last"
  echo "   (per-source lagebild time is lagebild's own figure; ogr2ogr's includes process start-up)"
  echo

  SUMMARY+=("$(printf '%9d  %14s  %14s  %8s  %14s  %14s' "$n" "$lb_fps" "$og_fps" "$ratio" "$lb_rss" "$og_rss")")
  SUMMARY_T+=("$(printf '%9d  %14.2f  %14.2f' "$n" "$lb_s" "$og_s")")
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -f "$dir/bench.sqlite" "$dir/bench.sqlite-wal" "$dir/bench.sqlite-shm" "$dir/baseline.sqlite"
  fi
done

echo "Summary (median of $REPEAT runs each; features/s = input features / wall time;"
echo "RSS = largest peak resident set size over the runs)"
echo
printf '%9s  %14s  %14s  %8s  %14s  %14s\n' "N" "lagebild f/s" "ogr2ogr f/s" "ratio" "lagebild MB" "ogr2ogr MB"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo
printf '%9s  %14s  %14s\n' "N" "lagebild s" "ogr2ogr s"
for line in "${SUMMARY_T[@]}"; do echo "$line"; done
