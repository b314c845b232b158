"""What the Python tile benchmarks (mapnik_bench.py, mapserver_bench.py) share:
the tile list, WebMercatorQuad tile bounds, the command line, the timed loop
over the list and the report (a table and the machine-readable TILEBENCH line
that bench/tile_bench.sh reads).

With LB_BENCH_GATE=RFD,WFD,BATCH in the environment (set by bench/interleave.py,
which runs several tools in turn), the timed loop is gated in batches: after the
set-up and the untimed first render one byte goes to WFD ("ready"); before each
batch of BATCH consecutive tiles one byte is read from RFD (the coordinator's
"go"), after the batch one byte goes to WFD: b"b", or b"e" after the last
batch.  The timing of each tile is the same as without the gate."""

import argparse
import fcntl
import os
import resource
import statistics
import sys

ORIGIN = 20037508.3427892  # WebMercatorQuad
TILE = 256
GATE_ENV = "LB_BENCH_GATE"


class Gate:
    """The batch gate of bench/interleave.py; does nothing when LB_BENCH_GATE is unset."""

    def __init__(self, prog):
        self.prog = prog
        self.rfd = self.wfd = None
        self.batch = 0
        env = os.environ.get(GATE_ENV)
        if env is None:
            return
        parts = env.split(",")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts) or \
                int(parts[2]) < 1:
            sys.exit(f"{prog}: {GATE_ENV}={env!r}: expected RFD,WFD,BATCH "
                     "(two file descriptors and a batch size >= 1)")
        rfd, wfd, batch = (int(p) for p in parts)
        for fd, mode, what in ((rfd, os.O_WRONLY, "reading"), (wfd, os.O_RDONLY, "writing")):
            try:
                ok = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != mode
            except (OSError, OverflowError):
                ok = False
            if not ok:
                sys.exit(f"{prog}: {GATE_ENV}={env!r}: fd {fd} is not open for {what}")
        self.rfd, self.wfd, self.batch = rfd, wfd, batch

    def _put(self, b):
        try:
            os.write(self.wfd, b)
        except OSError as e:
            sys.exit(f"{self.prog}: {GATE_ENV}: cannot write to fd {self.wfd}: {e.strerror}")

    def ready(self):
        """After the untimed set-up."""
        if self.batch:
            self._put(b"r")

    def before(self, k):
        """Before tile k (0-based): the first of a batch waits for the go;
        True when a batch starts (the caller then warms up, see run())."""
        if self.batch and k % self.batch == 0:
            try:
                got = os.read(self.rfd, 1)
            except OSError as e:
                sys.exit(f"{self.prog}: {GATE_ENV}: cannot read fd {self.rfd}: {e.strerror}")
            if not got:
                sys.exit(f"{self.prog}: {GATE_ENV}: fd {self.rfd} closed before all tiles "
                         "were rendered (the coordinator quit)")
            return True
        return False

    def after(self, k, total):
        """After tile k of total: the last of a batch reports it done."""
        if self.batch and (k + 1 == total or (k + 1) % self.batch == 0):
            self._put(b"e" if k + 1 == total else b"b")


def tile_bounds(z, x, y):
    span = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * span
    maxy = ORIGIN - y * span
    return minx, maxy - span, minx + span, maxy


def read_tiles(path):
    tiles = []
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            try:
                z, x, y, s = (int(v) for v in line.split())
            except ValueError:
                sys.exit(f"{path}:{n}: expected 'z x y scale'")
            if s not in (1, 2):
                sys.exit(f"{path}:{n}: scale must be 1 or 2")
            tiles.append((z, x, y, s))
    if not tiles:
        sys.exit(f"{path}: no tiles")
    return tiles


def percentile(v, p):
    v = sorted(v)
    r = p / 100 * (len(v) - 1)
    i = int(r)
    return v[-1] if i + 1 >= len(v) else v[i] + (r - i) * (v[i + 1] - v[i])


def parse_args(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--layers", required=True, help="store tables, bottom first, comma-separated")
    ap.add_argument("--tiles", required=True)
    ap.add_argument("--label", default="-")
    ap.add_argument("--png-level", type=int, default=2)
    ap.add_argument("--out", help="also write the tiles to DIR/z_x_y_scale.png")
    a = ap.parse_args()
    a.store = os.path.abspath(a.store)
    a.gate = Gate(ap.prog)
    return a


def run(tool, title, draw_name, tiles, render, a):
    """Render tiles[0] once untimed (opening the data), then every tile once;
    render(z, x, y, s) returns (png, draw ms, encode ms).  Prints the report.
    Waits at a.gate (LB_BENCH_GATE) before each batch of tiles and then
    renders the tile before (the first tile for the first batch) once more,
    untimed: the other tools' turns evicted this process's data from the CPU
    caches, which a run of its own would find as the previous tile left
    them (tilebench does the same)."""
    render(*tiles[0])
    a.gate.ready()
    t_draw, t_enc, t_tot = [], [], []
    nbytes = 0
    for k, (z, x, y, s) in enumerate(tiles):
        if a.gate.before(k):
            render(*tiles[k - 1 if k else 0])
        png, d, e = render(z, x, y, s)
        t_draw.append(d)
        t_enc.append(e)
        t_tot.append(d + e)
        nbytes += len(png)
        if a.out:
            with open(os.path.join(a.out, f"{z}_{x}_{y}_{s}.png"), "wb") as f:
                f.write(png)
        a.gate.after(k, len(tiles))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    share = sum(t_enc) / sum(t_tot) if sum(t_tot) > 0 else 0
    print(f"{title}, {nbytes / len(tiles) / 1024:.1f} kB PNG on average")
    print(f"{'ms':<8} {'median':>10} {'p95':>10} {'mean':>10} {'max':>10}")
    for name, v in ((draw_name, t_draw), ("encode", t_enc), ("total", t_tot)):
        print(f"{name:<8} {statistics.median(v):>10.3f} {percentile(v, 95):>10.3f} "
              f"{statistics.fmean(v):>10.3f} {max(v):>10.3f}")
    print(f"TILEBENCH tool={tool} label={a.label} tiles={len(tiles)} "
          f"median_ms={statistics.median(t_tot):.4f} p95_ms={percentile(t_tot, 95):.4f} "
          f"mean_ms={statistics.fmean(t_tot):.4f} "
          f"render_median_ms={statistics.median(t_draw):.4f} "
          f"encode_median_ms={statistics.median(t_enc):.4f} encode_share={share:.4f} "
          f"vmhwm_kb={rss}")
    return 0
