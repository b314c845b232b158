# Shared helpers of bench/http_bench.sh and bench/roles_bench.sh (sourced, not run).
#
# Expects ROOT (the source tree) and OUT (the script's output folder) to be set.
# Provides: die, say, need_pkgs, snapshot_binary, lb_start, lb_stop, rss_kb,
# cpu_s, free_port, host_line.

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }
say() { echo "== $*"; }

PY=/usr/bin/python3

# need_pkgs CMD:PACKAGE ...: apt-get install the packages whose command is missing.
need_pkgs() {
  local missing=() cp
  for cp in "$@"; do
    command -v "${cp%%:*}" >/dev/null 2>&1 || missing+=("${cp#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing with apt-get: ${missing[*]}"
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install ${missing[*]}"
    sudo=sudo
  fi
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  for cp in "$@"; do
    command -v "${cp%%:*}" >/dev/null 2>&1 || die "${cp%%:*} is still missing after apt-get install"
  done
}

# snapshot_binary SRC: copy the lagebild binary into $OUT, so that a rebuild of
# build/ while the benchmark runs does not change what is measured.  Sets LB.
snapshot_binary() {
  local src=$1
  if [ ! -x "$src" ]; then
    [ "$src" = "$ROOT/build/lagebild" ] || die "$src is missing"
    say "building lagebild and lbgen in build/"
    command -v cmake >/dev/null || need_pkgs cmake:cmake
    [ -f "$ROOT/build/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$ROOT/build" >/dev/null
    cmake --build "$ROOT/build" -j2 --target lagebild lbgen
  fi
  mkdir -p "$OUT"
  cp "$src" "$OUT/lagebild.bin.new"
  mv "$OUT/lagebild.bin.new" "$OUT/lagebild.bin"
  LB="$OUT/lagebild.bin"
}

# host_line: what ran where (binary version, source state, CPUs, load).
host_line() {
  local rev dirty=""
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
  [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" (work tree has uncommitted changes)"
  echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo);" \
       "tree at $rev$dirty; binary $LB_SRC_DESC"
  echo "uptime: $(uptime)"
}

# lb_start NAME CONFIG [serve options...]: start lagebild serve on a free
# 127.0.0.1 port with its own audit log $OUT/NAME.audit.jsonl; waits for
# "listening on".  Sets LB_PID and LB_PORT.  LB_PIN (a CPU list, optional):
# the server runs only on those CPUs (taskset).
lb_start() {
  local name=$1 cfg=$2
  shift 2
  rm -f "$OUT/$name.audit.jsonl" "$OUT/$name.audit.jsonl.head"
  : >"$OUT/$name.stdout"
  ${LB_PIN:+taskset -c "$LB_PIN"} "$LB" serve --config "$cfg" --listen 127.0.0.1:0 --audit "$OUT/$name.audit.jsonl" "$@" \
    >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" &
  LB_PID=$!
  local i
  for i in $(seq 1 600); do
    LB_PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$OUT/$name.stdout")
    [ -n "$LB_PORT" ] && return 0
    kill -0 "$LB_PID" 2>/dev/null || { cat "$OUT/$name.stderr" >&2; die "lagebild serve exited"; }
    sleep 0.1
  done
  kill -TERM "$LB_PID" 2>/dev/null
  die "lagebild serve did not print 'listening on' within 60 s"
}

# lb_stop [NAME]: SIGTERM the server started last, wait for it, check it exited 0.
lb_stop() {
  local rc=0
  kill -TERM "$LB_PID" 2>/dev/null || true
  wait "$LB_PID" || rc=$?
  [ "$rc" -eq 0 ] || echo "   WARNING: lagebild serve exited with status $rc (see $OUT/${1:-?}.stderr)"
  [ -n "${1:-}" ] && rm -f "$OUT/$1.audit.jsonl" "$OUT/$1.audit.jsonl.head"
  LB_PID=
}

# rss_kb PID FIELD: VmRSS or VmHWM of a process in kB.
rss_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# cpu_s PID: CPU seconds (user + system) the process has used so far.
cpu_s() { awk -v c="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / c}' "/proc/$1/stat"; }

# free_port: a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
